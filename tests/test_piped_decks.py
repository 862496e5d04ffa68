"""Decks through a pipe (``<(cat deck.md)``, a FIFO, ``-``): read once, in the format their text shows; the commands
that keep or read a history by the deck's file refuse them in one line, and leave the history as it was."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from grader.store import Store, default_path

from .conftest import SEED_DECK, run_cli

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")


@contextmanager
def pipe_of(tmp_path: Path, data: str | bytes) -> Iterator[tuple[Path, list[bool]]]:
    """A FIFO named as bash names ``<(cat FILE)`` (no extension), fed ``data`` once by a writer that waits for a reader."""
    fifo = tmp_path / "63"
    os.mkfifo(fifo)
    opened: list[bool] = []

    def writer() -> None:
        with fifo.open("wb") as out:  # waits for grader to open the pipe
            opened.append(True)
            out.write(data.encode("utf-8") if isinstance(data, str) else data)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    yield fifo, opened
    thread.join(timeout=30)


def answers_csv(tmp_path: Path) -> str:
    path = tmp_path / "class.csv"
    path.write_text("student,card,answer\nann,1,portability and managed execution\nbo,15,offline and live migration\n", encoding="utf-8")
    return str(path)


@needs_fifo
@pytest.mark.parametrize("command", [["grade", "{deck}", "{answers}", "--json"], ["cards", "{deck}", "--json"], ["lint", "{deck}"]])
def test_a_deck_through_a_pipe_is_read_once_and_gives_what_its_file_gives(tmp_path, command):
    """``grader grade <(cat deck.md) answers.csv`` said '/dev/fd/63: is a pipe, not a deck'."""
    answers = answers_csv(tmp_path)
    from_file = run_cli(*(arg.format(deck=SEED_DECK, answers=answers) for arg in command))
    with pipe_of(tmp_path, SEED_DECK.read_text(encoding="utf-8")) as (fifo, opened):
        from_pipe = run_cli(*(arg.format(deck=fifo, answers=answers) for arg in command))
    assert opened == [True]  # opened once: a second open would wait for a writer that never comes
    assert from_pipe.returncode == from_file.returncode and from_pipe.stderr == from_file.stderr
    # A pipe has no folder its images could be in, so they are not looked for (lint says nothing of them).
    expected = "".join(line for line in from_file.stdout.splitlines(keepends=True) if ": image not found: " not in line)
    assert from_pipe.stdout.replace(str(fifo), "DECK") == expected.replace(str(SEED_DECK), "DECK")
    assert from_pipe.stdout.strip()


YAML = "title: Nets\ncards:\n  - question: What carries frames?\n    answer: The ==data link layer==.\n"
JSON = '[{"question": "What carries frames?", "answer": "The ==data link layer==."}]'
CSV = "question,answer\nWhat carries frames?,The data link layer\n"
ANKI_TEXT = "#separator:tab\n#html:false\nWhat carries frames?\tThe ==data link layer==.\n"
MARKDOWN = "# Nets\n\n<details><summary>What carries frames?</summary>\n\nThe ==data link layer==.\n\n</details>\n"


@pytest.mark.parametrize("suffix, text", [(".yaml", YAML), (".json", JSON), (".csv", CSV), (".txt", ANKI_TEXT), (".md", MARKDOWN)])
def test_a_deck_on_standard_input_is_read_in_the_format_its_text_shows(tmp_path, suffix, text):
    """A pipe has no extension: the format comes from what the deck starts with, as it would from its file's name."""
    from grader.decks import sniffed_suffix

    assert sniffed_suffix(text) == suffix
    path = tmp_path / f"nets{suffix}"
    path.write_text(text, encoding="utf-8")
    from_file, from_stdin = run_cli("cards", str(path), "--json"), run_cli("cards", "-", "--json", input=text)
    assert from_stdin.returncode == 0, from_stdin.stderr
    assert from_stdin.stdout == from_file.stdout and len(from_stdin.stdout.splitlines()) == 1


@pytest.mark.parametrize(
    "text, suffix",
    [
        ("[a link](https://example.org) first, then\n<details><summary>Q?</summary>==a==</details>\n", ".md"),  # "[" is not JSON
        ("---\ntitle: Front matter\n---\n<details><summary>Q?</summary>==a==</details>\n", ".md"),  # nor YAML
        ("student,card,answer\nann,1,x\n", ".md"),  # an answers file is no deck: read as markdown, it has no cards
    ],
)
def test_what_only_looks_like_another_format_is_read_as_markdown(text, suffix):
    from grader.decks import sniffed_suffix

    assert sniffed_suffix(text) == suffix


REFUSED = "a deck read from a pipe has none: give the deck's file\n"


@pytest.mark.parametrize(
    "args, code, stderr",
    [
        (["practice", "-"], 1, f"Error: <stdin>: practice keeps your history by the deck's file, and {REFUSED}"),
        (["stats", "-"], 1, f"Error: <stdin>: stats finds a deck's history by its file, and {REFUSED}"),
        (["cards", "-", "--due"], 1, f"Error: <stdin>: --due reads your history, kept by the deck's file, and {REFUSED}"),
        (["grade", "-", "-"], 2, "the deck and the answers cannot both come from standard input"),
        (["review", "-", "{answers}"], 2, "review reads your decisions from standard input"),
    ],
)
def test_commands_that_need_the_decks_file_refuse_a_pipe_in_one_line(tmp_path, args, code, stderr):
    """Practice keeps the history by the deck's file (its resolved path): /dev/fd/63 names another pipe each time, so a
    deck practised through one would start a new history each sitting, and the old one would never be due again."""
    result = run_cli(*(a.format(answers=answers_csv(tmp_path)) for a in args), input=MARKDOWN)
    assert result.returncode == code
    if code == 1:
        assert result.stderr == stderr
    else:
        assert stderr in result.stderr and "Traceback" not in result.stderr
    assert not default_path().exists()  # nothing asked, nothing saved


def test_cards_from_a_pipe_shows_no_history_and_leaves_it_as_it_was(tmp_path):
    """``cards`` matches its deck with the history first, which writes: a deck read from a pipe would have been added
    to it under the pipe's name, a deck no later command could find again."""
    deck = tmp_path / "nets.md"
    deck.write_text(MARKDOWN, encoding="utf-8")
    assert run_cli("practice", str(deck), input="the data link layer\n").returncode == 0
    with Store.open(default_path()) as store:
        before = [(c.deck, c.card, c.state) for c in store.cards()]
    [answered] = [json.loads(line) for line in run_cli("cards", str(deck), "--json").stdout.splitlines()]
    [piped] = [json.loads(line) for line in run_cli("cards", "-", "--json", input=MARKDOWN).stdout.splitlines()]
    assert (answered["phase"], answered["reviews"]) == ("learning", 1)
    assert (piped["phase"], piped["reviews"]) == ("new", 0) and piped["id"] == answered["id"]
    with Store.open(default_path()) as store:
        assert [(c.deck, c.card, c.state) for c in store.cards()] == before


@needs_fifo
def test_an_anki_package_through_a_pipe_is_refused_in_one_line(tmp_path):
    with pipe_of(tmp_path, b"PK\x03\x04" + bytes(64)) as (fifo, _):
        result = run_cli("cards", str(fifo))
    assert (result.returncode, result.stderr) == (
        1,
        f"Error: {fifo}: an Anki package cannot be read from a pipe (its images are read from the file later): give the file\n",
    )


@contextmanager
def descriptor_of(data: str) -> Iterator[str]:
    """What bash hands a program for ``<(cat deck)``: ``/dev/fd/N``, the read end of a pipe fed ``data`` once."""
    read, write = os.pipe()

    def writer() -> None:
        with os.fdopen(write, "wb") as out:
            out.write(data.encode("utf-8"))

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        yield f"/dev/fd/{read}"
    finally:
        thread.join(timeout=30)
        os.close(read)


DECKS_AND_TITLES = [  # (extension of its file, the deck, its own title: None for a deck that gives none)
    (".md", MARKDOWN, "Nets"),
    (".md", MARKDOWN.removeprefix("# Nets\n\n"), None),
    (".yaml", YAML, "Nets"),
    (".yaml", YAML.removeprefix("title: Nets\n"), None),
    (".json", JSON, None),
    (".csv", CSV, None),
    (".txt", ANKI_TEXT, None),
    (".txt", ANKI_TEXT.replace("#html:false\n", "#html:false\n#deck:Nets\n"), "Nets"),
    (".md", "#flashcards/nets\n\nWhat carries frames?::The data link layer\n", "nets"),  # Obsidian: the tag's path
    (".md", "#flashcards\n\nWhat carries frames?::The data link layer\n", None),
    (".md", "title:: Nets\n\n- What carries frames? #card\n  - The ==data link layer==.\n", "Nets"),  # Logseq
    (".md", "- What carries frames? #card\n  - The ==data link layer==.\n", None),
]


@pytest.mark.skipif(not os.path.isdir("/dev/fd"), reason="needs /dev/fd")
@pytest.mark.parametrize("suffix, text, title", DECKS_AND_TITLES)
def test_a_deck_through_a_pipe_has_its_own_title_as_its_file_has_or_is_called_untitled(tmp_path, suffix, text, title):
    """A deck through a pipe that gives itself no title was called by the pipe's name, as a file deck is called by its
    file's: "# Grading report: 63" (``<(cat deck.md)`` is /dev/fd/63) or "<stdin>". One with a title of its own (a
    heading, ``title:``, an Anki ``#deck:``, an Obsidian tag's path, a Logseq ``title::``) has it, as from its file."""
    from grader.decks import load_deck

    deck_file = tmp_path / f"nets{suffix}"
    deck_file.write_text(text, encoding="utf-8")
    assert load_deck(deck_file).title == (title or "nets")  # a file deck: its own title, else its file's name
    answers = tmp_path / "class.csv"
    answers.write_text("student,card,answer\nann,1,the data link layer\n", encoding="utf-8")
    md, html = tmp_path / "r.md", tmp_path / "r.html"

    result = run_cli("grade", "-", str(answers), "--report", str(md), input=text)
    assert result.returncode == 0, result.stderr
    shown = title or "untitled deck (standard input)"
    assert md.read_text(encoding="utf-8").splitlines()[0] == f"# Grading report: {shown}"
    with descriptor_of(text) as deck:
        result = run_cli("grade", deck, str(answers), "--json", "--report", str(html))
    assert result.returncode == 0, result.stderr
    shown = title or f"untitled deck ({deck})"
    assert f"<title>Class report: {shown}</title>" in html.read_text(encoding="utf-8")
    with descriptor_of(text) as deck:  # the title `cards` draws its table under, at a terminal
        assert load_deck(deck).title == (title or f"untitled deck ({deck})")
