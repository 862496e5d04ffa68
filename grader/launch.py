"""The ``grader`` command's entry point, which loads the command line with Ctrl-C held back until it can be caught.

Loading the CLI (typer, click, rich) takes a tenth of a second or more on a
busy machine. A Ctrl-C meanwhile came before ``cli.main`` could catch it and
printed a traceback, or, raised inside the import system's clean-up, printed
"Exception ignored ... KeyboardInterrupt" and was lost, the command running on
to the end. Here a Ctrl-C while the CLI loads is only noted, and ends the
command quietly with exit code 130 once it has loaded, as it does later.
"""

from __future__ import annotations

import sys

# The C module behind ``signal`` (CPython's and PyPy's), already loaded at start-up: ``signal`` would import enum, 5 ms
# more in which Ctrl-C is not held. (typeshed has no stub for it; it has signal's functions.)
import _signal as signals  # type: ignore[import-not-found]


def main() -> None:
    interrupted: list[int] = []
    try:  # a Ctrl-C in the instant before it is held, too
        held = signals.getsignal(signals.SIGINT) is signals.default_int_handler  # not when it is ignored (nohup, &)
        if held:
            signals.signal(signals.SIGINT, lambda signum, frame: interrupted.append(signum))
        try:
            from .cli import main as run
        finally:
            if held:
                signals.signal(signals.SIGINT, signals.default_int_handler)
    except KeyboardInterrupt:
        sys.exit(130)
    if interrupted:
        sys.exit(130)
    run()
