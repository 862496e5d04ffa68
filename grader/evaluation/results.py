"""The record of an evaluation run: pydantic models of the ``--json`` document, and reading one back.

``EvalRun`` is the stable output of ``grader eval --json`` (schema
``grader-eval/1``): every figure with its bootstrap interval, what the run was
fitted and measured on, and every answer's grade and predictions, so reports
and comparisons can be made again from the saved file alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from ..errors import InputError
from ..files import read_text
from ..models import Verdict

SCHEMA = "grader-eval/1"
# Every system a run can measure, in display order.
SYSTEMS = ("zero_shot", "calibrated", "majority", "length", "overlap", "human")


class Metric(BaseModel):
    """A figure with its bootstrap 95% interval (null when undefined, e.g. Pearson of a constant)."""

    value: float | None
    low: float | None = None
    high: float | None = None


class SystemResult(BaseModel):
    metrics: dict[str, Metric]
    per_class: dict[str, dict[str, Metric]] = Field(default_factory=dict, description="class -> precision/recall")
    confusion: list[list[int]] | None = Field(None, description="rows: human class, columns: predicted class")
    note: str | None = None


class TaskResult(BaseModel):
    name: str
    kind: Literal["score", "label"]
    classes: list[str] = Field(default_factory=list)
    ordered: bool = False
    ordinal: bool = False
    max_score: float | None = None
    normalised: bool = Field(False, description="Score metrics on score / max_score (questions differ in points).")
    systems: dict[str, SystemResult]
    by_question: dict[str, dict[str, dict[str, Metric]]] = Field(
        default_factory=dict, description="question id -> system -> metric (sets of up to 20 questions)"
    )


class DataInfo(BaseModel):
    path: str
    name: str
    items: int
    questions: int
    reference_answers: int = Field(0, description="Further reference answers graded against (best counts).")
    skipped_items: int = 0
    skipped_questions: list[str] = Field(default_factory=list)
    limit: int | None = None
    deck: str | None = Field(None, description="The deck whose cards a labelled set's rows name (null: the rows carry their own questions).")
    question_text: dict[str, str] = Field(default_factory=dict, description="Question id -> text (sets of up to 20 questions).")


class CalibrationInfo(BaseModel):
    mode: Literal["cross-validation", "train"]
    scope: Literal["global", "question"] = Field("global", description="One mapping for the set, or one per question.")
    grouped_by: str | None = Field("question_id", description="Folds keep whole groups of this field together (null: folds of answers).")
    folds: int | None = None
    train_path: str | None = None
    train_items: int | None = None
    neighbours: int = Field(
        0,
        description="Per-question mappings blend the grader's score with the grade that graded answers to the question predict "
        "from their similarity to the answer, where the question has at least this many (0: never).",
    )
    signals: int = Field(
        0,
        description="A mapping fitted on at least this many questions (a global one, or a per-question run's for a question the "
        "training set lacks) adds to the grader's score the answer's similarity to the reference and the share of the "
        "reference's words it repeats, with weights chosen out of fold (0: never).",
    )


class BootstrapInfo(BaseModel):
    resamples: int
    confidence: float
    seed: int
    unit: str = "answer"


class Speed(BaseModel):
    answers: int
    grading_seconds: float
    answers_per_second: float | None
    total_seconds: float | None = None


class Consistency(BaseModel):
    """Agreement of a grader with itself over ``--repeat`` runs."""

    repeats: int
    verdict_agreement: float = Field(description="Share of answers given the same verdict in every run.")
    mean_score_sd: float = Field(description="Mean over answers of the SD of their scores across runs.")
    pairwise_pearson: float | None = Field(description="Mean Pearson r between runs' scores.")


class ItemResult(BaseModel):
    id: str
    question_id: str
    answer: str
    score: float = Field(description="Grader's raw score in [0, 1] (mean over repeats).")
    verdict: Verdict = Field(description="Grader's own verdict (most common over repeats).")
    max_score: float | None = None
    gold: dict[str, float | str] = Field(description="task -> human score or label")
    predicted: dict[str, dict[str, float | str]] = Field(description="task -> zero_shot/calibrated -> prediction")


class EvalRun(BaseModel):
    """Everything one ``grader eval`` measured (the ``--json`` document)."""

    schema_version: str = SCHEMA
    grader: str
    settings: dict[str, Any] = Field(default_factory=dict, description="The grader's settings (thresholds; LLM model).")
    data: DataInfo
    calibration: CalibrationInfo
    bootstrap: BootstrapInfo
    speed: Speed
    consistency: Consistency | None = None
    primary_task: str | None
    notes: list[str] = Field(default_factory=list, description="What the grader reported (LLM outcomes, tokens, cost).")
    tasks: dict[str, TaskResult]
    items: list[ItemResult]



def load_run(path: str | Path) -> EvalRun:
    """A run saved with ``grader eval --json``."""
    text = read_text(path, what="saved run", max_bytes=512 * 1024 * 1024)
    try:
        run = EvalRun.model_validate_json(text)
    except ValidationError as exc:
        err = exc.errors()[0]
        if err["type"] == "json_invalid":
            raise InputError("not a saved run: invalid JSON (save one with grader eval --json)", path=path) from None
        where = ".".join(str(p) for p in err["loc"])
        raise InputError(f"not a saved run ({where + ': ' if where else ''}{err['msg']})", path=path) from None
    if run.schema_version != SCHEMA:  # another version's fields may mean something else: compared as ours, they would mislead
        raise InputError(f"saved run has schema {run.schema_version!r}; this grader reads {SCHEMA!r}", path=path)
    return run

