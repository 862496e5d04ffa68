"""Practice history in one SQLite file: every attempt, and each card's FSRS state.

The file lives in the user's data directory (``platformdirs``), or in
``$GRADER_HOME`` when that is set. It is opened in WAL mode with a busy
timeout, so two ``grader`` processes can practise at once, and with
``synchronous=FULL``, so an attempt whose ``record_attempt`` returned survives
Ctrl-C, a crash and a power cut. Every write is one short ``BEGIN IMMEDIATE``
transaction; nothing is held open while the user types.

A card is stored under its deck's resolved path and its id. ``sync`` runs the
identity matching of ``identity.py`` and re-keys what was edited or moved, so
history follows a card through edits of its deck.

The schema is versioned with ``PRAGMA user_version`` and upgraded in order by
``MIGRATIONS``; a file written by a newer grader is refused, not damaged.

Commands that only read (``stats``, ``history export``, ``cards``) open it with
``read_only=True``: SQLite's ``mode=ro``, or ``immutable=1`` where its WAL files
cannot be made (a read-only folder or mount), and never create or change a file.

This module stores and queries; which cards to ask is ``session.py``'s
business, and the export file is ``history_file.py``'s.
"""

from __future__ import annotations

import errno
import json
import os
import pickle
import sqlite3
import stat
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import HistoryBusy, HistoryReadOnly, StoreError
from .files import may_exist
from .identity import CardRef, How, match_cards
from .models import Card, Deck, Grade, Verdict
from .normalize import normalize
from .resources import bundled_deck_name
from .schedule import CardState, Phase, Rating, ScheduleSettings, day_start, review, study_day

HISTORY_FILE = "history.sqlite3"
BUSY_TIMEOUT_SECONDS = 15.0

# Each entry upgrades the schema by one version; never edit one that has shipped.
MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE cards (
            key INTEGER PRIMARY KEY,
            deck TEXT NOT NULL,            -- resolved path of the deck file
            deck_title TEXT NOT NULL,
            card_id TEXT NOT NULL,         -- cardtext.card_id: hash of the normalised question
            question TEXT NOT NULL,
            answer TEXT NOT NULL,
            present INTEGER NOT NULL DEFAULT 1,  -- 0 once the card left its deck (history kept)
            state TEXT,                    -- CardState JSON; NULL until the first review
            due TEXT,                      -- state's due time, UTC, for queries
            UNIQUE (deck, card_id)
        )""",
        """CREATE TABLE attempts (
            id INTEGER PRIMARY KEY,
            uid TEXT NOT NULL UNIQUE,      -- stable across export and import
            card INTEGER NOT NULL REFERENCES cards(key),
            question TEXT NOT NULL,        -- as asked, before any later edit
            at TEXT NOT NULL,              -- UTC
            answer TEXT NOT NULL,
            score REAL,                    -- NULL for a self-graded card
            verdict TEXT NOT NULL,
            matched TEXT NOT NULL,         -- JSON list of key terms
            missing TEXT NOT NULL,         -- JSON list of key terms
            feedback TEXT,                 -- LLM feedback JSON, if any
            rating INTEGER NOT NULL,       -- 1 again, 2 hard, 3 good, 4 easy
            rated_by TEXT NOT NULL,        -- grader, user (self-graded card) or override
            seconds REAL,                  -- from question shown to answer submitted
            cram INTEGER NOT NULL DEFAULT 0,
            phase_before TEXT,             -- NULL: the card's first review
            state_before TEXT,
            state_after TEXT NOT NULL
        )""",
        "CREATE INDEX attempts_by_card ON attempts (card, at)",
        "CREATE INDEX attempts_by_time ON attempts (at)",
    ],
    [  # 2: cards set aside in practice (/suspend, /bury)
        "ALTER TABLE cards ADD COLUMN suspended INTEGER NOT NULL DEFAULT 0",  # 1: asked only when named (--cards)
        "ALTER TABLE cards ADD COLUMN buried_until TEXT",  # UTC; not asked before then
    ],
]

RatedBy = Literal["grader", "user", "override"]


def default_path() -> Path:
    """Where the history lives: ``$GRADER_HOME`` if set, else the user's data dir."""
    from .config import data_dir

    return data_dir() / HISTORY_FILE


def history_files(path: Path | None = None) -> dict[str, Path]:
    """The history's files (the database and SQLite's files beside it), by what they are: none may be written over."""
    path = path or default_path()
    files = {"your practice history": path}
    for suffix in ("-wal", "-shm", "-journal"):
        files[f"your practice history's {suffix[1:]} file"] = path.with_name(path.name + suffix)
    return files


def deck_key(deck: Deck) -> str:
    """How a deck is known in the store: its resolved path."""
    return str(Path(deck.path).expanduser().resolve())


def _ts(moment: datetime) -> str:
    """A UTC timestamp in one fixed format, so that text order is time order."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- Records (also the lines of an export) --------------------------------------


class StoredCard(BaseModel):
    """A card as the store knows it."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["card"] = "card"
    deck: str = Field(description="Resolved path of the deck file.")
    deck_title: str
    card: str = Field(description="Card id.")
    question: str
    answer: str
    present: bool = Field(True, description="False once the card is no longer in its deck.")
    state: CardState | None = None
    suspended: bool = Field(False, description="Set aside with /suspend: asked only when named with --cards.")
    buried_until: datetime | None = Field(None, description="Set aside with /bury: not asked before this time.")


# The longest an answer counts as taking. Nobody spends a day typing one answer: a question left on screen longer
# (a session left open over a weekend) is kept as a day, as Anki keeps its "maximum answer seconds", and an
# export claiming more (1e300 s) is refused, where it was summed into the time spent that stats shows.
MAX_ANSWER_SECONDS = 24 * 3600


class Attempt(BaseModel):
    """One answer to one card, as stored and exported."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["attempt"] = "attempt"
    uid: str
    deck: str
    card: str
    question: str
    at: datetime
    answer: str
    score: float | None = Field(None, ge=0, le=1)
    verdict: Verdict
    matched: list[str] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list)
    feedback: Any = None
    rating: Rating
    rated_by: RatedBy
    seconds: float | None = Field(None, ge=0, le=MAX_ANSWER_SECONDS, allow_inf_nan=False)
    cram: bool = False
    state_before: CardState | None = None
    state_after: CardState


class Review(NamedTuple):
    """One answer as ``stats`` counts it: only the fields it reads, decoded without validating the rest.

    A whole ``Attempt`` (its two FSRS states validated by pydantic) cost ``grader stats`` about 40 us and 6 KB an
    answer: 12 s and 1.2 GB for a history of 200,000 (``eval/bench_history.py``).
    """

    deck: str
    question: str
    at: datetime
    score: float | None
    rating: Rating
    seconds: float | None
    cram: bool
    reviewed: bool  # the card was in the Review state before this answer: learnt, not learning or new
    matched: tuple[str, ...]
    missing: tuple[str, ...]

    @classmethod
    def of(cls, a: Attempt) -> Review:
        """The review of a whole attempt (what ``Store.reviews`` reads from the file, field for field)."""
        return cls(
            a.deck, a.question, a.at, a.score, a.rating, a.seconds, a.cram,
            a.state_before is not None and a.state_before.phase is Phase.review, tuple(a.matched), tuple(a.missing),
        )  # fmt: skip


@dataclass(frozen=True)
class CardProgress:
    """Where one card stands (``grader cards``): its schedule, its last answer, whether it is set aside."""

    state: CardState | None
    last_verdict: Verdict | None
    last_score: float | None
    last_rating: Rating | None
    last_at: datetime | None
    suspended: bool
    buried_until: datetime | None


@dataclass(frozen=True)
class Recorded:
    """What recording (or re-rating) an attempt did to the card."""

    attempt_id: int
    rating: Rating
    state: CardState
    previous: CardState | None
    set_aside_before: tuple[bool, datetime | None] | None = None  # (suspended, buried until), when the answer brought it back


@dataclass
class DeckSync:
    """What ``sync`` found for one deck: which cards continue which history, which are new."""

    deck: Deck
    known: bool = False  # the deck had history before
    continued: list[tuple[Card, How, StoredCard]] = field(default_factory=list)
    new: list[Card] = field(default_factory=list)
    retired: int = 0  # stored cards no longer in the deck (their history is kept)
    joined: list[StoredCard] = field(default_factory=list)  # another copy of a card (an imported history) folded into it


@dataclass
class Merged:
    """What ``merge`` read: card records, new attempts, and attempts already present."""

    cards: int = 0
    attempts: int = 0
    duplicates: int = 0
    updated: int = 0  # of the duplicates, re-rated by the user or given feedback since (kept aside while the history was locked)


# --- The store --------------------------------------------------------------------


class Store:
    """The history database. Open with ``Store.open()``; use as a context manager."""

    def __init__(self, path: Path, settings: ScheduleSettings | None = None, *, read_only: bool = False):
        self.path = Path(path)
        self.settings = settings or ScheduleSettings()
        self.read_only = read_only  # opened to read only: every write is refused (HistoryReadOnly)
        self._busy_timeout = BUSY_TIMEOUT_SECONDS
        if read_only:
            self._open_read_only()
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                _create(self.path)
            else:
                self._refuse_unusable()
            # Autocommit mode: transactions are only the explicit ones in _write.
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        except (sqlite3.Error, OSError) as exc:
            raise self._cannot_open(exc) from None
        self._db.row_factory = sqlite3.Row
        try:
            self._setup()
        except sqlite3.Error as exc:
            self._db.close()
            raise self._cannot_open(exc) from None
        except BaseException:
            self._db.close()
            raise

    def _refuse_unusable(self) -> None:
        info = self.path.stat()
        if not stat.S_ISREG(info.st_mode):  # SQLite would wait for ever on a named pipe, to read it
            raise StoreError("the practice history is not a file (a pipe, a device or a folder): move it away", path=self.path)
        if info.st_size == 0:
            # SQLite would take it for a new database; but grader never leaves an empty history
            # (see _create), so something emptied this one, and starting afresh would hide that.
            raise StoreError(
                "the practice history is an empty file (0 bytes): what it held is lost; delete it to start afresh, "
                "and import a backup if you have one (grader history import)",
                path=self.path,
            )

    def _open_read_only(self) -> None:
        """Open the file to read it only (``mode=ro``), creating nothing; a missing history reads as an empty one.

        In WAL mode even a reader needs the ``-shm`` and ``-wal`` files beside the
        history; where they cannot be made (a read-only folder or mount, the
        history's last writer having removed them) SQLite says "unable to open
        database file" at the first read, and the file is opened ``immutable``
        instead: read as it is, without them.
        """
        if not may_exist(self.path):
            self._db = _empty_history()
            return
        try:
            self._refuse_unusable()
            self._db, version = _connect_read_only(self.path)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the practice history: {_reason(exc)}", path=self.path) from None
        self._db.row_factory = sqlite3.Row
        try:
            self._refuse_foreign()
            if version < len(MIGRATIONS):  # an older grader's: upgraded in place if the folder can be written, then read
                self._db.close()
                Store(self.path, self.settings).close()
                self._open_read_only()
                return
            self._migrate()  # refuses a newer grader's history, and checks the tables
        except sqlite3.Error as exc:
            self._db.close()
            raise StoreError(f"cannot open the practice history: {_reason(exc)}", path=self.path) from None
        except BaseException:
            self._db.close()
            raise

    def _cannot_open(self, exc: BaseException) -> StoreError:
        """Why the history could not be opened to write, as one line: a read-only folder is said as such."""
        if self._readable_not_writable(exc):
            return HistoryReadOnly(_READ_ONLY, path=self.path)
        return StoreError(f"cannot open the practice history: {_reason(exc)}", path=self.path)

    def _readable_not_writable(self, exc: BaseException) -> bool:
        if isinstance(exc, OSError):
            return exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM)
        if not isinstance(exc, sqlite3.Error) or _primary_code(exc) not in (_SQLITE_READONLY, _SQLITE_CANTOPEN):
            return False
        if not self.path.is_file():
            return not os.access(self.path.parent, os.W_OK)
        try:  # readable, where it could not be opened to write: read-only
            _connect_read_only(self.path)[0].close()
        except (sqlite3.Error, OSError):
            return False
        return True

    @classmethod
    def open(cls, path: Path | None = None, settings: ScheduleSettings | None = None, *, read_only: bool = False) -> Store:
        """The history at ``path`` (default the user's); ``read_only`` for a command that only reads it."""
        return cls(path or default_path(), settings, read_only=read_only)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _setup(self) -> None:
        """WAL mode, durable commits, and the schema up to date.

        Switching a new file to WAL can fail at once with "locked" while another
        process does the same (SQLite does not wait there), so that is retried.
        """
        self._refuse_foreign()
        deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    def _refuse_foreign(self) -> None:
        """Leave another program's database as it is: grader writes a history whole at its latest version
        (``_create``), so tables in a file still at version 0 are not grader's, and migrating would add ours to them."""
        if self._db.execute("PRAGMA user_version").fetchone()[0]:
            return
        tables = [row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        if tables:
            shown = ", ".join(tables[:3]) + (", ..." if len(tables) > 3 else "")
            raise StoreError(
                f"not a grader history: the database holds another program's tables ({shown}); move it aside, or set GRADER_HOME to another folder",
                path=self.path,
            )

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StoreError(
                f"the history was written by a newer grader (schema {version}, this one knows {len(MIGRATIONS)}); upgrade grader",
                path=self.path,
            )
        if version < len(MIGRATIONS):
            with self._write() as db:
                # Another process may have migrated while we waited for the lock.
                _upgrade(db, db.execute("PRAGMA user_version").fetchone()[0])
        self._check_schema()

    def _check_schema(self) -> None:
        """Refuse a history whose tables are not the ones its version promises (edited by hand, or damaged)."""
        for table, columns in _columns_made_by(tuple(map(tuple, MIGRATIONS))).items():
            have = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            if not have:
                raise StoreError(f"the practice history has no {table} table: {_DAMAGED}", path=self.path)
            lacking = [c for c in columns if c not in have]
            if lacking:
                names = ", ".join(lacking)
                raise StoreError(f"the practice history's {table} table has no column {names}: {_DAMAGED}", path=self.path)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once so two writers queue instead of deadlocking."""
        if self.read_only:
            raise HistoryReadOnly(_READ_ONLY, path=self.path)
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            if _primary_code(exc) == _SQLITE_READONLY:
                raise HistoryReadOnly(_READ_ONLY, path=self.path) from None
            error = HistoryBusy if isinstance(exc, sqlite3.OperationalError) and _busy(exc) else StoreError
            raise error(f"cannot write the practice history: {_reason(exc, self._busy_timeout)}", path=self.path) from None
        try:
            yield self._db
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise StoreError(f"cannot save to the practice history: {_reason(exc)}", path=self.path) from None
        except BaseException:
            self._rollback()
            raise

    @contextmanager
    def busy_timeout(self, seconds: float) -> Iterator[None]:
        """Wait at most ``seconds`` for another grader's write lock inside this block (``HistoryBusy`` after that)."""
        previous = self._busy_timeout
        self._db.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")
        self._busy_timeout = seconds
        try:
            yield
        finally:
            self._db.execute(f"PRAGMA busy_timeout = {int(previous * 1000)}")
            self._busy_timeout = previous

    def _rollback(self) -> None:
        try:
            self._db.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # SQLite already rolled back (e.g. on a full disk)

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the practice history: {_reason(exc)}", path=self.path) from None

    def _rows_in(self, sql: str, values: Sequence[Any], before: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Run a query with one ``IN ({})`` list, in chunks (SQLite caps the number of parameters)."""
        values = list(values)
        rows: list[sqlite3.Row] = []
        for start in range(0, len(values), 500):
            chunk = values[start : start + 500]
            rows += self._read(sql.format(", ".join("?" * len(chunk))), [*before, *chunk])
        return rows

    def _decode(self, decode: Callable[[Any], Any], value: Any) -> Any:
        """A stored value decoded; one that cannot be (changed by hand, damaged) is a StoreError naming the file."""
        try:
            return decode(value)
        except ValueError as exc:  # pydantic's ValidationError, bad JSON, an unknown verdict or rating, a bad time
            detail = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
            raise StoreError(f"the practice history holds a damaged record ({detail}): {_DAMAGED}", path=self.path) from None

    # --- Cards and their identity ---------------------------------------------------

    def sync(self, decks: Sequence[Deck], *, exists: Callable[[str], bool] = os.path.exists) -> list[DeckSync]:
        """Bring the stored cards in line with the decks as they are now; say what changed.

        Stored cards of these decks, of stored decks whose file is gone
        (moved or renamed), and of another installation's copy of a bundled deck, are matched to the current cards (``identity``);
        matched ones are re-keyed with their history, the rest become new
        cards, and stored cards left over are marked as no longer present.
        A stored card of a deck whose file is gone that asks the question of a
        card already matched is a copy of it (another machine's, imported): its
        history is joined to that card's.
        """
        decks = list({deck_key(d): d for d in decks}.values())  # a deck named twice is one deck
        keys = [deck_key(d) for d in decks]
        with self._write() as db:
            known_decks = {r[0] for r in db.execute("SELECT DISTINCT deck FROM cards")}
            rows = self._rows_in("SELECT * FROM cards WHERE deck IN ({})", _sync_candidates(keys, known_decks, exists))
            by_ref = {CardRef(r["deck"], r["card_id"], r["question"], r["answer"]): r for r in rows}
            current = [CardRef(k, c.id, c.question, c.answer) for d, k in zip(decks, keys) for c in d.cards]
            matches = match_cards(current, list(by_ref))
            cards = [(d, k, c) for d, k in zip(decks, keys) for c in d.cards]
            report = {k: DeckSync(d, known=k in known_decks) for d, k in zip(decks, keys)}

            # Re-key in two steps, so that cards trading ids never collide.
            moving = [(by_ref[m.stored]["key"], m) for m in matches if m.stored is not None and m.rekeyed]
            for row_key, _ in moving:
                db.execute("UPDATE cards SET card_id = '~moving~' || key WHERE key = ?", (row_key,))
            kept: dict[int, CardRef] = {}  # row key -> the current card it is
            for (deck, key, card), m in zip(cards, matches):
                if m.stored is None:
                    _insert_card(db, key, deck.title, card.id, card.question, card.answer)
                    report[key].new.append(card)
                    continue
                assert m.how is not None  # a match to a stored card says how it was made
                row = by_ref[m.stored]
                kept[row["key"]] = m.card
                db.execute(
                    "UPDATE cards SET deck = ?, deck_title = ?, card_id = ?, question = ?, answer = ?, present = 1 WHERE key = ?",
                    (key, deck.title, card.id, card.question, card.answer, row["key"]),
                )
                if m.how is not How.same:
                    report[key].continued.append((card, m.how, self._decode(_stored_card, row)))
            for row_key, copy in _copies(kept, [r for r in rows if r["deck"] not in report and r["key"] not in kept]):
                if _join(db, row_key, copy):
                    report[kept[row_key].deck].joined.append(self._decode(_stored_card, copy))
            for row in rows:
                if row["deck"] in report and row["key"] not in kept and row["present"]:
                    db.execute("UPDATE cards SET present = 0 WHERE key = ?", (row["key"],))
                    report[row["deck"]].retired += 1
        return list(report.values())

    def synced_copy(self, decks: Sequence[Deck], *, exists: Callable[[str], bool] = os.path.exists) -> tuple[Store, list[DeckSync]]:
        """A scratch copy of these decks' history (and of decks whose file is gone, as ``sync`` reads them), synced,
        with what the sync found.

        For a history that cannot be written (a read-only folder): what ``sync`` would make of it is read from the
        copy, so an edited card counts as it would in a writable folder, and the file itself is only read. Close it after.
        """
        keys = list(dict.fromkeys(deck_key(d) for d in decks))
        known_decks = {r[0] for r in self._read("SELECT DISTINCT deck FROM cards")}
        candidates = _sync_candidates(keys, known_decks, exists)
        copy = Store._scratch(self.path, self.settings)
        try:
            for table, where in (("cards", "deck IN ({})"), ("attempts", "card IN (SELECT key FROM cards WHERE deck IN ({}))")):
                columns = _columns_made_by(tuple(map(tuple, MIGRATIONS)))[table]
                select = f"SELECT {', '.join(columns)} FROM {table} WHERE {where}"
                insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
                for start in range(0, len(candidates), 500):  # row by row from the file to the copy, never all held at once
                    chunk = candidates[start : start + 500]
                    copy._db.executemany(insert, self._db.execute(select.format(", ".join("?" * len(chunk))), chunk))
            syncs = copy.sync(decks, exists=exists)
        except sqlite3.Error as exc:
            copy.close()
            raise StoreError(f"cannot read the practice history: {_reason(exc)}", path=self.path) from None
        except BaseException:
            copy.close()
            raise
        return copy, syncs

    @classmethod
    def _scratch(cls, path: Path, settings: ScheduleSettings) -> Store:
        """An empty history written freely and thrown away on closing (``_empty_history("")``); ``path`` is the one it stands in for."""
        store = cls.__new__(cls)
        store.path, store.settings, store.read_only, store._busy_timeout = path, settings, False, BUSY_TIMEOUT_SECONDS
        store._db = _empty_history("")
        store._db.execute("PRAGMA journal_mode=OFF")  # a copy thrown away at the end: nothing to roll back to or keep safe
        store._db.execute("PRAGMA synchronous=OFF")
        return store

    def states(self, decks: Sequence[Deck]) -> dict[tuple[str, str], CardState]:
        """The FSRS state of every reviewed card now in these decks, by (deck key, card id)."""
        rows = self._rows_in("SELECT deck, card_id, state FROM cards WHERE present AND state IS NOT NULL AND deck IN ({})", [deck_key(d) for d in decks])
        return {(r["deck"], r["card_id"]): self._decode(_state, r["state"]) for r in rows}

    def done_today(self, decks: Sequence[Deck], *, now: datetime) -> tuple[int, int]:
        """New cards introduced and reviews done so far this study day in these decks (cramming aside).

        Answers dated after this study day (saved while the clock was ahead, then set back) count on their own day, not this one.
        """
        today = study_day(now, self.settings)
        since, until = (_ts(day_start(day, self.settings)) for day in (today, today + timedelta(days=1)))
        rows = self._rows_in(
            "SELECT a.phase_before AS phase, COUNT(DISTINCT a.card) AS n FROM attempts a JOIN cards c ON c.key = a.card "
            "WHERE a.at >= ? AND a.at < ? AND NOT a.cram AND c.deck IN ({}) GROUP BY a.phase_before",
            [deck_key(d) for d in decks],
            before=[since, until],
        )
        counts = {r["phase"]: r["n"] for r in rows}
        return counts.get(None, 0), counts.get(Phase.review.value, 0)

    # --- Attempts ---------------------------------------------------------------------

    def record_attempt(
        self,
        deck: Deck,
        card: Card,
        *,
        answer: str,
        grade: Grade,
        rating: Rating,
        now: datetime,
        rated_by: RatedBy = "grader",
        seconds: float | None = None,
        cram: bool = False,
        feedback: Any = None,
        bring_back: bool = False,
    ) -> Recorded:
        """Store one attempt and the card's next FSRS state, committed before this returns.

        ``bring_back``: the card was set aside and asked anyway (named with --cards); the answer ends its suspension
        or burial in the same transaction, so a locked history leaves both undone (and ``unsaved`` keeps both).
        """
        key = deck_key(deck)
        with self._write() as db:
            row = db.execute("SELECT key, state, suspended, buried_until FROM cards WHERE deck = ? AND card_id = ?", (key, card.id)).fetchone()
            if row is None:  # practised without sync: the card starts its history here
                row_key, before = _insert_card(db, key, deck.title, card.id, card.question, card.answer), None
            else:
                row_key, before = row["key"], self._decode(_state, row["state"])
            attempt = self._attempt(
                deck, card, before, answer=answer, grade=grade, rating=rating, now=now, rated_by=rated_by, seconds=seconds, cram=cram, feedback=feedback
            )  # fmt: skip
            attempt_id = _insert_attempt(db, row_key, attempt)
            _set_state(db, row_key, attempt.state_after)
            set_aside_before = None
            if bring_back and row is not None:
                until = self._decode(_parse_ts, row["buried_until"]) if row["buried_until"] else None
                set_aside_before = bool(row["suspended"]), until
                db.execute("UPDATE cards SET suspended = 0, buried_until = NULL WHERE key = ?", (row_key,))
            return Recorded(attempt_id, rating, attempt.state_after, before, set_aside_before)

    def _attempt(
        self, deck: Deck, card: Card, before: CardState | None, *, answer: str, grade: Grade, rating: Rating, now: datetime,
        rated_by: RatedBy, seconds: float | None, cram: bool, feedback: Any,
    ) -> Attempt:  # fmt: skip
        if isinstance(feedback, BaseModel):
            feedback = feedback.model_dump(mode="json")
        return Attempt(
            uid=uuid.uuid4().hex, deck=deck_key(deck), card=card.id, question=card.question, at=now, answer=answer,
            score=None if grade.verdict is Verdict.self_graded else grade.score, verdict=grade.verdict,
            matched=grade.matched, missing=grade.missing, feedback=feedback, rating=rating, rated_by=rated_by,
            seconds=_answer_seconds(seconds), cram=cram, state_before=before,
            state_after=review(before, rating, now=now, settings=self.settings),
        )  # fmt: skip

    def unsaved(
        self, deck: Deck, card: Card, *, answer: str, grade: Grade, rating: Rating, now: datetime,
        rated_by: RatedBy = "grader", seconds: float | None = None, cram: bool = False, feedback: Any = None,
    ) -> tuple[StoredCard, Attempt]:  # fmt: skip
        """What ``record_attempt`` would write, as the two lines of an export, without writing: for when the history stays locked.

        Only reads (another grader's write lock does not stop reading). Imported,
        the card takes the new state (it was reviewed later) and is no longer set
        aside, as an answer leaves it.
        """
        rows = self._read("SELECT state FROM cards WHERE deck = ? AND card_id = ?", (deck_key(deck), card.id))
        before = self._decode(_state, rows[0]["state"]) if rows else None
        attempt = self._attempt(
            deck, card, before, answer=answer, grade=grade, rating=rating, now=now, rated_by=rated_by, seconds=seconds, cram=cram, feedback=feedback
        )  # fmt: skip
        stored = StoredCard(
            deck=attempt.deck, deck_title=deck.title, card=card.id, question=card.question, answer=card.answer, state=attempt.state_after
        )
        return stored, attempt

    def override_rating(self, attempt_id: int, rating: Rating) -> Recorded | None:
        """Re-rate an attempt (the user overruling the grader) and reschedule its card from the same starting point.

        None, and nothing changed, when the card was answered again since (another sitting on the same history), as
        ``undo_attempt`` refuses: that answer's schedule was computed from this one's, and stands.
        """
        with self._write() as db:
            row = db.execute("SELECT card, at, state_before FROM attempts WHERE id = ?", (attempt_id,)).fetchone()
            if row is None:
                raise StoreError(f"no attempt {attempt_id} in the practice history", path=self.path)
            if _answered_since(db, row["card"], attempt_id):
                return None
            before = self._decode(_state, row["state_before"])
            after = review(before, rating, now=self._decode(_parse_ts, row["at"]), settings=self.settings)
            db.execute(
                "UPDATE attempts SET rating = ?, rated_by = 'override', state_after = ? WHERE id = ?",
                (int(rating), after.model_dump_json(), attempt_id),
            )
            _set_state(db, row["card"], after)
            return Recorded(attempt_id, rating, after, before)

    def kept(self, attempt_id: int, *, rating: Rating | None = None, feedback: Any = None) -> list[StoredCard | Attempt]:
        """A saved attempt re-rated (``rating``) or given ``feedback``, with its card, as the lines of an export, without
        writing: for when the history stays locked. Imported (``merge``), they do what ``override_rating`` or ``set_feedback`` would have."""
        rows = self._read("SELECT a.*, c.deck, c.card_id FROM attempts a JOIN cards c ON c.key = a.card WHERE a.id = ?", (attempt_id,))
        if not rows:
            raise StoreError(f"no attempt {attempt_id} in the practice history", path=self.path)
        attempt = self._decode(_attempt, rows[0])
        card = self._decode(_stored_card, self._read("SELECT * FROM cards WHERE key = ?", (rows[0]["card"],))[0])
        if rating is not None:
            after = review(attempt.state_before, rating, now=attempt.at, settings=self.settings)
            attempt = attempt.model_copy(update={"rating": rating, "rated_by": "override", "state_after": after})
            if self._read("SELECT MAX(id) FROM attempts WHERE card = ?", (rows[0]["card"],))[0][0] == attempt_id:
                card = card.model_copy(update={"state": after})
        if feedback is not None:
            attempt = attempt.model_copy(update={"feedback": feedback.model_dump(mode="json") if isinstance(feedback, BaseModel) else feedback})
        return [card, attempt]

    def set_feedback(self, attempt_id: int, feedback: Any) -> None:
        """Attach LLM feedback to an attempt already saved (the keyword grade is saved first, the model may be slow)."""
        if isinstance(feedback, BaseModel):
            feedback = feedback.model_dump(mode="json")
        with self._write() as db:
            db.execute("UPDATE attempts SET feedback = ? WHERE id = ?", (json.dumps(feedback), attempt_id))

    # --- Setting cards aside and taking answers back ------------------------------------

    def set_aside(
        self, deck: Deck, card: Card, *, suspended: bool | None = None, buried_until: datetime | None | bool = False
    ) -> tuple[bool, datetime | None]:
        """Suspend or unsuspend a card (``suspended``), bury it until a time or unbury it (``buried_until``, None to unbury).

        ``buried_until=False`` leaves the burial as it is. Returns how the card was set aside before, so it can be put back.
        """
        with self._write() as db:
            key = _card_row(db, deck, card)
            row = db.execute("SELECT suspended, buried_until FROM cards WHERE key = ?", (key,)).fetchone()
            before = bool(row["suspended"]), self._decode(_parse_ts, row["buried_until"]) if row["buried_until"] else None
            if suspended is not None:
                db.execute("UPDATE cards SET suspended = ? WHERE key = ?", (int(suspended), key))
            if buried_until is not False:
                until = _ts(buried_until) if isinstance(buried_until, datetime) else None
                db.execute("UPDATE cards SET buried_until = ? WHERE key = ?", (until, key))
            return before

    def held_back(self, decks: Sequence[Deck], *, now: datetime) -> dict[tuple[str, str], str]:
        """Cards of these decks set aside now, by (deck key, card id): "suspended" or "buried"."""
        rows = self._rows_in(
            "SELECT deck, card_id, suspended, buried_until FROM cards WHERE present AND (suspended OR buried_until > ?) AND deck IN ({})",
            [deck_key(d) for d in decks],
            before=[_ts(now)],
        )
        return {(r["deck"], r["card_id"]): "suspended" if r["suspended"] else "buried" for r in rows}

    def undo_attempt(self, attempt_id: int, *, set_aside: tuple[bool, datetime | None] | None = None) -> bool:
        """Take an answer back: the attempt is deleted and the card's state before it restored. True if it was.

        False, and nothing changed, when the card was answered again since (another sitting on the same history):
        that answer's schedule was computed from this one, so deleting this one would leave it resting on an answer
        that is gone, and restoring the state before this one would throw that answer's schedule away.
        ``set_aside`` (suspended, buried until) puts the card back aside as the answer had found it, in the same
        transaction: so a locked history leaves the undo either made whole or not at all.
        """
        with self._write() as db:
            row = db.execute("SELECT card, state_before FROM attempts WHERE id = ?", (attempt_id,)).fetchone()
            if row is None:
                raise StoreError(f"no attempt {attempt_id} in the practice history", path=self.path)
            if _answered_since(db, row["card"], attempt_id):
                return False
            if set_aside is not None:
                suspended, until = set_aside
                db.execute(
                    "UPDATE cards SET suspended = ?, buried_until = ? WHERE key = ?", (int(suspended), _ts(until) if until else None, row["card"])
                )
            db.execute("DELETE FROM attempts WHERE id = ?", (attempt_id,))
            before = self._decode(_state, row["state_before"])
            if before is None:
                db.execute("UPDATE cards SET state = NULL, due = NULL WHERE key = ?", (row["card"],))
            else:
                _set_state(db, row["card"], before)
            return True

    def progress(self, decks: Sequence[Deck]) -> dict[tuple[str, str], CardProgress]:
        """Where each stored card of these decks stands, by (deck key, card id)."""
        rows = self._rows_in(
            "SELECT c.deck, c.card_id, c.state, c.suspended, c.buried_until, a.verdict, a.score, a.rating, a.at"
            " FROM cards c LEFT JOIN attempts a ON a.id = (SELECT MAX(id) FROM attempts WHERE card = c.key)"
            " WHERE c.deck IN ({})",
            [deck_key(d) for d in decks],
        )
        return {(r["deck"], r["card_id"]): self._decode(_progress, r) for r in rows}

    # --- Reading and merging ------------------------------------------------------------

    def cards(self, deck_keys: Sequence[str] | None = None) -> list[StoredCard]:
        """Stored cards, of the given decks or of all, in deck and id order."""
        sql = "SELECT * FROM cards" + (" WHERE deck IN ({})" if deck_keys is not None else "") + " ORDER BY deck, card_id"
        rows = self._rows_in(sql, list(deck_keys)) if deck_keys is not None else self._read(sql)
        return [self._decode(_stored_card, r) for r in rows]

    def attempts(self, deck_keys: Sequence[str] | None = None) -> list[Attempt]:
        """Stored attempts, of the given decks or of all, oldest first."""
        sql = (
            "SELECT a.*, c.deck, c.card_id FROM attempts a JOIN cards c ON c.key = a.card"
            + (" WHERE c.deck IN ({})" if deck_keys is not None else "")
            + " ORDER BY a.at, a.uid"
        )
        rows = self._rows_in(sql, list(deck_keys)) if deck_keys is not None else self._read(sql)
        return [self._decode(_attempt, r) for r in rows]

    def reviews(self, deck_keys: Sequence[str] | None = None) -> list[Review]:
        """What ``stats`` needs of each stored attempt, of the given decks or of all, oldest first (as ``attempts``).

        Read row by row from a narrow query; the texts repeated from answer to
        answer (deck, question, each list of terms) are kept once.
        """
        sql = (
            "SELECT c.deck, a.question, a.at, a.score, a.rating, a.seconds, a.cram, a.phase_before, a.matched, a.missing"
            " FROM attempts a JOIN cards c ON c.key = a.card"
            + (" WHERE c.deck IN ({})" if deck_keys is not None else "")
            + " ORDER BY a.at, a.uid"
        )
        texts: dict[str, str] = {}
        terms: dict[str, tuple[str, ...]] = {}

        def decode(row: tuple) -> Review:
            deck, question, at, score, rating, seconds, cram, phase, matched, missing = row
            if matched not in terms:
                terms[matched] = tuple(texts.setdefault(t, t) for t in _text_list(matched))
            if missing not in terms:
                terms[missing] = tuple(texts.setdefault(t, t) for t in _text_list(missing))
            return Review(
                texts.setdefault(deck, deck), texts.setdefault(question, question), _parse_ts(at), score, Rating(rating),
                _answer_seconds(seconds), bool(cram), phase == Phase.review.value, terms[matched], terms[missing],
            )  # fmt: skip

        keys = list(deck_keys) if deck_keys is not None else None
        chunks = [keys[i : i + 500] for i in range(0, len(keys), 500)] if keys is not None else [None]
        result: list[Review] = []
        for chunk in chunks:
            try:
                cursor = self._db.cursor()
                cursor.row_factory = None  # plain tuples: no sqlite3.Row per answer
                rows = cursor.execute(sql.format(", ".join("?" * len(chunk))), chunk) if chunk is not None else cursor.execute(sql)
                result += [self._decode(decode, row) for row in rows]
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read the practice history: {_reason(exc)}", path=self.path) from None
        return result

    def merge(self, records: Iterable[StoredCard | Attempt]) -> Merged:
        """Merge records (another history's) into this one, in one transaction: all of them, or none if reading them fails.

        Attempts already present (same uid) are skipped, so merging twice
        changes nothing; a card keeps whichever state was reviewed last.
        ``records`` may be a generator (an export read line by line): it is read
        to the end, and each attempt made ready to write, before the write lock
        is taken, into a temporary file rather than memory; so a bad record
        leaves the history as it was without ever locking it, and a practice
        session waits for the writing alone (seconds for 400,000 lines, where
        reading and validating them took the lock for the whole import).
        """
        merged = Merged()
        with tempfile.TemporaryFile() as staged:
            batch: list[Any] = []
            for rec in records:
                batch.append(rec if isinstance(rec, StoredCard) else _attempt_row(rec))
                if len(batch) >= _STAGE_BATCH:
                    pickle.dump(batch, staged, pickle.HIGHEST_PROTOCOL)
                    batch = []
            pickle.dump(batch, staged, pickle.HIGHEST_PROTOCOL)
            staged.seek(0)
            with self._write() as db:
                card_keys: dict[tuple[str, str], int] = {}  # a card's row never changes key during a merge
                while batch := _next_batch(staged):
                    attempts: list[tuple] = []
                    for item in batch:
                        if isinstance(item, StoredCard):
                            _merge_attempts(db, attempts, card_keys, merged)
                            _merge_card(db, item)
                            merged.cards += 1
                        else:
                            attempts.append(item)
                    _merge_attempts(db, attempts, card_keys, merged)
        return merged


# --- The file and its schema --------------------------------------------------------

_READ_ONLY = "cannot save to the practice history: its folder is read-only; make it writable, or set GRADER_HOME to a folder you can write"
_SQLITE_READONLY, _SQLITE_CANTOPEN = 8, 14  # primary result codes (an extended code's low byte)
# SQLite's own words for them: Python 3.10's errors carry no result code (``sqlite_errorcode`` came in 3.11).
_PRIMARY_CODE_BY_MESSAGE = {
    "attempt to write a readonly database": _SQLITE_READONLY,
    "unable to open database file": _SQLITE_CANTOPEN,
}
_DAMAGED = "another program changed it; move it aside, and import a backup if you have one (grader history import)"


def _primary_code(exc: sqlite3.Error) -> int:
    """SQLite's primary result code for ``exc``, on Python 3.10 too (there from its message); 0 when unknown."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return _PRIMARY_CODE_BY_MESSAGE.get(str(exc), 0)
    return code & 0xFF


def _upgrade(db: sqlite3.Connection, version: int) -> None:
    """Run the migrations after ``version``, inside the caller's transaction."""
    for number, statements in enumerate(MIGRATIONS[version:], start=version + 1):
        for sql in statements:
            db.execute(sql)
        db.execute(f"PRAGMA user_version = {number}")


def _answered_since(db: sqlite3.Connection, card: int, attempt_id: int) -> bool:
    """Whether the card has an attempt after this one (another sitting answered it): that answer's schedule rests on
    this one, so this one can be neither undone nor re-rated, and its new state is not the card's."""
    return db.execute("SELECT MAX(id) FROM attempts WHERE card = ?", (card,)).fetchone()[0] != attempt_id


def _empty_history(file: str = ":memory:") -> sqlite3.Connection:
    """A history with nothing in it, in memory: stands in for one that is missing. ``file=""``: in a temporary file of
    SQLite's own, kept in memory as far as its page cache goes (a copy as large as the history, ``synced_copy``)."""
    db = sqlite3.connect(file, isolation_level=None)
    _upgrade(db, 0)
    db.row_factory = sqlite3.Row
    return db


def _sync_candidates(keys: Sequence[str], known_decks: set[str], exists: Callable[[str], bool]) -> list[str]:
    """The stored decks whose cards ``sync`` matches to these decks' cards: theirs, any whose file is gone (moved),
    and another installation's copy of a bundled deck among them, which is the same deck even where it still exists."""
    bundled = {name for k in keys if (name := bundled_deck_name(k))}
    return sorted(set(keys) | {d for d in known_decks if d not in keys and (not exists(d) or (bundled and bundled_deck_name(d) in bundled))})


def _create(path: Path) -> None:
    """Make a new history at ``path``, whole: built under a temporary name, then linked into place.

    So no process ever finds a half-made (empty) history file, and an empty one
    is known to be damage. When two graders start at once, the first link wins
    and the other uses that file.
    """
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.new")
    try:
        db = sqlite3.connect(temporary, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("BEGIN IMMEDIATE")
            _upgrade(db, 0)
            db.execute("COMMIT")
        finally:
            db.close()
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another grader made it first
        except OSError:  # a file system without hard links
            if not path.exists():
                os.replace(temporary, path)
    finally:
        for leftover in (temporary, *(temporary.with_name(temporary.name + s) for s in ("-wal", "-shm", "-journal"))):
            leftover.unlink(missing_ok=True)


def _connect_read_only(path: Path) -> tuple[sqlite3.Connection, int]:
    """A connection that reads ``path`` only, and the schema version read through it (``Store._open_read_only``)."""
    uri = path.absolute().as_uri()
    try:
        return _read_version(f"{uri}?mode=ro")
    except sqlite3.OperationalError as exc:
        if _busy(exc):
            raise
    return _read_version(f"{uri}?immutable=1")  # the -wal and -shm files cannot be made beside it: read it as it is


def _read_version(uri: str) -> tuple[sqlite3.Connection, int]:
    db = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
    try:
        return db, db.execute("PRAGMA user_version").fetchone()[0]  # SQLite opens the file lazily: here
    except sqlite3.OperationalError:
        db.close()
        raise


@cache
def _columns_made_by(migrations: tuple[tuple[str, ...], ...]) -> dict[str, list[str]]:
    """Each table's columns as these migrations make them."""
    db = sqlite3.connect(":memory:")
    try:
        for statements in migrations:
            for sql in statements:
                db.execute(sql)
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: [r[1] for r in db.execute(f"PRAGMA table_info({t})")] for t in tables}
    finally:
        db.close()


# --- Rows -------------------------------------------------------------------------


def _insert_card(
    db: sqlite3.Connection, deck: str, title: str, card_id: str, question: str, answer: str, *, present: bool = True, state: CardState | None = None
) -> int:
    """Add a card row; return its key."""
    cur = db.execute(
        "INSERT INTO cards (deck, deck_title, card_id, question, answer, present, state, due) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (deck, title, card_id, question, answer, int(present), state.model_dump_json() if state else None, _ts(state.due) if state else None),
    )
    return _inserted(cur)


def _card_row(db: sqlite3.Connection, deck: Deck, card: Card) -> int:
    """The key of a card's row, made if the card was never synced."""
    key = deck_key(deck)
    row = db.execute("SELECT key FROM cards WHERE deck = ? AND card_id = ?", (key, card.id)).fetchone()
    return row["key"] if row is not None else _insert_card(db, key, deck.title, card.id, card.question, card.answer)


def _progress(row: sqlite3.Row) -> CardProgress:
    return CardProgress(
        state=_state(row["state"]),
        last_verdict=Verdict(row["verdict"]) if row["verdict"] else None,
        last_score=row["score"],
        last_rating=Rating(row["rating"]) if row["rating"] else None,
        last_at=_parse_ts(row["at"]) if row["at"] else None,
        suspended=bool(row["suspended"]),
        buried_until=_parse_ts(row["buried_until"]) if row["buried_until"] else None,
    )


def _set_state(db: sqlite3.Connection, key: int, state: CardState) -> None:
    db.execute("UPDATE cards SET state = ?, due = ? WHERE key = ?", (state.model_dump_json(), _ts(state.due), key))


_INSERT_ATTEMPT = (
    "INSERT INTO attempts (uid, card, question, at, answer, score, verdict, matched, missing, feedback, rating,"
    " rated_by, seconds, cram, phase_before, state_before, state_after)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_STAGE_BATCH = 2000  # records pickled together while a merge is read


def _attempt_row(a: Attempt) -> tuple:
    """An attempt as the values of its row, its card's key aside: (uid, deck, card id, question, at, ...)."""
    return (
        a.uid, a.deck, a.card, a.question, _ts(a.at), a.answer, a.score, a.verdict.value,
        json.dumps(a.matched), json.dumps(a.missing),
        json.dumps(a.feedback) if a.feedback is not None else None,
        int(a.rating), a.rated_by, a.seconds, int(a.cram),
        a.state_before.phase.value if a.state_before else None,
        a.state_before.model_dump_json() if a.state_before else None, a.state_after.model_dump_json(),
    )  # fmt: skip


def _insert_attempt(db: sqlite3.Connection, card_key: int, a: Attempt) -> int:
    """Add an attempt row under the card with this key; return its id. Attempts are written here and in ``_merge_attempts`` alone."""
    uid, _deck, _card, *values = _attempt_row(a)
    return _inserted(db.execute(_INSERT_ATTEMPT, (uid, card_key, *values)))


def _inserted(cur: sqlite3.Cursor) -> int:
    """The key of the row the INSERT just run added (``lastrowid`` is None only on a cursor that never inserted)."""
    assert cur.lastrowid is not None
    return cur.lastrowid


def _next_batch(staged: Any) -> list[Any]:
    try:
        return pickle.load(staged)
    except EOFError:
        return []


def _merge_attempts(db: sqlite3.Connection, rows: list[tuple], card_keys: dict[tuple[str, str], int], merged: Merged) -> None:
    """Insert the attempt rows (``_attempt_row``) not already present, in order, and count them; empties ``rows``.

    As if one by one: an attempt whose uid is in the history, or came earlier
    in this merge, is a duplicate; one whose card is not stored makes it.
    """
    if not rows:
        return
    stored = {
        r[0]: r[1:] for start in range(0, len(rows), 500)
        for r in db.execute(
            f"SELECT uid, id, card, rated_by, feedback IS NULL FROM attempts WHERE uid IN ({', '.join('?' * len(rows[start : start + 500]))})",
            [row[0] for row in rows[start : start + 500]],
        )
    }  # fmt: skip
    present = set(stored)
    insert = []
    for uid, deck, card, question, *values in rows:
        if uid in present:
            merged.duplicates += 1
            if uid in stored:
                attempt_id, card_key, rated_by, no_feedback = stored[uid]
                if _update_attempt(db, attempt_id, card_key, rated_by, no_feedback, values):
                    merged.updated += 1
            continue
        present.add(uid)
        key = card_keys.get((deck, card))
        if key is None:
            key = card_keys[deck, card] = _card_key(db, deck, card, question)
        insert.append((uid, key, question, *values))
    db.executemany(_INSERT_ATTEMPT, insert)
    merged.attempts += len(insert)
    rows.clear()


def _update_attempt(db: sqlite3.Connection, attempt_id: int, card_key: int, rated_by: str, no_feedback: bool, values: list) -> bool:
    """Take from another copy of a stored attempt (``_attempt_row`` values after the question) what was added to it since:
    the user's re-rating of the grader's rating, feedback it lacked. The card takes the new state if this is its latest attempt."""
    feedback, rating, their_rated_by, state_after = values[6], values[7], values[8], values[13]
    changed = False
    if their_rated_by == "override" and rated_by != "override":
        db.execute("UPDATE attempts SET rating = ?, rated_by = 'override', state_after = ? WHERE id = ?", (rating, state_after, attempt_id))
        if not _answered_since(db, card_key, attempt_id):
            _set_state(db, card_key, CardState.model_validate_json(state_after))
        changed = True
    if feedback is not None and no_feedback:
        db.execute("UPDATE attempts SET feedback = ? WHERE id = ?", (feedback, attempt_id))
        changed = True
    return changed


def _merge_card(db: sqlite3.Connection, rec: StoredCard) -> None:
    """Add a card from another history, or take its state if that was reviewed later than ours."""
    row = db.execute("SELECT key, state FROM cards WHERE deck = ? AND card_id = ?", (rec.deck, rec.card)).fetchone()
    if row is None:
        key = _insert_card(db, rec.deck, rec.deck_title, rec.card, rec.question, rec.answer, present=rec.present, state=rec.state)
    else:
        key, mine = row["key"], _state(row["state"])
        if rec.state is None or (mine is not None and _reviewed(rec.state) <= _reviewed(mine)):
            return
        _set_state(db, key, rec.state)
    # Set aside as the newer history says (the one that was reviewed later, or the only one).
    until = _ts(rec.buried_until) if rec.buried_until else None
    db.execute("UPDATE cards SET suspended = ?, buried_until = ? WHERE key = ?", (int(rec.suspended), until, key))


def _copies(kept: dict[int, CardRef], left: list[sqlite3.Row]) -> list[tuple[int, sqlite3.Row]]:
    """Stored cards ``left`` over from decks whose file is gone, paired with the kept row of the card they are a copy of.

    A copy asks the same question (normalised), one no other card asks on either side: the strongest evidence of
    identity, and so cheap that a history full of old decks costs nothing.
    """
    questions = {k: normalize(ref.question) for k, ref in kept.items()}
    theirs = {r["key"]: normalize(r["question"]) for r in left}
    mine_n, theirs_n = Counter(questions.values()), Counter(theirs.values())
    by_question = {q: k for k, q in questions.items() if q and mine_n[q] == 1}
    return [(by_question[q], r) for r in left if (q := theirs[r["key"]]) in by_question and theirs_n[q] == 1]


def _join(db: sqlite3.Connection, key: int, copy: sqlite3.Row) -> bool:
    """Fold another copy of a card into the row ``key``: its attempts, and its state if reviewed later; False if it had neither."""
    moved = db.execute("UPDATE attempts SET card = ? WHERE card = ?", (key, copy["key"])).rowcount
    mine, theirs = _state(db.execute("SELECT state FROM cards WHERE key = ?", (key,)).fetchone()[0]), _state(copy["state"])
    later = theirs is not None and (mine is None or _reviewed(theirs) > _reviewed(mine))
    if theirs is not None and later:
        _set_state(db, key, theirs)
        db.execute("UPDATE cards SET suspended = ?, buried_until = ? WHERE key = ?", (copy["suspended"], copy["buried_until"], key))
    db.execute("DELETE FROM cards WHERE key = ?", (copy["key"],))
    return bool(moved) or later


def _card_key(db: sqlite3.Connection, deck: str, card_id: str, question: str) -> int:
    row = db.execute("SELECT key FROM cards WHERE deck = ? AND card_id = ?", (deck, card_id)).fetchone()
    if row is not None:
        return row["key"]
    # An attempt whose card line is missing: keep it under a card made from what the attempt knows.
    return _insert_card(db, deck, Path(deck).stem, card_id, question, "", present=False)


def _reviewed(state: CardState) -> datetime:
    return state.last_review or datetime.min.replace(tzinfo=timezone.utc)


def _state(text: str | None) -> CardState | None:
    return CardState.model_validate_json(text) if text else None


def _parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _stored_card(row: sqlite3.Row) -> StoredCard:
    return StoredCard(
        deck=row["deck"],
        deck_title=row["deck_title"],
        card=row["card_id"],
        question=row["question"],
        answer=row["answer"],
        present=bool(row["present"]),
        state=_state(row["state"]),
        suspended=bool(row["suspended"]),
        buried_until=_parse_ts(row["buried_until"]) if row["buried_until"] else None,
    )


def _attempt(row: sqlite3.Row) -> Attempt:
    return Attempt(
        uid=row["uid"],
        deck=row["deck"],
        card=row["card_id"],
        question=row["question"],
        at=_parse_ts(row["at"]),
        answer=row["answer"],
        score=row["score"],
        verdict=Verdict(row["verdict"]),
        matched=json.loads(row["matched"]),
        missing=json.loads(row["missing"]),
        feedback=json.loads(row["feedback"]) if row["feedback"] is not None else None,
        rating=Rating(row["rating"]),
        rated_by=row["rated_by"],
        seconds=_answer_seconds(row["seconds"]),  # a grader before the bound kept a longer time as it was
        cram=bool(row["cram"]),
        state_before=_state(row["state_before"]),
        state_after=CardState.model_validate_json(row["state_after"]),
    )


def _text_list(text: str) -> list[str]:
    """A stored JSON list of key terms."""
    terms = json.loads(text)
    if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
        raise ValueError("a list of key terms is not a list of texts")
    return terms


def _answer_seconds(seconds: float | None) -> float | None:
    """The time an answer took, as stored: at most ``MAX_ANSWER_SECONDS``."""
    return None if seconds is None else min(seconds, MAX_ANSWER_SECONDS)


def _busy(exc: BaseException) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


def _reason(exc: BaseException, waited: float = BUSY_TIMEOUT_SECONDS) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    if _busy(exc):
        text += f" (another grader held it for over {waited:g} s)"
    return text
