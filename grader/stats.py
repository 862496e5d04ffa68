"""Progress from the history: what is due, retention, streak, mastery per deck, the terms missed most.

``build_stats`` is a pure function of stored cards and reviews (``store.Review``:
of each attempt only what stats reads) and ``now``; ``history_stats`` is the one
door to the store (given, not opened): it syncs the decks and reads what
``build_stats`` needs. ``render.stats_view`` draws the
report. The definitions:

* **due today**: cards ``schedule.pick_cards`` would ask now, the daily limits
  aside (new cards are counted apart, and suspended or buried cards, which
  practice leaves out, are not due); the forecast counts cards falling due
  on each of the next days.
* **retention**: the share of reviews of cards in the Review state (not
  cramming, not first answers, not learning steps) rated Hard or better:
  Anki's "true retention".
* **streak**: consecutive study days with at least one answer, up to today;
  a streak is not broken until a day ends without practice.
* **mastery**: how much of the deck is both remembered now and remembered
  durably. Each card counts its FSRS recall probability now, weighted by how
  far its memory is from mature: stability (the days until recall falls to 90%)
  over 21 days, capped at 1. A card answered once is recalled now with
  probability near 1, but its stability is a few days, so it counts about a
  tenth; it counts whole only once FSRS expects it to last three weeks. A card
  never answered counts 0. (Plain recall-now read 90% right after a first
  session, which says nothing about what will stay.) "Mature" cards are those
  whose stability reaches 21 days (Anki's threshold).
* **missed terms**: key terms by the number of answers that missed them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, Field

from .files import may_exist
from .models import Deck
from .schedule import CardState, Phase, Rating, ScheduleSettings, next_asked, retrievability, study_day
from .store import CardProgress, Review, Store, StoredCard, deck_key

MATURE_DAYS = 21.0
FORECAST_DAYS = 7
ACTIVITY_DAYS = 30
TOP_TERMS = 10


class DayCount(BaseModel):
    day: date
    count: int


class Retention(BaseModel):
    reviews: int = Field(description="Reviews of cards in the Review state.")
    passed: int = Field(description="Of those, rated Hard, Good or Easy.")
    rate: float | None = Field(description="passed / reviews; null without reviews.")


class Streak(BaseModel):
    current: int = Field(description="Consecutive study days with practice, up to today.")
    longest: int
    studied_today: bool


class DeckStats(BaseModel):
    deck: str = Field(description="Resolved path of the deck file.")
    title: str
    cards: int
    new: int = Field(description="Never answered.")
    learning: int = Field(description="In (re)learning steps.")
    young: int = Field(description="In review, stability under 21 days.")
    mature: int = Field(description="In review, stability of 21 days or more.")
    due_today: int
    mastery: float = Field(
        ge=0, le=1, description="Mean of recall probability now x min(1, stability / 21 days); unanswered cards count 0."
    )
    attempts: int
    mean_score: float | None = Field(description="Mean keyword score of graded answers.")


class MissedTerm(BaseModel):
    term: str
    deck_title: str
    question: str = Field(description="The card's question (the latest one asking for the term).")
    missed: int = Field(description="Answers that missed the term.")
    asked: int = Field(description="Answers graded against the term.")
    missed_last_time: bool


class StatsReport(BaseModel):
    """Everything ``grader stats`` shows; ``--json`` prints exactly this."""

    generated_at: datetime
    study_day: date
    due_today: int
    new_cards: int = Field(description="Cards never answered.")
    forecast: list[DayCount] = Field(description=f"Cards falling due on each of the next {FORECAST_DAYS} study days.")
    retention_30_days: Retention
    retention_all_time: Retention
    streak: Streak
    activity: list[DayCount] = Field(description=f"Answers on each of the last {ACTIVITY_DAYS} study days, today last.")
    attempts: int
    time_spent_seconds: float
    decks: list[DeckStats]
    missed_terms: list[MissedTerm]


def history_stats(
    store: Store, decks: Sequence[Deck] | None, *, now: datetime, say: Callable[[str], None] = lambda note: None
) -> StatsReport:
    """The stats of these decks (synced first, so that edited cards count with their history), or of the whole history.

    ``say`` hears what the sync matched (``synced``).
    """
    if decks is None:
        return build_stats(store.cards(), store.reviews(), now=now, settings=store.settings)
    keys = [deck_key(d) for d in decks]
    with synced(store, decks, say=say) as matched:
        return build_stats(matched.cards(keys), matched.reviews(keys), now=now, settings=store.settings)


@contextmanager
def synced(store: Store, decks: Sequence[Deck], *, say: Callable[[str], None]) -> Iterator[Store]:
    """The history to read these decks from once they are matched with it, so that edited cards keep their history.

    ``say`` hears what the sync matched, in practice's words (``practice.sync_notes``): once synced, the decks are
    matched and the next ``grader practice`` has nothing to say about them, so this is the one time it is said.
    A history opened read-only (its folder is) is synced in a scratch copy, so what is read is what a writable one gives.
    """
    from .practice import sync_notes  # here: `grader cards` without a history loads nothing it does not draw

    if store.read_only:
        copy, syncs = store.synced_copy(decks)
        with copy:
            for note in sync_notes(syncs):
                say(note)
            yield copy
        return
    for note in sync_notes(store.sync(decks)):
        say(note)
    yield store


def build_stats(
    cards: list[StoredCard], attempts: Sequence[Review], *, now: datetime, settings: ScheduleSettings
) -> StatsReport:
    """The stats of these cards (those still present in their decks) and these answers (``Review.of`` an ``Attempt``)."""
    today = study_day(now, settings)
    present = [c for c in cards if c.present]
    days = [study_day(a.at, settings) for a in attempts]

    asked = (next_asked(c.state, settings=settings, suspended=c.suspended, buried_until=c.buried_until) for c in present)
    # A suspended card falls due on no day; a buried one on the day its burial ends, if later.
    forecast = Counter(study_day(at, settings) for at in asked if at is not None and at > now)
    per_day = Counter(days)
    month_ago = today - timedelta(days=ACTIVITY_DAYS - 1)
    return StatsReport(
        generated_at=now,
        study_day=today,
        due_today=sum(1 for c in present if _due_now(c, now=now, settings=settings)),
        new_cards=sum(1 for c in present if c.state is None),
        forecast=[DayCount(day=d, count=forecast.get(d, 0)) for d in (today + timedelta(days=k) for k in range(1, FORECAST_DAYS + 1))],
        retention_30_days=retention([a for a, d in zip(attempts, days) if d >= month_ago]),
        retention_all_time=retention(attempts),
        streak=streak(set(days), today),
        activity=[DayCount(day=d, count=per_day.get(d, 0)) for d in (month_ago + timedelta(days=k) for k in range(ACTIVITY_DAYS))],
        attempts=len(attempts),
        time_spent_seconds=round(sum(a.seconds or 0.0 for a in attempts), 1),
        decks=_deck_stats(present, attempts, now=now, settings=settings),
        missed_terms=missed_terms(attempts, {c.deck: c.deck_title for c in cards}),
    )


def _due_now(card: StoredCard, *, now: datetime, settings: ScheduleSettings) -> bool:
    """Whether practice would ask this reviewed card now: due, and not set aside (suspended, or buried until later)."""
    at = next_asked(card.state, settings=settings, suspended=card.suspended, buried_until=card.buried_until)
    return at is not None and at <= now


def card_mastery(state: CardState | None, *, now: datetime, settings: ScheduleSettings) -> float:
    """One card's share of mastery: recall probability now, weighted by stability up to maturity (see the module docstring)."""
    if state is None:
        return 0.0
    return retrievability(state, now=now, settings=settings) * min(1.0, (state.stability or 0.0) / MATURE_DAYS)


def retention(attempts: Sequence[Review]) -> Retention:
    """True retention: reviews of learned cards rated Hard or better, cramming aside."""
    reviews = [a for a in attempts if not a.cram and a.reviewed]
    passed = sum(1 for a in reviews if a.rating >= Rating.hard)
    return Retention(reviews=len(reviews), passed=passed, rate=round(passed / len(reviews), 4) if reviews else None)


def streak(days: set[date], today: date) -> Streak:
    """Current and longest runs of consecutive study days."""
    current, day = 0, today if today in days else today - timedelta(days=1)
    while day in days:
        current, day = current + 1, day - timedelta(days=1)
    longest = run = 0
    previous: date | None = None
    for d in sorted(days):
        run = run + 1 if previous is not None and d - previous == timedelta(days=1) else 1
        longest, previous = max(longest, run), d
    return Streak(current=current, longest=longest, studied_today=today in days)


def missed_terms(attempts: Sequence[Review], titles: dict[str, str], top: int = TOP_TERMS) -> list[MissedTerm]:
    """The key terms missed most often, per deck, most missed first."""
    missed: Counter[tuple[str, str]] = Counter()
    asked: Counter[tuple[str, str]] = Counter()
    last: dict[tuple[str, str], tuple[bool, str]] = {}
    for a in attempts:  # oldest first, so ``last`` ends with the latest answer
        for term in a.matched:
            asked[a.deck, term] += 1
            last[a.deck, term] = (False, a.question)
        for term in a.missing:
            asked[a.deck, term] += 1
            missed[a.deck, term] += 1
            last[a.deck, term] = (True, a.question)
    ranked = sorted(missed, key=lambda k: (-missed[k], -missed[k] / asked[k], not last[k][0], k[1].casefold()))
    return [
        MissedTerm(
            term=term,
            deck_title=titles.get(deck, deck),
            question=last[deck, term][1],
            missed=missed[deck, term],
            asked=asked[deck, term],
            missed_last_time=last[deck, term][0],
        )
        for deck, term in ranked[:top]
    ]


def _deck_stats(present: list[StoredCard], attempts: Sequence[Review], *, now: datetime, settings: ScheduleSettings) -> list[DeckStats]:
    by_deck: dict[str, list[StoredCard]] = defaultdict(list)
    for c in present:
        by_deck[c.deck].append(c)
    tries: dict[str, list[Review]] = defaultdict(list)
    for a in attempts:
        tries[a.deck].append(a)
    result = []
    for deck, cards in by_deck.items():
        states = [c.state for c in cards if c.state is not None]
        review = [s for s in states if s.phase is Phase.review]
        scores = [a.score for a in tries[deck] if a.score is not None]
        result.append(
            DeckStats(
                deck=deck,
                title=cards[0].deck_title,
                cards=len(cards),
                new=len(cards) - len(states),
                learning=len(states) - len(review),
                young=sum(1 for s in review if (s.stability or 0) < MATURE_DAYS),
                mature=sum(1 for s in review if (s.stability or 0) >= MATURE_DAYS),
                due_today=sum(1 for c in cards if _due_now(c, now=now, settings=settings)),
                mastery=round(sum(card_mastery(s, now=now, settings=settings) for s in states) / len(cards), 4),
                attempts=len(tries[deck]),
                mean_score=round(sum(scores) / len(scores), 4) if scores else None,
            )
        )
    return sorted(result, key=lambda d: (d.title.casefold(), d.deck))


# --- Where each card of a deck stands (grader cards) -------------------------------------


def card_progress(
    deck: Deck, *, now: datetime, history: Path | None = None, say: Callable[[str], None] = lambda note: None
) -> dict[str, CardProgress]:
    """Each card's schedule, last answer and set-aside state, by card id; empty without a history (none is created).

    The deck is matched with the history first, as ``stats DECK`` matches it (``synced``), so that an edited card
    shows its history rather than showing as new; ``say`` hears what the match found.
    """
    from .errors import HistoryReadOnly
    from .store import default_path

    path = history or default_path()
    if not may_exist(path):
        return {}
    try:
        store = Store.open(path)
    except HistoryReadOnly:
        store = Store.open(path, read_only=True)
    with store, synced(store, [deck], say=say) as matched:
        progress = matched.progress([deck])
    key = deck_key(deck)
    return {card_id: p for (k, card_id), p in progress.items() if k == key}


def asked_at(p: CardProgress | None, settings: ScheduleSettings) -> datetime | None:
    """When practice will ask a card by its schedule (``schedule.next_asked``, set-aside included): when ``cards``
    says it is due, and what ``cards --due`` lists by. None for a card never answered, or suspended."""
    return None if p is None else next_asked(p.state, settings=settings, suspended=p.suspended, buried_until=p.buried_until)


def is_due_now(p: CardProgress | None, *, now: datetime, settings: ScheduleSettings) -> bool:
    """Whether a card would be asked now for its schedule: reviewed before, due, and not set aside."""
    at = asked_at(p, settings)
    return at is not None and at <= now


def progress_record(p: CardProgress | None, settings: ScheduleSettings) -> dict:
    """The history fields ``cards --json`` adds to a card's record (null, "new" or 0 for a card never answered):
    ``due`` is FSRS's due time, ``next_asked`` when practice will ask the card (``asked_at``)."""
    state = p.state if p is not None else None
    at = asked_at(p, settings)
    return {
        "due": state.due.isoformat() if state else None,
        "next_asked": at.isoformat() if at else None,
        "phase": state.phase.value if state else "new",
        "last_verdict": p.last_verdict.value if p is not None and p.last_verdict else None,
        "last_score": p.last_score if p is not None else None,
        "last_rating": int(p.last_rating) if p is not None and p.last_rating else None,
        "last_answered": p.last_at.isoformat() if p is not None and p.last_at else None,
        "reviews": state.reps if state else 0,
        "lapses": state.lapses if state else 0,
        "suspended": bool(p and p.suspended),
        "buried_until": p.buried_until.isoformat() if p is not None and p.buried_until else None,
    }
