"""A SQLite cache of LLM feedback, so grading the same answer again costs nothing.

A reply is stored only once it has passed validation. The key covers everything
that shapes the reply: model, base URL, prompt version, the card (its id and a
hash of its question, reference answer and key terms, so editing the card
invalidates it) and the answer, byte for byte. Token usage is kept with each
entry so a report can say what the cache saved.

Writes are batched: ``put`` keeps the entry in memory (``get`` sees it at
once) and commits every ``COMMIT_EVERY`` entries or ``COMMIT_SECONDS``, and on ``flush``/``close``,
in WAL mode with ``synchronous=NORMAL``: a commit costs microseconds instead of
an fsync, so a batch's requests in flight never wait on the disk. A crash can
lose the last uncommitted replies; they are asked for again next time.

The ``endpoints`` table remembers what each endpoint and model accepts
(``endpoint.EndpointInfo``), so a server without json_schema costs a failed
request once, not once a run.

Every SQLite or file-system failure is raised as ``CacheError`` (with the
file's path), so callers can turn the cache off without knowing it is SQLite.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import CacheError
from ..models import Card

SCHEMA_VERSION = 1  # the endpoints table is new but optional: older graders ignore it
CACHE_FILE = "llm_cache.sqlite3"
COMMIT_EVERY = 32
COMMIT_SECONDS = 1.0  # and at least this often, so a killed run loses at most a second of replies

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    key               TEXT PRIMARY KEY,
    model             TEXT NOT NULL,
    base_url          TEXT NOT NULL,
    prompt_version    TEXT NOT NULL,
    card              TEXT NOT NULL,
    created           REAL NOT NULL,
    mode              TEXT NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    output            TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS endpoints (
    key     TEXT PRIMARY KEY,
    info    TEXT NOT NULL,
    updated REAL NOT NULL
);
"""


@dataclass(frozen=True)
class CachedReply:
    output: str
    mode: str
    prompt_tokens: int
    completion_tokens: int


MODES = ("json_schema", "json_object")


def _well_formed(row: tuple) -> bool:
    """Whether a stored row is what ``put`` writes: text output, a known mode, counts that are whole and not negative.

    A row changed by hand, another program or a damaged file is a miss (asked
    again, then replaced), not a validation traceback when it is read.
    """
    output, mode, *counts = row
    return (
        isinstance(output, str)
        and mode in MODES
        and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts)
    )


def card_fingerprint(card: Card) -> str:
    """A hash of what the model is shown about a card (the question as told, for one that shows images: the
    fingerprint of every other card is what it was before questions had images, so their cached replies stay)."""
    shown: list = [card.id, card.question, card.answer, [t.text for t in card.key_terms]]
    if card.question_images:
        from .prompts import question_for_model

        shown.append(question_for_model(card))
    content = json.dumps(shown)
    return hashlib.sha256(content.encode()).hexdigest()[:16]


def cache_key(model: str, base_url: str, prompt_version: str, card: Card, answer: str) -> str:
    parts = [model, base_url, prompt_version, card.id, card_fingerprint(card), answer]
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()


@contextmanager
def _failures_as_cache_error(path: Path) -> Iterator[None]:
    try:
        yield
    except (sqlite3.Error, OSError) as exc:
        raise CacheError(str(exc), path=path) from exc


class LLMCache:
    """One SQLite file; entries are committed in batches (see the module's docstring)."""

    def __init__(self, path: Path, commit_every: int = COMMIT_EVERY):
        self.path = path
        self.commit_every = commit_every
        self._pending: dict[str, tuple] = {}
        self._committed = time.monotonic()
        with _failures_as_cache_error(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=10)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise CacheError(f"cache schema {version} is newer than this grader ({SCHEMA_VERSION})", path=path)
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            self._db.commit()

    def get(self, key: str) -> CachedReply | None:
        pending = self._pending.get(key)
        if pending is not None:
            return CachedReply(pending[9], pending[6], pending[7], pending[8])
        with _failures_as_cache_error(self.path):
            row = self._db.execute(
                "SELECT output, mode, prompt_tokens, completion_tokens FROM feedback WHERE key = ?", (key,)
            ).fetchone()
        return CachedReply(*row) if row and _well_formed(row) else None

    def put(self, key: str, *, model: str, base_url: str, prompt_version: str, card: str, reply: CachedReply) -> None:
        row = (key, model, base_url, prompt_version, card, time.time(), reply.mode, reply.prompt_tokens, reply.completion_tokens, reply.output)
        self._pending[key] = row
        if len(self._pending) >= self.commit_every or time.monotonic() - self._committed >= COMMIT_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Commit the entries kept in memory, in one transaction."""
        self._committed = time.monotonic()
        if not self._pending:
            return
        rows, self._pending = list(self._pending.values()), {}
        with _failures_as_cache_error(self.path), self._db:
            self._db.executemany("INSERT OR REPLACE INTO feedback VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def endpoint_info(self, key: str) -> str | None:
        """What was learnt about an endpoint (``EndpointInfo`` as JSON), if anything."""
        with _failures_as_cache_error(self.path):
            row = self._db.execute("SELECT info FROM endpoints WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_endpoint_info(self, key: str, info: str) -> None:
        with _failures_as_cache_error(self.path), self._db:
            self._db.execute("INSERT OR REPLACE INTO endpoints VALUES (?, ?, ?)", (key, info, time.time()))

    def __len__(self) -> int:
        self.flush()
        with _failures_as_cache_error(self.path):
            return self._db.execute("SELECT COUNT(*) FROM feedback").fetchone()[0]

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._db.close()
