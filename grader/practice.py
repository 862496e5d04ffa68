"""The words of a practice sitting, as pure functions: what the user types and what they are told.

What the user types: a command instead of an answer (``/skip``, ``/undo``), a
self-rating (``c``, ``p``, ``i`` or a rating key), the ``--cards`` picks. What they are told:
how their decks matched their history (``sync_notes``) and the end-of-session
tally (``SessionSummary``). No I/O and no history here: ``session.py`` runs the
sitting and calls these.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from .errors import GraderError
from .identity import How
from .models import Card, Deck, Grade, Verdict

if TYPE_CHECKING:
    from .schedule import Rating
    from .store import DeckSync


class Command(str, Enum):
    """What a practising user can type instead of an answer."""

    skip = "skip"
    reveal = "reveal"
    quit = "quit"
    undo = "undo"  # take back the last answer (or skip, suspension, burial) and ask that card again
    suspend = "suspend"  # never ask this card again, unless it is named with --cards
    bury = "bury"  # not before the next study day
    open = "open"  # show the images of the question asked, or of the answer just shown, in the system viewer


COMMANDS = {
    "/skip": Command.skip, "/s": Command.skip,
    "/reveal": Command.reveal, "/r": Command.reveal,
    "/quit": Command.quit, "/q": Command.quit,
    "/undo": Command.undo, "/u": Command.undo,
    "/suspend": Command.suspend,
    "/bury": Command.bury,
    "/open": Command.open, "/o": Command.open,
}  # fmt: skip

COMMANDS_HINT = "/skip /reveal /undo /suspend /bury /open /quit"

SELF_RATINGS = {
    "c": Verdict.correct, "correct": Verdict.correct, "y": Verdict.correct, "yes": Verdict.correct,
    "p": Verdict.partial, "partial": Verdict.partial,
    "i": Verdict.incorrect, "incorrect": Verdict.incorrect, "n": Verdict.incorrect, "no": Verdict.incorrect,
}  # fmt: skip


# A line that is a slash and one word of letters, nothing else ("/foo", "/sikp"), is a mistyped command: no answer
# is that. An answer that starts with a slash goes on past one word ("/etc/passwd holds ...", "/2 halves it").
# A slash alone or "/?" asks for the commands: graded, it failed the card.
_COMMAND_LIKE = re.compile(r"/(?:[^\W\d_]+|\?*)")


def parse_command(text: str) -> Command | None:
    """The command a typed line stands for, if it is one."""
    return COMMANDS.get(text.strip().lower())


def unknown_command(text: str) -> str | None:
    """The word typed if a line looks like a command but is none (to say so, never to grade it as an answer)."""
    typed = text.strip()
    return typed if parse_command(typed) is None and _COMMAND_LIKE.fullmatch(typed) else None


def parse_self_rating(text: str) -> Verdict | None:
    """How a user says they did on a card the grader cannot grade."""
    return SELF_RATINGS.get(text.strip().lower())


def parse_self_rating_key(text: str) -> Rating | None:
    """A self-rating as an FSRS rating: c/p/i (correct, partial, incorrect) or a rating key (1-4, a/h/g/e)."""
    from .schedule import VERDICT_RATING, parse_rating

    verdict = parse_self_rating(text)
    return VERDICT_RATING[verdict] if verdict is not None else parse_rating(text) if text.strip() else None


def typed_ahead(key: str) -> str | None:
    """The text a key read brought instead of one key press, if it did: what was typed before the keys were read (the
    rest of an answer pasted with a blank line in it, an answer begun early). Never taken for a key: it is said, unused.

    One key, with the Enter typed after it, is a key ("3\r", as a line-buffered terminal sends it), and so is an
    escape sequence (an arrow).
    """
    text = key.strip()
    return text if len(text) > 1 and not text.startswith("\x1b") else None


def verdict_of(rating: Rating) -> Verdict:
    """The verdict a self-rating stands for in the tally: Again is incorrect, Hard partial, Good and Easy correct."""
    return {1: Verdict.incorrect, 2: Verdict.partial}.get(int(rating), Verdict.correct)


def parse_picks(spec: str, decks: Sequence[Deck]) -> list[list[Card]]:
    """The cards ``--cards`` names in each deck: numbers, ranges (``3-5``) and ids, comma-separated.

    A number or range names that card of every deck; an id names its card in whichever deck holds it (ids of a
    folder's decks differ). A spec naming nothing (``,``) is an error, not a sitting with nothing due.
    """
    items = [item for item in (s.strip() for s in spec.split(",")) if item]
    if not items:
        raise GraderError(f"--cards: '{spec}' names no card; give numbers, ranges or ids, e.g. '1,3,5-7'")
    ids = {card.id for deck in decks for card in deck.cards}
    picked = []
    for deck in decks:
        try:
            picked.append(_picks_in(items, deck.cards, ids))
        except GraderError as exc:
            raise GraderError(exc.message, path=deck.path if len(decks) > 1 else None) from None
    return picked


def _picks_in(items: list[str], cards: list[Card], ids: set[str]) -> list[Card]:
    """The cards of one deck that ``items`` name; ``ids``: every deck's card ids (another deck's id names none here)."""
    by_id = {c.id: c for c in cards}
    picked: list[Card] = []
    for item in items:
        if item in ids:
            picked.extend([by_id[item]] if item in by_id else [])
            continue
        lo, sep, hi = item.partition("-")
        try:
            first, last = int(lo), int(hi) if sep else int(lo)
        except ValueError:
            raise GraderError(f"--cards: '{item}' is neither a card number, a range nor a card id") from None
        if first > last:
            raise GraderError(f"--cards: '{item}' runs backwards; write the smaller number first ({last}-{first})")
        if not (1 <= first and last <= len(cards)):
            raise GraderError(f"--cards: '{item}' is outside 1-{len(cards)}")
        picked.extend(cards[first - 1 : last])
    return list({c.id: c for c in picked}.values())


class Outcome(BaseModel):
    """What happened to one card in a session."""

    card: str
    number: int
    verdict: Verdict | None = Field(None, description="None when skipped or revealed without answering.")
    score: float | None = None
    self_rated: bool = Field(False, description="Answered on a card the grader cannot grade: the verdict is the user's, with no score.")
    skipped: bool = False
    revealed: bool = False
    set_aside: str | None = Field(None, description="'suspended' or 'buried' when the user set the card aside.")


class SessionSummary(BaseModel):
    """The end-of-session tally: each card asked is answered, skipped or revealed, or set aside.

    The verdicts count self-ratings too; the mean score is over the graded answers only (a self-rating has no
    score), and says so when some answers were self-rated.
    """

    asked: int
    answered: int
    self_rated: int = Field(description="Of the answered: rated by the user, so not in the mean score.")
    skipped: int = Field(description="Skipped, revealed, or left unrated: asked, not answered.")
    set_aside: int = Field(description="Suspended or buried.")
    verdicts: dict[str, int]
    graded: int = Field(description="Answers the grader scored: what the mean score is of.")
    mean_score: float | None

    @classmethod
    def of(cls, outcomes: list[Outcome]) -> SessionSummary:
        scores = [o.score for o in outcomes if o.score is not None]
        return cls(
            asked=len(outcomes),
            answered=sum(1 for o in outcomes if o.verdict is not None),
            self_rated=sum(1 for o in outcomes if o.self_rated),
            skipped=sum(1 for o in outcomes if o.skipped or o.revealed),
            set_aside=sum(1 for o in outcomes if o.set_aside),
            verdicts=dict(Counter(o.verdict.value for o in outcomes if o.verdict is not None)),
            graded=len(scores),
            mean_score=round(sum(scores) / len(scores), 3) if scores else None,
        )


def outcome_of(card: Card, grade: Grade) -> Outcome:
    return Outcome(card=card.id, number=card.number, verdict=grade.verdict, score=grade.score if card.gradable else None)


def sync_notes(syncs: Sequence[DeckSync]) -> list[str]:
    """What a user should hear about ``Store.sync``: history carried over, cards treated as new, cards gone."""
    from .resources import bundled_deck_name
    from .store import deck_key  # here, not at the top: render imports this module and needs no sqlite3

    notes = []
    for s in syncs:
        title = s.deck.title
        moved = [old for _, _, old in s.continued if old.deck != deck_key(s.deck)]
        if len(moved) > 3:
            sources = sorted({old.deck for old in moved})
            bundled = bundled_deck_name(deck_key(s.deck))
            elsewhere = bundled is not None and all(bundled_deck_name(d) == bundled for d in sources)
            why = "the bundled deck, practised in another installation" if elsewhere else "the deck moved"
            notes.append(f"{title}: history of {len(moved)} cards carried over from {', '.join(sources)} ({why})")
        for card, how, old in s.continued:
            if len(moved) > 3 and old in moved and how is How.same_question:
                continue  # said above; edited cards are still named
            where = f" in {Path(old.deck).name}" if old.deck != deck_key(s.deck) else ""
            notes.append(f"{title}: card {card.number} continues the history of “{old.question}”{where} ({how.value})")
        if s.known or s.continued:
            for card in s.new:
                notes.append(f"{title}: card {card.number} “{card.question}” is new (no earlier history matches it)")
        elif s.new:
            notes.append(f"{title}: new deck, {len(s.new)} card{'s' if len(s.new) > 1 else ''}")
        if s.joined:
            sources = ", ".join(sorted({c.deck for c in s.joined}))
            notes.append(f"{title}: history of {len(s.joined)} card{'s' if len(s.joined) > 1 else ''} joined from {sources} (another copy of the deck)")
        if s.retired:
            notes.append(f"{title}: {s.retired} card{'s' if s.retired > 1 else ''} no longer in the deck (history kept)")
    return notes
