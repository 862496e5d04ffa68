"""The practice history as a file: ``grader history export`` writes it, ``grader history import`` merges it in.

The format is JSON Lines: a header line (``ExportHeader``), then one line per
stored card and one per attempt (``store.StoredCard``, ``store.Attempt``).
An import is read and checked line by line, to the end, before the store takes
its write lock (``Store.merge`` keeps the records ready in a temporary file, so a
file of any size is never held whole): a bad line anywhere leaves the history as
it was, and a practice session at the same time waits only for the writing. Header lines after the first are allowed, so exports joined
with ``cat`` import as one.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Annotated, Final, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from .errors import GraderError, InputError
from .files import open_text, refuse_overwrite, written_whole
from .store import Attempt, Merged, Store, StoredCard, history_files

UNSAVED_FILE = "unsaved-answers.jsonl"
EXPORT_FORMAT: Final = "grader-history"
EXPORT_VERSION = 1
MAX_IMPORT_BYTES = 1024 * 1024 * 1024


class ExportHeader(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["header"] = "header"
    format: Literal["grader-history"] = EXPORT_FORMAT
    version: int = EXPORT_VERSION
    exported_at: datetime


class _AnyVersionHeader(BaseModel):
    """What a header of any version keeps: enough to tell a newer export from something else (extra fields allowed)."""

    type: Literal["header"]
    format: Literal["grader-history"]
    version: int


_ExportLine = TypeAdapter(Annotated[ExportHeader | StoredCard | Attempt, Field(discriminator="type")])
_ExportHeaderLine = TypeAdapter(ExportHeader)


class Exported(NamedTuple):
    """What an export holds, to say so in the words ``import`` uses."""

    cards: int
    answers: int


def export(store: Store, out: IO[str], *, now: datetime) -> Exported:
    """Write the whole history as JSON Lines (a header, the cards, the attempts); return how many cards and answers."""
    cards, attempts = store.cards(), store.attempts()
    for record in (ExportHeader(exported_at=now), *cards, *attempts):
        out.write(record.model_dump_json() + "\n")
    return Exported(len(cards), len(attempts))


def export_file(file: Path, *, now: datetime, history: Path | None = None) -> Exported:
    """Export the history (``history``: the store's file, default the user's) to ``file``; return how many cards and answers.

    The file is ``written_whole``, so a failed export never leaves half a file
    under the real name (a device or a pipe, ``/dev/stdout`` say, is written as it
    is; through a link, the file linked to is replaced). Writing over the history itself is refused, and so is replacing a file
    that is neither empty nor an earlier export: ``history export notes.md`` typed by mistake must not cost the notes.
    """
    refuse_overwrite(file, history_files(history))
    if not _replaceable(file):
        raise GraderError("will not write over a file that is not a grader history export; choose another file", path=file)
    with Store.open(history, read_only=True) as store, written_whole(file, what="the export") as out:
        return export(store, out, now=now)


def keep_unsaved(store: Store, records: list[StoredCard | Attempt], *, now: datetime) -> Path:
    """Append records the history could not take (it stayed locked) to ``unsaved-answers.jsonl`` beside it; return its path.

    The file is an export (a header before each addition: joined exports import
    as one), flushed to disk, so ``grader history import FILE`` adds them later,
    and importing it twice changes nothing.
    """
    file = store.path.with_name(UNSAVED_FILE)
    try:
        with file.open("a", encoding="utf-8") as out:
            for record in (ExportHeader(exported_at=now), *records):
                out.write(record.model_dump_json() + "\n")
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        raise GraderError(f"cannot keep the answer the history could not take: {exc.strerror or exc}", path=file) from None
    return file


def _replaceable(file: Path) -> bool:
    """Whether an export may go to ``file``: it is new, empty, not a regular file (left to the writing) or an export."""
    try:
        if not file.is_file():
            return True
        with file.open("rb") as f:
            first = f.readline(64 * 1024)
    except OSError:  # unreadable: the writing says what is wrong
        return True
    if not first.strip():
        return True
    try:
        header = json.loads(first)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past the parser
        return False
    return isinstance(header, dict) and header.get("type") == "header" and header.get("format") == EXPORT_FORMAT


def import_(store: Store, source: IO[str], *, path: str = "<history>") -> Merged:
    """Merge an export into this history: all of it or, on a bad line, none of it.

    Attempts already present (same uid) are skipped, so importing twice
    changes nothing; a card keeps whichever state was reviewed last.
    """
    return store.merge(read_export(source, path))


def import_file(file: Path, *, history: Path | None = None) -> Merged:
    """Merge the export ``file`` into the history (``history``: the store's file, default the user's).

    The file is checked (it exists, is UTF-8 text, not too large) before the
    history is opened, so a wrong file name creates no history. ``-`` is standard
    input (``ssh other grader history export | grader history import -``).
    """
    if str(file) == "-":
        with Store.open(history) as store:
            return import_(store, sys.stdin, path="<stdin>")
    with open_text(file, what="history export", max_bytes=MAX_IMPORT_BYTES) as source, Store.open(history) as store:
        return import_(store, source, path=str(file))


def read_export(source: IO[str], path: str) -> Iterator[StoredCard | Attempt]:
    """The records of an export, validated line by line; a bad line is an InputError naming it."""
    seen_header = False
    for number, line in enumerate(source, start=1):
        if not line.strip():
            continue
        try:
            rec = (_ExportLine if seen_header else _ExportHeaderLine).validate_json(line)
        except ValidationError as exc:
            _refuse_newer(line, path, number)
            err = exc.errors()[0]
            where = ".".join(p if isinstance(p, str) and p.isprintable() and p else repr(p) for p in err["loc"])  # a key may be "\n"
            if not seen_header and _is_header(line):  # a header, but a bad one: "the first line must be its header" said it was none
                raise InputError(f"not a grader history header: {where + ': ' if where else ''}{err['msg']}", path=path, line=number) from None
            if not seen_header:
                raise InputError("not a grader history export (the first line must be its header)", path=path, line=number) from None
            raise InputError(f"not a grader history line: {where + ': ' if where else ''}{err['msg']}", path=path, line=number) from None
        naive = _naive_timestamp(rec)
        if naive:
            raise InputError(
                f"not a grader history line: {naive}: timestamp has no time zone (write it in UTC, e.g. 2024-05-01T12:00:00Z)",
                path=path,
                line=number,
            )
        if isinstance(rec, ExportHeader):
            _refuse_newer(line, path, number)
            seen_header = True
        else:
            yield rec
    if not seen_header:
        raise InputError("empty file: not a grader history export", path=path, line=1)


def _is_header(line: str) -> bool:
    """Whether ``line`` is meant as an export's header, of any version, whatever else it holds."""
    try:
        _AnyVersionHeader.model_validate_json(line)
    except ValidationError:
        return False
    return True


def _refuse_newer(line: str, path: str, number: int) -> None:
    """Say so when ``line`` is a newer grader's header: its new fields must not make it pass for a bad line or no export."""
    try:
        header = _AnyVersionHeader.model_validate_json(line)
    except ValidationError:
        return
    if header.version > EXPORT_VERSION:
        raise InputError(f"history format version {header.version} is newer than this grader's ({EXPORT_VERSION})", path=path, line=number)


def _naive_timestamp(record: BaseModel, where: str = "") -> str | None:
    """Where ``record`` holds a timestamp without a time zone (``state_after.due``), or None.

    Every time grader stores is UTC; a naive one cannot be placed, and compared
    with the others it would crash the history's queries.
    """
    for name in type(record).model_fields:
        value = getattr(record, name)
        here = f"{where}{name}"
        if isinstance(value, datetime) and value.tzinfo is None:
            return here
        if isinstance(value, BaseModel):
            found = _naive_timestamp(value, here + ".")
            if found:
                return found
    return None
