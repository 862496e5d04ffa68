"""Batch grading: many answers, graded grouped by card, handed on in input order.

One path for every batch: ``grader grade`` (through ``grade_file``), the
evaluation harness and the benchmark all grade with ``grade_answers``, so the
code that is measured is the code that runs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from .grading import KeywordGrader
from .models import AnswerRow, Card, Deck, Grade
from .writers import GradedAnswer

if TYPE_CHECKING:
    from .llm.client import FeedbackClient

CHUNK_ROWS = 512  # rows graded together: enough to batch per card, few enough to show results as they come


class Writer(Protocol):
    """Where graded answers go, each the moment it is final (JSON Lines, CSV, a report, a table)."""

    def write(self, graded: GradedAnswer) -> None: ...

    def close(self, footer: str | None = None) -> None: ...


def grade_answers(pairs: Iterable[tuple[Card, str]], grader: KeywordGrader, chunk: int = CHUNK_ROWS) -> Iterator[Grade]:
    """Keyword grades of (card, answer) pairs, in input order.

    Pairs are taken ``chunk`` at a time and the answers to each card in a chunk
    are compared in one batch, so a long stream costs one matcher call per card
    and chunk, not per answer, and memory stays bounded.
    """
    batch: list[tuple[Card, str]] = []
    for pair in pairs:
        batch.append(pair)
        if len(batch) >= chunk:
            yield from _grade_chunk(batch, grader)
            batch = []
    if batch:
        yield from _grade_chunk(batch, grader)


def _grade_chunk(pairs: Sequence[tuple[Card, str]], grader: KeywordGrader) -> list[Grade]:
    by_card: dict[str, list[int]] = defaultdict(list)
    cards: dict[str, Card] = {}
    for i, (card, _) in enumerate(pairs):
        key = f"{card.id}\0{card.question}"
        by_card[key].append(i)
        cards.setdefault(key, card)
    grades: list[Grade | None] = [None] * len(pairs)
    for key, rows in by_card.items():
        for i, grade in zip(rows, grader.grade_many(cards[key], [pairs[i][1] for i in rows])):
            grades[i] = grade
    return grades  # type: ignore[return-value]  # every slot was filled above


def grade_rows(
    resolved: Sequence[tuple[AnswerRow, Card]],
    grader: KeywordGrader,
    feedback: FeedbackClient | None = None,
    on_progress: Callable[[], None] | None = None,
) -> Iterator[GradedAnswer]:
    """Graded rows in input order; with a feedback client each also carries its LLM feedback."""
    grades = grade_answers(((card, row.answer) for row, card in resolved), grader)
    if feedback is None:
        for (row, card), grade in zip(resolved, grades):
            yield GradedAnswer(row, card, grade)
        return
    grades = list(grades)
    items = [(card, row.answer, grade) for (row, card), grade in zip(resolved, grades)]
    for (row, card), grade, result in zip(resolved, grades, feedback.iter_feedback(items, on_progress)):
        yield GradedAnswer(row, card, grade, result)


def grade_file(
    deck_path: Path,
    answers_path: Path,
    writers: Callable[[Deck, list[AnswerRow]], list[Writer]],
    grader: KeywordGrader,
    feedback: FeedbackClient | None = None,
    on_start: Callable[[int], None] | None = None,
    on_progress: Callable[[], None] | None = None,
) -> int:
    """Grade a file of answers against a deck, writing each result as soon as it is final; the number graded.

    Every row is read and matched to its card before anything is graded, so a bad
    row stops the run with nothing written. ``writers`` builds the outputs once the
    deck and rows are known (a report names the deck; CSV needs the rows' extra columns). The writers are closed however
    the batch ends, so an interrupted run keeps every whole result it wrote.
    """
    from .answers import read_answers, resolve_cards
    from .decks import load_deck

    deck = load_deck(deck_path)
    rows = read_answers(answers_path)
    resolved = resolve_cards(deck, rows, answers_path)
    outputs = writers(deck, rows)
    if on_start is not None:
        on_start(len(resolved))
    graded_count = 0
    try:
        for graded in grade_rows(resolved, grader, feedback, on_progress):
            for out in outputs:
                out.write(graded)
            graded_count += 1
    finally:
        footer = feedback.totals.summary(feedback.settings.model) if feedback is not None else None
        for out in outputs:
            out.close(footer)
    return graded_count
