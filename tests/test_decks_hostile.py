"""Deck reading against awkward and hostile input: cards shown in code, files that are
not files, NULs deep in a file, and text built to make the parser's patterns backtrack."""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader import DeckError, InputError, find_decks, parse_deck
from grader.answers import read_answers
from grader.decks import parse_markdown
from grader.files import open_text

from .conftest import ROOT, run_cli

CARD = '1. <details markdown=1><summary markdown="span"> {q} </summary>\n\n    {a}\n\n</details>\n\n'
REAL = CARD.format(q="Real?", a="==real==")
EXAMPLE = "<details><summary>Fake?</summary>\n\n==fake==\n\n</details>"
EXAMPLE_LINE = "<details><summary>Fake?</summary> ==fake== </details>"


def questions(md: str) -> list[str]:
    return [c.question for c in parse_markdown(md).deck.cards]


# --- <details> inside code is an example, not a card ---------------------------------


@pytest.mark.parametrize(
    "md, expected",
    [
        (f"```html\n{EXAMPLE}\n```\n\n{REAL}", ["Real?"]),
        (f"~~~\n{EXAMPLE}\n~~~\n\n{REAL}", ["Real?"]),
        (f"````markdown\n```\n{EXAMPLE}\n```\n````\n\n{REAL}", ["Real?"]),  # a longer fence holds a shorter one
        (f"    ```\n    {EXAMPLE}\n    ```\n\n{REAL}", ["Real?"]),  # indented, as in a list item
        (f"> ```\n> {EXAMPLE}\n> ```\n\n{REAL}", ["Real?"]),  # in a blockquote
        (f"Write `{EXAMPLE_LINE}` in a deck.\n\n{REAL}", ["Real?"]),
        (f"Write ``a ` inside {EXAMPLE_LINE}`` too.\n\n{REAL}", ["Real?"]),
        (f"```{EXAMPLE_LINE}```\n\n{REAL}", ["Real?"]),  # backticks on one line: inline code
        (f"{REAL}```\n{EXAMPLE}\n```\n", ["Real?"]),
        # Not code: the cards stay.
        (f"```\nnever closed: hides nothing\n\n{REAL}", ["Real?"]),
        (f"a stray ` here\n\n{REAL}and ` there\n", ["Real?"]),  # backticks in two paragraphs do not pair
        (f"```\nfence\n~~~\n\n{REAL}", ["Real?"]),  # ~~~ does not close ```
        (CARD.format(q="What does `ls -l` print?", a="==long listing=="), ["What does ls -l print?"]),
    ],
)
def test_cards_shown_in_code_are_not_cards(md, expected):
    assert questions(md) == expected


def test_code_in_an_answer_stays_in_the_answer():
    md = CARD.format(q="How is a card written?", a="```html\n    <details><summary>Q</summary>A</details>\n    ```\n    ==details block==")
    parsed = parse_markdown(md)
    [c] = parsed.deck.cards
    assert "```html\n<details><summary>Q</summary>A</details>\n```" in c.answer
    assert [t.text for t in c.key_terms] == ["details block"]
    assert parsed.findings == []


def test_a_closing_tag_in_inline_code_does_not_end_the_card():
    md = CARD.format(q="How does a card end?", a="With `</details>` on its own line, and ==more text==")
    parsed = parse_markdown(md)
    [c] = parsed.deck.cards
    assert [t.text for t in c.key_terms] == ["more text"] and "`</details>`" in c.answer
    assert parsed.findings == []


def test_the_readme_format_example_is_not_a_deck():
    readme = ROOT / "README.md"
    result = run_cli("cards", str(readme))
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"Error: {readme}:1: deck has no cards (no <details> blocks found, and no Obsidian or Logseq flashcards)\n"


def test_a_folder_skips_notes_that_show_the_format_in_code(tmp_path):
    (tmp_path / "notes.md").write_text(f"# How to write a deck\n\n```markdown\n{EXAMPLE}\n```\n")
    (tmp_path / "deck.md").write_text(REAL)
    assert find_decks([tmp_path]) == [tmp_path / "deck.md"]


# --- Line numbers --------------------------------------------------------------------


def test_line_numbers_are_the_files():
    rng = random.Random(3)
    md = "".join(
        "\n" * rng.randrange(4) + "text\n" * rng.randrange(3) + CARD.format(q=f"Q{i}?", a="==x==" if i % 3 else "==open")
        for i in range(60)
    )
    parsed = parse_markdown(md)
    assert [c.line for c in parsed.deck.cards] == [md.count("\n", 0, m.start()) + 1 for m in re.finditer("<details", md)]
    lines = md.split("\n")
    unclosed = [f.line for f in parsed.findings if f.message.startswith("highlight opened")]
    assert len(unclosed) == 20 and all(lines[n - 1].strip() == "==open" for n in unclosed)


# --- Files that are not regular files, and NULs anywhere --------------------------------


@pytest.fixture
def no_hang():
    """Fail instead of waiting forever on a read that blocks."""

    def timeout(*_):
        raise TimeoutError("the read blocked")

    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(10)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
# A deck or answers file named as a FIFO is read from it, once, as `cat` would: tests/test_piped_decks.py, test_batch.
@pytest.mark.parametrize("name, read", [("history.jsonl", open_text)])
def test_a_fifo_is_refused_not_waited_on(tmp_path, no_hang, name, read):
    fifo = tmp_path / name
    os.mkfifo(fifo)
    with pytest.raises(InputError) as info:
        read(fifo)
    assert str(info.value).startswith(f"{fifo}: is a pipe, not a")


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="needs /dev/null")
def test_a_device_is_read_as_a_pipe_is(no_hang):
    """Once, to its end: /dev/null is a deck of nothing."""
    with pytest.raises(DeckError, match=r"^/dev/null:1: deck has no cards \(no <details> blocks found"):
        parse_deck("/dev/null")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_device_of_endless_binary_data_is_refused_after_its_first_chunk(no_hang):
    with pytest.raises(DeckError, match=r"^/dev/zero:1: binary data, not a text deck$"):
        parse_deck("/dev/zero")


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="needs Unix sockets")
def test_a_socket_is_refused(tmp_path, no_hang):
    path = tmp_path / "s.md"
    with socket.socket(socket.AF_UNIX) as sock:
        try:
            sock.bind(str(path))
        except OSError:
            pytest.skip("path too long for a Unix socket")
        with pytest.raises(DeckError, match=r"is a socket, not a deck$"):
            parse_deck(path)


@pytest.mark.parametrize("name, read", [("deck.md", parse_deck), ("answers.jsonl", read_answers), ("history.jsonl", open_text)])
def test_a_nul_anywhere_makes_a_file_binary(tmp_path, name, read):
    path = tmp_path / name
    path.write_bytes(b'{"a": 1}\n' * 10_000 + b"bad\x00line\n")  # 90 KB before the NUL
    with pytest.raises(InputError, match=rf"{name}:10001: binary data, not a text "):
        read(path)


# --- Hostile text: time linear in size, no error but DeckError --------------------------

HOSTILE = [
    # (what, repeated unit, inside one card?)
    ("images", "![", True),
    ("img tags", "<img ", True),
    ("details tags never closed", "<details ", False),
    ("summary tags never closed", "<summary ", True),
    ("empty links", "[](", True),
    ("links to nowhere", "[a](b ", True),
    ("embeds", "![[", True),
    ("wikilinks", "[[", True),
    ("html tags", "<a ", True),
    ("highlights on one line", "==w== ", True),
    ("backticks", "` `` ", True),
    ("fences", "```\n", False),
    ("math", "$$ ", True),
    ("dollars that open math nothing closes, beside marks", "$5 == ", True),
    ("inline math beside marks", "$a$ == ", True),
    ("escaped dollars beside marks", "\\$a\\\\$ == ", True),
]


def hostile_deck(unit: str, size: int, in_card: bool) -> str:
    if not in_card:
        return unit * (size // len(unit))
    head, tail = "1. <details><summary>Q?</summary>\n\n    ", "\n\n</details>\n"
    return head + unit * ((size - len(head) - len(tail)) // len(unit)) + tail


def parse_seconds(text: str, repeat: int) -> float:
    """Best CPU time of this process: other work on a busy machine does not count, as wall time would."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        parse_markdown(text)
        best = min(best, time.process_time() - start)
    return best


@pytest.mark.parametrize("unit, in_card", [(u, c) for _, u, c in HOSTILE], ids=[w for w, _, _ in HOSTILE])
def test_hostile_decks_parse_in_linear_time(unit, in_card):
    small = parse_seconds(hostile_deck(unit, 16 * 1024, in_card), repeat=5)
    large = parse_seconds(hostile_deck(unit, 128 * 1024, in_card), repeat=3)
    # Eight times the text takes about eight times as long when parsing is linear, and
    # 64 times as long when it is quadratic (the backtracking patterns were): the wide
    # margin between keeps a busy machine's noise from deciding. Below two milliseconds
    # the timer's noise is all there is to compare, hence the floor.
    assert large < 24 * max(small, 0.002), (small, large)


FRAGMENTS = [
    "<details>", "<details ", "</details>", "<summary>", "<summary ", "</summary>", "<img src='", '"', ">", "<",
    "![", "[", "]", "(", ")", "](", "[[", "]]", "![[", "|", "==", "===", "`", "```", "~~~", "$", "$$", "\\",
    "\n", "\n\n", " ", "\t", "> ", "- ", "1. ", "# ", "word", "é", "ß", ":", "/", "\r", "\x0b",
]
structured_text = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=4), max_size=120).map("".join)


@given(structured_text)
@settings(max_examples=400, deadline=None)
def test_any_markdown_parses(text):
    parsed = parse_markdown(text)
    n_lines = text.count("\n") + 1
    assert [c.number for c in parsed.deck.cards] == list(range(1, len(parsed.deck.cards) + 1))
    assert all(1 <= c.line <= n_lines for c in parsed.deck.cards)
    assert all(1 <= f.line <= n_lines for f in parsed.findings)


@given(st.binary(max_size=400) | structured_text.map(str.encode), st.sampled_from([".md", ".yaml", ".json"]))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_file_gives_a_deck_or_a_deck_error(tmp_path, data, suffix):
    path = tmp_path / f"deck{suffix}"
    path.write_bytes(data)
    try:
        parse_deck(path)
    except DeckError:
        pass


@pytest.mark.parametrize("suffix, text", [(".json", "[" * 100_000), (".yaml", "[" * 100_000), (".yaml", "- " * 50_000 + "x")])
def test_deeply_nested_plain_decks_are_refused(tmp_path, suffix, text):
    path = tmp_path / f"deep{suffix}"
    path.write_text(text)
    with pytest.raises(DeckError, match="nested too deeply to be a deck"):
        parse_deck(path)



def _alias_bomb(first: str, then: str, copies: int) -> str:
    """A YAML deck whose cards share, by alias, one anchored value: a file of kilobytes naming megabytes or more."""
    return f"cards:\n  - {{question: q0, {first}}}\n" + "".join(f"  - {{question: q{i}, {then}}}\n" for i in range(1, copies))


TERMS = "[" + ",".join(f"t{i}" for i in range(20_000)) + "]"  # 130 KB
ANSWER = "'" + "==term== word " * 10_000 + "'"  # 140 KB


@pytest.mark.parametrize(
    "text",
    [
        # 270 KB at 3,000 cards took 11 GB and more than a minute; 300 are enough to show it
        _alias_bomb(f"answer: a, key_terms: &k {TERMS}", "answer: a, key_terms: *k", 300),
        _alias_bomb(f"answer: &k {ANSWER}", "answer: *k", 300),
    ],
)
def test_yaml_aliases_that_expand_a_deck_past_the_size_limit_are_refused(tmp_path, no_hang, text):
    path = tmp_path / "bomb.yaml"
    path.write_text(text)
    with pytest.raises(DeckError, match=r"bomb\.yaml: its aliases \(\*\) repeat text to more than 20 MB"):
        parse_deck(path)


def test_yaml_aliases_within_the_limit_are_read(tmp_path):
    path = tmp_path / "shared.yaml"
    path.write_text("cards:\n  - question: One?\n    answer: &a A ==shared== answer\n  - question: Two?\n    answer: *a\n")
    assert [[t.text for t in c.key_terms] for c in parse_deck(path).deck.cards] == [["shared"], ["shared"]]
