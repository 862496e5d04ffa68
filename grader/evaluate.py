"""Evaluation runs: grade a human-graded set, calibrate, and measure agreement.

A run grades every answer once per repeat (answers to one question in one
batch), then, for each task the data supports, scores every *system* against
the humans with bootstrap intervals:

* ``zero_shot``: the grader's own score times the question's maximum, and its
  own verdict for labels (``partial`` becomes ``partially_correct`` or
  ``incorrect``, whichever the data has);
* ``calibrated``: a monotone (isotonic) map and cut points fitted on
  ``--train`` or, with one file, out of fold by cross-validation grouped by
  question; with ``scope="question"`` one mapping per question, for test sets
  of unseen answers to known questions. Answers the grader calls non-answers
  ("I don't know") are their own level, below every real score;
* baselines, calibrated the same way: ``majority`` (the most frequent training
  value), ``length`` (words in the answer), ``overlap`` (share of the
  reference's content words the answer repeats, exact words only);
* ``human``: the second human grader against the first, where both exist.

Tasks: ``score`` (points; its ordinal metrics when the scale is whole points),
``label`` and ``label_2way``. A score column that only repeats a two-way label
(SemEval) is not a separate task. The run is a pydantic ``EvalRun``; its JSON
is the stable ``--json`` output that ``compare_runs`` reads back.

Graders plug in as anything with ``name`` and ``grade(card, answers)``;
``CallableGrader`` adapts a function of one card and one answer, and
``eval_llm.LLMEvalGrader`` wraps the LLM feedback client, so the harness never
needs to know how a score was made.
"""

from __future__ import annotations

import math
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple, Protocol

import numpy as np
from pydantic import BaseModel, Field, ValidationError

from . import metrics as M
from .calibration import Cuts, fit_cuts, fit_isotonic, group_folds
from .datasets import EvalItem, EvalSet
from .errors import InputError
from .files import read_text
from .grading import KeywordGrader
from .models import Card, Grade, Verdict
from .normalize import content_tokens, tokenize
from .scoring import GradingSettings, verdict_for

SCHEMA = "grader-eval/1"
# Where non-answers sit on the raw score axis for calibration: below any real score.
NON_ANSWER_RANK = -1.0
# Per-question figures (with intervals) are worth printing only for a few questions (ASAP-SAS has 10).
MAX_QUESTION_BREAKDOWN = 20
KNOWN_ORDERS = (
    ("incorrect", "partial", "correct"),
    ("incorrect", "partially_correct", "correct"),
)
SYSTEMS = ("zero_shot", "calibrated", "majority", "length", "overlap", "human")


# --- graders ------------------------------------------------------------------------


class Prediction(NamedTuple):
    """What the harness needs from a grader: a score in [0, 1], optionally a verdict,
    and whether the answer was a real attempt (not "I don't know")."""

    score: float
    verdict: Verdict | None = None
    answered: bool = True


class Grader(Protocol):
    name: str

    def grade(self, card: Card, answers: list[str]) -> list[Prediction]: ...


class KeywordEvalGrader:
    """The keyword grader, one batch per question."""

    name = "keyword"

    def __init__(self, settings: GradingSettings | None = None):
        self.grader = KeywordGrader(settings)

    def grade(self, card: Card, answers: list[str]) -> list[Prediction]:
        return [Prediction(g.score, g.verdict, g.answered) for g in self.grader.grade_many(card, answers)]

    def describe(self) -> dict[str, Any]:
        """The settings a run records beside its figures."""
        return self.grader.settings.model_dump()


class CallableGrader:
    """Adapts ``fn(card, answer)`` returning a Grade, a Prediction, a score, or anything with ``.score``.

    ``workers`` > 1 grades the answers of one question concurrently (for a
    grader that waits on the network); results keep the answers' order.
    """

    def __init__(self, fn: Callable[[Card, str], Any], name: str = "custom", workers: int = 1):
        self.fn, self.name, self.workers = fn, name, workers

    def grade(self, card: Card, answers: list[str]) -> list[Prediction]:
        if self.workers > 1 and len(answers) > 1:
            with ThreadPoolExecutor(self.workers) as pool:
                results = list(pool.map(lambda a: self.fn(card, a), answers))
        else:
            results = [self.fn(card, a) for a in answers]
        return [as_prediction(r) for r in results]


def as_prediction(result: Any) -> Prediction:
    """Read a grader's result: the score must be a number in [0, 1]."""
    answered = True
    if isinstance(result, Prediction):
        score, verdict, answered = result
    elif isinstance(result, Grade):
        score, verdict, answered = result.score, result.verdict, result.answered
    elif isinstance(result, int | float) and not isinstance(result, bool):
        score, verdict = float(result), None
    elif hasattr(result, "score"):
        score, verdict = float(result.score), getattr(result, "verdict", None)
    else:
        raise TypeError(f"a grader returned {type(result).__name__}, not a score")
    if not (isinstance(score, int | float) and 0.0 <= score <= 1.0):
        raise ValueError(f"a grader returned score {score!r}, outside [0, 1]")
    if verdict is not None and not isinstance(verdict, Verdict):
        verdict = Verdict(getattr(verdict, "value", verdict))
    return Prediction(float(score), verdict, answered)


@dataclass
class Graded:
    """Raw grader output for every item and repeat."""

    scores: np.ndarray  # (repeats, items)
    verdicts: list[list[Verdict]]  # [repeat][item]
    seconds: float
    answered: np.ndarray  # (items,) False where the grader saw a non-answer every time

    def calibration_input(self) -> np.ndarray:
        """Mean score per item, with non-answers ranked below every real attempt.

        A wrong answer and "I don't know" both score 0, but humans give the
        first some marks and the second none; a calibrated map can only tell
        them apart if they do not share a raw value.
        """
        return np.where(self.answered, self.scores.mean(axis=0), NON_ANSWER_RANK)


def grade_set(
    evalset: EvalSet, grader: Grader, *, repeat: int = 1, progress: Callable[[int], None] | None = None
) -> Graded:
    """Grade every answer ``repeat`` times, one batch per question and reference answer.

    A question with several reference answers is graded against each and the
    best grade counts, unless the grader says otherwise (``best_of_references``).
    """
    groups: dict[str, list[int]] = defaultdict(list)
    for i, it in enumerate(evalset.items):
        groups[it.question_id].append(i)
    n = len(evalset.items)
    scores = np.zeros((repeat, n))
    answered = np.zeros(n, dtype=bool)
    verdicts: list[list[Verdict]] = [[Verdict.incorrect] * n for _ in range(repeat)]
    default = GradingSettings()
    start = time.perf_counter()
    several = getattr(grader, "best_of_references", True)
    for r in range(repeat):
        for qid, idx in groups.items():
            answers = [evalset.items[i].answer for i in idx]
            preds: list[Prediction] = []
            for card in [evalset.cards[qid], *(evalset.alternatives.get(qid, []) if several else [])]:
                these = grader.grade(card, answers)
                if len(these) != len(idx):
                    raise ValueError(f"grader {grader.name} returned {len(these)} results for {len(idx)} answers")
                # The best grade over the acceptable answers counts (the first on a tie).
                preds = [max(a, b, key=lambda p: p.score) for a, b in zip(preds, these)] if preds else these
            for i, p in zip(idx, preds):
                scores[r, i] = p.score
                answered[i] |= p.answered
                verdicts[r][i] = p.verdict or verdict_for(p.score, default)
            if progress:
                progress(len(idx))
    return Graded(scores, verdicts, time.perf_counter() - start, answered)


# --- baselines ------------------------------------------------------------------------


def answer_length(answer: str) -> float:
    """Words in the answer: the baseline every grader must beat."""
    return float(len(tokenize(answer)))


def word_overlap(answer: str, reference: str) -> float:
    """Share of the reference's distinct content words the answer repeats exactly (no fuzz, no stems)."""
    ref = {t.word for t in content_tokens(reference)}
    if not ref:
        return 0.0
    return len(ref & {t.word for t in content_tokens(answer)}) / len(ref)


# --- tasks ------------------------------------------------------------------------------


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


def _half_up(x: np.ndarray) -> np.ndarray:
    return np.floor(np.asarray(x, dtype=float) + 0.5).astype(np.intp)


def _whole(values: Sequence[float | None]) -> bool:
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
    if all(s is not None for s in scores):
        maxima = np.array([it.max_score for it in items], dtype=float)
        points = np.array(scores, dtype=float)
        shares = set(np.round(points / maxima, 6))
        if len(shares) > 2:
            ordinal = None
            g1 = [it.score_grader1 for it in items]
            if _whole(maxima) and maxima.max() <= 10 and (_whole(scores) or _whole(g1)):
                ordinal = _half_up(points)
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


# --- predictions ------------------------------------------------------------------------


@dataclass
class TaskPrediction:
    """A system's predictions for one task: points (+ whole points) or class indices."""

    values: np.ndarray
    ordinal: np.ndarray | None = None


def zero_shot(task: Task, score: np.ndarray, verdicts: list[Verdict]) -> TaskPrediction | None:
    """The grader's own answer to the task, untouched by the data (None when it has no way to say it)."""
    if task.kind == "score":
        points = score * task.max_score
        return TaskPrediction(points, _half_up(points) if task.ordinal else None)
    index = {c: i for i, c in enumerate(task.classes)}
    if "correct" not in index or "incorrect" not in index:
        return None
    partial = index.get("partial", index.get("partially_correct", index["incorrect"]))
    mapping = {Verdict.correct: index["correct"], Verdict.partial: partial}
    return TaskPrediction(np.array([mapping.get(v, index["incorrect"]) for v in verdicts], dtype=np.intp))


@dataclass
class FitData:
    """What a calibration is fitted on: raw scores and the task's gold for those items."""

    x: np.ndarray
    task: Task
    idx: np.ndarray  # which items of the task


def _fit_apply(fit: FitData, x: np.ndarray, task: Task, idx: np.ndarray) -> TaskPrediction:
    """Fit a mapping on ``fit`` and apply it to ``x`` (items ``idx`` of ``task``)."""
    t, xf = fit.task, fit.x
    if task.kind == "score":
        gold_share = t.gold[fit.idx] / t.max_score[fit.idx]
        mapping = fit_isotonic(xf, gold_share)
        points = mapping(x) * task.max_score[idx]
        ordinal = None
        if task.ordinal:
            ordinal = _half_up(points)
            fit_max, apply_max = t.max_score[fit.idx], task.max_score[idx]
            for m in np.unique(apply_max):
                here, there = apply_max == m, fit_max == m
                if there.any() and t.ordinal_gold is not None:
                    cuts = fit_cuts(xf[there], t.ordinal_gold[fit.idx][there], int(round(m)) + 1, "qwk")
                    ordinal[here] = cuts(x[here])
        return TaskPrediction(points, ordinal)
    k = len(task.classes)
    gold = t.gold[fit.idx]
    if task.ordered:
        rank_of = np.arange(k)
    else:
        # Unordered labels (SemEval's contradictory vs incorrect) are ordered by
        # how highly the grader scores them in the fitting data.
        means = np.array([xf[gold == c].mean() if (gold == c).any() else -np.inf for c in range(k)])
        rank_of = np.argsort(np.argsort(means, kind="stable"), kind="stable")
    class_of = np.argsort(rank_of)
    cuts: Cuts = fit_cuts(xf, rank_of[gold], k, "macro_f1")
    return TaskPrediction(class_of[cuts(x)])


def _majority(fit: FitData, task: Task, idx: np.ndarray) -> TaskPrediction:
    t = fit.task
    if task.kind == "score":
        share = Counter(np.round(t.gold[fit.idx] / t.max_score[fit.idx], 6)).most_common(1)[0][0]
        points = np.full(len(idx), share) * task.max_score[idx]
        return TaskPrediction(points, _half_up(points) if task.ordinal else None)
    common = Counter(t.gold[fit.idx].tolist()).most_common(1)[0][0]
    return TaskPrediction(np.full(len(idx), common, dtype=np.intp))


Plan = list[tuple[np.ndarray, np.ndarray]]  # (items to fit on, items to predict) pairs


def cv_plan(questions: Sequence[str], scope: str, folds: int = 5, seed: int = 0) -> Plan:
    """Cross-validation splits of one set.

    ``global``: folds of whole questions, so every prediction is made by a
    mapping that never saw the question. ``question``: a mapping per question,
    fitted on the other folds of that question's answers.
    """
    qs = np.asarray(questions, dtype=object)
    plan: Plan = []
    if scope == "global":
        fold_of = group_folds(list(questions), folds, seed)
        for f in np.unique(fold_of):
            test, train = np.flatnonzero(fold_of == f), np.flatnonzero(fold_of != f)
            plan.append((train if train.size else test, test))
        return plan
    rng = np.random.default_rng(seed)
    for q in dict.fromkeys(questions):
        idx = np.flatnonzero(qs == q)
        k = max(1, min(folds, len(idx)))
        fold_of = np.empty(len(idx), dtype=np.intp)
        fold_of[rng.permutation(len(idx))] = np.arange(len(idx)) % k
        for f in range(k):
            test, train = idx[fold_of == f], idx[fold_of != f]
            plan.append((train if train.size else test, test))
    return plan


def train_plan(questions: Sequence[str], train_questions: Sequence[str], scope: str) -> Plan:
    """Fit on a training set: one mapping, or one per question (all of the training set where it lacks the question)."""
    everything = np.arange(len(train_questions))
    if scope == "global":
        return [(everything, np.arange(len(questions)))]
    qs, tq = np.asarray(questions, dtype=object), np.asarray(train_questions, dtype=object)
    plan: Plan = []
    for q in dict.fromkeys(questions):
        fit = np.flatnonzero(tq == q)
        plan.append((fit if fit.size else everything, np.flatnonzero(qs == q)))
    return plan


def apply_plan(task: Task, x: np.ndarray, plan: Plan, fit_task: Task, fit_x: np.ndarray, *, majority: bool = False) -> TaskPrediction:
    """Predictions for every item, each from the mapping its plan entry fits."""
    n = len(x)
    values = np.zeros(n, dtype=float if task.kind == "score" else np.intp)
    ordinal = np.zeros(n, dtype=np.intp) if task.ordinal else None
    for fit_idx, test in plan:
        fit = FitData(fit_x[fit_idx], fit_task, fit_idx)
        pred = _majority(fit, task, test) if majority else _fit_apply(fit, x[test], task, test)
        values[test] = pred.values
        if ordinal is not None:
            ordinal[test] = pred.ordinal
    return TaskPrediction(values, ordinal)


# --- results (the --json schema) ---------------------------------------------------------


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
    question_text: dict[str, str] = Field(default_factory=dict, description="Question id -> text (sets of up to 20 questions).")


class CalibrationInfo(BaseModel):
    mode: Literal["cross-validation", "train"]
    scope: Literal["global", "question"] = Field("global", description="One mapping for the set, or one per question.")
    grouped_by: str | None = Field("question_id", description="Folds keep whole groups of this field together (null: folds of answers).")
    folds: int | None = None
    train_path: str | None = None
    train_items: int | None = None


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


# --- measuring ----------------------------------------------------------------------------


def _metric(iv: M.Interval) -> Metric:
    return Metric(**iv.as_dict())


def measure(
    task: Task,
    pred: TaskPrediction,
    *,
    gold: np.ndarray | None = None,
    gold_ordinal: np.ndarray | None = None,
    resamples: int = M.RESAMPLES,
    seed: int = 0,
    subset: np.ndarray | None = None,
) -> SystemResult:
    """Every metric of the task for one system's predictions, with bootstrap intervals."""
    sel = np.arange(len(task.gold)) if subset is None else subset
    if task.kind == "score":
        g, p = (task.gold if gold is None else gold)[sel], pred.values[sel]
        if task.normalised:
            g, p = g / task.max_score[sel], p / task.max_score[sel]
        ordinal = task.ordinal and pred.ordinal is not None
        og = (task.ordinal_gold if gold_ordinal is None else gold_ordinal)
        stats = M.score_statistics(
            g,
            p,
            ordinal_k=task.ordinal_k if ordinal else None,
            ordinal_gold=og[sel] if ordinal else None,
            ordinal_pred=pred.ordinal[sel] if ordinal else None,
        )
        found = M.bootstrap(stats, len(sel), resamples=resamples, seed=seed)
        return SystemResult(metrics={k: _metric(v) for k, v in found.items()})
    k = len(task.classes)
    g, p = task.gold[sel], pred.values[sel]
    found = M.bootstrap(
        M.label_statistics(g, p, k, ordered=task.ordered, class_names=task.classes), len(sel), resamples=resamples, seed=seed
    )
    metrics = {name: _metric(v) for name, v in found.items() if ":" not in name}
    per_class = {
        c: {"precision": _metric(found[f"precision:{c}"]), "recall": _metric(found[f"recall:{c}"])} for c in task.classes
    }
    return SystemResult(metrics=metrics, per_class=per_class, confusion=M.confusion_matrix(g, p, k).tolist())


def _consistency(graded: Graded) -> Consistency | None:
    k = graded.scores.shape[0]
    if k < 2:
        return None
    same = [len({graded.verdicts[r][i] for r in range(k)}) == 1 for i in range(graded.scores.shape[1])]
    pairs = [M.pearson(graded.scores[a], graded.scores[b]) for a in range(k) for b in range(a + 1, k)]
    pairs = [p for p in pairs if math.isfinite(p)]
    return Consistency(
        repeats=k,
        verdict_agreement=round(float(np.mean(same)), 6),
        mean_score_sd=round(float(graded.scores.std(axis=0).mean()), 6),
        pairwise_pearson=round(float(np.mean(pairs)), 6) if pairs else None,
    )


def _modal_verdicts(graded: Graded) -> list[Verdict]:
    k, n = graded.scores.shape
    return [Counter(graded.verdicts[r][i] for r in range(k)).most_common(1)[0][0] for i in range(n)]


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
        {q: c for q, c in evalset.alternatives.items() if q in qids},
        evalset.skipped,
        evalset.skipped_questions,
    )


def baseline_scores(evalset: EvalSet) -> dict[str, np.ndarray]:
    """Raw scores of the calibrated baselines (overlap: the best over the question's reference answers)."""
    references = {
        q: [c.answer for c in [card, *evalset.alternatives.get(q, [])]] for q, card in evalset.cards.items()
    }
    return {
        "length": np.array([answer_length(it.answer) for it in evalset.items]),
        "overlap": np.array(
            [max(word_overlap(it.answer, ref) for ref in references[it.question_id]) for it in evalset.items]
        ),
    }


def evaluate(
    evalset: EvalSet,
    grader: Grader,
    *,
    train: EvalSet | None = None,
    repeat: int = 1,
    folds: int = 5,
    resamples: int = M.RESAMPLES,
    seed: int = 0,
    limit: int | None = None,
    scope: Literal["global", "question"] = "global",
    progress: Callable[[int], None] | None = None,
) -> EvalRun:
    """Grade ``evalset`` with ``grader`` and measure every system on every task."""
    started = time.perf_counter()
    if not evalset.items:
        raise InputError("no answers left to grade (no question has key terms or a reference answer)", path=evalset.path)
    evalset = limit_items(evalset, limit, seed)
    graded = grade_set(evalset, grader, repeat=repeat, progress=progress)
    x = graded.scores.mean(axis=0)
    x_fit = graded.calibration_input()
    verdicts = _modal_verdicts(graded)
    base = baseline_scores(evalset)

    train_classes = None
    fit_graded = fit_base = None
    if train is not None:
        train = limit_items(train, limit, seed)
        fit_graded = grade_set(train, grader, repeat=repeat, progress=progress).calibration_input()
        fit_base = baseline_scores(train)
        train_classes = {n: {getattr(it, n) for it in train.items} for n in ("label", "label_2way")}
    tasks = find_tasks(evalset.items, {n: v for n, v in (train_classes or {}).items() if None not in v})
    if train is not None:
        eval_classes = {t.name: set(t.classes) for t in tasks.values() if t.kind == "label"}
        train_tasks = find_tasks(train.items, eval_classes)
        missing = [name for name in tasks if name not in train_tasks]
        if missing:
            raise InputError(f"the training file has no {', '.join(missing)} for every answer", path=train.path)
        calibration = CalibrationInfo(mode="train", scope=scope, grouped_by=None, train_path=train.path, train_items=len(train.items))
        plan = train_plan([it.question_id for it in evalset.items], [it.question_id for it in train.items], scope)
    else:
        plan = cv_plan([it.question_id for it in evalset.items], scope, folds, seed)
        calibration = CalibrationInfo(
            mode="cross-validation",
            scope=scope,
            grouped_by="question_id" if scope == "global" else None,
            folds=min(folds, max(len(set(it.question_id for it in evalset.items)), 1)) if scope == "global" else folds,
        )

    def fitted(task: Task, raw: np.ndarray, raw_train: np.ndarray | None, majority: bool = False) -> TaskPrediction:
        if train is None:
            return apply_plan(task, raw, plan, task, raw, majority=majority)
        return apply_plan(task, raw, plan, train_tasks[task.name], raw_train, majority=majority)

    results: dict[str, TaskResult] = {}
    task_predictions: dict[str, dict[str, TaskPrediction]] = {}
    for name, task in tasks.items():
        preds: dict[str, TaskPrediction] = {}
        zs = zero_shot(task, x, verdicts)
        if zs is not None:
            preds["zero_shot"] = zs
        preds["calibrated"] = fitted(task, x_fit, fit_graded)
        preds["majority"] = fitted(task, x_fit, fit_graded, majority=True)
        for b in ("length", "overlap"):
            preds[b] = fitted(task, base[b], fit_base[b] if fit_base else None)
        systems = {s: measure(task, p, resamples=resamples, seed=seed) for s, p in preds.items()}
        if task.human is not None:
            first, second = task.human
            human = TaskPrediction(second, _half_up(second) if task.ordinal else None)
            systems["human"] = measure(
                task, human, gold=first, gold_ordinal=_half_up(first), resamples=resamples, seed=seed
            )
            systems["human"].note = "second human grader against the first (the others are measured against the gold score)"
        by_question = {}
        qids = [it.question_id for it in evalset.items]
        distinct = list(dict.fromkeys(qids))
        if 1 < len(distinct) <= MAX_QUESTION_BREAKDOWN:
            qarr = np.array(qids, dtype=object)
            for q in distinct:
                sel = np.flatnonzero(qarr == q)
                by_question[q] = {
                    s: measure(task, preds[s], resamples=resamples, seed=seed, subset=sel).metrics
                    for s in ("zero_shot", "calibrated", "overlap")
                    if s in preds
                }
        results[name] = TaskResult(
            name=name,
            kind=task.kind,
            classes=task.classes,
            ordered=task.ordered,
            ordinal=task.ordinal,
            max_score=float(task.max_score.max()) if task.max_score is not None else None,
            normalised=task.normalised,
            systems=systems,
            by_question=by_question,
        )
        task_predictions[name] = preds

    items = [
        _item_result(i, it, x[i], verdicts[i], tasks, task_predictions) for i, it in enumerate(evalset.items)
    ]
    n_graded = len(evalset.items) * repeat
    return EvalRun(
        grader=grader.name,
        settings=grader.describe() if hasattr(grader, "describe") else {},
        data=DataInfo(
            path=evalset.path,
            name=evalset.name,
            items=len(evalset.items),
            questions=evalset.questions,
            reference_answers=sum(map(len, evalset.alternatives.values())) if getattr(grader, "best_of_references", True) else 0,
            skipped_items=len(evalset.skipped),
            skipped_questions=evalset.skipped_questions,
            limit=limit,
            question_text={q: c.question[:200] for q, c in evalset.cards.items()} if evalset.questions <= MAX_QUESTION_BREAKDOWN else {},
        ),
        calibration=calibration,
        bootstrap=BootstrapInfo(resamples=resamples, confidence=M.CONFIDENCE, seed=seed),
        speed=Speed(
            answers=n_graded,
            grading_seconds=round(graded.seconds, 4),
            answers_per_second=round(n_graded / graded.seconds, 1) if graded.seconds > 0 else None,
            total_seconds=round(time.perf_counter() - started, 3),
        ),
        consistency=_consistency(graded),
        primary_task=primary_task(tasks),
        notes=grader.notes() if hasattr(grader, "notes") else [],
        tasks=results,
        items=items,
    )


def _item_result(i, it: EvalItem, score, verdict, tasks: dict[str, Task], preds) -> ItemResult:
    gold: dict[str, float | str] = {}
    predicted: dict[str, dict[str, float | str]] = {}
    for name, task in tasks.items():
        out = {}
        for system in ("zero_shot", "calibrated"):
            p = preds[name].get(system)
            if p is None:
                continue
            if task.kind == "score":
                out[system] = round(float(p.values[i]), 4)
                if p.ordinal is not None:
                    out[f"{system}_points"] = int(p.ordinal[i])
            else:
                out[system] = task.classes[int(p.values[i])]
        predicted[name] = out
        gold[name] = float(task.gold[i]) if task.kind == "score" else task.classes[int(task.gold[i])]
    return ItemResult(
        id=it.id,
        question_id=it.question_id,
        answer=it.answer,
        score=round(float(score), 4),
        verdict=verdict,
        max_score=it.max_score,
        gold=gold,
        predicted=predicted,
    )


# --- saved runs ------------------------------------------------------------------------------


def load_run(path: str | Path) -> EvalRun:
    """A run saved with ``grader eval --json``."""
    text = read_text(path, what="saved run", max_bytes=512 * 1024 * 1024)
    try:
        return EvalRun.model_validate_json(text)
    except ValidationError as exc:
        err = exc.errors()[0]
        if err["type"] == "json_invalid":
            raise InputError("not a saved run: invalid JSON (save one with grader eval --json)", path=path) from None
        where = ".".join(str(p) for p in err["loc"])
        raise InputError(f"not a saved run ({where}: {err['msg']})", path=path) from None


class MetricDelta(BaseModel):
    task: str
    system: str
    metric: str
    a: float | None
    b: float | None
    delta: float | None


class Flip(BaseModel):
    id: str
    question_id: str
    answer: str
    gold: float | str | None
    verdict_a: Verdict
    verdict_b: Verdict
    score_a: float
    score_b: float
    predicted_a: float | str | None
    predicted_b: float | str | None


class Comparison(BaseModel):
    """What changed between two saved runs of the same data."""

    a: str
    b: str
    same_data: bool
    primary_task: str | None
    deltas: list[MetricDelta]
    flips: list[Flip] = Field(description="Answers whose verdict or calibrated prediction changed.")
    only_in_a: int
    only_in_b: int


def compare_runs(a: EvalRun, b: EvalRun, *, a_name: str = "A", b_name: str = "B") -> Comparison:
    """Metric deltas (B minus A) and the answers whose verdict flipped."""
    deltas = []
    for tname, ta in a.tasks.items():
        tb = b.tasks.get(tname)
        if tb is None:
            continue
        for sname in SYSTEMS:
            sa, sb = ta.systems.get(sname), tb.systems.get(sname)
            if sa is None or sb is None:
                continue
            for mname, ma in sa.metrics.items():
                mb = sb.metrics.get(mname)
                if mb is None:
                    continue
                delta = mb.value - ma.value if ma.value is not None and mb.value is not None else None
                deltas.append(MetricDelta(task=tname, system=sname, metric=mname, a=ma.value, b=mb.value, delta=None if delta is None else round(delta, 6)))
    task = a.primary_task if a.primary_task == b.primary_task else None
    b_items = {it.id: it for it in b.items}
    flips = []
    for ia in a.items:
        ib = b_items.get(ia.id)
        if ib is None:
            continue
        pa = ia.predicted.get(task, {}).get("calibrated") if task else None
        pb = ib.predicted.get(task, {}).get("calibrated") if task else None
        if ia.verdict != ib.verdict or pa != pb:
            flips.append(
                Flip(
                    id=ia.id,
                    question_id=ia.question_id,
                    answer=ia.answer,
                    gold=ia.gold.get(task) if task else None,
                    verdict_a=ia.verdict,
                    verdict_b=ib.verdict,
                    score_a=ia.score,
                    score_b=ib.score,
                    predicted_a=pa,
                    predicted_b=pb,
                )
            )
    a_ids = {it.id for it in a.items}
    return Comparison(
        a=a_name,
        b=b_name,
        same_data=a.data.path == b.data.path and a.data.items == b.data.items,
        primary_task=task,
        deltas=deltas,
        flips=flips,
        only_in_a=len(a_ids - b_items.keys()),
        only_in_b=len(b_items.keys() - a_ids),
    )
