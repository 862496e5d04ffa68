"""Graded answers to the same question count in per-question calibration (evaluation.neighbours)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from grader.evaluation import CallableGrader, EvalSet, evaluate, load_eval_set
from grader.evaluation import calibration, neighbours
from grader.evaluation.neighbours import answer_features, answer_similarities, neighbour_grades
from grader.scoring import GradingSettings

FAST = {"resamples": 50}
SETTINGS = GradingSettings()
# Right and wrong answers that share no word with the key: the grader sees nothing, a teacher's marks do.
RIGHT = ["the powerhouse makes the cell's fuel", "powerhouse of the cell, it makes fuel", "it makes fuel, the cell's powerhouse"]
WRONG = ["it stores the genes of the cell", "the genes are stored there", "storage of genes for the cell"]


def labelled_set(tmp_path, per_question: int, questions: int = 3, name: str = "data.jsonl") -> EvalSet:
    rng = np.random.default_rng(0)
    rows = []
    for q in range(questions):
        for a in range(per_question):
            right = bool(rng.integers(0, 2))
            answer = str(rng.choice(RIGHT if right else WRONG))
            rows.append(
                {
                    "question_id": f"q{q}",
                    "id": f"q{q}-{a}",
                    "question": "What do mitochondria do?",
                    "reference_answer": "Cellular respiration producing ATP.",
                    "answer": answer,
                    "label_2way": "correct" if right else "incorrect",
                }
            )
    path = tmp_path / name
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return load_eval_set(path)


BLIND = CallableGrader(lambda card, answer: 0.5, name="blind")


def test_a_typo_is_nearer_than_another_answer():
    sims = answer_similarities([answer_features(a) for a in ("the heart pumps blood", "the hart pumps blod", "plants make sugar")])
    assert sims[0, 0] == pytest.approx(1.0, abs=1e-5)
    assert sims[0, 1] > 0.3 > sims[0, 2]


def test_a_graded_answer_is_predicted_without_itself():
    """The fitted values must be what a new answer would get, or calibration trusts the prediction too much:
    each is the prediction of the regression fitted without that answer."""
    rng = np.random.default_rng(0)
    bags = rng.random((12, 6))
    bags /= np.linalg.norm(bags, axis=1, keepdims=True)
    similar, grades = bags @ bags.T, rng.random(12)
    left_out, new = neighbour_grades(similar, grades, similar[:2])
    for i in range(12):
        others = np.delete(np.arange(12), i)
        _, alone = neighbour_grades(similar[np.ix_(others, others)], grades[others], similar[np.ix_([i], others)])
        assert alone[0] == pytest.approx(left_out[i])
    # identical answers: the one graded 1 is predicted from the two graded 0, and a new one gets less than their mean
    among, new = neighbour_grades(np.ones((3, 3)), np.array([1.0, 0.0, 0.0]), np.ones((1, 3)))
    assert among.tolist() == pytest.approx([0.0, 0.4, 0.4])
    assert 0 < new[0] < 1 / 3


def test_per_question_calibration_learns_from_graded_answers(tmp_path):
    es = labelled_set(tmp_path, per_question=60)
    run = evaluate(es, BLIND, SETTINGS, scope="question", **FAST)
    assert run.calibration.neighbours == neighbours.MIN_GRADED
    assert run.tasks["label_2way"].systems["calibrated"].metrics["accuracy"].value == pytest.approx(1.0)
    # unseen questions have no graded answers to ask
    assert evaluate(es, BLIND, SETTINGS, scope="global", **FAST).calibration.neighbours == 0


def test_without_graded_answers_a_blind_grader_stays_blind(tmp_path, monkeypatch):
    monkeypatch.setattr(calibration, "NEIGHBOUR_WEIGHT", 0.0)
    run = evaluate(labelled_set(tmp_path, per_question=60), BLIND, SETTINGS, scope="question", **FAST)
    assert run.calibration.neighbours == 0
    assert run.tasks["label_2way"].systems["calibrated"].metrics["accuracy"].value < 0.7


def test_a_few_graded_answers_do_not_count(tmp_path, monkeypatch):
    """Five folds of 15 answers leave 12 to fit on, too few: the grader's score alone decides."""
    es = labelled_set(tmp_path, per_question=15)
    voted = evaluate(es, BLIND, SETTINGS, scope="question", **FAST)
    monkeypatch.setattr(calibration, "NEIGHBOUR_WEIGHT", 0.0)
    alone = evaluate(es, BLIND, SETTINGS, scope="question", **FAST)
    assert [it.predicted for it in voted.items] == [it.predicted for it in alone.items]


def test_a_training_file_predicts_the_answers_it_does_not_hold(tmp_path):
    train = labelled_set(tmp_path, per_question=40, name="train.jsonl")
    test = labelled_set(tmp_path, per_question=40, name="test.jsonl")
    test = EvalSet(test.path, test.name, [it.model_copy(update={"id": f"t-{it.id}"}) for it in test.items], test.cards)
    run = evaluate(test, BLIND, SETTINGS, train=train, scope="question", **FAST)
    assert run.calibration.mode == "train" and run.calibration.neighbours == neighbours.MIN_GRADED
    assert run.tasks["label_2way"].systems["calibrated"].metrics["accuracy"].value == pytest.approx(1.0)
