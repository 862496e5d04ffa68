"""Which stored card an edited card continues, so that editing a deck keeps its history.

A card's id is a hash of its normalised question (``decks.card_id``), so
renumbering, moving cards around and editing answers keep the id by
themselves. What changes the id is editing the question, and what changes the
deck key is moving or renaming the deck file. ``match_cards`` pairs each card
of the decks being loaded with at most one stored card, best evidence first:

1. the same normalised question (a moved card, a moved or renamed deck file;
   among cards sharing one question, the most similar answer wins);
2. the same normalised answer, when it is not empty (the question was reworded);
3. a question at least ``SIMILAR_QUESTION`` similar (a typo fixed);
4. the same id in the same deck, for cards with an empty question (their ids
   only say where they stand among the deck's other empty questions).

Within a level, a stored card of the same deck wins over one of another deck.
A card that matches nothing is new, and the caller says so.
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
    from .match import similarity

    cq = [normalize(c.question) for c in current]
    sq = [normalize(s.question) for s in stored]
    result: dict[int, Match] = {}
    claimed: set[int] = set()

    # The common case, with no fuzzy matching: same id, same question, and the
    # id is unambiguous on both sides.
    current_ids = Counter(c.id for c in current)
    stored_by_id: dict[str, list[int]] = {}
    for j, s in enumerate(stored):
        stored_by_id.setdefault(s.id, []).append(j)
    for i, c in enumerate(current):
        js = stored_by_id.get(c.id, [])
        if cq[i] and current_ids[c.id] == 1 and len(js) == 1 and sq[js[0]] == cq[i]:
            s = stored[js[0]]
            result[i] = Match(c, s, How.same if s.deck == c.deck else How.same_question)
            claimed.add(js[0])

    rest = [i for i in range(len(current)) if i not in result]
    free = [j for j in range(len(stored)) if j not in claimed]
    if rest and free:
        ca = [normalize(current[i].answer) for i in rest]
        sa = [normalize(stored[j].answer) for j in free]
        q_sim = similarity([cq[i] for i in rest], [sq[j] for j in free])
        a_sim = similarity(ca, sa)
        candidates = []
        for x, i in enumerate(rest):
            c = current[i]
            for y, j in enumerate(free):
                s = stored[j]
                same_deck = s.deck == c.deck
                if cq[i] and cq[i] == sq[j]:
                    how = How.same_question
                elif ca[x] and ca[x] == sa[y]:
                    how = How.same_answer
                elif cq[i] and sq[j] and q_sim[x, y] >= SIMILAR_QUESTION:
                    how = How.similar_question
                elif not cq[i] and same_deck and c.id == s.id:
                    how = How.same_position
                else:
                    continue
                level = len(How) - list(How).index(how)
                candidates.append(((level, same_deck, float(q_sim[x, y]), float(a_sim[x, y])), i, j, how))
        candidates.sort(key=lambda cand: cand[0], reverse=True)
        for _, i, j, how in candidates:
            if i in result or j in claimed:
                continue
            c, s = current[i], stored[j]
            same = (s.deck, s.id) == (c.deck, c.id)
            result[i] = Match(c, s, How.same if same else how)
            claimed.add(j)
    return [result.get(i, Match(c, None, None)) for i, c in enumerate(current)]
