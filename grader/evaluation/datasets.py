"""Human-graded answer sets for evaluation: reading them and turning questions into cards.

Two formats, told apart by their rows (see the README, "Evaluation data"):

* **Dataset rows** (``../shared/datasets/*/train.jsonl``): one JSON object per
  line with ``question``, ``answer`` and at least one human judgement
  (``score``, ``label`` or ``label_2way``); see ``EvalItem``. Each distinct
  ``question_id`` becomes a card whose key terms are the row's ``key_terms`` or,
  without them, are derived from ``reference_answer`` exactly as the core
  derives terms for an unhighlighted card, with document frequencies over all
  the dataset's reference answers. Further acceptable answers in
  ``reference_answers`` become further cards; an answer's best grade counts.
* **Deck rows** (the project's ``eval/seed_*.jsonl``): ``card`` (number or id in
  a deck), ``answer`` and the teacher's ``verdict``; the cards, with their
  highlighted key terms, come from the deck.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..answers import TOO_LONG_NUMBER
from ..decks import bundled_deck, load_deck
from ..errors import InputError
from ..files import has_lone_surrogate, read_text, strings_in
from ..keyterms import clean_term, derive_key_terms, document_frequencies, parse_term
from ..models import Card, Deck, KeyTerm, Verdict
from ..models import ReferenceAnswer as CardReference
from ..normalize import normalize
from ..resources import bundled, missing

# Evaluation sets are big (ASAP-SAS train is 38 MB) but still read whole.
MAX_DATASET_BYTES = 512 * 1024 * 1024

TermDeriver = Callable[[str, Mapping[str, int], int, str], list[KeyTerm]]


class ReferenceAnswer(BaseModel):
    """One of several acceptable answers to a question (SemEval lists up to a dozen)."""

    model_config = ConfigDict(extra="ignore")

    text: str
    category: str | None = None


class EvalItem(BaseModel):
    """One human-graded answer (a line of a dataset file).

    Fields the harness does not use (``rubric``, ``feedback``, ``module``...) are
    ignored, so the shared datasets are read as they are.
    """

    model_config = ConfigDict(extra="ignore")

    dataset: str | None = Field(None, description="Dataset name; defaults to the file's folder name.")
    id: str | None = Field(None, description="Answer id; defaults to FILE:LINE.")
    question_id: str = Field("", description="Groups answers to one question; defaults to the question text.")
    question: str
    reference_answer: str | None = Field(None, description="Model answer the key terms are derived from.")
    reference_answers: list[ReferenceAnswer] | None = Field(
        None, description="Other acceptable answers (text or {text, category}); an answer is graded against each, the best counts."
    )
    answer: str
    # Finite: 1e400 reads as infinity, and a scale without a top broke the run with a traceback.
    score: float | None = Field(None, allow_inf_nan=False, description="Human score in points, 0..max_score.")
    max_score: float | None = Field(None, gt=0, allow_inf_nan=False, description="Top of the score scale for this question.")
    label: str | None = Field(None, description="Human label, e.g. correct / partially_correct / incorrect.")
    label_2way: str | None = Field(None, description="Two-way label: correct / incorrect.")
    key_terms: list[str] | None = Field(None, description="Key terms to grade against, instead of derived ones.")
    score_grader1: float | None = Field(None, allow_inf_nan=False, description="First human's score, when two graded.")
    score_grader2: float | None = Field(None, allow_inf_nan=False, description="Second human's score, when two graded.")
    line: int = 0

    @field_validator("id", "question_id", mode="before")
    @classmethod
    def _text_id(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v

    @field_validator("answer", "question_id", mode="before")
    @classmethod
    def _none_is_empty(cls, v: Any) -> Any:
        return "" if v is None else v

    @field_validator("score", "max_score", "score_grader1", "score_grader2", mode="before")
    @classmethod
    def _no_boolean_points(cls, v: Any) -> Any:
        """``true`` is not a number of points: read as 1, an export's yes/no column passed for a score."""
        if isinstance(v, bool):
            raise ValueError(f"{str(v).lower()} is not a number of points")
        return v

    @field_validator("label", "label_2way", mode="before")
    @classmethod
    def _label_as_written_by_code(cls, v: Any) -> Any:
        """``Correct`` or ``partially correct`` is the class ``correct`` or ``partially_correct``: read as written,
        they became classes of their own, unordered, and the grader's own verdict could not be measured. A blank
        label (an export's empty cell) is no label, not a class named ""."""
        return (re.sub(r"[\s-]+", "_", v.strip()).lower() or None) if isinstance(v, str) else v

    @field_validator("label_2way")
    @classmethod
    def _two_way(cls, v: str | None) -> str | None:
        if v is not None and v not in ("correct", "incorrect"):
            raise ValueError(f"{v!r} is not correct or incorrect")
        return v

    @field_validator("reference_answers", mode="before")
    @classmethod
    def _plain_texts(cls, v: Any) -> Any:
        return [{"text": r} if isinstance(r, str) else r for r in v] if isinstance(v, list) else v

    @model_validator(mode="after")
    def _question_id_or_question(self) -> EvalItem:
        """Answers without a question id are grouped by their question, whether read from a file or made in code."""
        if not self.question_id:
            self.question_id = self.question
        return self

    @model_validator(mode="after")
    def _judged(self) -> EvalItem:
        if self.score is None and self.label is None and self.label_2way is None:
            raise ValueError("row has no human judgement (score, label or label_2way)")
        if self.score is not None:
            if self.max_score is None:
                raise ValueError("row has a score but no max_score")
            if not 0 <= self.score <= self.max_score:
                raise ValueError(f"score {self.score:g} is outside 0..{self.max_score:g}")
        return self


class SeedRow(BaseModel):
    """One row of a deck-based labelled set: which card, the answer, the teacher's verdict."""

    model_config = ConfigDict(extra="ignore")

    card: int | str
    answer: str
    verdict: Verdict

    @field_validator("card", mode="before")
    @classmethod
    def _no_boolean_card(cls, v: Any) -> Any:
        """``true`` is no card: read as 1, it named the deck's first card."""
        if isinstance(v, bool):
            raise ValueError(f"{str(v).lower()} is not a card number or id")
        return v

    @field_validator("answer", mode="before")
    @classmethod
    def _no_answer_is_empty(cls, v: Any) -> Any:
        return "" if v is None else v


@dataclass
class EvalSet:
    """Graded answers and the cards they answer, keyed by question id."""

    path: str
    name: str
    items: list[EvalItem]
    cards: dict[str, Card]
    skipped: list[EvalItem] = field(default_factory=list)
    skipped_questions: list[str] = field(default_factory=list)
    deck: str | None = None  # the deck whose cards the rows name; None: the rows carry their own questions

    @property
    def questions(self) -> int:
        return len({it.question_id for it in self.items})


def default_dataset() -> Path:
    """The project's labelled seed-deck development set."""
    found = bundled("eval/seed_dev.jsonl")
    if found is None:
        raise InputError("the labelled seed set is missing from this installation: give a DATA file", path=missing("eval/seed_dev.jsonl"))
    return found


def read_rows(path: str | Path) -> list[tuple[int, dict]]:
    """JSON objects of a JSON Lines file with their line numbers; a bad line is a one-line error."""
    text = read_text(path, what="dataset", max_bytes=MAX_DATASET_BYTES)
    rows: list[tuple[int, dict]] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            # A first line that is no JSON at all is most often another format (a CSV of labels): say what is read.
            hint = "; a labelled set is JSON Lines, one JSON object a line" if not rows else ""
            raise InputError(f"invalid JSON: {exc.msg} (column {exc.colno}){hint}", path=path, line=number) from None
        except ValueError:  # the only other: an integer longer than Python converts
            raise InputError(TOO_LONG_NUMBER, path=path, line=number) from None
        except RecursionError:  # json recurses per level: "[[[[..." exhausts the stack
            raise InputError("nested too deeply to be a dataset row", path=path, line=number) from None
        if not isinstance(row, dict):
            raise InputError("each line must be a JSON object", path=path, line=number)
        # Read from UTF-8, a lone surrogate can only come from an escape ("\ud800"): rows without one are not walked.
        if "\\ud" in line.lower() and has_lone_surrogate(row):  # its text could not be written to --json or --report
            raise InputError("contains an escaped lone surrogate (like \\ud800), which is not text", path=path, line=number)
        if "\\u0000" in line and any("\0" in text for text in strings_in(row)):  # numpy drops a trailing NUL: "q\0" is "q" there
            raise InputError("contains a NUL character (\\u0000), which is not text", path=path, line=number)
        rows.append((number, row))
    if not rows:
        raise InputError("dataset has no rows", path=path)
    return rows


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    message = err["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def load_eval_set(
    path: str | Path,
    *,
    deck: str | Path | None = None,
    derive: TermDeriver = derive_key_terms,
) -> EvalSet:
    """Read a dataset file or a deck-based labelled set (told apart by the first row)."""
    path = Path(path)
    rows = read_rows(path)
    if "card" in rows[0][1] and "verdict" in rows[0][1]:
        return _load_seed(path, rows, deck)
    items = []
    lines_of: dict[str, int] = {}  # answer id -> its line: runs are compared answer by answer, by id
    for number, row in rows:
        try:
            item = EvalItem.model_validate(row)
        except ValidationError as exc:
            raise InputError(_first_error(exc), path=path, line=number) from None
        if item.id is not None and lines_of.setdefault(item.id, number) != number:
            raise InputError(f"id {item.id!r} is already the id of line {lines_of[item.id]}: each answer needs its own", path=path, line=number)
        items.append(
            item.model_copy(
                update={
                    "line": number,
                    "id": item.id or f"{path.name}:{number}",
                    "dataset": item.dataset or path.parent.name or path.stem,
                }
            )
        )
    name = items[0].dataset or path.stem
    evalset = _with_cards(str(path), name, items, dataset_cards(items, derive))
    evalset.cards = with_reference_answers(items, evalset.cards, derive)
    return evalset


def dataset_cards(items: list[EvalItem], derive: TermDeriver = derive_key_terms) -> dict[str, Card]:
    """One card per question: given key terms, or terms derived from the reference answer.

    Document frequencies run over the reference answers of the whole set, so a
    word every reference uses (``terminal`` in Beetle) weighs little.
    """
    firsts: dict[str, EvalItem] = {}
    for it in items:
        firsts.setdefault(it.question_id, it)
    references = [it.reference_answer or "" for it in firsts.values()]
    doc_freq, n_docs = document_frequencies(references)
    cards = {}
    for number, (qid, it) in enumerate(firsts.items(), start=1):
        if it.key_terms is not None:
            terms = [t for t in (parse_term(clean_term(raw)) for raw in it.key_terms) if t is not None]
        elif it.reference_answer:
            terms = derive(it.reference_answer, doc_freq, n_docs, it.question)
        else:
            terms = []
        cards[qid] = Card(
            id=qid, number=number, question=it.question, answer=it.reference_answer or "", key_terms=terms, line=it.line
        )
    return cards


def with_reference_answers(
    items: list[EvalItem], cards: dict[str, Card], derive: TermDeriver = derive_key_terms
) -> dict[str, Card]:
    """The cards with each question's further reference answers (``Card.reference_answers``), terms derived like
    the first's, so the harness grades them the way ``grader grade`` grades a deck's."""
    firsts: dict[str, EvalItem] = {}
    for it in items:
        firsts.setdefault(it.question_id, it)
    doc_freq, n_docs = document_frequencies(c.answer for c in cards.values())
    out = dict(cards)
    for qid, it in firsts.items():
        card = cards.get(qid)
        if card is None or it.key_terms is not None or not it.reference_answers:
            continue
        seen = {normalize(card.answer)}
        extra = []
        for ref in it.reference_answers:
            if normalize(ref.text) in seen:
                continue
            seen.add(normalize(ref.text))
            terms = derive(ref.text, doc_freq, n_docs, it.question)
            if terms:
                extra.append(CardReference(answer=ref.text, key_terms=terms))
        if extra:
            out[qid] = card.model_copy(update={"reference_answers": extra})
    return out


def _with_cards(path: str, name: str, items: list[EvalItem], cards: dict[str, Card], deck: str | None = None) -> EvalSet:
    """Split off answers to questions with nothing to grade against (no key terms)."""
    keep = [it for it in items if cards[it.question_id].gradable]
    skipped = [it for it in items if not cards[it.question_id].gradable]
    skipped_questions = sorted({it.question_id for it in skipped})
    return EvalSet(
        path=path,
        name=name,
        items=keep,
        cards={q: c for q, c in cards.items() if c.gradable},
        skipped=skipped,
        skipped_questions=skipped_questions,
        deck=deck,
    )


def _load_seed(path: Path, rows: list[tuple[int, dict]], deck_path: str | Path | None) -> EvalSet:
    deck = load_deck(deck_path or bundled_deck())
    by_number = {str(c.number): c for c in deck.cards}
    by_id = {c.id: c for c in deck.cards}
    items = []
    cards: dict[str, Card] = {}
    for number, row in rows:
        try:
            seed = SeedRow.model_validate(row)
        except ValidationError as exc:
            raise InputError(_first_error(exc), path=path, line=number) from None
        card = _seed_card(seed.card, by_number, by_id, deck, path, number)
        cards[card.id] = card
        items.append(
            EvalItem(
                dataset=path.stem,
                id=f"{path.name}:{number}",
                question_id=card.id,
                question=card.question,
                reference_answer=card.answer,
                answer=seed.answer,
                label=seed.verdict.value,
                line=number,
            )
        )
    return _with_cards(str(path), path.stem, items, cards, str(deck.path))


def _seed_card(ref: int | str, by_number: dict, by_id: dict, deck: Deck, path: Path, line: int) -> Card:
    card = by_number.get(str(ref)) or by_id.get(str(ref))
    if card is None:
        raise InputError(f"card {ref!r} is not in {deck.path} ({len(deck.cards)} cards)", path=path, line=line)
    return card


def limit_items(evalset: EvalSet, limit: int | None, seed: int = 0) -> EvalSet:
    """A fixed random sample of ``limit`` answers (in file order), to bound an LLM run's cost."""
    if not limit or limit >= len(evalset.items):
        return evalset
    keep = np.sort(np.random.default_rng(seed).choice(len(evalset.items), size=limit, replace=False))
    items = [evalset.items[i] for i in keep]
    qids = {it.question_id for it in items}
    return EvalSet(
        evalset.path,
        evalset.name,
        items,
        {q: c for q, c in evalset.cards.items() if q in qids},
        evalset.skipped,
        evalset.skipped_questions,
        evalset.deck,
    )
