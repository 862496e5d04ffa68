"""Reading the files users hand us, with one-line errors instead of tracebacks."""

from __future__ import annotations

from pathlib import Path

from .errors import InputError

# A deck or answers file larger than this is almost surely the wrong file, and
# reading it whole would hold the terminal hostage.
MAX_FILE_BYTES = 20 * 1024 * 1024


def read_text(path: str | Path, *, what: str = "file", max_bytes: int = MAX_FILE_BYTES) -> str:
    """Read a UTF-8 text file, or raise an InputError that names the file and line."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"no such {what}", path=path)
    if path.is_dir():
        raise InputError(f"is a directory, not a {what}", path=path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise InputError(
                f"{what} is too large ({size / 1024 / 1024:.0f} MB; the limit is "
                f"{max_bytes // 1024 // 1024} MB)",
                path=path,
            )
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {what}: {exc.strerror or exc}", path=path) from None
    if b"\x00" in data[:8192]:
        raise InputError(f"binary data, not a text {what}", path=path, line=_line_of(data, data.index(b"\x00")))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"not valid UTF-8 (byte 0x{data[exc.start]:02x}); save the {what} as UTF-8",
            path=path,
            line=_line_of(data, exc.start),
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1
