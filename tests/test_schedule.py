"""Ratings and scheduling: pure functions, tested with injected time."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grader.config import load_schedule_settings
from grader.errors import InputError
from grader.models import Grade, TermMatch, Verdict
from grader.schedule import (
    CardState,
    Phase,
    Rating,
    ScheduleSettings,
    ask_again,
    describe_due,
    is_due,
    is_fast,
    next_asked,
    parse_rating,
    pick_cards,
    rating_for,
    retrievability,
    review,
    study_day,
)

pytestmark = pytest.mark.usefixtures("utc_local_time")  # study days follow local time


SETTINGS = ScheduleSettings()
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def grade(verdict: Verdict, score: float, found: int = 2, missed: int = 0) -> Grade:
    terms = [TermMatch(term=f"t{i}", found=True, credit=1.0) for i in range(found)]
    terms += [TermMatch(term=f"m{i}", found=False, credit=0.0) for i in range(missed)]
    return Grade(card="c", number=1, score=score, verdict=verdict, terms=terms)


FOUR_WORDS = "one two three four"  # fast means within 5 + 4 * 1.5 = 11 seconds


@pytest.mark.parametrize(
    ("the_grade", "seconds", "expected"),
    [
        (grade(Verdict.incorrect, 0.0, found=0, missed=2), 2.0, Rating.again),
        (grade(Verdict.partial, 0.5, found=1, missed=1), 2.0, Rating.hard),
        (grade(Verdict.correct, 0.8, found=3, missed=1), 2.0, Rating.good),  # fast but not complete
        (grade(Verdict.correct, 1.0), 11.0, Rating.easy),  # complete, and fast to the second
        (grade(Verdict.correct, 1.0), 11.01, Rating.good),  # complete, a moment too slow
        (grade(Verdict.correct, 1.0), None, Rating.good),  # no timing (a script): never Easy
        (grade(Verdict.self_graded, 0.0, found=0), 2.0, None),  # the user rates it
    ],
)
def test_rating_for(the_grade, seconds, expected):
    assert rating_for(the_grade, answer=FOUR_WORDS, seconds=seconds, settings=SETTINGS) is expected


@pytest.mark.parametrize(
    ("seconds", "answer", "expected"),
    [
        (5.0, "", True),  # thinking time alone
        (5.1, "", False),
        (20.0, " ".join(["word"] * 10), True),  # 5 + 10 * 1.5
        (20.1, " ".join(["word"] * 10), False),
    ],
)
def test_is_fast_allows_typing_time(seconds, answer, expected):
    assert is_fast(seconds, answer, SETTINGS) is expected


@pytest.mark.parametrize(
    ("key", "expected"),
    [("1", Rating.again), ("a", Rating.again), ("2", Rating.hard), ("H", Rating.hard), ("3", Rating.good),
     ("g", Rating.good), ("4", Rating.easy), ("e", Rating.easy), ("easy", Rating.easy), ("5", None), ("", None), ("x", None)],
)  # fmt: skip
def test_parse_rating(key, expected):
    assert parse_rating(key) is expected


def test_new_card_ratings_order_the_due_dates():
    states = [review(None, r, now=NOW, settings=SETTINGS) for r in Rating]
    dues = [s.due for s in states]
    assert dues == sorted(dues) and len(set(dues)) == 4
    assert all(s.reps == 1 and s.lapses == 0 and s.last_review == NOW for s in states)
    # Again, Hard and Good step through learning within minutes; Easy graduates for days.
    assert [s.phase for s in states] == [Phase.learning] * 3 + [Phase.review]
    assert dues[2] - NOW < timedelta(hours=1) and dues[3] - NOW >= timedelta(days=1)


def test_review_is_pure_and_needs_an_aware_time():
    assert review(None, Rating.good, now=NOW, settings=SETTINGS) == review(None, Rating.good, now=NOW, settings=SETTINGS)
    with pytest.raises(ValueError):
        review(None, Rating.good, now=NOW.replace(tzinfo=None), settings=SETTINGS)


def _graduate(now: datetime) -> CardState:
    state = review(None, Rating.good, now=now, settings=SETTINGS)
    return review(state, Rating.good, now=state.due, settings=SETTINGS)


def test_intervals_grow_when_each_review_is_on_time():
    state = _graduate(NOW)
    assert state.phase is Phase.review
    intervals = []
    for _ in range(4):
        previous = state
        state = review(state, Rating.good, now=state.due, settings=SETTINGS)
        intervals.append(state.due - previous.due)
    assert intervals == sorted(intervals) and intervals[0] < intervals[-1]
    assert state.reps == 6


def test_a_lapse_relearns_and_counts():
    state = _graduate(NOW)
    lapsed = review(state, Rating.again, now=state.due, settings=SETTINGS)
    assert lapsed.phase is Phase.relearning and lapsed.lapses == 1
    assert lapsed.due - state.due < timedelta(hours=1)
    assert lapsed.stability < state.stability


def test_higher_desired_retention_means_sooner_reviews():
    strict = ScheduleSettings(desired_retention=0.97)
    a = review(None, Rating.easy, now=NOW, settings=SETTINGS)
    b = review(None, Rating.easy, now=NOW, settings=strict)
    assert b.due < a.due


def test_retrievability_falls_with_time():
    state = _graduate(NOW)
    at_review = retrievability(state, now=state.last_review, settings=SETTINGS)
    at_due = retrievability(state, now=state.due, settings=SETTINGS)
    later = retrievability(state, now=state.due + timedelta(days=30), settings=SETTINGS)
    assert at_review == 1.0 and 0.85 < at_due < 0.95 and later < at_due
    assert retrievability(None, now=NOW, settings=SETTINGS) == 0.0


def _state(phase: Phase, due: datetime) -> CardState:
    return CardState(phase=phase, stability=3.0, difficulty=5.0, due=due, last_review=due - timedelta(days=3), reps=2)


@pytest.mark.parametrize(
    ("phase", "due", "expected"),
    [
        # A review card is due for its whole study day, which starts at 4 am.
        (Phase.review, datetime(2024, 5, 1, 23, 0, tzinfo=timezone.utc), True),
        (Phase.review, datetime(2024, 5, 2, 3, 59, tzinfo=timezone.utc), True),
        (Phase.review, datetime(2024, 5, 2, 4, 0, tzinfo=timezone.utc), False),
        (Phase.review, datetime(2024, 4, 20, tzinfo=timezone.utc), True),  # overdue
        # A learning card is due once it is less than 20 minutes away.
        (Phase.learning, NOW + timedelta(minutes=20), True),
        (Phase.relearning, NOW + timedelta(minutes=21), False),
    ],
)
def test_is_due(phase, due, expected):
    assert is_due(_state(phase, due), now=NOW, settings=SETTINGS) is expected


@pytest.mark.parametrize(
    ("phase", "due", "suspended", "buried_until", "expected"),
    [
        # A review card is asked from the start of its due time's study day, a learning one 20 minutes early.
        (Phase.review, datetime(2024, 5, 2, 23, 0, tzinfo=timezone.utc), False, None, datetime(2024, 5, 2, 4, 0, tzinfo=timezone.utc)),
        (Phase.review, datetime(2024, 5, 3, 3, 0, tzinfo=timezone.utc), False, None, datetime(2024, 5, 2, 4, 0, tzinfo=timezone.utc)),
        (Phase.learning, NOW + timedelta(minutes=30), False, None, NOW + timedelta(minutes=10)),
        # A buried card waits for the later of its burial's end and that moment; a suspended one is never asked.
        (Phase.learning, NOW + timedelta(minutes=30), False, NOW + timedelta(hours=16), NOW + timedelta(hours=16)),
        (Phase.relearning, NOW + timedelta(minutes=30), False, NOW - timedelta(hours=1), NOW + timedelta(minutes=10)),
        (Phase.review, NOW, True, None, None),
    ],
)
def test_next_asked_is_when_practice_asks_the_card(phase, due, suspended, buried_until, expected):
    state = _state(phase, due)
    assert next_asked(state, settings=SETTINGS, suspended=suspended, buried_until=buried_until) == expected
    if expected is not None and buried_until is None:  # is_due holds from that moment on, not a second before
        assert not is_due(state, now=expected - timedelta(seconds=1), settings=SETTINGS)
        assert is_due(state, now=expected, settings=SETTINGS)


def test_study_day_starts_at_the_configured_hour():
    late = datetime(2024, 5, 2, 1, 30, tzinfo=timezone.utc)
    assert study_day(late, SETTINGS).isoformat() == "2024-05-01"
    assert study_day(late, ScheduleSettings(day_starts_at=0)).isoformat() == "2024-05-02"


def test_ask_again_only_for_cards_still_learning():
    learning = review(None, Rating.again, now=NOW, settings=SETTINGS)
    assert ask_again(learning, now=NOW, settings=SETTINGS)
    assert not ask_again(review(None, Rating.easy, now=NOW, settings=SETTINGS), now=NOW, settings=SETTINGS)


def test_pick_cards_due_first_then_new_up_to_the_limit():
    settings = ScheduleSettings(new_per_day=3, reviews_per_day=2)
    states = {
        "late": _state(Phase.review, NOW - timedelta(days=3)),
        "later": _state(Phase.review, NOW - timedelta(days=1)),
        "latest": _state(Phase.review, NOW - timedelta(hours=1)),  # over the review limit
        "relearn": _state(Phase.relearning, NOW + timedelta(minutes=5)),  # not capped
        "future": _state(Phase.review, NOW + timedelta(days=4)),
    }
    keys = ["n1", "latest", "n2", "future", "later", "n3", "relearn", "late", "n4", "n5"]
    plan = pick_cards(keys, states, now=NOW, settings=settings, new_done_today=1)
    assert plan.due == ["late", "later", "relearn"]
    assert plan.new == ["n1", "n2"]  # 3 a day, 1 done already
    assert plan.keys == ["late", "later", "relearn", "n1", "n2"]
    assert (plan.new_held_back, plan.reviews_held_back) == (3, 1)
    assert plan.next_due == datetime(2024, 5, 5, 4, 0, tzinfo=timezone.utc)  # asked from its study day's start, not at noon


def test_pick_cards_counts_reviews_done_today():
    states = {k: _state(Phase.review, NOW - timedelta(days=1)) for k in "abc"}
    plan = pick_cards(list("abc"), states, now=NOW, settings=ScheduleSettings(reviews_per_day=2), reviews_done_today=1)
    assert plan.due == ["a"] and plan.reviews_held_back == 2


def test_cram_ignores_the_schedule():
    states = {"future": _state(Phase.review, NOW + timedelta(days=40))}
    keys = ["new1", "future", "new2"]
    plan = pick_cards(keys, states, now=NOW, settings=ScheduleSettings(new_per_day=0), cram=True)
    assert plan.keys == keys


@given(st.lists(st.integers(min_value=-30, max_value=30), max_size=30), st.integers(0, 10), st.integers(0, 10))
def test_pick_cards_invariants(offsets, new_per_day, reviews_per_day):
    """Nothing is asked twice, nothing not yet due is asked, and the limits hold."""
    settings = ScheduleSettings(new_per_day=new_per_day, reviews_per_day=reviews_per_day)
    keys = list(range(len(offsets) + 5))
    states = {k: _state(Phase.review, NOW + timedelta(days=o)) for k, o in enumerate(offsets)}
    plan = pick_cards(keys, states, now=NOW, settings=settings)
    assert len(set(plan.keys)) == len(plan.keys)
    assert all(is_due(states[k], now=NOW, settings=settings) for k in plan.due)
    assert len(plan.due) <= reviews_per_day and len(plan.new) <= new_per_day
    assert [states[k].due for k in plan.due] == sorted(states[k].due for k in plan.due)


@pytest.mark.parametrize(
    ("toml", "flags", "expected", "error"),
    [
        ("", {}, ScheduleSettings(), None),
        ("[practice]\nnew_per_day = 5\n", {}, ScheduleSettings(new_per_day=5), None),
        ("[practice]\nnew_per_day = 5\n", {"new_per_day": 7}, ScheduleSettings(new_per_day=7), None),
        ("[practice]\nnew_per_day = 5\n", {"new_per_day": None}, ScheduleSettings(new_per_day=5), None),
        ("[practice]\nnew_a_day = 5\n", {}, None, "[practice] has no setting 'new_a_day'"),
        ("[practice]\ndesired_retention = 2\n", {}, None, "[practice] desired_retention: Input should be less than 1"),
    ],
)
def test_load_schedule_settings(tmp_path, toml, flags, expected, error):
    path = tmp_path / "settings.toml"
    path.write_text(toml)
    if error:
        with pytest.raises(InputError) as exc:
            load_schedule_settings(flags, path)
        assert str(exc.value) == f"{path}:2: {error}"  # the line of the bad setting
    else:
        assert load_schedule_settings(flags, path) == expected


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(seconds=-5), "now"),
        (timedelta(seconds=59.9), "in 1 min"),
        (timedelta(minutes=5, seconds=30), "in 6 min"),
        (timedelta(minutes=10), "in 10 min"),
        (timedelta(minutes=59, seconds=40), "in 1 h"),
        (timedelta(hours=5), "in 5 h"),
        (timedelta(days=1, hours=2), "tomorrow"),
        (timedelta(days=8, minutes=3), "in 8 days"),
    ],
)
def test_describe_due(delta, expected):
    assert describe_due(NOW + delta, now=NOW) == expected
