"""Batch grading at any size (issue 10): strict streaming readers, standard input, --jobs, --output and --resume.

The CLI runs in this process (``run_cli``); only Ctrl-C and kill tests start real processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import pytest

from grader import KeywordGrader, grade_answers, load_deck
from grader.batch import grade_file
from grader.writers import grade_record

from .conftest import ROOT, SEED_DECK, run_cli

DECK = str(SEED_DECK)
SEED = ROOT / "eval" / "seed_dev.jsonl"
SEED_ROWS = [json.loads(line) for line in SEED.read_text(encoding="utf-8").splitlines()]


def write(tmp_path: Path, name: str, text: str | bytes) -> str:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return str(path)


def yaml_bomb() -> str:
    """The classic "billion laughs": nine levels, each nine times the one before (397 bytes)."""
    lines = ['- card: 1\n  answer: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"- card: 1\n  answer: &{b} [" + ",".join([f"*{a}"] * 9) + "]" for a, b in zip("abcdefgh", "bcdefghi")]
    return "\n".join(lines)[:397] + "\n"


# --- Strict reading: every fault is one line naming the file and line --------------------------

CSV_OK = "card,answer\n3,sharing\n"


@pytest.mark.parametrize(
    "name, content, expected",
    [
        # CSV: strict parsing, cells counted against the header
        ("a.csv", 'card,answer\n3,"sharing, aggregation\n3,emulation\n', 'a.csv:2: a quoted cell opened on line 2 never closes (a missing ")'),
        ("a.csv", "card,answer,answer\n3,sharing,emulation\n", "a.csv:1: the header names the column 'answer' twice"),
        ("a.csv", "card,answer\n3,sharing\n4\n", "a.csv:3: row has 1 cells; the header has 2"),
        ("a.csv", "card,answer\n3,sharing,emulation\n", "a.csv:2: row has 3 cells; the header has 2"),
        ("a.csv", 'card,answer\n3,"' + "sharing " * 20_000 + '"\n', "a.csv:2: a cell is longer than 131,072 characters, the CSV limit"),
        ("a.csv", 'card,answer\n3,"sharing"s\n', "a.csv:2: invalid CSV: ',' expected after '\"'"),
        ("a.csv", "card,answer\n3,sharing\n,nothing\n", "a.csv:3: row names no card"),
        ("a.csv", "", "a.csv:1: answers file has no rows"),
        ("a.csv", "student;answer\nann;sharing\n", "a.csv:1: the header has no 'answer' column (it reads 'student;answer'); a header separated by semicolons must name 'answer' and 'card' or 'question'"),
        ("a.csv", "card\treply\n3\tsharing\n", "a.csv:1: the header has no 'answer' column (it reads 'card\\treply'); a header separated by tabs must name 'answer' and 'card' or 'question'"),
        ("a.csv", "card|answer\n3|sharing\n", "a.csv:1: the header has no 'answer' column (it reads 'card|answer'); separate the columns with commas, not bars"),
        ("a.csv", "card;answer\n3;sharing\n4\n", "a.csv:3: row has 1 cells; the header has 2"),
        ("a.csv", "card,reply\n3,sharing\n", "a.csv:1: the header has no 'answer' column (it reads 'card,reply')"),
        ("a.csv", "\ncard,answer\n3,sharing\n", "a.csv:1: the header has no 'answer' column (line 1 is blank)"),
        ("a.csv", "card,Card,answer\n3,3,sharing\n", "a.csv:1: the header names the column 'card' twice"),
        ("a.csv", "card,answer,,\n3,sharing,,\n4,emulation,,a note\n", "a.csv:3: a cell holds 'a note' under a column the header does not name"),
        # JSON Lines and JSON arrays
        ("a.jsonl", '{"card": 1, "answer": "x", "e": ' + "[" * 100_000 + "]" * 100_000 + "}\n", "a.jsonl:1: row is nested more than 64 levels deep"),
        ("a.jsonl", "[" * 100_000 + "]" * 100_000, "a.jsonl:1: row is nested more than 64 levels deep"),
        ("a.json", '[{"card": 1, "answer": "x"},\n {"card": 99, "answer": "y"}]', "a.json:2: card '99' is not in"),
        ("a.json", '[{"card": 1, "answer": "x"}\n {"card": 2, "answer": "y"}]', "a.json:2: invalid JSON: Expecting ',' delimiter"),
        ("a.json", '[{"card": 1, "answer": "x"},]', "a.json:1: invalid JSON: Expecting value"),
        ("a.json", '[{"card": 1, "answer": "x"}] [', "a.json:1: invalid JSON: Extra data"),
        ("a.json", "[]", "a.json:1: answers file has no rows"),
        ("a.jsonl", '{"card": 1, "answer": "x"}\n\n{"card": 2, "answer": ', "a.jsonl:3: invalid JSON: Expecting value"),
        # An answer or question that is not text would be graded as its Python repr
        ("a.jsonl", '{"card": 1, "answer": "x"}\n{"card": 1, "answer": ["a", "b"]}\n', "a.jsonl:2: answer must be text, not a list"),
        ("a.jsonl", '{"card": 1, "answer": {"a": 1}}\n', "a.jsonl:1: answer must be text, not an object"),
        ("a.jsonl", '{"card": 1, "answer": true}\n', "a.jsonl:1: answer must be text, not true or false"),
        ("a.jsonl", '{"question": ["What is a VM?"], "answer": "x"}\n', "a.jsonl:1: question must be text, not a list"),
        ("a.yaml", "- card: 1\n  answer: x\n- card: 1\n  answer: [a, b]\n", "a.yaml:3: answer must be text, not a list"),
        # YAML: no anchors or aliases, bounded nesting, one document
        ("a.yaml", yaml_bomb(), "a.yaml:2: YAML anchors and aliases (& and *) are not allowed in answers files"),
        ("a.yaml", "- &r {card: 1, answer: x}\n- *r\n", "a.yaml:1: YAML anchors and aliases (& and *) are not allowed in answers files"),
        ("a.yaml", "- card: 1\n  answer: x\n  e: " + "[" * 100_000 + "]" * 100_000 + "\n", "a.yaml:3: row is nested more than 64 levels deep"),
        ("a.yaml", "- card: 1\n  answer: x\n---\n- card: 2\n  answer: y\n", "a.yaml:3: a YAML answers file holds one document (found a second '---')"),
        ("a.yaml", "card: 1\nanswer: x\n", "a.yaml:1: YAML answers must be a list of rows (or a mapping with an 'answers' list)"),
        ("a.yaml", "- card: 1\n  answer: [x\n", "a.yaml:3: invalid YAML: expected ',' or ']', but got '<stream end>'"),
        ("a.yaml", '- card: 1\n  answer: "a\x01"\n', "a.yaml:2: invalid YAML: character #x0001 is not allowed"),
    ],
)
def test_a_bad_answers_file_is_one_line_naming_file_and_line(tmp_path, name, content, expected):
    path = write(tmp_path, name, content)
    tracemalloc.start()
    try:
        result = run_cli("grade", DECK, path, "--json")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith(f"Error: {tmp_path / expected.split(':')[0]}:{expected.split(':', 1)[1]}"), result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert peak < 100 * 1024 * 1024  # the alias bomb is refused before anything expands


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("a.csv", " Card ,ANSWER,Student\n3,sharing,ann\n", [(2, "3", "sharing", {"Student": "ann"})]),  # as a spreadsheet writes it
        # Excel where the decimal mark is a comma separates cells with semicolons; its "Text (Tab delimited)" with tabs
        ("a.csv", '\ufeffStudent;Card;Answer\r\nann;3;"sharing; aggregation, emulation"\r\nbo;1;a,b\r\n',
         [(2, "3", "sharing; aggregation, emulation", {"Student": "ann"}), (3, "1", "a,b", {"Student": "bo"})]),
        ("a.csv", "question\tanswer\nWhat is VM migration?\tlive, offline\n", [(2, None, "live, offline", {})]),
        ("a.tsv", "student\tcard\tanswer\nann\t15\tlive; offline, too\n", [(2, "15", "live; offline, too", {"student": "ann"})]),  # a spreadsheet's tab-separated export
        ("a.csv", "card,answer,note;2\n3,a;b,c\n", [(2, "3", "a;b", {"note;2": "c"})]),  # the commas give an answer column
        # Excel pads rows to the sheet's used range: unnamed columns and rows of empty cells hold nothing to grade
        ("a.csv", "\ufeffStudent,Card,Answer,,\r\nann,3,sharing,,\r\n,,,,\r\n , ,,,\r\n", [(2, "3", "sharing", {"Student": "ann"})]),
        ("a.csv", 'card,answer,student\n3,"sharing,\naggregation",ann\n\n15,live,bo\n', [(3, "3", "sharing,\naggregation", {"student": "ann"}), (5, "15", "live", {"student": "bo"})]),
        ("a.json", '  [\n{"card": 3, "answer": "a", "n": 12345678901234567890},\n\n {"card": 1, "answer": "b"}]\n', [(2, "3", "a", {"n": 12345678901234567890}), (4, "1", "b", {})]),
        ("a.yaml", "answers:\n  - card: 3\n    answer: a\n    on: 2024-05-01\n    7: seven\n    'n': 1\nnote: ignored\n", [(2, "3", "a", {"on": "2024-05-01", "7": "seven", "n": "1"})]),
        # YAML scalars are the text written: no octal ids, digit separators, booleans or shortened decimals
        ("a.yaml", "- {student: 012345, card: 1, answer: No}\n- {student: 1_000, card: 3, answer: 3.10, at: 2024-05-01, n: [on, ~]}\n",
         [(1, "1", "No", {"student": "012345"}), (2, "3", "3.10", {"student": "1_000", "at": "2024-05-01", "n": ["on", "~"]})]),
        ("a.jsonl", '\ufeff{"card": 3, "answer": "a"}\r\n{"card": 4, "answer": "b"}\r\n', [(1, "3", "a", {}), (2, "4", "b", {})]),
        # a space typed around a card's number or id is no part of it; a card of spaces names no card (the question does)
        ("a.csv", "card,question,answer\n 3 ,,a\n29e79e76eb\t,,b\n , What is VM migration?,c\n", [(2, "3", "a", {}), (3, "29e79e76eb", "b", {}), (4, None, "c", {})]),
        ("a.jsonl", '{"card": "4 ", "answer": "a"}\n', [(1, "4", "a", {})]),
        ("a.jsonl", '{"card": 3, "answer": 42}\n{"card": 3, "answer": 1.5, "n": 7}\n{"card": 3, "answer": null}\n', [(1, "3", "42", {}), (2, "3", "1.5", {"n": 7}), (3, "3", "", {})]),
    ],
)
def test_sound_answers_files_read_row_by_row(tmp_path, name, content, expected):
    from grader.answers import read_answers

    rows = read_answers(write(tmp_path, name, content))
    assert [(r.line, r.card, r.answer, r.extra) for r in rows] == expected


@pytest.mark.parametrize(
    "line",
    [
        '{"card": 3, "answer": "a"}\n', '{"card": 3, "answer": "a"}', '  {"card": 3}\n', '{"card": 3}  \n',
        '{"card": 3}\r\n', "12345678901234567890\n", '"x"\n', "NaN\n", "[1, 2]\n",
        "\n", "", " \t\r\n", "\x0c\n",  # blank, as Python's strip() has it: skipped
        '\ufeff{"card": 3}\n', '{"card": 3} x\n', "[1, 2]\u2028\n", '{"card": \n', "nul\n", '{"a": "\x01"}\n',  # errors
    ],
)
def test_json_lines_read_each_line_as_json_loads_does(line):
    from grader.answers import json_lines
    from grader.errors import AnswersError

    expected: list | str
    try:
        expected = [(1, repr(json.loads(line)))] if line.strip() else []
    except json.JSONDecodeError as exc:
        expected = f"a.jsonl:1: invalid JSON: {exc.msg}"
    try:
        got: list | str = [(n, repr(value)) for n, value in json_lines([line], "a.jsonl")]
    except AnswersError as exc:
        got = str(exc)
    assert got == expected


@pytest.mark.parametrize(
    "card, expected",
    [
        ("3", 2), ("003", 2), ("18", 17), ("eff80a4ef9", 2),
        ("0", "card '0' is not in"), ("19", "card '19' is not in"), ("x", "card 'x' is not in"),
        # pandas writes a column of numbers with a blank in it as floats: "3.0" in CSV, 3.0 in JSON
        ("3.0", 2), ("03.00", 2), ("3.5", "card '3.5' is not in"), ("0.0", "card '0.0' is not in"),
        ("3.", "card '3.' is not in"), (".0", "card '.0' is not in"), ("3.0.0", "card '3.0.0' is not in"),
    ],
)
def test_a_row_names_its_card_by_id_or_number(seed_deck, card, expected):
    import re

    from grader.answers import CardResolver, RowValues
    from grader.errors import AnswersError

    row = RowValues(7, card, None, "sharing", {})
    if isinstance(expected, int):
        assert CardResolver(seed_deck).index(row, "a.jsonl") == expected
    else:
        with pytest.raises(AnswersError, match="^" + re.escape(f"a.jsonl:7: {expected}")):
            CardResolver(seed_deck).index(row, "a.jsonl")


def test_a_card_number_pandas_wrote_as_a_float_names_that_card(tmp_path):
    path = write(tmp_path, "a.jsonl", '{"card": 3.0, "answer": "sharing"}\n{"card": NaN, "question": "What is VM migration? What are 2 possible scenarios?", "answer": "live"}\n')
    result = run_cli("grade", DECK, path, "--json")
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["number"] for line in result.stdout.splitlines()] == [3, 15]


@pytest.mark.parametrize("name", ["a.jsonl", "a.yaml"])
@pytest.mark.parametrize("depth, ok", [(64, True), (65, False)])
def test_rows_nest_up_to_64_levels_in_json_and_yaml_alike(tmp_path, name, depth, ok):
    from grader.answers import read_answers
    from grader.errors import AnswersError

    nested = "[" * (depth - 1) + "]" * (depth - 1)  # the row itself is the first level
    text = f'{{"card": 1, "answer": "x", "e": {nested}}}\n' if name == "a.jsonl" else f"- card: 1\n  answer: x\n  e: {nested}\n"
    path = write(tmp_path, name, text)
    if ok:
        assert len(read_answers(path)) == 1
    else:
        with pytest.raises(AnswersError, match="row is nested more than 64 levels deep"):
            read_answers(path)


def test_a_json_array_longer_than_the_read_buffer_streams(tmp_path):
    from grader.answers import iter_answers

    rows = [{"card": 3, "answer": f"sharing {i} " + "x" * (i % 300)} for i in range(2_000)]
    rows[700]["answer"] = "y" * 200_000  # longer than a buffer: read on until the item ends
    path = write(tmp_path, "a.json", "[\n" + ",\n".join(json.dumps(r) for r in rows) + "\n]\n")
    got = list(iter_answers(path))
    assert [r.answer for r in got] == [r["answer"] for r in rows]
    assert [r.line for r in got] == list(range(2, 2_002))


def test_every_row_is_checked_before_any_is_graded(tmp_path):
    rows = "".join(json.dumps({"card": 3, "answer": f"sharing {i}"}) + "\n" for i in range(3_000))
    path = write(tmp_path, "a.jsonl", rows + '{"card": 3}\n')
    result = run_cli("grade", DECK, path, "--json", "--output", str(tmp_path / "out.jsonl"), "--jobs", "2")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == f"Error: {path}:3001: row has no 'answer' field\n"
    assert not (tmp_path / "out.jsonl").exists()


# --- Standard input ------------------------------------------------------------------------------


def seed_as(fmt: str) -> str:
    """The seed set as an answers file of the given format."""
    if fmt == "jsonl":
        return SEED.read_text(encoding="utf-8")
    if fmt == "yaml":
        return "".join(f"- card: {r['card']}\n  answer: {json.dumps(r['answer'])}\n" for r in SEED_ROWS)
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["card", "answer"])
    writer.writerows([r["card"], r["answer"]] for r in SEED_ROWS)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "yaml"])
@pytest.mark.parametrize("told", [True, False], ids=["answers-format", "sniffed"])
def test_standard_input_grades_like_the_file(tmp_path, fmt, told):
    text = seed_as(fmt)
    from_file = run_cli("grade", DECK, write(tmp_path, f"seed.{fmt}", text), "--json")
    flags = ("--answers-format", fmt) if told else ()
    from_stdin = run_cli("grade", DECK, "-", "--json", *flags, input=text)
    assert from_file.returncode == from_stdin.returncode == 0, from_stdin.stderr
    assert from_stdin.stdout == from_file.stdout and len(from_stdin.stdout.splitlines()) == len(SEED_ROWS)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
@pytest.mark.parametrize("fmt", ["jsonl", "csv", "yaml"])
@pytest.mark.parametrize("told", [True, False], ids=["answers-format", "sniffed"])
def test_a_pipe_named_as_the_answers_file_is_read_once_and_graded_like_the_file(tmp_path, fmt, told):
    """``grader grade deck.md <(cat class.csv)`` said '/dev/fd/63: is a pipe, not an answers file' where ``-`` worked.
    A pipe has no extension to tell its format and can be read only once: the format comes from --answers-format
    or from what was read, and the rows from one copy of it."""
    text = seed_as(fmt)
    report = tmp_path / "r.md"
    from_file = run_cli("grade", DECK, write(tmp_path, f"seed.{fmt}", text), "--json")
    fifo = tmp_path / "63"  # no extension, as bash's /dev/fd/63
    os.mkfifo(fifo)
    opened = []

    def writer() -> None:
        with fifo.open("w", encoding="utf-8") as out:  # waits for grader to open the pipe
            opened.append(True)
            out.write(text)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    flags = ("--answers-format", fmt) if told else ()
    from_pipe = run_cli("grade", DECK, str(fifo), "--json", *flags, "--report", str(report))
    thread.join(timeout=30)
    assert from_pipe.returncode == 0, from_pipe.stderr
    assert from_pipe.stdout == from_file.stdout and len(from_pipe.stdout.splitlines()) == len(SEED_ROWS)
    assert opened == [True]  # opened once: a second open would wait for a writer that never comes
    assert f"Answers: `{fifo}`" in report.read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["63", "r.md", f"seed.{fmt}"]


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_device_of_endless_binary_data_is_refused_after_its_first_chunk():
    """Read to its end as a pipe is, /dev/zero would fill the disk: the copy stops at the first chunk holding a NUL."""
    result = run_cli("grade", DECK, "/dev/zero", "--answers-format", "csv")
    assert (result.returncode, result.stderr) == (1, "Error: /dev/zero:1: binary data, not a text answers file\n")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_review_of_answers_through_a_pipe_asks_where_to_keep_the_decisions(tmp_path):
    fifo = tmp_path / "63"
    os.mkfifo(fifo)
    result = run_cli("review", DECK, str(fifo))
    assert result.returncode == 2 and "name their file with --decisions" in result.stderr
    thread = threading.Thread(target=fifo.write_text, args=(seed_as("csv"),), kwargs={"encoding": "utf-8"}, daemon=True)
    thread.start()
    out, decisions = tmp_path / "final.jsonl", tmp_path / "d.jsonl"
    result = run_cli("review", DECK, str(fifo), "--decisions", str(decisions), "--export-only", "--output", str(out))
    thread.join(timeout=30)
    assert result.returncode == 0, result.stderr
    assert len(out.read_text(encoding="utf-8").splitlines()) == len(SEED_ROWS) and decisions.exists()


@pytest.mark.parametrize(
    "flags, text, error",
    [
        ((), '{"card": 1, "answer": "x"}\n{"card": 99, "answer": "y"}\n', "Error: <stdin>:2: card '99' is not in"),
        (("--answers-format", "yaml"), "- &a {card: 1, answer: x}\n", "Error: <stdin>:1: YAML anchors and aliases"),
        ((), '{"card": 1, "answer": "x\x00"}\n', "Error: <stdin>:1: binary data, not a text answers file"),
        ((), "", "Error: <stdin>:1: answers file has no rows"),
        ((), "ann|1|sharing\n", "Error: <stdin>:1: cannot tell the answers' format from their first line ('ann|1|sharing': no JSON,"),
    ],
)
def test_standard_input_errors_name_stdin(flags, text, error):
    result = run_cli("grade", DECK, "-", *flags, input=text)
    assert result.returncode == 1 and result.stderr.startswith(error) and result.stderr.count("\n") == 1


def test_a_bad_answers_format_is_bad_usage():
    result = run_cli("grade", DECK, "-", "--answers-format", "xml", input="")
    assert result.returncode == 2 and "--answers-format must be jsonl, csv or yaml" in result.stderr


# --- Identical output: records without pydantic, --jobs -------------------------------------------


def test_records_are_the_pydantic_dump_they_replace(seed_deck):
    from grader.models import AnswerRow
    from grader.scoring import facts_grade, grade_facts
    from grader.writers import RECORD_FIELDS

    grader = KeywordGrader()
    for data in SEED_ROWS:
        card = seed_deck.cards[data["card"] - 1]
        grade = grader.grade(card, data["answer"])
        row = AnswerRow(line=1, card=str(data["card"]), answer=data["answer"], extra={"kind": data["kind"], "score": 5})
        dump = grade.model_dump(mode="json")
        expected = {
            "kind": data["kind"], "input_score": 5, "card": card.id, "number": card.number, "question": card.question,
            "answer": row.answer, "matched": grade.matched, "missing": grade.missing,
            **{k: v for k, v in dump.items() if k not in ("card", "number")},
        }  # fmt: skip
        for made_from in (grade, grade_facts(grade)):  # in this process, or from a worker
            record = grade_record(card, row, made_from)
            assert record == expected and list(record) == ["kind", "input_score", *RECORD_FIELDS]
        assert facts_grade(card, grade_facts(grade)) == grade


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"kind": "x", "score": 5, "input_score": 6, "tags": ["ü", {"a": None, "b": 1.5}], "ok": True},
        {"kind": 'a "q" \ud800 ü', "n": 12345678901234567890, "f": 1.5, "none": None, "tags": [{}], "ok": True},
    ],
)
def test_json_lines_and_csv_records_are_what_json_and_csv_write_for_the_record(seed_deck, extra):
    """Each line is put together from pieces: byte for byte what json.dumps, or csv's DictWriter, writes for the record."""
    import csv
    import io

    from grader.answers import RowValues
    from grader.models import AnswerRow
    from grader.scoring import grade_facts
    from grader.writers import CsvWriter, GradedAnswer, JsonLinesWriter, csv_cell, csv_columns, passthrough_name

    grader = KeywordGrader()
    writer = JsonLinesWriter(io.StringIO())
    columns = csv_columns([passthrough_name(k) for k in extra])
    csv_writer = CsvWriter.for_fields(io.StringIO(), list(extra))
    odd = ['a "quoted" binary translation\n\tand \\ sharing', "sharing \ud800 emulation", "ÉMULATION, sharing ✓", "=1+1", ""]
    for card_number, answer in [(r["card"], r["answer"]) for r in SEED_ROWS] + [(3, a) for a in odd]:
        card = seed_deck.cards[card_number - 1]
        grade = grader.grade(card, answer)
        row = AnswerRow(line=1, card=str(card_number), answer=answer, extra=extra)
        values = RowValues(1, str(card_number), None, answer, extra)  # as grader grade reads rows
        for made_from in (grade, grade_facts(grade)):  # in this process, or from a worker
            record = grade_record(card, row, made_from)
            expected = io.StringIO()
            cells = {**record, "matched": "; ".join(record["matched"]), "missing": "; ".join(record["missing"])}
            csv.DictWriter(expected, columns, extrasaction="ignore").writerow({k: csv_cell(v) for k, v in cells.items()})
            for graded in (GradedAnswer(row, card, made_from), GradedAnswer(values, card, made_from)):
                assert writer.line(graded) == json.dumps(record, ensure_ascii=False) + "\n"
                assert csv_writer.line(graded) == expected.getvalue()
                assert graded.record == record and graded.row == row


@pytest.mark.parametrize("chunk", [0, -1])
def test_a_chunk_of_no_answers_is_refused_not_an_empty_result(seed_deck, chunk):
    # chunk=0 ended the stream at once: no grade, no error, every answer silently left ungraded.
    pairs = [(seed_deck.cards[2], "sharing and emulation")] * 3
    with pytest.raises(ValueError, match=f"^chunk must be at least 1, not {chunk}$"):
        list(grade_answers(pairs, KeywordGrader(), chunk=chunk))


def test_a_batch_leaves_the_garbage_collector_as_it_found_it(seed_deck):
    import gc

    before = gc.get_threshold()
    pairs = [(seed_deck.cards[2], "sharing and emulation")] * 3
    assert len(list(grade_answers(pairs, KeywordGrader()))) == 3
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == before
    stopped = grade_answers(pairs, KeywordGrader())
    next(stopped)
    assert gc.get_freeze_count() > 0  # while it runs, the objects made before it are left out of full collections
    stopped.close()
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == before


def outputs_by_jobs(tmp_path: Path, answers: Path, flags: tuple[str, ...], jobs: tuple[str, ...]) -> dict[str, tuple[str, list[str]]]:
    """``grade``'s standard output and the files it wrote (``OUT.*``, ``REPORT.*`` in ``flags``), for each ``--jobs``."""
    outputs = {}
    for n in jobs:
        files = {flag: tmp_path / f"{n}-{flag}" for flag in flags if flag.startswith(("OUT.", "REPORT."))}
        args = [str(files[flag]) if flag in files else flag for flag in flags]
        result = run_cli("grade", DECK, str(answers), *args, "--jobs", n)
        assert result.returncode == 0, result.stderr
        outputs[n] = (result.stdout, [path.read_text(encoding="utf-8").replace(str(path), "F") for path in files.values()])
    return outputs


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 8 rows, so the seed set (117 rows) is many chunks and --jobs starts workers."""
    monkeypatch.setattr("grader.batch.CHUNK_ROWS", 8)


@pytest.mark.parametrize(
    "flags",
    [
        ("--json", "--report", "REPORT.md"),
        ("--csv", "--report", "REPORT.md"),
        ("--report", "REPORT.md"),
        ("--csv", "--output", "OUT.jsonl", "--report", "REPORT.md"),
        ("--json",),  # lines alone: a worker sends no grades back
        ("--output", "OUT.csv"),
    ],
)
def test_jobs_write_the_same_bytes_as_one_process(tmp_path, small_chunks, flags):
    """Workers render the lines of each format asked for (here up to two at once), as --jobs 1 does in this process."""
    outputs = outputs_by_jobs(tmp_path, SEED, flags, ("1", "2", "3"))
    assert outputs["1"] == outputs["2"] == outputs["3"]
    assert all(len(text.splitlines()) >= len(SEED_ROWS) for text in [outputs["1"][0], *outputs["1"][1]] if text)


@pytest.mark.parametrize("asked, started, notice", [("24", 2, "Notice: --jobs 24 is more than the 2 cores this process may use; grading in 2.\n"), ("2", 2, ""), ("1", 1, ""), (None, 2, "")])
def test_jobs_start_at_most_a_process_a_core(tmp_path, monkeypatch, asked, started, notice):
    """More processes than cores grade no faster (grading is all computation) and each holds its own memory."""
    import grader.batch

    monkeypatch.setattr(grader.batch, "default_jobs", lambda: 2)
    real, seen = grader.batch.grade_file, []

    def recording(*args, **kwargs):
        seen.append(kwargs["jobs"])
        return real(*args, **kwargs)

    monkeypatch.setattr(grader.batch, "grade_file", recording)
    result = run_cli("grade", DECK, str(SEED), "--json", *(["--jobs", asked] if asked else []))
    assert (result.returncode, result.stderr, seen) == (0, notice, [started])
    assert len(result.stdout.splitlines()) == len(SEED_ROWS)


def awkward_answers(tmp_path: Path, *, crlf: bool = False, array: bool = False, utf16: bool = False) -> Path:
    """The seed set as a file no range may cut wrongly: a byte order mark, blank lines, non-ASCII answers, a field
    first seen near the end (a CSV column), and Windows line ends if asked; or as one JSON array; or in UTF-16."""
    rows = [dict(row) for row in SEED_ROWS]
    rows[3]["answer"] += " — naïve, 仮想化"
    rows[-2]["late"] = "x"
    if array:
        text = json.dumps(rows, ensure_ascii=False, indent=1)
    else:
        text = "".join(json.dumps(row, ensure_ascii=False) + ("\n\n" if i % 10 == 0 else "\n") for i, row in enumerate(rows))
    path = tmp_path / "awkward.jsonl"
    path.write_bytes(("\ufeff" + text.replace("\n", "\r\n" if crlf else "\n")).encode("utf-16-le" if utf16 else "utf-8"))
    return path


@pytest.mark.parametrize("kind", ["lf", "crlf", "array", "utf16"])
@pytest.mark.parametrize("flags", [("--json",), ("--csv",), ("--output", "OUT.csv"), ("--json", "--report", "REPORT.md")])
def test_workers_reading_their_own_ranges_write_the_bytes_of_one_process(tmp_path, monkeypatch, kind, flags):
    """Ranges of about 1,500 bytes (15 or so): every range boundary of the file is a line boundary, lines are
    numbered across them, fields are merged in file order. With a report the workers check the ranges and the
    parent reads the rows again; a JSON array is read by the parent alone."""
    monkeypatch.setattr("grader.batch.SHARD_BYTES", 1500)
    answers = awkward_answers(tmp_path, crlf=kind in ("crlf", "utf16"), array=kind == "array", utf16=kind == "utf16")
    outputs = outputs_by_jobs(tmp_path, answers, flags, ("1", "2", "3"))
    assert outputs["1"] == outputs["2"] == outputs["3"]
    written = outputs["1"][0] or outputs["1"][1][0]
    assert written.count("naïve, 仮想化") == 1
    assert "late" in (written if "--json" in flags else written.splitlines()[0])  # a field first seen near the end: a CSV column


@pytest.mark.parametrize(
    "bad_row, error",
    [
        ("{not json", "invalid JSON: Expecting property name enclosed in double quotes"),
        ('{"card": 99, "answer": "x"}', "card '99' is not in"),
        ('{"card": 1}', "row has no 'answer' field"),
    ],
)
def test_a_bad_row_far_into_the_file_is_reported_by_its_line_and_nothing_is_graded(tmp_path, monkeypatch, bad_row, error):
    monkeypatch.setattr("grader.batch.SHARD_BYTES", 1500)
    lines = awkward_answers(tmp_path).read_text(encoding="utf-8-sig").split("\n")
    lines.insert(90, bad_row)  # after the 9th blank line: line 91 of the file
    lines.insert(91, "{not json either")  # the next line, a later fault in the same range: not the one reported
    answers = tmp_path / "bad.jsonl"
    answers.write_text("\n".join(lines), encoding="utf-8")
    said = {jobs: run_cli("grade", DECK, str(answers), "--json", "--jobs", jobs) for jobs in ("1", "2")}
    assert said["1"].stderr == said["2"].stderr and said["1"].stderr.startswith(f"Error: {answers}:91: {error}")
    assert said["1"].returncode == said["2"].returncode == 1 and said["1"].stdout == said["2"].stdout == ""


@pytest.mark.slow
def test_grade_answers_in_spawned_workers_equals_one_process(seed_deck):
    """With a thread running, fork is unsafe and the workers are spawned: same grades, same order."""
    pairs = [(seed_deck.cards[r["card"] - 1], r["answer"]) for r in SEED_ROWS]
    grader = KeywordGrader()
    alone = list(grade_answers(pairs, grader))
    stop = threading.Event()
    waiter = threading.Thread(target=stop.wait)
    waiter.start()
    try:
        spawned = list(grade_answers(iter(pairs), grader, chunk=10, jobs=2))
    finally:
        stop.set()
        waiter.join()
    assert spawned == alone


@pytest.mark.parametrize("flags", [("--json",), ("--csv", "--output", "OUT.jsonl", "--report", "REPORT.md")])
def test_workers_started_before_the_rows_are_read_write_the_same_bytes(tmp_path, small_chunks, monkeypatch, flags):
    """A file large enough starts its workers before its rows are checked; they learn the formats with their first chunk."""
    monkeypatch.setattr("grader.batch.EARLY_WORKERS_BYTES", 0)
    outputs = outputs_by_jobs(tmp_path, SEED, flags, ("1", "2"))
    assert outputs["1"] == outputs["2"]


def test_workers_started_before_the_formats_are_known_render_them(seed_deck, small_chunks):
    from contextlib import closing

    from grader.batch import grade_rows
    from grader.models import AnswerRow
    from grader.workers import GradingWorkers
    from grader.writers import CsvFormat, JsonLinesFormat, csv_columns

    rows = [(AnswerRow(line=i + 1, card=str(r["card"]), answer=r["answer"]), seed_deck.cards[r["card"] - 1]) for i, r in enumerate(SEED_ROWS)]
    formats = [JsonLinesFormat(), CsvFormat(csv_columns([]))]
    grader = KeywordGrader()
    with closing(GradingWorkers(2, grader.settings)) as workers:
        early = list(grade_rows(iter(rows), grader, jobs=2, formats=formats, workers=workers))
    assert all(len(graded.lines) == 2 for graded in early)  # rendered by the workers, in the formats sent with the first chunk
    alone = [[graded.line(f) for f in formats] for graded in grade_rows(rows, grader, formats=formats)]
    assert [[graded.line(f) for f in formats] for graded in early] == alone


def test_ctrl_c_while_the_rows_are_checked_says_nothing_was_graded(tmp_path, monkeypatch):
    import multiprocessing

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("grader.batch._check_rows", interrupted)
    monkeypatch.setattr("grader.batch.EARLY_WORKERS_BYTES", 0)  # and workers already started
    out = tmp_path / "out.jsonl"
    result = run_cli("grade", DECK, str(SEED), "--output", str(out), "--jobs", "2")
    assert (result.returncode, result.stderr) == (130, "Interrupted before any answer was graded: nothing written.\n")
    assert not out.exists()
    assert multiprocessing.active_children() == []


def test_ctrl_c_while_the_workers_check_their_ranges_says_nothing_was_graded(tmp_path, monkeypatch):
    import multiprocessing

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("grader.batch._check_shards", interrupted)
    monkeypatch.setattr("grader.batch.SHARD_BYTES", 1500)
    out = tmp_path / "out.jsonl"
    result = run_cli("grade", DECK, str(SEED), "--output", str(out), "--jobs", "2")
    assert (result.returncode, result.stderr) == (130, "Interrupted before any answer was graded: nothing written.\n")
    assert not out.exists()
    assert multiprocessing.active_children() == []


def test_a_bad_row_stops_workers_started_early_with_nothing_written(tmp_path, small_chunks, monkeypatch):
    import multiprocessing

    monkeypatch.setattr("grader.batch.EARLY_WORKERS_BYTES", 0)
    answers = tmp_path / "answers.jsonl"
    answers.write_text(SEED.read_text(encoding="utf-8") + '{"card": 99, "answer": "x"}\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = run_cli("grade", DECK, str(answers), "--output", str(out), "--jobs", "2")
    assert result.returncode != 0 and f"answers.jsonl:{len(SEED_ROWS) + 1}:" in result.stderr
    assert not out.exists() or out.read_text(encoding="utf-8") == ""
    assert multiprocessing.active_children() == []


@pytest.mark.slow
def test_spawned_workers_render_the_lines_this_process_renders(seed_deck, small_chunks):
    """The line formats go to a spawned worker pickled (the CSV one without its csv writer) and render alike there."""
    from grader.batch import grade_rows
    from grader.models import AnswerRow
    from grader.writers import CsvFormat, JsonLinesFormat, csv_columns

    rows = [
        (AnswerRow(line=i + 1, card=str(r["card"]), answer=r["answer"], extra={"kind": r["kind"]}), seed_deck.cards[r["card"] - 1])
        for i, r in enumerate(SEED_ROWS)
    ]
    formats = [JsonLinesFormat(), CsvFormat(csv_columns(["kind"]))]
    grader = KeywordGrader()
    stop = threading.Event()
    waiter = threading.Thread(target=stop.wait)
    waiter.start()
    try:
        spawned = list(grade_rows(iter(rows), grader, jobs=2, formats=formats))
    finally:
        stop.set()
        waiter.join()
    assert all(len(graded.lines) == 2 for graded in spawned)  # rendered by the workers
    alone = [[graded.line(f) for f in formats] for graded in grade_rows(rows, grader, formats=formats)]
    assert [[graded.line(f) for f in formats] for graded in spawned] == alone


def test_grade_answers_in_forked_workers_equals_one_process(seed_deck):
    pairs = [(seed_deck.cards[r["card"] - 1], r["answer"]) for r in SEED_ROWS]
    grader = KeywordGrader()
    assert list(grade_answers(iter(pairs), grader, chunk=7, jobs=2)) == list(grade_answers(pairs, grader))
    assert list(grade_answers([], grader, jobs=2)) == []


@pytest.mark.parametrize(
    "fault, error",
    [
        ("raise", r"a grading process failed:\n(.|\n)*ValueError: boom"),  # with the worker's traceback
        ("exit", r"a grading process stopped \(exit code 3\)"),
    ],
)
def test_a_worker_that_fails_or_dies_stops_the_batch(seed_deck, monkeypatch, fault, error):
    import multiprocessing

    graded = KeywordGrader.grade_many_facts

    def faulty(self, card, answers):  # the forked workers inherit it
        if "boom" in answers:
            if fault == "raise":
                raise ValueError("boom")
            os._exit(3)
        return graded(self, card, answers)

    monkeypatch.setattr(KeywordGrader, "grade_many_facts", faulty)
    pairs = [(seed_deck.cards[2], "sharing")] * 40 + [(seed_deck.cards[2], "boom")] + [(seed_deck.cards[2], "sharing")] * 40
    with pytest.raises(RuntimeError, match=error):
        list(grade_answers(pairs, KeywordGrader(), chunk=8, jobs=2))
    assert multiprocessing.active_children() == []


def test_memory_stays_flat_as_rows_grow(tmp_path):
    deck = load_deck(SEED_DECK)
    grader = KeywordGrader()

    def peak(rows: int) -> int:
        path = tmp_path / f"a{rows}.jsonl"
        with path.open("w", encoding="utf-8") as f:
            for i in range(rows):
                data = SEED_ROWS[i % len(SEED_ROWS)]
                f.write(json.dumps({"card": data["card"], "answer": data["answer"], "i": i}) + "\n")
        out = tmp_path / f"out{rows}.jsonl"
        grader.grade_many(deck.cards[0], ["warm up"])
        tracemalloc.start()
        try:
            grade_file(SEED_DECK, path, lambda deck, fields: [], grader, output=out)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(600), peak(3_000)
    assert large < small * 1.3 + 200_000, (small, large)  # five times the rows; the per-row card index is 4 bytes a row


# --- --output and --resume ----------------------------------------------------------------------


def seed_csv(tmp_path: Path) -> str:
    """The seed set as CSV, with a line break inside some answers (a record then spans two lines)."""
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["student", "card", "answer"])
    for i, r in enumerate(SEED_ROWS):
        writer.writerow([f"s{i}", r["card"], r["answer"].replace(", ", ",\n", 1) if i % 3 == 0 else r["answer"]])
    return write(tmp_path, "answers.csv", buf.getvalue())


def cut_points(data: bytes) -> list[int]:
    """Where an interruption may leave a results file: nowhere, after the header, inside a row, after a row."""
    lines = data.split(b"\n")
    first = len(lines[0]) + 1
    middle = len(data) // 2
    return [0, first, first + 5, middle, data.index(b"\n", middle) + 1, len(data) - 3, len(data)]


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_resume_after_any_cut_gives_the_uninterrupted_output(tmp_path, suffix):
    answers = seed_csv(tmp_path)
    full, full_report = tmp_path / f"full{suffix}", tmp_path / "full.md"
    assert run_cli("grade", DECK, answers, "--output", str(full), "--report", str(full_report)).returncode == 0
    expected, expected_report = full.read_bytes(), full_report.read_bytes()
    assert expected.count(b"\n") >= len(SEED_ROWS) and b"**107 answers** (+4 blank, +6 non-answers); verdicts of all 117 rows:" in expected_report  # of the 117, 4 left blank and 6 "I don't know"s
    out, report = tmp_path / f"out{suffix}", tmp_path / "out.md"
    for cut in cut_points(expected):
        out.write_bytes(expected[:cut])
        rows_kept = expected[:cut].count(b"\n")
        report.write_bytes(b"\n".join(expected_report.split(b"\n")[: 6 + rows_kept]) + b"\n\n**Incomplete: ...**\n")
        result = run_cli("grade", DECK, answers, "--output", str(out), "--report", str(report), "--resume", "--jobs", "2")
        assert result.returncode == 0 and result.stdout == "", (cut, result.stderr)
        assert out.read_bytes() == expected, cut
        assert report.read_bytes().replace(b"out.md", b"full.md") == expected_report.replace(b"out.md", b"full.md"), cut


def test_resume_keeps_only_rows_both_the_results_and_the_report_hold(tmp_path):
    answers = seed_csv(tmp_path)
    full, full_report = tmp_path / "full.jsonl", tmp_path / "r.md"
    run_cli("grade", DECK, answers, "--output", str(full), "--report", str(full_report))
    expected, expected_report = full.read_bytes(), full_report.read_bytes()
    report_head = b"\n".join(expected_report.split(b"\n")[: 6 + 10]) + b"\n"  # the report has 10 rows, the results 60
    out = tmp_path / "out.jsonl"
    out.write_bytes(b"".join(expected.splitlines(keepends=True)[:60]))
    full_report.write_bytes(report_head)
    assert run_cli("grade", DECK, answers, "--output", str(out), "--report", str(full_report), "--resume").returncode == 0
    assert out.read_bytes() == expected and full_report.read_bytes() == expected_report


@pytest.mark.parametrize(
    "setup, flags, code, error",
    [
        ("other", (), 1, "Error: {out}:1: result 1 is not for line 1 of {answers} (card 3): was it written from other answers?"),
        ("longer", (), 1, "Error: {out}: holds more results than {answers} has rows (2): was it written from other answers?"),
        ("columns", (), 1, "Error: {out}:1: its columns are not the ones this run writes (card, number, score, verdict, matched, missing, answered, answer)"),
        ("garbage", (), 1, "Error: {out}:1: not a line of 'grader grade' results"),
        ("none", ("--output", "{answers}"), 1, "Error: {answers}: will not write over the answers file; choose another file"),
        ("none", ("--output", "{tmp}/r.md", "--report", "{tmp}/r.md"), 2, "--output must end in .jsonl or .csv"),
        ("none", ("--output", "{tmp}/o.csv", "--report", "{tmp}/o.csv"), 1, "Error: {tmp}/o.csv: will not write over the report; choose another file"),
        ("none", ("--resume",), 2, "--resume continues an --output file: give --output too"),
    ],
)
def test_resume_refuses_results_of_other_answers(tmp_path, setup, flags, code, error):
    answers = write(tmp_path, "a.jsonl", '{"card": 3, "answer": "sharing"}\n{"card": 15, "answer": "live"}\n')
    out = tmp_path / ("out.csv" if setup == "columns" else "out.jsonl")
    content = {
        "other": '{"card": "29e79e76eb", "answer": "sharing", "verdict": "correct", "score": 1.0}\n',
        "longer": None,
        "columns": "card,number,score,verdict,matched,missing,student,answer\r\neff80a4ef9,3,1.0,correct,,,ann,a\r\n",
        "garbage": "this is not json\n",
        "none": None,
    }[setup]
    if setup == "longer":
        run_cli("grade", DECK, answers, "--output", str(out))
        out.write_text(out.read_text() + out.read_text().splitlines(keepends=True)[0])
    elif content is not None:
        out.write_text(content, encoding="utf-8")
    before = out.read_bytes() if out.exists() else None
    fill = {"out": str(out), "answers": answers, "tmp": str(tmp_path)}
    args = [a.format(**fill) for a in flags] or ["--output", str(out), "--resume"]
    result = run_cli("grade", DECK, answers, *args)
    assert result.returncode == code and result.stdout == ""
    assert error.format(**fill) in result.stderr and "Traceback" not in result.stderr
    assert (out.read_bytes() if out.exists() else None) == before  # nothing written over
    assert Path(answers).read_text().startswith('{"card": 3')


def test_output_without_resume_starts_afresh_and_shows_no_table(tmp_path):
    answers = write(tmp_path, "a.jsonl", '{"card": 3, "answer": "sharing"}\n')
    out = tmp_path / "o.jsonl"
    out.write_text("old results\n")
    result = run_cli("grade", DECK, answers, "--output", str(out))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert [json.loads(line)["matched"] for line in out.read_text().splitlines()] == [["sharing"]]


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_output_without_resume_refuses_to_replace_an_unfinished_run_of_these_answers(tmp_path, suffix):
    """What --resume would go on with (an interrupted --llm run holds paid replies) is not written over; a finished
    run's output, or one of other answers, is replaced as before."""
    from grader.resume import written_results

    answers = seed_csv(tmp_path)
    out = tmp_path / f"out{suffix}"
    assert run_cli("grade", DECK, answers, "--output", str(out)).returncode == 0
    finished = out.read_bytes()
    assert run_cli("grade", DECK, answers, "--output", str(out)).returncode == 0 and out.read_bytes() == finished
    cut = finished[: finished.index(b"\n", len(finished) // 2) + 6]  # some whole rows and part of one
    out.write_bytes(cut)
    kept = sum(1 for _ in written_results(out, suffix[1:]))
    result = run_cli("grade", DECK, answers, "--output", str(out), "--jobs", "2")
    assert (result.returncode, result.stdout) == (1, "") and out.read_bytes() == cut
    assert result.stderr == (
        f"Error: {out}: holds the results of an unfinished run ({kept} of {len(SEED_ROWS)} answers): "
        "--resume to continue, or remove it / choose another file\n"
    )
    assert run_cli("grade", DECK, answers, "--output", str(out), "--resume").returncode == 0 and out.read_bytes() == finished
    other = write(tmp_path, "other.csv", "card,answer\n" + "1,x\n2,y\n3,z\n" * 100)
    out.write_bytes(cut)
    assert run_cli("grade", DECK, other, "--output", str(out)).returncode == 0 and out.read_bytes() != cut


# --- Real processes: Ctrl-C and kill -9 --------------------------------------------------------------


def many_answers(tmp_path: Path, rows: int = 6_000) -> Path:
    path = tmp_path / "many.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for i in range(rows):
            data = SEED_ROWS[i % len(SEED_ROWS)]
            f.write(json.dumps({"card": data["card"], "answer": data["answer"], "i": i}) + "\n")
    return path


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "grader", "grade", DECK, *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ, "COLUMNS": "120"},
    )  # fmt: skip


@pytest.mark.slow
def test_ctrl_c_with_jobs_leaves_whole_rows_an_incomplete_report_and_resumes(tmp_path):
    rows = 20_000  # enough that grading cannot end between its first row and the signal (6,000 once did, under load)
    answers = many_answers(tmp_path, rows)
    out, report = tmp_path / "out.jsonl", tmp_path / "r.md"
    proc = start(str(answers), "--json", "--jobs", "2", "--output", str(out), "--report", str(report))
    first = proc.stdout.readline()  # grading has begun
    proc.send_signal(signal.SIGINT)
    rest, err = proc.stdout.read(), proc.stderr.read()  # not communicate(): it would skip what readline buffered
    proc.wait(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err, err
    printed = (first + rest).split("\n")
    assert printed[-1] == "" and all(json.loads(line) for line in printed[:-1])
    done = len(printed) - 1
    assert err.endswith(f"Interrupted: {done} of {rows} answers graded (the same command with --resume goes on).\n")
    assert out.read_text().count("\n") == done < rows
    assert report.read_text().endswith(f"**Incomplete: the run stopped after {done} of {rows} answers.** Run the command again with `--output` and `--resume` to finish it.\n")

    resumed = start(str(answers), "--jobs", "2", "--output", str(out), "--report", str(report), "--resume")
    assert resumed.communicate(timeout=300)[1] == "" and resumed.returncode == 0
    whole, whole_report = tmp_path / "whole.jsonl", tmp_path / "whole.md"
    assert run_cli("grade", DECK, str(answers), "--jobs", "1", "--output", str(whole), "--report", str(whole_report)).returncode == 0
    assert out.read_bytes() == whole.read_bytes()
    assert report.read_text().replace("r.md", "R") == whole_report.read_text().replace("whole.md", "R")


def test_ctrl_c_with_jobs_reading_their_own_ranges_leaves_whole_rows_and_resumes(tmp_path):
    answers = many_answers(tmp_path, 30_000)  # about 1.5 MB: six ranges, read and graded by the workers
    out = tmp_path / "out.jsonl"
    proc = start(str(answers), "--jobs", "2", "--output", str(out))
    while not out.exists() or out.stat().st_size == 0:
        assert proc.poll() is None, "finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err, err
    written = out.read_text(encoding="utf-8")
    done = written.count("\n")
    assert written.endswith("\n") and all(json.loads(line) for line in written.splitlines())
    assert err.endswith(f"Interrupted: {done} of 30000 answers graded (the same command with --resume goes on).\n") and done < 30000
    resumed = start(str(answers), "--jobs", "2", "--output", str(out), "--resume")
    assert resumed.communicate(timeout=300)[1] == "" and resumed.returncode == 0
    whole = tmp_path / "whole.jsonl"
    assert run_cli("grade", DECK, str(answers), "--jobs", "1", "--output", str(whole)).returncode == 0
    assert out.read_bytes() == whole.read_bytes()


@pytest.mark.slow
def test_kill_9_mid_row_then_resume_gives_the_uninterrupted_output(tmp_path):
    answers = many_answers(tmp_path, 3_000)
    out = tmp_path / "out.csv"
    proc = start(str(answers), "--jobs", "2", "--output", str(out))
    while out.stat().st_size < 20_000 if out.exists() else True:
        assert proc.poll() is None, "finished before it could be killed"
    proc.kill()
    proc.communicate(timeout=30)
    with out.open("ab") as f:
        f.write(b'29e79e76eb,1,0.5,partial,"half a row')  # as if the kill landed in the middle of a write
    assert run_cli("grade", DECK, str(answers), "--output", str(out), "--resume").returncode == 0
    whole = tmp_path / "whole.csv"
    run_cli("grade", DECK, str(answers), "--output", str(whole), "--jobs", "1")
    a, b = out.read_bytes(), whole.read_bytes()
    i = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), None)
    assert a == b, (i, a[i - 400 : i + 100], b[i - 400 : i + 100])


def children_of(pid: int) -> list[int]:
    """The processes whose parent is ``pid``, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
def test_workers_end_when_the_parent_is_killed_with_9(tmp_path):
    """A forked worker held its parent's end of its own pipe, so a worker sending a result when the parent was
    killed waited for a reader for good (about 100 MB each, for ever)."""
    answers = many_answers(tmp_path, 30_000)
    out = tmp_path / "out.jsonl"
    proc = start(str(answers), "--jobs", "2", "--output", str(out))
    while not out.exists() or out.stat().st_size < 100_000:
        assert proc.poll() is None, "finished before it could be killed"
    workers = children_of(proc.pid)
    proc.kill()
    proc.wait(timeout=30)  # not communicate(): workers left behind would hold its pipes open
    deadline = time.monotonic() + 20
    while any(map(running, workers)) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = [w for w in workers if running(w)]
    for w in alive:  # not left to run on after the test
        os.kill(w, signal.SIGKILL)
    proc.stdout.close()
    proc.stderr.close()
    assert len(workers) == 2 and alive == []


@pytest.mark.parametrize(
    "question, expected",
    [
        ("How does live migration work?", 16),
        ("how does  LIVE-migration work", 16),  # case, spacing, punctuation
        ("How does **live** `migration` work?", 16),  # markdown
        ("How does live migraton work?", 16),  # a typo
        ("What is hardware asisted virtualisation?", 13),  # two
        # A question that differs in a word names no card, however near: the nearest is only a hint
        ("How does offline migration work?", "no card in {deck} has the question 'How does offline migration work?' (the nearest is card 16: 'How does live migration work?')"),
        ("What is software assisted virtualization?", "no card in {deck} has the question 'What is software assisted virtualization?' (the nearest is card 13: 'What is hardware assisted virtualization?')"),
        ("How does life migration work?", "no card in {deck} has the question 'How does life migration work?' (the nearest is card 16: 'How does live migration work?')"),  # 4 letters: no typo
        ("What are 3 possible types of hypervisors?", "no card in {deck} has the question 'What are 3 possible types of hypervisors?' (the nearest is card 8: 'What are 2 possible types of hypervisors?')"),
        ("How does live migration work exactly?", "no card in {deck} has the question 'How does live migration work exactly?' (the nearest is card 16: 'How does live migration work?')"),
    ],
)
def test_a_question_names_its_card_only_when_its_words_are_the_cards(question, expected):
    from grader.answers import CardResolver, RowValues
    from grader.decks import load_deck
    from grader.errors import AnswersError

    deck = load_deck(DECK)
    row = RowValues(7, None, question, "x", {})
    if isinstance(expected, int):
        assert CardResolver(deck).index(row, "a.jsonl") == expected - 1
    else:
        with pytest.raises(AnswersError) as caught:
            CardResolver(deck).index(row, "a.jsonl")
        assert (caught.value.path, caught.value.line, caught.value.message) == ("a.jsonl", 7, expected.format(deck=deck.path))


def test_a_misspelt_question_near_two_cards_names_neither(tmp_path):
    from grader.answers import CardResolver, RowValues
    from grader.decks import load_deck
    from grader.errors import AnswersError

    deck_file = write(tmp_path, "d.md", "".join(f"<details><summary>{q}</summary>\n\n==a==\n</details>\n\n" for q in ("What is paravirtualization?", "What is paravirtualisation?")))
    with pytest.raises(AnswersError) as caught:
        CardResolver(load_deck(deck_file)).index(RowValues(1, None, "What is paravirtualizasion?", "x", {}), "a.jsonl")
    assert caught.value.message == (
        "the question 'What is paravirtualizasion?' could be card 1 ('What is paravirtualization?') or card 2 ('What is paravirtualisation?'): "
        "name the card by its id or number"
    )


@pytest.mark.parametrize("question", ["What is a VM?", "what is a vm", "What is a VM ?"])
def test_a_question_the_deck_asks_twice_names_neither_card(tmp_path, question):
    """Two cards asking "What is a VM?" with other key terms: the row was graded against the first without a word."""
    from grader.answers import CardResolver, RowValues
    from grader.decks import load_deck
    from grader.errors import AnswersError

    deck_file = write(tmp_path, "d.yaml", "cards:\n- {question: 'What is a VM?', answer: a virtual machine}\n- {question: 'What is a VM?', answer: an emulated computer}\n")
    with pytest.raises(AnswersError) as caught:
        CardResolver(load_deck(deck_file)).index(RowValues(1, None, question, "x", {}), "a.jsonl")
    assert caught.value.message == (
        f"the question '{question}' could be card 1 ('What is a VM?') or card 2 ('What is a VM?'): name the card by its id or number"
    )


@pytest.mark.parametrize("flags", [("--jobs", "1"), ("--jobs", "2")])
def test_input_fields_named_like_ours_are_all_kept_under_names_of_their_own(tmp_path, flags):
    """``score`` becomes ``input_score``, so an ``input_score`` beside it becomes ``input_input_score``; a field named
    like review's final grade or the LLM's feedback is renamed too, and never read as a grade."""
    row = {"card": 1, "answer": "portability", "score": 5, "input_score": "orig", "final_score": "abc", "llm": "mine", "student": "ann"}
    answers = write(tmp_path, "a.jsonl", json.dumps(row) + "\n")
    kept = {"input_score": 5, "input_input_score": "orig", "input_final_score": "abc", "input_llm": "mine", "student": "ann"}
    result = run_cli("grade", DECK, answers, "--json", "--report", str(tmp_path / "r.md"), *flags)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert {k: record[k] for k in kept} == kept and record["score"] == 0.3333
    lines = run_cli("grade", DECK, answers, "--csv", *flags).stdout.splitlines()
    assert lines[0].endswith(",missing,answered,input_score,input_input_score,input_final_score,input_llm,student,answer")
    assert lines[1].endswith(",5,orig,abc,mine,ann,portability")


def test_grade_answers_in_one_process_checks_each_answer_once(seed_deck, monkeypatch):
    """In this process the pairs were type-checked twice: by grade_answers, for worker processes, and again by the
    grader (``grade_many_facts``), which checks every batch it is given."""
    import grader.batch
    import grader.grading
    from grader.models import check_types

    checked: list[str] = []

    def counted(card, answers):
        checked.extend(answers)
        check_types(card, answers)

    monkeypatch.setattr(grader.batch, "check_types", counted)
    monkeypatch.setattr(grader.grading, "check_types", counted)
    answers = ["sharing", "emulation", "isolation"]
    assert len(list(grade_answers([(seed_deck.cards[2], a) for a in answers], KeywordGrader(), chunk=2))) == 3
    assert sorted(checked) == sorted(answers)
