"""How many teacher actions grading by groups saves: a simulated teacher on the training splits.

    .venv/bin/python eval/review_sim.py                      # every dataset in ../shared/datasets
    .venv/bin/python eval/review_sim.py mohler saf_en --json # some, as JSON

For each question of each training split the human grades play the teacher,
who wants the final verdicts (correct / partial / incorrect) to agree with
theirs on 95% of the answers. One action is one key: a verdict for one answer
or for a whole group, or a split. The ways of getting there:

* ``manual``: marking every answer by hand; 95% needs 95% of the answers marked.
* ``rows``: going through the grader's verdicts row by row, in file order,
  correcting the wrong ones (each row looked at is one action); the rest keep
  the grader's verdict.
* ``rows+cal``: the same, with the grader re-calibrated on the marks so far.
* ``groups``: ``grader review``'s groups, largest first, accepted or overridden
  whole; in a group whose answers deserve different marks the teacher marks
  the odd ones out one by one (``o i 2 5``: one action per answer) and then
  the rest (``--policy split``: splits it with ``s`` instead); no calibration.
* ``groups+cal``: ``grader review`` as it is: groups, and the calibration
  learned from the marks applied to the rest, groups holding the most
  uncertain answers first.

The teacher's verdict: a label where the dataset has one (SemEval's correct vs
the rest, SAF's three), else the human score as a share of the maximum put
through the grader's own verdict thresholds (0.7 correct, 0.2 partial).
Reads the datasets where they are; writes nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import grader.review as review_module
from grader.evaluation.datasets import load_eval_set
from grader.grading import KeywordGrader
from grader.models import Verdict
from grader.review import CLASS_OF, GROUP_SIMILARITY, GROUP_SIMILARITY_WORDS, QuestionReview
from grader.scoring import GradingSettings, verdict_for

DATASETS = Path(os.environ.get("GRADER_SHARED", ROOT.parent / "shared")) / "datasets"
TARGET = 0.95
POLICY = "pick"  # what the teacher does with a mixed group: pick the odd answers out, or split it (s)
METHODS = ("manual", "rows", "rows+cal", "groups", "groups+cal")
LABELS = {"correct": Verdict.correct, "partially_correct": Verdict.partial, "partial": Verdict.partial}


def teacher_verdict(item, settings: GradingSettings) -> Verdict:
    if item.label is not None:
        return LABELS.get(item.label, Verdict.incorrect)
    return verdict_for(item.score / item.max_score, settings)


def graded_questions(path: Path, settings: GradingSettings, vectors):
    """(question id, answers, grades, teacher classes) for each question of a split (best grade over its references)."""
    evalset = load_eval_set(path)
    grader = KeywordGrader(settings, vectors)
    by_question = defaultdict(list)
    for it in evalset.items:
        by_question[it.question_id].append(it)
    for qid, items in by_question.items():
        answers = [it.answer for it in items]
        best = grader.grade_many(evalset.cards[qid], answers)
        gold = np.array([CLASS_OF[teacher_verdict(it, settings)] for it in items], dtype=np.intp)
        yield qid, answers, best, gold


def actions_to_target(curve: list[tuple[int, float]]) -> int:
    """The first action count at which agreement reaches the target."""
    return next(a for a, agreement in curve if agreement >= TARGET - 1e-12)


def by_rows(review: QuestionReview, gold: np.ndarray) -> list[tuple[int, float]]:
    curve = [(0, float((review.proposal == gold).mean()))]
    for i in range(review.n):
        review.decided[i] = gold[i]
        review.refresh()
        curve.append((i + 1, float((review.proposal == gold).mean())))
        if curve[-1][1] >= TARGET:
            break
    return curve


def by_groups(review: QuestionReview, gold: np.ndarray, stop_when_certain: list | None = None) -> list[tuple[int, float]]:
    """The simulated teacher, on the groups in ``grader review``'s order: a group whose answers all deserve one
    verdict gets it (accept or override: one action); in a mixed one the odd answers out are marked one by one
    and then the rest (``--policy split``: it is split, one action). ``stop_when_certain`` gets (actions,
    agreement) the moment no answer is uncertain, where ``grader review`` stops showing groups (without --all)."""
    actions = 0
    curve = [(0, float((review.proposal == gold).mean()))]
    while review.pending:
        if stop_when_certain is not None and not stop_when_certain and review.uncertain == 0:
            stop_when_certain.append((actions, curve[-1][1]))
        group = review.ordered()[0]
        labels, counts = np.unique(gold[group], return_counts=True)
        if labels.size == 1:
            review.decide(group, int(labels[0]))
            actions += 1
        elif POLICY == "pick":
            # the odd answers out marked one by one ('o i 2 5' counts one action per answer), then the rest as a group
            major = int(labels[np.argmax(counts)])
            for i in group[gold[group] != major]:
                review.decide(np.array([i]), int(gold[i]))
                actions += 1
            review.decide(group[gold[group] == major], major)
            actions += 1
        else:
            review.split(group)
            actions += 1
        curve.append((actions, float((review.proposal == gold).mean())))
    if stop_when_certain is not None and not stop_when_certain:
        stop_when_certain.append((actions, curve[-1][1]))
    return curve


def simulate(answers, grades, gold, vectors, threshold: float | None) -> dict:
    n = len(answers)
    out = {"answers": n, "manual": math.ceil(TARGET * n)}
    out["rows"] = actions_to_target(by_rows(QuestionReview(answers, grades, vectors, threshold=threshold, calibrate=False), gold))
    out["rows+cal"] = actions_to_target(by_rows(QuestionReview(answers, grades, vectors, threshold=threshold), gold))
    groups = QuestionReview(answers, grades, vectors, threshold=threshold, calibrate=False)
    out["groups"] = actions_to_target(by_groups(groups, gold))
    certain: list = []
    review = QuestionReview(answers, grades, vectors, threshold=threshold)
    out["initial_groups"] = len(review.pending)
    out["grader_agreement"] = float((review.proposal == gold).mean())
    curve = by_groups(review, gold, certain)
    out["groups+cal"] = actions_to_target(curve)
    out["certain_at"], out["certain_agreement"] = certain[0]
    out["all_groups"] = curve[-1][0]
    return out


def summarise(name: str, per_question: list[dict]) -> dict:
    answers = sum(q["answers"] for q in per_question)
    row = {"dataset": name, "questions": len(per_question), "answers": answers}
    for m in METHODS:
        total = sum(q[m] for q in per_question)
        row[m] = {"actions": total, "per_answer": total / answers, "median_per_question": float(np.median([q[m] for q in per_question]))}
    row["grader_agreement"] = sum(q["grader_agreement"] * q["answers"] for q in per_question) / answers
    row["initial_groups"] = sum(q["initial_groups"] for q in per_question)
    row["stop_when_certain"] = {
        "actions": sum(q["certain_at"] for q in per_question),
        "agreement": sum(q["certain_agreement"] * q["answers"] for q in per_question) / answers,
    }
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("datasets", nargs="*", help="dataset folder names (default: every one with a train.jsonl)")
    parser.add_argument("--threshold", type=float, default=None, help="grouping similarity (default: grader review's)")
    parser.add_argument("--keyword", action="store_true", help="no semantic tier: group by words and terms")
    parser.add_argument("--policy", choices=("pick", "split"), default="pick", help="a mixed group: mark its odd answers one by one (pick), or split it (s)")
    parser.add_argument("--support", type=int, default=None, help="marks behind a bound (default: grader review's)")
    parser.add_argument("--largest-first", action="store_true", help="groups in plain largest-first order")
    parser.add_argument("--json", action="store_true", help="one JSON document")
    args = parser.parse_args(argv)
    global POLICY
    POLICY = args.policy
    threshold = args.threshold or (GROUP_SIMILARITY_WORDS if args.keyword else GROUP_SIMILARITY)
    if args.support is not None:
        review_module.SUPPORT = args.support
    if args.largest_first:
        QuestionReview.ordered = lambda self: sorted(self.pending, key=lambda g: (-g.size, int(g[0])))
    names = args.datasets or sorted(p.parent.name for p in DATASETS.glob("*/train.jsonl"))
    settings = GradingSettings(match="keyword" if args.keyword else "meaning")
    vectors = None
    if not args.keyword:
        from grader.semantic import load

        vectors = load()
    rows = []
    for name in names:
        start = time.perf_counter()
        per_question = [simulate(a, g, gold, vectors, threshold) for _, a, g, gold in graded_questions(DATASETS / name / "train.jsonl", settings, vectors)]
        row = summarise(name, per_question)
        row["seconds"] = round(time.perf_counter() - start, 1)
        rows.append(row)
        if not args.json:
            print_row(row)
    if args.json:
        print(json.dumps({"threshold": threshold, "semantic": vectors is not None, "support": review_module.SUPPORT, "largest_first": args.largest_first, "policy": POLICY, "target": TARGET, "datasets": rows}, indent=2))
    else:
        total = {m: sum(r[m]["actions"] for r in rows) for m in METHODS}
        answers = sum(r["answers"] for r in rows)
        print("all: " + ", ".join(f"{m} {total[m]} ({total[m] / answers:.0%})" for m in METHODS) + f" of {answers} answers")
    return 0


def print_row(row: dict) -> None:
    parts = [f"{m} {row[m]['actions']} ({row[m]['per_answer']:.0%}, median {row[m]['median_per_question']:g})" for m in METHODS]
    stop = row["stop_when_certain"]
    print(
        f"{row['dataset']}: {row['questions']} questions, {row['answers']} answers, grader agrees {row['grader_agreement']:.0%}, "
        f"{row['initial_groups']} groups; " + "; ".join(parts)
        + f"; stop at 0 uncertain: {stop['actions']} actions, agreement {stop['agreement']:.1%} [{row['seconds']} s]",
        flush=True,
    )


if __name__ == "__main__":
    raise SystemExit(main())
