"""Files that ship with grader: the bundled decks, the prompts and the labelled seed sets.

They live at the top of the repository, where people look for them, and are
installed inside the package as ``grader/_bundled/`` (see pyproject.toml).
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def bundled(name: str) -> Path | None:
    """The repository's ``name`` (a checkout or editable install) or the installed copy, if either exists."""
    for candidate in (_HERE.parent / name, _HERE / "_bundled" / name):
        if candidate.exists():
            return candidate
    return None


def missing(name: str) -> Path:
    """Where an installed copy of ``name`` should have been, for the error message."""
    return _HERE / "_bundled" / name
