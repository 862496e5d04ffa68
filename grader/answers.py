"""Reading answers files (JSON Lines, CSV, YAML) as a stream, and resolving which card each row answers.

Rows are read one at a time, never the file whole, so a file of any size can be
read twice in flat memory: once to check every row (``grader grade`` grades
nothing until all are sound), once to grade. Parsing is strict: a CSV quote that
never closes, a duplicate column, a row with the wrong number of cells, a YAML
anchor or alias (a 400-byte "billion laughs" file expands to gigabytes) and
nesting deeper than ``MAX_DEPTH`` are each an ``AnswersError`` naming the file
and line, never a guess or a traceback.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from json.scanner import make_scanner
from pathlib import Path
from typing import IO, Any, NamedTuple

import yaml

from .errors import AnswersError, InputError
from .files import STDIN, STDIN_NAME, is_stream, open_text, read_text
from .models import AnswerRow, Card, Deck

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".tsv": "csv", ".yaml": "yaml", ".yml": "yaml"}
MAX_DEPTH = 64  # levels of nesting in a row (a row is 1, a list in one of its fields 2, ...)
TOO_DEEP = f"row is nested more than {MAX_DEPTH} levels deep"
TOO_LONG_NUMBER = f"a number has more than {sys.get_int_max_str_digits():,} digits (write it as text, in quotes)"
_READ_CHUNK = 64 * 1024


@dataclass
class AnswersSource:
    """An answers file to read as often as needed: where its bytes are, what errors call it, its format."""

    path: Path
    name: str
    format: str
    encoding: str = "utf-8-sig"  # or what the byte order mark of a UTF-16 or UTF-32 file names, once it is opened
    _checked: bool = field(default=False, repr=False)

    def rows(self) -> Iterator[AnswerRow]:
        """Every row, in file order, each with the line it came from; nothing is held but the row in hand."""
        for values in self.row_values():
            yield values.model()

    def row_values(self) -> Iterator[RowValues]:
        """Every row, checked as ``rows`` checks it but not made a model: the cheap way for a batch's two passes."""
        count = 0
        with self._open() as f:
            for line, data in _READERS[self.format](f, self):
                count += 1
                yield row_values(data, line, self.name)
        if count == 0:
            raise AnswersError("answers file has no rows", path=self.name, line=1)

    def shards(self, size: int) -> list[tuple[int, int]] | None:
        """The file as byte ranges of whole lines, each about ``size`` bytes, for processes that read their own part;
        None unless it is JSON Lines (a JSON array's rows, a CSV's or a YAML's can span lines). Checked first, as the
        first read checks it, so a bad file fails with the same error either way."""
        if self.format != "jsonl":
            return None
        with self._open() as f:
            if _array_head(f) is not None or self.encoding != "utf-8-sig":  # a UTF-16 line break is not the byte \n
                return None
        ranges = []
        with self.path.open("rb") as f:
            total = os.fstat(f.fileno()).st_size
            start = 0
            while start < total:
                f.seek(min(total, start + size))
                f.readline()  # to the end of the line the range reached into: a range ends just after a line break
                ranges.append((start, f.tell()))
                start = f.tell()
        return ranges

    def rows_in(self, start: int, end: int, first_line: int) -> tuple[int, Iterator[RowValues]]:
        """How many lines one of ``shards`` holds (blank ones too: the next range's first line follows them), and its
        rows, numbered from ``first_line``, each checked as ``row_values`` checks it as it comes."""
        with self.path.open("rb") as f:
            f.seek(start)
            data = f.read(end - start)
        # Decoded and split as the whole file is read (a byte order mark only at its start, universal newlines).
        lines = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig" if start == 0 else "utf-8").readlines()
        return len(lines), (row_values(value, line, self.name) for line, value in json_lines(lines, self.name, first_line))

    def _open(self) -> IO[str]:
        if self._checked:  # the whole file was checked for NULs and its encoding on the first read
            return self.path.open(encoding=self.encoding)
        try:
            f = open_text(self.path, what="answers file", max_bytes=None, wide=True)
        except InputError as exc:
            exc.path = self.name  # a spooled standard input is named as such, not by its temporary file
            if exc.message.startswith("not valid UTF-8") and self.format == "csv":
                exc.message += ' (in Excel: Save As "CSV UTF-8 (Comma delimited)")'
            raise
        self._checked, self.encoding = True, f.encoding
        return f

    def error(self, message: str, line: int | None) -> AnswersError:
        return AnswersError(message, path=self.name, line=line)


def _unknown_format(path: Path) -> str:
    """Why a file name gives no answers format, and the two ways out (an Excel "Unicode Text" export is a .txt)."""
    from .decks import ANKI_SUFFIXES, MARKDOWN_SUFFIXES  # here: only this error needs them

    suffix = path.suffix.lower()
    message = f"unknown answers format '{suffix or '(none)'}': name the file .jsonl, .csv or .yaml, or give --answers-format"
    if suffix in MARKDOWN_SUFFIXES | ANKI_SUFFIXES:  # a deck named where the answers go: grader grade answers.csv deck.md
        message += " (this looks like a deck: the deck comes first, then the answers)"
    return message


@contextmanager
def open_answers(path: str | Path, answers_format: str | None = None) -> Iterator[AnswersSource]:
    """The answers file at ``path``: ``-`` (standard input) or a pipe or device named as a file (``<(cat x.csv)``,
    ``/dev/stdin``) is read once, to its end, into a temporary file for the two passes.

    ``answers_format`` (``jsonl``, ``csv`` or ``yaml``) overrides the file name's
    extension; standard input or a pipe without either is read as what it starts with says (``sniffed_format``).
    """
    if answers_format is not None and answers_format not in FORMATS.values():
        raise AnswersError(f"unknown answers format '{answers_format}': use jsonl, csv or yaml")
    if str(path) != STDIN:
        path = Path(path)
        fmt = answers_format or FORMATS.get(path.suffix.lower())
        if is_stream(path):
            with _spooled(path, str(path)) as spool:
                yield AnswersSource(spool, str(path), fmt or _sniffed(spool, str(path)))
            return
        if fmt is None:
            if not path.is_file():  # missing, or a folder: that is what to say, not that its name has no extension
                read_text(path, what="answers file")  # raises
            raise AnswersError(_unknown_format(path), path=path)
        yield AnswersSource(path, str(path), fmt)
        return
    with _spooled(None, STDIN_NAME) as spool:
        yield AnswersSource(spool, STDIN_NAME, answers_format or _sniffed(spool, STDIN_NAME))


def _sniffed(spool: Path, name: str) -> str:
    """``sniffed_format``, or the error that asks for ``--answers-format``."""
    fmt, first = sniffed_format(spool)
    if fmt is None:
        raise AnswersError(
            f"cannot tell the answers' format from their first line ('{_short(first)}': no JSON, no CSV header naming "
            "an 'answer' column, no YAML list): give --answers-format jsonl, csv or yaml",
            path=name,
            line=1,
        )
    return fmt


@contextmanager
def _spooled(path: Path | None, name: str) -> Iterator[Path]:
    """A temporary copy of what ``path`` (None: standard input) gives, read once to its end, removed afterwards.

    A stream of binary data (``/dev/zero``) may never end: the copy stops after the first chunk holding a NUL
    (UTF-8 text has none; UTF-16 and UTF-32, known by their byte order mark, are full of them), and reading the
    copy reports it by its line, as for any file."""
    with tempfile.TemporaryDirectory(prefix="grader-stdin-") as tmp:
        spool = Path(tmp) / "answers"
        with spool.open("wb") as out:
            if path is None and getattr(sys.stdin, "buffer", None) is None:  # a text-only stream (some embedders')
                while text := sys.stdin.read(_READ_CHUNK):
                    out.write(text.encode("utf-8"))
            else:
                try:
                    with path.open("rb") if path is not None else contextlib.nullcontext(sys.stdin.buffer) as source:
                        _copy_text(source, out)
                except OSError as exc:
                    raise AnswersError(f"cannot read answers file: {exc.strerror or exc}", path=name) from None
        yield spool


def _copy_text(source: IO[bytes], out: IO[bytes]) -> None:
    """Copy ``source`` to ``out`` to its end, or to the end of its first chunk with a NUL in text that has no wide
    byte order mark (binary data: the rest is not needed to say so)."""
    wide = None
    while chunk := source.read(_READ_CHUNK):
        out.write(chunk)
        if wide is None:
            wide = chunk.startswith(_WIDE_MARKS)
        if not wide and b"\x00" in chunk:
            return


_WIDE_MARKS = (codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)  # UTF-32 LE's mark begins with UTF-16 LE's


def sniffed_format(path: Path) -> tuple[str | None, str]:
    """The format of answers read from a stream, from what they start with, and their first line: a JSON value
    (``{`` or ``[``) is JSON Lines, a CSV header naming an ``answer`` column (split at commas, semicolons or tabs) is
    CSV, a YAML list (``- ``), ``---``, a ``#`` comment or ``answers:`` is YAML; None for other text. Nothing at all,
    or what is not text, is JSON Lines, so that reading it says what any file would (no rows, binary data, not UTF-8)."""
    with path.open("rb") as f:
        head = f.read(_READ_CHUNK)
    marks = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
    encoding = next((encoding for bom, encoding in marks if head.startswith(bom)), "utf-8-sig")
    text = codecs.getincrementaldecoder(encoding)("replace").decode(head)  # a character cut at the chunk's end is held
    start = text.lstrip()
    first = start.split("\n", 1)[0].strip("\r")
    if start[:1] in ("{", "[", "") or "\x00" in text or "\ufffd" in text:
        return "jsonl", first
    for delimiter in (",", ";", "\t"):
        try:
            names = next(csv.reader([first], delimiter=delimiter), [])
        except csv.Error:
            continue
        if "answer" in {name.strip().casefold() for name in names}:
            return "csv", first
    if start.startswith(("- ", "-\n", "-\r", "---", "#")) or re.match(r"answers\s*:", start):
        return "yaml", first
    return None, first


def iter_answers(path: str | Path, answers_format: str | None = None) -> Iterator[AnswerRow]:
    """The rows of an answers file, one at a time (standard input is read once)."""
    with open_answers(path, answers_format) as source:
        yield from source.rows()


def read_answers(path: str | Path, answers_format: str | None = None) -> list[AnswerRow]:
    """All rows of an answers file, each with the line it came from (for small files; ``iter_answers`` streams)."""
    return list(iter_answers(path, answers_format))


# --- JSON Lines, or one JSON array ---------------------------------------------------------


def _json_rows(f: IO[str], source: AnswersSource) -> Iterator[tuple[int, Any]]:
    head = _array_head(f)
    if head is not None:  # a JSON array is accepted too
        yield from _JsonArray(f, head, source).items()
        return
    f.seek(0)
    yield from json_lines(f, source.name)


def _array_head(f: IO[str]) -> str | None:
    """The file's first characters, up to its first that is not white space, when that one opens a JSON array."""
    head = f.read(_READ_CHUNK)
    while head.isspace() and (more := f.read(_READ_CHUNK)):
        head += more
    return head if head.lstrip().startswith("[") else None


def json_lines(lines: Iterable[str], name: str, first: int = 1) -> Iterator[tuple[int, Any]]:
    """(line number, value) of each JSON Lines line that is not blank; a bad one is an AnswersError naming ``name``.
    ``first``: the number of the first of ``lines`` (a part of a file)."""
    for line_no, line in enumerate(lines, start=first):
        try:
            value = _json_line(line)
        except json.JSONDecodeError as exc:
            raise AnswersError(f"invalid JSON: {exc.msg}", path=name, line=line_no) from None
        except ValueError:  # the only other: an integer longer than Python converts
            raise AnswersError(TOO_LONG_NUMBER, path=name, line=line_no) from None
        except RecursionError:
            raise AnswersError(TOO_DEEP, path=name, line=line_no) from None
        if value is not _BLANK:
            yield line_no, value


# What json.loads calls, without the layers of Python around it. (typeshed types the context as a make_scanner; it
# is the decoder whose settings the scanner reads, as json.decoder passes it.)
_scan = make_scanner(json.JSONDecoder())  # type: ignore[arg-type]
_BLANK = object()


def _json_line(line: str) -> Any:
    """``json.loads(line)``, or ``_BLANK`` for a blank line; half the cost for a line that is a value and a newline."""
    try:
        value, end = _scan(line, 0)
    except StopIteration:  # no value at the start: white space, or not JSON
        pass
    else:
        if end == len(line) or line[end:] == "\n":
            return value
    return json.loads(line) if line.strip() else _BLANK  # anything else, and every error, as json.loads has it


class _JsonArray:
    """The items of one JSON array, decoded one at a time from a buffer that slides along the file."""

    def __init__(self, f: IO[str], head: str, source: AnswersSource):
        self.f, self.buf, self.source = f, head, source
        self.pos = head.index("[") + 1
        self.line, self.counted = 1, 0  # the line of buf[counted]
        self.eof = False
        self.decoder = json.JSONDecoder()

    def line_at(self, at: int) -> int:
        self.line += self.buf.count("\n", self.counted, at)
        self.counted = at
        return self.line

    def more(self) -> bool:
        """Append at least as much again as is left unread (dropping what is read); False at the file's end."""
        if self.eof:
            return False
        chunk = self.f.read(max(_READ_CHUNK, len(self.buf) - self.pos))  # doubling: a long item costs linear time
        if not chunk:
            self.eof = True
            return False
        self.line_at(self.pos)
        self.buf, self.pos, self.counted = self.buf[self.pos :] + chunk, 0, 0
        return True

    def next_char(self) -> str:
        """The next character that is not white space ("" at the end of the file), not consumed."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in " \t\n\r":
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.more():
                return ""

    def fail(self, message: str, at: int) -> AnswersError:
        return self.source.error(message, self.line_at(at))

    def items(self) -> Iterator[tuple[int, Any]]:
        if self.next_char() == "]":
            self.pos += 1
        else:
            while True:
                yield self.line_at(self.pos), self.item()
                char = self.next_char()
                self.pos += 1
                if char == "]":
                    break
                if char != ",":
                    raise self.fail("invalid JSON: Expecting ',' delimiter", self.pos - 1)
                self.next_char()
        if self.next_char():
            raise self.fail("invalid JSON: Extra data", self.pos)

    def item(self) -> Any:
        while True:
            try:
                item, end = self.decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if self.more():  # perhaps the item goes on past the buffer
                    continue
                raise self.fail(f"invalid JSON: {exc.msg}", exc.pos) from None
            except ValueError:
                raise self.fail(TOO_LONG_NUMBER, self.pos) from None
            except RecursionError:
                raise self.fail(TOO_DEEP, self.pos) from None
            if end == len(self.buf) and self.more():  # a number may go on in the next chunk
                continue
            self.pos = end
            return item


# --- CSV -------------------------------------------------------------------------------------


def _csv_rows(f: IO[str], source: AnswersSource) -> Iterator[tuple[int, Any]]:
    reader = csv.reader(f, delimiter=_csv_delimiter(f), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise source.error(_csv_problem(exc, 1), reader.line_num) from None
    if header is None:
        return
    header = _csv_header(header, source)
    unnamed = "" in header  # a spreadsheet's padding columns: their cells are checked and left out, row by row
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader, None)
        except csv.Error as exc:
            raise source.error(_csv_problem(exc, start), start if "end of data" in str(exc) else reader.line_num) from None
        if cells is None:
            return
        if not any(map(str.strip, cells)):  # a blank line, or a spreadsheet's row of empty cells (",,,")
            continue
        if len(cells) != len(header):
            raise source.error(f"row has {len(cells)} cells; the header has {len(header)}", reader.line_num)
        # The reader's line_num is the line where the row ended: right for multi-line cells too.
        if not unnamed:  # the common header: every column named, the row as it is
            yield reader.line_num, dict(zip(header, cells))
            continue
        row = {}
        for name, cell in zip(header, cells):
            if name:
                row[name] = cell
            elif cell.strip():
                raise source.error(f"a cell holds '{_short(cell)}' under a column the header does not name", reader.line_num)
        yield reader.line_num, row


def _csv_delimiter(f: IO[str]) -> str:
    """The comma, or the semicolon or tab of a header that plainly names its columns with it (``card;answer``,
    ``question\tanswer``: Excel's CSV where the decimal mark is a comma, and its "Text (Tab delimited)"), rewound.

    Only a header whose commas give no ``answer`` column is read another way, and only one that names ``answer``
    and ``card`` or ``question`` so: a guess from the rows' cells could split answers that hold semicolons."""
    chosen = ","
    for delimiter in (",", *_DELIMITERS):
        f.seek(0)
        try:
            names = {name.strip().casefold() for name in next(csv.reader(f, delimiter=delimiter, strict=True), [])}
        except csv.Error:  # a quote that never closes: the comma's reader reports it
            continue
        if "answer" in names and (delimiter == "," or names & {"card", "question"}):
            chosen = delimiter
            break
    f.seek(0)
    return chosen


def _csv_header(header: list[str], source: AnswersSource) -> list[str]:
    """The column names, ``card``, ``question`` and ``answer`` whatever their case and spacing (a spreadsheet's
    ``Answer``), checked: no name twice, and an ``answer`` column, or the header as read and what is wrong with it.
    A blank name ("") is a column the header does not name, as a spreadsheet pads its rows with empty cells
    (``card,answer,,``): its cells must be empty, and are left out."""
    names = [name.strip().casefold() if name.strip().casefold() in _RESERVED else name if name.strip() else "" for name in header]
    seen: set[str] = set()
    for name in names:
        if name in seen and name:
            raise source.error(f"the header names the column '{name}' twice", 1)
        seen.add(name)
    if "answer" not in seen:
        written = ",".join(header)
        separator = next((_separator_hint(sep, kind) for sep, kind in _SEPARATORS if len(header) == 1 and sep in written), "")
        shown = f"it reads '{_short(written)}'".replace("\t", "\\t") if written else "line 1 is blank"  # a tab as \t, not a space
        raise source.error(f"the header has no 'answer' column ({shown}){separator}", 1)
    return names


_SEPARATORS = ((";", "semicolons"), ("\t", "tabs"), ("|", "bars"))
_DELIMITERS = (";", "\t")  # read as well as the comma, when the header names its columns with them


def _separator_hint(separator: str, kind: str) -> str:
    if separator in _DELIMITERS:
        return f"; a header separated by {kind} must name 'answer' and 'card' or 'question'"
    return f"; separate the columns with commas, not {kind}"


def _csv_problem(exc: csv.Error, start: int) -> str:
    text = str(exc)
    if "end of data" in text:
        return f"a quoted cell opened on line {start} never closes (a missing \")"
    if "field limit" in text:
        return f"a cell is longer than {csv.field_size_limit():,} characters, the CSV limit"
    return f"invalid CSV: {text}"


# --- YAML ------------------------------------------------------------------------------------


class _RowLoader(yaml.BaseLoader):
    """PyYAML's loader of plain text, lists and maps, one node at a time, refusing anchors and aliases and deep nesting.

    Every scalar stays the text the teacher wrote: YAML's implicit types would make a student id ``012345`` the
    number 5349 and the answer ``No`` False, and change what passes through to the output."""

    depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise AnswersError(
                "YAML anchors and aliases (& and *) are not allowed in answers files",
                line=event.start_mark.line + 1,
            )
        self.depth += 1
        if self.depth > MAX_DEPTH + 1:  # + 1: the list of rows itself
            raise AnswersError(TOO_DEEP, line=event.start_mark.line + 1)
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _yaml_rows(f: IO[str], source: AnswersSource) -> Iterator[tuple[int, Any]]:
    loader = None
    try:
        loader = _RowLoader(f)  # reads the first chunk already
        yield from _yaml_document(loader, source)
    except AnswersError as exc:
        raise source.error(exc.message, exc.line) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow; it knows only the offset
        with source.path.open(encoding=source.encoding) as again:
            line = again.read(exc.position).count("\n") + 1
        raise source.error(f"invalid YAML: character #x{exc.character:04x} is not allowed", line) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise source.error(f"invalid YAML: {getattr(exc, 'problem', None) or exc}", mark.line + 1 if mark else None) from None
    finally:
        if loader is not None:
            loader.dispose()


def _yaml_document(loader: _RowLoader, source: AnswersSource) -> Iterator[tuple[int, Any]]:
    not_a_list = source.error("YAML answers must be a list of rows (or a mapping with an 'answers' list)", 1)
    loader.get_event()  # stream start
    if loader.check_event(yaml.StreamEndEvent):
        raise not_a_list
    loader.get_event()  # document start
    if loader.check_event(yaml.SequenceStartEvent):
        yield from _yaml_items(loader)
    elif loader.check_event(yaml.MappingStartEvent):
        loader.get_event()
        found = False
        while not loader.check_event(yaml.MappingEndEvent):
            key = loader.construct_document(loader.compose_node(None, None))
            if key == "answers" and not found and loader.check_event(yaml.SequenceStartEvent):
                found = True
                yield from _yaml_items(loader)
            else:
                loader.compose_node(None, None)  # checked, then dropped
        loader.get_event()
        if not found:
            raise not_a_list
    else:
        loader.compose_node(None, None)
        raise not_a_list
    loader.get_event()  # document end
    if not loader.check_event(yaml.StreamEndEvent):
        event = loader.peek_event()
        raise AnswersError("a YAML answers file holds one document (found a second '---')", line=event.start_mark.line + 1)


def _yaml_items(loader: _RowLoader) -> Iterator[tuple[int, Any]]:
    loader.get_event()  # sequence start
    loader.depth += 1
    index = 0
    while not loader.check_event(yaml.SequenceEndEvent):
        node = loader.compose_node(None, index)
        yield node.start_mark.line + 1, loader.construct_document(node)
        index += 1
    loader.depth -= 1
    loader.get_event()


_READERS = {"jsonl": _json_rows, "csv": _csv_rows, "yaml": _yaml_rows}


# --- Rows and cards --------------------------------------------------------------------------

_RESERVED = {"card", "question", "answer"}
_SCALARS = {str, int, float, bool, type(None)}  # a row of only these nests nothing (checked first: it is most rows)


class RowValues(NamedTuple):
    """A row's checked values, the fields of its ``AnswerRow``: a tuple costs a tenth of validating the model again."""

    line: int
    card: str | None
    question: str | None
    answer: str
    extra: dict[str, Any]

    def model(self) -> AnswerRow:
        """The row as the model it was checked to make, for those who ask for one."""
        return AnswerRow(**self._asdict())


def answer_row(data: Any, line: int, name: str) -> AnswerRow:
    """One row of an answers file as read (a dict), checked: it names a card and has an answer."""
    return row_values(data, line, name).model()


def row_values(data: Any, line: int, name: str) -> RowValues:
    """What ``answer_row`` checks and makes of a row, as plain values."""
    if not isinstance(data, dict):
        raise AnswersError("row is not an object with 'answer' and 'card' or 'question'", path=name, line=line)
    if "answer" not in data:
        raise AnswersError("row has no 'answer' field", path=name, line=line)
    card = data.get("card")
    if card != card:  # NaN: a blank in a column of card numbers that pandas made floats, written out by json.dumps
        card = None
    if card is not None:
        card = str(card).strip()  # a spreadsheet's cell often keeps a space typed after the number ("3 ")
    question = data.get("question")
    if card in (None, "") and question in (None, ""):
        raise AnswersError("row names no card: give 'card' (id or number) or 'question'", path=name, line=line)
    if not _SCALARS.issuperset(map(type, data.values())) and _too_deep(data):
        raise AnswersError(TOO_DEEP, path=name, line=line)
    answer = data["answer"]
    return _new_row(
        RowValues,
        (
            line,
            card or None,
            None if question in (None, "") else _text(question, "question", line, name),
            answer if type(answer) is str else _text(answer, "answer", line, name),
            _own_fields(data),
        ),
    )


def _text(value: Any, what: str, line: int, name: str) -> str:
    """A row's answer or question as text: a number as JSON writes it, nothing as empty; a list, an object or true is
    an error (its Python repr would be graded)."""
    if value is None:
        return ""
    if type(value) in (int, float):
        return json.dumps(value)
    if isinstance(value, str):
        return value
    raise AnswersError(f"{what} must be text, not {_JSON_KINDS.get(type(value), type(value).__name__)}", path=name, line=line)


_JSON_KINDS = {list: "a list", dict: "an object", bool: "true or false"}


def _own_fields(row: dict[str, Any]) -> dict[str, Any]:
    """A row's fields but ``card``, ``question`` and ``answer``, in its order (a copy less three costs less than a
    comprehension)."""
    fields = row.copy()
    for name in _RESERVED:
        fields.pop(name, None)
    return fields


_new_row = tuple.__new__  # RowValues without the Python-level __new__ of a NamedTuple: a row is made twice per answer


def _too_deep(row: dict[str, Any]) -> bool:
    """Whether lists and objects nest more than ``MAX_DEPTH`` levels in a row (walked without recursion)."""
    stack = [(value, 2) for value in row.values()]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                return True
            stack.extend((v, depth + 1) for v in (value.values() if isinstance(value, dict) else value))
    return False


class CardResolver:
    """The card each row answers: by id, by position (from 1), or by its question (``match.QuestionIndex`` says how near)."""

    def __init__(self, deck: Deck):
        from .match import QuestionIndex

        self.deck = deck
        # A card by its id, or by its number as most rows write it: one look-up (an id that looks like a number wins).
        numbers = {str(i + 1): i for i in range(len(deck.cards))}
        self._by_key = numbers | {card.id: i for i, card in enumerate(deck.cards)}
        self._questions = QuestionIndex([card.question for card in deck.cards])
        self._find = lru_cache(maxsize=4096)(self._questions.find)

    def index(self, row: AnswerRow | RowValues, name: str) -> int:
        """The position in the deck of the card ``row`` names, or an AnswersError naming its line."""
        deck = self.deck
        if row.card is not None:
            found = self._by_key.get(row.card)
            if found is not None:
                return found
            number = _leading_zeros_number(row.card)
            if number is not None and 1 <= number <= len(deck.cards):
                return number - 1
            raise AnswersError(
                f"card '{_short(row.card)}' is not in {deck.path} (use a card id from 'grader cards' or a number from 1 to {len(deck.cards)})",
                path=name,
                line=row.line,
            )
        question = row.question or ""
        found = self._find(question)
        if len(found) == 1:
            return found[0]
        if found:
            cards = " or ".join(f"card {i + 1} ('{_short(deck.cards[i].question)}')" for i in found[:2])
            problem = f"the question '{_short(question)}' could be {cards}: name the card by its id or number"
        else:
            closest = self._questions.closest(question)
            problem = (
                f"no card in {deck.path} has the question '{_short(question)}' "
                f"(the nearest is card {closest + 1}: '{_short(deck.cards[closest].question)}')"
            )
        raise AnswersError(problem, path=name, line=row.line)

    def card(self, row: AnswerRow | RowValues, name: str) -> Card:
        return self.deck.cards[self.index(row, name)]


def _leading_zeros_number(text: str) -> int | None:
    """The card number a text like "007" or "7.0" writes, or None: ASCII digits only ("²" is a digit to ``isdigit``
    but not to ``int``), and short enough to be a number (``int`` refuses over 4,300 digits).

    "7.0" is how pandas writes a column of card numbers with a blank in it (as floats), in CSV and JSON alike."""
    whole, point, fraction = text.partition(".")
    if point and whole and fraction and fraction.strip("0") == "":
        text = whole
    digits = text.lstrip("0")
    if not (text.isascii() and text.isdigit()) or len(digits) > 18:
        return None
    return int(digits or "0")


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
