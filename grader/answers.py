"""Reading answers files (JSON Lines, CSV, YAML) and resolving which card each row answers."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from .errors import AnswersError
from .files import read_text
from .match import find_question
from .models import AnswerRow, Card, Deck
from .normalize import normalize

ANSWER_SUFFIXES = {".jsonl", ".ndjson", ".json", ".csv", ".yaml", ".yml"}


def read_answers(path: str | Path) -> list[AnswerRow]:
    """All rows of an answers file, each with the line it came from."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in ANSWER_SUFFIXES:
        raise AnswersError(
            f"unknown answers format '{suffix or '(none)'}': use .jsonl, .csv or .yaml", path=path
        )
    text = read_text(path, what="answers file")
    if suffix == ".csv":
        raw = _csv_rows(text)
    elif suffix in {".yaml", ".yml"}:
        raw = _yaml_rows(text, path)
    else:
        raw = _json_rows(text, path)
    rows = [_row(data, line, path) for line, data in raw]
    if not rows:
        raise AnswersError("answers file has no rows", path=path, line=1)
    return rows


def _json_rows(text: str, path: Path) -> Iterator[tuple[int, Any]]:
    if text.lstrip().startswith("["):  # a JSON array is accepted too
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise AnswersError(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno) from None
        yield from ((1, item) for item in data)
        return
    for line_no, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            yield line_no, json.loads(line)
        except json.JSONDecodeError as exc:
            raise AnswersError(f"invalid JSON: {exc.msg}", path=path, line=line_no) from None


def _csv_rows(text: str) -> Iterator[tuple[int, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    for row in reader:
        # The reader's line_num is the line where the row ended: right for multi-line cells too.
        yield reader.line_num, {k: v for k, v in row.items() if k is not None}


def _yaml_rows(text: str, path: Path) -> Iterator[tuple[int, Any]]:
    try:
        nodes = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise AnswersError(f"invalid YAML: {getattr(exc, 'problem', exc)}", path=path, line=mark.line + 1 if mark else None) from None
    if isinstance(data, dict) and isinstance(data.get("answers"), list):
        data, nodes = data["answers"], next(v for k, v in nodes.value if k.value == "answers")
    if not isinstance(data, list):
        raise AnswersError("YAML answers must be a list of rows (or a mapping with an 'answers' list)", path=path, line=1)
    yield from ((node.start_mark.line + 1, item) for node, item in zip(nodes.value, data))


_RESERVED = {"card", "question", "answer"}


def _row(data: Any, line: int, path: Path) -> AnswerRow:
    if not isinstance(data, dict):
        raise AnswersError("row is not an object with 'answer' and 'card' or 'question'", path=path, line=line)
    if "answer" not in data:
        raise AnswersError("row has no 'answer' field", path=path, line=line)
    card = data.get("card")
    question = data.get("question")
    if card in (None, "") and question in (None, ""):
        raise AnswersError("row names no card: give 'card' (id or number) or 'question'", path=path, line=line)
    answer = data["answer"]
    return AnswerRow(
        line=line,
        card=None if card in (None, "") else str(card),
        question=None if question in (None, "") else str(question),
        answer="" if answer is None else str(answer),
        extra={k: v for k, v in data.items() if k not in _RESERVED},
    )


def resolve_cards(deck: Deck, rows: list[AnswerRow], path: str | Path) -> list[tuple[AnswerRow, Card]]:
    """The card each row answers: by id, by position (from 1), or by question text."""
    by_id = {card.id: card for card in deck.cards}
    questions = [normalize(card.question) for card in deck.cards]
    return [(row, _resolve(deck, by_id, questions, row, path)) for row in rows]


def _resolve(deck: Deck, by_id: dict[str, Card], questions: list[str], row: AnswerRow, path: str | Path) -> Card:
    if row.card is not None:
        if row.card in by_id:
            return by_id[row.card]
        if row.card.isdigit() and 1 <= int(row.card) <= len(deck.cards):
            return deck.cards[int(row.card) - 1]
        raise AnswersError(
            f"card '{row.card}' is not in {deck.path} (use a card id from 'grader cards' or a number from 1 to {len(deck.cards)})",
            path=path,
            line=row.line,
        )
    index = find_question(questions, row.question or "")
    if index is None:
        raise AnswersError(f"no card in {deck.path} has the question '{_short(row.question or '')}'", path=path, line=row.line)
    return deck.cards[index]


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
