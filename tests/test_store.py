"""The history store: attempts, card states, identity across edits, concurrency, crashes, export."""

from __future__ import annotations

import io
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader import store as store_module
from grader.decks import load_deck
from grader.errors import HistoryReadOnly, InputError, StoreError
from grader.history_file import export, import_
from grader.identity import How
from grader.models import Grade, TermMatch, Verdict
from grader.practice import sync_notes
from grader.schedule import Phase, Rating
from grader.store import MIGRATIONS, DeckSync, Store, deck_key, default_path

from .conftest import CORPUS, ROOT

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def card_md(question: str, answer: str) -> str:
    return f'1. <details markdown=1><summary markdown="span"> {question} </summary>\n\n    {answer}\n\n</details>\n\n'


CARDS = [
    ("What is a hypervisor?", "Software that ==creates and runs virtual machines==."),
    ("What are the two kinds of migration?", "==Offline== and ==live== migration."),
    ("What is paravirtualization?", "The guest OS is ==modified== to call the ==hypervisor==."),
]


def write_deck(path: Path, cards=CARDS, title="Test deck") -> Path:
    path.write_text(f"# {title}\n\n" + "".join(card_md(q, a) for q, a in cards), encoding="utf-8")
    return path


def graded(verdict=Verdict.correct, score=1.0, matched=("a",), missing=()) -> Grade:
    terms = [TermMatch(term=t, found=True, credit=1.0) for t in matched]
    terms += [TermMatch(term=t, found=False, credit=0.0) for t in missing]
    return Grade(card="c", number=1, score=score, verdict=verdict, terms=terms)


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "history.sqlite3") as s:
        yield s


def test_default_path_follows_grader_home(isolated_env):
    assert default_path() == isolated_env / "history.sqlite3"


def test_record_attempt_stores_everything_and_schedules(store, tmp_path):
    deck = load_deck(write_deck(tmp_path / "deck.md"))
    store.sync([deck])
    card = deck.cards[1]
    grade = graded(Verdict.partial, 0.5, matched=["Offline"], missing=["live"])
    rec = store.record_attempt(
        deck, card, answer="offline", grade=grade, rating=Rating.hard, now=NOW, seconds=7.5, feedback={"summary": "ok"}
    )
    assert rec.previous is None and rec.state.phase is Phase.learning and rec.state.due > NOW
    [attempt] = store.attempts()
    assert attempt.model_dump(exclude={"uid", "state_after"}) == {
        "type": "attempt", "deck": deck_key(deck), "card": card.id, "question": card.question, "at": NOW,
        "answer": "offline", "score": 0.5, "verdict": Verdict.partial, "matched": ["Offline"], "missing": ["live"],
        "feedback": {"summary": "ok"}, "rating": Rating.hard, "rated_by": "grader", "seconds": 7.5, "cram": False,
        "state_before": None,
    }  # fmt: skip
    assert store.states([deck]) == {(deck_key(deck), card.id): rec.state}
    # The next review starts from the stored state.
    later = store.record_attempt(deck, card, answer="offline and live", grade=graded(), rating=Rating.good, now=rec.state.due)
    assert later.previous == rec.state and later.state.reps == 2


def test_self_graded_attempts_store_no_score(store, tmp_path):
    deck = load_deck(write_deck(tmp_path / "deck.md"))
    store.record_attempt(deck, deck.cards[0], answer="", grade=graded(Verdict.self_graded, 0.0, matched=()), rating=Rating.easy, now=NOW, rated_by="user")
    [attempt] = store.attempts()
    assert (attempt.score, attempt.verdict, attempt.rated_by) == (None, Verdict.self_graded, "user")


def test_override_rating_reschedules_from_the_same_start(store, tmp_path):
    deck = load_deck(write_deck(tmp_path / "deck.md"))
    card = deck.cards[0]
    first = store.record_attempt(deck, card, answer="a", grade=graded(), rating=Rating.good, now=NOW)
    rec = store.record_attempt(deck, card, answer="b", grade=graded(Verdict.incorrect, 0.0), rating=Rating.again, now=first.state.due)
    overridden = store.override_rating(rec.attempt_id, Rating.good)
    assert overridden.previous == first.state and overridden.state.due > rec.state.due
    assert store.states([deck])[deck_key(deck), card.id] == overridden.state
    last = store.attempts()[-1]
    assert (last.rating, last.rated_by, last.state_after) == (Rating.good, "override", overridden.state)
    # An older attempt is not re-rated (as it is not undone): the later review's schedule was computed from it, and stands.
    assert store.override_rating(first.attempt_id, Rating.easy) is None
    assert store.states([deck])[deck_key(deck), card.id] == overridden.state
    assert (store.attempts()[0].rating, store.attempts()[0].rated_by) == (Rating.good, "grader")
    with pytest.raises(StoreError):
        store.override_rating(999, Rating.good)



@pytest.mark.usefixtures("utc_local_time")
def test_done_today_counts_new_cards_and_reviews_not_cramming(store, tmp_path):
    deck = load_deck(write_deck(tmp_path / "deck.md"))
    a, b, c = deck.cards
    yesterday = NOW - timedelta(days=1)
    store.record_attempt(deck, a, answer="", grade=graded(), rating=Rating.easy, now=yesterday - timedelta(days=10))  # graduates
    store.record_attempt(deck, a, answer="", grade=graded(), rating=Rating.good, now=NOW)  # a review today
    store.record_attempt(deck, b, answer="", grade=graded(), rating=Rating.again, now=NOW)  # new today
    store.record_attempt(deck, b, answer="", grade=graded(), rating=Rating.good, now=NOW + timedelta(minutes=2))  # learning step
    store.record_attempt(deck, c, answer="", grade=graded(), rating=Rating.good, now=NOW, cram=True)  # cramming
    assert store.done_today([deck], now=NOW + timedelta(hours=1)) == (1, 1)
    assert store.done_today([deck], now=NOW + timedelta(days=1)) == (0, 0)



def test_answers_dated_after_today_count_on_their_own_day(store, tmp_path, utc_local_time):
    """Saved while the clock ran days ahead, then set back: they filled today's new-card and review limits."""
    deck = load_deck(write_deck(tmp_path / "deck.md"))
    a, b, _ = deck.cards
    later = NOW + timedelta(days=3)
    store.record_attempt(deck, a, answer="", grade=graded(), rating=Rating.easy, now=NOW - timedelta(days=30))  # graduates
    store.record_attempt(deck, a, answer="", grade=graded(), rating=Rating.good, now=later)  # a review, dated ahead
    store.record_attempt(deck, b, answer="", grade=graded(), rating=Rating.good, now=later)  # a new card, dated ahead
    assert store.done_today([deck], now=NOW) == (0, 0)
    assert store.done_today([deck], now=later) == (1, 1)

# --- Identity across edits -------------------------------------------------------------


def practise_all(store, deck):
    for card in deck.cards:
        store.record_attempt(deck, card, answer=f"answer to {card.number}", grade=graded(), rating=Rating.good, now=NOW)


def history(store, deck) -> dict[str, list[str]]:
    """Answers stored for each card now in the deck, by question."""
    questions = {c.id: c.question for c in deck.cards}
    result: dict[str, list[str]] = {}
    for a in store.attempts([deck_key(deck)]):
        if a.card in questions:
            result.setdefault(questions[a.card], []).append(a.answer)
    return result


def test_editing_the_deck_keeps_history(store, tmp_path):
    path = write_deck(tmp_path / "deck.md")
    deck = load_deck(path)
    [first] = store.sync([deck])
    assert not first.known and len(first.new) == 3
    assert sync_notes([first]) == ["Test deck: new deck, 3 cards"]
    assert sync_notes([DeckSync(deck, new=deck.cards[:1])]) == ["Test deck: new deck, 1 card"]
    assert sync_notes(store.sync([deck])) == []
    practise_all(store, deck)

    # Fix a typo in one question (and its answer), reorder the cards, add one and remove one.
    edited = [
        ("What are the two kinds of migraton?", "==Offline== and ==live== (pre-copy) migration."),
        ("What is a hypervisor?", CARDS[0][1]),
        ("What is a container?", "An ==isolated== process on a shared kernel."),
    ]
    deck2 = load_deck(write_deck(path, edited))
    [sync] = store.sync([deck2])
    assert sync.known
    assert [(card.question, how, old.question) for card, how, old in sync.continued] == [
        ("What are the two kinds of migraton?", How.similar_question, "What are the two kinds of migration?")
    ]
    assert [c.question for c in sync.new] == ["What is a container?"]
    assert sync.retired == 1
    assert sync_notes([sync]) == [
        "Test deck: card 1 continues the history of “What are the two kinds of migration?” (similar question)",
        "Test deck: card 3 “What is a container?” is new (no earlier history matches it)",
        "Test deck: 1 card no longer in the deck (history kept)",
    ]
    assert history(store, deck2) == {"What are the two kinds of migraton?": ["answer to 2"], "What is a hypervisor?": ["answer to 1"]}
    states = store.states([deck2])
    assert {cid for _, cid in states} == {deck2.cards[0].id, deck2.cards[1].id}
    # The removed card's history is kept, marked as no longer in the deck.
    gone = [c for c in store.cards() if not c.present]
    assert [c.question for c in gone] == ["What is paravirtualization?"] and len(store.attempts()) == 3

    # Putting the card back brings its history back.
    deck3 = load_deck(write_deck(path, [*edited, CARDS[2]]))
    [sync] = store.sync([deck3])
    assert sync.new == [] and sync.continued == [] and sync.retired == 0
    assert all(c.present for c in store.cards())


def test_moving_the_deck_file_keeps_history(store, tmp_path):
    old = write_deck(tmp_path / "old.md")
    deck = load_deck(old)
    store.sync([deck])
    practise_all(store, deck)
    new = tmp_path / "notes" / "renamed.md"
    new.parent.mkdir()
    old.rename(new)
    moved = load_deck(new)
    [sync] = store.sync([moved])
    assert not sync.known and sync.new == []
    assert sync_notes([sync]) == [
        f"Test deck: card {n} continues the history of “{q}” in old.md (same question)" for n, (q, _) in enumerate(CARDS, start=1)
    ]
    assert [(how, Path(old_card.deck).name) for _, how, old_card in sync.continued] == [(How.same_question, "old.md")] * 3
    assert len(history(store, moved)) == 3 and len(store.states([moved])) == 3


def test_a_copy_of_a_deck_still_on_disk_starts_afresh(store, tmp_path):
    original = write_deck(tmp_path / "a.md")
    store.sync([load_deck(original)])
    practise_all(store, load_deck(original))
    copy = load_deck(write_deck(tmp_path / "b.md"))
    [sync] = store.sync([copy])
    assert len(sync.new) == 3 and store.states([copy]) == {}


def bundled_copy(root: Path, layout: str, cards=CARDS) -> Path:
    """The bundled deck as an installation of grader under ``root`` holds it: a wheel's, a checkout's or a zip's copy."""
    if layout == "wheel":
        path = root / "lib" / "python3.11" / "site-packages" / "grader" / "_bundled" / "decks" / "virtualization.md"
    elif layout == "checkout":
        (root / "grader").mkdir(parents=True)
        (root / "grader" / "resources.py").write_text("")
        (root / "pyproject.toml").write_text("")
        path = root / "decks" / "virtualization.md"
    else:  # a zip import's copy, in the data folder
        path = Path(os.environ["GRADER_HOME"]) / "bundled" / "decks" / "virtualization.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_deck(path, cards, title="Virtualization")


@pytest.mark.parametrize("old_layout", ["wheel", "checkout", "zip"])
def test_the_bundled_deck_keeps_its_history_in_a_new_installation_while_the_old_one_remains(store, tmp_path, old_layout):
    """A new virtual environment (or Python) installs another copy of the bundled deck at another path, and the old
    environment is often still there: the deck was keyed by the old path, which still existed, so practice started it
    as a new deck and the history stayed behind, though the README promises that moving a deck keeps it."""
    old = load_deck(bundled_copy(tmp_path / "old-env", old_layout))
    store.sync([old])
    practise_all(store, old)
    new = load_deck(bundled_copy(tmp_path / "new-env", "wheel"))
    [sync] = store.sync([new])
    assert sync.new == [] and [how for _, how, _ in sync.continued] == [How.same_question] * 3
    assert len(history(store, new)) == 3 and len(store.states([new])) == 3
    assert {c.deck for c in store.cards()} == {deck_key(new)}
    [back] = store.sync([old])  # and back to the old environment, which still works
    assert back.new == [] and len(history(store, old)) == 3


def test_the_bundled_deck_from_another_installation_is_not_said_to_have_moved(store, tmp_path):
    """Practised from two environments in turn, the bundled deck's history follows it each time; the note said
    "(the deck moved)" every time, though nobody moved anything. A user's deck that moved is still said to have."""
    cards = [*CARDS, ("What is live migration?", "Moving a ==running== virtual machine.")]
    old = load_deck(bundled_copy(tmp_path / "old-env", "wheel", cards))
    store.sync([old])
    practise_all(store, old)
    new = load_deck(bundled_copy(tmp_path / "new-env", "wheel", cards))
    assert sync_notes(store.sync([new])) == [
        f"Virtualization: history of 4 cards carried over from {deck_key(old)} (the bundled deck, practised in another installation)"
    ]
    mine = tmp_path / "notes" / "decks" / "virtualization.md"
    mine.parent.mkdir(parents=True)
    Path(new.path).rename(mine)
    assert sync_notes(store.sync([load_deck(mine)])) == [f"Virtualization: history of 4 cards carried over from {deck_key(new)} (the deck moved)"]


def test_a_bundled_deck_history_split_between_installations_is_joined(store, tmp_path):
    """What a history holds that was practised in two environments before: each copy of the bundled deck its own deck.
    The next practice joins them, answers and the latest schedule; a user's own copy elsewhere stays its own deck."""
    first = load_deck(bundled_copy(tmp_path / "env-a", "wheel"))
    with Store(tmp_path / "other.sqlite3") as other:
        other.record_attempt(first, first.cards[0], answer="in a", grade=graded(), rating=Rating.good, now=NOW)
        text = export_text(other)
    second = load_deck(bundled_copy(tmp_path / "env-b", "wheel"))
    store.sync([second])  # as practice does
    store.record_attempt(second, second.cards[1], answer="in b", grade=graded(), rating=Rating.good, now=NOW)
    import_(store, io.StringIO(text))
    (tmp_path / "my-notes" / "decks").mkdir(parents=True)
    mine = load_deck(write_deck(tmp_path / "my-notes" / "decks" / "virtualization.md", title="Virtualization"))
    store.sync([mine])
    [sync] = store.sync([second])
    assert len(sync.joined) == 1
    assert history(store, second) == {CARDS[0][0]: ["in a"], CARDS[1][0]: ["in b"]}
    assert {c.deck for c in store.cards()} == {deck_key(second), deck_key(mine)}
    assert store.states([mine]) == {}


def test_a_copy_practised_apart_joins_the_deck_once_its_file_is_gone(store, tmp_path):
    """A deck saved under a new name while the old file stays is two decks; once the old file is deleted, its history
    joins the copy's. The note said the history came from "an imported copy", which nothing here imported."""
    original = load_deck(write_deck(tmp_path / "a.md"))
    store.sync([original])
    store.record_attempt(original, original.cards[0], answer="in a", grade=graded(), rating=Rating.good, now=NOW)
    copy = load_deck(write_deck(tmp_path / "b.md"))
    store.sync([copy])
    store.record_attempt(copy, copy.cards[1], answer="in b", grade=graded(), rating=Rating.good, now=NOW)
    (tmp_path / "a.md").unlink()
    assert sync_notes(store.sync([copy])) == [f"Test deck: history of 1 card joined from {tmp_path / 'a.md'} (another copy of the deck)"]
    assert history(store, copy) == {CARDS[0][0]: ["in a"], CARDS[1][0]: ["in b"]}


def test_cards_moved_between_two_decks_keep_history(store, tmp_path):
    a = load_deck(write_deck(tmp_path / "a.md", CARDS[:2]))
    b = load_deck(write_deck(tmp_path / "b.md", CARDS[2:]))
    store.sync([a, b])
    practise_all(store, a)
    a2 = load_deck(write_deck(tmp_path / "a.md", CARDS[:1]))
    b2 = load_deck(write_deck(tmp_path / "b.md", [CARDS[1], CARDS[2]]))
    sync_a, sync_b = store.sync([a2, b2])
    assert sync_a.retired == 0 and sync_b.new == []
    assert [(c.question, how) for c, how, _ in sync_b.continued] == [(CARDS[1][0], How.same_question)]
    assert history(store, b2) == {CARDS[1][0]: ["answer to 2"]}


def test_a_deck_named_twice_is_one_deck(store, tmp_path):
    path = write_deck(tmp_path / "deck.md")
    [sync] = store.sync([load_deck(path), load_deck(tmp_path / "." / "deck.md")])
    assert len(sync.new) == 3 and len(store.cards()) == 3


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the deck corpus is not at {CORPUS}")
def test_a_whole_notes_folder_synced_again_changes_nothing(store):
    """Every deck of the corpus, synced a second time, is known and unchanged (its speed is the benchmark's business)."""
    from grader.decks import find_decks

    decks = [load_deck(p) for p in find_decks([CORPUS])]
    store.sync(decks)
    reports = store.sync(decks)
    assert reports and all(r.known and not r.new and not r.continued for r in reports)


# --- The database file --------------------------------------------------------------


def test_schema_is_versioned_and_migrated(tmp_path, monkeypatch):
    path = tmp_path / "h.sqlite3"
    deck = load_deck(write_deck(tmp_path / "deck.md"))
    with Store(path) as s:
        s.record_attempt(deck, deck.cards[0], answer="kept", grade=graded(), rating=Rating.good, now=NOW)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    monkeypatch.setattr(store_module, "MIGRATIONS", [*MIGRATIONS, ["ALTER TABLE attempts ADD COLUMN note TEXT"]])
    with Store(path) as s:
        assert [a.answer for a in s.attempts()] == ["kept"]
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) + 1
    assert "note" in [row[1] for row in db.execute("PRAGMA table_info(attempts)")]


def test_files_it_cannot_use_are_one_line_errors(tmp_path):
    newer = tmp_path / "newer.sqlite3"
    sqlite3.connect(newer).execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match=r"newer\.sqlite3: the history was written by a newer grader \(schema 99"):
        Store(newer)
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreError) as exc:
        Store(junk)
    assert str(exc.value) == f"{junk}: cannot open the practice history: file is not a database"


def test_a_history_opened_to_read_is_never_written(tmp_path):
    """What stats, history export and cards open: a missing history reads as empty and is not made; a write is refused."""
    path = tmp_path / "history.sqlite3"
    with Store(path, read_only=True) as empty:
        assert (empty.cards(), empty.attempts()) == ([], [])
    assert list(tmp_path.iterdir()) == []
    deck = load_deck(write_deck(tmp_path / "deck.md"))
    with Store(path) as s:
        s.record_attempt(deck, deck.cards[0], answer="a", grade=graded(), rating=Rating.good, now=NOW)
    kept = path.read_bytes()
    with Store(path, read_only=True) as reader:
        assert [a.answer for a in reader.attempts()] == ["a"]
        with pytest.raises(HistoryReadOnly, match=r": cannot save to the practice history: its folder is read-only;"):
            reader.record_attempt(deck, deck.cards[1], answer="b", grade=graded(), rating=Rating.good, now=NOW)
    assert path.read_bytes() == kept


def test_a_new_history_in_a_read_only_folder_is_one_line(tmp_path, monkeypatch):
    """Where no history can be made (EROFS: a read-only mount), a command that writes says the folder is read-only."""
    import errno

    def read_only_mount(path):
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr(store_module, "_create", read_only_mount)
    with pytest.raises(HistoryReadOnly) as exc:
        Store(tmp_path / "history.sqlite3")
    assert str(exc.value).endswith(": cannot save to the practice history: its folder is read-only; make it writable, or set GRADER_HOME to a folder you can write")


class _Python310Connection(sqlite3.Connection):
    """A connection whose errors are as Python 3.10 raises them: SQLite's message, no ``sqlite_errorcode``."""

    def execute(self, *args):
        try:
            return super().execute(*args)
        except sqlite3.Error as exc:
            for name in ("sqlite_errorcode", "sqlite_errorname"):  # 3.11's, absent on 3.10 itself
                if hasattr(exc, name):
                    delattr(exc, name)
            raise


def test_a_read_only_history_is_known_as_such_on_python_3_10(tmp_path, monkeypatch):
    """On Python 3.10, whose sqlite3 errors carry no result code, ``cards DECK`` and ``stats DECK`` in a read-only
    folder failed ('cannot open the practice history: unable to open database file') instead of reading it."""
    from functools import partial

    from grader.stats import card_progress

    deck = load_deck(write_deck(tmp_path / "deck.md"))
    path = tmp_path / "history.sqlite3"
    with Store(path) as s:
        s.record_attempt(deck, deck.cards[0], answer="a", grade=graded(), rating=Rating.good, now=NOW)
    for suffix in ("-wal", "-shm"):  # as on a read-only mount, even for root: SQLite cannot make them
        path.with_name(path.name + suffix).symlink_to(tmp_path / "no-such-folder" / suffix)
    monkeypatch.setattr(sqlite3, "connect", partial(sqlite3.connect, factory=_Python310Connection))
    with pytest.raises(HistoryReadOnly):
        Store(path)
    progress = card_progress(deck, now=NOW, history=path)
    answered = {card_id: p.last_verdict for card_id, p in progress.items() if p.last_verdict}
    assert answered == {deck.cards[0].id: Verdict.correct}


def test_a_full_disk_keeps_what_was_saved(store, tmp_path):
    deck = load_deck(write_deck(tmp_path / "deck.md"))
    store.record_attempt(deck, deck.cards[0], answer="saved", grade=graded(), rating=Rating.good, now=NOW - timedelta(days=1))
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages + 2}")  # the disk fills up
    with pytest.raises(StoreError, match="cannot save to the practice history: database or disk is full"):
        for n in range(200):
            store.record_attempt(deck, deck.cards[1], answer="x" * 5000, grade=graded(), rating=Rating.good, now=NOW + timedelta(seconds=n))
    saved = store.attempts()
    assert saved[0].answer == "saved" and all(a.answer in ("saved", "x" * 5000) for a in saved)
    assert store._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


WORKER = """
import sys
import time
from datetime import datetime, timedelta, timezone
from grader.decks import load_deck
from grader.models import Grade, Verdict
from grader.schedule import Rating
from grader.store import Store

path, deck_path, count, tag, pause = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
deck = load_deck(deck_path)
grade = Grade(card="c", number=1, score=1.0, verdict=Verdict.correct)
now = datetime(2024, 5, 1, tzinfo=timezone.utc)
with Store(path) as store:
    store.sync([deck])
    print("ready", flush=True)
    sys.stdin.readline()  # start together
    n = 0
    while count < 0 or n < count:
        card = deck.cards[n % len(deck.cards)]
        rec = store.record_attempt(deck, card, answer=f"{tag}-{n}", grade=grade, rating=Rating.good, now=now + timedelta(seconds=n))
        print(rec.attempt_id, flush=True)
        n += 1
        time.sleep(pause)  # a user types between answers
"""


def start_worker(db: Path, deck: Path, count: int, tag: str, pause: float = 0.0) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, str(db), str(deck), str(count), tag, str(pause)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip


def go(*workers: subprocess.Popen) -> None:
    """Let workers start writing, all at once."""
    for w in workers:
        assert w.stdout.readline() == "ready\n", w.stderr.read()
    for w in workers:
        w.stdin.write("go\n")
        w.stdin.flush()


@pytest.mark.slow
def test_two_processes_write_at_once(tmp_path):
    db, deck = tmp_path / "h.sqlite3", write_deck(tmp_path / "deck.md")
    workers = [start_worker(db, deck, 60, tag, pause=0.003) for tag in ("one", "two")]
    go(*workers)
    outputs = [w.communicate(timeout=60) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], [err for _, err in outputs]
    ids = [int(line) for out, _ in outputs for line in out.split()]
    one, two = ([int(line) for line in out.split()] for out, _ in outputs)
    assert min(two) < max(one) and min(one) < max(two), "the writers did not overlap"
    with Store(db) as s:
        answers = sorted(a.answer for a in s.attempts())
        assert len(ids) == len(set(ids)) == len(answers) == 120
        assert answers == sorted(f"{tag}-{n}" for tag in ("one", "two") for n in range(60))
        assert len(s.cards()) == 3  # both synced the same deck: no duplicate cards


@pytest.mark.slow
def test_a_killed_process_keeps_every_committed_attempt(tmp_path):
    db, deck = tmp_path / "h.sqlite3", write_deck(tmp_path / "deck.md")
    worker = start_worker(db, deck, -1, "k")  # writes until killed
    go(worker)
    committed = [int(worker.stdout.readline()) for _ in range(40)]
    os.kill(worker.pid, signal.SIGKILL)  # mid-write, most likely
    worker.wait(timeout=10)
    for stream in (worker.stdin, worker.stdout, worker.stderr):
        stream.close()
    with Store(db) as s:
        stored = {a.answer for a in s.attempts()}
        assert {f"k-{n}" for n in range(40)} <= stored
        assert s._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # The store carries on where the killed process stopped.
        deck_ = load_deck(deck)
        s.record_attempt(deck_, deck_.cards[0], answer="after", grade=graded(), rating=Rating.good, now=NOW)
    assert committed == sorted(committed)


# --- Export and import --------------------------------------------------------------


def export_text(store: Store) -> str:
    out = io.StringIO()
    export(store, out, now=NOW)
    return out.getvalue()


answers = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
events = st.lists(
    st.tuples(
        st.integers(0, 2),  # which card
        st.sampled_from(list(Rating)),
        st.integers(0, 200_000),  # minutes after NOW
        answers,
        st.one_of(st.none(), st.floats(0, 3 * 86400, allow_nan=False)),  # seconds: over a day counts as one
        st.booleans(),  # cram
        st.one_of(st.none(), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2)),  # feedback
    ),
    max_size=12,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events)
def test_export_import_round_trip(tmp_path, events):
    """Property: importing an export into an empty history, then exporting it, gives the same lines."""
    with tempfile.TemporaryDirectory(dir=tmp_path) as tmp:
        deck = load_deck(write_deck(Path(tmp) / "deck.md"))
        with Store(Path(tmp) / "a.sqlite3") as a, Store(Path(tmp) / "b.sqlite3") as b:
            a.sync([deck])
            for card, rating, minutes, answer, seconds, cram, feedback in sorted(events, key=lambda e: e[2]):
                a.record_attempt(
                    deck, deck.cards[card], answer=answer, grade=graded(), rating=rating,
                    now=NOW + timedelta(minutes=minutes), seconds=seconds, cram=cram, feedback=feedback,
                )  # fmt: skip
            text = export_text(a)
            report = import_(b, io.StringIO(text))
            assert (report.cards, report.attempts) == (3, len(events))
            assert export_text(b) == text
            # Importing again adds nothing.
            again = import_(b, io.StringIO(text))
            assert (again.attempts, again.duplicates) == (0, len(events)) and export_text(b) == text


def test_an_answer_left_on_screen_over_a_day_counts_as_a_day(store, tmp_path):
    """Import refuses a time over a day, so none is stored: the export of a session left open over a weekend
    imports again, and so does a history written before the bound."""
    deck = load_deck(write_deck(tmp_path / "deck.md"))
    store.record_attempt(deck, deck.cards[0], answer="a", grade=graded(), rating=Rating.good, now=NOW, seconds=3 * 86400.0)
    store.record_attempt(deck, deck.cards[1], answer="b", grade=graded(), rating=Rating.good, now=NOW + timedelta(minutes=1), seconds=30.0)
    assert [a.seconds for a in store.attempts()] == [86400.0, 30.0]
    store._db.execute("UPDATE attempts SET seconds = 1e7 WHERE answer = 'b'")  # as a grader before the bound kept it
    assert [a.seconds for a in store.attempts()] == [86400.0, 86400.0]
    with Store(tmp_path / "other.sqlite3") as other:
        assert import_(other, io.StringIO(export_text(store))).attempts == 2


def test_import_keeps_the_later_state_when_merging(store, tmp_path):
    deck = load_deck(write_deck(tmp_path / "deck.md"))
    card = deck.cards[0]
    store.record_attempt(deck, card, answer="home", grade=graded(), rating=Rating.good, now=NOW)
    with Store(tmp_path / "laptop.sqlite3") as laptop:
        laptop.record_attempt(deck, card, answer="laptop", grade=graded(), rating=Rating.easy, now=NOW + timedelta(hours=1))
        text = export_text(laptop)
        laptop_state = laptop.states([deck])
    import_(store, io.StringIO(text))
    assert sorted(a.answer for a in store.attempts()) == ["home", "laptop"]
    assert store.states([deck]) == laptop_state


HEADER = '{"type":"header","format":"grader-history","version":1,"exported_at":"2024-05-01T12:00:00Z"}\n'


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "h.jsonl:1: empty file: not a grader history export"),
        ('{"type": "card"}\n', "h.jsonl:1: not a grader history export (the first line must be its header)"),
        ("not json\n", "h.jsonl:1: not a grader history export (the first line must be its header)"),
        (HEADER + '{"type": "card"}\n', "h.jsonl:2: not a grader history line: card.deck: Field required"),
        (HEADER + "not json\n", "h.jsonl:2: not a grader history line: Invalid JSON: expected ident at line 1 column 2"),
        (HEADER + '{"type": "attempt", "uid": 1}\n', "h.jsonl:2: not a grader history line: attempt.uid: Input should be a valid string"),
        ('{"type":"header","format":"grader-history","version":7,"exported_at":"2024-05-01T12:00:00Z"}\n',
         "h.jsonl:1: history format version 7 is newer than this grader's (1)"),
    ],
)  # fmt: skip
def test_import_errors_name_the_line_and_change_nothing(store, text, error):
    with pytest.raises(InputError) as exc:
        import_(store, io.StringIO(text), path="h.jsonl")
    assert str(exc.value) == error
    assert store.attempts() == [] and store.cards() == []


def test_another_machines_history_of_the_same_deck_joins_this_one(store, tmp_path):
    """The deck lives at another path on the laptop. Its export made a second copy of every card here, under the
    laptop's path, that nothing ever joined: stats counted each card twice, and the laptop's answers and schedule
    stayed apart from the card practised here, every import again ("merge it in on another machine")."""
    (tmp_path / "home").mkdir()
    home = load_deck(write_deck(tmp_path / "home" / "deck.md"))
    store.sync([home])  # as practice does
    store.record_attempt(home, home.cards[0], answer="home", grade=graded(), rating=Rating.good, now=NOW)
    (tmp_path / "laptop").mkdir()
    laptop_deck = load_deck(write_deck(tmp_path / "laptop" / "deck.md"))
    with Store(tmp_path / "laptop.sqlite3") as laptop:
        for n, answer in [(0, "laptop"), (1, "laptop too")]:
            laptop.record_attempt(laptop_deck, laptop_deck.cards[n], answer=answer, grade=graded(), rating=Rating.easy, now=NOW + timedelta(hours=1))
        text = export_text(laptop)
        laptop_states = laptop.states([laptop_deck])
    (tmp_path / "laptop" / "deck.md").unlink()  # not on this machine
    notes = []
    for _ in range(2):  # importing again changes nothing
        import_(store, io.StringIO(text))
        notes.append(sync_notes(store.sync([home])))
        assert {c.deck for c in store.cards()} == {deck_key(home)} and len(store.cards()) == 3
        assert sorted(a.answer for a in store.attempts()) == ["home", "laptop", "laptop too"]
        # Each card keeps the state reviewed last: here the laptop's.
        assert store.states([home]) == {(deck_key(home), cid): state for (_, cid), state in laptop_states.items()}
    assert notes == [[f"Test deck: history of 2 cards joined from {tmp_path / 'laptop' / 'deck.md'} (another copy of the deck)"], []]


def test_import_reads_and_checks_the_whole_file_before_it_locks_the_history(store, tmp_path):
    """A 400,000-line import held the write lock for the whole of its reading (80 s): a practice session answering
    meanwhile failed with 'database is locked' and lost the answer. Another process must be able to write while
    every line is read; only the writing itself holds the lock, and a bad last line still imports nothing."""
    deck = load_deck(write_deck(tmp_path / "deck.md"))
    store.sync([deck])
    for n in range(5):
        store.record_attempt(deck, deck.cards[n % 3], answer=f"a{n}", grade=graded(), rating=Rating.good, now=NOW + timedelta(days=n))
    lines = export_text(store).splitlines(keepends=True)
    target = Store(tmp_path / "other.sqlite3")
    other = sqlite3.connect(tmp_path / "other.sqlite3", timeout=0, isolation_level=None)  # another grader: no waiting
    writable = []

    def read_while_probing(lines):
        for line in lines:
            try:
                other.execute("BEGIN IMMEDIATE")
                other.execute("ROLLBACK")
                writable.append(True)
            except sqlite3.OperationalError as exc:
                writable.append(str(exc))
            yield line

    with target:
        merged = import_(target, read_while_probing(lines))
        assert (merged.attempts, merged.cards) == (5, 3)
        assert writable == [True] * len(lines)
        bad = [*lines, '{"type": "attempt", "uid": 1}\n']
        with pytest.raises(InputError, match=f"<history>:{len(bad)}: not a grader history line"):
            import_(target, read_while_probing(bad))
        assert writable == [True] * (len(lines) + len(bad))
        assert sorted(a.answer for a in target.attempts()) == [f"a{n}" for n in range(5)]
    other.close()
