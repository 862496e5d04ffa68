"""Agreement metrics and their bootstrap intervals: pure numpy, no I/O.

Every metric is written once, for a matrix of item weights ``W`` of shape
(resamples, items): row ``b`` holds how many times each item was drawn in
bootstrap resample ``b``. The point estimate is the same function with one row
of ones. So the estimate and its interval can never disagree on a definition,
and a thousand resamples cost a few matrix products instead of a Python loop.

Definitions follow the usual references (scipy.stats, scikit-learn):

* Spearman's rho is Pearson's r of mid-ranks (ties share their average rank).
* Macro-F1 averages over the classes present in the gold or predicted labels
  of the sample; a class with no prediction has precision 0 (scikit-learn's
  ``zero_division=0``).
* Cohen's and quadratic weighted kappa are ``nan`` when chance agreement is
  total (every item in one class), as in scikit-learn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

RESAMPLES = 1000
CONFIDENCE = 0.95
# Rows of weights built at a time: bounds memory at about CHUNK * items * 8 bytes.
CHUNK = 100


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap percentile interval."""

    value: float
    low: float
    high: float

    def as_dict(self) -> dict[str, float | None]:
        return {"value": _finite(self.value), "low": _finite(self.low), "high": _finite(self.high)}


def _finite(x: float) -> float | None:
    """JSON has no NaN: an undefined metric is written as null."""
    return None if not np.isfinite(x) else round(float(x), 6)


# --- weighted moments ------------------------------------------------------------


def _mean(W: np.ndarray, x: np.ndarray) -> np.ndarray:
    return (W @ x) / W.sum(axis=1)


def _pearson(W: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    total = W.sum(axis=1)
    mx, my = (W @ x) / total, (W @ y) / total
    sxy = (W @ (x * y)) / total - mx * my
    sxx = (W @ (x * x)) / total - mx * mx
    syy = (W @ (y * y)) / total - my * my
    with np.errstate(invalid="ignore", divide="ignore"):
        r = sxy / np.sqrt(sxx * syy)
    # A constant sample has no correlation; rounding can leave a tiny variance.
    r[(sxx <= 1e-12 * np.maximum(1.0, mx * mx)) | (syy <= 1e-12 * np.maximum(1.0, my * my))] = np.nan
    return np.clip(r, -1.0, 1.0)


def _midranks(W: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Mid-rank of every item within each weighted sample (ties share their mean rank)."""
    order = np.argsort(x, kind="stable")
    xs = x[order]
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    ends = np.r_[starts[1:], len(xs)] - 1
    cum = np.cumsum(W[:, order], axis=1)
    below = np.where(starts > 0, cum[:, np.maximum(starts - 1, 0)], 0.0)
    ties = cum[:, ends] - below
    group_rank = below + (ties + 1) / 2
    group_of_sorted = np.repeat(np.arange(len(starts)), ends - starts + 1)
    ranks = np.empty_like(W, dtype=float)
    ranks[:, order] = group_rank[:, group_of_sorted]
    return ranks


def _spearman(W: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    rx, ry = _midranks(W, x), _midranks(W, y)
    total = W.sum(axis=1)
    mx, my = (W * rx).sum(1) / total, (W * ry).sum(1) / total
    dx, dy = rx - mx[:, None], ry - my[:, None]
    sxy, sxx, syy = (W * dx * dy).sum(1), (W * dx * dx).sum(1), (W * dy * dy).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = sxy / np.sqrt(sxx * syy)
    r[(sxx <= 1e-12) | (syy <= 1e-12)] = np.nan
    return np.clip(r, -1.0, 1.0)


def _rmse(W: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.sqrt(_mean(W, (x - y) ** 2))


def _mae(W: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return _mean(W, np.abs(x - y))


def _exact(W: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return _mean(W, (np.abs(x - y) < 1e-9).astype(float))


def _adjacent(W: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return _mean(W, (np.abs(x - y) <= 1 + 1e-9).astype(float))


SCORE_METRICS: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]] = {
    "pearson": _pearson,
    "spearman": _spearman,
    "rmse": _rmse,
    "mae": _mae,
}

# --- confusion-matrix metrics --------------------------------------------------


def confusion_counts(W: np.ndarray, gold: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    """Weighted confusion matrices, shape (rows of W, k, k); rows gold, columns predicted."""
    cells = gold.astype(np.intp) * k + pred.astype(np.intp)
    onehot = np.zeros((len(cells), k * k))
    onehot[np.arange(len(cells)), cells] = 1.0
    return (W @ onehot).reshape(-1, k, k)


def _per_class(C: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall, F1, support and presence of each class, for each matrix."""
    tp = np.diagonal(C, axis1=1, axis2=2)
    support = C.sum(axis=2)
    predicted = C.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    present = (support > 0) | (predicted > 0)
    return precision, recall, f1, support, present


def accuracy_from(C: np.ndarray) -> np.ndarray:
    return np.trace(C, axis1=1, axis2=2) / C.sum(axis=(1, 2))


def macro_f1_from(C: np.ndarray) -> np.ndarray:
    _, _, f1, _, present = _per_class(C)
    return (f1 * present).sum(1) / np.maximum(present.sum(1), 1)


def weighted_f1_from(C: np.ndarray) -> np.ndarray:
    _, _, f1, support, _ = _per_class(C)
    return (f1 * support).sum(1) / support.sum(1)


def kappa_from(C: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Cohen's kappa of each matrix; with ``weights`` (k x k disagreement costs), weighted kappa."""
    k = C.shape[1]
    if weights is None:
        weights = 1.0 - np.eye(k)
    n = C.sum(axis=(1, 2))
    expected = C.sum(axis=2)[:, :, None] * C.sum(axis=1)[:, None, :] / n[:, None, None]
    observed_cost = (C * weights).sum(axis=(1, 2))
    expected_cost = (expected * weights).sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(expected_cost > 1e-12, 1.0 - observed_cost / expected_cost, np.nan)


def quadratic_weights(k: int) -> np.ndarray:
    i = np.arange(k)
    return (i[:, None] - i[None, :]) ** 2 / max(k - 1, 1) ** 2


def qwk_from(C: np.ndarray) -> np.ndarray:
    return kappa_from(C, quadratic_weights(C.shape[1]))


LABEL_METRICS = {
    "accuracy": accuracy_from,
    "macro_f1": macro_f1_from,
    "weighted_f1": weighted_f1_from,
    "kappa": kappa_from,
}


# --- plain entry points (one sample) -----------------------------------------------


def _ones(n: int) -> np.ndarray:
    return np.ones((1, n))


def _arrays(a, b) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError("metrics need two 1-d arrays of the same length")
    return x, y


def pearson(a, b) -> float:
    x, y = _arrays(a, b)
    return float(_pearson(_ones(len(x)), x, y)[0])


def spearman(a, b) -> float:
    x, y = _arrays(a, b)
    return float(_spearman(_ones(len(x)), x, y)[0])


def rmse(a, b) -> float:
    x, y = _arrays(a, b)
    return float(_rmse(_ones(len(x)), x, y)[0])


def mae(a, b) -> float:
    x, y = _arrays(a, b)
    return float(_mae(_ones(len(x)), x, y)[0])


def exact_agreement(a, b) -> float:
    x, y = _arrays(a, b)
    return float(_exact(_ones(len(x)), x, y)[0])


def adjacent_agreement(a, b) -> float:
    x, y = _arrays(a, b)
    return float(_adjacent(_ones(len(x)), x, y)[0])


def confusion_matrix(gold, pred, k: int) -> np.ndarray:
    """Counts of (gold class, predicted class) over class indices 0..k-1."""
    g, p = np.asarray(gold, dtype=np.intp), np.asarray(pred, dtype=np.intp)
    return confusion_counts(_ones(len(g)), g, p, k)[0].astype(int)


def cohen_kappa(gold, pred, k: int) -> float:
    return float(kappa_from(confusion_counts(_ones(len(gold)), np.asarray(gold), np.asarray(pred), k))[0])


def quadratic_weighted_kappa(gold, pred, k: int) -> float:
    """QWK of two ratings given as class indices 0..k-1 of an ordered scale."""
    return float(qwk_from(confusion_counts(_ones(len(gold)), np.asarray(gold), np.asarray(pred), k))[0])


def macro_f1(gold, pred, k: int) -> float:
    return float(macro_f1_from(confusion_counts(_ones(len(gold)), np.asarray(gold), np.asarray(pred), k))[0])


# --- bootstrap -------------------------------------------------------------------


def resample_weights(n: int, resamples: int, seed: int):
    """Bootstrap weight matrices in chunks: how often each item is drawn per resample."""
    rng = np.random.default_rng(seed)
    done = 0
    while done < resamples:
        rows = min(CHUNK, resamples - done)
        idx = rng.integers(0, n, size=(rows, n)) + (np.arange(rows) * n)[:, None]
        W = np.bincount(idx.ravel(), minlength=rows * n).reshape(rows, n).astype(float)
        done += rows
        yield W


def bootstrap(
    statistics: Callable[[np.ndarray], dict[str, np.ndarray]],
    n: int,
    *,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> dict[str, Interval]:
    """Point estimates and percentile intervals of several statistics at once.

    ``statistics(W)`` returns named arrays with one value per row of ``W``; all
    of them are computed on the same resamples.
    """
    point = {name: float(v[0]) for name, v in statistics(_ones(n)).items()}
    if resamples <= 0 or n < 2:
        return {name: Interval(v, np.nan, np.nan) for name, v in point.items()}
    draws: dict[str, list[np.ndarray]] = {name: [] for name in point}
    for W in resample_weights(n, resamples, seed):
        for name, values in statistics(W).items():
            draws[name].append(values)
    alpha = (1 - confidence) / 2
    out = {}
    for name, value in point.items():
        values = np.concatenate(draws[name])
        values = values[np.isfinite(values)]
        if values.size == 0:
            out[name] = Interval(value, np.nan, np.nan)
            continue
        low, high = np.quantile(values, [alpha, 1 - alpha])
        out[name] = Interval(value, float(low), float(high))
    return out


def score_statistics(gold: np.ndarray, pred: np.ndarray, *, ordinal_k: int | None = None, ordinal_gold=None, ordinal_pred=None):
    """The statistics function for scores: Pearson, Spearman, RMSE, MAE and, for ordinal scales, QWK and agreement."""
    gold, pred = np.asarray(gold, dtype=float), np.asarray(pred, dtype=float)

    def stats(W: np.ndarray) -> dict[str, np.ndarray]:
        out = {name: fn(W, pred, gold) for name, fn in SCORE_METRICS.items()}
        if ordinal_k is not None:
            og, op = np.asarray(ordinal_gold), np.asarray(ordinal_pred)
            out["qwk"] = qwk_from(confusion_counts(W, og, op, ordinal_k))
            out["exact"] = _exact(W, op.astype(float), og.astype(float))
            out["adjacent"] = _adjacent(W, op.astype(float), og.astype(float))
        return out

    return stats


def label_statistics(gold: np.ndarray, pred: np.ndarray, k: int, *, ordered: bool = False, class_names: list[str] | None = None):
    """The statistics function for labels: accuracy, F1s, kappa, per-class precision and recall."""
    gold, pred = np.asarray(gold, dtype=np.intp), np.asarray(pred, dtype=np.intp)
    names = class_names or [str(i) for i in range(k)]

    def stats(W: np.ndarray) -> dict[str, np.ndarray]:
        C = confusion_counts(W, gold, pred, k)
        out = {name: fn(C) for name, fn in LABEL_METRICS.items()}
        if ordered:
            out["qwk"] = qwk_from(C)
        precision, recall, _, _, _ = _per_class(C)
        for i, name in enumerate(names):
            out[f"precision:{name}"] = precision[:, i]
            out[f"recall:{name}"] = recall[:, i]
        return out

    return stats
