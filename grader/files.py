"""Reading the files users hand us, and checking the ones we will write, with one-line errors instead of tracebacks."""

from __future__ import annotations

import codecs
import errno
import os
import re
import stat
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TextIO

from .errors import GraderError, InputError

# A file read whole (a deck) larger than this is almost surely the wrong file, and
# reading it would hold the terminal hostage. Files read as a stream (answers) have no limit.
MAX_FILE_BYTES = 20 * 1024 * 1024
BOM = codecs.BOM_UTF8
CHUNK_BYTES = 1024 * 1024
STDIN = "-"  # an input named so is read from standard input
STDIN_NAME = "<stdin>"  # what errors and reports call it


def read_text(
    path: str | Path, *, what: str = "file", max_bytes: int | None = MAX_FILE_BYTES, error: type[InputError] = InputError
) -> str:
    """Read a UTF-8 text file, or raise ``error`` (an InputError) that names the file and line."""
    path = Path(path)
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise error(f"no such {what}", path=path) from None
    except OSError as exc:  # a name too long, a folder on the way we may not enter, a link loop
        raise error(f"cannot read {what}: {exc.strerror or exc}", path=path) from None
    if stat.S_ISDIR(info.st_mode):
        raise error(f"is a directory, not {_a(what)}", path=path)
    try:
        # Opening a FIFO waits for a writer that may never come; a device may never end.
        if not stat.S_ISREG(info.st_mode):
            kind = "pipe" if stat.S_ISFIFO(info.st_mode) else "socket" if stat.S_ISSOCK(info.st_mode) else "device"
            raise error(f"is a {kind}, not {_a(what)}", path=path)
        if max_bytes is not None and info.st_size > max_bytes:
            raise error(
                f"{what} is too large ({info.st_size / 1024 / 1024:.0f} MB; the limit is "
                f"{max_bytes // 1024 // 1024} MB)",
                path=path,
            )
        data = path.read_bytes()
    except OSError as exc:
        raise error(f"cannot read {what}: {exc.strerror or exc}", path=path) from None
    return decode_text(data, path, what=what, error=error)


def shown_name(path: str | Path) -> str:
    """What errors and reports call an input: ``<stdin>`` for ``-``, else its path."""
    return STDIN_NAME if str(path) == STDIN else str(path)


# What a shell hands a program for ``<(command)`` (bash's /dev/fd/63, zsh's /proc/self/fd/12): a descriptor's name,
# which says nothing of what comes through it.
_DESCRIPTOR = re.compile(r"/(?:dev|proc/(?:self|\d+))/fd/\d+|/dev/stdin")


def untitled(path: str | Path) -> str:
    """What a deck that gives itself no title (no heading, no ``title:``) is called: its file's name without the
    extension (``networking.yaml`` is "networking"). A deck from standard input or through ``<(cat deck.md)`` has
    no name of its own (``<stdin>``, ``/dev/fd/63``): it is an untitled deck, said with where it came from, never
    "63" or "<stdin>". (A named pipe, ``mkfifo nets.yaml``, is called by its name, as a file is.)"""
    name = str(path)
    if name in (STDIN, STDIN_NAME):
        return "untitled deck (standard input)"
    if _DESCRIPTOR.fullmatch(name):
        return f"untitled deck ({name})"
    return Path(name).stem


def read_stream(
    source: IO[bytes], name: str | Path, *, what: str = "file", max_bytes: int = MAX_FILE_BYTES, error: type[InputError] = InputError
) -> bytes:
    """What a pipe or standard input gives, read once, to its end: at most ``max_bytes`` (more is ``read_text``'s
    "too large"), and no further than the first chunk holding a NUL (binary data, which ``decode_text`` reports by
    its line: ``/dev/zero`` never ends). ``name`` is what errors call it."""
    chunks: list[bytes] = []
    size = 0
    try:
        while chunk := source.read(CHUNK_BYTES):
            chunks.append(chunk)
            size += len(chunk)
            if size > max_bytes:
                raise error(f"{what} is too large (over {max_bytes // 1024 // 1024} MB, the limit)", path=name)
            if b"\x00" in chunk:
                break
    except OSError as exc:
        raise error(f"cannot read {what}: {exc.strerror or exc}", path=name) from None
    return b"".join(chunks)


def decode_text(data: bytes, path: str | Path, *, what: str = "file", error: type[InputError] = InputError) -> str:
    """A file's bytes as text, checked as ``read_text`` checks them (UTF-8, no NUL, no UTF-16), line breaks made ``\\n``."""
    path = Path(path)
    _refuse_wide_text(data, what, path, error)
    nul = data.find(b"\x00")  # anywhere: a NUL deep in a file would otherwise reach questions and answers
    if nul >= 0:
        raise error(f"binary data, not a text {what}", path=path, line=_line_of(data, nul))
    if data.startswith(BOM):  # stripped first, so an error's offset is into the bytes we report from
        data = data[len(BOM) :]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(
            f"not valid UTF-8 (byte 0x{data[exc.start]:02x}); save the {what} as UTF-8",
            path=path,
            line=_line_of(data, exc.start),
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def is_stream(path: str | Path) -> bool:
    """Whether ``path`` names a pipe or a character device (``<(cat x.csv)`` is ``/dev/fd/63``, a pipe; ``/dev/stdin``):
    something to read once, from its start to its end, that can neither be read again nor sought in."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):  # nothing there, or nothing we may look at: reading it says which
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)


def may_exist(path: str | Path) -> bool:
    """Whether something is at ``path``, or may be: True when it cannot be told (a name too long, a folder on the way
    we may not enter), so that opening it reports why in one line. pathlib's ``exists()`` raises those (before 3.14)."""
    try:
        return Path(path).exists()
    except OSError:
        return True


def open_text(path: str | Path, *, what: str = "file", max_bytes: int | None = MAX_FILE_BYTES, wide: bool = False) -> TextIO:
    """Open a UTF-8 text file to read line by line, after the checks ``read_text`` makes, never holding it whole.

    The file is decoded once, a chunk at a time, before any line is used, and a
    fault is reported as ``read_text`` reports it (same message, same line), so
    both ways of reading say the same thing. ``max_bytes=None``: no size limit.
    ``wide``: a file that starts with a UTF-16 or UTF-32 byte order mark is read
    in that encoding (the mark says which, so nothing is guessed); the returned
    file's ``encoding`` says how to open it again.
    """
    path = Path(path)
    try:
        info = path.stat()
    except OSError:
        info = None
    if info is None or not stat.S_ISREG(info.st_mode) or (max_bytes is not None and info.st_size > max_bytes):
        read_text(path, what=what, max_bytes=max_bytes)  # raises: missing, unreachable, a folder, a pipe or device, too large
    encoding = _wide_encoding(path) if wide else None
    if encoding is not None:
        _check_wide_text(path, what, encoding)
        return path.open(encoding=encoding)
    _check_text(path, what)
    return path.open(encoding="utf-8-sig")


def _a(what: str) -> str:
    """``what`` with its article: "a deck", "an answers file"."""
    return f"an {what}" if what[:1] in "aeiou" else f"a {what}"


def _check_text(path: Path, what: str) -> None:
    """Raise ``read_text``'s error if the file holds a NUL or is not UTF-8, reading one chunk at a time.

    A NUL anywhere wins over a decoding error earlier in the file, as in ``read_text``.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    newlines = 0  # line breaks before the current chunk
    bad: tuple[int, int] | None = None  # (line, byte value) of the first invalid byte
    try:
        with path.open("rb") as f:
            first = True
            while chunk := f.read(CHUNK_BYTES):
                if first:
                    _refuse_wide_text(chunk, what, path, InputError)
                if first and chunk.startswith(BOM):
                    chunk = chunk[len(BOM) :]
                first = False
                nul = chunk.find(b"\x00")
                if nul >= 0:
                    raise InputError(
                        f"binary data, not a text {what}", path=path, line=newlines + chunk.count(b"\n", 0, nul) + 1
                    )
                if bad is None:
                    bad = _decode_fault(decoder, chunk, newlines)
                newlines += chunk.count(b"\n")
            if bad is None:
                bad = _decode_fault(decoder, b"", newlines, final=True)
    except OSError as exc:
        raise InputError(f"cannot read {what}: {exc.strerror or exc}", path=path) from None
    if bad is not None:
        line, byte = bad
        raise InputError(f"not valid UTF-8 (byte 0x{byte:02x}); save the {what} as UTF-8", path=path, line=line)


# Byte order marks of the encodings Windows tools offer as "Unicode": their text is full of NULs, not binary data.
_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"), (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"),
)  # fmt: skip


def _refuse_wide_text(head: bytes, what: str, path: Path, error: type[InputError]) -> None:
    """Raise ``error`` if the file starts with a UTF-16 or UTF-32 byte order mark (UTF-32 first: its LE mark begins
    with UTF-16's)."""
    for bom, encoding in _WIDE_BOMS:
        if head.startswith(bom):
            raise error(f"saved as {encoding}, not UTF-8; save the {what} as UTF-8", path=path, line=1)


def _wide_encoding(path: Path) -> str | None:
    """``utf-16`` or ``utf-32`` when the file starts with that byte order mark (Windows' "Unicode"), else None."""
    try:
        with path.open("rb") as f:
            head = f.read(4)
    except OSError:
        return None  # reading it again will say why
    return next((encoding.lower() for bom, encoding in _WIDE_BOMS if head.startswith(bom)), None)


def _check_wide_text(path: Path, what: str, encoding: str) -> None:
    """What ``_check_text`` checks, for a file in ``encoding`` (UTF-16 or UTF-32, its byte order from the mark)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    newlines = 0
    try:
        with path.open("rb") as f:
            little = f.read(2) == codecs.BOM_UTF16_LE  # and so UTF-32's little-endian mark
            f.seek(0)
            while True:
                chunk = f.read(CHUNK_BYTES)
                pending = decoder.getstate()[0]
                try:
                    text = decoder.decode(chunk, final=not chunk)
                except UnicodeDecodeError as exc:
                    before = (pending + chunk)[: exc.start].decode(f"{encoding}-{'le' if little else 'be'}", errors="replace")
                    line = newlines + before.count("\n") + 1
                    raise InputError(f"not valid {encoding.upper()} ({exc.reason}); save the {what} as UTF-8", path=path, line=line) from None
                nul = text.find("\x00")
                if nul >= 0:
                    raise InputError(f"binary data, not a text {what}", path=path, line=newlines + text.count("\n", 0, nul) + 1)
                newlines += text.count("\n")
                if not chunk:
                    return
    except OSError as exc:
        raise InputError(f"cannot read {what}: {exc.strerror or exc}", path=path) from None


def _decode_fault(
    decoder: codecs.IncrementalDecoder, chunk: bytes, newlines: int, *, final: bool = False
) -> tuple[int, int] | None:
    """Where ``chunk`` (after the bytes the decoder still holds) stops being UTF-8, or None."""
    pending = decoder.getstate()[0]
    try:
        decoder.decode(chunk, final=final)
    except UnicodeDecodeError as exc:
        data = pending + chunk
        before = exc.start - len(pending)  # into chunk; negative when the fault began in the held bytes
        line = newlines + (chunk.count(b"\n", 0, before) if before > 0 else 0) + 1
        return line, data[exc.start]
    return None


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def refuse_overwrite(output: str | Path, protected: Mapping[str, str | Path]) -> None:
    """Raise an InputError naming ``output`` if writing it would replace a protected file.

    ``protected`` maps what a file is ("the answers file") to its path. A file is
    the same if it is the same file on disk (a link or another spelling of its
    path) or, when either does not exist yet, resolves to the same path.
    """
    for what, path in protected.items():
        if same_file(output, path):
            raise InputError(f"will not write over {what}; choose another file", path=output)


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether two paths name one file: by device and inode when both exist, else by resolved path."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        pass
    try:
        return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return os.path.abspath(a) == os.path.abspath(b)


def check_writable(path: str | Path, what: str, *, replaced: bool = False) -> None:
    """Raise now the GraderError that writing ``path`` would raise later, so a run does not grade everything and then
    fail to save it: a folder, a folder that is missing or read-only, a file that is read-only.

    Nothing is changed: an existing file is opened to append and closed, a new one is tried as a temporary file
    beside it and removed. ``replaced``: the file is written whole under a temporary name and renamed into place (``write_whole``),
    so only its folder needs to be writable.
    """
    path = Path(path)
    try:
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
        if path.is_file() and not replaced:
            with path.open("a"):
                pass
        elif replaced or not path.exists():  # (a pipe or a device is left to the writing itself)
            _try_a_file_in(path.parent, path.name)
    except OSError as exc:
        raise GraderError(f"cannot write {what}: {exc.strerror or exc}", path=path) from None


def replaced_in_place(path: Path) -> Path | None:
    """Where a file written whole (under a temporary name beside it, then renamed) lands, or None to write ``path``
    directly: it is a device or a pipe (``/dev/null``, ``/dev/stdout``, a FIFO), which renaming would replace with
    a regular file (for root, ``/dev/null`` itself). Through a symbolic link it lands on the file linked to, which
    renaming over the link would have left as it was."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
    except OSError:  # nothing there yet (or nothing we may look at: the writing says so)
        return path
    return Path(os.path.realpath(path))


@contextmanager
def written_whole(path: Path, *, what: str, newline: str | None = None) -> Iterator[IO[str]]:
    """A text file to write that appears whole or not at all: written under a temporary name beside ``path``, synced,
    and renamed into place (``replaced_in_place``: onto a linked file; a device or a pipe is written as it is). An
    OSError is a GraderError naming ``path``; on any error, Ctrl-C included, no temporary file is left."""
    target = replaced_in_place(path)
    if target is None:
        try:
            with path.open("w", encoding="utf-8", errors="backslashreplace", newline=newline) as out:
                yield out
        except OSError as exc:
            raise GraderError(f"cannot write {what}: {exc.strerror or exc}", path=path) from None
        return
    try:
        with renamed_into_place(target) as temporary:
            with temporary.open("w", encoding="utf-8", errors="backslashreplace", newline=newline) as out:
                yield out
                out.flush()
                os.fsync(out.fileno())
    except OSError as exc:
        raise GraderError(f"cannot write {what}: {exc.strerror or exc}", path=path) from None


@contextmanager
def renamed_into_place(target: Path) -> Iterator[Path]:
    """A temporary name beside ``target`` to write the file under, renamed onto ``target`` when the block ends: the
    file appears whole or not at all, also when two processes write it at once. On any error, Ctrl-C included, the
    temporary file is removed and the error goes on."""
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        yield temporary
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_whole(path: Path, text: str | Iterable[str], *, what: str, newline: str | None = None) -> None:
    """``text`` (or its pieces in order, written as they are made) as a file ``written_whole``."""
    with written_whole(path, what=what, newline=newline) as out:
        out.writelines([text] if isinstance(text, str) else text)


def check_folder_writable(directory: str | Path, what: str) -> None:
    """Raise now the GraderError that writing into ``directory`` would raise later (a file in the way, no
    permission). Nothing is created: a temporary file is tried in the folder, or in the nearest one above it that
    exists, where the folder would be made."""
    directory = Path(directory)
    existing = directory
    try:
        while not existing.exists() and existing != existing.parent:  # raises for a name too long
            existing = existing.parent
        if not existing.is_dir():
            code = errno.EEXIST if existing == directory else errno.ENOTDIR
            raise OSError(code, os.strerror(code))
        _try_a_file_in(existing, "grader")
    except OSError as exc:
        raise GraderError(f"cannot write {what}: {exc.strerror or exc}", path=directory) from None


def _try_a_file_in(folder: Path, name: str) -> None:
    """Create and remove a temporary file in ``folder``: OSError if it cannot be written there."""
    with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{name}.", suffix=".tmp"):
        pass


_SURROGATE = re.compile("[\ud800-\udfff]")


def has_lone_surrogate(value: object) -> bool:
    """Whether any string in parsed JSON or YAML holds half of a UTF-16 pair on its own."""
    return any(_SURROGATE.search(text) for text in strings_in(value))


# An escape of a UTF-16 half (JSON's and YAML's \uD800, YAML's \U0000D800) after an even run of backslashes
# (``\\ud800`` is a backslash and text), with the escape that may follow it to make a pair.
_SURROGATE_ESCAPE = re.compile(
    r"(?<!\\)(?:\\\\)*\\(?:u|U0000)([dD][89a-fA-F][0-9a-fA-F]{2})(?:\\(?:u|U0000)([dD][c-fC-F][0-9a-fA-F]{2}))?"
)


def lone_surrogate_line(text: str) -> int | None:
    """The line of the first escaped lone surrogate in JSON or YAML text (a high half not followed by a low one,
    or a low half on its own); None if none is written as an escape."""
    for m in _SURROGATE_ESCAPE.finditer(text):
        if m[1][1] in "cdefCDEF" or m[2] is None:  # a low half first, or a high half without its low one
            return text.count("\n", 0, m.start()) + 1
    return None


def strings_in(value: object) -> Iterator[str]:
    """Every string in parsed JSON or YAML, keys too.

    Walked without recursion, each container once: YAML aliases share one
    object many times over, and an alias bomb must not be expanded here.
    """
    stack, seen = [value], set()
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, (dict, list)) and id(item) not in seen:
            seen.add(id(item))
            stack.extend([*item.keys(), *item.values()] if isinstance(item, dict) else item)
