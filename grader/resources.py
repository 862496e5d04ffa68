"""Files that ship with grader: the bundled decks, the prompts and the labelled seed sets.

They live at the top of the repository, where people look for them, and are
installed inside the package as ``grader/_bundled/`` (see pyproject.toml).
"""

from __future__ import annotations

import os
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

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
    return _unpacked(name)


def bundled_deck_name(path: str) -> str | None:
    """Which bundled deck the file at ``path`` is, in this or any other installation of grader
    (``decks/virtualization.md``); None for any other file.

    The bundled deck is one deck wherever grader is installed, so that its history outlives the installation:
    a new virtual environment or Python holds another copy, at another path, while the old one is often still
    there. A copy is a wheel's (``.../grader/_bundled/decks/``), a zip import's (``bundled/decks/`` in the data
    folder) or a checkout's (``decks/`` beside its pyproject.toml and ``grader/`` package).
    """
    parts = PurePath(path).parts
    for i in range(len(parts) - 2, 0, -1):
        if parts[i - 1 : i + 2] == ("grader", "_bundled", "decks"):
            return "/".join(parts[i + 1 :])
    if "decks" not in parts:
        return None
    from .config import data_dir

    unpacked = os.path.realpath(data_dir() / "bundled")  # deck keys are resolved paths
    if PurePath(path).is_relative_to(unpacked):
        return PurePath(path).relative_to(unpacked).as_posix()
    at = len(parts) - 1 - parts[::-1].index("decks")
    checkout = Path(*parts[:at])
    if at and os.path.isfile(checkout / "pyproject.toml") and os.path.isfile(checkout / "grader" / "resources.py"):
        return "/".join(parts[at:])
    return None


def missing(name: str) -> Path:
    """Where an installed copy of ``name`` should have been, for the error message."""
    return _HERE / "_bundled" / name


def _unpacked(name: str) -> Path | None:
    """A copy on disk of ``name`` when the package is imported from a zip file (decks and datasets are read as files).

    It goes in grader's data folder (never beside the package), at the same path every run, so the bundled deck's
    history stays the same deck's; a file is rewritten only when it differs. None when the zip has no ``name`` or the
    copy cannot be written.
    """
    from importlib.resources import files

    resource = files(__name__.rpartition(".")[0]) / "_bundled" / name
    if isinstance(resource, Path) or not (resource.is_file() or resource.is_dir()):
        return None  # on disk (checked above), or not shipped
    from .config import data_dir

    target = data_dir() / "bundled" / name
    try:
        _copy(resource, target)
    except OSError:
        return None
    return target


def _copy(resource: Traversable, target: Path) -> None:
    if resource.is_dir():
        for child in resource.iterdir():
            _copy(child, target / child.name)
        return
    data = resource.read_bytes()
    if target.is_file() and target.read_bytes() == data:
        return
    from .files import renamed_into_place

    target.parent.mkdir(parents=True, exist_ok=True)
    with renamed_into_place(target) as temporary:  # a disk that fills up leaves no half copy behind
        temporary.write_bytes(data)
