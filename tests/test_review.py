"""Grading by groups (issue 13): grouping, what the teacher's marks teach, the decisions file, ``grader review``."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from grader import KeywordGrader
from grader.errors import GraderError
from grader.models import Verdict
from grader.review import (
    Command,
    DecisionLog,
    Levels,
    QuestionReview,
    Similarity,
    bounds,
    cluster,
    grouping_thresholds,
    parse_command,
    propose,
    split,
)
from grader.scoring import GradingSettings

from .conftest import ROOT, SEED_DECK, run_cli
from .test_class_report import class_csv as write_class

DECK = str(SEED_DECK)
I, P, C = 0, 1, 2


# --- commands ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line, expected",
    [
        ("a", Command("accept")),
        ("c", Command("mark", Verdict.correct)),
        ("P", Command("mark", Verdict.partial)),
        ("i 2 5-7", Command("mark", Verdict.incorrect, [2, 5, 6, 7])),
        ("o i 3,1 1", Command("mark", Verdict.incorrect, [1, 3])),
        ("s", Command("split")),
        ("u", Command("undo")),
        ("n", Command("next")),
        ("q", Command("quit")),
        ("m", Command("more")),
        ("?", Command("help")),
        ("", "an empty line is not a review command"),
        ("o", "'o' needs a verdict and answer numbers"),
        ("x", "'x' is not a review command"),
        ("a 2", "'a 2' is not a review command"),
        ("i two", "'two' is not an answer number or range"),
        ("c 3-", "'3-' is not an answer number or range"),
    ],
)
def test_parse_command(line, expected):
    if isinstance(expected, str):
        with pytest.raises(ValueError, match=expected):
            parse_command(line)
    else:
        assert parse_command(line) == expected


# --- what the marks teach ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "marks, support, expected_lo, expected_hi",
    [
        ([], 1, [I, I, I], [C, C, C]),
        ([(0.5, P)], 1, [I, P, P], [P, P, C]),
        ([(0.0, C), (1.0, C)], 1, [C, C, C], [C, C, C]),  # one mark at 0 settles everything above it...
        ([(0.0, C), (1.0, C)], 2, [I, I, C], [C, C, C]),  # ...unless a bound needs two marks behind it
        ([(0.1, I), (0.2, I), (0.8, C), (0.9, C)], 2, [I, I, C], [I, C, C]),
        ([(0.5, C), (0.5, I)], 1, [I, C, C], [I, I, C]),  # marks that contradict each other: lo > hi
    ],
)
def test_bounds(marks, support, expected_lo, expected_hi):
    x = np.array([0.0, 0.5, 1.0])
    mx = np.array([m for m, _ in marks], dtype=float)
    mc = np.array([c for _, c in marks], dtype=np.intp)
    lo, hi = bounds(x, mx, mc, support)
    assert lo.tolist() == expected_lo and hi.tolist() == expected_hi


def test_marks_recalibrate_the_rest_and_say_what_is_certain():
    x = np.array([0.0, 0.1, 0.3, 0.35, 0.5, 0.9, 1.0])
    raw = np.array([I, I, P, P, P, C, C])
    decided = np.full(7, -1)
    decided[[0, 1]] = I
    decided[[2, 3]] = C  # the teacher calls answers the grader scored 0.3 correct
    proposal, certain = propose(x, raw, decided)
    assert proposal.tolist() == [I, I, C, C, C, C, C]
    assert certain.tolist() == [True, True, True, True, True, True, True]
    decided[:] = -1
    decided[[0, 6]] = [I, C]
    proposal, certain = propose(x, raw, decided)
    assert certain.tolist() == [True, False, False, False, False, False, True]
    assert proposal[[0, 6]].tolist() == [I, C]


# --- grouping ------------------------------------------------------------------------------------------


ANSWERS = [
    "sharing, aggregation, emulation, isolation",
    "Sharing aggregation emulation isolation!",
    "sharing and isolation",
    "isolation and sharing",
    "I don't know",
    "idk",
    "bananas are yellow",
]


@pytest.mark.parametrize("match", ["meaning", "keyword"])
def test_similar_answers_group_together_largest_first(seed_deck, match):
    settings = GradingSettings(match=match)
    grader = KeywordGrader(settings)
    card = seed_deck.cards[2]  # What are examples of managed execution?
    similarity = Similarity(ANSWERS, grader.grade_many(card, ANSWERS), grader.vectors)
    sim = similarity.rows(0, 7)
    assert sim.shape == (7, 7) and np.allclose(sim, sim.T) and np.allclose(np.diag(sim), 1.0)
    assert sim[4, 5] == 1.0 and sim[0, 4] == 0.0  # non-answers with each other, apart from real ones
    levels = Levels(similarity, (0.7,))
    groups = [sorted(g.tolist()) for g in cluster(levels, np.arange(7), 1)]
    assert sorted(groups) == sorted([[0, 1], [2, 3], [4, 5], [6]])
    assert [len(g) for g in groups] == sorted((len(g) for g in groups), reverse=True)
    assert [g.tolist() for g in cluster(levels, np.arange(7), 1)] == [g.tolist() for g in cluster(levels, np.arange(7), 1)]


def test_answers_in_words_the_vectors_do_not_know_are_grouped_by_their_words():
    """Greek (or Chinese, Korean...) words have no vector of their own (``semantic``): their answers were taken for
    answers with no words at all, alike, and a right one and a wrong one came in one group."""
    from grader.keyterms import parse_term
    from grader.models import Card

    card = Card(id="c", number=1, question="Τι είναι ο υπερεπόπτης;", answer="λογισμικό, εικονικές μηχανές",
                key_terms=[parse_term("λογισμικό"), parse_term("εικονικές μηχανές")])  # fmt: skip
    answers = ["λογισμικό που εκτελεί εικονικές μηχανές", "λογισμικό, εικονικές μηχανές", "ένα υλικό κουτί", "δεν ξέρω κουτί", "?"]
    grader = KeywordGrader(GradingSettings())
    similarity = Similarity(answers, grader.grade_many(card, answers), grader.vectors)
    sim = similarity.rows(0, 5)
    assert np.allclose(sim, sim.T) and np.allclose(np.diag(sim), 1.0)
    assert sorted(sorted(g.tolist()) for g in cluster(Levels(similarity, (0.7,)), np.arange(5), 1)) == [[0, 1], [2], [3], [4]]


def _varied_answers() -> list[str]:
    """A few hundred answers to one question: right, wrong, off-topic, reworded, repeated, empty, in Greek."""
    import random

    seed = [json.loads(line)["answer"] for line in (ROOT / "eval" / "seed_dev.jsonl").open(encoding="utf-8")]
    rng = random.Random(3)
    reworded = []
    for answer in seed:
        words = answer.split()
        rng.shuffle(words)
        reworded.append(" ".join(words[: max(1, len(words) * 2 // 3)]))
    greek = ["λογισμικό που εκτελεί εικονικές μηχανές", "ένα υλικό κουτί", "εικονικές μηχανές"]
    return seed + reworded + ANSWERS * 3 + greek + ["", "?", "no idea", "isolation"] * 2


def _dense_cluster(sim: np.ndarray, members: np.ndarray, threshold: float) -> list[np.ndarray]:
    """Grouping as it was done on the whole similarity matrix of floats: the reference the levels must match."""
    near = sim[np.ix_(members, members)] >= threshold
    np.fill_diagonal(near, True)
    alive = np.ones(members.size, dtype=bool)
    degree = near.sum(axis=1)
    groups = []
    while alive.any():
        centre = int(np.argmax(np.where(alive, degree, -1)))
        taken = np.flatnonzero(near[centre] & alive)
        alive[taken] = False
        degree -= near[:, taken].sum(axis=1)
        groups.append(members[taken])
    groups.sort(key=lambda g: (-g.size, int(g[0])))
    return groups


def _dense_split(sim: np.ndarray, members: np.ndarray, thresholds: tuple[float, ...], x: np.ndarray) -> list[np.ndarray]:
    """Splitting as it was done on the whole matrix: regrouped at each stricter threshold until it falls apart."""
    for t in thresholds[1:]:
        parts = _dense_cluster(sim, members, t)
        if len(parts) > 1:
            return parts
    return split(_NoLevels(), members, x)  # no regrouping parts it: the cut by score, which needs no levels


class _NoLevels(Levels):
    """Levels where every pair is at the top: splitting falls through to the scores."""

    def __init__(self):
        self.top = 4

    def block(self, rows, columns, by_columns=False, kinds=False):
        return np.full((len(rows), len(columns)), self.top, dtype=np.uint8)

    def both(self, rows, columns, kinds=False):
        return self.block(rows, columns), self.block(rows, columns)


@pytest.mark.parametrize("match, doubt", [("meaning", None), ("keyword", None), ("meaning", 0.05)])
def test_grouping_block_by_block_makes_the_groups_of_the_whole_matrix(seed_deck, match, doubt, monkeypatch):
    """Grouping kept a float64 n x n matrix (1.4 GB for 10,000 answers to one question), then a byte a pair (2.5 GB
    for 50,000); it keeps neither, working out the levels of the pairs it needs in blocks of a few rows, and must group
    and split exactly as the whole matrix did, at every level, for any answers of the question. With ``doubt``,
    a pair that near a threshold (most of them) is worked out again in the rows' first block: the same levels."""
    import grader.review as review

    grader = KeywordGrader(GradingSettings(match=match))
    answers = _varied_answers()
    grades = grader.grade_many(seed_deck.cards[2], answers)
    n = len(answers)
    dense = Similarity(answers, grades, grader.vectors).rows(0, n)  # the whole matrix, in one product
    monkeypatch.setattr(review, "SIMILARITY_BLOCK", 7 * n)  # blocks of seven rows
    if doubt is not None:
        monkeypatch.setattr(review, "DOUBT", doubt)
    threshold = 0.7 if match == "meaning" else 0.55
    thresholds = grouping_thresholds(threshold)
    levels = Levels(Similarity(answers, grades, grader.vectors), thresholds)
    everyone = np.arange(n)
    first = cluster(levels, everyone, 1)
    assert 10 < len(first) < n - 10  # groups of several sizes, to tell a difference
    assert sum(g.size == 1 for g in first) > 5  # and answers alike to none
    rng = np.random.default_rng(5)
    unordered = rng.permutation(first[0])  # a group given back by an undo: in the order the teacher saw it
    for members in [everyone, np.sort(rng.choice(n, n // 2, replace=False)), unordered, *first[:5]]:
        for level, t in enumerate(thresholds, start=1):
            assert [g.tolist() for g in cluster(levels, members, level)] == [g.tolist() for g in _dense_cluster(dense, members, t)]
    x = review.calibration_input(grades)
    for group in [*first[:8], unordered]:
        assert [p.tolist() for p in split(levels, group, x)] == [p.tolist() for p in _dense_split(dense, group, thresholds, x)]


class _MatrixLevels(Levels):
    """Levels read from a whole matrix (the reference)."""

    def __init__(self, matrix: np.ndarray):
        self.matrix, self.top = matrix, int(matrix.max())

    def block(self, rows, columns, by_columns=False, kinds=False):
        return self.matrix[np.ix_(columns, rows)].T if by_columns else self.matrix[np.ix_(rows, columns)]

    def both(self, rows, columns, kinds=False):
        return self.block(rows, columns), self.block(rows, columns, by_columns=True)


@pytest.mark.parametrize("seed", range(4))
def test_grouping_takes_each_centre_with_what_is_left_alike_to_it(seed):
    # Random levels, with dense spots and answers alike to none: each level's groups are the whole matrix's.
    rng = np.random.default_rng(seed)
    n = 300
    levels = rng.integers(0, 5, (n, n)) * (rng.random((n, n)) < rng.choice([0.02, 0.3]))
    levels = np.maximum(levels, levels.T).astype(np.uint8)
    np.fill_diagonal(levels, 4)
    for members in [np.arange(n), rng.permutation(n)[: n // 3]]:
        for level in range(1, 5):
            got = cluster(_MatrixLevels(levels), members, level)
            assert [g.tolist() for g in got] == [g.tolist() for g in _dense_cluster(levels.astype(float), members, level)]


class _KindLevels(_MatrixLevels):
    """Levels read from a whole matrix whose answers of a kind are alike in everything: each kind read once."""

    def __init__(self, matrix: np.ndarray, kind: np.ndarray):
        super().__init__(matrix)
        self.kind = kind


@pytest.mark.parametrize("seed", range(4))
def test_grouping_reads_each_pair_as_its_own_row_has_it_and_each_kind_once(seed, monkeypatch):
    """The degrees are counted over half the pairs, each pair read once for both its answers, and answers of one kind
    once for all of them: where a pair's two halves differ (a cosine's last bits) and answers repeat, the groups are
    still the whole matrix's, read row by row."""
    import grader.review as review

    monkeypatch.setattr(review, "SIMILARITY_BLOCK", 7 * 400)  # blocks of seven rows (or more, of kinds)
    rng = np.random.default_rng(seed)
    distinct = 120
    base = rng.integers(0, 5, (distinct, distinct)) * (rng.random((distinct, distinct)) < rng.choice([0.05, 0.3]))
    base = np.maximum(base, base.T)
    a, b = rng.integers(0, distinct, (2, 2000))
    base[a, b] = np.clip(base[a, b] + rng.choice([-1, 1], 2000), 0, 4)  # one half of many pairs a level apart
    np.fill_diagonal(base, 4)
    kind = rng.integers(0, distinct, 400)  # 400 answers of at most 120 kinds
    levels = base[np.ix_(kind, kind)].astype(np.uint8)  # a kind's answers at the top with each other, alike to the rest
    assert (levels != levels.T).any()
    for members in [np.arange(kind.size), rng.permutation(kind.size)[: kind.size // 3]]:
        for level in range(1, 5):
            expected = [g.tolist() for g in _dense_cluster(levels.astype(float), members, level)]
            assert [g.tolist() for g in cluster(_MatrixLevels(levels), members, level)] == expected
            assert [g.tolist() for g in cluster(_KindLevels(levels, kind), members, level)] == expected
        x = rng.random(kind.size)
        for group in cluster(_MatrixLevels(levels), members, 1)[:6]:
            assert [p.tolist() for p in split(_KindLevels(levels, kind), group, x)] == [p.tolist() for p in split(_MatrixLevels(levels), group, x)]


def _repeated_answers() -> list[str]:
    """Answers most of which another student gave too, word for word or in other case and punctuation."""
    rng = np.random.default_rng(7)
    distinct = _varied_answers()
    picked = [distinct[i] for i in rng.integers(0, len(distinct), 3 * len(distinct))]
    return [a.upper() if i % 5 == 0 else f"{a}!" if i % 7 == 0 else a for i, a in enumerate(picked)]


@pytest.mark.parametrize("match", ["meaning", "keyword"])
def test_repeated_answers_are_worked_out_once_and_grouped_as_before(seed_deck, match, monkeypatch):
    """Two of every three answers in the bench's class repeat another: an answer alike to another in all the
    similarity reads of them (their words, in order; their credits) is worked out once for both, with the groups and
    splits of the whole matrix."""
    import grader.review as review

    grader = KeywordGrader(GradingSettings(match=match))
    answers = _repeated_answers()
    grades = grader.grade_many(seed_deck.cards[2], answers)
    n = len(answers)
    dense = Similarity(answers, grades, grader.vectors).rows(0, n)
    monkeypatch.setattr(review, "SIMILARITY_BLOCK", 7 * n)
    thresholds = grouping_thresholds(0.7 if match == "meaning" else 0.55)
    similarity = Similarity(answers, grades, grader.vectors)
    kinds = np.unique(similarity.kind).size
    assert kinds < len(set(answers)) < n / 2  # "ISOLATION" is "isolation!"
    levels = Levels(similarity, thresholds)
    worked: list[int] = []
    pairs = similarity.pairs
    monkeypatch.setattr(similarity, "pairs", lambda rows, columns=None: worked.append(np.size(pairs(rows, columns))) or pairs(rows, columns))
    everyone = np.arange(n)
    first = cluster(levels, everyone, 1)
    assert [g.tolist() for g in first] == [g.tolist() for g in _dense_cluster(dense, everyone, thresholds[0])]
    assert sum(worked) < 2 * kinds * kinds < n * n / 4, f"{sum(worked)} pairs"
    x = review.calibration_input(grades)
    for members in [np.sort(np.random.default_rng(1).choice(n, n // 2, replace=False)), *first[:3]]:
        for level, t in enumerate(thresholds, start=1):
            assert [g.tolist() for g in cluster(levels, members, level)] == [g.tolist() for g in _dense_cluster(dense, members, t)]
    for group in first[:8]:
        assert [p.tolist() for p in split(levels, group, x)] == [p.tolist() for p in _dense_split(dense, group, thresholds, x)]


def test_a_kind_a_first_pass_tells_apart_is_grouped_answer_by_answer(seed_deck, monkeypatch):
    """Two answers of a kind can still differ in a cosine's last bits where the first pass worked out their rows: at a
    threshold, that parts them, and grouping them as one would not give the groups it gave."""
    import grader.review as review

    grader = KeywordGrader(GradingSettings(match="meaning"))
    answers = _repeated_answers()[:300]
    grades = grader.grade_many(seed_deck.cards[2], answers)
    n = len(answers)
    similarity = Similarity(answers, grades, grader.vectors)
    threshold, doubt = 0.7, 0.025  # pairs this near a threshold are worked out again (a kind stays at the top)
    kind = similarity.kind
    read = similarity.said & ~similarity.empty & ~similarity.read_by_words
    sim = similarity.rows(0, n)
    centre = int(np.argmax((sim >= threshold).sum(axis=1)))  # the first group's, the first of its kind
    twin = int(np.flatnonzero(kind == kind[centre])[1])
    below = np.flatnonzero(read & read[twin] & (kind != kind[centre]) & (sim[twin] < threshold) & (sim[twin] > threshold - doubt))
    assert below.size > 5
    monkeypatch.setattr(review, "DOUBT", doubt)
    rows = Similarity.rows

    def first_pass(self, start, stop):  # where the twin's row was worked out, these pairs came out just over it
        out = rows(self, start, stop)
        if start <= twin < stop:
            out[twin - start, below] = threshold + 1e-12
        return out

    monkeypatch.setattr(Similarity, "rows", first_pass)
    dense = similarity.rows(0, n)
    as_one = dense.copy()
    as_one[twin] = dense[centre]
    as_one[twin, [centre, twin]] = 1.0
    everyone = np.arange(n)
    expected = [g.tolist() for g in _dense_cluster(dense, everyone, threshold)]
    assert expected != [g.tolist() for g in _dense_cluster(as_one, everyone, threshold)]  # the twin's row makes the groups
    monkeypatch.setattr(review, "SIMILARITY_BLOCK", 7 * n)
    levels = Levels(Similarity(answers, grades, grader.vectors), grouping_thresholds(threshold))
    assert [g.tolist() for g in cluster(levels, everyone, 1)] == expected


@pytest.mark.parametrize("match", ["meaning", "keyword"])
def test_grouping_a_large_question_takes_memory_in_proportion_to_its_answers(seed_deck, match, monkeypatch):
    # 10,000 answers to one question took 1.4 GB (a float64 n x n similarity), then 100 MB (a byte a pair), and
    # 50,000 took 2.5 GB. Now each answer's vector and words, and a block of pairs at a time: less than n x n bytes.
    import tracemalloc

    import grader.review as review

    grader = KeywordGrader(GradingSettings(match=match))
    block = 1 << 16
    monkeypatch.setattr(review, "SIMILARITY_BLOCK", block)
    n = 3000
    answers = [f"{ANSWERS[i % 7]} {'and ' * (i % 5)}{i % 13} {i % 101}" for i in range(n)]
    grades = grader.grade_many(seed_deck.cards[2], answers)
    review_ = QuestionReview(answers, grades, grader.vectors)
    tracemalloc.start()
    try:
        review_.levels  # each answer's vector and words, made ready
        ready, held = tracemalloc.get_traced_memory()[1], tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        groups = review_.pending
        grouping = tracemalloc.get_traced_memory()[1] - held
    finally:
        tracemalloc.stop()
    assert sum(g.size for g in groups) == n and len(groups) > 1
    assert ready < 8192 * n, f"{ready / n:.0f} bytes an answer"  # its vector in float64 (2 KB), its tokens as it is made
    assert grouping < 48 * block + 128 * n < n * n / 2, f"{grouping / 2**20:.1f} MB to group"  # a block of float64 pairs, a few times


def _many_answers(tmp_path: Path, n: int) -> Path:
    """A class of ``n`` answers to the seed deck, every one its own (the seed answers, numbered)."""
    seed = [json.loads(line) for line in (ROOT / "eval" / "seed_dev.jsonl").open(encoding="utf-8")]
    answers = tmp_path / "class.jsonl"
    with answers.open("w", encoding="utf-8") as f:
        for i in range(n):
            row = seed[i % len(seed)]
            f.write(json.dumps({"student": f"s{i % 300}", "card": row["card"], "answer": f"{row['answer']} ({i})"}) + "\n")
    return answers


def test_a_review_holds_each_graded_answer_in_under_two_kilobytes(tmp_path):
    """Each answer was held with its row as an ``AnswerRow`` and its grade as a ``Grade`` with a ``TermMatch`` per
    term, about 9 KB of models: 100,000 answers took 2.1 GB before the first group showed."""
    import tracemalloc

    from grader.review import open_review

    n = 3000
    answers = _many_answers(tmp_path, n)
    settings = GradingSettings(match="keyword")
    open_review(SEED_DECK, answers, settings, tmp_path / "warm.jsonl").log.close()  # modules and caches loaded first
    tracemalloc.start()
    try:
        opened = open_review(SEED_DECK, answers, settings, tmp_path / "d.jsonl")
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    opened.log.close()
    assert len(opened.review.items) == n
    assert held < 2048 * n, f"{held / n:.0f} bytes an answer"  # its row and packed grade: 1.5 KB


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_the_exports_are_written_a_record_at_a_time(tmp_path, suffix):
    """Every answer's record, and then the whole text of --output, were made before anything was written: 5 KB an
    answer at once, 600 MB for 100,000 answers (and also when no export was asked for)."""
    import tracemalloc

    from grader.review import open_review, write_exports

    n = 3000
    settings = GradingSettings(match="keyword")
    opened = open_review(SEED_DECK, _many_answers(tmp_path, n), settings, tmp_path / "d.jsonl")
    opened.log.close()
    write_exports(opened, settings, output=tmp_path / f"warm{suffix}")  # modules loaded first
    tracemalloc.start()
    try:
        write_exports(opened, settings, output=tmp_path / f"final{suffix}")
        write_exports(opened, settings)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (tmp_path / f"final{suffix}").read_bytes() == (tmp_path / f"warm{suffix}").read_bytes()
    assert peak < 512 * n, f"{peak / n:.0f} bytes an answer"  # the final grades, made first: 0.2 KB


def test_a_question_review_decides_splits_and_undoes(seed_deck):
    grader = KeywordGrader(GradingSettings(match="keyword"))
    card = seed_deck.cards[2]
    review = QuestionReview(ANSWERS, grader.grade_many(card, ANSWERS), None)
    assert review.uncertain == 7 and sum(g.size for g in review.pending) == 7
    first = review.ordered()[0]
    review.decide(first, C)
    assert all(int(i) not in set(first.tolist()) for g in review.pending for i in g)
    assert (review.decided[first] == C).all() and review.certain[first].all()
    big = max(review.pending, key=len)
    parts = review.split(big)
    assert sum(p.size for p in parts) == big.size and len(parts) >= 2
    review.undecide(first)
    assert (review.decided == -1).all() and sum(g.size for g in review.pending) == 7


def test_answers_are_grouped_only_when_their_question_is_shown_and_one_question_at_a_time(tmp_path, monkeypatch):
    """Every question's answers were grouped as the review opened, and their levels (n x n bytes) kept to the end:
    100,000 answers to 16 questions held 620 MB of them, and --export-only, which shows no group, waited 20 s."""
    import grader.review as review
    from grader.review import Said, open_review, run_review, write_exports

    worked_out: list[int] = []

    class Counted(Levels):
        def __init__(self, similarity, thresholds):
            worked_out.append(similarity.n)
            super().__init__(similarity, thresholds)

    monkeypatch.setattr(review, "Levels", Counted)
    opened = open_review(SEED_DECK, class_csv(tmp_path), GradingSettings(match="keyword"), tmp_path / "d.jsonl")
    write_exports(opened, GradingSettings(), output=tmp_path / "final.jsonl")
    assert worked_out == []  # exporting shows no group

    class Script:
        interactive = False

        def __init__(self, lines):
            self.lines, self.shown = list(lines), []

        def command(self):
            return self.lines.pop(0) if self.lines else None

        def show(self, shown):
            held = [q.review._levels is not None for q in opened.review.questions]
            self.shown.append((shown.text if isinstance(shown, Said) else shown.question.number, held, list(worked_out)))

    # Q3's first group split and a part accepted; on to Q15; the undo goes back to Q3, where a split needs its levels again.
    script = Script(["s", "a", "n", "u", "s", "q"])
    run_review(opened.review, script)
    opened.log.close()
    groups = [(question, held, computed) for question, held, computed in script.shown if not isinstance(question, str)]
    assert groups == [  # the question shown, whose levels are held, the sizes of the questions whose levels were worked out
        (3, [True, False], [5]),
        (3, [True, False], [5]),
        (3, [True, False], [5]),
        (15, [False, True], [5, 3]),
        (3, [False, False], [5, 3]),  # Q3's groups are kept, its levels not
        (3, [True, False], [5, 3, 5]),  # the split worked them out again
    ]


# --- the decisions file --------------------------------------------------------------------------------


HEADER = '{"type": "header", "format": "grader-review", "version": 1}\n'


@pytest.mark.parametrize(
    "text, error",
    [
        ('{"type": "decision"}\n', "1: not a file of grader review decisions (no header line)"),
        ("not json\n", "1: not a line of grader review decisions"),
        ('{"type": "header", "format": "other", "version": 1}\n', "1: not a file of grader review decisions"),
        ('{"type": "header", "format": "grader-review", "version": 9}\n', "1: written by a newer grader (version 9); this one reads 1"),
        (HEADER + "[1, 2]\n", "2: not a line of grader review decisions"),
        (HEADER + '{"type": "decision", "id": 1, "verdict": "great", "answers": []}\n', "2: a decision needs an id, a verdict"),
        (HEADER + '{"type": "decision", "id": 1, "verdict": "correct", "answers": [{"line": "2"}]}\n', "2: a decision needs"),
        (HEADER + '{"type": "undo"}\n', "2: an undo names the decision it takes back"),
        (HEADER + '{"type": "note"}\n', "2: unknown line type 'note'"),
        (HEADER + HEADER, "2: a second header line"),
    ],
)
def test_a_bad_decisions_file_is_one_error_naming_its_line(tmp_path, text, error):
    path = tmp_path / "d.jsonl"
    path.write_text(text)
    with pytest.raises(GraderError) as err:
        DecisionLog(path).read()
    assert str(err.value).startswith(f"{path}:{error}")


def test_a_decision_cut_short_is_dropped_and_the_rest_kept(tmp_path):
    path = tmp_path / "d.jsonl"
    whole = '{"type": "decision", "id": 1, "verdict": "correct", "answers": [{"line": 2, "key": "k"}]}\n'
    path.write_text(HEADER + whole + '{"type": "decision", "id": 2, "verd')
    log = DecisionLog(path)
    entries, end = log.read()
    assert [e["id"] for e in entries] == [1] and end == len((HEADER + whole).encode())
    log.open(end, {})
    log.append({"type": "undo", "id": 2, "undoes": 1})
    log.close()
    assert path.read_text() == HEADER + whole + '{"type": "undo", "id": 2, "undoes": 1}\n'
    assert DecisionLog(path).read()[0] == []


def test_a_second_review_of_the_same_decisions_is_refused(tmp_path):
    # Two reviews of one class at once (two terminals) both wrote a header and their decisions over each other's:
    # the file could no longer be read. Now the first holds it while it runs.
    path = tmp_path / "d.jsonl"
    first = DecisionLog(path)
    first.open(0, {})
    with pytest.raises(GraderError) as err:
        DecisionLog(path).open(0, {})
    assert str(err.value) == f"{path}: another grader review is using these decisions: finish it (or quit it) first"
    first.append({"type": "decision", "id": 1, "verdict": "correct", "answers": []})
    first.close()
    second = DecisionLog(path)
    entries, end = second.read()
    second.open(end, {})  # free again once the first is closed
    second.close()
    assert [e["id"] for e in entries] == [1] and path.read_text().count("header") == 1


# --- grader review ---------------------------------------------------------------------------------------


CLASS = [
    ("ann", 3, "sharing, aggregation, emulation, isolation"),
    ("bo", 3, "sharing, aggregation, emulation and isolation"),
    ("cy", 3, "sharing and isolation"),
    ("dee", 3, "isolation and sharing"),
    ("eli", 3, "bananas"),
    ("ann", 15, "offline migration and live migration"),
    ("bo", 15, "live and offline migration"),
    ("cy", 15, "moving a VM while it keeps running"),
]


def class_csv(tmp_path: Path, rows=CLASS) -> Path:
    return write_class(tmp_path, rows)


def decisions(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()[1:]]


def test_review_by_script_saves_each_decision_and_exports_the_final_grades(tmp_path):
    answers = class_csv(tmp_path)
    out, book, report = tmp_path / "final.jsonl", tmp_path / "gb.csv", tmp_path / "r.md"
    # Q3's largest group (ann, bo: correct) accepted; cy and dee's group marked partial; the rest left to the calibration.
    result = run_cli("review", DECK, str(answers), "--output", str(out), "--gradebook", str(book), "--report", str(report), input="a\np\nq\n")
    assert result.returncode == 0, result.stderr
    assert "Q3 What are examples of managed execution?" in result.stdout and "Proposed: correct" in result.stdout
    log = tmp_path / "class.review.jsonl"
    made = decisions(log)
    assert [(d["verdict"], d["action"], len(d["answers"])) for d in made] == [("correct", "accept", 2), ("partial", "accept", 2)]
    assert all(d["answers"][0]["line"] in (2, 3, 4, 5) and len(d["answers"][0]["key"]) == 12 for d in made)
    finals = [json.loads(line) for line in out.read_text().splitlines()]
    assert [f["student"] for f in finals] == [r[0] for r in CLASS]  # every answer, in file order
    assert [f["graded_by"] for f in finals[:4]] == ["teacher"] * 4
    assert all({"card", "score", "verdict", "terms", "final_score", "final_verdict", "uncertain"} <= set(f) for f in finals)
    assert result.stderr.endswith("(4 answers decided by you); 4 answers still uncertain.\n")  # eli's and Q15's
    rows = list(csv.reader(book.open()))
    assert rows[0][0] == "student" and rows[1][0] == "ann"
    assert "Final grades: 4 decided by the teacher" in report.read_text()


def test_a_csv_export_runs_nothing_in_a_spreadsheet_as_grade_csv_does(tmp_path):
    """review --output FILE.csv wrote a name or an answer such as =HYPERLINK(...) as a live formula."""
    answers = class_csv(tmp_path, [('=HYPERLINK("http://x","y")', 3, "@sharing"), ("bo", 3, "-isolation")])
    out = tmp_path / "final.csv"
    result = run_cli("review", DECK, str(answers), "--export-only", "--output", str(out))
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(out.open(newline="", encoding="utf-8")))
    assert [(r["student"], r["answer"]) for r in rows] == [("\'=HYPERLINK(\"http://x\",\"y\")", "\'@sharing"), ("bo", "\'-isolation")]
    graded = run_cli("grade", DECK, str(answers), "--csv")
    assert [r["answer"] for r in csv.DictReader(graded.stdout.splitlines())] == [r["answer"] for r in rows]


def test_ctrl_c_while_the_exports_are_written_waits_for_all_of_them(tmp_path, monkeypatch):
    """Stopped between --output and --report, a review left this run's results beside an earlier run's report."""
    from grader import class_outputs
    from grader.review import open_review, write_exports

    answers = class_csv(tmp_path)
    out, report = tmp_path / "final.jsonl", tmp_path / "r.md"
    report.write_text("an earlier run's report\n")
    opened = open_review(SEED_DECK, answers, GradingSettings(), tmp_path / "class.review.jsonl")
    opened.log.close()
    writes_report = class_outputs.write_class_outputs

    def ctrl_c_first(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)  # delivered now: Python runs the handler before the next line
        return writes_report(*args, **kwargs)

    monkeypatch.setattr(class_outputs, "write_class_outputs", ctrl_c_first)
    with pytest.raises(KeyboardInterrupt):
        write_exports(opened, GradingSettings(), output=out, report=report)
    assert len(out.read_text().splitlines()) == len(CLASS)
    assert report.read_text().startswith("# Class report: Virtualization")


def test_review_grades_a_list_of_the_decks_terms_as_grade_does(tmp_path):
    guesses = "sharing, portability, interpreter, aggregation, equivalence, emulation, efficiency, isolation"
    answers = class_csv(tmp_path, [*CLASS[:2], ("fay", 3, guesses)])
    out = tmp_path / "final.jsonl"
    assert run_cli("review", DECK, str(answers), "--export-only", "--output", str(out)).returncode == 0
    fay = json.loads(out.read_text().splitlines()[-1])
    assert (fay["student"], fay["score"], fay["verdict"]) == ("fay", 0.5, "partial")
    assert fay["foreign_terms"] == ["portability", "interpreter", "equivalence", "efficiency"]


def test_review_goes_on_where_it_stopped_and_an_override_is_final(tmp_path):
    answers = class_csv(tmp_path)
    assert run_cli("review", DECK, str(answers), input="a\n").returncode == 0  # the input ends: the decision is kept
    again = run_cli("review", DECK, str(answers), "--export-only", "--output", str(tmp_path / "f.jsonl"))
    assert again.returncode == 0 and again.stdout == ""
    assert "(2 answers decided by you)" in again.stderr
    third = run_cli("review", DECK, str(answers), input="i\nq\n")  # the next group now: cy and dee's
    assert third.returncode == 0
    made = decisions(tmp_path / "class.review.jsonl")
    assert [(d["verdict"], d["action"]) for d in made] == [("correct", "accept"), ("incorrect", "override")]
    run_cli("review", DECK, str(answers), "--export-only", "--output", str(tmp_path / "f.jsonl"))
    finals = {f["student"] + str(f["number"]): f for f in map(json.loads, (tmp_path / "f.jsonl").read_text().splitlines())}
    assert finals["cy3"]["final_verdict"] == "incorrect" and finals["cy3"]["final_score"] == 0.0 and finals["cy3"]["verdict"] == "partial"
    assert finals["ann3"]["final_score"] == finals["ann3"]["score"] == 1.0  # accepted: the grader's own score stays


def test_what_is_left_is_counted_as_the_report_counts_it(tmp_path):
    # Answers to a self-graded card nobody marked were "still uncertain" on stderr (8) and not in the report (6).
    answers = class_csv(tmp_path, [*CLASS, ("ann", 4, "hardware, OS, applications"), ("bo", 4, "layers")])
    report = tmp_path / "r.md"
    result = run_cli("review", DECK, str(answers), "--report", str(report), input="a\n")
    assert result.returncode == 0, result.stderr
    assert result.stderr.endswith("(2 answers decided by you); 6 answers still uncertain, 2 to self-graded cards not marked.\n")
    assert "6 still uncertain." in report.read_text()


def test_undo_takes_back_the_last_decision(tmp_path):
    answers = class_csv(tmp_path)
    assert run_cli("review", DECK, str(answers), input="a\nu\nq\n").returncode == 0
    log = tmp_path / "class.review.jsonl"
    assert [d["type"] for d in decisions(log)] == ["decision", "undo"]
    assert DecisionLog(log).read()[0] == []


def test_undo_after_leaving_a_question_shows_its_group_again(tmp_path):
    # a (Q3's group), n (on to Q15), u: the group came back to Q3, which stayed left behind, so it could not be decided again
    answers = class_csv(tmp_path)
    result = run_cli("review", DECK, str(answers), input="a\nn\nu\nq\n")
    assert result.returncode == 0, result.stderr
    after_undo = result.stdout.split("Undone: correct for 2 answer(s).")[1]
    assert "Q3 What are examples of managed execution?" in after_undo and "Q15" not in after_undo


def test_a_group_of_one_answer_is_not_split(tmp_path):
    answers = class_csv(tmp_path)
    result = run_cli("review", DECK, str(answers), input="a\na\ns\nq\n")  # Q3: ann and bo; cy and dee; eli alone
    assert result.returncode == 0, result.stderr
    assert "A group of one answer cannot be split.\n" in result.stdout and "Split into 1 groups of 1." not in result.stdout


def test_more_shows_every_answer_whole(tmp_path):
    # A group's answers are cut to a line; a long answer could not be read anywhere in the review before it was marked.
    answers = class_csv(tmp_path, [("ann", 3, "it is about " + "running many programs on one computer, " * 6 + "and also emulation, isolation")])
    result = run_cli("review", DECK, str(answers), input="m\nq\n", env={"COLUMNS": "80"})
    cut, whole = result.stdout.split("╭─ Question 1/1", 2)[1:]
    assert "emulation, isolation" not in cut
    assert "│   1. ann              0.50 partial                                           │\n│      it is about running many" in whole
    assert "│      computer, running many programs on one computer, and also emulation,    │\n│      isolation    " in whole


@pytest.mark.parametrize("columns", [80, 100, 120])
def test_a_question_that_fits_the_panel_is_shown_whole(tmp_path, columns):
    """The question was cut 20 columns short of the panel whatever room was left: at 80 columns "Q1 What are 3 main
    characteristics of virtualization…" with 23 empty cells beside it. One longer than the line is still cut to it."""
    question = "What are 3 main characteristics of virtualization environments?"
    long_card = 9  # What is the structure of a hypervisor? What the 3 main components?
    answers = class_csv(tmp_path, [("ann", 1, "managed execution"), ("bo", long_card, "a dispatcher")])
    result = run_cli("review", DECK, str(answers), input="n\nq\n", env={"COLUMNS": str(columns)})
    lines = result.stdout.splitlines()
    assert lines[1] == f"│ Q1 {question}".ljust(columns - 1) + "│"
    q9 = next(line for line in lines if line.startswith("│ Q9 "))
    assert len(q9) == columns and "hypervisor?" in q9  # on its one line, whole or cut to it


def test_marking_some_answers_of_a_group(tmp_path):
    answers = class_csv(tmp_path)
    result = run_cli("review", DECK, str(answers), "--decisions", str(tmp_path / "mine.jsonl"), input="o i 2\nq\n")
    assert result.returncode == 0, result.stderr
    (made,) = decisions(tmp_path / "mine.jsonl")
    assert made["verdict"] == "incorrect" and len(made["answers"]) == 1


def test_decisions_follow_their_answers_when_the_file_is_edited(tmp_path):
    answers = class_csv(tmp_path)
    assert run_cli("review", DECK, str(answers), input="a\n").returncode == 0
    log = tmp_path / "class.review.jsonl"
    class_csv(tmp_path, [("zed", 15, "new answer on top"), *CLASS[1:]])  # a row added, ann's answer gone
    result = run_cli("review", DECK, str(answers), "--export-only", "--output", str(tmp_path / "f.jsonl"))
    assert result.returncode == 0
    assert f"Notice: 1 saved decision names 1 answer no longer in the answers file (kept in {log})" in result.stderr
    finals = [json.loads(line) for line in (tmp_path / "f.jsonl").read_text().splitlines()]
    assert [f["graded_by"] for f in finals if f["student"] == "bo" and f["number"] == 3] == ["teacher"]
    assert len(decisions(log)) == 1  # nothing rewritten


def test_decisions_follow_their_answers_when_the_decks_question_is_edited(tmp_path):
    # A typo fixed in a question gives its card a new id: every decision on it was dropped, said to name answers
    # "no longer in the answers file", and the notice counted answers as decisions ("5 saved decisions" for 2).
    answers = class_csv(tmp_path)
    deck = tmp_path / "deck.md"
    deck.write_text(SEED_DECK.read_text())
    assert run_cli("review", str(deck), str(answers), input="a\np\n").returncode == 0  # Q3: ann and bo, cy and dee
    deck.write_text(SEED_DECK.read_text().replace("What are examples of managed execution?", "What are some examples of managed execution?"))
    result = run_cli("review", str(deck), str(answers), "--export-only", "--output", str(tmp_path / "f.jsonl"))
    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        "Notice: question 3's text has changed in the deck since it was reviewed: your decisions follow its answers\n"
        "Decisions: " + str(tmp_path / "class.review.jsonl") + " (4 answers decided by you); 4 answers still uncertain.\n"
    )
    finals = [json.loads(line) for line in (tmp_path / "f.jsonl").read_text().splitlines()]
    assert [f["graded_by"] for f in finals[:4]] == ["teacher"] * 4
    class_csv(tmp_path, [(name, 3, "something else entirely") for name in ("ann", "bo", "cy", "dee")] + CLASS[4:])
    result = run_cli("review", str(deck), str(answers), "--export-only")
    assert f"Notice: 2 saved decisions name 4 answers no longer in the answers file (kept in {tmp_path / 'class.review.jsonl'})" in result.stderr


# Every command once, across four questions (a self-graded one among them): a split, marks, some answers marked,
# an undo that goes back to a question left, m, n.
WIDE_CLASS = [
    *CLASS[:5],
    ("fay", 3, "I don't know"),
    ("gus", 3, "sharing, portability, interpreter, aggregation, equivalence, emulation, efficiency, isolation"),
    *CLASS[5:],
    ("dee", 15, '=HYPERLINK("x")'),
    ("eli", 15, "cold migration and warm migration"),
    ("ann", 4, "hardware, OS, applications"),
    ("bo", 4, "layers"),
    ("", 1, "portability and managed execution"),
    ("fay", 1, "portability, managed execution, increased security"),
]
WIDE_SCRIPT = "s\na\ni 1\nu\np\nm\no c 1\nn\nc\ni\na\nq\n"


def test_a_scripted_review_shows_its_groups_and_exports_the_records_of_grade_with_the_final_grades(tmp_path, seed_deck):
    """What review shows and writes, pinned: the groups in order, and exports that are grade's records (grade --json,
    --csv) with the final grades added, and the report and gradebook of those records (as grade writes them)."""
    from grader.class_outputs import write_class_outputs
    from grader.writers import FINAL_FIELDS

    answers = class_csv(tmp_path, WIDE_CLASS)
    out, report, book = tmp_path / "final.jsonl", tmp_path / "r.html", tmp_path / "gb.csv"
    flags = ("--output", str(out), "--report", str(report), "--gradebook", str(book))
    result = run_cli("review", DECK, str(answers), *flags, input=WIDE_SCRIPT, env={"COLUMNS": "100"})
    assert result.returncode == 0, result.stderr
    shown = [
        line.strip("│╭╮╰╯─ ") for line in result.stdout.splitlines()
        if line.startswith(("╭", "╰")) or not line.startswith("│") or line.startswith("│   1.")
    ]  # fmt: skip
    assert shown == [
        "Question 1/4 · group of 2", "1. fay              1.00 correct   portability, managed execution, increased security",
        "1 group(s) left here · 2 uncertain here, 16 in all", "Split into 2 groups of 1, 1.",
        "Question 1/4 · group of 1", "1. 0.67 partial   portability and managed execution",
        "2 group(s) left here · 2 uncertain here, 16 in all", "partial: 1 answer(s).",
        "Question 1/4 · group of 1", "1. fay              1.00 correct   portability, managed execution, increased security",
        "1 group(s) left here · 1 uncertain here, 15 in all", "incorrect: 1 answer(s).",
        "Question 2/4 · group of 3", "1. ann              1.00 correct   sharing, aggregation, emulation, isolation",
        "4 group(s) left here · 7 uncertain here, 14 in all", "Undone: incorrect for 1 answer(s).",
        "Question 1/4 · group of 1", "1. fay              1.00 correct   portability, managed execution, increased security",
        "1 group(s) left here · 1 uncertain here, 15 in all", "partial: 1 answer(s).",
        "Question 2/4 · group of 3", "1. ann              1.00 correct   sharing, aggregation, emulation, isolation",
        "4 group(s) left here · 7 uncertain here, 14 in all",
        "Question 2/4 · group of 3", "1. ann              1.00 correct",
        "4 group(s) left here · 7 uncertain here, 14 in all", "correct: 1 answer(s).",
        "Question 2/4 · group of 2", "1. bo               1.00 correct   sharing, aggregation, emulation and isolation",
        "4 group(s) left here · 6 uncertain here, 13 in all", "Question 3 left to the calibration (6 answers still uncertain).",
        "Question 3/4 · group of 1", "1. ann                —  self-grad hardware, OS, applications",
        "2 group(s) left here · 2 uncertain here, 13 in all", "correct: 1 answer(s).",
        "Question 3/4 · group of 1", "1. bo                 —  self-grad layers",
        "1 group(s) left here · 1 uncertain here, 12 in all", "incorrect: 1 answer(s).",
        "Question 4/4 · group of 2", "1. ann              1.00 correct   offline migration and live migration",
        "4 group(s) left here · 5 uncertain here, 11 in all", "correct: 2 answer(s).",
        "Question 4/4 · group of 1", "1. cy               0.00 incorrect moving a VM while it keeps running",
        "3 group(s) left here · 3 uncertain here, 9 in all",
    ]  # fmt: skip
    assert result.stderr.endswith("(7 answers decided by you); 9 answers still uncertain.\n")
    graded = run_cli("grade", DECK, str(answers), "--json").stdout.splitlines()
    lines = out.read_text(encoding="utf-8").splitlines()
    finals = [{k: v for k, v in json.loads(line).items() if k in FINAL_FIELDS} for line in lines]
    assert [line[: len(g) - 1] for line, g in zip(lines, graded, strict=True)] == [g[:-1] for g in graded]
    assert lines == [g[:-1] + ", " + json.dumps(f)[1:] for g, f in zip(graded, finals)]
    assert [(f["final_verdict"], f["final_score"], f["graded_by"], f["uncertain"]) for f in finals] == [
        ("correct", 1.0, "teacher", False), ("correct", 1.0, "grader", True), ("partial", 0.5, "grader", True),
        ("partial", 0.5, "grader", True), ("incorrect", 0.0, "grader", True), ("incorrect", 0.0, "grader", True),
        ("partial", 0.5, "grader", True), ("correct", 1.0, "teacher", False), ("correct", 1.0, "teacher", False),
        ("incorrect", 0.0, "grader", True), ("incorrect", 0.0, "grader", True), ("incorrect", 0.0, "grader", True),
        ("correct", 1.0, "teacher", False), ("incorrect", 0.0, "teacher", False), ("partial", 0.6667, "teacher", False),
        ("partial", 0.5, "teacher", False),
    ]  # fmt: skip
    again_report, again_book = tmp_path / "again.html", tmp_path / "again.csv"
    records = [json.loads(line) for line in lines]
    write_class_outputs(seed_deck, str(answers), records, GradingSettings(), ["student"], report=again_report, gradebook=again_book)
    assert report.read_bytes() == again_report.read_bytes() and book.read_bytes() == again_book.read_bytes()
    # The same decisions exported again, as CSV and a Markdown report.
    out_csv, report_md, again_md = tmp_path / "final.csv", tmp_path / "r.md", tmp_path / "again.md"
    assert run_cli("review", DECK, str(answers), "--export-only", "--output", str(out_csv), "--report", str(report_md)).returncode == 0
    rows = list(csv.DictReader(out_csv.open(newline="", encoding="utf-8")))
    graded_rows = list(csv.DictReader(run_cli("grade", DECK, str(answers), "--csv").stdout.splitlines()))
    assert [{k: v for k, v in r.items() if k not in FINAL_FIELDS} for r in rows] == graded_rows
    assert [[r[k] for k in FINAL_FIELDS] for r in rows] == [[str(f[k]) for k in FINAL_FIELDS] for f in finals]
    write_class_outputs(seed_deck, str(answers), records, GradingSettings(), ["student"], report=again_md, whole_markdown=True)
    assert report_md.read_bytes() == again_md.read_bytes()


def test_a_narrow_terminal_shows_each_answer_on_a_line_of_its_own(tmp_path):
    # At 40 columns the number, name, score and verdict filled the line, and every answer was shown as "…".
    answers = class_csv(tmp_path)
    result = run_cli("review", DECK, str(answers), input="q\n", env={"COLUMNS": "40"})
    lines = result.stdout.splitlines()
    assert lines[:9] == [
        "╭─ Question 1/2 · group of 2 ──────────╮",
        "│ Q3 What are examples of managed      │",
        "│ execution?                           │",
        "│ Proposed: correct   grader: 2        │",
        "│ correct                              │",
        "│                                      │",
        "│   1. ann              1.00 correct   │",
        "│      sharing, aggregation,…          │",
        "│   2. bo               1.00 correct   │",
    ]
    assert lines[-3:] == ["│ 3 group(s) left here · 5 uncertain   │", "│ here, 8 in all                       │", "╰──────────────────────────────────────╯"]


@pytest.mark.parametrize(
    "args, stdin, code, error",
    [
        (("{answers}",), "a\nx\n", 1, "Error: <stdin>:2: 'x' is not a review command"),
        (("{answers}",), "i 9\n", 1, "Error: <stdin>:1: the group has answers 1 to 2, not 9"),
        (("-",), "", 2, "review reads your keys on standard input"),
        (("{answers}", "--output", "{tmp}/f.txt"), "", 2, "--output must end in .jsonl or .csv"),
        (("{answers}", "--decisions", "{answers}"), "", 1, "Error: {answers}: will not write over the answers file; choose another file"),
        (("{answers}", "--gradebook", "{tmp}/g.csv", "--student", "who"), "", 1, "Error: --student who: the answers have no such column"),
        (("{tmp}/missing.csv",), "", 1, "Error: {tmp}/missing.csv: "),
    ],
)
def test_review_errors(tmp_path, args, stdin, code, error):
    answers = class_csv(tmp_path)
    fill = {"answers": answers, "tmp": tmp_path}
    result = run_cli("review", DECK, *(a.format(**fill) for a in args), input=stdin)
    assert result.returncode == code
    assert error.format(**fill) in result.stderr
    if code == 1 and stdin.startswith("a\n"):
        assert len(decisions(tmp_path / "class.review.jsonl")) == 1  # what was decided before the bad line is kept


@pytest.mark.parametrize(
    "flag, path, what",
    [("--gradebook", "missing/g.csv", "gradebook"), ("--report", "missing/r.md", "report"), ("--output", "missing/f.jsonl", "results")],
)
def test_an_export_that_cannot_be_written_is_refused_before_the_review_starts(tmp_path, flag, path, what):
    answers = class_csv(tmp_path)
    result = run_cli("review", DECK, str(answers), flag, str(tmp_path / path), input="a\n")
    assert (result.returncode, result.stderr) == (1, f"Error: {tmp_path / path}: cannot write {what}: No such file or directory\n")
    assert result.stdout == "" and not (tmp_path / "class.review.jsonl").exists()  # no group shown, nothing decided


def test_a_bad_decisions_file_stops_review_with_one_line(tmp_path):
    answers = class_csv(tmp_path)
    (tmp_path / "class.review.jsonl").write_text(HEADER + "oops\n")
    result = run_cli("review", DECK, str(answers), input="a\n")
    assert result.returncode == 1
    assert result.stderr == f"Error: {tmp_path / 'class.review.jsonl'}:2: not a line of grader review decisions\n"


def test_review_while_another_runs_is_one_line_and_writes_nothing(tmp_path):
    answers = class_csv(tmp_path)
    log = tmp_path / "class.review.jsonl"
    running = DecisionLog(log)
    running.open(0, {"answers": "class.csv"})  # the review in the other terminal
    result = run_cli("review", DECK, str(answers), input="a\n")
    running.close()
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"Error: {log}: another grader review is using these decisions: finish it (or quit it) first\n"
    assert log.read_text() == '{"type": "header", "format": "grader-review", "version": 1, "answers": "class.csv"}\n'


@pytest.mark.slow
def test_ctrl_c_keeps_every_decision_and_the_same_command_goes_on(tmp_path):
    answers = class_csv(tmp_path)
    log = tmp_path / "class.review.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "grader", "review", DECK, str(answers)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "COLUMNS": "100"},
    )  # fmt: skip
    proc.stdin.write("a\n")
    proc.stdin.flush()
    deadline = time.monotonic() + 60
    while not (log.exists() and log.read_text().count("\n") == 2):  # the header and the decision, whole
        assert time.monotonic() < deadline, "no decision saved"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert f"Stopped: every decision is saved in {log} (1 this time); the same command goes on." in err
    assert [d["verdict"] for d in decisions(log)] == ["correct"]
    again = run_cli("review", DECK, str(answers), "--export-only")
    assert "(2 answers decided by you)" in again.stderr


def test_review_sim_runs_on_a_small_dataset(tmp_path):
    data = tmp_path / "shared" / "datasets" / "tiny"
    data.mkdir(parents=True)
    rows = [
        {"question_id": "q", "question": "What does a hypervisor do?", "reference_answer": "It runs and isolates virtual machines.",
         "answer": a, "score": s, "max_score": 1.0}
        for a, s in [("runs virtual machines and isolates them", 1.0), ("it isolates virtual machines", 1.0), ("bananas", 0.0), ("no idea", 0.0), ("runs programs", 0.5)] * 3
    ]  # fmt: skip
    (data / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = subprocess.run(
        [sys.executable, str(ROOT / "eval" / "review_sim.py"), "tiny", "--json", "--keyword"],
        capture_output=True, text=True, env={**os.environ, "GRADER_SHARED": str(tmp_path / "shared")}, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (tiny,) = json.loads(result.stdout)["datasets"]
    assert tiny["answers"] == 15 and tiny["manual"]["actions"] == 15
    assert tiny["groups+cal"]["actions"] <= tiny["rows"]["actions"]


@pytest.mark.slow
def test_review_at_a_terminal_takes_one_key_per_group(tmp_path, isolated_env):
    pexpect = pytest.importorskip("pexpect")
    answers = class_csv(tmp_path)
    env = {**os.environ, "GRADER_HOME": str(isolated_env), "TERM": "dumb", "COLUMNS": "100", "LINES": "40"}
    child = pexpect.spawn(
        sys.executable, ["-m", "grader", "review", DECK, str(answers)], cwd=str(ROOT), env=env, encoding="utf-8", timeout=30, dimensions=(40, 100)
    )  # fmt: skip
    child.expect_exact("q quit")
    child.send("a")  # one key, no Enter: the largest group accepted
    child.expect_exact("correct: 2 answer(s).")
    child.expect_exact("q quit")
    child.send("x")  # not a key: said, and asked again
    child.expect_exact("'x' is not a review command")
    child.expect_exact("q quit")
    child.send("o")
    child.expect_exact("e.g. i 2 5-7): ")
    child.sendline("i 1")
    child.expect_exact("incorrect: 1 answer(s).")
    child.expect_exact("q quit")
    child.send("q")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert [(d["verdict"], len(d["answers"])) for d in decisions(tmp_path / "class.review.jsonl")] == [("correct", 2), ("incorrect", 1)]


@pytest.mark.parametrize("flags", [("--export-only", "--output", "final.jsonl"), ()])
def test_ctrl_c_while_the_answers_are_graded_says_so_and_writes_nothing(tmp_path, monkeypatch, flags):
    """Stopped before any group was shown (reading and grading a large class takes a while), review exited 130 without a word."""
    import grader.batch

    answers = class_csv(tmp_path)
    log = tmp_path / "class.review.jsonl"
    log.write_text('{"type": "header", "format": "grader-review", "version": 1, "answers": "class.csv"}\n')
    before = log.read_bytes()

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt
        yield

    monkeypatch.setattr(grader.batch, "grade_rows", ctrl_c)
    result = run_cli("review", DECK, str(answers), *[str(tmp_path / f) if f.endswith(".jsonl") else f for f in flags], input="a\n")
    assert (result.returncode, result.stdout) == (130, "")
    assert result.stderr == f"Interrupted while the answers were read and graded: nothing written; the decisions in {log} are as they were.\n"
    assert log.read_bytes() == before and not (tmp_path / "final.jsonl").exists()
