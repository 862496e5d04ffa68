"""A long reference's derived terms: half of them is a complete answer (scoring.long_reference_score)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grader import KeywordGrader
from grader.evaluation import KeywordEvalGrader
from grader.keyterms import derive_key_terms, parse_term
from grader.models import Card, ReferenceAnswer, Verdict
from grader.scoring import GradingSettings, is_long_reference, long_reference_score, long_reference_share

SETTINGS = GradingSettings(match="keyword")
STEPS = ["the kernel", "schedules threads", "on every core", "flushes the cache", "maps each page", "checks permissions", "wakes the driver", "sends the interrupt"]
REFERENCE = "\n".join(f"- {step}" for step in STEPS)


def card(answer: str, **update) -> Card:
    terms = derive_key_terms(answer, question="What happens on a context switch?")
    return Card(id="c", number=1, question="What happens on a context switch?", answer=answer, key_terms=terms).model_copy(update=update)


def test_half_of_a_long_reference_is_a_correct_answer():
    long = card(REFERENCE)
    assert len(long.key_terms) == 8 and is_long_reference(long, SETTINGS)
    grader = KeywordGrader(SETTINGS)
    half, all_of_it, little = grader.grade_many(
        long, ["the kernel schedules threads on every core and flushes the cache", REFERENCE, "the kernel"]
    )
    assert half.verdict == Verdict.correct and half.score < all_of_it.score == 1.0
    assert little.verdict == Verdict.partial


def test_short_references_highlights_and_counts_are_graded_as_before():
    grader = KeywordGrader(SETTINGS)
    answer = "the kernel schedules threads on every core and flushes the cache"
    short = card("\n".join(f"- {step}" for step in STEPS[:4]))
    assert not is_long_reference(short, SETTINGS) and grader.grade(short, answer).score == 1.0
    highlighted = card(REFERENCE).model_copy(update={"key_terms": [parse_term(s) for s in STEPS]})
    assert not is_long_reference(highlighted, SETTINGS)
    assert grader.grade(highlighted, answer).score == pytest.approx(0.5)
    assert not is_long_reference(card(REFERENCE, required=2), SETTINGS)
    assert not is_long_reference(card(REFERENCE), GradingSettings(long_reference_terms=9))


@given(st.floats(0, 1), st.floats(0, 1))
def test_the_stretch_keeps_the_order_of_answers_and_can_be_undone(a, b):
    sa, sb = long_reference_score(a, SETTINGS), long_reference_score(b, SETTINGS)
    # Monotone, not strictly: two scores a float's width apart may meet (1.0 and 0.9999999999999999 did).
    assert 0 <= sa <= 1 and ((sa <= sb) if a <= b else (sb <= sa))
    assert long_reference_share(round(sa, 4), SETTINGS) == pytest.approx(a, abs=6e-4)


def test_the_harness_calibrates_on_the_share_of_terms():
    long = card(REFERENCE)
    prediction = KeywordEvalGrader(SETTINGS).grade(long, ["the kernel schedules threads on every core and flushes the cache"])[0]
    assert prediction.score >= SETTINGS.correct_threshold
    assert prediction.raw == pytest.approx(0.5, abs=0.05)


def test_a_short_references_score_weighs_the_answers_similarity_and_a_long_ones_does_not():
    """The similarity counts beside a short reference's derived terms (a paraphrase earns something), never beside a
    long reference's (its share is stretched already) nor beside highlighted terms (the author's choice)."""
    meaning = GradingSettings()
    words_alone = GradingSettings(similarity_weight=0.0)
    paraphrase = "the processor cache is emptied"
    short = card("\n".join(f"- {step}" for step in STEPS[:4]))
    blended, plain = KeywordGrader(meaning).grade(short, paraphrase), KeywordGrader(words_alone).grade(short, paraphrase)
    assert blended.similarity > 0.3
    share = plain.score
    assert blended.score == pytest.approx((share + 0.5 * blended.similarity) / 1.5, abs=1e-4) and blended.score > share
    long = card(REFERENCE)
    assert KeywordGrader(meaning).grade(long, paraphrase).score == KeywordGrader(words_alone).grade(long, paraphrase).score
    highlighted = short.model_copy(update={"key_terms": [parse_term(s) for s in STEPS[:4]]})
    assert KeywordGrader(meaning).grade(highlighted, paraphrase).score == KeywordGrader(words_alone).grade(highlighted, paraphrase).score


def test_the_harness_calibrates_on_the_terms_share_without_the_similarity():
    short = card("\n".join(f"- {step}" for step in STEPS[:4]))
    answers = ["the processor cache is emptied", "the kernel schedules threads"]
    predictions = KeywordEvalGrader(GradingSettings()).grade(short, answers)
    shares = KeywordGrader(GradingSettings(similarity_weight=0.0)).grade_many(short, answers)
    assert [p.raw for p in predictions] == [s.score for s in shares]
    assert all(p.score > p.raw for p in predictions)  # the zero-shot score is the grader's own, similarity blended in


def test_one_match_scored_two_ways_is_two_gradings(seed_deck):
    """``grade_many_facts_by`` matches each answer once and scores it by each settings: the grades two graders give,
    a further reference answer (the best per scoring) and other cards' terms included."""
    short = card("\n".join(f"- {step}" for step in STEPS[:4]))
    other = short.model_copy(update={"reference_answers": [ReferenceAnswer(answer="the processor cache is emptied", key_terms=[parse_term("cache emptied")])]})
    answers = ["the processor cache is emptied", "the kernel schedules threads", "I don't know", "sharing, emulation, isolation and portability", "sharing and emulation"]
    scorings = (GradingSettings(), GradingSettings(similarity_weight=0.0), GradingSettings(correct_threshold=0.5))
    grader = KeywordGrader()
    grader.use_deck(seed_deck.cards)
    by_card = {}
    for c in (short, other, seed_deck.cards[2]):
        alone = []
        for settings in scorings:
            single = KeywordGrader(settings)
            single.use_deck(seed_deck.cards)
            alone.append(single.grade_many_facts(c, answers))
        assert grader.grade_many_facts_by(c, answers, scorings) == alone
        by_card[id(c)] = alone
    assert by_card[id(short)][0] != by_card[id(short)][1]  # the blend tells the first two apart: the test can too
    assert by_card[id(seed_deck.cards[2])][2] != by_card[id(seed_deck.cards[2])][0]  # and the threshold, the others
