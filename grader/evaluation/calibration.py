"""Fitting a grader's raw score to a dataset's scale and labels: pure numpy.

Calibration is the only thing the harness learns per dataset: a monotone map
from raw score to the share of the maximum score (isotonic least squares), and cut
points on the raw score that turn it into ordered classes (an ordinal score
or a label). Cut points start where the predicted classes would have the
training set's class proportions and are then improved one at a time
(coordinate ascent over the observed scores) on the metric that matters for
the task: quadratic weighted kappa for ordinal scores, macro-F1 for labels.

Where a mapping is fitted on answers to the same question as the ones it
predicts (one mapping per question), the grader's raw score is first blended
with the grade those answers predict for it from its similarity to each
(``neighbours``): what a teacher already decided for answers like this one.

Where one mapping serves many questions (global scope, or a question the
training set lacks in a per-question calibration), it may weigh beside the
raw score further evidence the grader cannot weigh alone (``Signals``: the
answer's similarity to the reference, the share of the reference's words it
repeats, how many key terms its card has). For two-class labels a logistic
regression on the fitting items weighs them; otherwise each of the first two
gets a weight chosen on the fitting items out of fold, folds of whole
questions: a dataset whose teachers reward those gets them, one whose
teachers do not keeps the score alone.

``group_folds`` keeps every answer to one question in the same fold, so a
cross-validated figure is always measured on questions the mapping never saw.
A ``FitPlan`` says which items each mapping is fitted on and which it predicts
(``cv_plan``: out of fold; ``train_plan``: from a training set), and
``apply_plan`` fits and applies one mapping per entry to a task.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .metrics import accuracy_from, macro_f1_from, qwk_from
from . import neighbours
from .tasks import Task, TaskPrediction, half_up

FOLDS = 5
# Candidate cut points per coordinate: enough resolution, bounded cost.
MAX_CANDIDATES = 200
MAX_PASSES = 6
# The neighbour grade weighs this much against the grader's own score: 2 beat 1 and 3 on every training split
# once it came from kernel ridge regression (eval/RESULTS.md).
NEIGHBOUR_WEIGHT = 2.0

# A per-question mapping calls a two-class answer the upper class from this estimated probability on: the cut that
# makes fewest errors. 0.45 and 0.55 did no better on the training splits (eval/RESULTS.md).
PROBABILITY_CUT = 0.5

# Weights tried for the first two signals (similarity, reference words repeated): grid points that won on some
# training split. Two-class labels weigh every signal by a logistic regression instead (``logistic_signals``).
SIGNAL_WEIGHTS = ((0.0, 0.0), (0.0, 0.3), (0.0, 0.6), (0.3, 0.0), (0.3, 0.3), (0.3, 0.6), (0.6, 0.6), (1.0, 0.0))
GRID_SIGNALS = 2  # the columns of ``Signals`` the grid weighs: the first two
# The logistic regression's L2 penalty on standardised columns, and its Newton steps (it converges in under ten).
LOGISTIC_PENALTY = 1.0
LOGISTIC_STEPS = 30
# Fewer fitting questions than this choose weights by noise (inner folds of two or three questions): the score stays
# alone. So signals count in global mappings, and in a per-question run for a question the training set lacks (its
# mapping is fitted on all of it), never in one question's own.
MIN_SIGNAL_QUESTIONS = 20
# The inner folds' split: another split chooses other weights where two are close (eval/RESULTS.md gives the spread).
SIGNAL_FOLDS_SEED = 1

# accuracy: for a teacher's own verdicts, where every disagreement costs the same (grader review).
OBJECTIVES: dict[str, Callable[[np.ndarray], np.ndarray]] = {"qwk": qwk_from, "macro_f1": macro_f1_from, "accuracy": accuracy_from}


def group_folds(groups: Sequence[str], folds: int = FOLDS, seed: int = 0) -> np.ndarray:
    """Fold number of each item; all items of a group share a fold.

    Groups are shuffled with a fixed seed and dealt round-robin, so folds hold a
    similar number of questions and the split is the same on every run.
    """
    keys = sorted(set(groups))
    k = max(1, min(folds, len(keys)))
    order = np.random.default_rng(seed).permutation(len(keys))
    fold_of = {keys[j]: i % k for i, j in enumerate(order)}
    return np.array([fold_of[g] for g in groups], dtype=np.intp)


@dataclass(frozen=True)
class IsotonicMap:
    """A non-decreasing, piecewise-linear map through the fitted block means, clipped to ``low..high``."""

    xs: tuple[float, ...]
    ys: tuple[float, ...]
    low: float = 0.0
    high: float = 1.0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.clip(np.interp(np.asarray(x, dtype=float), self.xs, self.ys), self.low, self.high)


def fit_isotonic(x: np.ndarray, y: np.ndarray, low: float = 0.0, high: float = 1.0) -> IsotonicMap:
    """Least-squares non-decreasing fit of y on x (pool adjacent violators).

    Grader scores are rarely linear in the human's (a few matched terms already
    earn most of the marks), and a monotone map keeps the grader's order while
    following that curve. Between fitted blocks the map interpolates linearly.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) == 0:
        return IsotonicMap((0.0,), ((low + high) / 2,), low, high)
    values, inverse = np.unique(x, return_inverse=True)
    weight = np.bincount(inverse).astype(float)
    mean = np.bincount(inverse, weights=y) / weight
    # Blocks as [mean, weight, first x, last x]; merge while a block undercuts the one before it.
    blocks: list[list[float]] = []
    for v, m, w in zip(values, mean, weight):
        blocks.append([m, w, v, v])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, w2, _, last = blocks.pop()
            b = blocks[-1]
            b[0], b[1], b[3] = (b[0] * b[1] + m2 * w2) / (b[1] + w2), b[1] + w2, last
    xs = [p for b in blocks for p in (b[2], b[3])]
    ys = [b[0] for b in blocks for _ in (0, 1)]
    return IsotonicMap(tuple(xs), tuple(ys), low, high)


@dataclass(frozen=True)
class Cuts:
    """Ordered cut points: class ``i`` for scores in ``[cut[i-1], cut[i])``."""

    thresholds: tuple[float, ...]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.searchsorted(np.asarray(self.thresholds), np.asarray(x, dtype=float), side="right")


def _confusions(gold: np.ndarray, preds: np.ndarray, k: int) -> np.ndarray:
    """Confusion matrices of many prediction rows against one gold row."""
    m = preds.shape[0]
    cells = gold[None, :] * k + preds + (np.arange(m) * k * k)[:, None]
    return np.bincount(cells.ravel(), minlength=m * k * k).reshape(m, k, k).astype(float)


def proportion_cuts(x: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """Cut points that give the predicted classes the gold class proportions."""
    shares = np.cumsum(np.bincount(y, minlength=k))[:-1] / len(y)
    return np.quantile(x, shares) if len(x) else np.zeros(k - 1)


def fit_cuts(x: np.ndarray, y: np.ndarray, k: int, objective: str = "qwk") -> Cuts:
    """Cut points on x that best reproduce the ordered classes y (0..k-1)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=np.intp)
    if k < 2:
        return Cuts(())
    if len(x) == 0:
        return Cuts(tuple([0.5] * (k - 1)))
    seen = np.unique(y)
    if len(seen) == 1:
        # Every objective is flat on one grade, and cuts at its proportions put the top fitted scores a class up.
        return Cuts(tuple(-np.inf if j < seen[0] else np.inf for j in range(k - 1)))
    score = OBJECTIVES[objective]
    values = np.unique(x)
    # Cut between observed values (and beyond both ends, to allow an empty class).
    mids = np.r_[values[0] - 1.0, (values[1:] + values[:-1]) / 2, values[-1] + 1.0]
    if len(mids) > MAX_CANDIDATES:
        mids = np.unique(np.quantile(mids, np.linspace(0, 1, MAX_CANDIDATES)))
    cuts = np.sort(proportion_cuts(x, y, k))

    def evaluate(candidates: np.ndarray) -> np.ndarray:
        preds = np.stack([np.searchsorted(c, x, side="right") for c in candidates])
        values = score(_confusions(y, preds, k))
        return np.nan_to_num(values, nan=-np.inf)

    best = float(evaluate(cuts[None, :])[0])
    for _ in range(MAX_PASSES):
        improved = False
        for j in range(k - 1):
            lo = cuts[j - 1] if j > 0 else -np.inf
            hi = cuts[j + 1] if j < k - 2 else np.inf
            options = mids[(mids >= lo) & (mids <= hi)]
            if options.size == 0:
                continue
            candidates = np.repeat(cuts[None, :], options.size, axis=0)
            candidates[:, j] = options
            results = evaluate(candidates)
            i = int(np.argmax(results))
            if results[i] > best + 1e-12:
                best, cuts = float(results[i]), candidates[i]
                improved = True
        if not improved:
            break
    return Cuts(tuple(float(c) for c in cuts))


# --- fitting a task, fold by fold -----------------------------------------------------------


@dataclass
class FitData:
    """What a calibration is fitted on: raw scores and the task's gold for those items."""

    x: np.ndarray
    task: Task
    idx: np.ndarray  # which items of the task


def fit_and_apply(fit: FitData, x: np.ndarray, task: Task, idx: np.ndarray, *, by_probability: bool = False) -> TaskPrediction:
    """Fit a mapping on ``fit`` and apply it to ``x`` (items ``idx`` of ``task``).

    With ``by_probability``, a two-class label is the upper class where the isotonic estimate of its probability is at
    least ``PROBABILITY_CUT``, not beyond a cut point searched for the fitting items' macro-F1: fitted on one question's some 30
    answers, that search follows their noise (eval/RESULTS.md).
    """
    t, xf = fit.task, fit.x
    if task.kind == "score":
        assert t.max_score is not None and task.max_score is not None  # a score task has each answer's maximum
        gold_share = t.gold[fit.idx] / t.max_score[fit.idx]
        mapping = fit_isotonic(xf, gold_share)
        points = mapping(x) * task.max_score[idx]
        ordinal = None
        if task.ordinal:
            ordinal = half_up(points)
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
    if by_probability and k == 2:
        probability = fit_isotonic(xf, (rank_of[gold] == 1).astype(float))(x)
        return TaskPrediction(class_of[(probability >= PROBABILITY_CUT).astype(np.intp)])
    cuts = fit_cuts(xf, rank_of[gold], k, "macro_f1")
    return TaskPrediction(class_of[cuts(x)])


def majority_prediction(fit: FitData, task: Task, idx: np.ndarray) -> TaskPrediction:
    """The majority baseline: the most frequent gold value (share of the maximum, or class) of ``fit``."""
    t = fit.task
    if task.kind == "score":
        assert t.max_score is not None and task.max_score is not None  # a score task has each answer's maximum
        share = Counter(np.round(t.gold[fit.idx] / t.max_score[fit.idx], 6)).most_common(1)[0][0]
        points = np.full(len(idx), share) * task.max_score[idx]
        return TaskPrediction(points, half_up(points) if task.ordinal else None)
    common = Counter(t.gold[fit.idx].tolist()).most_common(1)[0][0]
    return TaskPrediction(np.full(len(idx), common, dtype=np.intp))


FitPlan = list[tuple[np.ndarray, np.ndarray]]  # (items to fit on, items to predict) pairs


def grade_share(task: Task) -> np.ndarray:
    """Each item's gold as a share of the best grade: points over the maximum, or the label's rank
    (unordered labels: correct 1, anything else 0)."""
    if task.kind == "score":
        return task.gold / task.max_score
    if task.ordered:
        return task.gold / max(1, len(task.classes) - 1)
    return (task.gold == task.classes.index("correct")).astype(float) if "correct" in task.classes else np.zeros(len(task.gold))


@dataclass
class GradedAnswers:
    """The answers behind the predicted and the fitting items, by question, for ``neighbours``.

    ``fit_features`` is None when the fitting items are the predicted ones
    (cross-validation). Similarities are computed once per question.
    """

    features: Sequence[Counter[str]]
    questions: np.ndarray
    fit_features: Sequence[Counter[str]] | None
    fit_questions: np.ndarray
    _by_question: dict[str, tuple[np.ndarray, dict[int, int], dict[int, int]]] = field(default_factory=dict)

    def one_question(self, fit_idx: np.ndarray, test: np.ndarray) -> str | None:
        """The question that the fitting and predicted items all answer, if there is one."""
        asked = set(self.questions[test].tolist()) | set(self.fit_questions[fit_idx].tolist())
        return asked.pop() if len(asked) == 1 else None

    def similarities(self, question: str, fit_idx: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Similarities of the fitting items to each other, and of the predicted items to the fitting ones."""
        if question not in self._by_question:
            mine = np.flatnonzero(self.questions == question).tolist()
            if self.fit_features is None:
                theirs, bags = mine, [self.features[i] for i in mine]
                fit_row = row = {i: r for r, i in enumerate(mine)}
            else:
                theirs = np.flatnonzero(self.fit_questions == question).tolist()
                bags = [self.fit_features[i] for i in theirs] + [self.features[i] for i in mine]
                fit_row = {i: r for r, i in enumerate(theirs)}
                row = {i: len(theirs) + r for r, i in enumerate(mine)}
            self._by_question[question] = (neighbours.answer_similarities(bags), fit_row, row)
        matrix, fit_row, row = self._by_question[question]
        fits = [fit_row[i] for i in fit_idx.tolist()]
        return matrix[np.ix_(fits, fits)], matrix[np.ix_([row[i] for i in test.tolist()], fits)]


@dataclass(frozen=True)
class Signals:
    """Evidence beside the grader's raw score, one column per signal (similarity to the reference, share of the
    reference's words repeated, log(1 + the card's key terms)), for the fitting items and the predicted ones, and
    the fitting items' questions."""

    fit: np.ndarray  # (fitting items, signals)
    predicted: np.ndarray  # (predicted items, signals)
    fit_questions: np.ndarray


def with_signals(raw: np.ndarray, signals: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The raw score plus the weighted signals; non-answers keep their rank below every score."""
    return np.where(raw < 0, raw, raw + signals @ weights)


def _agreement(task: Task, idx: np.ndarray, predicted: TaskPrediction) -> float:
    """How well predictions for items ``idx`` agree with the gold: macro-F1 for labels, as their cut points are
    fitted; for scores, minus the squared error of the share of the maximum, which the isotonic map minimises
    (Pearson chose weights by noise on SAF: eval/RESULTS.md)."""
    if task.kind == "label":
        k = len(task.classes)
        return float(np.nan_to_num(macro_f1_from(_confusions(task.gold[idx], np.asarray(predicted.values)[None, :], k))[0]))
    assert task.max_score is not None  # a score task has each answer's maximum
    return -float(np.mean((predicted.values / task.max_score[idx] - task.gold[idx] / task.max_score[idx]) ** 2))


SignalMap = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (raw scores, their signals) -> what the mapping is fitted on


def signal_map(task: Task, fit_idx: np.ndarray, raw: np.ndarray, signals: np.ndarray, questions: np.ndarray) -> SignalMap:
    """How a mapping that serves many questions combines each raw score with its signals, fitted on its fitting items
    (``raw``, ``signals`` and ``questions`` are theirs, rows of ``fit_idx``).

    Two-class labels: the probability a logistic regression gives (``logistic_signals``); on the training splits it
    beat the grid on both SemEval sets' unseen questions over five fold splits (eval/RESULTS.md). Other tasks: the
    raw score plus the first two signals at the grid's weights (``signal_weights``). With fewer than
    ``MIN_SIGNAL_QUESTIONS`` questions the score stays alone. Non-answers keep their rank below every score.
    """
    if len(set(questions.tolist())) < MIN_SIGNAL_QUESTIONS:
        return lambda x, _: x
    if task.kind == "label" and len(task.classes) == 2:
        return logistic_map(logistic_signals(raw, signals, grade_share(task)[fit_idx] >= 0.5))
    weights = signal_weights(task, fit_idx, raw, signals[:, :GRID_SIGNALS], questions)
    return lambda x, s: with_signals(x, s[:, :GRID_SIGNALS], weights)


def _logistic_design(raw: np.ndarray, signals: np.ndarray) -> np.ndarray:
    """The logistic regression's columns: the raw score, each signal, each signal times the raw score (so the share
    of a long reference's terms can count for more than the same share of a short one's), and a constant."""
    x = np.clip(raw, 0.0, None)[:, None]
    return np.column_stack([x, signals, x * signals, np.ones(len(x))])


def logistic_map(weights: np.ndarray) -> SignalMap:
    """The probability the logistic regression with these weights gives each raw score and its signals; non-answers
    keep their rank below every score (a probability is never below 0)."""
    return lambda x, s: np.where(x < 0, x, 1.0 / (1.0 + np.exp(-np.clip(_logistic_design(x, s) @ weights, -30, 30))))


def logistic_signals(raw: np.ndarray, signals: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Weights of an L2-penalised logistic regression of the upper class (``upper``) on ``_logistic_design``, fitted
    by Newton's method on standardised columns (the constant unpenalised) and returned for the columns as given."""
    design = _logistic_design(raw, signals)
    mean, scale = design[:, :-1].mean(axis=0), design[:, :-1].std(axis=0) + 1e-9
    z = np.column_stack([(design[:, :-1] - mean) / scale, np.ones(len(design))])
    penalty = np.diag(np.r_[np.full(z.shape[1] - 1, LOGISTIC_PENALTY), 0.0])
    y = np.asarray(upper, dtype=float)
    w = np.zeros(z.shape[1])
    for _ in range(LOGISTIC_STEPS):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ w, -30, 30)))
        w -= np.linalg.solve((z * (p * (1 - p))[:, None]).T @ z + penalty, z.T @ (p - y) + penalty @ w)
    weights = w[:-1] / scale
    return np.r_[weights, w[-1] - weights @ mean]


def signal_weights(task: Task, fit_idx: np.ndarray, raw: np.ndarray, signals: np.ndarray, questions: np.ndarray) -> np.ndarray:
    """The ``SIGNAL_WEIGHTS`` whose out-of-fold predictions of the fitting items agree best with their gold.

    ``raw``, ``signals`` and ``questions`` are the fitting items' (rows of ``fit_idx``). Ties go to the
    earlier, smaller weights.
    """
    inner = cv_plan(list(questions), "global", seed=SIGNAL_FOLDS_SEED)
    best, chosen = -np.inf, np.zeros(signals.shape[1])
    for weights in map(np.array, SIGNAL_WEIGHTS):
        x = with_signals(raw, signals, weights)
        out = np.empty(len(raw), dtype=float if task.kind == "score" else np.intp)
        for train, test in inner:
            out[test] = fit_and_apply(FitData(x[train], task, fit_idx[train]), x[test], task, fit_idx[test]).values
        agreement = _agreement(task, fit_idx, TaskPrediction(out))
        if agreement > best + 1e-9:
            best, chosen = agreement, weights
    return chosen


def neighbours_voting(scope: str) -> int:
    """How many graded answers a question needs for them to count in a calibration of this scope (0: they never
    do; only per-question mappings have them)."""
    return neighbours.MIN_GRADED if scope == "question" and NEIGHBOUR_WEIGHT else 0


def blend(own: np.ndarray, neighbour: np.ndarray) -> np.ndarray:
    """The grader's raw score blended with the neighbour grade; non-answers keep their rank below every score."""
    return np.where(own < 0, own, (own + NEIGHBOUR_WEIGHT * neighbour) / (1 + NEIGHBOUR_WEIGHT))


def cv_plan(questions: Sequence[str], scope: str, folds: int = 5, seed: int = 0) -> FitPlan:
    """Cross-validation splits of one set.

    ``global``: folds of whole questions, so every prediction is made by a
    mapping that never saw the question. ``question``: a mapping per question,
    fitted on the other folds of that question's answers; a question's lone
    answer gets the mapping of the other questions, as a question the training
    set lacks does. An answer is never fitted on itself: where nothing else is
    left (a single question), its entry fits on nothing and the caller refuses.
    """
    qs = np.asarray(questions, dtype=object)
    plan: FitPlan = []
    if scope == "global":
        fold_of = group_folds(list(questions), folds, seed)
        for f in np.unique(fold_of):
            plan.append((np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f)))
        return plan
    rng = np.random.default_rng(seed)
    for q in dict.fromkeys(questions):
        idx = np.flatnonzero(qs == q)
        k = max(1, min(folds, len(idx)))
        fold_of = np.empty(len(idx), dtype=np.intp)
        fold_of[rng.permutation(len(idx))] = np.arange(len(idx)) % k  # drawn for a lone answer too: later splits stay as they were
        if len(idx) == 1:
            plan.append((np.flatnonzero(qs != q), idx))
            continue
        for f in range(k):
            plan.append((idx[fold_of != f], idx[fold_of == f]))
    return plan


def train_plan(questions: Sequence[str], train_questions: Sequence[str], scope: str) -> FitPlan:
    """Fit on a training set: one mapping, or one per question (all of the training set where it lacks the question)."""
    everything = np.arange(len(train_questions))
    if scope == "global":
        return [(everything, np.arange(len(questions)))]
    qs, tq = np.asarray(questions, dtype=object), np.asarray(train_questions, dtype=object)
    plan: FitPlan = []
    for q in dict.fromkeys(questions):
        fit = np.flatnonzero(tq == q)
        plan.append((fit if fit.size else everything, np.flatnonzero(qs == q)))
    return plan


def apply_plan(
    task: Task,
    x: np.ndarray,
    plan: FitPlan,
    fit_task: Task,
    fit_x: np.ndarray,
    *,
    majority: bool = False,
    answers: GradedAnswers | None = None,
    signals: Signals | None = None,
) -> TaskPrediction:
    """Predictions for every item, each from the mapping its plan entry fits.

    With ``answers``, an entry that fits on at least ``neighbours.MIN_GRADED``
    answers to the predicted items' own question blends each raw score with its
    neighbour grade first, and predicts a two-class label by probability. With
    ``signals``, every other entry combines them with the raw score as
    ``signal_map`` fits on its fitting items.
    """
    n = len(x)
    values = np.zeros(n, dtype=float if task.kind == "score" else np.intp)
    ordinal = np.zeros(n, dtype=np.intp) if task.ordinal else None
    shares = grade_share(fit_task) if answers is not None else None
    for fit_idx, test in plan:
        fit_raw, raw = fit_x[fit_idx], x[test]
        # Too few graded answers predict noise (the seed deck's five or six a card): the score alone decides.
        enough = answers is not None and len(fit_idx) >= neighbours.MIN_GRADED
        question = answers.one_question(fit_idx, test) if answers is not None and enough else None
        one_question = False  # blended with its question's graded answers (a two-class label is then read by probability)
        if answers is not None and shares is not None and question is not None:
            one_question = True
            to_each_other, to_graded = answers.similarities(question, fit_idx, test)
            among, new = neighbours.neighbour_grades(to_each_other, shares[fit_idx], to_graded)
            fit_raw, raw = blend(fit_raw, among), blend(raw, new)
        elif signals is not None and not majority:
            combine = signal_map(fit_task, fit_idx, fit_raw, signals.fit[fit_idx], signals.fit_questions[fit_idx])
            fit_raw, raw = combine(fit_raw, signals.fit[fit_idx]), combine(raw, signals.predicted[test])
        fit = FitData(fit_raw, fit_task, fit_idx)
        pred = majority_prediction(fit, task, test) if majority else fit_and_apply(fit, raw, task, test, by_probability=one_question)
        values[test] = pred.values
        if ordinal is not None:
            assert pred.ordinal is not None  # an ordinal task's predictions are in whole points too
            ordinal[test] = pred.ordinal
    return TaskPrediction(values, ordinal)
