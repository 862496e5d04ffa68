"""Reading the files users hand us, with one-line errors instead of tracebacks."""

from __future__ import annotations

import codecs
import io
import stat
from pathlib import Path
from typing import IO

from .errors import InputError

# A deck or answers file larger than this is almost surely the wrong file, and
# reading it whole would hold the terminal hostage.
MAX_FILE_BYTES = 20 * 1024 * 1024


def read_text(
    path: str | Path, *, what: str = "file", max_bytes: int = MAX_FILE_BYTES, error: type[InputError] = InputError
) -> str:
    """Read a UTF-8 text file, or raise ``error`` (an InputError) that names the file and line."""
    path = Path(path)
    if not path.exists():
        raise error(f"no such {what}", path=path)
    if path.is_dir():
        raise error(f"is a directory, not a {what}", path=path)
    try:
        info = path.stat()
        # Opening a FIFO waits for a writer that may never come; a device may never end.
        if not stat.S_ISREG(info.st_mode):
            kind = "pipe" if stat.S_ISFIFO(info.st_mode) else "socket" if stat.S_ISSOCK(info.st_mode) else "device"
            raise error(f"is a {kind}, not a {what}", path=path)
        if info.st_size > max_bytes:
            raise error(
                f"{what} is too large ({info.st_size / 1024 / 1024:.0f} MB; the limit is "
                f"{max_bytes // 1024 // 1024} MB)",
                path=path,
            )
        data = path.read_bytes()
    except OSError as exc:
        raise error(f"cannot read {what}: {exc.strerror or exc}", path=path) from None
    nul = data.find(b"\x00")  # anywhere: a NUL deep in a file would otherwise reach questions and answers
    if nul >= 0:
        raise error(f"binary data, not a text {what}", path=path, line=_line_of(data, nul))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(
            f"not valid UTF-8 (byte 0x{data[exc.start]:02x}); save the {what} as UTF-8",
            path=path,
            line=_line_of(data, exc.start),
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def open_text(path: str | Path, *, what: str = "file", max_bytes: int = MAX_FILE_BYTES) -> IO[str]:
    """Open a UTF-8 text file to read line by line, after the checks ``read_text`` makes, never holding it whole.

    The file is decoded once, a chunk at a time, before any line is used. If a
    check fails, ``read_text`` reads the file to raise its own error, so both
    ways of reading say the same thing (a pipe or device is refused by both).
    """
    path = Path(path)
    if not _is_sound_text(path, max_bytes):
        return io.StringIO(read_text(path, what=what, max_bytes=max_bytes))
    return path.open(encoding="utf-8-sig")


def _is_sound_text(path: Path, max_bytes: int) -> bool:
    """Whether ``read_text`` would accept this regular file: within the size limit, no NUL, UTF-8 throughout."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        if not path.is_file() or path.stat().st_size > max_bytes:
            return False
        with path.open("rb") as f:
            while chunk := f.read(1024 * 1024):
                if b"\x00" in chunk:
                    return False
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except (OSError, UnicodeDecodeError):
        return False
    return True


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1
