"""Which stored card an edited card continues, so that editing a deck keeps its history.

A card's id is a hash of its normalised question (``cardtext.card_id``), so
renumbering, moving cards around and editing answers keep the id by
themselves. What changes the id is editing the question, and what changes the
deck key is moving or renaming the deck file. ``match_cards`` pairs each card
of the decks being loaded with at most one stored card, best evidence first:

1. the same normalised question (a moved card, a moved or renamed deck file;
   among cards sharing one question, the most similar answer wins);
2. the same normalised answer, of at least ``MIN_ANSWER_WORDS`` words (the
   question was reworded; a bare "yes" says nothing);
3. a question at least ``SIMILAR_QUESTION`` similar (a typo fixed);
4. the same id in the same deck, for cards with an empty question (their ids
   only say where they stand among the deck's other empty questions).

Within a level, a stored card of the same deck wins over one of another deck.
A card that matches nothing is new, and the caller says so. Unchanged cards
and moved deck files are settled by exact comparison first, so the fuzzy
comparison (and numpy) is only paid for cards that were edited.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import Enum

from .normalize import normalize

# rapidfuzz ratio of normalised questions. The closest distinct questions in
# the 52 decks of the corpus score 85 ("what does the map function do" and
# "... the reduce function do"); fixing a one-letter typo in a 30-character
# question scores about 97.
SIMILAR_QUESTION = 90.0
MIN_ANSWER_WORDS = 3


@dataclass(frozen=True)
class CardRef:
    """What identity matching needs to know of a card, current or stored."""

    deck: str
    id: str
    question: str
    answer: str


class How(str, Enum):
    """Why a card was taken to continue a stored one."""

    same = "same"  # same deck and id: nothing to do
    same_question = "same question"
    same_answer = "same answer"
    similar_question = "similar question"
    same_position = "same position"


@dataclass(frozen=True)
class Match:
    """A current card and the stored card whose history it continues (None: a new card)."""

    card: CardRef
    stored: CardRef | None
    how: How | None

    @property
    def rekeyed(self) -> bool:
        """Whether the stored card's key (deck or id) must change to the current one."""
        return self.stored is not None and (self.stored.deck, self.stored.id) != (self.card.deck, self.card.id)


def match_cards(current: list[CardRef], stored: list[CardRef]) -> list[Match]:
    """Pair each current card with the stored card it continues, one to one (see the module docstring)."""
    cq = [normalize(c.question) for c in current]
    sq = [normalize(s.question) for s in stored]
    result: dict[int, Match] = {}
    claimed: set[int] = set()

    # The common cases, without fuzzy matching. A card unchanged in every field
    # is itself (even with no question, or one that repeats).
    exact = Counter(current)
    stored_at = {s: j for j, s in enumerate(stored)}
    for i, c in enumerate(current):
        if exact[c] == 1 and c in stored_at:
            result[i] = Match(c, c, How.same)
            claimed.add(stored_at[c])
    # Then the same question under the same id, a question no other card has
    # on either side: first within a deck (an edited answer), then across
    # decks (a moved deck file).
    for scope in (lambda ref: ref.deck, lambda ref: None):
        current_qs = Counter((scope(c), q) for c, q in zip(current, cq))
        stored_qs = Counter((scope(s), q) for s, q in zip(stored, sq))
        by_id: dict[tuple, list[int]] = {}
        for j, s in enumerate(stored):
            if j not in claimed:
                by_id.setdefault((scope(s), s.id), []).append(j)
        for i, c in enumerate(current):
            js = by_id.get((scope(c), c.id), [])
            key = (scope(c), cq[i])
            if i not in result and cq[i] and len(js) == 1 and sq[js[0]] == cq[i] and current_qs[key] == stored_qs[key] == 1:
                s = stored[js[0]]
                result[i] = Match(c, s, How.same if s.deck == c.deck else How.same_question)
                claimed.add(js[0])

    rest = [i for i in range(len(current)) if i not in result]
    free = [j for j in range(len(stored)) if j not in claimed]
    if rest and free:
        for i, j, how in _ranked_pairs([current[i] for i in rest], [stored[j] for j in free]):
            i, j = rest[i], free[j]
            if i in result or j in claimed:
                continue
            c, s = current[i], stored[j]
            same = (s.deck, s.id) == (c.deck, c.id)
            result[i] = Match(c, s, How.same if same else how)
            claimed.add(j)
    return [result.get(i, Match(c, None, None)) for i, c in enumerate(current)]


# Evidence levels, strongest first (the order of the module docstring).
_LEVELS = (How.same_question, How.same_answer, How.similar_question, How.same_position)


def _ranked_pairs(current: list[CardRef], stored: list[CardRef]) -> list[tuple[int, int, How]]:
    """Every (current, stored) pair with some evidence, best first, compared as arrays."""
    import numpy as np  # only edited decks get here: an unchanged deck starts without numpy

    from .match import similarity

    cq = np.array([normalize(c.question) for c in current], dtype=object)[:, None]
    sq = np.array([normalize(s.question) for s in stored], dtype=object)[None, :]
    ca = np.array([normalize(c.answer) for c in current], dtype=object)[:, None]
    sa = np.array([normalize(s.answer) for s in stored], dtype=object)[None, :]
    q_sim = similarity(list(cq[:, 0]), list(sq[0]))
    a_sim = similarity(list(ca[:, 0]), list(sa[0]))
    has_q = (cq != "") & (sq != "")
    same_deck = np.array([c.deck for c in current], dtype=object)[:, None] == np.array([s.deck for s in stored], dtype=object)[None, :]
    same_id = np.array([c.id for c in current], dtype=object)[:, None] == np.array([s.id for s in stored], dtype=object)[None, :]
    evidence = [
        has_q & (cq == sq),
        np.vectorize(_long_enough, otypes=[bool])(ca) & (ca == sa),
        has_q & (q_sim >= SIMILAR_QUESTION),
        (cq == "") & same_deck & same_id,
    ]
    level = np.select(evidence, [len(_LEVELS) - n for n in range(len(_LEVELS))], default=0)
    rows, cols = np.nonzero(level)
    # Sort by level, then same deck, then question and answer similarity, all descending.
    order = np.lexsort((-a_sim[rows, cols], -q_sim[rows, cols], -same_deck[rows, cols].astype(int), -level[rows, cols]))
    return [(int(rows[k]), int(cols[k]), _LEVELS[len(_LEVELS) - int(level[rows[k], cols[k]])]) for k in order]


def _long_enough(answer: str) -> bool:
    return bool(answer) and answer.count(" ") + 1 >= MIN_ANSWER_WORDS
