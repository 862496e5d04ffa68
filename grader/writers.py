"""Graded answers as records, and the file writers that put each one out the moment it is final.

The JSON Lines record is a contract other tools rely on (README, "grade --json"):
``card``, ``number``, ``question``, ``answer``, ``score``, ``verdict``,
``matched``, ``missing``, ``terms``, ``answered``, plus the input row's own fields. An input
field whose name collides with one of ours is kept as ``input_<name>``.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .errors import GraderError
from .models import AnswerRow, Card, Grade

if TYPE_CHECKING:
    from .llm.schema import LLMResult

RECORD_FIELDS = ("card", "number", "question", "answer", "score", "verdict", "matched", "missing", "terms", "answered")


def passthrough_name(field: str) -> str:
    """The output name of an input field: unchanged unless it collides with ours."""
    return f"input_{field}" if field in RECORD_FIELDS else field


def grade_record(card: Card, row: AnswerRow, grade: Grade) -> dict[str, Any]:
    """The stable JSON record of one graded answer."""
    extra = {passthrough_name(k): v for k, v in row.extra.items()}
    return {
        **extra,
        "card": card.id,
        "number": card.number,
        "question": card.question,
        "answer": row.answer,
        "score": grade.score,
        "verdict": grade.verdict.value,
        "matched": grade.matched,
        "missing": grade.missing,
        "terms": [t.model_dump(mode="json") for t in grade.terms],
        "answered": grade.answered,
    }


def card_record(card: Card) -> dict[str, Any]:
    """The stable JSON record of one card (``cards --json``)."""
    return {
        "id": card.id,
        "number": card.number,
        "question": card.question,
        "key_terms": [t.text for t in card.key_terms],
        "derived_terms": bool(card.key_terms) and card.key_terms[0].derived,
        "gradable": card.gradable,
        "images": card.images,
        "line": card.line,
    }


@dataclass
class GradedAnswer:
    """One row of an answers file with its card, its keyword grade and any LLM feedback."""

    row: AnswerRow
    card: Card
    grade: Grade
    feedback: LLMResult | None = None

    @cached_property
    def record(self) -> dict[str, Any]:
        """The stable output record (``grade --json``), built once for every writer."""
        record = grade_record(self.card, self.row, self.grade)
        if self.feedback is not None:
            record["llm"] = self.feedback.record()
        return record


class JsonLinesWriter:
    """One JSON object a line, flushed at once so a reader downstream sees each result as it comes."""

    def __init__(self, out: IO[str]):
        self.out = out

    def write(self, graded: GradedAnswer) -> None:
        self.out.write(json.dumps(graded.record, ensure_ascii=False) + "\n")
        self.out.flush()

    def close(self, footer: str | None = None) -> None:
        pass


class CsvWriter:
    """CSV with our columns first; extra input columns after, as first seen."""

    def __init__(self, out: IO[str], extra_columns: list[str]):
        self.out = out
        self.columns = ["card", "number", "score", "verdict", "matched", "missing", *extra_columns, "answer"]
        self.writer = csv.DictWriter(out, fieldnames=self.columns, extrasaction="ignore")
        self.writer.writeheader()

    @classmethod
    def for_rows(cls, out: IO[str], rows: list[AnswerRow]) -> CsvWriter:
        """A writer whose extra columns are every input field of the rows, in the order first seen."""
        return cls(out, list(dict.fromkeys(passthrough_name(k) for row in rows for k in row.extra)))

    def write(self, graded: GradedAnswer) -> None:
        row = dict(graded.record)
        row["matched"] = "; ".join(row["matched"])
        row["missing"] = "; ".join(row["missing"])
        self.writer.writerow({k: _cell(v) for k, v in row.items()})
        self.out.flush()

    def close(self, footer: str | None = None) -> None:
        pass


def _cell(value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value


class MarkdownReport:
    """A Markdown report written row by row, with a summary appended at the end."""

    @classmethod
    def create(cls, path: Path, deck_title: str, answers_path: str) -> MarkdownReport:
        """A report in a new file at ``path`` (the file is closed with the report)."""
        try:
            out = path.open("w", encoding="utf-8")
        except OSError as exc:
            raise GraderError(f"cannot write report: {exc.strerror}", path=path) from None
        return cls(out, deck_title, answers_path)

    def __init__(self, out: IO[str], deck_title: str, answers_path: str):
        self.out = out
        self.verdicts: Counter[str] = Counter()
        self.scores: list[float] = []
        out.write(f"# Grading report: {_md(deck_title)}\n\nAnswers: `{answers_path}`\n\n")
        out.write("| # | card | question | score | verdict | matched | missing |\n|---|---|---|---|---|---|---|\n")
        out.flush()

    def write(self, graded: GradedAnswer) -> None:
        record = graded.record
        self.verdicts[record["verdict"]] += 1
        self.scores.append(record["score"])
        n = sum(self.verdicts.values())
        self.out.write(
            f"| {n} | {record['number']} | {_md(record['question'])} | {record['score']:.2f} | {record['verdict']} "
            f"| {_md(', '.join(record['matched']))} | {_md(', '.join(record['missing']))} |\n"
        )
        self.out.flush()

    def close(self, footer: str | None = None) -> None:
        """The summary (and the LLM's usage line, if any), then the file is closed."""
        n = len(self.scores)
        if n:
            tally = ", ".join(f"{v} {k}" for k, v in sorted(self.verdicts.items()))
            self.out.write(f"\n**{n} answers**: {tally}; mean score {sum(self.scores) / n:.2f}.\n")
        if footer:
            self.out.write(f"\n{footer}.\n")
        self.out.close()


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
