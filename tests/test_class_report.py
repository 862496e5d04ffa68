"""Class results (issue 13): who said what in grade's table and report, the class report (Markdown and HTML,
the HTML read and screenshotted by a real headless Chromium) and the LMS gradebook."""

from __future__ import annotations

import csv
import io
import json
import random
import re
import shutil
import struct
import subprocess
import zlib
from collections import Counter
from pathlib import Path

import pytest

from grader.class_report import as_reported, common_wrong_statements, html_lines, markdown, student_field, summarise
from grader.errors import GraderError
from grader.scoring import GradingSettings

from .conftest import SEED_DECK, run_cli

DECK = str(SEED_DECK)
IMAGE_CARD = 17  # the seed deck's image-only card: self-graded

CLASS = [
    ("ann", 1, "portability, managed execution, increased security"),
    ("bo", 1, "portability"),
    ("cy", 1, "high performance and low cost"),
    ("ann", 15, "offline migration and live migration"),
    ("bo", 15, "offline and live"),
    ("cy", 15, "high performance and low cost"),
    ("ann", IMAGE_CARD, "the diagram with the three layers"),
    ("bo", IMAGE_CARD, "a picture"),
    ("dee", 1, "high performance and low cost"),
]


def class_csv(tmp_path: Path, rows=CLASS, name: str = "class.csv", column: str = "student") -> Path:
    path = tmp_path / name
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow([column, "card", "answer"])
        w.writerows(rows)
    return path


def records(tmp_path: Path, rows=CLASS) -> list[dict]:
    result = run_cli("grade", DECK, str(class_csv(tmp_path, rows)), "--json")
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


# --- the summary ---------------------------------------------------------------------------------


def test_a_summary_from_the_records_as_reported_is_the_summary_from_the_whole_records(tmp_path, seed_deck):
    """What a batch keeps of each record until it ends (``as_reported``: terms only where partly found) is all a
    summary reads: the same rows, questions, students and boundary answers."""
    whole = records(tmp_path, [*CLASS, ("eve", 1, "portability and managed stuff"), ("fay", 2, "DDoS attacks on the machine")])
    assert any(t["found"] for r in whole for t in r["terms"]) and any(not t["found"] and t["credit"] for r in whole for t in r["terms"])
    kept = [as_reported(r) for r in whole]
    assert sum(len(r["terms"]) for r in kept) < sum(len(r["terms"]) for r in whole)
    settings, args = GradingSettings(), {"passthrough": ["student"], "student": "student"}
    assert summarise(seed_deck, "class.csv", kept, settings, **args) == summarise(seed_deck, "class.csv", whole, settings, **args)


def test_self_graded_answers_are_counted_apart_and_left_out_of_every_mean(tmp_path, seed_deck):
    summary = summarise(seed_deck, "class.csv", records(tmp_path), GradingSettings(), passthrough=["student"], student="student")
    graded = [r for r in summary.rows if not r.self_graded]
    assert len(summary.rows) == 9 and len(graded) == 7
    assert summary.mean == pytest.approx(sum(r.score for r in graded) / 7)
    image = next(q for q in summary.questions if q.number == IMAGE_CARD)
    assert (image.answers, image.self_graded, image.mean) == (2, 2, None)
    ann = next(s for s in summary.students if s.student == "ann")
    assert ann.out_of == 2 and ann.self_graded == 1 and ann.total == pytest.approx(2.0)  # the image card is not in "out of"
    assert [s.student for s in summary.students] == ["ann", "bo", "cy", "dee"]


def test_per_question_summary_has_distribution_missed_terms_and_repeated_wrong_answers(tmp_path, seed_deck):
    summary = summarise(seed_deck, "class.csv", records(tmp_path), GradingSettings(), passthrough=["student"], student="student")
    first = summary.questions[0]
    assert first.number == 1 and first.answers == 4
    assert first.verdicts == Counter({"incorrect": 2, "correct": 1, "partial": 1})
    assert sum(first.histogram) == 4
    assert first.missed[0][1] == 3  # a term three of the four answers miss
    assert first.wrong[0] == ("high performance and low cost", 2)


@pytest.mark.parametrize(
    "answers, reference, expected",
    [
        (["it is faster", "It is faster!", "cheaper"], "portability", [("it is faster", 2)]),
        (
            ["it uses the page table walker", "the page table walker does it", "a walker of tables"],
            "the MMU translates addresses",
            [("page table walker", 2)],
        ),
        (["translates addresses quickly", "it translates addresses"], "the MMU translates addresses", []),  # the reference's own words
        (["one", "two"], "x", []),
        ([], "x", []),
    ],
)
def test_common_wrong_statements(answers, reference, expected):
    assert common_wrong_statements(answers, reference) == expected


@pytest.mark.parametrize(
    "fields, chosen, expected",
    [
        (["id", "student"], None, "student"),
        (["Email", "id"], None, "Email"),
        (["id", "answer_time"], None, None),
        (["id", "who"], "who", "who"),
        (["id"], "who", "Error: --student who: the answers have no such column (their own columns: id)"),
    ],
)
def test_student_column(fields, chosen, expected):
    if expected and expected.startswith("Error: "):
        with pytest.raises(GraderError) as err:
            student_field(fields, chosen)
        assert "Error: " + str(err.value) == expected
    else:
        assert student_field(fields, chosen) == expected


def test_boundary_answers_are_the_closest_to_a_threshold(seed_deck):
    rows = [
        {"card": "c", "number": 1, "question": "q", "answer": a, "score": s, "verdict": v, "matched": [], "missing": [], "student": n}
        for n, a, s, v in [("a", "x", 0.72, "correct"), ("b", "y", 0.5, "partial"), ("c", "z", 0.19, "incorrect"), ("d", "w", 0.2, "partial")]
    ]
    summary = summarise(seed_deck, "a.jsonl", rows, GradingSettings(), passthrough=["student"], student="student")
    assert [(r.student, why) for r, why in summary.boundary] == [
        ("d", "0.00 above partial"), ("c", "0.01 below partial"), ("a", "0.02 above correct")
    ]  # fmt: skip



def test_a_highlighted_cards_boundary_is_its_own_line_for_correct(seed_deck):
    """Card 3 (highlighted, no count asked) is correct from 0.6; card 1 asks for 3 things, and card 16's terms are
    derived: both are correct from 0.7."""
    rows = [
        {"card": seed_deck.cards[i - 1].id, "number": i, "question": "q", "answer": "x", "score": 0.62, "verdict": v, "matched": [], "missing": []}
        for i, v in [(3, "correct"), (1, "partial"), (16, "partial")]
    ]
    summary = summarise(seed_deck, "a.jsonl", rows, GradingSettings())
    assert [(r.number, why) for r, why in summary.boundary] == [(3, "0.02 above correct")]

# --- grade --report FILE.md / FILE.html ---------------------------------------------------------------


def test_markdown_report_shows_who_and_what_and_the_class_sections(tmp_path):
    report = tmp_path / "r.md"
    result = run_cli("grade", DECK, str(class_csv(tmp_path)), "--json", "--report", str(report))
    assert result.returncode == 0, result.stderr
    text = report.read_text(encoding="utf-8")
    assert "| 2 | 1 | student: bo | What are 3 main characteristics of virtualization environments? | portability |" in text
    assert "**9 answers**: 3 correct, 1 partial, 3 incorrect, 2 self-graded; mean score" in text
    assert "(2 self-graded, not in the mean)" in text
    for section in ("## Class summary", "### Per question", "### Per student (student)", "### Near a verdict boundary"):
        assert section in text, section
    assert "| ann | 3 | 2.00 | 2 | 100.0% | 2 correct, 1 self-graded |" in text
    assert "“high performance and low cost” (2)" in text


BLANKS = [
    ("ann", 1, "portability, managed execution, increased security"),
    ("ann", 15, "   "),  # only spaces: no answer
    ("bo", 1, ""),
    ("bo", 15, "offline migration and live migration"),
    ("cy", 1, "portability"),
]


@pytest.mark.parametrize("name", ["r.md", "r.html"])
def test_a_blank_answer_is_not_counted_as_answered_but_still_counts_as_a_0(tmp_path, name):
    """"answered" counted a blank or whitespace-only answer as an answer: ann, who wrote one answer of two, read as
    having answered both."""
    report, book = tmp_path / name, tmp_path / "g.csv"
    result = run_cli("grade", DECK, str(class_csv(tmp_path, BLANKS)), "--json", "--report", str(report), "--gradebook", str(book))
    assert result.returncode == 0, result.stderr
    text = report.read_text(encoding="utf-8")
    if name.endswith(".md"):
        per_student = text[text.index("### Per student") :].split("\n\n")[1].splitlines()[2:]
        students = [tuple(cell.strip() for cell in line.split("|")[1:5]) for line in per_student]
        per_question = text[text.index("### Per question") :].split("\n\n")[1].splitlines()[2:]
        questions = [tuple(cell.strip() for cell in line.split("|")[1:4:2]) for line in per_question]
        assert "3 answers (+2 blank) to 2 questions; verdicts of all 5 rows:" in text
    else:
        table = text[text.index('id="students"') : text.index('id="boundary"')]
        rows = re.findall(r"<tr><td>([^<]*)</td><td class=\"n\">(\d+)</td><td class=\"n\">([\d.]+)</td><td class=\"n\">(\d+)</td>", table)
        students = [tuple(r) for r in rows]
        table = text[text.index('id="questions"') : text.index('id="students"')]
        questions = re.findall(r'<tr><td class="n">(\d+)</td><td>[^<]*</td><td class="n">([^<]*)</td>', table)
        assert '<b>2</b><span>left blank, each a 0</span>' in text
    assert students == [("ann", "1", "1.00", "2"), ("bo", "1", "1.00", "2"), ("cy", "1", "0.33", "2")]
    assert questions == [("1", "2 (+1 blank)"), ("15", "1 (+1 blank)")]
    _, *rows = csv.reader(io.StringIO(book.read_text(encoding="utf-8")))
    assert [r[1:] for r in rows] == [["1.00", "0.00", "1.00", "2", "50.0"], ["0.00", "1.00", "1.00", "2", "50.0"], ["0.33", "", "0.33", "2", "16.5"]]


def test_every_output_counts_a_blank_answer_apart_and_agrees(tmp_path):
    """The rows' summary line of the Markdown report said "**5 answers**" of a class that wrote 3 and left 2 blank,
    and the class summary "5 answers ... over 5 graded answers", while each question read "2 (+1 blank)"."""
    answers = class_csv(tmp_path, BLANKS)
    md, html, out, book = (tmp_path / n for n in ("r.md", "r.html", "out.csv", "g.csv"))
    assert run_cli("grade", DECK, str(answers), "--report", str(md), "--output", str(out), "--gradebook", str(book)).returncode == 0
    assert run_cli("grade", DECK, str(answers), "--json", "--report", str(html)).returncode == 0
    results = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    blank = [r for r in results if not r["answer"].strip()]
    written, left = len(results) - len(blank), len(blank)
    assert (written, left) == (3, 2) and all(float(r["score"]) == 0 for r in blank)  # a row, scored 0
    mean = sum(float(r["score"]) for r in results) / len(results)  # blanks in it, as 0s

    text = md.read_text(encoding="utf-8")
    assert f"\n**{written} answers** (+{left} blank); verdicts of all 5 rows: 2 correct, 1 partial, 2 incorrect; mean score {mean:.2f}.\n" in text
    assert f"\n{written} answers (+{left} blank) to 2 questions; verdicts of all 5 rows: 2 correct, 1 partial, 2 incorrect.\n" in text
    assert f"\nMean score {mean:.0%} over {written} graded answers and {left} left blank, each a 0.\n" in text
    per_question = text[text.index("### Per question") :].split("\n\n")[1].splitlines()[2:]
    counts = [re.fullmatch(r"(\d+)(?: \(\+(\d+) blank\))?", line.split("|")[3].strip()).groups("0") for line in per_question]
    assert [sum(int(c[i]) for c in counts) for i in (0, 1)] == [written, left]
    per_student = text[text.index("### Per student") :].split("\n\n")[1].splitlines()[2:]
    assert sum(int(line.split("|")[2]) for line in per_student) == written  # each student answers each question once

    page = html.read_text(encoding="utf-8")
    assert f"<b>{written}</b><span>answers</span>" in page and f"<b>{left}</b><span>left blank, each a 0</span>" in page
    # The gradebook has no count of answers: a blank answer is a cell of 0.00, in out of, never an empty cell.
    _, *students = csv.reader(io.StringIO(book.read_text(encoding="utf-8")))
    cells = {(r[0], q): r[i] for r in students for i, q in ((1, "1"), (2, "15"))}
    assert [cells[r["student"], r["number"]] for r in blank] == ["0.00", "0.00"]


NO_ANSWERS = [
    ("ann", 1, "portability, managed execution, increased security"),
    ("ann", 15, "   "),  # only spaces: left blank
    ("bo", 1, "idk"),  # the grader's non-answers
    ("bo", 15, "offline migration and live migration"),
    ("cy", 1, "portability"),
    ("cy", 15, "no idea, sorry"),
]


def test_every_output_counts_a_non_answer_apart_as_its_record_says(tmp_path):
    """A non-answer ("idk") is ``answered: false`` in its record, but the reports counted it as an answer: the
    rows' line read "**4 answers** (+1 blank)", each question "2" where one said "no idea", and a student who wrote
    only "idk" had "answered" 1. Every output now counts it apart, as a blank answer is, and all agree with the
    records; the report made from an ``--output FILE.csv`` reads ``answered`` back from its own column."""
    answers = class_csv(tmp_path, NO_ANSWERS)
    md, md_json, html, out, out_json, book = (tmp_path / n for n in ("r.md", "j.md", "r.html", "out.csv", "out.jsonl", "g.csv"))
    result = run_cli("grade", DECK, str(answers), "--json", "--report", str(html))
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert run_cli("grade", DECK, str(answers), "--report", str(md), "--output", str(out), "--gradebook", str(book)).returncode == 0
    assert run_cli("grade", DECK, str(answers), "--report", str(md_json), "--output", str(out_json)).returncode == 0

    blank = [not r["answer"].strip() for r in records]
    non_answer = [not b and not r["answered"] for r, b in zip(records, blank)]
    answered = [not b and not n for b, n in zip(blank, non_answer)]
    written, left, nothing = sum(answered), sum(blank), sum(non_answer)
    assert (written, left, nothing) == (3, 1, 2)  # the class as meant: "idk" and "no idea, sorry" are non-answers
    assert all(r["score"] == 0 for r, a in zip(records, answered) if not a)  # scores as they were: rows scored 0
    mean = sum(r["score"] for r in records) / len(records)  # each in it, as a 0

    # The results CSV carries each record's answered, which is what a report made from it reads.
    results = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    assert [r["answered"] for r in results] == [str(r["answered"]) for r in records]
    text = md.read_text(encoding="utf-8")
    assert text == md_json.read_text(encoding="utf-8")  # from --output FILE.csv as from FILE.jsonl
    apart = f"(+{left} blank, +{nothing} non-answers)"
    # The verdicts are of every row, the blank and the non-answers among the incorrect: said so, as 3 + 3 is no 3 answers.
    assert f"\n**{written} answers** {apart}; verdicts of all 6 rows: 2 correct, 1 partial, 3 incorrect; mean score {mean:.2f}.\n" in text
    assert f"\n{written} answers {apart} to 2 questions; verdicts of all 6 rows: 2 correct, 1 partial, 3 incorrect.\n" in text
    assert f"\nMean score {mean:.0%} over {written} graded answers, {left} left blank and {nothing} non-answers, each a 0.\n" in text

    def expected_count(number: int) -> str:
        mine = [i for i, r in enumerate(records) if r["number"] == number]
        kinds = [f"+{n} {k}" for n, k in ((sum(blank[i] for i in mine), "blank"), (sum(non_answer[i] for i in mine), "non-answer")) if n]
        return f"{sum(answered[i] for i in mine)}" + (f" ({', '.join(kinds)})" if kinds else "")

    def expected_answered(student: str) -> str:
        return str(sum(a for r, a in zip(records, answered) if r["student"] == student))

    per_question = text[text.index("### Per question") :].split("\n\n")[1].splitlines()[2:]
    questions = [(line.split("|")[1].strip(), line.split("|")[3].strip()) for line in per_question]
    assert questions == [(n, expected_count(int(n))) for n in ("1", "15")]
    per_student = text[text.index("### Per student") :].split("\n\n")[1].splitlines()[2:]
    students = [(line.split("|")[1].strip(), line.split("|")[2].strip()) for line in per_student]
    assert students == [(s, expected_answered(s)) for s in ("ann", "bo", "cy")]

    page = html.read_text(encoding="utf-8")
    for value, card in ((written, "answers"), (left, "left blank, each a 0"), (nothing, "non-answers, each a 0")):
        assert f"<b>{value}</b><span>{card}</span>" in page
    table = page[page.index('id="questions"') : page.index('id="students"')]
    assert re.findall(r'<tr><td class="n">(\d+)</td><td>[^<]*</td><td class="n">([^<]*)</td>', table) == questions
    table = page[page.index('id="students"') : page.index('id="boundary"')]
    assert re.findall(r'<tr><td>([^<]*)</td><td class="n">(\d+)</td>', table) == students

    # The gradebook has no count of answers: each row that is no answer is a cell of 0.00, in out of.
    _, *rows = csv.reader(io.StringIO(book.read_text(encoding="utf-8")))
    cells = {(r[0], q): r[i] for r in rows for i, q in ((1, 1), (2, 15))}
    assert [cells[r["student"], r["number"]] for r, a in zip(records, answered) if not a] == ["0.00"] * (left + nothing)


def test_markdown_report_shows_a_partly_found_term_with_its_credit(tmp_path):
    report = tmp_path / "r.md"
    answers = class_csv(tmp_path, [("eve", 1, "security and portability")])
    assert run_cli("grade", DECK, str(answers), "--json", "--report", str(report)).returncode == 0
    row = next(line for line in report.read_text().splitlines() if line.startswith("| 1 | 1 |"))
    assert "| portability, ~increased secuirity (50%) | managed execution |" in row


GUESSES = "sharing, portability, interpreter, aggregation, equivalence, emulation, efficiency, isolation"


@pytest.mark.parametrize("name", ["r.md", "r.html"])
def test_a_report_says_what_a_list_of_guesses_named_besides(tmp_path, name):
    report = tmp_path / name
    answers = class_csv(tmp_path, [("fay", 3, GUESSES), ("gus", 3, "sharing and isolation")])
    assert run_cli("grade", DECK, str(answers), "--json", "--report", str(report)).returncode == 0
    text = report.read_text(encoding="utf-8")
    assert text.count("? other cards&#x27; terms: " if name.endswith(".html") else "? other cards' terms: ") == 1
    assert "portability, interpreter, equivalence, efficiency" in text


HOSTILE = [
    ("<b>ann</b>", 1, "<script>alert('x')</script> portability & managed execution"),
    ("bo\"><img src=x onerror=alert(1)>", 15, "offline and live </td></tr></table><h1>pwned</h1>"),
    ("cy", IMAGE_CARD, "a picture"),
]


def html_report(tmp_path: Path, rows=HOSTILE) -> Path:
    report = tmp_path / "report.html"
    result = run_cli("grade", DECK, str(class_csv(tmp_path, rows)), "--json", "--report", str(report))
    assert result.returncode == 0, result.stderr
    return report


def test_html_report_is_self_contained_and_escapes_every_piece_of_data(tmp_path):
    text = html_report(tmp_path).read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    tags = " ".join(re.findall(r"<[^>]*>", text)).lower()  # markup only: the escaped data is text
    for outside in ("<script", "<link", "<img", "<iframe", "src=", "href=", "http://", "https://", "@import", "url("):
        assert outside not in tags, outside
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text and "&lt;b&gt;ann&lt;/b&gt;" in text
    assert "&lt;h1&gt;pwned&lt;/h1&gt;" in text and "<h1>pwned" not in text
    assert "<h1>Class report: Virtualization</h1>" in text


def test_html_report_sets_each_cell_in_the_direction_of_its_own_text(tmp_path):
    """An Arabic or Hebrew answer in a left-to-right table read as a left-to-right paragraph: its full stop and
    the numbers beside it on the wrong side, its text against the wrong edge. Each cell now takes the direction of
    its first letter, as ``dir="auto"`` does."""
    rows = [("سارة", 3, "مشاركة الجهاز، والعزل."), ("ann", 3, "sharing")]
    text = html_report(tmp_path, rows).read_text(encoding="utf-8")
    assert "مشاركة الجهاز، والعزل." in text
    cell_rule = re.search(r"\bth,td\{([^}]*)\}", text).group(1)
    assert "unicode-bidi:plaintext" in cell_rule and "text-align:start" in cell_rule


MARKDOWN_HOSTILE = [
    {"student": "<b>ann</b>", "card": 3, "answer": "<script>alert(1)</script> **sharing** [x](javascript:alert(1)) | a | b |\n# heading"},
    {"student": "bo|x", "card": 3, "answer": "\u001b[2J\u001b[31mRED\u001b[0m sharing\u0000aggregation\u0007 ![i](http://evil/p.png)"},
    {"student": "cy", "card": 3, "answer": "<script>alert(1)</script> **sharing** [x](javascript:alert(1)) | a | b |\n# heading"},
    # A right-to-left override in a file read as text reverses the rest of its line: the verdict column included.
    {"student": "dee", "card": 3, "answer": "sharing \u202etcerroc\u2066 isolated\u2069 \u200fmark"},
]


def table_cells(line: str) -> int:
    """The cells of a Markdown table line: its pipes that no backslash escapes, less one."""
    return len(re.findall(r"(?<!\\)\|", line)) - 1


def assert_literal_markdown(text: str) -> None:
    """Markdown that shows the answers as text: no raw HTML, link, image, heading or control character of theirs."""
    assert "<script" not in text and "<b>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert not re.search(r"(?<!\\)\]\(javascript:", text) and "\\[x\\](javascript:alert(1))" in text
    assert "![i](" not in text and "\\!\\[i\\](http://evil/p.png)" in text
    assert "\\*\\*sharing\\*\\*" in text and "\\# heading" in text
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text)
    assert "␛\\[31mRED␛\\[0m sharing␀aggregation␇" in text  # control characters shown, not obeyed
    assert not re.search("[\u202a-\u202e\u2066-\u2069]", text) and "sharing \ufffdtcerroc\ufffd isolated\ufffd \u200fmark" in text
    assert not any(line.startswith("# heading") for line in text.splitlines())
    widths: list[int] = []
    for line in text.splitlines():  # every row of a table has as many cells as its header
        if line.startswith("|"):
            widths.append(table_cells(line))
            assert widths[-1] == widths[0], line
        else:
            widths = []


def test_markdown_report_shows_answers_and_names_as_text(tmp_path):
    answers = tmp_path / "evil.jsonl"
    answers.write_text("".join(json.dumps(row) + "\n" for row in MARKDOWN_HOSTILE), encoding="utf-8")
    report = tmp_path / "r.md"
    result = run_cli("grade", DECK, str(answers), "--jobs", "1", "--json", "--report", str(report))
    assert result.returncode == 0, result.stderr
    text = report.read_text(encoding="utf-8")
    assert_literal_markdown(text)
    assert "| &lt;b&gt;ann&lt;/b&gt; |" in text and "| bo\\|x |" in text  # per student
    assert "“&lt;script&gt;alert(1)&lt;/script&gt; \\*\\*sharing\\*\\*" in text  # a wrong statement repeated


def test_a_whole_markdown_report_shows_answers_as_text(tmp_path, seed_deck):
    from grader.class_report import markdown_document

    rows = [
        {**row, "number": 3, "card": seed_deck.cards[2].id, "question": "q", "score": 0.5, "verdict": "partial",
         "matched": ["sharing"], "missing": ["<i>isolation</i>"]}
        for row in MARKDOWN_HOSTILE
    ]  # fmt: skip
    text = markdown_document(summarise(seed_deck, "a.jsonl", rows, GradingSettings(), passthrough=["student"], student="student"))
    assert_literal_markdown(text)
    assert "| sharing | &lt;i&gt;isolation&lt;/i&gt; |" in text


def test_an_interrupted_or_bad_run_writes_no_html_report(tmp_path):
    report = tmp_path / "r.html"
    bad = tmp_path / "bad.csv"
    bad.write_text("student,card,answer\nann,1,x\nbo,99,y\n")
    result = run_cli("grade", DECK, str(bad), "--report", str(report))
    assert result.returncode == 1 and result.stderr == f"Error: {bad}:3: card '99' is not in {DECK} (use a card id from 'grader cards' or a number from 1 to 18)\n"
    assert not report.exists()


CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
)  # fmt: skip


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """Debian's Chromium, headless, offline and with a new profile (skips the test when it is not installed)."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium; .ci/run installs it)")
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    return subprocess.run(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=120, check=True
    )


def png_size_and_colours(path: Path) -> tuple[int, int, int]:
    """Width, height and the number of distinct byte values in the pixel data of a PNG (a blank page has few)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    idat, at = b"", 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind = data[at + 4 : at + 8]
        if kind == b"IDAT":
            idat += data[at + 8 : at + 8 + length]
        at += 12 + length
    return width, height, len(set(zlib.decompress(idat)))


@pytest.mark.slow
def test_html_report_in_a_real_headless_browser(tmp_path):
    report = html_report(tmp_path, [*HOSTILE, *CLASS])
    dom = chromium(tmp_path, "--dump-dom", report.as_uri()).stdout
    # What the browser built from the page: every section, the data as text, nothing of it run as markup.
    for text in ("Class report: Virtualization", "Per question", "Per student", "Near a verdict boundary", "Every answer"):
        assert text in dom, text
    assert "&lt;script&gt;alert('x')&lt;/script&gt;" in dom and "&lt;h1&gt;pwned&lt;/h1&gt;" in dom
    assert dom.count("<script") == 0 and dom.count("<img") == 0 and dom.count("<h1>") == 1
    assert "What are 3 main characteristics of virtualization environments?" in dom
    assert "self-graded" in dom and "high performance and low cost" in dom
    shot = tmp_path / "report.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,1600", report.as_uri())
    width, height, colours = png_size_and_colours(shot)
    assert (width, height) == (1280, 1600)
    assert colours > 100  # text, bars and tables drawn, not an empty page


# --- the gradebook --------------------------------------------------------------------------------------


def gradebook(tmp_path: Path, rows=CLASS, *flags: str, column: str = "student") -> list[list[str]]:
    path = tmp_path / "gradebook.csv"
    result = run_cli("grade", DECK, str(class_csv(tmp_path, rows, column=column)), "--json", "--gradebook", str(path), *flags)
    assert result.returncode == 0, result.stderr
    raw = path.read_bytes()
    assert b"\r\n" in raw  # RFC 4180 line ends, as LMSs export and import them
    return list(csv.reader(io.StringIO(raw.decode("utf-8"))))


def test_gradebook_has_a_row_per_student_a_column_per_question_and_totals(tmp_path):
    table = gradebook(tmp_path)
    header, *rows = table
    assert header == [
        "student", "Q1 What are 3 main characteristics of…", "Q15 What is VM migration? What are 2…",
        "Q17 " + header[3][4:], "Total", "Out of", "Percent",
    ]  # fmt: skip
    by_student = {r[0]: r[1:] for r in rows}
    assert list(by_student) == ["ann", "bo", "cy", "dee"]
    assert by_student["ann"] == ["1.00", "1.00", "", "2.00", "2", "100.0"]  # the image card: blank, and not in "Out of"
    assert by_student["dee"] == ["0.00", "", "", "0.00", "2", "0.0"]  # no answer to Q15: blank, counted as 0


def test_a_self_graded_answer_still_undecided_is_not_in_that_students_out_of(tmp_path):
    """Once the teacher marked ann's answer to the image card, bo's answer to it, blank and still waiting, counted in
    bo's "Out of" (and so his Percent) as a 0, though the same answer before any decision was left out of it."""
    path = tmp_path / "gradebook.csv"
    # Q1 and Q15 left to the grader; the image card's two answers are a group each, ann's first: marked correct.
    result = run_cli("review", DECK, str(class_csv(tmp_path)), "--all", "--gradebook", str(path), input="n\nn\nc\nq\n")
    assert result.returncode == 0, result.stderr
    header, *rows = csv.reader(io.StringIO(path.read_text(encoding="utf-8")))
    by_student = {r[0]: dict(zip(header, r)) for r in rows}
    image = header[3]
    assert image.startswith(f"Q{IMAGE_CARD} ")
    assert (by_student["ann"][image], by_student["ann"]["Out of"]) == ("1.00", "3")
    bo = by_student["bo"]
    assert (bo[image], bo["Out of"]) == ("", "2")
    assert bo["Percent"] == f"{100 * float(bo['Total']) / 2:.1f}"
    assert by_student["cy"]["Out of"] == "3"  # no answer to the image card: a 0, as any question not answered


def test_gradebook_takes_a_students_last_answer_and_defuses_formulas(tmp_path):
    rows = [("=HYPERLINK(\"http://x\")", 15, "offline"), ("=HYPERLINK(\"http://x\")", 15, "offline and live migration"), ("@eve", 1, "portability")]
    header, first, second = gradebook(tmp_path, rows, column="email")
    assert header[0] == "email"
    assert first[0] == "'=HYPERLINK(\"http://x\")" and first[2] == "1.00"
    assert second[0] == "'@eve"


def test_a_student_written_with_spaces_around_the_name_is_one_student(tmp_path):
    """A spreadsheet's "ann " was a second gradebook row, and an LMS that trims names imported it over ann's own."""
    rows = [("ann", 1, "portability, managed execution, increased security"), ("ann ", 15, "offline migration and live migration"), (" bo", 1, "portability")]
    header, *students = gradebook(tmp_path, rows)
    assert [s[0] for s in students] == ["ann", "bo"]
    assert students[0][1:3] == ["1.00", "1.00"]


@pytest.mark.parametrize("command", ["grade", "review"])
def test_answers_that_name_no_student_stay_out_of_the_gradebook_with_a_note(tmp_path, command):
    """A blank student cell was a gradebook row without a name: an LMS import refuses it, or gives it to nobody."""
    answers = class_csv(tmp_path, [("ann", 1, "portability"), ("", 1, "managed execution"), (" ", 15, "live migration")])
    book = tmp_path / "gradebook.csv"
    flags = ("--json",) if command == "grade" else ("--export-only",)
    result = run_cli(command, DECK, str(answers), *flags, "--gradebook", str(book))
    assert result.returncode == 0, result.stderr
    assert [row[0] for row in csv.reader(io.StringIO(book.read_text(encoding="utf-8")))] == ["student", "ann"]
    assert "2 answers name no student (student is blank): left out of the gradebook, kept in the results and the report\n" in result.stderr


@pytest.mark.parametrize(
    "columns, flags, code, error",
    [
        ("id,card,answer", (), 1, "Error: a gradebook needs a column naming each student: the answers have none called student, student_id, name, email, username (their own columns: id; name one with --student)\n"),
        ("student,card,answer", ("--student", "who"), 1, "Error: --student who: the answers have no such column (their own columns: student)\n"),
        ("student,card,answer", ("--gradebook", "{tmp}/g.txt"), 2, "--gradebook writes CSV"),
        ("student,card,answer", ("--gradebook", "{answers}"), 1, "Error: {answers}: will not write over the answers file; choose another file\n"),
    ],
)
def test_gradebook_errors(tmp_path, columns, flags, code, error):
    answers = tmp_path / "a.csv"
    answers.write_text(f"{columns}\nx,1,portability\n")
    flags = tuple(f.format(tmp=tmp_path, answers=answers) for f in flags)
    if "--gradebook" not in flags:
        flags = ("--gradebook", str(tmp_path / "g.csv"), *flags)
    result = run_cli("grade", DECK, str(answers), "--json", *flags)
    assert result.returncode == code
    assert error.format(answers=answers) in result.stderr if code == 2 else result.stderr == error.format(answers=answers)
    assert result.stdout == "" and not (tmp_path / "g.csv").exists()


@pytest.mark.parametrize(
    "flags, code, error",
    [
        (("--gradebook", "{tmp}/missing/g.csv"), 1, "Error: {tmp}/missing/g.csv: cannot write gradebook: No such file or directory\n"),
        (("--report", "{tmp}/missing/r.html"), 1, "Error: {tmp}/missing/r.html: cannot write report: No such file or directory\n"),
        (("--report", "{tmp}/folder.md"), 1, "Error: {tmp}/folder.md: cannot write report: Is a directory\n"),
        (("--output", "{tmp}/missing/o.jsonl"), 1, "Error: {tmp}/missing/o.jsonl: cannot write results: No such file or directory\n"),
        (("--report", "{tmp}/r.txt"), 2, "--report writes Markdown or HTML: give a file name ending in .md or .html"),
        (("--report", "{tmp}/folder"), 2, "--report writes Markdown or HTML: give a file name ending in .md or .html"),
    ],
)
def test_an_output_that_cannot_be_written_is_refused_before_anything_is_graded(tmp_path, flags, code, error):
    (tmp_path / "folder.md").mkdir()
    (tmp_path / "folder").mkdir()
    answers = class_csv(tmp_path)
    result = run_cli("grade", DECK, str(answers), "--jobs", "1", *(f.format(tmp=tmp_path) for f in flags))
    assert result.returncode == code
    assert error.format(tmp=tmp_path) in result.stderr if code == 2 else result.stderr == error.format(tmp=tmp_path)
    assert result.stdout == ""  # not a table of every answer first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["class.csv", "folder", "folder.md"]


@pytest.mark.parametrize("name", ["r.md", "R.HTML", "r.htm", "r.markdown"])
def test_a_report_is_markdown_or_html_by_its_extension(tmp_path, name):
    report = tmp_path / name
    assert run_cli("grade", DECK, str(class_csv(tmp_path)), "--json", "--report", str(report)).returncode == 0
    text = report.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>" if name.lower().startswith("r.htm") else "# Grading report: Virtualization")


def test_resumed_run_writes_the_same_report_and_gradebook_as_an_uninterrupted_one(tmp_path):
    answers = class_csv(tmp_path)
    outputs = {}
    for name in ("whole", "resumed"):
        out, report, book = tmp_path / f"{name}.jsonl", tmp_path / f"{name}.html", tmp_path / f"{name}.csv"
        if name == "resumed":  # an earlier run stopped after three rows
            out.write_bytes(b"".join((tmp_path / "whole.jsonl").read_bytes().splitlines(keepends=True)[:3]))
        flags = ["--output", str(out), "--report", str(report), "--gradebook", str(book)] + (["--resume"] if name == "resumed" else [])
        result = run_cli("grade", DECK, str(answers), *flags)
        assert result.returncode == 0, result.stderr
        outputs[name] = (report.read_text(), book.read_text())
    assert outputs["resumed"] == outputs["whole"]


def test_a_report_read_back_from_a_csv_output_shows_what_the_students_wrote(tmp_path):
    """With ``--output FILE.csv`` the report and gradebook are made from that file, whose cells a spreadsheet would
    run carry an apostrophe: they read back as written, so both are what ``--output FILE.jsonl`` makes."""
    rows = [('=HYPERLINK("http://x","y")', 1, "- portability\n- managed execution"), ("@bo", 15, "+ offline and live migration"), ("cy", 1, "=1+1")]
    answers = class_csv(tmp_path, rows)
    outputs = {}
    for ext in ("jsonl", "csv"):
        report, book = tmp_path / f"{ext}.html", tmp_path / f"book-{ext}.csv"
        result = run_cli("grade", DECK, str(answers), "--output", str(tmp_path / f"out.{ext}"), "--report", str(report), "--gradebook", str(book))
        assert result.returncode == 0, result.stderr
        outputs[ext] = (report.read_text(encoding="utf-8"), book.read_text(encoding="utf-8"))
    assert outputs["csv"] == outputs["jsonl"]
    html_report, gradebook = outputs["csv"]
    assert "&#x27;=HYPERLINK" not in html_report and "- portability" in html_report and ">@bo<" in html_report
    assert gradebook.splitlines()[1].startswith("\"'=HYPERLINK(")  # still inert in the gradebook


def test_the_html_report_is_written_a_line_at_a_time_not_held_whole(tmp_path, seed_deck):
    """At 100,000 rows the page held whole (its lines, then their join, then its bytes) doubled a run's peak memory."""
    import tracemalloc

    from grader.class_report import html_lines, write_html

    rows = [
        {"student": f"s{i % 50}", "number": 3, "card": seed_deck.cards[2].id, "question": "q", "answer": f"sharing and isolation {i} " * 4,
         "score": 0.4, "verdict": "partial", "matched": ["sharing"], "missing": ["aggregation", "emulation"]}
        for i in range(5_000)
    ]  # fmt: skip
    summary = summarise(seed_deck, "a.jsonl", rows, GradingSettings(), passthrough=["student"], student="student")
    page = "".join(html_lines(summary))
    tracemalloc.start()
    try:
        write_html(tmp_path / "r.html", summary)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (tmp_path / "r.html").read_text(encoding="utf-8") == page
    assert peak < len(page) / 4, (peak, len(page))


@pytest.mark.parametrize("name", ["class.csv", "a`b``.csv", "`x`.csv", "tick`.csv", "``.csv", "<b>&.csv"])
def test_the_answers_file_is_named_in_a_code_span_whatever_backticks_it_holds(tmp_path, name):
    """A backtick in the file's name ended the header's code span early (and broke what followed)."""
    import html

    from markdown_it import MarkdownIt

    answers = class_csv(tmp_path, name=name)
    report = tmp_path / "r.md"
    assert run_cli("grade", DECK, str(answers), "--output", str(tmp_path / "o.jsonl"), "--report", str(report)).returncode == 0
    header = report.read_text(encoding="utf-8").splitlines()[2]
    assert MarkdownIt().renderInline(header) == f"Answers: <code>{html.escape(str(answers), quote=False)}</code>"


def test_a_gradebook_rows_total_is_the_sum_of_its_cells(tmp_path):
    """Total summed the unrounded scores: three answers of 1/3 showed 0.33 each and a Total of 1.00 (Percent 33.3),
    a row that does not add up where a teacher checks it in a spreadsheet."""
    deck = tmp_path / "deck.yaml"
    cards = [{"question": f"Name the three colours of the {x} flag?", "answer": "==red==, ==green== and ==blue=="} for x in ("first", "second", "third")]
    deck.write_text(json.dumps({"cards": cards}), encoding="utf-8")
    answers = tmp_path / "a.jsonl"
    answers.write_text("".join(json.dumps({"student": "ann", "card": n, "answer": "red"}) + "\n" for n in (1, 2, 3)))
    book, report = tmp_path / "g.csv", tmp_path / "r.md"
    assert run_cli("grade", str(deck), str(answers), "--json", "--gradebook", str(book), "--report", str(report)).returncode == 0
    _, ann = list(csv.reader(io.StringIO(book.read_text(encoding="utf-8"))))
    assert ann[1:] == ["0.33", "0.33", "0.33", "0.99", "3", "33.0"]
    assert "| ann | 3 | 0.99 | 3 | 33.0% |" in report.read_text(encoding="utf-8")  # the report's total as the gradebook's


RE_ANSWERED = [
    ("ann", 1, "portability, managed execution, increased security"),
    ("bo", 1, "portability"),
    ("cy", 1, "high performance and low cost"),
    ("ann", 15, "offline migration"),
    ("bo", 15, "offline and live"),
    ("ann", 15, "offline migration and live migration"),  # ann again: this answer counts
    ("cy", 15, ""),
    ("ann", IMAGE_CARD, "the diagram with the three layers"),
    ("bo", IMAGE_CARD, "a picture"),
    ("dee", 1, "high performance and low cost"),
    ("", 1, "managed execution"),
    ("bo", 1, "portability and managed execution, secure"),
    ("eve", 9, "dispatcher: entry point, allocator"),
    ("eve", 9, "dispatcher"),
    (" ", 15, "live migration"),
    ("fay", 3, "sharing, aggregation, emulation"),
    ("fay", 3, "sharing, aggregation, emulation and isolation"),
    ("fay", 1, "portability, managed execution"),
]


def test_the_report_and_the_gradebook_count_the_same_answers_of_each_student(tmp_path):
    """Both once worked out each student's latest answers and total on their own; now one place decides, and both
    outputs are as they were: re-answers, self-graded and blank answers, answers that name nobody."""
    report = tmp_path / "report.md"
    book = gradebook(tmp_path, RE_ANSWERED, "--report", str(report))
    assert book[1:] == [
        ["ann", "1.00", "", "", "1.00", "", "2.00", "4", "50.0"],
        ["bo", "0.83", "", "", "1.00", "", "1.83", "4", "45.8"],
        ["cy", "0.00", "", "", "0.00", "", "0.00", "4", "0.0"],
        ["dee", "0.00", "", "", "", "", "0.00", "4", "0.0"],
        ["eve", "", "", "0.25", "", "", "0.25", "4", "6.3"],  # 6.25: a half, rounded up as the report rounds it
        ["fay", "0.67", "1.00", "", "", "", "1.67", "4", "41.8"],
    ]
    text = report.read_text(encoding="utf-8")
    per_student = text[text.index("### Per student") :].split("\n\n")[1].splitlines()[2:]
    assert per_student == [
        "| ann | 3 | 2.00 | 4 | 50.0% | 2 correct, 1 self-graded |",
        "| bo | 3 | 1.83 | 4 | 45.8% | 2 correct, 1 self-graded |",
        "| cy | 1 | 0.00 | 4 | 0.0% | 2 incorrect |",  # cy's answer to Q15 is blank: no answer, still a 0
        "| dee | 1 | 0.00 | 4 | 0.0% | 1 incorrect |",
        "| (blank) | 2 | 0.83 | 4 | 20.8% | 2 partial |",
        "| eve | 1 | 0.25 | 4 | 6.3% | 1 partial |",
        "| fay | 2 | 1.67 | 4 | 41.8% | 1 correct, 1 partial |",
    ]


def test_a_students_percent_reads_the_same_in_the_report_and_the_gradebook(seed_deck):
    """The report showed a whole percent, rounded as Python formats a float (a half to even), and the gradebook one
    decimal of the exact total: 0.25 of 4 read 6% in one and 6.2 in the other, where a teacher rounding by hand
    writes 6.3."""
    from decimal import Decimal

    from grader.gradebook import gradebook_table

    rng = random.Random(13)
    scores = [0.0, 0.05, 0.125, 0.145, 0.25, 0.3333, 0.375, 0.5, 0.625, 0.6667, 0.875, 1.0]
    cards = [c for c in seed_deck.cards if c.gradable][:8]
    rows = [
        {"student": f"s{s}", "card": c.id, "number": c.number, "question": c.question, "answer": "x", "score": rng.choice(scores), "verdict": "partial"}
        for s in range(80)
        for c in cards
        if rng.random() < 0.85
    ]
    summary = summarise(seed_deck, "a.jsonl", rows, GradingSettings(), passthrough=["student"], student="student")
    book = {row[0]: row[-1] for row in gradebook_table(summary)[1:]}
    text = markdown(summary)
    in_markdown = {cells[1].strip(): cells[5].strip() for cells in (line.split("|") for line in text.splitlines()) if re.fullmatch(r" s\d+ ", cells[1] if len(cells) == 8 else "")}
    page = "".join(html_lines(summary))
    in_html = dict(re.findall(r'<tr><td>(s\d+)</td>(?:<td class="n">[^<]*</td>){3}<td class="n">([^<]*)</td>', page))
    assert len(book) == 80 and {k: v + "%" for k, v in book.items()} == in_markdown == in_html
    # Among them, percents a half-to-even rounding (or a float's) would have shown otherwise: the rule is exercised.
    halves = [s for s in summary.students if (100 * s.total / s.out_of) % Decimal("0.1") == Decimal("0.05")]
    assert halves
    for s in halves:
        exact = 100 * s.total / s.out_of
        up = (exact + Decimal("0.05")).quantize(Decimal("0.1"))  # a half rounded up, as by hand
        assert s.percent == up and book[s.student] == str(up)


def test_the_rows_line_and_the_class_summary_list_the_verdicts_in_one_order(tmp_path):
    """The rows' closing line listed the verdicts alphabetically ("2 correct, 3 incorrect, 7 partial") and the class
    summary under it in their own order ("2 correct, 7 partial, 3 incorrect"): the same counts read as different."""
    report = tmp_path / "r.md"
    assert run_cli("grade", DECK, str(class_csv(tmp_path)), "--report", str(report)).returncode == 0
    text = report.read_text(encoding="utf-8")
    rows_tally = re.search(r"\n\*\*\d+ answers\*\*[^:]*: ([^;]*);", text).group(1)
    class_tally = re.search(r"\n\d+ answers[^:]* to \d+ questions: (.*)\.\n", text).group(1)
    assert rows_tally == class_tally and rows_tally.index("partial") < rows_tally.index("incorrect")
