"""Files that ship with grader: the bundled decks, the prompts and the labelled seed sets.

They live at the top of the repository, where people look for them, and are
installed inside the package as ``grader/_bundled/`` (see pyproject.toml).
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def bundled(name: str) -> Path | None:
    """The installed copy of ``name``, or the repository's in a checkout (or an editable install); None if neither.

    The installed copy comes first, and the repository's only where there is one
    (its pyproject.toml): beside an installed package is site-packages, whose
    ``decks/`` or ``prompts/`` folder, made by another distribution, is not grader's.
    """
    installed = _HERE / "_bundled" / name
    if installed.exists():
        return installed
    checkout = _HERE.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / name).exists():
        return checkout / name
    return None


def missing(name: str) -> Path:
    """Where an installed copy of ``name`` should have been, for the error message."""
    return _HERE / "_bundled" / name

