"""Other cards' key terms that an answer names: few in an answer, many in a list of guesses.

An answer that lists a deck's terms ("sharing, portability, binary translation,
live migration, interpreter, ...") names its own card's among them and earns
them all. Which of the other cards' highlighted terms it names tells the two
apart: the authors' own reference answers name none (456 answers of 52 decks),
a list of guesses names as many as it has guessed (eval/RESULTS.md, "Lists of
guesses"). A term is named when every content word of it is in the answer (by
stem, in any order); a term whose words all belong to the card itself (its
question, reference or terms) is not another card's. Derived terms are left out:
cut from prose, their single common words are in every answer of a subject.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .models import Card
from .normalize import content_stems

# Fewer of the other cards' terms than this are an answer's context, not guesses (the seed sets' answers name two
# at most; the authors' reference answers none).
FOREIGN_MIN = 3


@dataclass
class DeckTerms:
    """The highlighted key terms of the cards a grader knows, to find which of them an answer names."""

    terms: dict[frozenset[str], tuple[str, set[str]]] = field(default_factory=dict)  # stems -> (text, owning card ids)
    _foreign: dict[str, tuple[dict[str, list[int]], list[tuple[frozenset[str], str]]]] = field(default_factory=dict)

    @classmethod
    def of(cls, cards: Iterable[Card]) -> DeckTerms:
        known = cls()
        known.add(cards)
        return known

    def add(self, cards: Iterable[Card]) -> None:
        """Know these cards' terms too (a practice session's further decks)."""
        for card in cards:
            for term in card.key_terms:
                stems = content_stems(term.text)
                if stems and not term.derived:
                    self.terms.setdefault(stems, (term.text, set()))[1].add(card.id)
        self._foreign.clear()

    def named(self, card: Card, answer_stems: Iterable[str], at_least: int = 1) -> tuple[str, ...]:
        """The other cards' terms whose every content word the answer has (by stem), in the deck's order; none if
        fewer than ``at_least`` (grading asks for ``FOREIGN_MIN``: most answers are settled without counting)."""
        index, terms = self._foreign_to(card)
        hits = index.keys() & answer_stems
        if not hits or (at_least > 1 and len(hits) < 2):  # one word names one term at most
            return ()
        words_had: dict[int, int] = {}  # term -> how many of its words the answer has
        for stem in hits:
            for i in index[stem]:
                words_had[i] = words_had.get(i, 0) + 1
        named = tuple([terms[i][1] for i in sorted(words_had) if words_had[i] == len(terms[i][0])])
        return named if len(named) >= at_least else ()

    def _foreign_to(self, card: Card) -> tuple[dict[str, list[int]], list[tuple[frozenset[str], str]]]:
        """The terms that are other cards' and not made of this card's own words (its question, answers and terms),
        and which of them each word is in (computed once a card: an answer's words find its terms without a scan of
        the deck's)."""
        known = self._foreign.get(card.id)
        if known is None:
            texts = [card.question, card.answer, *(t.text for t in card.key_terms)]
            texts += [text for r in card.reference_answers for text in (r.answer, *(t.text for t in r.key_terms))]
            own = frozenset().union(*map(content_stems, texts))
            terms = [(stems, text) for stems, (text, owners) in self.terms.items() if card.id not in owners and not stems <= own]
            index: dict[str, list[int]] = {}
            for i, (stems, _) in enumerate(terms):
                for stem in stems:
                    index.setdefault(stem, []).append(i)
            known = self._foreign[card.id] = (index, terms)
        return known


def guessing_share(own_named: int, foreign_named: int) -> float:
    """The share of its score an answer keeps for the other cards' terms it names: all of it unless it names at
    least ``FOREIGN_MIN`` of them and no fewer than its own card's terms; then the share of its named terms that are
    its own card's ("sharing, aggregation, emulation, isolation" among eight other terms keeps a third)."""
    if foreign_named < FOREIGN_MIN or foreign_named < own_named:
        return 1.0
    return own_named / (own_named + foreign_named)
