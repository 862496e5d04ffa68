"""Hostile and broken input never crashes, hangs, floods memory or overwrites what it reads (issue 11).

One table of cases across decks, answers files, settings, the environment, the
practice history and LLM replies. Each row runs ``grader`` as a user would and
states the exact one-line error and exit code (or the work done), and is held
to a time and a memory bound: in this process under a timer and tracemalloc,
or, for rows whose danger is a loop in C (a regex, a parser) that no timer can
stop, in a real process under ``RLIMIT_AS`` and a timeout. Property tests feed
random bytes and random structure to the answers readers and to history import;
the last tests write to a full disk and to a closed pipe.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import sqlite3
import stat
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader.errors import GraderError
from grader.store import Store

from .conftest import ROOT, SEED_DECK, run_cli

SECONDS = 15.0  # per row; the slowest runs in about a second
MEMORY = 200 * 1024 * 1024  # peak traced memory per in-process row
ADDRESS_SPACE = 2 * 1024**3  # RLIMIT_AS of a row run as a process (the interpreter with numpy takes ~0.5 GiB)

HEADER = '{"type":"header","format":"grader-history","version":1,"exported_at":"2024-05-01T12:00:00Z"}\n'
STATE = '{"phase":"learning","step":0,"stability":0.2,"difficulty":6.4,"due":"2024-05-01T12:01:00Z","last_review":"2024-05-01T12:00:00Z","reps":1,"lapses":0}'


def attempt_line(**changes: object) -> str:
    record = {
        "type": "attempt", "uid": "u1", "deck": "/decks/a.md", "card": "c1", "question": "Q?", "at": "2024-05-01T12:00:00Z",
        "answer": "a", "score": 1.0, "verdict": "correct", "rating": 3, "rated_by": "grader", "state_after": json.loads(STATE),
    }  # fmt: skip
    record.update(changes)
    return json.dumps(record) + "\n"


def nested(depth: int, inner: str = "") -> str:
    return "[" * depth + inner + "]" * depth


def yaml_bomb(levels: int = 9) -> str:
    """A "billion laughs": each alias level multiplies the size nine times."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines) + f"\n- card: 1\n  answer: *a{levels - 1}\n"


def history(home: Path, change: str | None = None) -> None:
    """A practice history with one answer, then changed by another program (SQL)."""
    assert run_cli("practice", "deck.md", "--cards", "1", input="sharing\n", cwd=Path.cwd()).returncode == 0
    if change:
        db = sqlite3.connect(home / "history.sqlite3")
        db.executescript(change)
        db.close()


@dataclass
class Case:
    """One hostile input: the files it needs, the command, and what must come of it."""

    id: str
    args: tuple[str, ...]
    files: dict[str, str | bytes] = field(default_factory=dict)
    error: str | None = None  # the exact stderr, one line; {home} is GRADER_HOME
    code: int = 1
    stdout: Callable[[str], bool] | None = None  # the work done, when it succeeds (run in the case's folder)
    env: dict[str, str] = field(default_factory=dict)
    setup: Callable[[Path], None] | None = None  # given GRADER_HOME, after the files are written
    process: bool = False  # run as a real process under RLIMIT_AS (a C loop a timer cannot stop)
    llm: str | None = None  # the fake LLM server's behaviour, for LLM rows
    untouched: tuple[str, ...] = ()  # files that must be byte for byte as before


def jsonl_rows(n: int) -> Callable[[str], bool]:
    """Output of n graded rows in JSON Lines, each with its keyword verdict."""
    return lambda out: len(rows := [json.loads(line) for line in out.splitlines()]) == n and all("verdict" in r for r in rows)


LONG_NAME = "n" * 300  # longer than any file system's limit on a name (255 bytes)
ANSWERS = '{"card": 1, "answer": "managed execution, portability"}\n{"card": 3, "answer": "sharing"}\n'

CASES = [
    # --- Decks ----------------------------------------------------------------------------
    Case("deck-yaml-integer-key", ("cards", "k.yaml"), {"k.yaml": "1: x\n"},
         "Error: k.yaml:1: cards: Field required (and 1 more problem: see grader lint)"),
    Case("deck-json-100k-deep", ("cards", "d.json"), {"d.json": nested(100_000)}, "Error: d.json: nested too deeply to be a deck"),
    Case("deck-yaml-100k-deep", ("cards", "d.yaml"), {"d.yaml": nested(100_000)}, "Error: d.yaml: nested too deeply to be a deck", process=True),
    Case("deck-yaml-alias-bomb", ("cards", "b.yaml"), {"b.yaml": yaml_bomb().replace("- card: 1\n  answer:", "cards:")}, process=True,
         error="Error: b.yaml: its aliases (*) repeat text to more than 20 MB, the limit of a deck"),
    Case("deck-superscript-count", ("lint", "d.md"), {"d.md": "<details><summary>Q?</summary>\n\n==a== ==b== ==c== <!-- any ² -->\n</details>\n"},
         code=1, stdout=lambda out: out == "d.md:1: '<!-- any ² -->' should give one count of key terms, as digits: <!-- any 2 -->\n"),
    Case("deck-json-5000-digits", ("cards", "d.json"), {"d.json": '[{"question": "a", "answer": "b", "required": ' + "1" * 5000 + "}]"},
         "Error: d.json: a number has more than 4,300 digits"),
    Case("deck-yaml-5000-digits", ("cards", "d.yaml"), {"d.yaml": "- question: a\n  answer: b\n  required: " + "1" * 5000 + "\n"},
         "Error: d.yaml: a number has more than 4,300 digits"),
    Case("deck-json-card-not-a-mapping", ("cards", "d.json"), {"d.json": '[{"question": "a", "answer": "b"}, 5]'},
         "Error: d.json:1: cards.1: should be a card, with 'question' and 'answer', not a number"),
    Case("deck-json-not-a-deck", ("cards", "d.json"), {"d.json": '"cards"'},
         "Error: d.json:1: should be a deck: a mapping with 'cards' (and 'title'), or a list of cards, not text"),
    Case("deck-images-32k", ("cards", "i.md"), {"i.md": "![" * 16_000},
         "Error: i.md:1: deck has no cards (no <details> blocks found, and no Obsidian or Logseq flashcards)", process=True),
    Case("deck-img-tags-32k", ("cards", "i.md"), {"i.md": "<img " * 6_400},
         "Error: i.md:1: deck has no cards (no <details> blocks found, and no Obsidian or Logseq flashcards)", process=True),
    Case("deck-nul-after-8k", ("cards", "n.md"), {"n.md": b"# T\n" + b"x" * 9000 + b"\n\x00\n"}, "Error: n.md:3: binary data, not a text deck"),
    Case("deck-not-utf8", ("cards", "l.md"), {"l.md": "# Café\n\nnoté\n".encode("latin-1")},
         "Error: l.md:1: not valid UTF-8 (byte 0xe9); save the deck as UTF-8"),
    Case("deck-missing", ("cards", "nowhere.md"), {}, "Error: nowhere.md: no such deck"),
    # A name longer than a file system allows (255 bytes) made pathlib's exists() raise on Python 3.11: a traceback.
    Case("deck-name-too-long", ("cards", LONG_NAME + ".md"), {}, f"Error: {LONG_NAME}.md: cannot read deck: File name too long"),
    Case("deck-folder-name-too-long", ("lint", LONG_NAME), {}, code=1,
         stdout=lambda out: out == f"{LONG_NAME}: cannot read deck: File name too long\n"),
    Case("deck-symlink-loop", ("cards", "loop.md"), {}, setup=lambda home: os.symlink("loop.md", "loop.md"),
         error="Error: loop.md: cannot read deck: Too many levels of symbolic links"),  # was "no such deck"
    Case("anki-name-too-long", ("cards", LONG_NAME + ".apkg"), {}, f"Error: {LONG_NAME}.apkg: cannot read deck: File name too long"),
    Case("deck-image-name-too-long", ("lint", "i.md"), {"i.md": f"<details><summary>Q?</summary>\n\n==a== ![]({LONG_NAME}.png)\n</details>\n"},
         code=1, stdout=lambda out: out == f"i.md:1: image not found: {LONG_NAME}.png (looked in {LONG_NAME}.png)\n"),
    Case("answers-name-too-long", ("grade", "deck.md", LONG_NAME + ".jsonl"), {},
         f"Error: {LONG_NAME}.jsonl: cannot read answers file: File name too long"),
    Case("dataset-name-too-long", ("eval", LONG_NAME + ".jsonl"), {}, f"Error: {LONG_NAME}.jsonl: cannot read dataset: File name too long"),
    Case("eval-report-name-too-long", ("eval", "--report", LONG_NAME), {}, f"Error: {LONG_NAME}: cannot write the report: File name too long"),
    Case("import-name-too-long", ("history", "import", LONG_NAME + ".jsonl"), {},
         f"Error: {LONG_NAME}.jsonl: cannot read history export: File name too long"),
    Case("settings-home-name-too-long", ("stats",), {}, env={"GRADER_HOME": LONG_NAME},
         error=f"Error: {LONG_NAME}/settings.toml: cannot read settings file: File name too long"),
    Case("deck-empty-folder", ("lint", "empty"), {"empty/notes.txt": "hello\n"},
         "Error: empty: no decks found (looked for .md files with <details> blocks, #flashcards tags or #card blocks, .yaml, .json, .apkg, .colpkg,"
         " Anki .txt exports and .csv files with a question,answer header)"),
    Case("deck-json-lone-surrogate", ("cards", "s.json", "--json"), {"s.json": '[{"question": "Q \\ud800?", "answer": "==a=="}]'},
         "Error: s.json:1: contains an escaped lone surrogate (like \\ud800), which is not text"),
    # --- Answers files --------------------------------------------------------------------
    Case("csv-unterminated-quote", ("grade", "deck.md", "a.csv"), {"a.csv": 'card,answer\n3,"sharing, aggregation\n3,emulation\n'},
         'Error: a.csv:2: a quoted cell opened on line 2 never closes (a missing ")'),
    Case("csv-duplicate-answer-column", ("grade", "deck.md", "a.csv"), {"a.csv": "card,answer,answer\n3,sharing,emulation\n"},
         "Error: a.csv:1: the header names the column 'answer' twice"),
    Case("csv-short-row", ("grade", "deck.md", "a.csv"), {"a.csv": "card,answer\n3,sharing\n4\n"}, "Error: a.csv:3: row has 1 cells; the header has 2"),
    Case("csv-cell-200k", ("grade", "deck.md", "a.csv"), {"a.csv": 'card,answer\n3,"' + "sharing " * 25_000 + '"\n'},
         "Error: a.csv:2: a cell is longer than 131,072 characters, the CSV limit"),
    # Snowball's stemmer copies a word for each "y" it marks: a long run of them took time quadratic in its length.
    Case("jsonl-answer-one-word-of-a-million-letters", ("grade", "deck.md", "a.jsonl", "--json"),
         {"a.jsonl": '{"card": 3, "answer": "' + "y" * 1_000_000 + '"}\n'}, code=0, stdout=jsonl_rows(1)),
    Case("jsonl-100k-deep", ("grade", "deck.md", "a.jsonl"), {"a.jsonl": '{"card": 1, "answer": "x", "e": ' + nested(100_000) + "}\n"},
         "Error: a.jsonl:1: row is nested more than 64 levels deep"),
    Case("jsonl-array-100k-deep", ("grade", "deck.md", "a.jsonl"), {"a.jsonl": nested(100_000)}, "Error: a.jsonl:1: row is nested more than 64 levels deep"),
    Case("jsonl-bad-line", ("grade", "deck.md", "a.jsonl"), {"a.jsonl": ANSWERS + '{"card": 2, "answer": \n'},
         "Error: a.jsonl:3: invalid JSON: Expecting value"),
    Case("jsonl-no-answer", ("grade", "deck.md", "a.jsonl"), {"a.jsonl": '{"card": 1}\n'}, "Error: a.jsonl:1: row has no 'answer' field"),
    Case("jsonl-unknown-card", ("grade", "deck.md", "a.jsonl"), {"a.jsonl": '{"card": 99, "answer": "x"}\n'},
         "Error: a.jsonl:1: card '99' is not in deck.md (use a card id from 'grader cards' or a number from 1 to 18)"),
    Case("jsonl-nul", ("grade", "deck.md", "a.jsonl"), {"a.jsonl": ANSWERS.encode() + b'{"card": 1, "answer": "a\x00"}\n'},
         "Error: a.jsonl:3: binary data, not a text answers file"),
    Case("jsonl-lone-surrogate-json", ("grade", "deck.md", "a.jsonl", "--json"),
         {"a.jsonl": '{"card": 1, "answer": "ok"}\n{"card": 3, "answer": "bad \\ud800 x", "n\\udc00": 1}\n'},
         code=0, stdout=lambda out: [json.loads(line)["answer"] for line in out.splitlines()] == ["ok", "bad \ud800 x"]),
    Case("jsonl-lone-surrogate-csv", ("grade", "deck.md", "a.jsonl", "--csv"),
         {"a.jsonl": '{"card": 1, "answer": "ok"}\n{"card": 3, "answer": "bad \\ud800 x"}\n'},
         code=0, stdout=lambda out: out.splitlines()[2].endswith(",bad \\ud800 x")),
    Case("jsonl-lone-surrogate-output", ("grade", "deck.md", "a.jsonl", "--output", "out.jsonl"),
         {"a.jsonl": '{"card": 1, "answer": "ok"}\n{"card": 3, "answer": "bad \\ud800 x"}\n'}, code=0,
         stdout=lambda out: [json.loads(line)["answer"] for line in Path("out.jsonl").read_text().splitlines()] == ["ok", "bad \ud800 x"]),
    Case("yaml-alias-bomb", ("grade", "deck.md", "a.yaml"), {"a.yaml": yaml_bomb()}, process=True,
         error="Error: a.yaml:1: YAML anchors and aliases (& and *) are not allowed in answers files"),
    Case("yaml-integer-key", ("grade", "deck.md", "a.yaml", "--csv"), {"a.yaml": "- {card: 1, answer: x, 3: y}\n"},
         code=0, stdout=lambda out: out.splitlines()[0].endswith(",missing,answered,3,answer") and out.splitlines()[1].endswith(",y,x")),
    Case("yaml-100k-deep", ("grade", "deck.md", "a.yaml"), {"a.yaml": "- card: 1\n  answer: x\n  e: " + nested(100_000) + "\n"}, process=True,
         error="Error: a.yaml:3: row is nested more than 64 levels deep"),
    Case("yaml-not-a-list", ("grade", "deck.md", "a.yaml"), {"a.yaml": "card: 1\nanswer: x\n"},
         "Error: a.yaml:1: YAML answers must be a list of rows (or a mapping with an 'answers' list)"),
    # Digits str.isdigit accepts but int refuses ("²"), and integers longer than int converts (4,300 digits)
    Case("csv-superscript-card", ("grade", "deck.md", "a.csv"), {"a.csv": "card,answer\n²,x\n"},
         "Error: a.csv:2: card '²' is not in deck.md (use a card id from 'grader cards' or a number from 1 to 18)"),
    Case("jsonl-superscript-card", ("grade", "deck.md", "a.jsonl"), {"a.jsonl": '{"card": "³", "answer": "x"}\n'},
         "Error: a.jsonl:1: card '³' is not in deck.md (use a card id from 'grader cards' or a number from 1 to 18)"),
    Case("review-superscript-card", ("review", "deck.md", "a.csv", "--export-only"), {"a.csv": "card,answer\n1,x\n²,x\n"},
         "Error: a.csv:3: card '²' is not in deck.md (use a card id from 'grader cards' or a number from 1 to 18)"),
    Case("csv-5000-digit-card", ("grade", "deck.md", "a.csv"), {"a.csv": "card,answer\n" + "1" * 5000 + ",x\n"},
         f"Error: a.csv:2: card '{'1' * 59}…' is not in deck.md (use a card id from 'grader cards' or a number from 1 to 18)"),
    Case("jsonl-5000-digit-field", ("grade", "deck.md", "a.jsonl"), {"a.jsonl": ANSWERS + '{"card": 1, "answer": "x", "n": ' + "1" * 5000 + "}\n"},
         "Error: a.jsonl:3: a number has more than 4,300 digits (write it as text, in quotes)"),
    Case("json-array-5000-digit-field", ("grade", "deck.md", "a.json"), {"a.json": '[{"card": 1, "answer": "x"},\n {"card": ' + "1" * 5000 + ', "answer": "x"}]'},
         "Error: a.json:2: a number has more than 4,300 digits (write it as text, in quotes)"),
    Case("jsonl-5000-digit-field-in-workers", ("grade", "deck.md", "a.jsonl", "--json", "--jobs", "2"),
         {"a.jsonl": ANSWERS * 3000 + '{"card": 1, "answer": "x", "n": ' + "1" * 5000 + "}\n"}, process=True,
         error="Error: a.jsonl:6001: a number has more than 4,300 digits (write it as text, in quotes)"),
    Case("yaml-5000-digit-field", ("grade", "deck.md", "a.yaml", "--csv"), {"a.yaml": "- card: 1\n  answer: x\n  n: " + "1" * 5000 + "\n"},
         code=0, stdout=lambda out: out.splitlines()[1].endswith("," + "1" * 5000 + ",x")),
    # An answers file in Excel's "Unicode Text" (UTF-16 with its byte order mark, tabs) is read: the mark names the
    # encoding. A Windows code page ("CSV (Comma delimited)") names none, and is not guessed.
    Case("csv-utf16", ("grade", "deck.md", "a.csv", "--csv"), {"a.csv": "\ufeffcard\tanswer\tstudent\r\n1\tx\tRené\r\n".encode("utf-16-le")},
         code=0, stdout=lambda out: out.splitlines()[1].endswith(",René,x")),
    Case("jsonl-utf32", ("grade", "deck.md", "a.jsonl", "--csv"), {"a.jsonl": '\ufeff{"card": 1, "answer": "é"}\n'.encode("utf-32-be")},
         code=0, stdout=lambda out: out.splitlines()[1].endswith(",é")),
    Case("csv-utf16-lone-surrogate", ("grade", "deck.md", "a.csv"), {"a.csv": "\ufeffcard,answer\n1,x\n".encode("utf-16-le") + b"\x00\xd8\n\x00"},
         "Error: a.csv:3: not valid UTF-16 (illegal UTF-16 surrogate); save the answers file as UTF-8"),
    Case("csv-utf16-nul", ("grade", "deck.md", "a.csv"), {"a.csv": "\ufeffcard,answer\n1,x\x00\n".encode("utf-16-be")},
         "Error: a.csv:2: binary data, not a text answers file"),
    Case("csv-cp1252", ("grade", "deck.md", "a.csv"), {"a.csv": "card,answer,student\r\n1,x,René\r\n".encode("cp1252")},
         'Error: a.csv:2: not valid UTF-8 (byte 0xe9); save the answers file as UTF-8 (in Excel: Save As "CSV UTF-8 (Comma delimited)")'),
    Case("deck-utf16", ("cards", "d.md"), {"d.md": "\ufeff<details><summary>Q?</summary>\n\n==a==\n</details>\n".encode("utf-16-be")},
         "Error: d.md:1: saved as UTF-16, not UTF-8; save the deck as UTF-8"),
    # The error names both ways out: an Excel "Unicode Text" export is a .txt, and --answers-format reads it.
    Case("answers-unknown-format", ("grade", "deck.md", "a.txt"), {"a.txt": "1,x\n"},
         "Error: a.txt: unknown answers format '.txt': name the file .jsonl, .csv or .yaml, or give --answers-format"),
    # A missing file or a folder without an extension was told its name had no format, a folder "not a answers file".
    Case("answers-missing-without-extension", ("grade", "deck.md", "answers"), {}, "Error: answers: no such answers file"),
    Case("answers-folder", ("grade", "deck.md", "."), {}, "Error: .: is a directory, not an answers file"),
    Case("answers-folder-named-csv", ("grade", "deck.md", "a.csv"), {}, "Error: a.csv: is a directory, not an answers file",
         setup=lambda home: os.mkdir("a.csv")),
    Case("answers-and-deck-swapped", ("grade", "a.csv", "deck.md"), {"a.csv": "card,answer\n1,x\n"},
         "Error: deck.md: unknown answers format '.md': name the file .jsonl, .csv or .yaml, or give --answers-format"
         " (this looks like a deck: the deck comes first, then the answers)"),
    Case("answers-missing", ("grade", "deck.md", "a.jsonl"), {}, "Error: a.jsonl: no such answers file"),
    # --- Never written over -------------------------------------------------------------------
    Case("report-onto-answers", ("grade", "deck.md", "a.jsonl", "--report", "a.jsonl"), {"a.jsonl": ANSWERS},
         "Error: a.jsonl: will not write over the answers file; choose another file", untouched=("a.jsonl",)),
    Case("report-onto-deck", ("grade", "deck.md", "a.jsonl", "--report", "./deck.md"), {"a.jsonl": ANSWERS},
         "Error: deck.md: will not write over the deck; choose another file", untouched=("deck.md",)),
    Case("report-onto-history", ("grade", "deck.md", "a.jsonl", "--report", "{home}/history.sqlite3"), {"a.jsonl": ANSWERS},
         "Error: {home}/history.sqlite3: will not write over your practice history; choose another file", setup=history),
    Case("report-onto-answers-by-symlink", ("grade", "deck.md", "a.jsonl", "--report", "link.md"), {"a.jsonl": ANSWERS},
         "Error: link.md: will not write over the answers file; choose another file", untouched=("a.jsonl",),
         setup=lambda home: os.symlink("a.jsonl", "link.md")),
    Case("report-onto-answers-by-hard-link", ("grade", "deck.md", "a.jsonl", "--report", "out/r.md"), {"a.jsonl": ANSWERS, "out/x": ""},
         "Error: out/r.md: will not write over the answers file; choose another file", untouched=("a.jsonl",),
         setup=lambda home: os.link("a.jsonl", "out/r.md")),
    Case("export-onto-history", ("history", "export", "{home}/history.sqlite3"), {},
         "Error: {home}/history.sqlite3: will not write over your practice history; choose another file", setup=history),
    Case("export-onto-history-wal", ("history", "export", "{home}/history.sqlite3-wal"), {},
         "Error: {home}/history.sqlite3-wal: will not write over your practice history's wal file; choose another file", setup=history),
    # An export replaced any file named, silently: "history export deck.md" for "backup.jsonl" cost the deck
    Case("export-onto-a-deck", ("history", "export", "deck.md"), {},
         "Error: deck.md: will not write over a file that is not a grader history export; choose another file", untouched=("deck.md",)),
    Case("export-over-an-earlier-export", ("history", "export", "h.jsonl"), {"h.jsonl": HEADER}, code=0,
         stdout=lambda out: (text := Path("h.jsonl").read_text()) != HEADER and text.startswith('{"type":"header","format":"grader-history"')),
    Case("export-over-an-empty-file", ("history", "export", "h.jsonl"), {"h.jsonl": ""}, code=0,
         stdout=lambda out: Path("h.jsonl").read_text().startswith('{"type":"header","format":"grader-history"')),
    # --- Settings and environment -------------------------------------------------------------
    Case("settings-practice-not-a-table", ("stats",), {"{home}/settings.toml": "practice = [1, 2]\n"},
         "Error: {home}/settings.toml:1: practice must be a table ([practice] with its settings under it), not an array"),
    Case("settings-grading-not-a-table", ("grade", "deck.md", "a.jsonl"), {"a.jsonl": ANSWERS, "{home}/settings.toml": "grading = 3\n"},
         "Error: {home}/settings.toml:1: grading must be a table ([grading] with its settings under it), not an integer"),
    Case("settings-llm-array-of-tables", ("grade", "deck.md", "a.jsonl"), {"a.jsonl": ANSWERS, "{home}/settings.toml": "[[llm]]\nmodel = 'm'\n"},
         "Error: {home}/settings.toml:1: llm must be a table ([llm] with its settings under it), not an array"),
    Case("settings-practice-unknown", ("practice", "deck.md"), {"{home}/settings.toml": "[grading]\n\n[practice]\nnew_cards = 3\n"},
         "Error: {home}/settings.toml:4: [practice] has no setting 'new_cards'"),
    Case("settings-unknown-table", ("practice", "deck.md"), {"{home}/settings.toml": "[grading]\n\n[practic]\nnew_per_day = 3\n"},
         "Error: {home}/settings.toml:3: the settings file has no table [practic] (its tables: [llm], [grading], [practice])"),
    Case("settings-setting-outside-a-table", ("stats",), {"{home}/settings.toml": "new_per_day = 3\n\n[practice]\n"},
         "Error: {home}/settings.toml:1: new_per_day is not in a table: settings go under [llm], [grading] or [practice]"),
    # Accepted, then the first answer of a sitting ended in a traceback (OverflowError) when its card was rescheduled.
    Case("settings-learn-ahead-endless", ("practice", "deck.md", "--cards", "1"), {"{home}/settings.toml": "[practice]\nlearn_ahead_minutes = inf\n"},
         "Error: {home}/settings.toml:2: [practice] learn_ahead_minutes: Input should be less than or equal to 525600"),
    Case("settings-practice-bad-value", ("stats",), {"{home}/settings.toml": "[practice]\nday_starts_at = [4]\n"},
         "Error: {home}/settings.toml:2: [practice] day_starts_at: Input should be a valid integer"),
    Case("settings-infinite-timeout", ("grade", "deck.md", "a.jsonl"), {"a.jsonl": ANSWERS, "{home}/settings.toml": "[llm]\ntimeout = inf\n"},
         "Error: {home}/settings.toml:2: [llm] timeout: Input should be a finite number"),
    Case("settings-bad-toml", ("stats",), {"{home}/settings.toml": "[practice\n"},
         "Error: {home}/settings.toml:1: invalid TOML: Expected ']' at the end of a table declaration"),
    Case("settings-not-utf8", ("stats",), {"{home}/settings.toml": b"[practice]\n# caf\xe9\n"},
         "Error: {home}/settings.toml:2: not valid UTF-8 (byte 0xe9); save the settings file as UTF-8"),
    Case("settings-a-pipe", ("stats",), {}, setup=lambda home: os.mkfifo(home / "settings.toml"),
         error="Error: {home}/settings.toml: is a pipe, not a settings file"),
    Case("env-offline-maybe", ("grade", "deck.md", "a.jsonl"), {"a.jsonl": ANSWERS}, env={"GRADER_OFFLINE": "maybe"},
         error="Error: setting 'offline' from environment GRADER_OFFLINE: 'maybe' is not true or false (use 1/0, true/false, yes/no or on/off)"),
    Case("env-llm-maybe", ("practice", "deck.md"), {}, env={"GRADER_LLM": "sometimes"},
         error="Error: setting 'enabled' from environment GRADER_LLM: 'sometimes' is not true or false (use 1/0, true/false, yes/no or on/off)"),
    Case("env-timeout-words", ("grade", "deck.md", "a.jsonl"), {"a.jsonl": ANSWERS}, env={"GRADER_LLM_TIMEOUT": "soon"},
         error="Error: setting 'timeout' from environment GRADER_LLM_TIMEOUT: Input should be a valid number, unable to parse string as a number"),
    # --- History: import ------------------------------------------------------------------------
    Case("import-naive-timestamp", ("history", "import", "h.jsonl"), {"h.jsonl": HEADER + attempt_line(at="2024-05-01T12:00:00")},
         "Error: h.jsonl:2: not a grader history line: at: timestamp has no time zone (write it in UTC, e.g. 2024-05-01T12:00:00Z)"),
    Case("import-naive-state", ("history", "import", "h.jsonl"), {"h.jsonl": HEADER + attempt_line(state_after={**json.loads(STATE), "due": "2024-05-02T00:00:00"})},
         "Error: h.jsonl:2: not a grader history line: state_after.due: timestamp has no time zone (write it in UTC, e.g. 2024-05-01T12:00:00Z)"),
    Case("import-not-an-export", ("history", "import", "h.jsonl"), {"h.jsonl": '{"card": 1, "answer": "x"}\n'},
         "Error: h.jsonl:1: not a grader history export (the first line must be its header)"),
    # A header written by hand without its exported_at was told the file had no header at all.
    Case("import-header-missing-a-field", ("history", "import", "h.jsonl"), {"h.jsonl": '{"type":"header","format":"grader-history","version":1}\n'},
         "Error: h.jsonl:1: not a grader history header: exported_at: Field required"),
    Case("import-newer-version", ("history", "import", "h.jsonl"), {"h.jsonl": HEADER.replace('"version":1', '"version":9')},
         "Error: h.jsonl:1: history format version 9 is newer than this grader's (1)"),
    # A newer header may carry fields this grader never heard of: it was "not a grader history export" (line 1, or a
    # "header.app: Extra inputs" error for a second export joined with cat), which sent the user looking for the wrong file.
    Case("import-newer-version-new-field", ("history", "import", "h.jsonl"), {"h.jsonl": HEADER.replace('"version":1', '"version":2,"app":"grader 9"')},
         "Error: h.jsonl:1: history format version 2 is newer than this grader's (1)"),
    Case("import-joined-newer-export", ("history", "import", "h.jsonl"), {"h.jsonl": HEADER + attempt_line() + HEADER.replace('"version":1', '"version":2,"app":"grader 9"')},
         "Error: h.jsonl:3: history format version 2 is newer than this grader's (1)"),
    Case("import-lone-surrogate", ("history", "import", "h.jsonl"), {"h.jsonl": HEADER + attempt_line(answer="\ud800")},
         "Error: h.jsonl:2: not a grader history line: Invalid JSON: unexpected end of hex escape at line 1 column 136"),
    Case("import-100k-deep", ("history", "import", "h.jsonl"), {"h.jsonl": HEADER + attempt_line(feedback="@").replace('"@"', nested(100_000))},
         "Error: h.jsonl:2: not a grader history line: Invalid JSON: recursion limit exceeded at line 1 column 597"),
    # Accepted once, then stats and practice failed with a traceback ('complex' object has no attribute 'clamp').
    Case("import-negative-stability", ("history", "import", "h.jsonl"), {"h.jsonl": HEADER + attempt_line(state_after={**json.loads(STATE), "stability": -1})},
         "Error: h.jsonl:2: not a grader history line: attempt.state_after.stability: Input should be greater than 0"),
    Case("import-difficulty-out-of-range", ("history", "import", "h.jsonl"), {"h.jsonl": HEADER + attempt_line(state_after={**json.loads(STATE), "difficulty": 11})},
         "Error: h.jsonl:2: not a grader history line: attempt.state_after.difficulty: Input should be less than or equal to 10"),
    Case("import-infinite-seconds", ("history", "import", "h.jsonl"), {"h.jsonl": HEADER + attempt_line(seconds=1e999)},
         "Error: h.jsonl:2: not a grader history line: attempt.seconds: Input should be a finite number"),
    # Accepted, and stats said the time spent was a 300-digit number of minutes. No answer takes more than a day.
    Case("import-absurd-seconds", ("history", "import", "h.jsonl"), {"h.jsonl": HEADER + attempt_line(seconds=1e300)},
         "Error: h.jsonl:2: not a grader history line: attempt.seconds: Input should be less than or equal to 86400"),
    Case("import-seconds-over-a-day", ("history", "import", "h.jsonl"), {"h.jsonl": HEADER + attempt_line(seconds=86400.5)},
         "Error: h.jsonl:2: not a grader history line: attempt.seconds: Input should be less than or equal to 86400"),
    Case("import-negative-seconds", ("history", "import", "h.jsonl"), {"h.jsonl": HEADER + attempt_line(seconds=-1)},
         "Error: h.jsonl:2: not a grader history line: attempt.seconds: Input should be greater than or equal to 0"),
    Case("import-seconds-a-day", ("history", "import", "h.jsonl"), {"h.jsonl": HEADER + attempt_line(seconds=86400)}, code=0,
         stdout=lambda out: out == "Imported answers: 1 new, 0 already in your history; cards: 0.\n"),
    Case("import-the-database", ("history", "import", "{home}/history.sqlite3"), {},
         "Error: {home}/history.sqlite3:1: binary data, not a text history export", setup=history, untouched=("{home}/history.sqlite3",)),
    Case("import-bad-verdict", ("history", "import", "h.jsonl"), {"h.jsonl": HEADER + attempt_line(verdict="great")},
         "Error: h.jsonl:2: not a grader history line: attempt.verdict: Input should be 'correct', 'partial', 'incorrect' or 'self-graded'"),
    # --- History: the database ------------------------------------------------------------------
    Case("history-renamed-column", ("stats",), {}, setup=lambda home: history(home, "ALTER TABLE attempts RENAME COLUMN verdict TO verdikt"),
         error="Error: {home}/history.sqlite3: the practice history's attempts table has no column verdict: another program changed it; move it aside, and import a backup if you have one (grader history import)"),
    Case("history-dropped-table", ("history", "export"), {}, setup=lambda home: history(home, "DROP TABLE attempts"),
         error="Error: {home}/history.sqlite3: the practice history has no attempts table: another program changed it; move it aside, and import a backup if you have one (grader history import)"),
    Case("history-damaged-state", ("stats",), {}, setup=lambda home: history(home, "UPDATE cards SET state = 'garbage' WHERE state IS NOT NULL"),
         error="Error: {home}/history.sqlite3: the practice history holds a damaged record (Invalid JSON: expected value at line 1 column 1): another program changed it; move it aside, and import a backup if you have one (grader history import)"),
    Case("history-empty-file", ("stats",), {"{home}/history.sqlite3": b""},
         "Error: {home}/history.sqlite3: the practice history is an empty file (0 bytes): what it held is lost; delete it to start afresh, and import a backup if you have one (grader history import)",
         untouched=("{home}/history.sqlite3",)),
    Case("history-not-a-database", ("stats",), {"{home}/history.sqlite3": b"not a database" * 100},
         "Error: {home}/history.sqlite3: cannot open the practice history: file is not a database", untouched=("{home}/history.sqlite3",)),
    # Another program's database where the history belongs: grader once added its tables to it (and switched it to WAL).
    Case("history-another-programs-database", ("history", "import", "h.jsonl"), {"h.jsonl": HEADER + attempt_line()},
         "Error: {home}/history.sqlite3: not a grader history: the database holds another program's tables (notes); move it aside, or set GRADER_HOME to another folder",
         setup=lambda home: sqlite3.connect(home / "history.sqlite3").executescript("CREATE TABLE notes (body TEXT)").close(),
         untouched=("{home}/history.sqlite3",)),
    # --- LLM replies: grading goes on in keyword mode ---------------------------------------------
    *[
        Case(f"llm-{behaviour}", ("grade", "deck.md", "a.jsonl", "--json", "--llm"), {"a.jsonl": ANSWERS}, code=0, stdout=jsonl_rows(2), llm=behaviour)
        for behaviour in (
            "html", "truncated_body", "wrong_content_type", "invalid_json", "schema_violation", "reset", "server_error", "refusal",
            "trickle", "hang",  # bounded by the whole-reply timeout (1 s here), not by the server
        )
    ],
]  # fmt: skip


@contextmanager
def bounded(seconds: float, memory: int):
    """Fail the block if it runs longer than ``seconds`` or its traced memory peaks above ``memory``."""

    def too_slow(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, too_slow)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    tracemalloc.start()
    try:
        yield
        peak = tracemalloc.get_traced_memory()[1]
        assert peak < memory, f"peak traced memory {peak / 2**20:.0f} MiB"
    finally:
        tracemalloc.stop()
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _limit_address_space() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


@pytest.fixture(scope="module", autouse=True)
def _imported():
    """The bounds measure commands, not the first import of the libraries they load."""
    import numpy  # noqa: F401
    import openai  # noqa: F401
    import rapidfuzz  # noqa: F401
    import yaml  # noqa: F401

    import grader.cli  # noqa: F401


def run_case(case: Case, cwd: Path, home: Path, env: dict[str, str]):
    args = [a.replace("{home}", str(home)) for a in case.args]
    if not case.process:
        with bounded(SECONDS, MEMORY):
            return run_cli(*args, cwd=cwd, env=env)
    return subprocess.run(
        [sys.executable, "-m", "grader", *args],
        check=False, capture_output=True, text=True, cwd=cwd, timeout=SECONDS, preexec_fn=_limit_address_space,
        env={**os.environ, "COLUMNS": "120", "PYTHONPATH": str(ROOT), **env},
    )  # fmt: skip


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=[pytest.mark.slow] if c.process else []) for c in CASES])
def test_hostile_input(case: Case, tmp_path, isolated_env, request, monkeypatch):
    home = isolated_env
    (tmp_path / "deck.md").write_bytes(SEED_DECK.read_bytes())
    for name, content in case.files.items():
        path = Path(name.replace("{home}", str(home)))
        path = path if path.is_absolute() else tmp_path / path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        if case.setup:
            case.setup(home)
    finally:
        os.chdir(cwd)
    watched = {name: _read(tmp_path, home, name) for name in case.untouched}
    env = dict(case.env)
    if case.llm:
        fake = request.getfixturevalue("fake_openai")
        fake.behaviour = case.llm
        env.update({"OPENAI_API_KEY": "sk-test-0123456789abcdef", "OPENAI_BASE_URL": fake.base_url, "GRADER_MODEL": "fake-model"})
        (home / "settings.toml").write_text("[llm]\nmax_retries = 0\nrepair_attempts = 0\ntimeout = 1\n", encoding="utf-8")

    result = run_case(case, tmp_path, home, env)

    assert "Traceback" not in result.stderr, result.stderr
    if case.error is not None:
        assert (result.returncode, result.stderr) == (case.code, case.error.replace("{home}", str(home)) + "\n")
    else:
        assert result.returncode == case.code, result.stderr
    if case.stdout is not None:
        monkeypatch.chdir(tmp_path)  # where the files it wrote are
        assert case.stdout(result.stdout), result.stdout[:2000]
    for name, before in watched.items():
        assert _read(tmp_path, home, name) == before, f"{name} was changed"


def _read(tmp: Path, home: Path, name: str) -> bytes:
    path = Path(name.replace("{home}", str(home)))
    return (path if path.is_absolute() else tmp / path).read_bytes()


def test_the_table_is_long_enough():
    assert len(CASES) >= 40 and len({c.id for c in CASES}) == len(CASES)


# --- An unreadable deck in a folder is reported, not skipped ---------------------------------


def test_an_unreadable_deck_in_a_folder_is_reported(tmp_path, monkeypatch):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "good.md").write_bytes(SEED_DECK.read_bytes())
    secret = notes / "secret.md"
    secret.write_bytes(SEED_DECK.read_bytes())
    if os.geteuid() == 0:  # root reads anything: refuse this one file the way the kernel would
        real_open = Path.open

        def guarded_open(self, *args, **kwargs):
            if self.absolute() == secret:
                raise PermissionError(13, "Permission denied", str(self))
            return real_open(self, *args, **kwargs)

        monkeypatch.setattr(Path, "open", guarded_open)
    else:
        secret.chmod(0)
    result = run_cli("lint", "notes", cwd=tmp_path)
    assert result.returncode == 1
    assert "notes/secret.md: cannot read deck: Permission denied" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_a_history_that_cannot_be_looked_at_is_one_line(tmp_path, seed_deck):
    """Reading a history whose path cannot even be looked at (a name too long; a folder on the way one may not
    enter) is StoreError's one line; pathlib's exists() raised it on Python 3.11, a traceback in cards and stats."""
    from datetime import datetime, timezone

    from grader.errors import StoreError
    from grader.stats import card_progress

    history = tmp_path / LONG_NAME / "history.sqlite3"
    expected = f"{history}: cannot open the practice history: File name too long"
    with pytest.raises(StoreError) as opened:
        Store(history, read_only=True)
    with pytest.raises(StoreError) as listed:
        card_progress(seed_deck, now=datetime.now(timezone.utc), history=history)
    assert str(opened.value) == str(listed.value) == expected


# --- Property: random bytes and random structure give rows or one-line errors, never a traceback ---

_SUFFIXES = [".jsonl", ".csv", ".yaml"]
_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
_json_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)
_rows = st.dictionaries(
    st.sampled_from(["card", "question", "answer", "student", "x"]) | st.text(max_size=6),
    _json_values | st.integers(-2, 30).map(str),
    max_size=5,
)


def _read_or_error(path: Path) -> None:
    """Read an answers file; only the project's own errors may come out."""
    from grader.answers import read_answers

    try:
        rows = read_answers(path)
    except GraderError as exc:
        assert exc.path == str(path)  # it names the file
    else:
        assert rows and all(isinstance(r.answer, str) for r in rows)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=400), suffix=st.sampled_from(_SUFFIXES))
def test_answers_readers_take_random_bytes(tmp_path_factory, data, suffix):
    path = tmp_path_factory.mktemp("bytes") / f"answers{suffix}"
    path.write_bytes(data)
    _read_or_error(path)


def _as_file(rows: list[dict], suffix: str) -> str:
    import csv
    import io

    import yaml

    if suffix == ".jsonl":
        return "".join(json.dumps(r) + "\n" for r in rows)
    if suffix == ".yaml":
        return yaml.safe_dump(rows, allow_unicode=True)
    out = io.StringIO()
    columns = list(dict.fromkeys(k for r in rows for k in r)) or ["answer"]
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    for r in rows:
        writer.writerow({k: v if isinstance(v, str) else json.dumps(v) for k, v in r.items()})
    return out.getvalue()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(_rows, max_size=5), suffix=st.sampled_from(_SUFFIXES))
def test_answers_readers_take_random_structure(tmp_path_factory, rows, suffix):
    path = tmp_path_factory.mktemp("rows") / f"answers{suffix}"
    path.write_text(_as_file(rows, suffix), encoding="utf-8", errors="surrogatepass")
    _read_or_error(path)


@pytest.mark.parametrize("flags", [("--json",), ("--json", "--jobs", "2")])
def test_line_separators_inside_answers_and_fields_stay_inside_their_line(tmp_path, flags):
    """JSON leaves U+0085, U+2028 and U+2029 raw in strings, and other readers end a line there: they are escaped."""
    rows = [{"card": 1, "answer": "portability\u2028managed execution", "\x85": "a\u2029b"}, {"card": 2, "answer": "x\x85y"}]
    path = tmp_path / "answers.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = run_cli("grade", str(SEED_DECK), str(path), *flags)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(rows)
    assert [json.loads(line)["answer"] for line in lines] == [r["answer"] for r in rows]
    assert json.loads(lines[0])["\x85"] == "a\u2029b"


def _answer_rows(text: str, rows: list[dict], suffix: str) -> int:
    """The rows grading answers: every row, but a CSV row of blank cells (a spreadsheet's padding, ",,,")."""
    import csv
    import io

    if suffix != ".csv":
        return len(rows)
    return sum(any(cell.strip() for cell in row) for row in list(csv.reader(io.StringIO(text, newline="")))[1:])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(rows=st.lists(_rows, min_size=1, max_size=4), suffix=st.sampled_from(_SUFFIXES))
def test_grading_random_rows_writes_every_row_or_one_error(tmp_path_factory, rows, suffix):
    """The whole command on random rows: JSON Lines for each row, or one error line and exit 1."""
    tmp = tmp_path_factory.mktemp("grade")
    path = tmp / f"answers{suffix}"
    path.write_text(_as_file(rows, suffix), encoding="utf-8", errors="surrogatepass")
    result = run_cli("grade", str(SEED_DECK), str(path), "--json")
    if result.returncode == 0:
        assert len(result.stdout.splitlines()) == _answer_rows(path.read_text(encoding="utf-8", errors="surrogatepass"), rows, suffix)
    else:
        assert (result.returncode, result.stdout) == (1, "")
        assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr


_ATTEMPT = json.loads(attempt_line())
_CARD = {"type": "card", "deck": "/decks/a.md", "deck_title": "A", "card": "c1", "question": "Q?", "answer": "a", "present": True, "state": json.loads(STATE)}
_records = st.one_of(
    _json_values,
    # A real record with one field given a random value, or removed.
    st.tuples(st.sampled_from([_ATTEMPT, _CARD]), st.text(max_size=12) | st.sampled_from(sorted(_ATTEMPT)), _json_values | st.just(KeyError)).map(
        lambda t: {k: v for k, v in {**t[0], t[1]: t[2]}.items() if v is not KeyError}
    ),
)


def _import_or_error(text: bytes, tmp: Path) -> None:
    from grader.history_file import import_file

    export = tmp / "h.jsonl"
    export.write_bytes(text)
    try:
        import_file(export, history=tmp / "h.sqlite3")
    except GraderError as exc:
        assert exc.path == str(export) and "\n" not in str(exc)
    else:  # what was imported reads back
        with Store(tmp / "h.sqlite3") as store:
            store.cards(), store.attempts()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=300), with_header=st.booleans())
def test_history_import_takes_random_bytes(tmp_path_factory, data, with_header):
    _import_or_error((HEADER.encode() if with_header else b"") + data, tmp_path_factory.mktemp("import"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=st.lists(_records, max_size=4))
def test_history_import_takes_random_records(tmp_path_factory, records):
    text = HEADER + "".join(json.dumps(r) + "\n" for r in records)
    _import_or_error(text.encode("utf-8", "surrogatepass"), tmp_path_factory.mktemp("import"))


# --- A new history is never an empty file -----------------------------------------------------


def test_a_new_history_appears_whole(tmp_path):
    path = tmp_path / "h.sqlite3"
    with Store(path):
        assert path.stat().st_size > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.sqlite3"]  # no temporary left behind
    with Store(path) as store:  # and it opens again as a history
        assert store.attempts() == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
@pytest.mark.parametrize("command", [("stats",), ("cards", str(SEED_DECK)), ("history", "export"), ("practice", str(SEED_DECK))])
def test_a_history_that_is_a_pipe_is_refused_not_waited_on(command, isolated_env):
    """SQLite opened a named pipe in the history's place to read it, and stats, cards and history export waited for
    a writer for ever (SQLite retries an interrupted open, so only a process's timeout stops it); practice said
    'disk I/O error'."""
    history = isolated_env / "history.sqlite3"
    os.mkfifo(history)
    result = subprocess.run(
        [sys.executable, "-m", "grader", *command], check=False, capture_output=True, text=True, stdin=subprocess.DEVNULL,
        timeout=30, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    message = "the practice history is not a file (a pipe, a device or a folder): move it away"
    assert (result.returncode, result.stderr) == (1, f"Error: {history}: {message}\n")


def test_an_empty_history_is_refused_and_kept(tmp_path):
    path = tmp_path / "h.sqlite3"
    path.touch()
    with pytest.raises(GraderError, match=r"h\.sqlite3: the practice history is an empty file \(0 bytes\)"):
        Store(path)
    assert path.stat().st_size == 0


# --- eval --report shows dataset text, never runs it -------------------------------------------


def test_eval_reports_escape_html_and_links_from_the_data(tmp_path):
    rows = [
        {
            "question_id": "<img src=x onerror=alert(1)>" if i % 2 else "q2",
            "question": "What is <script>alert(1)</script> [x](javascript:alert(1))?",
            "reference_answer": "reliable ordered delivery with flow control",
            "answer": ["[click](javascript:alert(document.cookie)) <b>bold</b> reliable", "ordered delivery", "<iframe src=javascript:alert(1)>"][i % 3],
            "score": i % 3,
            "max_score": 2,
        }
        for i in range(12)
    ]
    data = tmp_path / "hostile.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = run_cli("eval", str(data), "--report", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    md = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    for raw in ("<script", "<img", "<iframe", "<b>"):
        assert raw not in md and raw not in page, raw
    assert not re.search(r"(?<!\\)\]\(javascript:", md)  # an escaped bracket makes no link
    assert r"\[click\](javascript:alert(document.cookie)) &lt;b&gt;bold&lt;/b&gt; reliable" in md
    assert "&lt;iframe src=javascript:alert(1)&gt;" in page


# --- Output to a full disk and to a closed pipe --------------------------------------------------

FULL = Path("/dev/full")


def _grader(*args: str, unbuffered: bool, **kwargs) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    env.update({"PYTHONPATH": str(ROOT), "COLUMNS": "120"})
    return subprocess.Popen([sys.executable, "-m", "grader", *args], env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True, **kwargs)


def _many_answers(tmp: Path, n: int = 600) -> Path:  # some 400 KB of JSON Lines: more than a pipe holds
    answers = tmp / "many.jsonl"
    answers.write_text("".join(json.dumps({"card": 1 + i % 18, "answer": f"sharing {i}"}) + "\n" for i in range(n)))
    return answers


@pytest.mark.slow
@pytest.mark.skipif(not FULL.exists(), reason="needs /dev/full")
@pytest.mark.parametrize(
    "args, unbuffered",
    [
        (("cards", "decks/virtualization.md"), False),
        (("cards", "decks/virtualization.md", "--json"), False),  # small: fails only when flushed at the end
        (("cards", "decks/virtualization.md", "--json"), True),
        (("grade", "decks/virtualization.md", "{answers}", "--json"), False),
        (("grade", "decks/virtualization.md", "{answers}", "--json"), True),
        (("grade", "decks/virtualization.md", "{answers}", "--csv"), False),
        (("stats", "--json"), False),
        (("--help",), False),
    ],
    ids=["cards", "cards-json", "cards-json-unbuffered", "grade-json", "grade-json-unbuffered", "grade-csv", "stats-json", "help"],
)
def test_a_full_disk_is_one_line_and_exit_1(tmp_path, args, unbuffered):
    answers = _many_answers(tmp_path, 50)
    with FULL.open("w") as full:
        proc = _grader(*(a.replace("{answers}", str(answers)) for a in args), unbuffered=unbuffered, stdout=full)
        _, err = proc.communicate(timeout=60)
    assert (proc.returncode, err) == (1, "Error: cannot write the output: No space left on device\n")


@pytest.mark.slow
@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize("read_lines", [1, 0], ids=["head-1", "reader-gone-at-once"])
def test_a_closed_pipe_ends_quietly(tmp_path, unbuffered, read_lines):
    """``grader grade ... --json | head -1``: no traceback, no "Exception ignored", exit 1 as typer gives."""
    proc = _grader("grade", "decks/virtualization.md", str(_many_answers(tmp_path)), "--json", unbuffered=unbuffered, stdout=subprocess.PIPE)
    for _ in range(read_lines):
        assert json.loads(proc.stdout.readline())["card"]
    proc.stdout.close()
    err = proc.stderr.read()
    proc.wait(timeout=60)
    assert (proc.returncode, err) == (1, "")


@pytest.mark.slow
def _read_pipe_meanwhile(fifo: Path) -> Callable[[], str]:
    """Read the named pipe ``fifo`` in a thread while grader writes it; the returned call gives what was read."""
    import threading

    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text(encoding="utf-8")), daemon=True)
    reader.start()

    def read() -> str:
        reader.join(timeout=30)  # a pipe replaced by a file is never opened for writing: the reader waits in vain
        return got[0] if got else "(nothing came through the pipe)"

    return read


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
@pytest.mark.parametrize(
    "args, first",
    [
        (("history", "export", "{out}.jsonl"), '{"type":"header","format":"grader-history"'),
        (("grade", "decks/virtualization.md", "{answers}", "--gradebook", "{out}.csv"), "student,Q3 "),
        (("grade", "decks/virtualization.md", "{answers}", "--report", "{out}.html", "--csv"), "<!DOCTYPE html>"),
    ],
    ids=["history-export", "gradebook", "html-report"],
)
def test_a_pipe_or_device_named_for_a_whole_file_is_written_not_replaced(tmp_path, args, first):
    """A file written whole goes to a temporary name and is renamed into place; renamed over a pipe or a device,
    it put a regular file where the pipe was, and `grader history export /dev/null` run as root replaced the
    system's /dev/null (a named pipe stands for any of them here: a test must not touch /dev)."""
    answers = tmp_path / "class.jsonl"
    answers.write_text('{"student": "ann", "card": 3, "answer": "sharing"}\n', encoding="utf-8")
    assert run_cli("practice", "--cards", "1", input="sharing\n").returncode == 0
    out = tmp_path / "out"
    args = [a.format(answers=answers, out=out) for a in args]
    fifo = Path(args[-1] if args[-1].startswith(str(out)) else args[-2])
    os.mkfifo(fifo)
    read = _read_pipe_meanwhile(fifo)
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    assert read().startswith(first) and stat.S_ISFIFO(fifo.stat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["class.jsonl", fifo.name])  # no temporary left


def test_an_export_through_a_link_replaces_the_file_linked_to(tmp_path):
    """Renamed over the link, the export replaced the link with a file, and the backup it pointed to stayed old."""
    assert run_cli("practice", "--cards", "1", input="sharing\n").returncode == 0
    backup = tmp_path / "usb" / "backup.jsonl"
    backup.parent.mkdir()
    backup.write_text("", encoding="utf-8")
    link = tmp_path / "backup.jsonl"
    link.symlink_to(backup)
    assert run_cli("history", "export", str(link)).returncode == 0
    assert link.is_symlink() and backup.read_text(encoding="utf-8").startswith('{"type":"header"')


def _closed(command: str, home: Path) -> subprocess.CompletedProcess:
    """Run ``grader COMMAND`` in a shell, which closes what the command says (``<&-``, ``2>&-``)."""
    return subprocess.run(
        f"{shlex.quote(sys.executable)} -m grader {command}", check=False, shell=True, cwd=ROOT, capture_output=True, text=True,
        timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT), "GRADER_HOME": str(home)},
    )  # fmt: skip


@pytest.mark.parametrize(
    "command, shown",
    [
        # Each was a traceback: sys.stdin is None (no isatty, no read, not iterable).
        ("practice decks/virtualization.md --cards 1 <&-", "What are 3 main characteristics"),
        ("review decks/virtualization.md {answers} <&-", "Decisions:"),
        ("history import - <&-", "Error: <stdin>:1: empty file: not a grader history export"),
    ],
)
def test_closed_standard_input_is_the_end_of_input(command, shown, tmp_path, isolated_env):
    answers = tmp_path / "class.jsonl"
    answers.write_text(ANSWERS, encoding="utf-8")
    proc = _closed(command.format(answers=answers), isolated_env)
    assert "Traceback" not in proc.stderr and shown in proc.stdout + proc.stderr
    assert proc.returncode == (1 if "import" in command else 0)


def test_closed_standard_error_keeps_errors_out_of_the_output(tmp_path, isolated_env):
    """``2>&-``: print() sent the error line to stdout, into the results, and input() refused to run at all."""
    missing = _closed("cards nowhere.md 2>&-", isolated_env)
    assert (missing.returncode, missing.stdout) == (1, "")
    (tmp_path / "answer.txt").write_text("sharing\n", encoding="utf-8")
    practice = _closed(f"practice decks/virtualization.md --cards 1 2>&- < {tmp_path / 'answer.txt'}", isolated_env)
    assert practice.returncode == 0 and "Session summary" in practice.stdout


def test_closed_standard_output_is_not_a_crash():
    """``grader cards deck --json >&-``: Python starts with no sys.stdout at all."""
    proc = subprocess.run(
        f"{shlex.quote(sys.executable)} -m grader cards decks/virtualization.md --json >&-",
        check=False, shell=True, cwd=ROOT, stderr=subprocess.PIPE, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert (proc.returncode, proc.stderr) == (0, "")
