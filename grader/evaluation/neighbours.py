"""What graded answers to the same question say about a new one: the grade their similarities predict.

Where a question already has graded answers (a ``--train`` file, or the other
folds of a per-question cross-validation), the answers most like a new one are
the best evidence of its grade: students who write the same thing get the same
mark, whatever words the key uses. An answer is a bag of its word stems, stem
pairs and character 4-grams (so a typo still shares most of its features),
weighted by TF-IDF over the question's answers; its *neighbour grade*, as a
share of the maximum, is what kernel ridge regression on those similarities
predicts from the graded answers' grades. Every graded answer counts, each as
far as the others do not already say the same, which beat a vote of the 20
nearest on every training split (eval/RESULTS.md). Calibration blends it with
the grader's own score (``calibration.blend``). Pure numpy: one similarity
matrix per question.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from ..normalize import tokenize

# Fewer graded answers than this to fit on make a noisy prediction (the seed deck's five or six a card).
MIN_GRADED = 20
# The ridge penalty: 0.3 and 1 did alike on the training splits, 3 worse (eval/RESULTS.md).
RIDGE_STRENGTH = 1.0
# A constant feature every answer has, so the regression learns the question's mean grade as well.
BIAS = 1.0


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


def neighbour_grades(among: np.ndarray, grades: np.ndarray, new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Neighbour grades of the graded answers themselves (each leaving itself out) and of the new ones.

    ``among``: similarities of the graded answers to each other; ``new``: of the
    new answers (rows) to the graded ones; ``grades``: the graded answers'
    grades as shares of the maximum. The graded answers' own values are what a
    calibration is fitted on, so each is the exact leave-one-out prediction
    (from the hat matrix's diagonal), as if that answer were new.
    """
    grades = np.asarray(grades, dtype=float)
    if len(grades) < 2:
        fallback = float(grades.mean()) if len(grades) else 0.0
        return np.full(len(grades), fallback), np.full(new.shape[0], fallback)
    values, vectors = np.linalg.eigh(among.astype(float) + BIAS)
    values = values.clip(min=0.0)  # similarities of TF-IDF vectors: positive semi-definite up to rounding
    shrink = values / (values + RIDGE_STRENGTH)
    weights = vectors @ ((vectors.T @ grades) / (values + RIDGE_STRENGTH))
    fitted = vectors @ (shrink * (vectors.T @ grades))
    leverage = (vectors**2 * shrink).sum(axis=1)
    left_out = grades - (grades - fitted) / np.maximum(1.0 - leverage, 1e-9)
    predicted = (new.astype(float) + BIAS) @ weights
    return left_out.clip(0.0, 1.0), predicted.clip(0.0, 1.0)
