"""Pure grading policy: term evidence -> credit -> score -> verdict."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from .models import Card, Grade, TermMatch, Verdict
from .normalize import is_non_answer

if TYPE_CHECKING:  # the matcher loads numpy and rapidfuzz: not for whoever only needs the settings
    from .match import Evidence


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
    partial_threshold: float = Field(0.2, ge=0, le=1, description="Score at which an answer is partial.")


def term_credit(coverage: float, settings: GradingSettings) -> float:
    """Credit for one term: full once found, proportional in between, nothing for a stray word."""
    if coverage >= settings.found_threshold:
        return 1.0
    return coverage if coverage >= settings.partial_floor else 0.0


def verdict_for(score: float, settings: GradingSettings) -> Verdict:
    if score >= settings.correct_threshold:
        return Verdict.correct
    if score >= settings.partial_threshold:
        return Verdict.partial
    return Verdict.incorrect


def grade_from_evidence(card: Card, answer: str, evidence: list[Evidence], settings: GradingSettings) -> Grade:
    """The Grade of an answer given the evidence found for each key term."""
    if not card.gradable:
        return Grade(card=card.id, number=card.number, score=0.0, verdict=Verdict.self_graded)
    if is_non_answer(answer):
        return Grade.nothing_recalled(card, answered=False)
    matches = []
    earned = total = 0.0
    for ev in evidence:
        credit = term_credit(ev.coverage, settings)
        earned += ev.weight * credit
        total += ev.weight
        span = ev.span if credit > 0 else None
        matches.append(
            TermMatch.model_construct(  # built from checked values, once per term and answer: validation is all cost
                term=ev.term.text,
                found=ev.coverage >= settings.found_threshold,
                credit=round(credit, 4),
                span=span,
                matched_text=answer[span[0] : span[1]] if span else None,
                derived=ev.term.derived,
            )
        )
    score = round(earned / total, 4) if total else 0.0
    return Grade(card=card.id, number=card.number, score=score, verdict=verdict_for(score, settings), terms=matches)
