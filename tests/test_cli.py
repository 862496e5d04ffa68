"""The real ``grader`` command, run as a user runs it."""

from __future__ import annotations

import csv
import io
import json
import re
from unittest.mock import patch

import pytest

from .conftest import ROOT, SEED_DECK, run_cli

DECK = str(SEED_DECK)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_grade_json_contract_and_passthrough(tmp_path):
    answers = write(
        tmp_path,
        "a.jsonl",
        json.dumps({"card": 3, "answer": "sharing, aggregation, emulation, isolation", "student": "ann"})
        + "\n"
        + json.dumps({"question": "What are examples of managed execution?", "answer": "sharing", "score": 5})
        + "\n"
        + json.dumps({"card": 3, "answer": "I don't know"})
        + "\n",
    )
    result = run_cli("grade", DECK, answers, "--json")
    assert result.returncode == 0, result.stderr
    first, second, third = (json.loads(line) for line in result.stdout.splitlines())
    for key in ("card", "number", "score", "verdict", "matched", "missing", "terms", "answered"):
        assert key in first
    assert first["answered"] is True and third["answered"] is False and third["verdict"] == "incorrect"
    assert first["number"] == 3 and first["verdict"] == "correct" and first["score"] == 1.0
    assert first["student"] == "ann" and first["missing"] == []
    assert len(first["card"]) == 10
    assert second["input_score"] == 5 and second["matched"] == ["sharing"]
    assert set(second["missing"]) == {"aggregation", "emulation", "isolation"}


def test_grade_csv_yaml_and_report(tmp_path):
    answers = write(tmp_path, "a.yaml", "- card: 1\n  answer: portability and managed execution\n  student: bo\n- card: 15\n  answer: offline and live\n")
    report = tmp_path / "report.md"
    result = run_cli("grade", DECK, answers, "--csv", "--report", str(report))
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["number"] for r in rows] == ["1", "15"] and rows[0]["student"] == "bo"
    assert rows[1]["verdict"] == "correct"
    text = report.read_text()
    assert "| 2 | 15 |" in text and "**2 answers**" in text


def test_grade_table_output(tmp_path):
    answers = write(tmp_path, "a.csv", "card,answer\n15,offline and live migration\n")
    result = run_cli("grade", DECK, answers)
    assert result.returncode == 0
    header, row = result.stdout.splitlines()
    assert header.split() == ["#", "card", "score", "verdict", "answer", "matched", "/", "missing"]
    assert row.split() == ["1", "15", "1.00", "correct", "offline", "and", "live", "migration", "offline", "migration,", "live", "migration"]


def test_grade_table_shows_who_and_what(tmp_path):
    long_answer = "offline migration and live migration, " + "which moves a running machine between hosts " * 4
    answers = write(tmp_path, "a.csv", f'student,id,card,answer\nann,7,15,"{long_answer}"\nbartholomew-the-third,8,15,\x1b[31mlive\n')
    result = run_cli("grade", DECK, answers)
    assert result.returncode == 0, result.stderr
    header, first, second = result.stdout.splitlines()
    assert header.split()[:7] == ["#", "card", "student", "id", "score", "verdict", "answer"]
    assert first.split()[:6] == ["1", "15", "ann", "7", "1.00", "correct"]
    cell = re.search(r"correct +(offline .*?…) ", first).group(1)  # cut at a word, within its column
    assert long_answer.startswith(cell[:-1]) and long_answer[len(cell) - 1] == " " and len(cell) <= 40
    assert long_answer.strip() not in first
    assert "bartholomew-t…" in second and "\x1b" not in second  # a long name is cut; escapes never reach the terminal


def test_grade_table_columns_line_up_with_wide_and_combining_characters(tmp_path):
    """A Chinese character or an emoji takes two cells of a terminal, a combining accent none: the columns were
    measured in characters, so every row with such text pushed the columns after it out of line."""
    from rich.cells import cell_len

    deck = write(tmp_path, "zh.md", '1. <details markdown=1><summary markdown="span"> 什么是虚拟机？ </summary>\n\n    在==虚拟机监控器==上运行的==计算机仿真==。\n\n</details>\n')
    answers = [
        ("学生甲", "它是运行在虚拟机监控器上的计算机仿真，也就是一台完整的计算机"),
        ("Zoë", "计算机仿真 🚀"),
        ("Re\u0301ne\u0301", "an emulation of a computer"),
        ("ann", "monitor"),
    ]
    path = write(tmp_path, "a.csv", "student,card,answer\n" + "".join(f"{who},1,{what}\n" for who, what in answers))
    result = run_cli("grade", deck, path)
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    width = cell_len(header[: header.index("matched")])  # where the terms begin, in cells
    for row, (who, _) in zip(rows, answers):
        assert who in row
        at = next(i for i in range(len(row) + 1) if cell_len(row[:i]) >= width)  # the terms' column, in characters
        assert cell_len(row[:at]) == width and row[at - 2 : at] == "  " and row[at] != " ", row
    assert "…" in rows[0] and cell_len(rows[0][: rows[0].index("…") + 1]) <= width


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("a.jsonl", '{"card": 99, "answer": "x"}\n', "a.jsonl:1: card '99' is not in"),
        ("a.jsonl", '{"card": 1, "answer": "x"}\n{oops\n', "a.jsonl:2: invalid JSON"),
        ("a.jsonl", '{"card": 1}\n', "a.jsonl:1: row has no 'answer' field"),
        ("a.jsonl", '{"answer": "x"}\n', "a.jsonl:1: row names no card"),
        ("a.csv", "card,answer\n1,ok\n,nothing\n", "a.csv:3: row names no card"),
        ("a.yaml", "- card: 1\n  answer: ok\n- question: Who knows?\n  answer: x\n", "a.yaml:3: no card in"),
        ("a.txt", "hello\n", "a.txt: unknown answers format"),
        ("a.jsonl", "", "a.jsonl:1: answers file has no rows"),
    ],
)
def test_grade_errors_are_one_line_with_file_and_line(tmp_path, name, content, expected):
    path = write(tmp_path, name, content)
    result = run_cli("grade", DECK, path, "--json")
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and expected in lines[0], result.stderr


def test_missing_binary_and_huge_files(tmp_path):
    assert run_cli("cards", str(tmp_path / "nope.md")).stderr == f"Error: {tmp_path / 'nope.md'}: no such deck\n"
    binary = tmp_path / "b.md"
    binary.write_bytes(b"\x00" * 10)
    assert run_cli("cards", str(binary)).stderr == f"Error: {binary}:1: binary data, not a text deck\n"
    huge_deck = tmp_path / "huge.md"
    with huge_deck.open("wb") as fh:
        fh.truncate(21 * 1024 * 1024)
    result = run_cli("cards", str(huge_deck))
    assert result.returncode == 1 and result.stderr == f"Error: {huge_deck}: deck is too large (21 MB; the limit is 20 MB)\n"
    huge = tmp_path / "huge.jsonl"  # answers files have no size limit: they are read as a stream
    with huge.open("wb") as fh:
        fh.truncate(100 * 1024 * 1024)
    result = run_cli("grade", DECK, str(huge))
    assert result.returncode == 1 and result.stderr == f"Error: {huge}:1: binary data, not a text answers file\n"


def test_bad_usage_exits_2():
    result = run_cli("grade", DECK)
    assert result.returncode == 2 and "Missing argument" in result.stderr
    assert run_cli("grade", DECK, DECK, "--json", "--csv").returncode == 2


def test_cards_json():
    result = run_cli("cards", DECK, "--json")
    cards = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(cards) == 18
    assert cards[0]["key_terms"] == ["increased secuirity", "managed execution", "portability"]
    assert cards[16]["gradable"] is False and cards[17]["derived_terms"] is True


def test_cards_and_lint_with_no_deck_read_the_bundled_one():
    # Installed from a wheel, the bundled deck has no path a user knows: as practice does, cards and lint read it.
    assert run_cli("cards", "--json").stdout == run_cli("cards", DECK, "--json").stdout != ""
    bare, named = run_cli("lint"), run_cli("lint", DECK)
    assert (bare.returncode, bare.stdout) == (named.returncode, named.stdout) and "card answer is only an image" in bare.stdout


def test_cards_piped_is_one_tab_separated_line_a_card(tmp_path):
    deck = tmp_path / "deck.yaml"
    deck.write_text('cards:\n  - question: "Two\\tcolumns\\nand two lines?"\n    answer: "==alpha== and ==beta=="\n  - question: Why?\n    answer: Because.\n')
    lines = run_cli("cards", str(deck)).stdout.splitlines()
    assert lines[0].split("\t") == ["#", "id", "question", "key terms", "graded", "due", "last", "lapses"]
    assert [line.split("\t")[2:5] for line in lines[1:]] == [["Two columns and two lines?", "alpha; beta", "yes"], ["Why?", "", "self"]]
    assert all(line.count("\t") == 7 for line in lines)


def test_cards_at_a_terminal_is_a_drawn_table():
    shown = run_cli("cards", DECK, env={"FORCE_COLOR": "1", "NO_COLOR": "1"}).stdout
    assert "Virtualization" in shown and "┃" in shown and "\t" not in shown



@pytest.mark.parametrize("width", [20, 40, 60, 80, 120])
def test_cards_at_a_narrow_terminal_keeps_every_id_whole_and_every_question(width):
    """Squeezed to the width, the table drew every column empty at 20 columns and cut the ids ("29e7…") at 60."""
    from rich.console import Console

    from grader import load_deck
    from grader.render import cards_table

    deck = load_deck(DECK)
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(cards_table(deck.cards, deck.title, {}))
    lines = console.export_text().splitlines()
    assert max(map(len, lines)) <= width
    words = " ".join(lines).split()
    assert all(card.id in words for card in deck.cards)
    assert "characteristics" in words and "new" in words


def test_cards_at_a_terminal_measures_each_question_once():
    """Choosing the layout measured every cell of the whole table twice more: a fifth of the time on a large deck."""
    from rich.console import Console
    from rich.text import Text

    from grader.decks import parse_markdown
    from grader.render import cards_table

    md = "".join(f"<details><summary>Question number {i}?</summary>\n\n==answer {i}==\n\n</details>\n\n" for i in range(200))
    deck = parse_markdown(md).deck
    measured: list[str] = []
    measure = Text.__rich_measure__

    def counted(self, console, options):
        measured.append(self.plain)
        return measure(self, console, options)

    with patch.object(Text, "__rich_measure__", counted):
        Console(width=120, file=io.StringIO()).print(cards_table(deck.cards, deck.title))
    questions = {card.question for card in deck.cards}
    assert sum(text in questions for text in measured) <= len(deck.cards) + 10  # each as it is drawn, a few to choose the layout


@pytest.mark.parametrize("width", range(20, 90))
def test_cards_chooses_the_layout_the_whole_table_measures(width):
    """The layout is chosen by measuring the rows with each column's widest cell: the same as measuring every row."""
    from rich.console import Console
    from rich.measure import Measurement

    from grader.decks import parse_markdown
    from grader.render import cards_table

    questions = ["A short one?", "Which of these is the longest word: incomprehensibilities?", "Two?", "What is it?"]
    answers = ["==a==", "==b==", "==extraordinarily long key term==", "==c=="]
    md = "".join(f"<details><summary>{q}</summary>\n\n{a}\n\n</details>\n\n" for q, a in zip(questions, answers))
    deck = parse_markdown(md).deck
    fit = cards_table(deck.cards, deck.title, {})
    console = Console(width=width, file=io.StringIO())
    unbounded = console.options.update_width(10_000)
    whole = [c for c in fit.choices[:-1] if Measurement.get(console, unbounded, c).minimum <= width]
    chosen = next(fit.__rich_console__(console, console.options))
    assert chosen is (whole[0] if whole else fit.choices[-1])

def test_lint_reports_and_exit_code(tmp_path):
    result = run_cli("lint", DECK)
    assert result.returncode == 1
    assert f"{DECK}:158: card answer is only an image" in result.stdout
    clean = write(tmp_path, "ok.md", '1. <details markdown=1><summary markdown="span"> Q? </summary>\n\n    ==a==\n\n</details>\n')
    assert run_cli("lint", clean).returncode == 0


def test_practice_scripted_from_stdin():
    script = "sharing, aggregation, emulation and isolation\n/skip\nno idea\n"
    result = run_cli("practice", "--cards", "3,1,15", input=script)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.index("What are examples of managed execution?") < out.index("CORRECT")
    assert "What are 3 main characteristics" in out
    assert "INCORRECT" in out and "offline migration" in out
    assert "Session summary" in out and "Cards asked" in out


def test_a_width_of_zero_columns_is_taken_for_unset():
    """``COLUMNS=0`` (some CI runners and pseudo-terminals set it) made rich draw nothing: practice asked, graded and
    saved answers without showing a question, and stats printed an empty report."""
    practice = run_cli("practice", "--cards", "3", input="sharing\n", env={"COLUMNS": "0"})
    assert practice.returncode == 0, practice.stderr
    assert "What are examples of managed execution?" in practice.stdout and "PARTIAL" in practice.stdout
    stats = run_cli("stats", env={"COLUMNS": "0"})
    assert stats.stdout.startswith("Due today: ")


def test_practice_says_a_mistyped_command_and_grades_nothing():
    result = run_cli("practice", "--cards", "1", input="/foo\n/quit\n")
    assert result.returncode == 0, result.stderr
    assert "Unknown command /foo (commands: /skip /reveal /undo /suspend /bury /open /quit)" in result.stdout
    assert "Your answer" not in result.stdout and "INCORRECT" not in result.stdout
    exported = run_cli("history", "export")
    assert '"type": "attempt"' not in exported.stdout and '"type":"attempt"' not in exported.stdout


def test_practice_default_deck_from_another_directory(tmp_path):
    result = run_cli("practice", "--limit", "1", input="/quit\n", cwd=tmp_path)
    assert result.returncode == 0 and "What are 3 main characteristics" in result.stdout


def test_practice_says_when_an_answer_is_not_one():
    result = run_cli("practice", "--cards", "3,1", input="I don't know\nportability and managed execution\n")
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.split("What are 3 main characteristics")
    assert "Not an answer" in first and "INCORRECT" in first
    assert "Not an answer" not in second


def test_practice_self_graded_card_takes_a_rating():
    result = run_cli("practice", "--cards", "17", input="p\n")
    assert "Self-graded" not in result.stdout  # shown only after a typed answer on a terminal
    assert "virt6.png" in result.stdout and "partial" in result.stdout


def test_practice_rejects_bad_picks():
    result = run_cli("practice", "--cards", "0-99", input="")
    assert result.returncode == 1 and result.stderr.startswith("Error: --cards")


def test_readme_commands_exist():
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
    makefile = (ROOT / "Makefile").read_text()
    assert "\nrun:" in makefile and "\ntest:" in makefile
    top = run_cli("--help").stdout
    mentioned = set(re.findall(r"(?:`|\$ )grader ([a-z]+)", readme))
    assert {"practice", "grade", "cards", "lint"} <= mentioned
    for command in mentioned:
        assert f"  {command} " in top, command
