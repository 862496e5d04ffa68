"""Spaced repetition: grades become FSRS ratings, ratings become due dates.

Everything here is a pure function of its arguments; the current time is
always passed in (``now=``), so tests can travel in time. ``fsrs`` is imported
only inside ``review`` and ``retrievability``, so ``grader --help`` never pays
for it.

Timing rules, in one place:

* A *study day* starts at ``day_starts_at`` o'clock local time (4 am, as in
  Anki), so a session after midnight still counts for the evening before.
* A card in the Review state is due for the whole study day its due time falls
  in (or any earlier one); a card still in (re)learning is due once its due
  time is less than ``learn_ahead_minutes`` away.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from enum import Enum, IntEnum
from typing import TYPE_CHECKING, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from .models import Grade, Verdict

if TYPE_CHECKING:
    import fsrs

K = TypeVar("K", bound=Hashable)


class Rating(IntEnum):
    """How well a card was recalled; the values are FSRS's."""

    again = 1
    hard = 2
    good = 3
    easy = 4


# One key per rating, as in Anki (1-4), plus the initials.
RATING_KEYS = {
    "1": Rating.again, "a": Rating.again,
    "2": Rating.hard, "h": Rating.hard,
    "3": Rating.good, "g": Rating.good,
    "4": Rating.easy, "e": Rating.easy,
}  # fmt: skip


def parse_rating(key: str) -> Rating | None:
    """The rating a key (or word) stands for: 1-4, a/h/g/e or the rating's name."""
    key = key.strip().lower()
    if key in RATING_KEYS:
        return RATING_KEYS[key]
    return Rating.__members__.get(key)


class Phase(str, Enum):
    """Where a card is in FSRS's life cycle (FSRS's ``State``; a card never reviewed has none)."""

    learning = "learning"
    review = "review"
    relearning = "relearning"


class CardState(BaseModel):
    """The memory state of one card after its last review."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    phase: Phase
    # Bounded as FSRS keeps them: an imported or edited state outside them (a negative stability) made
    # stats and practice fail with a traceback long after it was accepted.
    step: int | None = Field(None, ge=0, description="Learning or relearning step; None in review.")
    stability: float | None = Field(None, gt=0, allow_inf_nan=False, description="FSRS stability, in days.")
    difficulty: float | None = Field(None, ge=1, le=10, allow_inf_nan=False, description="FSRS difficulty, 1 to 10.")
    due: datetime
    last_review: datetime | None = None
    reps: int = Field(0, ge=0, description="Reviews so far.")
    lapses: int = Field(0, ge=0, description="Times forgotten after being learned.")


MINUTES_A_YEAR = 365 * 24 * 60


class ScheduleSettings(BaseModel):
    """How much to study and how to rate; every field is a setting with a flag or a key."""

    model_config = ConfigDict(extra="forbid")

    new_per_day: int = Field(20, ge=0, description="New cards introduced per study day (Anki's default).")
    reviews_per_day: int = Field(200, ge=0, description="Review-state cards asked per study day (Anki's default).")
    desired_retention: float = Field(0.9, gt=0.5, lt=1.0, description="Target recall probability at the due date.")
    easy_think_seconds: float = Field(
        5.0, ge=0, description="Seconds to read and recall that still count as fast (see is_fast)."
    )
    easy_seconds_per_word: float = Field(
        1.5, ge=0, description="Typing time allowed per word of the answer: 1.5 s is 40 words a minute."
    )
    # At most a year: further ahead is no schedule at all, and an endless one (inf, 1e17) overflowed the dates.
    learn_ahead_minutes: float = Field(20, ge=0, le=MINUTES_A_YEAR, description="A learning card due this soon is asked now.")
    day_starts_at: int = Field(4, ge=0, le=23, description="Local hour at which a study day starts.")


def settings_from(table: Mapping[str, object], flags: Mapping[str, object] | None = None) -> ScheduleSettings:
    """Settings from the ``[practice]`` table of the settings file, overridden by flags that were given.

    Raises pydantic's ValidationError; the caller knows the file and reports it
    (``config.load_schedule_settings`` reads the file).
    """
    given = {k: v for k, v in (flags or {}).items() if v is not None}
    return ScheduleSettings.model_validate({**table, **given})


# --- Ratings --------------------------------------------------------------------

VERDICT_RATING = {Verdict.incorrect: Rating.again, Verdict.partial: Rating.hard, Verdict.correct: Rating.good}


def is_fast(seconds: float, answer: str, settings: ScheduleSettings) -> bool:
    """Whether an answer came fast: within ``easy_think_seconds`` plus ``easy_seconds_per_word`` per word typed.

    Time is measured from the question appearing to the answer being submitted,
    so a long answer earns the time it takes to type; what is left over is the
    time spent recalling.
    """
    words = len(answer.split())
    return seconds <= settings.easy_think_seconds + settings.easy_seconds_per_word * words


def rating_for(grade: Grade, *, answer: str, seconds: float | None, settings: ScheduleSettings) -> Rating | None:
    """The FSRS rating a grade earns; None for a self-graded card (the user rates it).

    Incorrect is Again, partial is Hard, correct is Good; correct *and*
    complete (every key term found, score 1) *and* fast (``is_fast``) is Easy.
    Without a time (``seconds=None``, e.g. a scripted session) nothing is Easy.
    """
    if grade.verdict is Verdict.self_graded:
        return None
    rating = VERDICT_RATING[grade.verdict]
    complete = grade.score >= 1.0 and not grade.missing
    if rating is Rating.good and complete and seconds is not None and is_fast(seconds, answer, settings):
        return Rating.easy
    return rating


# --- Reviewing ------------------------------------------------------------------


def _utc(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(timezone.utc)


def _scheduler(settings: ScheduleSettings) -> fsrs.Scheduler:
    import fsrs

    # Fuzzing draws from the global random generator; without it a review is a
    # pure function of (state, rating, time), which is what lets the schedule
    # be tested and a rating override be recomputed exactly.
    return fsrs.Scheduler(desired_retention=settings.desired_retention, enable_fuzzing=False)


def _to_fsrs(state: CardState | None, now: datetime) -> fsrs.Card:
    import fsrs

    if state is None:
        return fsrs.Card(card_id=0, due=now)
    return fsrs.Card(
        card_id=0,
        state=fsrs.State[state.phase.value.capitalize()],
        step=state.step,
        stability=state.stability,
        difficulty=state.difficulty,
        due=_utc(state.due),
        last_review=_utc(state.last_review) if state.last_review else None,
    )


def review(state: CardState | None, rating: Rating, *, now: datetime, settings: ScheduleSettings) -> CardState:
    """The state of a card after a review at ``now`` (``state`` None: a card never reviewed)."""
    import fsrs

    now = _utc(now)
    card, _ = _scheduler(settings).review_card(_to_fsrs(state, now), fsrs.Rating(int(rating)), review_datetime=now)
    lapsed = state is not None and state.phase is Phase.review and rating is Rating.again
    return CardState(
        phase=Phase(card.state.name.lower()),
        step=card.step,
        stability=card.stability,
        difficulty=card.difficulty,
        due=card.due,
        last_review=card.last_review,
        reps=(state.reps if state else 0) + 1,
        lapses=(state.lapses if state else 0) + int(lapsed),
    )


def retrievability(state: CardState | None, *, now: datetime, settings: ScheduleSettings) -> float:
    """FSRS's probability that the card is recalled at ``now`` (0 for a card never reviewed)."""
    if state is None:
        return 0.0
    return float(_scheduler(settings).get_card_retrievability(_to_fsrs(state, _utc(now)), _utc(now)))


# --- Days -----------------------------------------------------------------------


def study_day(moment: datetime, settings: ScheduleSettings) -> date:
    """The study day a moment belongs to, in local time."""
    local = moment.astimezone()
    return (local - timedelta(hours=settings.day_starts_at)).date()


def day_start(day: date, settings: ScheduleSettings) -> datetime:
    """When a study day starts, as an aware local datetime."""
    return datetime.combine(day, time(settings.day_starts_at)).astimezone()


def due_from(state: CardState, settings: ScheduleSettings) -> datetime:
    """The moment from which practice asks a reviewed card (see the module docstring): the one rule for "due".

    Its due time is FSRS's; practice asks a review card from the start of that time's study day, and a
    (re)learning card ``learn_ahead_minutes`` early. ``is_due`` and every "next review" said derive from this.
    """
    if state.phase is Phase.review:
        return day_start(study_day(state.due, settings), settings)
    return state.due - timedelta(minutes=settings.learn_ahead_minutes)


def is_due(state: CardState, *, now: datetime, settings: ScheduleSettings) -> bool:
    """Whether a reviewed card should be asked now (see ``due_from``)."""
    return due_from(state, settings) <= now


def next_asked(
    state: CardState | None, *, settings: ScheduleSettings, suspended: bool = False, buried_until: datetime | None = None
) -> datetime | None:
    """When practice will ask a card by its schedule, set-aside included: None for a card never answered or suspended.

    A buried card waits for whichever comes later, its burial's end or ``due_from``. ``stats``, ``cards --due`` and
    practice's closing line all ask this, so they agree on what is due now and when the next review is.
    """
    if state is None or suspended:
        return None
    start = due_from(state, settings)
    return max(start, buried_until) if buried_until is not None else start


# --- Choosing cards -------------------------------------------------------------


@dataclass
class StudyPlan(Generic[K]):
    """The cards of a session, in order, and what the daily limits held back."""

    due: list[K] = field(default_factory=list)  # earliest due first
    new: list[K] = field(default_factory=list)  # in the order given
    new_held_back: int = 0
    reviews_held_back: int = 0
    next_due: datetime | None = None  # when the first card not in the plan will be asked (``due_from``)

    @property
    def keys(self) -> list[K]:
        return [*self.due, *self.new]


def pick_cards(
    keys: Sequence[K],
    states: Mapping[K, CardState],
    *,
    now: datetime,
    settings: ScheduleSettings,
    new_done_today: int = 0,
    reviews_done_today: int = 0,
    cram: bool = False,
) -> StudyPlan:
    """Due cards first (earliest due first), then new cards in the given order up to the daily limit.

    Cards still in (re)learning are not capped: a card just failed comes back
    whatever the limits. Review-state cards count against ``reviews_per_day``
    and new ones against ``new_per_day``, less what was done earlier today.
    ``cram`` ignores the schedule and asks every card in order.
    """
    if cram:
        return StudyPlan(due=list(keys))
    learning: list[K] = []
    reviews: list[K] = []
    later: list[datetime] = []
    for k in keys:
        state = states.get(k)
        if state is None:
            continue
        if not is_due(state, now=now, settings=settings):
            later.append(due_from(state, settings))
        elif state.phase is Phase.review:
            reviews.append(k)
        else:
            learning.append(k)
    review_room = max(0, settings.reviews_per_day - reviews_done_today)
    new_room = max(0, settings.new_per_day - new_done_today)
    unseen = [k for k in keys if k not in states]
    due = sorted([*learning, *sorted(reviews, key=lambda k: states[k].due)[:review_room]], key=lambda k: states[k].due)
    return StudyPlan(
        due=due,
        new=unseen[:new_room],
        new_held_back=max(0, len(unseen) - new_room),
        reviews_held_back=max(0, len(reviews) - review_room),
        next_due=min(later, default=None),
    )


def describe_due(due: datetime, *, now: datetime) -> str:
    """When a card is due, as a person says it: "in 10 min", "in 3 h", "in 4 days"."""
    seconds = (due - now).total_seconds()
    if seconds < 30:
        return "now"
    if seconds < 3570:
        return f"in {max(1, round(seconds / 60))} min"
    if seconds < 86400:
        return f"in {round(seconds / 3600)} h"
    days = round(seconds / 86400)
    return "tomorrow" if days == 1 else f"in {days} days"


def ask_again(state: CardState, *, now: datetime, settings: ScheduleSettings) -> bool:
    """Whether a card just reviewed should come back in the same session (a failed or learning card)."""
    return state.phase is not Phase.review and is_due(state, now=now, settings=settings)


def preview(state: CardState | None, *, now: datetime, settings: ScheduleSettings) -> dict[Rating, datetime]:
    """When the card would next be due after each rating given at ``now``: what the rating keys show (Anki's buttons)."""
    return {rating: review(state, rating, now=now, settings=settings).due for rating in Rating}


def describe_interval(due: datetime, *, now: datetime) -> str:
    """A gap as a rating key shows it, short: "1 min", "6 min", "3 h", "4 d", "2.5 mo", "1.2 y"."""
    seconds = max(0.0, (due - now).total_seconds())
    if seconds < 3570:
        return f"{max(1, round(seconds / 60))} min"
    if seconds < 86400 - 1800:
        return f"{round(seconds / 3600)} h"
    days = seconds / 86400
    if days < 30:
        return f"{round(days)} d"
    if days < 365:
        return f"{days / 30:.1f} mo".replace(".0 ", " ")
    return f"{days / 365:.1f} y".replace(".0 ", " ")


def next_study_day(now: datetime, settings: ScheduleSettings) -> datetime:
    """When the next study day starts: how long a buried card waits ("until tomorrow")."""
    return day_start(study_day(now, settings) + timedelta(days=1), settings)
