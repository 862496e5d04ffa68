"""Pure grading policy: term evidence -> credit -> score -> verdict."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .cardtext import highlights, question_words
from .foreign import guessing_share
from .keyterms import LIST_ITEM, clean_term
from .models import Card, Grade, HowFound, Refusal, TermMatch, Verdict
from .normalize import NUMBER_WORDS, is_non_answer, restates_question

if TYPE_CHECKING:  # the matcher loads numpy and rapidfuzz: not for whoever only needs the settings
    from .match import Evidence
    from .normalize import Token


# Where a long reference's stretched share stops rising steeply (see long_reference_score).
LONG_REFERENCE_KNEE = 0.9


class GradingSettings(BaseModel):
    """Thresholds of the keyword grader (see the README for how they were chosen).

    Built once per run (``config.load_grading_settings``: flags, then the
    ``[grading]`` table of settings.toml, then these defaults) and passed to
    everything that grades or describes grading, the LLM prompt included.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    found_threshold: float = Field(0.75, ge=0, le=1, description="Coverage at which a term counts as found.")
    partial_floor: float = Field(0.25, ge=0, le=1, description="Coverage below which a term earns nothing.")
    correct_threshold: float = Field(0.7, ge=0, le=1, description="Score at which an answer is correct.")
    highlighted_correct_threshold: float = Field(
        0.6, ge=0, le=1, description="Score at which an answer to a card's highlighted terms is correct (correct_threshold set alone sets it too)."
    )
    partial_threshold: float = Field(0.2, ge=0, le=1, description="Score at which an answer is partial.")
    match: Literal["meaning", "keyword"] = Field(
        "meaning", description="meaning: words, and the offline semantic tier; keyword: words only (spelling, stems, typos)."
    )
    similarity_weight: float = Field(
        0.5, ge=0, le=1, description="Weight of the answer's similarity to the reference beside a short reference's derived terms' score."
    )
    long_reference_terms: int = Field(
        8, ge=1, description="A reference that yields this many derived terms or more is long: see long_reference_share."
    )
    long_reference_share: float = Field(
        0.5, gt=0, le=1, description="Share of a long reference's derived terms that makes a complete answer."
    )

    @model_validator(mode="before")
    @classmethod
    def _one_line_for_every_card(cls, data: Any) -> Any:
        """A ``correct_threshold`` set alone holds for highlighted terms too: a teacher who draws a stricter line means
        it for every card."""
        if isinstance(data, dict) and "correct_threshold" in data and "highlighted_correct_threshold" not in data:
            return {**data, "highlighted_correct_threshold": data["correct_threshold"]}
        return data

    @model_validator(mode="after")
    def _in_order(self) -> GradingSettings:
        """Thresholds out of order leave a verdict or a credit that no answer can reach: refused, not obeyed silently."""
        for name in ("correct_threshold", "highlighted_correct_threshold"):
            if self.partial_threshold > getattr(self, name):
                raise ValueError(
                    f"partial_threshold ({self.partial_threshold:g}) is above {name} ({getattr(self, name):g}), so no answer could be partial"
                )
        if self.partial_floor > self.found_threshold:
            raise ValueError(
                f"partial_floor ({self.partial_floor:g}) is above found_threshold ({self.found_threshold:g}), so no term could earn part of its credit"
            )
        return self


def verdict_for(score: float, settings: GradingSettings) -> Verdict:
    """The verdict the settings' thresholds give a score, whatever the card (a model's score: see ``correct_from``)."""
    return Verdict(_verdict_value(score, settings))


# How many things a question asks for, where it says so: a number right after what asks ("What are 3 main
# characteristics?", "Name two ...", "Describe the 5 steps") or alone in parentheses ("possible solutions (2)"). Other
# numbers count nothing: "if 2 nodes solve a block", "the problem mentioned in 6", "Transactional Locking 2", "O(n^2)".
_COUNT = r"[2-9]|two|three|four|five|six|seven|eight|nine|ten"
_STATED_COUNT = re.compile(
    r"\b(?:what(?:\s+(?:are|were))?|which\s+(?:are|were)|name|list|give|describe|explain|mention|state|identify|introduce"
    rf"|enumerate|provide|discuss|outline)\s+(?:the\s+)?(?:briefly\s+)?(?P<asked>{_COUNT})\b(?!-)|\(\s*(?P<counted>{_COUNT})\s*\)",
    re.IGNORECASE,
)


@lru_cache(maxsize=4096)
def _stated_count(question: str) -> int | None:
    """How many things the question says it asks for, or None."""
    found = _STATED_COUNT.search(question)
    if found is None:
        return None
    said = (found["asked"] or found["counted"]).lower()
    return int(NUMBER_WORDS.get(said, said))


def _states_a_count(question: str) -> bool:
    return _stated_count(question) is not None


@lru_cache(maxsize=4096)
def _counted_items(question: str, answer: str, terms: tuple[str, ...]) -> tuple[tuple[int, ...], ...]:
    """Each item's highlighted terms (their indices in ``terms``), where the question says how many things it asks
    for and the reference lists exactly that many items with highlights ("What are the 3 main components?" over
    three items): each item is one of the things asked. Nothing otherwise."""
    count = _stated_count(question)
    if count is None:
        return ()
    items = [[_folded(clean_term(h)) for h in highlights(m["item"], 0, [])] for m in LIST_ITEM.finditer(answer)]
    items = [highlights for highlights in items if highlights]
    if len(items) != count:
        return ()
    # A term is its highlight, or holds it with the words before it ("RoI ==pool==" is *RoI pool*).
    held = [tuple(i for i, term in enumerate(map(_folded, terms)) if any(h in term or term in h for h in highlights)) for highlights in items]
    if not all(held) or len({i for item in held for i in item}) < sum(map(len, held)):  # an item without, or a term in two
        return ()
    return tuple(held)


def _folded(text: str) -> str:
    return " ".join(text.casefold().split())


def _verdict_of(score: float, credits: list[float], settings: GradingSettings, card: Card) -> str:
    """The verdict of a score on ``card`` whose terms earned ``credits``: never correct while the answer says nothing
    of one of the things the question counts (``_counted_items``): "dispatcher = entry point, interpreter runs
    privileged instructions" names two of the *3 main components*."""
    verdict = _verdict_value(score, settings, card)
    if verdict == _CORRECT and card.key_terms and not card.key_terms[0].derived and card.required is None:
        items = _counted_items(card.question, card.answer, tuple(t.text for t in card.key_terms))
        if any(all(credits[i] == 0.0 for i in item) for item in items):
            return _PARTIAL
    return verdict


def correct_from(settings: GradingSettings, card: Card) -> float:
    """The score from which an answer to ``card`` is correct: lower for the author's highlighted terms.

    Highlights name what to recall, and an answer in the student's own words often
    says one of them in words the matcher cannot see; teachers and the probe sets
    call most such answers correct (eval/RESULTS.md, twelfth session). Where the
    question says how many things it asks for, the count is the rubric and every
    one counts; and derived terms keep the line the training splits put them at,
    their score crediting paraphrase by the answer's similarity already."""
    if card.key_terms and not card.key_terms[0].derived and not _states_a_count(card.question):
        return settings.highlighted_correct_threshold
    return settings.correct_threshold


def _verdict_value(score: float, settings: GradingSettings, card: Card | None = None) -> str:
    """``verdict_for``'s verdict as its value, for a grade's plain values: an enum member's value is a property, which
    costs more per answer than the comparisons."""
    if score >= (settings.correct_threshold if card is None else correct_from(settings, card)):
        return _CORRECT
    if score >= settings.partial_threshold:
        return _PARTIAL
    return _INCORRECT


_CORRECT, _PARTIAL, _INCORRECT = Verdict.correct.value, Verdict.partial.value, Verdict.incorrect.value


def terms_share(earned: list[float], possible: list[float], required: int | None) -> tuple[float, float]:
    """Earned and possible weight over the terms that count (each term's in the two lists): all of them, or the
    ``required`` best.

    A card that asks for "any two" of five examples is answered completely by
    two: the best-earning two count, and the rest neither add nor cost.
    """
    if required is not None and required < len(earned):
        best = sorted(zip(earned, possible), key=lambda c: (c[0], -c[1]), reverse=True)[:required]
        return sum([e for e, _ in best]), sum([p for _, p in best])
    return sum(earned), sum(possible)


def long_reference_score(share: float, settings: GradingSettings) -> float:
    """Nobody restates a long reference in full: ``long_reference_share`` of its terms scores nearly 1.

    The share is stretched up to ``LONG_REFERENCE_KNEE`` and the rest squeezed
    into what is left, so an answer that says more still ranks higher (the order
    of answers is what a calibration learns from).
    """
    stretched = share / settings.long_reference_share
    if stretched <= LONG_REFERENCE_KNEE:
        return stretched
    knee = LONG_REFERENCE_KNEE * settings.long_reference_share
    return LONG_REFERENCE_KNEE + (share - knee) * (1 - LONG_REFERENCE_KNEE) / (1 - knee)


def long_reference_share(score: float, settings: GradingSettings) -> float:
    """The terms' share behind a long reference's score: ``long_reference_score`` undone (what a calibration learns from)."""
    if score <= LONG_REFERENCE_KNEE:
        return round(score * settings.long_reference_share, 4)
    knee = LONG_REFERENCE_KNEE * settings.long_reference_share
    return round(knee + (score - LONG_REFERENCE_KNEE) * (1 - knee) / (1 - LONG_REFERENCE_KNEE), 4)


def is_long_reference(card: Card, settings: GradingSettings) -> bool:
    """Whether the card's score comes through ``long_reference_score``: many derived terms, no ``required`` count."""
    return bool(card.key_terms) and card.key_terms[0].derived and card.required is None and len(card.key_terms) >= settings.long_reference_terms


def combined_score(terms: float, similarity: float | None, card: Card, settings: GradingSettings) -> float:
    """The score from the terms' credit, and for a short reference's derived terms the answer's similarity to it.

    Derived terms are cut from a reference written as prose, so the reference as
    a whole says what they cannot; highlighted terms are what the author asks
    for, and only they count. A long reference's derived terms are more than an
    answer needs (``long_reference_share``), and its score stretched so is not
    blended too (that cost ASAP and SAF). The rules and the weight were fitted
    on the training splits (eval/RESULTS.md, "Grading by meaning" and "The
    similarity in zero-shot scores").
    """
    if is_long_reference(card, settings):
        return _round4(long_reference_score(terms, settings))
    derived = bool(card.key_terms) and card.key_terms[0].derived
    if similarity is None or not derived or not settings.similarity_weight:
        return _round4(terms)
    return round((terms + settings.similarity_weight * similarity) / (1 + settings.similarity_weight), 4)


# A grade as plain values: cheap to build, to send from a worker process and to turn into a record.
# (score, verdict, answered, ((term, found, credit, span, matched_text, derived, how, refused), ...), similarity,
#  the other cards' terms that cost it credit)
TermFacts = tuple[str, bool, float, "tuple[int, int] | None", "str | None", bool, "HowFound | None", "Refusal | None"]
GradeFacts = tuple[float, str, bool, tuple[TermFacts, ...], "float | None", tuple[str, ...]]


# Why an answer earns nothing whatever its words: it gives none ("I don't know"), or it only restates its question.
Unmatched = Literal["no answer", "restated"]


def unmatched(card: Card, answer: str, tokens: list[Token] | None = None) -> Unmatched | None:
    """Why an answer to a gradable card earns nothing whatever its words, or None for an attempt (which is matched).

    ``tokens``: the answer's ``tokenize``, when the caller has it already.
    """
    if is_non_answer(answer, tokens):
        return "no answer"
    if restates_question(answer, question_words(card), tokens):
        return "restated"
    return None


def unmatched_facts(card: Card, why: Unmatched) -> GradeFacts:
    """The grade of an answer ``unmatched`` tells apart: ``Grade.nothing_recalled``, as plain values (without pydantic)."""
    terms = tuple((t.text, False, 0.0, None, None, t.derived, None, None) for t in card.key_terms)
    return 0.0, Verdict.incorrect.value, why != "no answer", terms, None, ()


def facts_from_evidence(
    card: Card,
    answer: str,
    evidence: list[Evidence],
    settings: GradingSettings,
    similarity: float | None = None,
) -> GradeFacts:
    """The grade of an answer given the evidence found for each key term, as plain values (see ``facts_grade``).

    The answer is an attempt (``unmatched`` is None): anything else is graded without evidence.
    """
    if not card.gradable:
        return 0.0, Verdict.self_graded.value, True, (), None, ()
    terms: list[TermFacts] = []
    earned, possible = [], []
    # A term's credit: full once found, its coverage in between, nothing for a stray word.
    found_at, floor = settings.found_threshold, settings.partial_floor
    for term, weight, coverage, span, how, refused in evidence:
        said = answer[span[0] : span[1]] if span else None
        if coverage >= found_at:
            terms.append((term.text, True, 1.0, span, said, term.derived, how, None))
            earned.append(weight)
        elif coverage >= floor and coverage > 0.0:
            terms.append((term.text, False, _round4(coverage), span, said, term.derived, how, None))
            earned.append(weight * coverage)
        elif refused:  # said, and refused: where, to show why it earns nothing
            terms.append((term.text, False, 0.0, span, said, term.derived, None, refused))
            earned.append(0.0)
        else:
            terms.append((term.text, False, 0.0, None, None, term.derived, None, None))
            earned.append(0.0)
        possible.append(weight)
    got, total = terms_share(earned, possible, card.required)
    score = combined_score(got / total if total else 0.0, similarity, card, settings)
    return score, _verdict_of(score, [t[2] for t in terms], settings, card), True, tuple(terms), None if similarity is None else round(similarity, 4), ()


def guessed(facts: GradeFacts, foreign: tuple[str, ...], settings: GradingSettings, card: Card) -> GradeFacts:
    """The grade of an answer that also names ``foreign``, other cards' terms: as it was, or, if that makes it a list
    of guesses (``foreign.guessing_share``), cut to its own card's share of the terms it names, with them listed."""
    score, _, answered, terms, similarity, _ = facts
    share = guessing_share(sum(1 for t in terms if t[2] > 0), len(foreign))
    if share >= 1.0:
        return facts
    score = _round4(score * share)
    return score, _verdict_of(score, [t[2] for t in terms], settings, card), answered, terms, similarity, foreign


def _round4(x: float) -> float:
    """``round(x, 4)``, skipped for 0 and 1 (most credits and scores), and looked up for the values met before (credits
    and scores take few values): rounding costs more than the rest of a term's grade."""
    if x == 1.0 or x == 0.0:
        return x
    rounded = _ROUNDED.get(x)
    if rounded is None:
        rounded = round(x, 4)
        if len(_ROUNDED) < KNOWN_ROUNDED:
            _ROUNDED[x] = rounded
    return rounded


_ROUNDED: dict[float, float] = {}
KNOWN_ROUNDED = 65536


def grade_facts(grade: Grade) -> GradeFacts:
    """The plain values of a grade (its card is known beside it)."""
    terms = tuple((t.term, t.found, t.credit, t.span, t.matched_text, t.derived, t.how, t.refused) for t in grade.terms)
    return grade.score, grade.verdict.value, grade.answered, terms, grade.similarity, tuple(grade.foreign_terms)


def facts_grade(card: Card, facts: GradeFacts) -> Grade:
    """The grade ``facts`` describe: its terms built without validation (their values are the grader's own)."""
    score, verdict, answered, terms, similarity, foreign = facts
    return Grade(
        card=card.id,
        number=card.number,
        score=score,
        verdict=Verdict(verdict),
        answered=answered,
        similarity=similarity,
        foreign_terms=list(foreign),
        terms=[
            TermMatch.model_construct(
                term=term, found=found, credit=credit, span=span, matched_text=matched_text, derived=derived, how=how, refused=refused
            )
            for term, found, credit, span, matched_text, derived, how, refused in terms
        ],
    )
