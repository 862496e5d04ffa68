"""What the humans judged: the tasks a set supports, and the grader's own zero-shot answer to each.

Tasks: ``score`` (points; ordinal when the scale is whole points), ``label``
and ``label_2way``. A score column that only repeats a two-way label (SemEval)
is not a separate task; without labels, scores of two values (0/1 points) are
one. Gold values are numpy arrays: points, or class indices in display order
(ascending when the classes are ordered).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..models import Verdict
from .datasets import EvalItem

KNOWN_ORDERS = (
    ("incorrect", "partial", "correct"),
    ("incorrect", "partially_correct", "correct"),
)


@dataclass
class Task:
    """One thing the humans judged, with gold values as arrays."""

    name: str  # score | label | label_2way
    kind: Literal["score", "label"]
    gold: np.ndarray  # points (score) or class index (label)
    classes: list[str]  # label classes, ascending when ordered
    ordered: bool = False
    max_score: np.ndarray | None = None
    ordinal_gold: np.ndarray | None = None  # whole points, when the scale is ordinal
    human: tuple[np.ndarray, np.ndarray] | None = None  # (first grader, second grader) points

    @property
    def ordinal(self) -> bool:
        return self.ordinal_gold is not None

    @property
    def normalised(self) -> bool:
        """Questions worth different points are compared as shares of their maximum."""
        return self.max_score is not None and bool(np.ptp(self.max_score) > 0)

    @property
    def ordinal_k(self) -> int:
        return int(round(float(self.max_score.max()))) + 1 if self.max_score is not None else 0


@dataclass
class TaskPrediction:
    """A system's predictions for one task: points (+ whole points) or class indices."""

    values: np.ndarray
    ordinal: np.ndarray | None = None


def half_up(x: np.ndarray) -> np.ndarray:
    """Whole points, halves rounded up (numpy's own rounding goes to even)."""
    return np.floor(np.asarray(x, dtype=float) + 0.5).astype(np.intp)


def _all_whole(values: Iterable[float | None]) -> bool:
    return all(v is not None and abs(v - round(v)) < 1e-9 for v in values)


def label_classes(values: set[str]) -> tuple[list[str], bool]:
    """Classes in display order and whether they are ordered (incorrect < partial < correct)."""
    for order in KNOWN_ORDERS:
        if values <= set(order) and "correct" in values:
            return [c for c in order if c in values or c != order[1]], True
    return sorted(values), False


def find_tasks(items: list[EvalItem], classes: dict[str, set[str]] | None = None) -> dict[str, Task]:
    """The tasks every item of the set has a judgement for.

    ``classes`` widens the label sets (with a training file, both sets must
    share class indices).
    """
    tasks: dict[str, Task] = {}
    scores = [it.score for it in items]
    labelled = any(all(getattr(it, name) is not None for it in items) for name in ("label", "label_2way"))
    if all(s is not None for s in scores):
        maxima = np.array([it.max_score for it in items], dtype=float)
        points = np.array(scores, dtype=float)
        shares = set(np.round(points / maxima, 6))
        if len(shares) > 2 or not labelled:  # two values beside a label only repeat it; alone they are the judgement
            ordinal = None
            g1 = [it.score_grader1 for it in items]
            if _all_whole(maxima) and maxima.max() <= 10 and (_all_whole(scores) or _all_whole(g1)):
                ordinal = half_up(points)
            human = None
            g2 = [it.score_grader2 for it in items]
            if all(v is not None for v in g1 + g2):
                human = (np.array(g1, dtype=float), np.array(g2, dtype=float))
            tasks["score"] = Task("score", "score", points, [], max_score=maxima, ordinal_gold=ordinal, human=human)
    for name in ("label", "label_2way"):
        values = [getattr(it, name) for it in items]
        if all(v is not None for v in values):
            names, ordered = label_classes(set(values) | (classes or {}).get(name, set()))
            index = {c: i for i, c in enumerate(names)}
            tasks[name] = Task(name, "label", np.array([index[v] for v in values], dtype=np.intp), names, ordered)
    return tasks


def primary_task(tasks: dict[str, Task]) -> str | None:
    """The task a dataset is known by: two-way labels (SemEval), else scores, else labels."""
    for name in ("label_2way", "score", "label"):
        if name in tasks:
            return name
    return None


def zero_shot(task: Task, score: np.ndarray, verdicts: list[Verdict]) -> TaskPrediction | None:
    """The grader's own answer to the task, untouched by the data (None when it has no way to say it).

    Scores: the grader's score times the question's maximum. Labels: its own
    verdict (``partial`` becomes ``partially_correct`` or ``incorrect``, whichever
    the data has).
    """
    if task.kind == "score":
        points = score * task.max_score
        return TaskPrediction(points, half_up(points) if task.ordinal else None)
    index = {c: i for i, c in enumerate(task.classes)}
    if "correct" not in index or "incorrect" not in index:
        return None
    partial = index.get("partial", index.get("partially_correct", index["incorrect"]))
    mapping = {Verdict.correct: index["correct"], Verdict.partial: partial}
    return TaskPrediction(np.array([mapping.get(v, index["incorrect"]) for v in verdicts], dtype=np.intp))
