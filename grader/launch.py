"""The ``grader`` command's entry point, which loads the command line only once it can catch Ctrl-C.

Loading the CLI (typer, click, rich) takes a tenth of a second or more on a
busy machine; a Ctrl-C meanwhile came before ``cli.main`` could catch it and
printed a traceback. Here it ends quietly with exit code 130, as it does later.
"""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from .cli import main as run
    except KeyboardInterrupt:
        sys.exit(130)
    run()
