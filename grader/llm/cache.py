"""A SQLite cache of LLM feedback, so grading the same answer again costs nothing.

A reply is stored only once it has passed validation. The key covers everything
that shapes the reply: model, base URL, prompt version, the card (its id and a
hash of its question, reference answer and key terms, so editing the card
invalidates it) and the answer, byte for byte. Token usage is kept with each
entry so a report can say what the cache saved.

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

SCHEMA_VERSION = 1
CACHE_FILE = "llm_cache.sqlite3"

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
)
"""


@dataclass(frozen=True)
class CachedReply:
    output: str
    mode: str
    prompt_tokens: int
    completion_tokens: int


def card_fingerprint(card: Card) -> str:
    """A hash of what the model is shown about a card."""
    content = json.dumps([card.id, card.question, card.answer, [t.text for t in card.key_terms]])
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
    """One SQLite file; each entry is committed as soon as it is written."""

    def __init__(self, path: Path):
        self.path = path
        with _failures_as_cache_error(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=10)
            self._db.execute("PRAGMA journal_mode=WAL")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise CacheError(f"cache schema {version} is newer than this grader ({SCHEMA_VERSION})", path=path)
            self._db.execute(_SCHEMA)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            self._db.commit()

    def get(self, key: str) -> CachedReply | None:
        with _failures_as_cache_error(self.path):
            row = self._db.execute(
                "SELECT output, mode, prompt_tokens, completion_tokens FROM feedback WHERE key = ?", (key,)
            ).fetchone()
        return CachedReply(*row) if row else None

    def put(self, key: str, *, model: str, base_url: str, prompt_version: str, card: str, reply: CachedReply) -> None:
        with _failures_as_cache_error(self.path), self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO feedback VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    model,
                    base_url,
                    prompt_version,
                    card,
                    time.time(),
                    reply.mode,
                    reply.prompt_tokens,
                    reply.completion_tokens,
                    reply.output,
                ),
            )

    def __len__(self) -> int:
        with _failures_as_cache_error(self.path):
            return self._db.execute("SELECT COUNT(*) FROM feedback").fetchone()[0]

    def close(self) -> None:
        self._db.close()
