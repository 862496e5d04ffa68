"""Untrusted text in and out: CSV cells a spreadsheet would run are made inert; text no file can hold is refused;
bidirectional overrides reach no terminal."""

from __future__ import annotations

import csv
import io
import json

import pytest

from .conftest import SEED_DECK, run_cli


@pytest.mark.parametrize(
    "written, shown",
    [
        ('=HYPERLINK("http://evil.example","click")', '\'=HYPERLINK("http://evil.example","click")'),
        ("+1+1", "'+1+1"),
        ("-2 sharing", "'-2 sharing"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tsharing", "'\tsharing"),
        ("sharing = aggregation", "sharing = aggregation"),  # only a cell's first character makes a formula
    ],
)
def test_formula_cells_are_neutralised_in_answers_and_passthrough_fields(tmp_path, written, shown):
    answers = tmp_path / "a.csv"
    with answers.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["card", "answer", "student"], ["3", written, written]])
    result = run_cli("grade", str(SEED_DECK), str(answers), "--csv", "--jobs", "1")
    assert result.returncode == 0, result.stderr
    (row,) = list(csv.DictReader(io.StringIO(result.stdout)))
    assert row["answer"] == shown and row["student"] == shown


def test_a_deck_with_an_escaped_lone_surrogate_is_refused_in_one_line(tmp_path):
    deck = tmp_path / "d.json"
    deck.write_text('[{"question": "Q\\ud800?", "answer": "a"}]', encoding="utf-8")
    result = run_cli("cards", str(deck))
    assert (result.returncode, result.stderr) == (1, f"Error: {deck}:1: contains an escaped lone surrogate (like \\ud800), which is not text\n")


BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"]


def test_the_display_drops_bidirectional_overrides_and_keeps_right_to_left_letters():
    from grader.display import clean, clean_line, clean_same_length

    for control in BIDI:
        assert clean(f"a{control}b") == clean_line(f"a{control}b") == "ab"
        assert clean_same_length(f"a{control}b") == "a\ufffdb"  # offsets into a typed answer still hold
    assert clean("\u200fمرحبا\u200e שלום") == "\u200fمرحبا\u200e שלום"  # marks and letters are text


def test_a_cut_answer_leaves_no_override_open_in_the_table_and_files_keep_it(tmp_path):
    # The answer column cuts a long answer, and with it the override's closing mark: the reversal ran into the
    # columns after it. The table shows neither; --json keeps the answer as written.
    answer = "\u202eevitucexe deganam sharing and a long tail after it\u202c sharing"
    answers = tmp_path / "a.jsonl"
    answers.write_text(json.dumps({"student": "\u2067rtl", "card": 3, "answer": answer}) + "\n", encoding="utf-8")
    table = run_cli("grade", str(SEED_DECK), str(answers), "--jobs", "1")
    assert table.returncode == 0, table.stderr
    assert not any(c in table.stdout for c in BIDI) and "evitucexe" in table.stdout and "rtl" in table.stdout
    as_json = run_cli("grade", str(SEED_DECK), str(answers), "--jobs", "1", "--json")
    assert json.loads(as_json.stdout)["answer"] == answer


def test_a_piped_table_is_one_line_a_row_header_included(tmp_path):
    answers = tmp_path / "a.jsonl"
    answers.write_text("".join(json.dumps({"student": s, "card": 3, "answer": "sharing and aggregation"}) + "\n" for s in ("ann", "bo")))
    result = run_cli("grade", str(SEED_DECK), str(answers), "--jobs", "1", env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["#", "card", "student", "score", "verdict", "answer", "matched", "/", "missing"]
    assert len(header) > 80 and [row.split()[:3] for row in rows] == [["1", "3", "ann"], ["2", "3", "bo"]]


def test_a_lone_surrogate_keeps_the_tables_columns_in_line(tmp_path):
    """It is written as its escape (six characters), so the column is filled by the escape, not by the one code point."""
    answers = tmp_path / "a.jsonl"
    rows = [("ann", "sharing x"), ("b\\ud800", "sharing \\ud800 x"), ("cy", "sharing and more text than fits its column")]
    answers.write_text("".join(f'{{"student": "{s}", "card": 3, "answer": "{a}"}}\n' for s, a in rows), encoding="utf-8")
    result = run_cli("grade", str(SEED_DECK), str(answers), "--jobs", "1", env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1:] == [
        "   1     3  ann              0.25  partial      sharing x         sharing  ✗ aggregation, emulation, isolation",
        "   2     3  b\\ud800          0.25  partial      sharing \\ud800 x  sharing  ✗ aggregation, emulation, isolation",
        "   3     3  cy               0.25  partial      sharing and…      sharing  ✗ aggregation, emulation, isolation",
    ]


@pytest.mark.parametrize("to_file", [False, True])
def test_json_lines_hold_no_raw_c1_control_or_override(tmp_path, to_file):
    # JSON escapes C0 controls but writes C1 ones (U+009B is CSI: "\x9b2J" clears a terminal) and bidirectional
    # overrides raw: `grade --json` at a terminal ran them, and an override reversed the score and verdict after it.
    answer = "sharing \x9b2J \x9d0;title\x9c \u202e1.00 correct\u2066 x"
    (tmp_path / "a.jsonl").write_text(json.dumps({"student": "\u202eann", "card": 3, "answer": answer}) + "\n")
    out = tmp_path / "out.jsonl"
    flags = ("--output", str(out)) if to_file else ("--json",)
    result = run_cli("grade", str(SEED_DECK), str(tmp_path / "a.jsonl"), "--jobs", "1", *flags)
    assert result.returncode == 0, result.stderr
    written = out.read_text(encoding="utf-8") if to_file else result.stdout
    assert not any(0x80 <= ord(c) < 0xA0 or c in BIDI for c in written)
    record = json.loads(written)
    assert (record["answer"], record["student"]) == (answer, "\u202eann")  # the same text, escaped


def test_grade_csv_at_a_terminal_shows_control_characters_and_a_pipe_keeps_them(tmp_path):
    # CSV has no escapes: piped or redirected it keeps the text as written, but printed at a terminal an answer's
    # OSC 52 wrote the teacher's clipboard, a carriage return drew over the verdicts and an override reversed them.
    import os
    import sys

    import pexpect

    answer = "sharing \x1b]52;c;ZXZpbA==\x07 \rX 1.00 correct \u202eann"
    (tmp_path / "a.jsonl").write_text(json.dumps({"card": 3, "answer": answer, "note\x1b[2J": "two\nlines"}) + "\n")
    args = ["-m", "grader", "grade", str(SEED_DECK), str(tmp_path / "a.jsonl"), "--csv", "--jobs", "1"]
    shown = pexpect.run(sys.executable, args=args, env={**os.environ, "NO_COLOR": "1"}, encoding="utf-8", timeout=60)
    assert "\x1b" not in shown and "\u202e" not in shown and "\x07" not in shown
    assert "␛]52;c;ZXZpbA==␇ ␍X" in shown and "note␛[2J" in shown
    piped = run_cli("grade", str(SEED_DECK), str(tmp_path / "a.jsonl"), "--csv", "--jobs", "1")
    rows = list(csv.reader(io.StringIO(piped.stdout, newline="")))
    assert rows[1][rows[0].index("answer")] == answer and rows[1][rows[0].index("note\x1b[2J")] == "two\nlines"
