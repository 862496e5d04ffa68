"""An evaluation run: grade a human-graded set, calibrate, and measure every system on every task.

A run grades every answer once per repeat (``graders.grade_set``), then, for
each task the data supports (``tasks.find_tasks``), scores every *system*
against the humans with bootstrap intervals:

* ``zero_shot``: the grader's own score and verdict (``tasks.zero_shot``);
* ``calibrated``: a monotone map and cut points (``calibration``) fitted on
  ``--train`` or, with one file, out of fold by cross-validation grouped by
  question; with ``scope="question"`` one mapping per question, for test sets
  of unseen answers to known questions. Answers the grader calls non-answers
  ("I don't know") are their own level, below every real score;
* baselines, calibrated the same way: ``majority`` (the most frequent training
  value), ``length`` (words in the answer), ``overlap`` (share of the
  reference's content words the answer repeats, exact words only);
* ``human``: the second human grader against the first, where both exist.

The run is a pydantic ``EvalRun`` (``results``).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..errors import InputError
from ..models import Verdict
from ..scoring import GradingSettings
from .calibration import MIN_SIGNAL_QUESTIONS, FitPlan, GradedAnswers, Signals, apply_plan, cv_plan, neighbours_voting, train_plan
from .datasets import EvalItem, EvalSet, limit_items
from .graders import EvalGrader, RawGrades, baseline_scores, grade_set
from .metrics import CONFIDENCE, RESAMPLES, Interval, bootstrap, confusion_matrix, label_statistics, pearson, score_statistics
from .neighbours import answer_features
from .results import (
    BootstrapInfo,
    CalibrationInfo,
    Consistency,
    DataInfo,
    EvalRun,
    ItemResult,
    Metric,
    Speed,
    SystemResult,
    TaskResult,
)
from .tasks import Task, TaskPrediction, find_tasks, half_up, primary_task, zero_shot

# Per-question figures (with intervals) are worth printing only for a few questions (ASAP-SAS has 10).
MAX_QUESTION_BREAKDOWN = 20
HUMAN_NOTE = "second human grader against the first (the others are measured against the gold score)"


def evaluate(
    evalset: EvalSet,
    grader: EvalGrader,
    settings: GradingSettings,
    *,
    train: EvalSet | None = None,
    repeat: int = 1,
    folds: int = 5,
    resamples: int = RESAMPLES,
    seed: int = 0,
    limit: int | None = None,
    scope: Literal["global", "question"] = "global",
    progress: Callable[[int], None] | None = None,
) -> EvalRun:
    """Grade ``evalset`` with ``grader`` and measure every system on every task.

    ``settings`` give a verdict to a grader that returns only a score.
    """
    started = time.perf_counter()
    if not evalset.items:
        raise InputError("no answers left to grade (no question has key terms or a reference answer)", path=evalset.path)
    evalset = limit_items(evalset, limit, seed)
    if train is not None:
        train = limit_items(train, limit, seed)
    tasks = find_tasks(evalset.items, _train_classes(train) if train is not None else None)
    if not tasks:
        raise _no_common_judgement(evalset)
    if train is None:
        _check_cross_validation(evalset, scope)
    graded = grade_set(evalset, grader, settings, repeat=repeat, progress=progress)
    scores, verdicts = graded.scores.mean(axis=0), _modal_verdicts(graded)
    baselines = baseline_scores(evalset)
    if train is None:
        source = cross_validation_source(evalset, graded, baselines, tasks, scope, folds, seed)
    else:
        train_graded = grade_set(train, grader, settings, repeat=repeat, progress=progress)
        source = training_source(evalset, train, train_graded, tasks, scope, graded, baselines)
    question_ids = [it.question_id for it in evalset.items]
    results: dict[str, TaskResult] = {}
    predictions: dict[str, dict[str, TaskPrediction]] = {}
    for name, task in tasks.items():
        predictions[name] = system_predictions(task, scores, verdicts, graded.calibration_input(), baselines, source)
        results[name] = task_result(task, predictions[name], question_ids, resamples, seed)
    items = [_item_result(i, it, scores[i], verdicts[i], tasks, predictions) for i, it in enumerate(evalset.items)]
    return EvalRun(
        grader=grader.name,
        settings=grader.describe() if hasattr(grader, "describe") else {},
        data=_data_info(evalset, limit),
        calibration=source.info,
        bootstrap=BootstrapInfo(resamples=resamples, confidence=CONFIDENCE, seed=seed),
        speed=_speed(graded, len(evalset.items) * repeat, started),
        consistency=_consistency(graded),
        primary_task=primary_task(tasks),
        notes=grader.notes() if hasattr(grader, "notes") else [],
        tasks=results,
        items=items,
    )


# --- what the calibrated systems are fitted on ------------------------------------------------


@dataclass
class FitSource:
    """The items each calibrated system is fitted on: the evaluated set itself (out of fold) or a training set."""

    plan: FitPlan
    info: CalibrationInfo
    tasks: dict[str, Task]  # the fitting items' tasks
    raw: dict[str, np.ndarray]  # system ("grader", "length", "overlap") -> raw scores of the fitting items
    answers: GradedAnswers | None = None  # for the grader's own per-question mappings: graded answers count
    signals: Signals | None = None  # for the grader's own global mapping: evidence beside its score

    def fit(self, task: Task, raw: np.ndarray, system: str, *, majority: bool = False) -> TaskPrediction:
        """Predictions for every evaluated item from ``raw`` scores, each by the mapping its plan entry fits."""
        answers = self.answers if system == "grader" and not majority else None
        signals = self.signals if system == "grader" else None
        return apply_plan(task, raw, self.plan, self.tasks[task.name], self.raw[system], majority=majority, answers=answers, signals=signals)


def signal_columns(evalset: EvalSet, graded: RawGrades, baselines: dict[str, np.ndarray]) -> np.ndarray:
    """What a calibration may weigh beside the grader's score where it serves many questions: the answer's
    similarity to the reference, the share of the reference's words it repeats (the overlap baseline's raw score),
    and log(1 + its card's key terms): a right answer covers a smaller share of a long reference's terms."""
    terms = np.array([math.log1p(len(evalset.cards[it.question_id].key_terms)) for it in evalset.items])
    return np.column_stack([graded.similarity, baselines["overlap"], terms])


def grader_signals(
    evalset: EvalSet,
    graded: RawGrades,
    baselines: dict[str, np.ndarray],
    fitted: EvalSet,
    fitted_graded: RawGrades,
    fitted_baselines: dict[str, np.ndarray],
) -> Signals:
    """The signals of the evaluated answers and of those a calibration is fitted on (``signal_columns``)."""
    fit_questions = np.asarray([it.question_id for it in fitted.items], dtype=object)
    return Signals(signal_columns(fitted, fitted_graded, fitted_baselines), signal_columns(evalset, graded, baselines), fit_questions)


def graded_answers(evalset: EvalSet, fitted: EvalSet, scope: str) -> GradedAnswers | None:
    """What a per-question calibration needs to let graded answers to the same question count."""
    if not neighbours_voting(scope):
        return None
    features = [answer_features(it.answer) for it in evalset.items]
    return GradedAnswers(
        features=features,
        questions=np.array([it.question_id for it in evalset.items], dtype=object),
        fit_features=None if fitted is evalset else [answer_features(it.answer) for it in fitted.items],
        fit_questions=np.array([it.question_id for it in fitted.items], dtype=object),
    )


def cross_validation_source(
    evalset: EvalSet,
    graded: RawGrades,
    baselines: dict[str, np.ndarray],
    tasks: dict[str, Task],
    scope: str,
    folds: int,
    seed: int,
) -> FitSource:
    """Fit out of fold on the evaluated set: folds of whole questions, or of each question's answers."""
    questions = [it.question_id for it in evalset.items]
    info = CalibrationInfo(
        mode="cross-validation",
        scope=scope,
        grouped_by="question_id" if scope == "global" else None,
        folds=min(folds, max(len(set(questions)), 1)) if scope == "global" else folds,
        neighbours=neighbours_voting(scope),
        signals=MIN_SIGNAL_QUESTIONS,
    )
    raw = {"grader": graded.calibration_input(), **baselines}
    signals = grader_signals(evalset, graded, baselines, evalset, graded, baselines)
    return FitSource(cv_plan(questions, scope, folds, seed), info, tasks, raw, graded_answers(evalset, evalset, scope), signals)


def _no_common_judgement(evalset: EvalSet) -> InputError:
    """Rows judged in different ways (a score on one, only a label on another) leave nothing to measure every
    answer on: the first row lacking a judgement the first row has."""
    first = evalset.items[0]
    lacking = min(
        (next(it for it in evalset.items if getattr(it, name) is None).line, name)
        for name in ("score", "label", "label_2way")
        if getattr(first, name) is not None
    )
    line, name = lacking
    return InputError(
        f"no {name}, which line {first.line} has: every answer needs the same kind of human judgement (score, label or label_2way)",
        path=evalset.path,
        line=line,
    )


def _check_cross_validation(evalset: EvalSet, scope: str) -> None:
    """Refuse a set that leaves nothing out of fold to fit on: a calibration fitted on the answers it
    predicts would score them perfectly, under the name of cross-validation."""
    if evalset.questions > 1 or (scope == "question" and len(evalset.items) > 1):
        return
    what = f"{len(evalset.items)} answer{'s' if len(evalset.items) != 1 else ''} to one question"
    hint = "give --train TRAIN.jsonl" if scope == "question" or len(evalset.items) == 1 else "give --train TRAIN.jsonl, or --per-question"
    raise InputError(f"cannot cross-validate the calibration on {what} (nothing else to fit on): {hint}", path=evalset.path)


def training_source(
    evalset: EvalSet, train: EvalSet, train_graded: RawGrades, tasks: dict[str, Task], scope: str, graded: RawGrades, baselines: dict[str, np.ndarray]
) -> FitSource:
    """Fit on a training set, which must have a judgement for every task of the evaluated set."""
    eval_classes = {t.name: set(t.classes) for t in tasks.values() if t.kind == "label"}
    train_tasks = find_tasks(train.items, eval_classes)
    missing = [name for name in tasks if name not in train_tasks]
    if missing:
        raise InputError(f"the training file has no {', '.join(missing)} for every answer", path=train.path)
    info = CalibrationInfo(
        mode="train",
        scope=scope,
        grouped_by=None,
        train_path=train.path,
        train_items=len(train.items),
        neighbours=neighbours_voting(scope),
        signals=MIN_SIGNAL_QUESTIONS,
    )
    plan = train_plan([it.question_id for it in evalset.items], [it.question_id for it in train.items], scope)
    train_baselines = baseline_scores(train)
    raw = {"grader": train_graded.calibration_input(), **train_baselines}
    signals = grader_signals(evalset, graded, baselines, train, train_graded, train_baselines)
    return FitSource(plan, info, train_tasks, raw, graded_answers(evalset, train, scope), signals)


def _train_classes(train: EvalSet) -> dict[str, set[str]]:
    """The training set's label classes, which the evaluated set's tasks must include."""
    classes = {n: {getattr(it, n) for it in train.items} for n in ("label", "label_2way")}
    return {n: v for n, v in classes.items() if None not in v}


# --- predicting and measuring a task ------------------------------------------------------------


def system_predictions(
    task: Task,
    scores: np.ndarray,
    verdicts: list[Verdict],
    raw: np.ndarray,
    baselines: dict[str, np.ndarray],
    source: FitSource,
) -> dict[str, TaskPrediction]:
    """Every system's predictions for the task: zero-shot (when the grader can say it), calibrated, baselines.

    ``scores`` and ``verdicts`` are the grader's own (mean and most common over
    repeats); ``raw`` is what its calibration maps (non-answers ranked lowest).
    """
    preds: dict[str, TaskPrediction] = {}
    zs = zero_shot(task, scores, verdicts)
    if zs is not None:
        preds["zero_shot"] = zs
    preds["calibrated"] = source.fit(task, raw, "grader")
    preds["majority"] = source.fit(task, raw, "grader", majority=True)
    for baseline in ("length", "overlap"):
        preds[baseline] = source.fit(task, baselines[baseline], baseline)
    return preds


def task_result(task: Task, preds: dict[str, TaskPrediction], question_ids: list[str], resamples: int, seed: int) -> TaskResult:
    """Every system measured on the task, the human ceiling, and (for a few questions) figures per question."""
    systems = {s: measure(task, p, resamples=resamples, seed=seed) for s, p in preds.items()}
    if task.human is not None:
        first, second = task.human
        human = TaskPrediction(second, half_up(second) if task.ordinal else None)
        systems["human"] = measure(task, human, gold=first, gold_ordinal=half_up(first), resamples=resamples, seed=seed)
        systems["human"].note = HUMAN_NOTE
    return TaskResult(
        name=task.name,
        kind=task.kind,
        classes=task.classes,
        ordered=task.ordered,
        ordinal=task.ordinal,
        max_score=float(task.max_score.max()) if task.max_score is not None else None,
        normalised=task.normalised,
        systems=systems,
        by_question=_by_question(task, preds, question_ids, resamples, seed),
    )


def _by_question(
    task: Task, preds: dict[str, TaskPrediction], question_ids: list[str], resamples: int, seed: int
) -> dict[str, dict[str, dict[str, Metric]]]:
    """Question id -> system -> metric, for sets of 2 to ``MAX_QUESTION_BREAKDOWN`` questions."""
    distinct = list(dict.fromkeys(question_ids))
    if not 1 < len(distinct) <= MAX_QUESTION_BREAKDOWN:
        return {}
    questions = np.array(question_ids, dtype=object)
    by_question: dict[str, dict[str, dict[str, Metric]]] = {}
    for q in distinct:
        sel = np.flatnonzero(questions == q)
        by_question[q] = {
            s: measure(task, preds[s], resamples=resamples, seed=seed, subset=sel).metrics
            for s in ("zero_shot", "calibrated", "overlap")
            if s in preds
        }
    return by_question


def _metric(iv: Interval) -> Metric:
    return Metric(**iv.as_dict())


def measure(
    task: Task,
    pred: TaskPrediction,
    *,
    gold: np.ndarray | None = None,
    gold_ordinal: np.ndarray | None = None,
    resamples: int = RESAMPLES,
    seed: int = 0,
    subset: np.ndarray | None = None,
) -> SystemResult:
    """Every metric of the task for one system's predictions, with bootstrap intervals."""
    sel = np.arange(len(task.gold)) if subset is None else subset
    if task.kind == "score":
        g, p = (task.gold if gold is None else gold)[sel], pred.values[sel]
        if task.max_score is not None and task.normalised:
            g, p = g / task.max_score[sel], p / task.max_score[sel]
        og = (task.ordinal_gold if gold_ordinal is None else gold_ordinal)
        ordinal_k, ordinal_gold, ordinal_pred = None, None, None
        if task.ordinal and og is not None and pred.ordinal is not None:  # og is set whenever the task is ordinal
            ordinal_k, ordinal_gold, ordinal_pred = task.ordinal_k, og[sel], pred.ordinal[sel]
        stats = score_statistics(g, p, ordinal_k=ordinal_k, ordinal_gold=ordinal_gold, ordinal_pred=ordinal_pred)
        found = bootstrap(stats, len(sel), resamples=resamples, seed=seed)
        return SystemResult(metrics={k: _metric(v) for k, v in found.items()})
    k = len(task.classes)
    g, p = task.gold[sel], pred.values[sel]
    found = bootstrap(
        label_statistics(g, p, k, ordered=task.ordered, class_names=task.classes), len(sel), resamples=resamples, seed=seed
    )
    metrics = {name: _metric(v) for name, v in found.items() if ":" not in name}
    per_class = {
        c: {"precision": _metric(found[f"precision:{c}"]), "recall": _metric(found[f"recall:{c}"])} for c in task.classes
    }
    return SystemResult(metrics=metrics, per_class=per_class, confusion=confusion_matrix(g, p, k).tolist())


# --- the rest of the record -----------------------------------------------------------------------


def _consistency(graded: RawGrades) -> Consistency | None:
    """Agreement of the grader with itself over repeats (None for one run)."""
    k = graded.scores.shape[0]
    if k < 2:
        return None
    same = [len({graded.verdicts[r][i] for r in range(k)}) == 1 for i in range(graded.scores.shape[1])]
    pairs = [pearson(graded.scores[a], graded.scores[b]) for a in range(k) for b in range(a + 1, k)]
    pairs = [p for p in pairs if math.isfinite(p)]
    return Consistency(
        repeats=k,
        verdict_agreement=round(float(np.mean(same)), 6),
        mean_score_sd=round(float(graded.scores.std(axis=0).mean()), 6),
        pairwise_pearson=round(float(np.mean(pairs)), 6) if pairs else None,
    )


def _modal_verdicts(graded: RawGrades) -> list[Verdict]:
    k, n = graded.scores.shape
    return [Counter(graded.verdicts[r][i] for r in range(k)).most_common(1)[0][0] for i in range(n)]


def _data_info(evalset: EvalSet, limit: int | None) -> DataInfo:
    return DataInfo(
        path=evalset.path,
        name=evalset.name,
        items=len(evalset.items),
        questions=evalset.questions,
        reference_answers=sum(len(c.reference_answers) for c in evalset.cards.values()),
        skipped_items=len(evalset.skipped),
        skipped_questions=evalset.skipped_questions,
        limit=limit,
        deck=evalset.deck,
        question_text={q: c.question[:200] for q, c in evalset.cards.items()} if evalset.questions <= MAX_QUESTION_BREAKDOWN else {},
    )


def _speed(graded: RawGrades, answers: int, started: float) -> Speed:
    return Speed(
        answers=answers,
        grading_seconds=round(graded.seconds, 4),
        answers_per_second=round(answers / graded.seconds, 1) if graded.seconds > 0 else None,
        total_seconds=round(time.perf_counter() - started, 3),
    )


def _item_result(
    i: int, it: EvalItem, score: float, verdict: Verdict, tasks: dict[str, Task], preds: dict[str, dict[str, TaskPrediction]]
) -> ItemResult:
    """One answer's grade, gold and zero-shot / calibrated predictions, as the run records them."""
    gold: dict[str, float | str] = {}
    predicted: dict[str, dict[str, float | str]] = {}
    for name, task in tasks.items():
        out: dict[str, float | str] = {}
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
