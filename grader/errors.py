"""The one family of errors grader raises for problems the user can fix.

    GraderError                 anything shown to the user as one line, exit 1
    ├── InputError              a file we were asked to read is missing, binary,
    │   │                       badly encoded, too large or malformed
    │   ├── DeckError           a deck has no cards or a card is malformed
    │   └── AnswersError        an answers row is malformed or names no card
    ├── LLMError                the LLM endpoint failed (issue: LLM feedback)
    ├── CacheError              the LLM reply cache cannot be opened, read or written
    └── StoreError              the history database cannot be opened or written
        ├── HistoryBusy         another grader held the history's write lock too long
        └── HistoryReadOnly     the history can be read but not written (a read-only folder)

Library code raises these with the path and line where they are known; only
the CLI turns them into ``Error: ...`` on stderr and an exit code. Anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path


class GraderError(Exception):
    """A problem the user can fix, displayed as one line."""

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = f"{self.path}:{self.line}: " if self.line is not None else f"{self.path}: "
        return f"{where}{self.message}"


class InputError(GraderError):
    """A file could not be read as what it claims to be."""


class DeckError(InputError):
    """A deck file is unusable."""


class AnswersError(InputError):
    """An answers file row is unusable."""


class LLMError(GraderError):
    """The LLM endpoint could not give usable feedback."""


class CacheError(GraderError):
    """The LLM reply cache failed; the feedback client turns its cache off and carries on."""


class StoreError(GraderError):
    """The practice history cannot be read or saved (disk full, locked, not a database)."""


class HistoryBusy(StoreError):
    """Another grader held the history's write lock longer than we waited (an import, say): nothing was written."""


class HistoryReadOnly(StoreError):
    """The history's folder (or file) cannot be written: commands that only read work, the others stop with this."""
