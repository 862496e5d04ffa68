"""Card identity across deck edits: which stored card an edited card continues."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grader.cardtext import card_id
from grader.decks import load_deck
from grader.identity import CardRef, How, match_cards
from grader.normalize import normalize

from .conftest import CORPUS, SEED_DECK


def ref(question: str, answer: str, deck: str = "A", id: str | None = None) -> CardRef:
    return CardRef(deck, id or card_id(question), question, answer)


HYPERVISOR = ref("What is a hypervisor?", "Software that creates and runs virtual machines.")
MAP = ref("What does the map function do?", "It turns each input record into key-value pairs.")
REDUCE = ref("What does the reduce function do?", "It aggregates the values of each key.")
STORED = [HYPERVISOR, MAP, REDUCE]


def matched(current: list[CardRef], stored: list[CardRef]) -> list[tuple[str | None, How | None]]:
    """For each current card, the question of the stored card it continues and why."""
    return [(m.stored.question if m.stored else None, m.how) for m in match_cards(current, stored)]


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        pytest.param(
            [HYPERVISOR, MAP, REDUCE],
            [("What is a hypervisor?", How.same), (MAP.question, How.same), (REDUCE.question, How.same)],
            id="unchanged",
        ),
        pytest.param(
            [REDUCE, HYPERVISOR, MAP],
            [(REDUCE.question, How.same), ("What is a hypervisor?", How.same), (MAP.question, How.same)],
            id="cards moved around or renumbered",
        ),
        pytest.param(
            [ref("What is a hypervsior?", "Something else entirely now."), MAP, REDUCE],
            [("What is a hypervisor?", How.similar_question), (MAP.question, How.same), (REDUCE.question, How.same)],
            id="typo in the question (and a rewritten answer)",
        ),
        pytest.param(
            [ref("Define a hypervisor.", HYPERVISOR.answer), MAP, REDUCE],
            [("What is a hypervisor?", How.same_answer), (MAP.question, How.same), (REDUCE.question, How.same)],
            id="question reworded, answer kept",
        ),
        pytest.param(
            [ref("What is a hypervisor?", "A VMM: it runs virtual machines.", deck="B"), MAP, REDUCE],
            [("What is a hypervisor?", How.same_question), (MAP.question, How.same), (REDUCE.question, How.same)],
            id="card moved to another deck",
        ),
        pytest.param(
            [MAP, ref("What does the shuffle function do?", "It groups the pairs by key.")],
            [(MAP.question, How.same), (None, None)],
            id="a new card does not take a removed card's history",
        ),
        pytest.param(
            [HYPERVISOR, MAP, ref("What does the reduce function return?", "Something else.")],
            [("What is a hypervisor?", How.same), (MAP.question, How.same), (None, None)],
            id="rewritten question and answer: a new card",
        ),
        pytest.param(
            [HYPERVISOR, ref("What does the map function do?", "It turns each input record into key-value pairs.", id="x")],
            [("What is a hypervisor?", How.same), (MAP.question, How.same_question)],
            id="same question under another id",
        ),
    ],
)
def test_match_cards(current, expected):
    assert matched(current, STORED) == expected


def test_near_neighbours_are_not_confused():
    # Only the reduce card is stored; the map card is new, though its question scores 85.
    assert matched([MAP], [REDUCE]) == [(None, None)]


def test_a_short_identical_answer_is_not_evidence():
    assert matched([ref("Is a VM isolated?", "Yes.")], [ref("Can a VM migrate live?", "Yes.")]) == [(None, None)]


def test_cards_sharing_a_question_follow_their_answers():
    a = ref("Explain the figure.", "The first figure shows a type 1 hypervisor.", id="q")
    b = ref("Explain the figure.", "The second figure shows containers on one kernel.", id="q-2")
    # The author swapped the two cards: ids follow positions, history follows answers.
    swapped = [CardRef("A", "q", b.question, b.answer), CardRef("A", "q-2", a.question, a.answer)]
    result = match_cards(swapped, [a, b])
    assert [(m.stored.answer, m.rekeyed) for m in result] == [(b.answer, True), (a.answer, True)]


def test_cards_without_a_question_match_by_answer_then_position():
    first = ref("", "![](static/one.png)", id=card_id(""))
    second = ref("", "![](static/two.png)", id=card_id("") + "-2")
    moved = [CardRef("A", card_id(""), "", second.answer), CardRef("A", card_id("") + "-2", "", first.answer)]
    assert [m.stored.answer for m in match_cards(moved, [first, second])] == [second.answer, first.answer]
    edited = [CardRef("A", card_id(""), "", "![](static/one-v2.png)")]
    assert matched(edited, [first, second]) == [("", How.same)]


def test_same_deck_wins_over_another_deck():
    in_a, in_b = ref("What is a hypervisor?", "x y z", deck="A"), ref("What is a hypervisor?", "x y z", deck="B")
    assert [m.stored.deck for m in match_cards([ref("What is a hypervisor?", "x y z", deck="B")], [in_a, in_b])] == ["B"]


@given(st.permutations(list(range(18))), st.sets(st.integers(0, 17), max_size=4))
def test_reordering_and_dropping_cards_keeps_every_match(order, dropped):
    """Property: however the seed deck is reordered and thinned, each remaining card finds itself."""
    stored = [CardRef("A", c.id, c.question, c.answer) for c in load_deck(SEED_DECK).cards]
    current = [stored[i] for i in order if i not in dropped]
    result = match_cards(current, stored)
    assert [m.stored for m in result] == current
    assert all(m.how is How.same for m in result)


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the deck corpus is not at {CORPUS}")
def test_every_corpus_deck_matches_itself_after_a_typo_in_each_question():
    """A one-letter slip in every question of every corpus deck keeps every card's history."""
    checked = 0
    for path in sorted(CORPUS.rglob("*.md")):
        if path.name == "SOURCE.md":
            continue
        checked += 1
        cards = load_deck(path).cards
        stored = [CardRef("D", c.id, c.question, c.answer) for c in cards]
        # A question with no words keeps its id (it is all a card with no answer either has).
        current = [CardRef("D", c.id + "x" if normalize(c.question) else c.id, _typo(c.question), c.answer) for c in cards]
        result = match_cards(current, stored)
        assert [m.stored for m in result] == stored, path
    assert checked, f"no deck found in {CORPUS}"


def _typo(text: str) -> str:
    """Swap two letters in the middle of the longest word."""
    words = text.split(" ")
    i = max(range(len(words)), key=lambda k: len(words[k]))
    w = words[i]
    if len(w) >= 4:
        mid = len(w) // 2
        words[i] = w[: mid - 1] + w[mid] + w[mid - 1] + w[mid + 1 :]
    return " ".join(words)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("ไฮเปอร์ไวเซอร์คืออะไร", "1b0ff8724e"),  # Thai vowel signs
        ("हाइपरवाइज़र क्या है?", "eed2ce31bb"),  # Devanagari vowel signs and nukta
        ("ما هو المُشرِف؟", "83d55fdadb"),  # Arabic points
        ("מהו הַמְפַקֵּחַ?", "cf8c6baeb8"),  # Hebrew points
    ],
)
def test_a_question_whose_marks_break_its_words_keeps_the_id_it_always_had(question, expected):
    """Grading reads every script's marks inside words; ids hash the words as written, as they always did, so no
    card of these scripts changed id (the README says so): ids are kept in histories and review files."""
    assert card_id(question) == expected
