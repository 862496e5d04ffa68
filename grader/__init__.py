"""grader: grade free-recall answers against the key terms of your own study decks.

    >>> from grader import load_deck, grade_answer
    >>> from grader.decks import bundled_deck
    >>> deck = load_deck(bundled_deck())  # the deck grader ships; yours: load_deck("os.md")
    >>> grade_answer(deck.cards[2], "sharing, aggregation, emulation, isolation").verdict.value
    'correct'

Names are loaded on first use, so ``import grader`` (and ``grader --help``)
stays fast: the matcher's numpy and rapidfuzz load only when something is graded.
"""

from __future__ import annotations

# Nothing is imported here: the ``grader`` command imports this package before it can catch Ctrl-C (``launch``),
# and importing ``typing`` took 10 ms, in which Ctrl-C printed a traceback. A plain False for typing.TYPE_CHECKING:
# mypy checks the block below as it checks any ``if``.
_TYPE_CHECKING = False

_EXPORTS = {
    "AnswersError": "errors",
    "Card": "models",
    "Deck": "models",
    "DeckError": "errors",
    "Grade": "models",
    "GraderError": "errors",
    "GradingSettings": "scoring",
    "InputError": "errors",
    "KeyTerm": "models",
    "KeywordGrader": "grading",
    "LLMError": "errors",
    "TermMatch": "models",
    "Verdict": "models",
    "card_id": "cardtext",
    "derive_key_terms": "keyterms",
    "find_decks": "decks",
    "grade_answer": "grading",
    "grade_answers": "batch",
    "load_deck": "decks",
    "parse_deck": "decks",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'grader' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return list(__all__)


if _TYPE_CHECKING:
    from typing import Any

    from .batch import grade_answers
    from .cardtext import card_id
    from .decks import find_decks, load_deck, parse_deck
    from .errors import AnswersError, DeckError, GraderError, InputError, LLMError
    from .grading import KeywordGrader, grade_answer
    from .keyterms import derive_key_terms
    from .models import Card, Deck, Grade, KeyTerm, TermMatch, Verdict
    from .scoring import GradingSettings
