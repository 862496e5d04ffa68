"""Reading user files: ``open_text`` streams a file and agrees with ``read_text`` on every line and every error."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from grader.errors import InputError
from grader.files import open_text, read_text

# Pieces that exercise what reading can trip on: a BOM, three kinds of line end,
# multi-byte characters, a byte that is never UTF-8, a NUL, a truncated sequence.
PIECES = [b"\xef\xbb\xbf", b"\n", b"\r\n", b"\r", b"ab", b" ", "é€😀".encode(), b"\xff", b"\x00", b"\xe2\x82", b"{}"]


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
