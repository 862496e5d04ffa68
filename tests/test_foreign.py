"""Lists of guesses (issue 12): an answer naming many of the deck's other key terms keeps only its own card's share."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader import KeywordGrader, Verdict
from grader.decks import parse_markdown
from grader.foreign import FOREIGN_MIN, DeckTerms, guessing_share
from grader.normalize import content_stems, content_tokens
from grader.render import grade_row, term_lines
from grader.scoring import grade_facts

from .conftest import SEED_DECK, run_cli

DECK = """
<details><summary>How does a VM move between hosts?</summary>

==offline migration== or ==live migration==
</details>

<details><summary>What are the uses of virtualization?</summary>

==sharing== of one machine, ==aggregation== of many, ==emulation== of another architecture
</details>

<details><summary>What does the VMM do?</summary>

It is the ==dispatcher==, the ==allocator== and the ==interpreter== of privileged instructions.
</details>

<details><summary>What does a hypervisor of type 1 use?</summary>

The ==native capabilities== of the ==hardware==.
</details>
"""

# Card 1 of the bundled deck's own terms, among every other card's single-word terms that a student could guess.
GUESSES = "sharing, portability, interpreter, aggregation, equivalence, emulation, efficiency, isolation, allocator"


@pytest.fixture(scope="module")
def cards():
    return parse_markdown(DECK).deck.cards


def texts(named: list[tuple[frozenset[str], str]]) -> tuple[str, ...]:
    return tuple(text for _, text in named)


def stems(text: str) -> set[str]:
    return {t.stem for t in content_tokens(text)}


def test_an_answer_names_other_cards_terms_by_every_word_in_any_order(cards):
    terms = DeckTerms.of(cards)
    said = stems("the interpreter and the dispatcher; migration that is live; the hardware")
    assert texts(terms.named(cards[1], said)) == ("live migration", "dispatcher", "interpreter", "hardware")
    assert texts(terms.named(cards[0], said)) == ("dispatcher", "interpreter", "hardware")  # its own terms are not foreign
    assert texts(terms.named(cards[1], stems("live and offline"))) == ()  # half of a term is not the term
    assert texts(terms.named(cards[1], stems("a hypervisor runs many machines"))) == ()


def test_a_term_made_of_the_cards_own_words_is_not_foreign(cards):
    """Another card's "hardware" is foreign to card 3 unless card 3 itself speaks of hardware."""
    said = stems("hardware, live migration")
    assert texts(DeckTerms.of(cards).named(cards[2], said)) == ("live migration", "hardware")
    own_words = parse_markdown(DECK.replace("privileged instructions", "privileged instructions on the hardware")).deck.cards
    assert texts(DeckTerms.of(own_words).named(own_words[2], said)) == ("live migration",)


def test_the_cards_own_words_misspelt_by_its_author_are_still_its_own():
    """A card that writes "priviliged" owns the "privileged" a student spells right; a word beyond typos it does not."""

    def deck(own_term: str) -> list:
        return parse_markdown(f"""
<details><summary>What does the VMM do?</summary>

It is the ==dispatcher== of =={own_term}==.
</details>

<details><summary>Which operations trap?</summary>

==privileged instructions== and ==I/O==
</details>
""").deck.cards

    said = stems("the dispatcher of privileged instructions")
    misspelt = deck("priviliged instructions")
    assert texts(DeckTerms.of(misspelt).named(misspelt[0], said)) == ()
    other = deck("sensitive instructions")
    assert texts(DeckTerms.of(other).named(other[0], said)) == ("privileged instructions",)


def test_the_words_of_a_name_written_in_humps_are_the_cards_own():
    """A card on *MapReduce* owns "map" and "reduce": an answer about "the map/reduce formulation" names its own
    subject, not the other cards' *Map* and *Reduce* terms."""
    cards = parse_markdown("""
<details><summary>What are the criticisms of MapReduce?</summary>

==Not all problems translate to a MapReduce formulation==
</details>

<details><summary>What are the two phases?</summary>

==Map== and ==Reduce==
</details>
""").deck.cards
    said = stems("many problems do not fit the map/reduce formulation")
    assert texts(DeckTerms.of(cards).named(cards[0], said)) == ()


def test_a_cards_further_reference_answers_are_its_own_words_too(cards):
    from grader.keyterms import parse_term
    from grader.models import ReferenceAnswer

    also = ReferenceAnswer(answer="The hardware's own support", key_terms=[parse_term("hardware support")])
    card = cards[2].model_copy(update={"reference_answers": [also]})
    assert texts(DeckTerms.of([*cards[:2], card, cards[3]]).named(card, stems("hardware, live migration"))) == ("live migration",)


def test_a_copy_graded_against_one_further_answer_has_the_whole_cards_own_words(cards):
    """A grader grades each further reference answer as a copy of the card holding that answer alone: whichever
    copy asks first, the card's own words are all of its answers' (answers graded in another order, or by another
    worker, get the same grade)."""
    from grader.keyterms import parse_term
    from grader.models import ReferenceAnswer

    also = ReferenceAnswer(answer="The hardware's own support", key_terms=[parse_term("hardware support")])
    card = cards[2].model_copy(update={"reference_answers": [also]})
    copy = card.model_copy(update={"answer": also.answer, "key_terms": also.key_terms, "reference_answers": []})
    copy_first = DeckTerms.of([*cards[:2], card, cards[3]]).own_words(copy)
    assert copy_first == DeckTerms.of([*cards[:2], card, cards[3]]).own_words(card)
    assert content_stems("dispatcher") <= copy_first  # the card's first answer, which the copy lacks


def test_terms_derived_from_prose_are_never_foreign():
    """A card without highlights has terms cut from its prose: common words of the subject, not guesses."""
    prose = parse_markdown(DECK + "<details><summary>Why virtualize?</summary>\n\nTo consolidate servers.\n</details>\n").deck.cards
    assert prose[-1].key_terms and all(t.derived for t in prose[-1].key_terms)
    terms = DeckTerms.of(prose)
    assert texts(terms.named(prose[0], stems("consolidate servers, dispatcher, allocator, interpreter"))) == ("dispatcher", "allocator", "interpreter")


@pytest.mark.parametrize(
    "own, foreign, share",
    [
        (4, 0, 1.0),
        (4, FOREIGN_MIN - 1, 1.0),  # a few other terms are an answer's context
        (4, 3, 1.0),  # fewer other terms than its own: an answer that says more than it was asked
        (3, 3, 0.5),
        (4, 8, 1 / 3),
        (0, 5, 0.0),
    ],
)
def test_guessing_share(own, foreign, share):
    assert guessing_share(own, foreign) == pytest.approx(share)


def test_a_list_of_the_decks_terms_is_partial_and_says_why(seed_deck):
    card = seed_deck.cards[2]
    blind = KeywordGrader()
    knowing = KeywordGrader()
    knowing.use_deck(seed_deck.cards)
    before, after = blind.grade(card, GUESSES), knowing.grade(card, GUESSES)
    assert (before.score, before.verdict, before.foreign_terms) == (1.0, Verdict.correct, [])
    # "allocator: for resources" is not named: the answer lacks "resources".
    assert after.foreign_terms == ["portability", "interpreter", "equivalence", "efficiency"]
    assert (after.score, after.verdict) == (0.5, Verdict.partial)  # its own 4 terms among 8 named
    assert [t.found for t in after.terms] == [t.found for t in before.terms]  # the terms are still found, and shown
    shown = "\n".join(line.plain for line in term_lines(after))
    assert "? other cards' terms: " in shown and f"keeps {after.score:.0%} of its score" in shown
    assert f"? {len(after.foreign_terms)} other cards' terms" in grade_row(1, card, grade_facts(after)).plain
    assert "other cards" not in "\n".join(line.plain for line in term_lines(before))
    # Two other cards' terms cost nothing, and are not listed: the field names only the guesses that cost credit.
    said = "sharing and isolation; portability and live migration come with it"
    context = knowing.grade(card, said)
    assert context.foreign_terms == [] and context.score == blind.grade(card, said).score > 0


def test_honest_answers_lose_nothing(seed_deck):
    """Every card's own reference answer, graded as an answer, and the seed sets' answers a teacher gives credit: the
    deck changes no score. (One answer labelled incorrect, card 1's terms given for card 10, loses what it earned
    from words of card 1's *managed execution*.)"""
    knowing = KeywordGrader()
    knowing.use_deck(seed_deck.cards)
    blind = KeywordGrader()
    pairs = [(c, c.answer) for c in seed_deck.cards]
    for name in ("seed_dev.jsonl", "seed_test.jsonl"):
        rows = [json.loads(r) for r in (SEED_DECK.parent.parent / "eval" / name).read_text(encoding="utf-8").splitlines()]
        pairs += [(seed_deck.cards[r["card"] - 1], r["answer"]) for r in rows if r["verdict"] != "incorrect"]
    assert [knowing.grade(c, a).score for c, a in pairs] == [blind.grade(c, a).score for c, a in pairs]


def test_a_term_said_only_inside_another_cards_term_earns_nothing():
    """"deadlock freedom" is another card's term: its "freedom" is none of *starvation freedom*."""
    deck = parse_markdown(
        "<details><summary>What does the lock guarantee?</summary>\n\n==deadlock freedom==\n</details>\n"
        "<details><summary>Which liveness does the algorithm grant?</summary>\n\n==starvation freedom==, and ==fairness==\n</details>\n",
        "d.md",
    ).deck
    card = deck.cards[1]
    knowing = KeywordGrader()
    knowing.use_deck(deck.cards)
    borrowed = knowing.grade(card, "it only guarantees deadlock freedom and fairness")
    assert [(t.credit, t.refused) for t in borrowed.terms] == [(0.0, "inside another term"), (1.0, None)]
    assert KeywordGrader().grade(card, "it only guarantees deadlock freedom and fairness").terms[0].credit == 0.5
    assert knowing.grade(card, "unlike deadlock freedom, starvation freedom and fairness hold").score == 1.0


def test_grade_knows_the_deck_in_every_process(tmp_path, monkeypatch):
    monkeypatch.setattr("grader.batch.CHUNK_ROWS", 8)  # many chunks, so that --jobs 2 grades in workers
    answers = tmp_path / "answers.jsonl"
    rows = [{"card": 3, "answer": GUESSES}, {"card": 3, "answer": "sharing, aggregation, emulation, isolation"}] * 40
    answers.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    outputs = {}
    for jobs in ("1", "2"):
        result = run_cli("grade", str(SEED_DECK), str(answers), "--json", "--jobs", jobs)
        assert result.returncode == 0, result.stderr
        outputs[jobs] = result.stdout
    assert outputs["1"] == outputs["2"]
    records = [json.loads(line) for line in outputs["1"].splitlines()]
    assert [r["verdict"] for r in records[:2]] == ["partial", "correct"]
    assert len(records[0]["foreign_terms"]) >= FOREIGN_MIN and records[1]["foreign_terms"] == []


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 17), st.data())
def test_knowing_the_deck_only_ever_takes_credit_away_and_says_why(seed_deck, index, data):
    card = seed_deck.cards[index]
    terms = sorted({t.text for c in seed_deck.cards for t in c.key_terms})
    answer = ", ".join(data.draw(st.lists(st.sampled_from(terms), max_size=12)))
    knowing = KeywordGrader()
    knowing.use_deck(seed_deck.cards)
    with_deck, without = knowing.grade(card, answer), KeywordGrader().grade(card, answer)
    assert with_deck.score <= without.score
    # The terms are found as before, but for those said only inside another card's term; the rest of the score is
    # shared out among the cards the answer names.
    # (A term refused so may have earned nothing before either: covered below the partial floor.)
    assert all(w.refused == "inside another term" and w.credit == 0.0 for w, o in zip(with_deck.terms, without.terms) if w != o)
    borrowed = [w for w, o in zip(with_deck.terms, without.terms) if w != o and o.credit > 0.0]
    assert (with_deck.score < without.score) == bool(with_deck.foreign_terms or borrowed)
