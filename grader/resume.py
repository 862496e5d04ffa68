"""What an interrupted ``grader grade --output FILE`` left behind, read back so ``--resume`` can go on.

Results are written one whole row at a time and flushed, so after Ctrl-C, a
crash or a full disk the output file holds some whole rows and perhaps part of
one more. These readers yield the whole rows with the byte offset just past
each, so the file can be cut back to the last whole row and appended to. The
row a result belongs to is its position: the n-th result is the n-th answer.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import GraderError

OUTPUT_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}


def output_format(path: str | Path) -> str | None:
    """``jsonl`` or ``csv`` by the file's extension; None for any other."""
    return OUTPUT_FORMATS.get(Path(path).suffix.lower())


def written_results(path: Path, fmt: str) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """(line, offset just past it, record) of each whole result in an output file, in order.

    A CSV file's header is not a result; its columns are checked by ``csv_header``. A CSV record holds what its
    cells were written from, as JSON would: text without a formula's apostrophe, numbers, ``answered`` (``True`` or ``False``) a bool.
    """
    if fmt == "csv":
        rows = _csv_records(path)
        header = next(rows, None)
        if header is None:
            return
        columns = header[2]
        for line, end, cells in rows:
            if len(cells) != len(columns):
                raise GraderError(f"row has {len(cells)} cells; the header has {len(columns)}", path=path, line=line)
            yield line, end, _csv_values(dict(zip(columns, cells)), path, line)
        return
    end = 0
    with path.open("rb") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.endswith(b"\n"):  # cut short by the interruption: written again
                return
            end += len(line)
            try:
                record = json.loads(line)
            except (ValueError, RecursionError):
                raise GraderError("not a line of 'grader grade' results", path=path, line=line_no) from None
            if not isinstance(record, dict):
                raise GraderError("not a line of 'grader grade' results", path=path, line=line_no)
            yield line_no, end, record


def _csv_values(cells: dict[str, str], path: Path, line: int) -> dict[str, Any]:
    """A CSV result as the values its cells were written from (``writers.csv_cell``)."""
    from .writers import written_text

    record: dict[str, Any] = {name: written_text(cell) for name, cell in cells.items()}
    try:
        record["score"] = float(record["score"])
        record["number"] = int(record["number"])
    except (KeyError, ValueError):
        raise GraderError("not a result line of 'grader grade'", path=path, line=line) from None
    if "answered" in record:
        record["answered"] = record["answered"] != "False"
    return record


def whole_results(path: Path, fmt: str) -> int:
    """How many whole results an output file holds, by its line breaks (its CSV records, header not counted), without
    reading any: a cheap look before ``written_results`` checks them."""
    if fmt == "csv":
        return max(0, sum(1 for _ in _csv_records(path)) - 1)
    count = 0
    with path.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            count += chunk.count(b"\n")
    return count


def csv_header(path: Path) -> tuple[list[str], int] | None:
    """The header of a CSV output file and the offset just past it; None if the file has no whole header."""
    first = next(_csv_records(path), None)
    return None if first is None else (first[2], first[1])


def _csv_records(path: Path) -> Iterator[tuple[int, int, list[str]]]:
    """(line, offset just past it, cells) of each whole CSV record; a record cut short ends the file."""
    consumed = 0

    def whole_lines(f: Any) -> Iterator[str]:
        nonlocal consumed
        for line in f:
            if not line.endswith(b"\n"):  # every record we write ends with a line break
                return
            consumed += len(line)
            yield line.decode("utf-8", errors="replace")

    with path.open("rb") as f:
        reader = csv.reader(whole_lines(f), strict=True)
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error:  # a quoted cell that never closes: the record was cut short
                return
            yield reader.line_num, consumed, cells


def report_rows(path: Path) -> Iterator[int]:
    """The offset just past each whole row of a report's table (its summary lines are not rows)."""
    end = 0
    in_table = False
    with path.open("rb") as f:
        for line in f:
            if not line.endswith(b"\n"):
                return
            end += len(line)
            if line.startswith(b"|---"):
                in_table = True
            elif in_table:
                if not line.startswith(b"| "):
                    return
                yield end
