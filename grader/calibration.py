"""Fitting a grader's raw score to a dataset's scale and labels: pure numpy.

Calibration is the only thing the harness learns per dataset: a monotone map
from raw score to the share of the maximum score (isotonic least squares), and cut
points on the raw score that turn it into ordered classes (an ordinal score
or a label). Cut points start where the predicted classes would have the
training set's class proportions and are then improved one at a time
(coordinate ascent over the observed scores) on the metric that matters for
the task: quadratic weighted kappa for ordinal scores, macro-F1 for labels.

``group_folds`` keeps every answer to one question in the same fold, so a
cross-validated figure is always measured on questions the mapping never saw.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .metrics import macro_f1_from, qwk_from

FOLDS = 5
# Candidate cut points per coordinate: enough resolution, bounded cost.
MAX_CANDIDATES = 200
MAX_PASSES = 6

OBJECTIVES: dict[str, Callable[[np.ndarray], np.ndarray]] = {"qwk": qwk_from, "macro_f1": macro_f1_from}


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
