"""What graded answers to the same question say about a new one: the grades of its nearest neighbours.

Where a question already has graded answers (a ``--train`` file, or the other
folds of a per-question cross-validation), the answers most like a new one are
the best evidence of its grade: students who write the same thing get the same
mark, whatever words the key uses. An answer is a bag of its word stems, stem
pairs and character 4-grams (so a typo still shares most of its features),
weighted by TF-IDF over the graded answers; its *neighbour grade* is the
similarity-weighted mean grade, as a share of the maximum, of its ``NEIGHBOURS``
most similar graded answers. Calibration blends it with the grader's own score
(``calibration.blend``). Pure numpy: one similarity matrix per question.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from ..normalize import tokenize

# How many graded answers vote: 10-50 all did well on the training splits (eval/RESULTS.md).
NEIGHBOURS = 20
# A neighbour's vote never falls to nothing, so an answer unlike every graded one still gets their mean.
MIN_WEIGHT = 1e-3


def answer_features(answer: str) -> Counter[str]:
    """Word stems, adjacent stem pairs and the character 4-grams of each word (with its edges)."""
    stems = [t.stem for t in tokenize(answer)]
    features: Counter[str] = Counter(stems)
    features.update(f"{a} {b}" for a, b in zip(stems, stems[1:]))
    for word in answer.lower().split():
        edged = f"<{word}>"
        features.update(f"#{edged[i:i + 4]}" for i in range(max(1, len(edged) - 3)))
    return features


def answer_similarities(answers: Sequence[Counter[str]]) -> np.ndarray:
    """Cosine similarity of every pair of answers to one question, features weighted by TF-IDF over them.

    Only the answers' words are used, never their grades, so graded and new
    answers can share one matrix.
    """
    df: Counter[str] = Counter()
    for bag in answers:
        df.update(bag.keys())
    n = len(answers)
    column = {name: j for j, name in enumerate(df)}
    idf = np.array([math.log((1 + n) / (1 + count)) + 1 for count in df.values()], dtype=np.float32)
    rows, cols, values = [], [], []
    for r, bag in enumerate(answers):
        for name, count in bag.items():
            rows.append(r)
            cols.append(column[name])
            values.append(1 + math.log(count))
    m = np.zeros((n, len(column)), dtype=np.float32)
    m[rows, cols] = values
    m *= idf
    m /= np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)
    return m @ m.T


def _vote(similarity: np.ndarray, grades: np.ndarray, k: int) -> np.ndarray:
    """Similarity-weighted mean grade of each row's ``k`` most similar columns."""
    k = min(k, similarity.shape[1])
    nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
    weight = np.take_along_axis(similarity, nearest, axis=1).clip(min=MIN_WEIGHT)
    return (weight * grades[nearest]).sum(axis=1) / weight.sum(axis=1)


def neighbour_grades(among: np.ndarray, grades: np.ndarray, new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Neighbour grades of the graded answers themselves (each leaving itself out) and of the new ones.

    ``among``: similarities of the graded answers to each other; ``new``: of the
    new answers (rows) to the graded ones; ``grades``: the graded answers'
    grades as shares of the maximum. The graded answers' own values are what a
    calibration is fitted on, so each is computed as if that answer were new.
    """
    grades = np.asarray(grades, dtype=float)
    if len(grades) < 2:
        fallback = float(grades.mean()) if len(grades) else 0.0
        return np.full(len(grades), fallback), np.full(new.shape[0], fallback)
    among = among.copy()
    np.fill_diagonal(among, -np.inf)
    return _vote(among, grades, min(NEIGHBOURS, len(grades) - 1)), _vote(new, grades, NEIGHBOURS)
