"""The graders a run measures: the one under test, plugged in, and the baselines beside it.

Graders plug in as anything with ``name`` and ``grade(card, answers)``
(``EvalGrader``); ``CallableGrader`` adapts a function of one card and one
answer, and ``llm_grader.LLMEvalGrader`` wraps the LLM feedback client, so the
harness never needs to know how a score was made. ``grade_set`` grades every
answer once per repeat, the answers to one question in one batch.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import numpy as np

from ..grading import KeywordGrader
from ..models import Card, Grade, Verdict
from ..normalize import content_tokens, tokenize
from ..scoring import GradingSettings, facts_grade, is_long_reference, long_reference_share, verdict_for
from .datasets import EvalSet

# Where non-answers sit on the raw score axis for calibration: below any real score.
NON_ANSWER_RANK = -1.0


class Prediction(NamedTuple):
    """What the harness needs from a grader: a score in [0, 1], optionally a verdict,
    whether the answer was a real attempt (not "I don't know"), what a
    calibration should map when that is not the score itself, and the
    answer's similarity to the reference where the grader measures one (a
    global calibration may weigh it in)."""

    score: float
    verdict: Verdict | None = None
    answered: bool = True
    raw: float | None = None
    similarity: float | None = None


class EvalGrader(Protocol):
    """What the harness grades with: a name, and predictions for a question's answers in one call."""

    name: str

    def grade(self, card: Card, answers: list[str]) -> list[Prediction]: ...


class KeywordEvalGrader:
    """The keyword grader, one batch per question."""

    name = "keyword"

    def __init__(self, settings: GradingSettings):
        self.grader = KeywordGrader(settings)
        # The terms' share alone, for calibration: the same matches, scored without the similarity.
        self._terms_only = settings.model_copy(update={"similarity_weight": 0.0})

    def use_deck(self, cards: Iterable[Card]) -> None:
        """Know the set's cards, as ``grader grade`` knows its deck's (``KeywordGrader.use_deck``)."""
        self.grader.use_deck(cards)

    def grade(self, card: Card, answers: list[str]) -> list[Prediction]:
        """Calibration maps the terms' share, not the score a verdict needs: neither a long reference's stretch nor
        the similarity blended into a short one's. Both are the grader's own rules, and a calibration learns its own
        (its signals weigh the similarity: eval/RESULTS.md)."""
        settings = self.grader.settings
        if settings.similarity_weight and self.grader.vectors is not None:
            facts, share_facts = self.grader.grade_many_facts_by(card, answers, (settings, self._terms_only))
            grades, shares = [facts_grade(card, f) for f in facts], [facts_grade(card, f) for f in share_facts]
        else:
            grades = shares = self.grader.grade_many(card, answers)
        predictions = []
        for g, t in zip(grades, shares):
            long = is_long_reference(card.as_graded(t), settings)  # the reference the best share came from
            raw = long_reference_share(t.score, settings) if long else t.score
            predictions.append(Prediction(g.score, g.verdict, g.answered, raw, t.similarity))  # that reference's
        return predictions

    def describe(self) -> dict[str, Any]:
        """The settings a run records beside its figures."""
        return self.grader.settings.model_dump()


class CallableGrader:
    """Adapts ``fn(card, answer)`` returning a Grade, a Prediction, a score, or anything with ``.score``.

    ``workers`` > 1 grades the answers of one question concurrently (for a
    grader that waits on the network); results keep the answers' order.
    """

    def __init__(self, fn: Callable[[Card, str], Any], name: str = "custom", workers: int = 1):
        self.fn, self.name, self.workers = fn, name, workers

    def grade(self, card: Card, answers: list[str]) -> list[Prediction]:
        if self.workers > 1 and len(answers) > 1:
            with ThreadPoolExecutor(self.workers) as pool:
                results = list(pool.map(lambda a: self.fn(card, a), answers))
        else:
            results = [self.fn(card, a) for a in answers]
        return [as_prediction(r) for r in results]


def as_prediction(result: Any) -> Prediction:
    """Read a grader's result: the score must be a number in [0, 1]."""
    answered, raw, similarity = True, None, None
    if isinstance(result, Prediction):
        score, verdict, answered, raw, similarity = result
    elif isinstance(result, Grade):
        score, verdict, answered = result.score, result.verdict, result.answered
    elif isinstance(result, int | float) and not isinstance(result, bool):
        score, verdict = float(result), None
    elif hasattr(result, "score"):
        score, verdict = float(result.score), getattr(result, "verdict", None)
    else:
        raise TypeError(f"a grader returned {type(result).__name__}, not a score")
    if not (isinstance(score, int | float) and 0.0 <= score <= 1.0):
        raise ValueError(f"a grader returned score {score!r}, outside [0, 1]")
    if verdict is not None and not isinstance(verdict, Verdict):
        verdict = Verdict(getattr(verdict, "value", verdict))
    return Prediction(float(score), verdict, answered, raw, similarity)


@dataclass
class RawGrades:
    """Raw grader output for every item and repeat."""

    scores: np.ndarray  # (repeats, items)
    verdicts: list[list[Verdict]]  # [repeat][item]
    seconds: float
    answered: np.ndarray  # (items,) False where the grader saw a non-answer every time
    similarity: np.ndarray  # (items,) mean similarity to the reference, 0 where the grader measures none
    raw: np.ndarray | None = None  # (repeats, items) what calibration maps, where the grader says (else the scores)

    def calibration_input(self) -> np.ndarray:
        """Mean score per item, with non-answers ranked below every real attempt.

        A wrong answer and "I don't know" both score 0, but humans give the
        first some marks and the second none; a calibrated map can only tell
        them apart if they do not share a raw value.
        """
        raw = self.scores if self.raw is None else self.raw
        return np.where(self.answered, raw.mean(axis=0), NON_ANSWER_RANK)


def grade_set(
    evalset: EvalSet,
    grader: EvalGrader,
    settings: GradingSettings,
    *,
    repeat: int = 1,
    progress: Callable[[int], None] | None = None,
) -> RawGrades:
    """Grade every answer ``repeat`` times, one batch per question.

    A question with further reference answers is graded the grader's way: the
    keyword grader grades against each and the best grade counts
    (``Card.reference_answers``). A grader that gives only a score gets the
    verdict ``settings`` give it.
    """
    groups: dict[str, list[int]] = defaultdict(list)
    for i, it in enumerate(evalset.items):
        groups[it.question_id].append(i)
    n = len(evalset.items)
    scores = np.zeros((repeat, n))
    raw = np.zeros((repeat, n))
    similarity = np.zeros(n)
    answered = np.zeros(n, dtype=bool)
    verdicts: list[list[Verdict]] = [[Verdict.incorrect] * n for _ in range(repeat)]
    if hasattr(grader, "use_deck"):  # a list of the set's key terms is graded as grader grade grades it
        grader.use_deck(evalset.cards.values())
    start = time.perf_counter()
    for r in range(repeat):
        for qid, idx in groups.items():
            preds = grader.grade(evalset.cards[qid], [evalset.items[i].answer for i in idx])
            if len(preds) != len(idx):
                raise ValueError(f"grader {grader.name} returned {len(preds)} results for {len(idx)} answers")
            for i, p in zip(idx, preds):
                scores[r, i] = p.score
                raw[r, i] = p.score if p.raw is None else p.raw
                similarity[i] += (p.similarity or 0.0) / repeat
                answered[i] |= p.answered
                verdicts[r][i] = p.verdict or verdict_for(p.score, settings)
            if progress:
                progress(len(idx))
    return RawGrades(scores, verdicts, time.perf_counter() - start, answered, similarity, raw)


# --- baselines ------------------------------------------------------------------------


def answer_length(answer: str) -> float:
    """Words in the answer: the baseline every grader must beat."""
    return float(len(tokenize(answer)))


def word_overlap(answer: str, reference: str) -> float:
    """Share of the reference's distinct content words the answer repeats exactly (no fuzz, no stems)."""
    ref = {t.word for t in content_tokens(reference)}
    if not ref:
        return 0.0
    return len(ref & {t.word for t in content_tokens(answer)}) / len(ref)



def baseline_scores(evalset: EvalSet) -> dict[str, np.ndarray]:
    """Raw scores of the calibrated baselines (overlap: the best over the question's reference answers)."""
    references = {q: card.reference_texts for q, card in evalset.cards.items()}
    return {
        "length": np.array([answer_length(it.answer) for it in evalset.items]),
        "overlap": np.array(
            [max(word_overlap(it.answer, ref) for ref in references[it.question_id]) for it in evalset.items]
        ),
    }
