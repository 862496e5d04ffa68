"""A big deck reads as a small one does: the shortcuts that make parsing fast give the same cards."""

from __future__ import annotations

import gc
import random
import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from grader import DeckError, parse_deck
from grader.decks import parse_markdown
from grader.keyterms import (
    _EMPHASIS,
    _LATEX_CMD,
    _LINK,
    _MATH,
    _TAG,
    _TAG_LINK,
    _WIKILINK,
    clean_markdown,
    document_frequencies,
    without_comments,
)
from grader.normalize import content_tokens

CARD = '{n}. <details markdown=1><summary markdown="span"> Q{n}? </summary>\n\n{body}\n\n</details>\n\n'


def test_line_numbers_stay_right_in_a_big_deck():
    rng = random.Random(10)
    bodies = ["    - ==x{n}==", "    - ==open{n}", "    The kernel keeps page {n} apart.", "    - a\n    - ==wrapped\n    term{n}=="]
    md = "".join(
        "\n" * rng.randrange(3) + "text\n" * rng.randrange(2) + CARD.format(n=n, body=rng.choice(bodies).format(n=n))
        for n in range(1, 3001)
    )
    parsed = parse_markdown(md)
    assert [c.line for c in parsed.deck.cards] == [md.count("\n", 0, m.start()) + 1 for m in re.finditer("<details", md)]
    lines = md.split("\n")
    unclosed = [f.line for f in parsed.findings if f.message.startswith("highlight opened")]
    assert unclosed and all(re.fullmatch(r" +- ==open\d+", lines[n - 1]) for n in unclosed)


@pytest.mark.parametrize("enabled", [True, False])
def test_parsing_leaves_the_cycle_collector_as_it_was(tmp_path, enabled):
    good, bad = tmp_path / "good.md", tmp_path / "bad.md"
    good.write_text(CARD.format(n=1, body="==x=="))
    bad.write_text("no cards here\n")
    (gc.enable if enabled else gc.disable)()
    try:
        parse_deck(good)
        with pytest.raises(DeckError):
            parse_deck(bad)
        assert gc.isenabled() is enabled
    finally:
        gc.enable()


WORDS = ["kernel", "the", "Kernel's", "don't", "ß", "naïve", "1/4", "¼", "x86", "a-b", "e.g.", "n't", "", "42"]
SPACES = [" ", "\n", "\t", "\u00a0", "\u2003", "\x1c", "\u2028", "  "]
texts = st.lists(st.sampled_from(WORDS + SPACES + [".", ",", "'", "’", "_", "=="]) | st.text(max_size=3), max_size=30).map("".join)


@given(st.lists(texts, max_size=6))
@settings(max_examples=300, deadline=None)
def test_document_frequencies_count_each_text_once(docs):
    expected: dict[str, int] = {}
    for text in docs:
        for s in {t.stem for t in content_tokens(text)}:
            expected[s] = expected.get(s, 0) + 1
    assert document_frequencies(docs) == (expected, len(docs))


def every_step(text: str) -> str:
    """``clean_markdown`` with every step run whether or not the text needs it."""
    text = without_comments(text)
    text = _TAG_LINK.sub(" ", text)
    text = _WIKILINK.sub(lambda m: m.group(2) or m.group(1), text)
    text = _LINK.sub(r"\1", text)
    text = _MATH.sub(r"\1", text)
    text = _TAG.sub(" ", text)
    text = _LATEX_CMD.sub(r"\1", text)
    text = text.replace("\\", " ").replace("$", "")
    text = _EMPHASIS.sub("", text)
    text = text.replace("==", " ")
    return re.sub(r"\s+", " ", text).strip()


MARKUP = ["<!--", "-->", "[[", "#[[", "#", "|", "![", "<b>", "\\alpha", *"[]()$<>\\*_`~=!-a \n"]


@given(st.lists(st.sampled_from(MARKUP) | st.text(max_size=2), max_size=40).map("".join))
@example("<$a>")  # a tag only once its $ is gone: the steps keep their order
@example("x <!-- any 2 --> [[page|shown]] ![a](b.png) $$x^2$$ <b>y</b> \\alpha **z**")
@example("see #[[Some Page]] and #[[a]]]")
@settings(max_examples=500, deadline=None)
def test_clean_markdown_skips_only_the_steps_that_cannot_apply(text):
    assert clean_markdown(text) == every_step(text)
