"""Other cards' key terms that an answer names: few in an answer, many in a list of guesses.

An answer that lists a deck's terms ("sharing, portability, binary translation,
live migration, interpreter, ...") names its own card's among them and earns
them all. Which of the other cards' highlighted terms it names tells the two
apart: the authors' own reference answers name none (456 answers of 52 decks),
a list of guesses names as many as it has guessed (eval/RESULTS.md, "Lists of
guesses"). A term is named when every content word of it is in the answer (by
stem, in any order); a term whose words all belong to the card itself (its
question, answers or terms, spelt as the matcher's typo budget allows: a deck's
"priviliged" is the card's own "privileged") is not another card's. Derived terms are left out:
cut from prose, their single common words are in every answer of a subject.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from .cardtext import question_words
from .models import Card
from .normalize import content_stems, stemming_in

# Where a name written in humps joins two words ("MapReduce", "PageRank"): an answer that writes them apart ("map/reduce")
# names the card's own subject, not the other cards' *Map* and *Reduce*.
_CAMEL_HUMP = re.compile(r"(?<=[a-z])(?=[A-Z][a-z])")

# Fewer of the other cards' terms than this are an answer's context, not guesses (the seed sets' answers name two
# at most; the authors' reference answers none).
FOREIGN_MIN = 3


@dataclass
class DeckTerms:
    """The highlighted key terms of the cards a grader knows, to find which of them an answer names.

    Each term is filed under its rarest word in the deck: an answer's words find the few terms that could be whole
    in it, whatever the deck's size (20,000 cards and 48,000 terms, many sharing common words).
    """

    terms: list[tuple[frozenset[str], str, set[str]]] = field(default_factory=list)  # (stems, text, owning card ids)
    _known: dict[frozenset[str], int] = field(default_factory=dict)  # stems -> the term's place in ``terms``
    _filed: dict[str, list[int]] | None = None  # rarest stem -> its terms (made again after ``add``)
    _own: dict[str, frozenset[str]] = field(default_factory=dict)  # card id -> its own words (see ``own_words``)
    _cards: dict[str, Card] = field(default_factory=dict)  # card id -> the card as the deck has it

    @classmethod
    def of(cls, cards: Iterable[Card]) -> DeckTerms:
        known = cls()
        known.add(cards)
        return known

    def add(self, cards: Iterable[Card]) -> None:
        """Know these cards' terms too (a practice session's further decks)."""
        for card in cards:
            self._cards.setdefault(card.id, card)
            with stemming_in(card.language):  # as its answers are read
                terms = [(term, content_stems(term.text)) for term in card.key_terms]
            for term, stems in terms:
                if not stems or term.derived:
                    continue
                at = self._known.get(stems)
                if at is None:
                    at = self._known[stems] = len(self.terms)
                    self.terms.append((stems, term.text, set()))
                self.terms[at][2].add(card.id)
        self._filed = None

    def named(self, card: Card, answer_stems: Iterable[str]) -> list[tuple[frozenset[str], str]]:
        """The other cards' terms whose every content word the answer has (by stem), in the deck's order, each as its
        content stems and its text (grading counts them against ``FOREIGN_MIN``).

        Not another card's: a term of this card, or one made of this card's own words.
        """
        filed = self._filed if self._filed is not None else self._file()
        said = set(answer_stems)
        keys = filed.keys() & said
        if not keys:
            return []
        terms, own = self.terms, None
        named = []
        for i in sorted([i for stem in keys for i in filed[stem]]):
            stems, text, owners = terms[i]
            if stems <= said and card.id not in owners:
                own = self.own_words(card) if own is None else own
                if not all(stem in own or _misspelt_among(stem, own) for stem in stems):
                    named.append((stems, text))
        return named

    def _file(self) -> dict[str, list[int]]:
        """Each term under its rarest word (the first in order of those as rare): a term is whole in an answer only
        if that word is in it, and a rare word leads to few terms."""
        count: dict[str, int] = {}
        for stems, _, _ in self.terms:
            for stem in stems:
                count[stem] = count.get(stem, 0) + 1
        filed: dict[str, list[int]] = {}
        for i, (stems, _, _) in enumerate(self.terms):
            filed.setdefault(min(stems, key=lambda s: (count[s], s)), []).append(i)
        self._filed = filed
        return filed

    def own_words(self, card: Card) -> frozenset[str]:
        """The stems of a card's question, answers and terms (kept: asked about for each answer to it), and of the words
        a name written in humps is made of ("map" and "reduce" of *MapReduce*).

        Taken from the card as the deck has it: a grader grades a card with further reference answers once per
        answer, as copies of it with that answer alone, and whichever copy asks first must get the same words.
        """
        known = self._own.get(card.id)
        if known is None:
            card = self._cards.get(card.id, card)
            texts = [question_words(card), card.answer, *(t.text for t in card.key_terms)]
            texts += [text for r in card.reference_answers for text in (r.answer, *(t.text for t in r.key_terms))]
            texts += [_CAMEL_HUMP.sub(" ", text) for text in texts if _CAMEL_HUMP.search(text)]
            with stemming_in(card.language):
                known = self._own[card.id] = frozenset().union(*map(content_stems, texts))
        return known


def _misspelt_among(stem: str, stems: frozenset[str]) -> bool:
    """Whether ``stems`` has ``stem`` spelt otherwise, within the typo budget of a word of its length."""
    from .match import allowed_edits, nearest_spelling  # here: scoring imports this module, and must not load the matcher

    edits = allowed_edits(len(stem))
    return edits > 0 and nearest_spelling(stem, stems, edits, swaps=True) is not None


def guessing_share(own_named: int, foreign_named: int) -> float:
    """The share of its score an answer keeps for the other cards' terms it names: all of it unless it names at
    least ``FOREIGN_MIN`` of them and no fewer than its own card's terms; then the share of its named terms that are
    its own card's ("sharing, aggregation, emulation, isolation" among eight other terms keeps a third)."""
    if foreign_named < FOREIGN_MIN or foreign_named < own_named:
        return 1.0
    return own_named / (own_named + foreign_named)
