"""Untrusted text in and out: CSV cells a spreadsheet would run are made inert; text no file can hold is refused."""

from __future__ import annotations

import csv
import io

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
    assert (result.returncode, result.stderr) == (1, f"Error: {deck}: contains an escaped lone surrogate (like \\ud800), which is not text\n")
