"""Grading answers against cards: the library's main entry point."""

from __future__ import annotations

from .match import CompiledCard, compile_card, match_answers
from .models import Card, Grade
from .scoring import GradingSettings, grade_from_evidence


class KeywordGrader:
    """Grades answers by key terms; compiles each card once and reuses it."""

    def __init__(self, settings: GradingSettings | None = None):
        self.settings = settings or GradingSettings()
        self._compiled: dict[tuple[str, str], CompiledCard] = {}

    def _compile(self, card: Card) -> CompiledCard:
        key = (card.id, card.question)
        compiled = self._compiled.get(key)
        if compiled is None or (compiled.card is not card and compiled.card != card):  # same object: skip the deep compare
            compiled = self._compiled[key] = compile_card(card)
        return compiled

    def grade(self, card: Card, answer: str) -> Grade:
        """The keyword grade of one answer."""
        return self.grade_many(card, [answer])[0]

    def grade_many(self, card: Card, answers: list[str]) -> list[Grade]:
        """Grades of many answers to one card, compared in one batch."""
        if not card.gradable:
            return [grade_from_evidence(card, a, [], self.settings) for a in answers]
        evidence = match_answers(self._compile(card), answers)
        return [grade_from_evidence(card, a, ev, self.settings) for a, ev in zip(answers, evidence)]


def grade_answer(card: Card, answer: str, settings: GradingSettings | None = None) -> Grade:
    """Grade one answer to one card (convenience for one-off use)."""
    return KeywordGrader(settings).grade(card, answer)
