"""Write every output grader produces on the bundled deck, the seed sets and the datasets to a folder.

    python eval/snapshot.py OUT_DIR [--datasets DIR]
    diff -r before/ after/

For changes that must not change behaviour (a refactor, a speed-up): snapshot
before, snapshot after, and compare. It covers the command outputs byte for
byte (`cards`, `lint`, `grade` as table, JSON Lines, CSV and report, `eval`
with its timing fields removed) and every keyword grade, term by term, of every
answer in the training splits under ``--datasets`` (default ``../shared/datasets``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DECK = ROOT / "decks" / "virtualization.md"
SEED_SETS = [ROOT / "eval" / "seed_dev.jsonl", ROOT / "eval" / "seed_test.jsonl"]


def run(out: Path, name: str, *args: str) -> None:
    """Run the grader command and keep its stdout, stderr and exit code under ``name``."""
    env = {**os.environ, "COLUMNS": "200", "GRADER_HOME": str(out / ".home"), "NO_COLOR": "1"}
    done = subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, env=env, cwd=ROOT)
    (out / f"{name}.out").write_text(done.stdout, encoding="utf-8")
    (out / f"{name}.err").write_text(f"exit {done.returncode}\n{done.stderr}", encoding="utf-8")


def without_timing(path: Path) -> None:
    """Drop the wall-clock fields of a saved ``eval --json`` run, which differ on every run."""
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        return
    run_ = json.loads(text)
    run_.pop("speed", None)
    path.write_text(json.dumps(run_, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def dataset_grades(path: Path, out: Path) -> None:
    """Every keyword grade of a dataset's answers, one JSON line each, in file order."""
    try:
        from grader.evaluation.datasets import load_eval_set
    except ImportError:
        from grader.datasets import load_eval_set
    from grader.grading import KeywordGrader

    evalset = load_eval_set(path)
    grader = KeywordGrader()
    with out.open("w", encoding="utf-8") as f:
        for item in evalset.items:
            f.write(grader.grade(evalset.cards[item.question_id], item.answer).model_dump_json() + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    run(out, "cards", "cards", str(DECK))
    run(out, "cards.json", "cards", str(DECK), "--json")
    corpus = ROOT.parent / "shared" / "decks-corpus"
    if corpus.is_dir():
        run(out, "lint.corpus", "lint", str(corpus))
        for deck in sorted(corpus.rglob("*.md")):
            run(out, f"cards.corpus.{deck.relative_to(corpus).as_posix().replace('/', '.')}", "cards", str(deck), "--json")
    for seed in SEED_SETS:
        stem = seed.stem
        run(out, f"grade.{stem}", "grade", str(DECK), str(seed))
        run(out, f"grade.{stem}.json", "grade", str(DECK), str(seed), "--json")
        report = out / f"grade.{stem}.report.md"
        run(out, f"grade.{stem}.csv", "grade", str(DECK), str(seed), "--csv", "--report", str(report))
        report.write_text(report.read_text(encoding="utf-8").replace(str(report), "REPORT"), encoding="utf-8")
        run(out, f"eval.{stem}", "eval", str(seed), "--json")
        without_timing(out / f"eval.{stem}.out")
    for data in sorted(args.datasets.glob("*/train.jsonl")):
        name = data.parent.name
        run(out, f"eval.{name}", "eval", str(data), "--json")
        without_timing(out / f"eval.{name}.out")
        run(out, f"eval.{name}.per-question", "eval", str(data), "--json", "--per-question")
        without_timing(out / f"eval.{name}.per-question.out")
        dataset_grades(data, out / f"grades.{name}.jsonl")
    print(f"snapshot written to {out}")


if __name__ == "__main__":
    main()
