"""Agreement metrics against plain reference implementations and hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.evaluation import metrics

# --- plain references, written the textbook way -------------------------------------


def ref_pearson(x, y):
    n = len(x)
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    return sxy / math.sqrt(sxx * syy)


def ref_ranks(x):
    """Average ranks, 1-based: tied values share the mean of their positions."""
    order = sorted(range(len(x)), key=lambda i: x[i])
    ranks = [0.0] * len(x)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and x[order[j + 1]] == x[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def ref_spearman(x, y):
    return ref_pearson(ref_ranks(x), ref_ranks(y))


def ref_kappa(a, b, k, quadratic=False):
    n = len(a)
    observed = [[0] * k for _ in range(k)]
    for i, j in zip(a, b):
        observed[i][j] += 1
    hist_a = [sum(row) for row in observed]
    hist_b = [sum(observed[i][j] for i in range(k)) for j in range(k)]
    num = den = 0.0
    for i in range(k):
        for j in range(k):
            w = (i - j) ** 2 / (k - 1) ** 2 if quadratic else float(i != j)
            num += w * observed[i][j] / n
            den += w * hist_a[i] * hist_b[j] / n / n
    return 1 - num / den


def ref_macro_f1(gold, pred):
    scores = []
    for c in sorted(set(gold) | set(pred)):
        tp = sum(g == p == c for g, p in zip(gold, pred))
        predicted = sum(p == c for p in pred)
        support = sum(g == c for g in gold)
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(scores) / len(scores)


# --- hand-computed cases -------------------------------------------------------------------

# (metric, a, b, expected); classes are 0..k-1 where the metric needs k.
HAND_CASES = [
    ("pearson", [1, 2, 3, 4], [2, 4, 6, 8], 1.0),
    ("pearson", [1, 2, 3], [3, 2, 1], -1.0),
    ("pearson", [1, 1, 1], [1, 2, 3], float("nan")),  # a constant has no correlation
    # ranks (1, 2.5, 2.5, 4) against (1, 2, 3, 4): 4.5 / sqrt(4.5 * 5)
    ("spearman", [1, 2, 2, 3], [1, 2, 3, 4], 4.5 / math.sqrt(22.5)),
    ("spearman", [10, 20, 30], [1, 5, 100], 1.0),
    ("rmse", [0, 0, 0, 0], [1, 1, 1, 3], math.sqrt(3.0)),
    ("mae", [0, 0, 0, 0], [1, -1, 1, 3], 1.5),
    ("exact", [1, 2, 3, 4], [1, 2, 0, 0], 0.5),
    ("adjacent", [1, 2, 3, 4], [2, 2, 0, 0], 0.5),
    # Wikipedia's example: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no: po 0.7, pe 0.5
    ("kappa", [1] * 25 + [0] * 25, [1] * 20 + [0] * 5 + [1] * 10 + [0] * 15, 0.4),
    ("qwk", [0, 1, 2, 3], [0, 1, 2, 3], 1.0),
    ("qwk", [0, 0, 1, 1], [0, 1, 0, 1], 0.0),
    # every item one class: chance agreement is total, kappa undefined
    ("kappa", [1, 1, 1], [1, 1, 1], float("nan")),
    # per class F1: 0.5, 0.8, 0 (class 2 never predicted)
    ("macro_f1", [0, 0, 1, 1, 2], [0, 1, 1, 1, 0], (0.5 + 0.8 + 0.0) / 3),
]


def _call(name, a, b):
    if name in ("kappa", "qwk", "macro_f1"):
        k = max(max(a), max(b)) + 1
        fn = {"kappa": metrics.cohen_kappa, "qwk": metrics.quadratic_weighted_kappa, "macro_f1": metrics.macro_f1}[name]
        return fn(a, b, k)
    return {
        "pearson": metrics.pearson,
        "spearman": metrics.spearman,
        "rmse": metrics.rmse,
        "mae": metrics.mae,
        "exact": metrics.exact_agreement,
        "adjacent": metrics.adjacent_agreement,
    }[name](a, b)


@pytest.mark.parametrize("name, a, b, expected", HAND_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(HAND_CASES)])
def test_hand_computed(name, a, b, expected):
    got = _call(name, a, b)
    if math.isnan(expected):
        assert math.isnan(got)
    else:
        assert got == pytest.approx(expected, abs=1e-9)


def test_confusion_matrix_rows_are_gold():
    assert metrics.confusion_matrix([0, 0, 1, 2], [0, 1, 1, 1], 3).tolist() == [[1, 1, 0], [0, 1, 0], [0, 1, 0]]


# --- against the references on random data ---------------------------------------------

small_ints = st.lists(st.integers(0, 4), min_size=3, max_size=40)


@given(st.data())
@settings(max_examples=80, deadline=None)
def test_correlations_match_reference(data):
    x = data.draw(small_ints)
    y = data.draw(st.lists(st.integers(0, 6), min_size=len(x), max_size=len(x)))
    if len(set(x)) < 2 or len(set(y)) < 2:
        assert math.isnan(metrics.pearson(x, y)) and math.isnan(metrics.spearman(x, y))
        return
    assert metrics.pearson(x, y) == pytest.approx(ref_pearson(x, y), abs=1e-9)
    assert metrics.spearman(x, y) == pytest.approx(ref_spearman(x, y), abs=1e-9)


@given(st.data())
@settings(max_examples=80, deadline=None)
def test_kappas_and_f1_match_reference(data):
    k = data.draw(st.integers(2, 5))
    a = data.draw(st.lists(st.integers(0, k - 1), min_size=2, max_size=40))
    b = data.draw(st.lists(st.integers(0, k - 1), min_size=len(a), max_size=len(a)))
    assert metrics.macro_f1(a, b, k) == pytest.approx(ref_macro_f1(a, b), abs=1e-9)
    chance_total = len(set(a) | set(b)) == 1  # all in one class: no disagreement to expect
    if chance_total:
        assert math.isnan(metrics.cohen_kappa(a, b, k))
        return
    assert metrics.cohen_kappa(a, b, k) == pytest.approx(ref_kappa(a, b, k), abs=1e-9)
    assert metrics.quadratic_weighted_kappa(a, b, k) == pytest.approx(ref_kappa(a, b, k, quadratic=True), abs=1e-9)


@given(st.data())
@settings(max_examples=60, deadline=None)
def test_weights_are_repetitions(data):
    """A bootstrap weight row means "this item drawn this often": the same as repeating it."""
    n = data.draw(st.integers(3, 15))
    x = np.array(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)), dtype=float)
    y = np.array(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)), dtype=float)
    counts = np.array(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)), dtype=float)
    if counts.sum() < 2:
        return
    xr, yr = np.repeat(x, counts.astype(int)), np.repeat(y, counts.astype(int))
    weighted = metrics.score_statistics(y, x, ordinal_k=4, ordinal_gold=y.astype(int), ordinal_pred=x.astype(int))(counts[None, :])
    plain = metrics.score_statistics(yr, xr, ordinal_k=4, ordinal_gold=yr.astype(int), ordinal_pred=xr.astype(int))(np.ones((1, len(xr))))
    for name in weighted:
        np.testing.assert_allclose(weighted[name], plain[name], atol=1e-9, equal_nan=True, err_msg=name)
    lw = metrics.label_statistics(y.astype(int), x.astype(int), 4, ordered=True)(counts[None, :])
    lp = metrics.label_statistics(yr.astype(int), xr.astype(int), 4, ordered=True)(np.ones((1, len(xr))))
    for name in lw:
        np.testing.assert_allclose(lw[name], lp[name], atol=1e-9, equal_nan=True, err_msg=name)


# --- bootstrap ---------------------------------------------------------------------------


def _sample(kind: str, n: int, seed: int):
    rng = np.random.default_rng(seed)
    gold = rng.integers(0, 4, n)
    noise = {"good": 0.5, "poor": 2.0}[kind]
    pred = np.clip(np.round(gold + rng.normal(0, noise, n)), 0, 3).astype(int)
    return gold, pred


@pytest.mark.parametrize("kind, n, seed", [("good", 60, 1), ("poor", 60, 2), ("good", 500, 3), ("poor", 2000, 4)])
def test_bootstrap_interval_contains_point_estimate(kind, n, seed):
    gold, pred = _sample(kind, n, seed)
    stats = metrics.score_statistics(gold, pred + 0.1, ordinal_k=4, ordinal_gold=gold, ordinal_pred=pred)
    found = metrics.bootstrap(stats, n, resamples=400, seed=seed)
    found |= metrics.bootstrap(metrics.label_statistics(gold, pred, 4, ordered=True), n, resamples=400, seed=seed)
    assert {"pearson", "spearman", "rmse", "mae", "qwk", "exact", "adjacent", "accuracy", "macro_f1", "kappa"} <= set(found)
    for name, iv in found.items():
        assert iv.low <= iv.value <= iv.high, name
        assert iv.high - iv.low < 1.0 or name.startswith(("precision", "recall")), name


def test_bootstrap_narrows_with_more_data_and_repeats_with_its_seed():
    small_g, small_p = _sample("good", 50, 5)
    big_g, big_p = _sample("good", 5000, 5)
    small = metrics.bootstrap(metrics.score_statistics(small_g, small_p), 50, resamples=300)["pearson"]
    big = metrics.bootstrap(metrics.score_statistics(big_g, big_p), 5000, resamples=300)["pearson"]
    assert big.high - big.low < (small.high - small.low) / 3
    again = metrics.bootstrap(metrics.score_statistics(small_g, small_p), 50, resamples=300)["pearson"]
    assert again == small


def test_bootstrap_of_twelve_thousand_answers():
    """The size of the biggest dataset: point estimates are the plain metrics, intervals hold them and are narrow.

    250 resamples span two full weight chunks and a partial one. How long the
    full 1,000 take is a figure of ``eval/bench.py``, not a test.
    """
    gold, pred = _sample("good", 12_000, 6)
    found = metrics.bootstrap(
        metrics.score_statistics(gold, pred + 0.0, ordinal_k=4, ordinal_gold=gold, ordinal_pred=pred), 12_000, resamples=250
    )
    assert found["pearson"].value == pytest.approx(metrics.pearson(gold, pred))
    assert found["qwk"].value == pytest.approx(metrics.quadratic_weighted_kappa(gold, pred, 4))
    assert found["exact"].value == pytest.approx(metrics.exact_agreement(gold, pred))
    for name, iv in found.items():
        assert iv.low <= iv.value <= iv.high and iv.high - iv.low < 0.05, name
