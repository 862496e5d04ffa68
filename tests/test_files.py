"""Reading user files: ``open_text`` streams a file and agrees with ``read_text`` on every line and every error."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.answers import open_answers
from grader.errors import AnswersError, InputError
from grader.files import open_text, read_text

# Pieces that exercise what reading can trip on: a BOM, three kinds of line end,
# multi-byte characters, UTF-16 and UTF-32 byte order marks, a byte that is never UTF-8, a NUL, a truncated sequence.
PIECES = [b"\xef\xbb\xbf", b"\xff\xfe", b"\x00\x00\xfe\xff", b"\n", b"\r\n", b"\r", b"ab", b" ", "é€😀".encode(), b"\xff", b"\x00", b"\xe2\x82", b"{}"]


def _outcome(read) -> list[str] | str:
    try:
        return read()
    except InputError as exc:
        return str(exc)


@settings(max_examples=300)
@given(st.lists(st.sampled_from(PIECES), max_size=12), st.integers(0, 3))
def test_open_text_reads_what_read_text_reads(pieces, max_bytes):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.jsonl"
        path.write_bytes(b"".join(pieces))
        limit = max_bytes * 8 or 1024

        def streamed() -> list[str]:
            with open_text(path, what="thing", max_bytes=limit) as f:
                return f.readlines()

        assert _outcome(streamed) == _outcome(lambda: io.StringIO(read_text(path, what="thing", max_bytes=limit)).readlines())


def test_open_text_streams_a_sound_file_and_names_a_missing_one(tmp_path):
    path = tmp_path / "f.txt"
    path.write_text("one\ntwo\n", encoding="utf-8")
    with open_text(path) as f:
        assert not isinstance(f, io.StringIO) and f.readlines() == ["one\n", "two\n"]
    assert _outcome(lambda: open_text(tmp_path / "nope.txt", what="export")) == f"{tmp_path / 'nope.txt'}: no such export"


@pytest.mark.parametrize(
    "encoding, name",
    [("utf-16-le", "UTF-16"), ("utf-16-be", "UTF-16"), ("utf-32-le", "UTF-32"), ("utf-32-be", "UTF-32")],
)
def test_a_utf16_or_utf32_file_is_named_as_such_not_binary(tmp_path, encoding, name):
    path = tmp_path / "a.csv"
    path.write_bytes("\ufeffcard,answer\n1,café\n".encode(encoding))  # as Windows' "Unicode" saves it: a byte order mark first
    expected = f"{path}:1: saved as {name}, not UTF-8; save the answers file as UTF-8"
    assert _outcome(lambda: open_text(path, what="answers file")) == expected
    assert _outcome(lambda: read_text(path, what="answers file")) == expected


# --- An answers file read in byte ranges (grade --jobs) ---------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    lines=st.lists(
        st.one_of(
            st.builds(lambda a, x: json.dumps({"card": 1, "answer": a, "x": x}, ensure_ascii=False), st.text(max_size=40), st.integers()),
            st.sampled_from(["", "   ", "\t"]),
        ),
        min_size=1,
        max_size=40,
    ),
    breaks=st.lists(st.sampled_from(["\n", "\r\n", "\r"]), min_size=1, max_size=40),
    bom=st.booleans(),
    size=st.integers(min_value=1, max_value=300),
)
def test_byte_ranges_hold_the_rows_of_the_whole_file(lines, breaks, bom, size):
    """Read range by range, each numbered from where the ranges before it ended, the rows are the file's rows:
    same values, same lines, whatever the line breaks, blank lines, byte order mark and range size."""
    text = "".join(line + breaks[i % len(breaks)] for i, line in enumerate(lines))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a.jsonl"
        path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
        with open_answers(path) as source:
            try:
                whole = list(source.row_values())
            except AnswersError:  # no rows at all: nothing to compare
                return
            shards = source.shards(size)
            assert shards is not None and shards[0][0] == 0 and shards[-1][1] == path.stat().st_size
            assert all(end == start for (_, end), (start, _) in zip(shards, shards[1:]))
            read, first = [], 1
            for start, end in shards:
                count, rows = source.rows_in(start, end, first)
                read += list(rows)
                first += count
    assert read == whole
