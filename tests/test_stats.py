"""Progress stats: a pure function of stored cards and attempts, at an injected time."""

from __future__ import annotations

import io
import tempfile
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader.models import Grade, TermMatch, Verdict
from grader.schedule import Rating, ScheduleSettings, review
from grader.render import bar, sparkline, stats_view
from grader.stats import StatsReport, build_stats, missed_terms, retention, streak
from grader.store import Attempt, Review, StoredCard

pytestmark = pytest.mark.usefixtures("utc_local_time")  # study days follow local time


SETTINGS = ScheduleSettings()
NOW = datetime(2024, 5, 10, 12, 0, tzinfo=timezone.utc)
TODAY = date(2024, 5, 10)


def attempt(card="c1", *, at=NOW, rating=Rating.good, before=None, cram=False, matched=(), missing=(), score=1.0, deck="/d/a.md", seconds=10.0):
    return Review.of(whole_attempt(card, at=at, rating=rating, before=before, cram=cram, matched=matched, missing=missing, score=score, deck=deck, seconds=seconds))


def whole_attempt(card="c1", *, at=NOW, rating=Rating.good, before=None, cram=False, matched=(), missing=(), score=1.0, deck="/d/a.md", seconds=10.0):
    after = review(before, rating, now=at, settings=SETTINGS)
    return Attempt(
        uid=f"{card}-{at.isoformat()}", deck=deck, card=card, question=f"Question {card}?", at=at, answer="x",
        score=score, verdict=Verdict.correct, matched=list(matched), missing=list(missing), rating=rating,
        rated_by="grader", seconds=seconds, cram=cram, state_before=before, state_after=after,
    )  # fmt: skip


def graduated(at: datetime):
    return review(None, Rating.easy, now=at, settings=SETTINGS)


def test_retention_counts_reviews_of_learned_cards_only():
    learned = graduated(NOW - timedelta(days=20))
    attempts = [
        attempt(rating=Rating.good, before=learned),
        attempt(rating=Rating.hard, before=learned),
        attempt(rating=Rating.again, before=learned),
        attempt(rating=Rating.again, before=learned, cram=True),  # cramming: not counted
        attempt(rating=Rating.again),  # a first answer: not counted
        attempt(rating=Rating.again, before=review(None, Rating.again, now=NOW, settings=SETTINGS)),  # learning step
    ]
    r = retention(attempts)
    assert (r.reviews, r.passed, r.rate) == (3, 2, 0.6667)
    assert retention([]).rate is None


@pytest.mark.parametrize(
    ("offsets", "expected"),
    [
        ([], (0, 0, False)),
        ([0], (1, 1, True)),
        ([0, 1, 2], (3, 3, True)),
        ([1, 2], (2, 2, False)),  # yesterday's streak holds until today ends
        ([2, 3, 4, 5], (0, 4, False)),  # broken yesterday
        ([0, 1, 3, 4, 5, 6], (2, 4, True)),
    ],
)
def test_streak(offsets, expected):
    s = streak({TODAY - timedelta(days=k) for k in offsets}, TODAY)
    assert (s.current, s.longest, s.studied_today) == expected


def test_missed_terms_ranked_by_misses_then_rate():
    attempts = [
        attempt("c1", at=NOW - timedelta(days=3), missing=["hypervisor"], matched=["VM"]),
        attempt("c1", at=NOW - timedelta(days=2), missing=["hypervisor", "VM"]),
        attempt("c1", at=NOW - timedelta(days=1), matched=["hypervisor"], missing=["VM"]),
        attempt("c2", at=NOW, missing=["live migration"]),
        attempt("c3", at=NOW, missing=["hypervisor"], deck="/d/b.md"),
    ]
    result = missed_terms(attempts, {"/d/a.md": "A", "/d/b.md": "B"})
    assert [(t.term, t.deck_title, t.missed, t.asked, t.missed_last_time) for t in result] == [
        ("VM", "A", 2, 3, True),
        ("hypervisor", "A", 2, 3, False),
        ("hypervisor", "B", 1, 1, True),
        ("live migration", "A", 1, 1, True),
    ]
    assert len(missed_terms(attempts, {}, top=2)) == 2


def test_build_stats_from_a_history():
    deck = "/d/a.md"
    learned = graduated(NOW - timedelta(days=30))  # due long ago: due today
    soon = graduated(NOW - timedelta(days=5))  # due in a few days
    cards = [
        StoredCard(deck=deck, deck_title="A", card="c1", question="Q1?", answer="", state=learned),
        StoredCard(deck=deck, deck_title="A", card="c2", question="Q2?", answer="", state=soon),
        StoredCard(deck=deck, deck_title="A", card="c3", question="Q3?", answer=""),  # new
        StoredCard(deck=deck, deck_title="A", card="gone", question="Q?", answer="", present=False, state=learned),
    ]
    attempts = [
        attempt("c1", at=NOW - timedelta(days=1, hours=1), score=0.5, missing=["x"]),
        attempt("c2", at=NOW - timedelta(hours=2), score=1.0),
    ]
    report = build_stats(cards, attempts, now=NOW, settings=SETTINGS)
    assert (report.due_today, report.new_cards, report.attempts, report.time_spent_seconds) == (1, 1, 2, 20.0)
    assert report.study_day == TODAY
    assert [d.day for d in report.forecast] == [TODAY + timedelta(days=k) for k in range(1, 8)]
    assert sum(d.count for d in report.forecast) == 1
    assert (report.activity[-1].day, report.activity[-1].count) == (TODAY, 1)
    assert report.activity[-2].count == 1 and len(report.activity) == 30
    assert (report.streak.current, report.streak.studied_today) == (2, True)
    [a] = report.decks
    assert (a.cards, a.new, a.learning, a.young, a.mature, a.due_today, a.attempts, a.mean_score) == (3, 1, 0, 2, 0, 1, 2, 0.75)
    assert 0 < a.mastery < 2 / 3  # two learned cards, neither certain; the new one counts 0
    assert [t.term for t in report.missed_terms] == ["x"]
    assert StatsReport.model_validate_json(report.model_dump_json()) == report


def test_empty_history():
    report = build_stats([], [], now=NOW, settings=SETTINGS)
    assert (report.due_today, report.decks, report.missed_terms, report.streak.current) == (0, [], [], 0)
    assert report.retention_all_time.rate is None


@pytest.mark.parametrize(
    ("values", "expected"),
    [([], ""), ([0, 0], "··"), ([0, 1, 2, 4, 8], "·▁▂▄█"), ([3, 3], "██")],
)
def test_sparkline(values, expected):
    assert sparkline(values) == expected


@pytest.mark.parametrize(("fraction", "expected"), [(0, "    "), (1, "████"), (0.5, "██  "), (0.53, "██▏ "), (2, "████")])
def test_bar(fraction, expected):
    assert bar(fraction, width=4) == expected


def test_stats_view_renders_every_part():
    from rich.console import Console

    learned = graduated(NOW - timedelta(days=30))
    cards = [StoredCard(deck="/d/a.md", deck_title="Virtualization", card="c1", question="Q1?", answer="", state=learned)]
    report = build_stats(cards, [attempt("c1", missing=["hypervisor"])], now=NOW, settings=SETTINGS)
    console = Console(width=100, record=True, file=io.StringIO())
    console.print(stats_view(report))
    text = console.export_text()
    for expected in ("Due today: 1", "Streak: 1 day", "Due in the coming days", "Virtualization", "hypervisor", "1 of 1", "Answers, last 30 days"):
        assert expected in text


@pytest.mark.parametrize("width", [40, 60, 80, 100])
def test_stats_view_keeps_the_decks_and_their_numbers_on_a_narrow_terminal(width):
    from rich.console import Console

    learned = graduated(NOW - timedelta(days=30))
    cards = [StoredCard(deck="/d/a.md", deck_title="Virtualization", card=f"c{n}", question=f"Q{n}?", answer="", state=learned) for n in range(12)]
    report = build_stats(cards, [attempt("c1", missing=["hypervisor"])], now=NOW, settings=SETTINGS)
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(stats_view(report))
    lines = console.export_text().splitlines()
    # Squeezed to the width, rich drew the decks table's columns empty: no name, no count; at 80, "Virtualiza" / "tion".
    start = next(i for i, line in enumerate(lines) if line.startswith("Decks"))
    row = next(line for line in lines[start:] if "Virtualization" in line)
    assert "12" in row.split("Virtualization", 1)[1]
    assert any("Sat 11 May" in line for line in lines)  # a forecast day on one line, not "Sat" / "11" / "May"
    assert max(map(len, lines)) <= width


# --- Reading the history: the narrow query gives the figures the whole attempts gave ------------------------

answers_made = st.lists(
    st.tuples(
        st.integers(0, 2),  # which card
        st.sampled_from(list(Rating)),
        st.integers(0, 60 * 24 * 40),  # minutes before NOW
        st.one_of(st.none(), st.floats(0, 3 * 86400, allow_nan=False)),  # seconds: over a day counts as a day
        st.booleans(),  # cram
        st.booleans(),  # self-graded: no score
        st.sampled_from(["", "override", "undo"]),  # what happened next
    ),
    max_size=25,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answers_made)
def test_stats_read_from_the_history_equal_stats_of_its_whole_attempts(tmp_path, answers_made):
    """``history_stats`` reads only what it needs (``Store.reviews``); its report is byte for byte that of the whole attempts."""
    from grader.decks import load_deck
    from grader.history_file import export, import_
    from grader.stats import history_stats
    from grader.store import Store, deck_key

    with tempfile.TemporaryDirectory(dir=tmp_path) as tmp:
        decks = []
        for n, title in enumerate(["Deck A", "Deck B"]):
            path = Path(tmp) / f"deck{n}.md"
            path.write_text(
                f"# {title}\n\n" + "".join(
                    f'1. <details markdown=1><summary markdown="span"> Question {k} of {title}? </summary>\n\n    ==term {k}== and ==term {k + 1}==\n\n</details>\n\n'
                    for k in range(3)
                ),
                encoding="utf-8",
            )  # fmt: skip
            decks.append(load_deck(path))
        with Store(Path(tmp) / "h.sqlite3") as store:
            store.sync(decks)
            for i, (card, rating, minutes, seconds, cram, self_graded, then) in enumerate(sorted(answers_made, key=lambda e: -e[2])):
                deck = decks[i % 2]
                terms = [f"term {card}", f"term {card + 1}"]
                score = None if self_graded else [0.0, 0.5, 0.5, 1.0][int(rating) - 1]
                grade = Grade(
                    card=deck.cards[card].id, number=card + 1, score=score or 0.0,
                    verdict=Verdict.self_graded if self_graded else Verdict.correct,
                    terms=[TermMatch(term=t, found=k < int(rating) - 1, credit=1.0) for k, t in enumerate(terms)],
                )  # fmt: skip
                rec = store.record_attempt(
                    deck, deck.cards[card], answer="x", grade=grade, rating=rating, now=NOW - timedelta(minutes=minutes),
                    seconds=seconds, cram=cram, rated_by="user" if self_graded else "grader",
                )  # fmt: skip
                if then == "override":
                    store.override_rating(rec.attempt_id, Rating(5 - int(rating)))
                elif then == "undo":
                    store.undo_attempt(rec.attempt_id)
            store._db.execute("UPDATE attempts SET seconds = 100000 WHERE id = (SELECT MIN(id) FROM attempts)")  # an older grader's
            # An imported answer whose card line is missing: its card is made from what the answer knows.
            out = io.StringIO()
            export(store, out, now=NOW)
            lines = [line for line in out.getvalue().splitlines() if '"type":"card"' not in line]
            if len(lines) > 1:
                with Store(Path(tmp) / "other.sqlite3") as other:
                    import_(other, io.StringIO("\n".join(lines) + "\n"))
                    whole = build_stats(other.cards(), [Review.of(a) for a in other.attempts()], now=NOW, settings=SETTINGS)
                    assert history_stats(other, None, now=NOW).model_dump_json() == whole.model_dump_json()
            for keys in (None, [deck_key(decks[1])]):
                whole = build_stats(store.cards(keys), [Review.of(a) for a in store.attempts(keys)], now=NOW, settings=SETTINGS)
                assert build_stats(store.cards(keys), store.reviews(keys), now=NOW, settings=SETTINGS).model_dump_json() == whole.model_dump_json()
            assert history_stats(store, decks, now=NOW).model_dump_json() == build_stats(
                store.cards([deck_key(d) for d in decks]), [Review.of(a) for a in store.attempts()], now=NOW, settings=SETTINGS
            ).model_dump_json()


def test_cards_set_aside_are_not_due_as_practice_leaves_them_out():
    """A suspended card falls due on no day; a buried one on the day its burial ends: as practice and `cards --due` reckon."""
    deck, learned = "/d/a.md", graduated(NOW - timedelta(days=30))  # due long ago: due today
    cards = [
        StoredCard(deck=deck, deck_title="A", card="due", question="Q1?", answer="", state=learned),
        StoredCard(deck=deck, deck_title="A", card="suspended", question="Q2?", answer="", state=learned, suspended=True),
        StoredCard(deck=deck, deck_title="A", card="buried", question="Q3?", answer="", state=learned, buried_until=NOW + timedelta(days=1)),
        StoredCard(deck=deck, deck_title="A", card="unburied", question="Q4?", answer="", state=learned, buried_until=NOW - timedelta(hours=1)),
    ]
    report = build_stats(cards, [], now=NOW, settings=SETTINGS)
    assert report.due_today == 2 and report.decks[0].due_today == 2
    assert [(d.day, d.count) for d in report.forecast if d.count] == [(TODAY + timedelta(days=1), 1)]
