"""A card's images on disk: where each one is, whether it exists, and opening it with the system viewer.

Image paths are written relative to the deck file (``![](static/fig.png)``), so
they are resolved against the deck's folder, never the working directory; one
that cannot even be looked at (a name too long for the file system) is missing
(``os.path`` checks: pathlib's raise there). An Anki package keeps its images
inside the zip: they are looked up in its media list and copied out when shown
(``formats.anki.media_file``). A web address is kept as it is and handed to the
viewer, which knows what to do with it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from .models import Card, Deck

ANKI_SUFFIXES = {".apkg", ".colpkg"}


@dataclass(frozen=True)
class Image:
    """One image of a card: as the deck writes it, and where it is."""

    written: str
    path: Path | None  # None for a web address, or an image the deck does not have
    url: str | None = None

    @property
    def missing(self) -> bool:
        return self.url is None and (self.path is None or not os.path.isfile(self.path))

    @property
    def target(self) -> str | None:
        """What a viewer opens: the file, or the web address."""
        return self.url or (str(self.path) if self.path is not None and not self.missing else None)


def locate(deck_path: str | Path, written: str, *, extract: bool = True) -> Image:
    """Where an image written in a deck is: resolved against the deck file's folder.

    An Anki package's image is copied out of it to be shown, unless ``extract`` is false (lint only asks whether it is there).
    """
    deck_path = Path(deck_path)
    if written.lower().startswith(("http://", "https://", "data:")):
        return Image(written, None, url=written)
    if deck_path.suffix.lower() in ANKI_SUFFIXES:
        from .formats.anki import media_file

        return Image(written, media_file(deck_path, written, extract=extract))
    name = unquote(written.split("#", 1)[0].split("?", 1)[0])
    path = Path(name).expanduser()
    if not path.is_absolute():
        path = deck_path.parent / path
        if not os.path.exists(path) and "/" not in name and "\\" not in name:
            path = _embed(deck_path.parent, name) or path
    return Image(written, path)


def _embed(folder: Path, name: str) -> Path | None:
    """An Obsidian embed (``![[fig.png]]``) names a file anywhere in the vault: look in the usual attachment folders."""
    for sub in ("attachments", "assets", "images", "img", "static", "media"):
        candidate = folder / sub / name
        if os.path.isfile(candidate):
            return candidate
    return None


def card_images(deck: Deck, card: Card, *, extract: bool = True) -> tuple[Image, ...]:
    """The images of the card's answer, each located."""
    return tuple(locate(deck.path, written, extract=extract) for written in card.images)


def question_images(deck: Deck, card: Card, *, extract: bool = True) -> tuple[Image, ...]:
    """The images of the card's question, each located."""
    return tuple(locate(deck.path, written, extract=extract) for written in card.question_images)


Opener = Callable[[str], None]


def system_opener(target: str) -> None:
    """Open a file or web address with the system's viewer, without waiting for it (xdg-open, open, or Windows' own)."""
    if sys.platform.startswith("win"):
        os.startfile(target)  # type: ignore[attr-defined]  # noqa: S606 - Windows only (typeshed has it there); the user's own file
        return
    command = "open" if sys.platform == "darwin" else "xdg-open"
    if shutil.which(command) is None:
        raise OSError(f"{command} is not installed")
    subprocess.Popen([command, target], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
