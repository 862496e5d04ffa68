"""Calibration fitting and cross-validation splits."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.evaluation.calibration import (
    MIN_SIGNAL_QUESTIONS,
    Cuts,
    Signals,
    FitData,
    apply_plan,
    cv_plan,
    fit_and_apply,
    fit_cuts,
    fit_isotonic,
    group_folds,
    logistic_signals,
    proportion_cuts,
    signal_map,
    signal_weights,
    train_plan,
    with_signals,
)
from grader.evaluation.metrics import macro_f1, quadratic_weighted_kappa
from grader.evaluation.tasks import Task

questions = st.lists(st.sampled_from([f"q{i}" for i in range(12)]), min_size=1, max_size=80)


@given(questions, st.integers(1, 7), st.integers(0, 3))
@settings(max_examples=100, deadline=None)
def test_group_folds_keep_each_question_in_one_fold(groups, folds, seed):
    fold_of = group_folds(groups, folds, seed)
    for q in set(groups):
        assert len({fold_of[i] for i, g in enumerate(groups) if g == q}) == 1
    assert fold_of.max() < min(folds, len(set(groups)))
    # every fold is used: no empty fold makes a run look cross-validated when it is not
    assert set(fold_of.tolist()) == set(range(min(folds, len(set(groups)))))


@given(questions, st.integers(2, 6))
@settings(max_examples=100, deadline=None)
def test_grouped_cv_never_fits_on_a_question_it_predicts(groups, folds):
    plan = cv_plan(groups, "global", folds)
    predicted = np.concatenate([test for _, test in plan])
    assert sorted(predicted.tolist()) == list(range(len(groups)))  # each answer predicted once
    for fit, test in plan:
        assert not {groups[i] for i in fit} & {groups[i] for i in test}  # one question: nothing to fit on, never itself
        assert len(fit) or len(set(groups)) == 1


@given(questions)
@settings(max_examples=60, deadline=None)
def test_per_question_cv_fits_on_the_same_question_other_answers(groups):
    plan = cv_plan(groups, "question", 5)
    predicted = np.concatenate([test for _, test in plan])
    assert sorted(predicted.tolist()) == list(range(len(groups)))
    for fit, test in plan:
        assert not set(fit.tolist()) & set(test.tolist())
        if groups.count(groups[test[0]]) > 1:
            assert len(fit) and len({groups[i] for i in np.concatenate([fit, test])}) == 1
        else:  # a lone answer gets the other questions' mapping, as an unseen question does
            assert sorted(fit.tolist()) == [i for i, g in enumerate(groups) if g != groups[test[0]]]


def test_train_plan_per_question_falls_back_to_the_whole_training_set():
    plan = train_plan(["a", "b", "a"], ["a", "a", "c"], "question")
    as_lists = [(fit.tolist(), test.tolist()) for fit, test in plan]
    assert as_lists == [([0, 1], [0, 2]), ([0, 1, 2], [1])]
    assert [(f.tolist(), t.tolist()) for f, t in train_plan(["a", "b"], ["c"], "global")] == [([0], [0, 1])]


def ref_isotonic(x, y):
    """Plain PAV on points sorted by x (ties pooled first): the fitted value at each point."""
    pairs = sorted(zip(x, y))
    groups: list[list[float]] = []  # [x, sum, count]
    for xi, yi in pairs:
        if groups and groups[-1][0] == xi:
            groups[-1][1] += yi
            groups[-1][2] += 1
        else:
            groups.append([xi, yi, 1])
    blocks = [[g[1], g[2], [g[0]]] for g in groups]
    merged: list = []
    for b in blocks:
        merged.append(b)
        while len(merged) > 1 and merged[-2][0] / merged[-2][1] > merged[-1][0] / merged[-1][1]:
            s, c, xs = merged.pop()
            merged[-1][0] += s
            merged[-1][1] += c
            merged[-1][2] += xs
    return {xi: s / c for s, c, xs in merged for xi in xs}


@given(st.lists(st.tuples(st.integers(0, 10), st.floats(0, 1)), min_size=1, max_size=40))
@settings(max_examples=100, deadline=None)
def test_isotonic_fit_matches_plain_pav(points):
    x = np.array([p[0] / 10 for p in points])
    y = np.array([p[1] for p in points])
    fitted = fit_isotonic(x, y)
    expected = ref_isotonic(x.tolist(), y.tolist())
    np.testing.assert_allclose(fitted(x), [expected[v] for v in x], atol=1e-9)
    grid = np.linspace(-0.5, 1.5, 41)
    assert (np.diff(fitted(grid)) >= -1e-12).all()  # never decreasing, also between and beyond the data


def test_isotonic_map_follows_a_curve_and_is_clipped():
    x = np.array([0.0, 0.1, 0.2, 0.5, 1.0])
    y = np.sqrt(x)
    assert fit_isotonic(x, y)(x) == pytest.approx(y)  # already monotone: fitted exactly
    assert fit_isotonic(x, y + 5)(np.array([0.3])).tolist() == [1.0]
    assert fit_isotonic(np.array([]), np.array([]))(np.array([0.2])).tolist() == [0.5]


def test_cuts_assign_classes_by_half_open_intervals():
    assert Cuts((0.3, 0.7))(np.array([0.0, 0.3, 0.5, 0.7, 1.0])).tolist() == [0, 1, 1, 2, 2]


@pytest.mark.parametrize("objective", ["qwk", "macro_f1"])
def test_fit_cuts_recovers_separable_thresholds(objective):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, 600)
    y = np.searchsorted([0.2, 0.5, 0.9], x, side="right")
    cuts = fit_cuts(x, y, 4, objective)
    assert (cuts(x) == y).all()


def test_fit_cuts_beats_proportion_matching_on_noisy_data():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 800)
    x = y * 0.3 + rng.normal(0, 0.25, 800) + np.where(y == 2, -0.2, 0)
    start = np.searchsorted(np.sort(proportion_cuts(x, y, 3)), x, side="right")
    fitted = fit_cuts(x, y, 3, "qwk")(x)
    assert quadratic_weighted_kappa(y, fitted, 3) >= quadratic_weighted_kappa(y, start, 3)
    f1_fitted = fit_cuts(x, y, 3, "macro_f1")(x)
    assert macro_f1(y, f1_fitted, 3) >= macro_f1(y, start, 3)


def test_fit_cuts_degenerate_inputs():
    assert fit_cuts(np.array([]), np.array([], dtype=int), 3).thresholds == (0.5, 0.5)
    assert fit_cuts(np.array([0.4, 0.4]), np.array([0, 1]), 1).thresholds == ()
    same = fit_cuts(np.full(10, 0.5), np.array([0] * 5 + [1] * 5), 2)
    assert len(same.thresholds) == 1


@pytest.mark.parametrize("grade", [0, 1, 2])
def test_fit_cuts_on_one_grade_give_every_score_that_grade(grade):
    """A question whose every answer got 0 points: the cut points matched its proportions at the top fitted score,
    so its best answers were predicted full marks, a grade the humans never gave (its isotonic map said 0)."""
    x = np.array([0.1, 0.3, 0.3, 0.6, 0.9])
    cuts = fit_cuts(x, np.full(5, grade), 3, "qwk")
    assert cuts(np.r_[x, -1.0, 2.0]).tolist() == [grade] * 7


def _two_way_task(gold: np.ndarray) -> Task:
    return Task(name="label_2way", kind="label", gold=gold, classes=["incorrect", "correct"], ordered=True)


def test_by_probability_a_two_class_answer_is_the_likelier_class():
    """One question's fitting answers: the upper class is likelier from 0.5 up (half of the two answers at 0.5 and
    0.6), certain from 0.7; between fitted scores the estimate is interpolated."""
    fitting = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    gold = np.array([0, 0, 0, 0, 1, 0, 1, 1, 1, 1])
    task = _two_way_task(gold)
    new = np.array([0.35, 0.45, 0.5, 0.55, 0.65, 0.95])
    predicted = fit_and_apply(FitData(fitting, task, np.arange(10)), new, task, np.arange(6), by_probability=True)
    assert predicted.values.tolist() == [0, 0, 1, 1, 1, 1]


def _questions_and_gold(n_questions: int, per_question: int = 12, seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.random.Generator]:
    rng = np.random.default_rng(seed)
    questions = np.repeat([f"q{i}" for i in range(n_questions)], per_question).astype(object)
    return questions, rng.integers(0, 2, len(questions)), rng


@pytest.mark.parametrize("signal_informs", [True, False])
def test_signal_weights_take_a_signal_only_where_the_gold_follows_it(signal_informs):
    questions, gold, rng = _questions_and_gold(40)
    raw = np.clip(0.3 * gold + rng.normal(0.35, 0.25, len(gold)), 0, 1)  # a weak grader
    signal = (gold if signal_informs else rng.integers(0, 2, len(gold))) + rng.normal(0, 0.1, len(gold))
    signals = np.column_stack([signal, np.zeros(len(gold))])
    weights = signal_weights(_two_way_task(gold), np.arange(len(gold)), raw, signals, questions)
    assert bool(weights[0] > 0) is signal_informs
    assert weights[1] == 0  # a signal that is always 0 earns no weight: ties go to the smaller one


@pytest.mark.parametrize("task", ["two-way", "score"])
def test_signals_need_enough_questions_to_count(task):
    questions, gold, rng = _questions_and_gold(MIN_SIGNAL_QUESTIONS - 1)
    signals = np.column_stack([gold.astype(float), gold.astype(float), gold.astype(float)])
    fitted = _two_way_task(gold) if task == "two-way" else Task("score", "score", gold.astype(float), [], max_score=np.ones(len(gold)))
    raw = rng.random(len(gold))
    combine = signal_map(fitted, np.arange(len(gold)), raw, signals, questions)
    assert combine(raw, signals).tolist() == raw.tolist()


def test_logistic_signals_weigh_the_raw_score_by_a_signal_where_the_gold_says_so():
    """Long references' right answers cover a smaller share of their terms: the signal that says how long a reference
    is (0 short, 1 long) changes what a raw score means, which only its product with the score can say."""
    rng = np.random.default_rng(5)
    long = rng.integers(0, 2, 4000).astype(float)
    raw = rng.random(4000)
    upper = raw > np.where(long == 1, 0.3, 0.7)
    weights = logistic_signals(raw, long[:, None], upper)  # raw, signal, raw x signal, constant
    assert weights[0] > 0 and weights[2] > 0
    # where the signal is 1, the odds are even at a raw score of 0.3; where it is 0, at 0.7
    assert abs(-(weights[1] + weights[3]) / (weights[0] + weights[2]) - 0.3) < 0.05
    assert abs(-weights[3] / weights[0] - 0.7) < 0.05


def test_a_two_class_global_mapping_combines_by_logistic_regression_where_the_grid_cannot():
    questions, _, rng = _questions_and_gold(40)
    long = (np.arange(len(questions)) // 12 % 2).astype(float)  # every other question has a long reference
    raw = rng.random(len(questions))
    gold = (raw > np.where(long == 1, 0.3, 0.7)).astype(int)
    signals = np.column_stack([np.zeros(len(gold)), np.zeros(len(gold)), long])
    task = _two_way_task(gold)
    plan = cv_plan(list(questions), "global")
    helped = apply_plan(task, raw, plan, task, raw, signals=Signals(signals, signals, questions)).values
    alone = apply_plan(task, raw, plan, task, raw).values
    assert macro_f1(gold, helped, 2) > 0.95 > macro_f1(gold, alone, 2) + 0.1
    # non-answers stay below every real answer: the map never lifts them
    combine = signal_map(task, np.arange(len(gold)), raw, signals, questions)
    mapped = combine(np.r_[-1.0, raw], np.vstack([signals[:1], signals]))
    assert mapped[0] == -1.0 and (mapped[1:] > 0).all()


def test_a_global_calibration_weighs_a_signal_into_its_predictions():
    questions, gold, rng = _questions_and_gold(40)
    task = _two_way_task(gold)
    raw = rng.random(len(gold))  # a grader that knows nothing
    plan = cv_plan(list(questions), "global")
    columns = np.column_stack([gold + rng.normal(0, 0.1, len(gold)), np.zeros(len(gold)), np.zeros(len(gold))])
    signals = Signals(columns, columns, questions)
    alone = apply_plan(task, raw, plan, task, raw).values
    helped = apply_plan(task, raw, plan, task, raw, signals=signals).values
    assert macro_f1(gold, helped, 2) > macro_f1(gold, alone, 2) + 0.3


def test_non_answers_keep_their_rank_whatever_the_signals():
    raw = np.array([-1.0, 0.2, 0.9])
    assert with_signals(raw, np.array([[5.0, 5.0], [1.0, 0.0], [0.0, 1.0]]), np.array([0.3, 0.6])).tolist() == [-1.0, 0.5, 1.5]
