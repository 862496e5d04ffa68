"""Whether a quote the model cites for a key term is about that term.

A quote that merely occurs in the answer proves nothing: a manipulated model
can cite a different real sentence of the answer for every term ("Zebras
paint purple clouds." for *isolation*). A quote supports its term when the
keyword matcher, grading the quote alone, finds some of the term in it: the
same tolerance as for answers (typos, inflection, short forms, word order), so
"isolating the guest" supports *isolation* and "zebras paint" does not.

Paraphrases that share no word with the term ("software can be moved between
machines" for *portability*) need a check by meaning. The hook for it is
``similarity``: a function ``(a, b) -> float`` in [0, 1], such as the
semantic tier's ``similarity`` once it exists. When one is given, a quote
that fails the word check still supports its term if it is at least
``MEANING_THRESHOLD`` similar to the term or to the reference answer's line
that holds it. Pass it to ``FeedbackClient(similarity=...)`` (or ``QuoteSupport``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from ..models import Card, Grade
from ..scoring import GradingSettings

Similarity = Callable[[str, str], float]

# How similar (0 to 1) a quote must be to its term, by the plugged-in meaning check, to support it.
# A placeholder until the semantic tier is calibrated on the dev set.
MEANING_THRESHOLD = 0.6


class QuoteSupport:
    """Checks (term, quote) pairs of one card: by words always, by meaning when a ``similarity`` is given."""

    def __init__(
        self, settings: GradingSettings | None = None, similarity: Similarity | None = None, threshold: float = MEANING_THRESHOLD
    ):
        from ..grading import KeywordGrader

        self._keyword = KeywordGrader(settings)
        self.similarity = similarity
        self.threshold = threshold

    def supported(self, card: Card, pairs: Sequence[tuple[str, str]]) -> list[bool]:
        """For each (term as the card has it, quote): whether the quote is about the term."""
        if not pairs:
            return []
        grades = self._keyword.grade_many(card, [quote for _, quote in pairs])
        return [self._about(card, term, quote, grade) for (term, quote), grade in zip(pairs, grades)]

    def backing(self, card: Card, pieces: Sequence[str]) -> dict[str, list[str]]:
        """For each key term of the card, the pieces of an answer that are about it: the quotes that can back it.

        Offered as a term's only quotes (``schema.request_schema``), so a small
        model cannot cite a real sentence of the answer for a term it is not about.
        """
        grades = self._keyword.grade_many(card, list(pieces)) if pieces else []
        return {
            term.text: [piece for piece, grade in zip(pieces, grades) if self._about(card, term.text, piece, grade)]
            for term in card.key_terms
        }

    def _about(self, card: Card, term: str, quote: str, grade: Grade) -> bool:
        credit = next((m.credit for m in grade.terms if m.term == term), 0.0)
        return credit > 0 or self._by_meaning(card, term, quote)

    def _by_meaning(self, card: Card, term: str, quote: str) -> bool:
        if self.similarity is None:
            return False
        contexts = [term, *reference_lines(card, term)]
        return max(self.similarity(quote, c) for c in contexts) >= self.threshold


def reference_lines(card: Card, term: str) -> list[str]:
    """The lines of the card's reference answer that hold the term (its context for a meaning check)."""
    lines = []
    for line in card.answer.splitlines():
        plain = re.sub(r"={2,3}", "", line).strip(" -*\t\\")
        if term.casefold() in plain.casefold() and plain.casefold() != term.casefold():
            lines.append(plain)
    return lines
