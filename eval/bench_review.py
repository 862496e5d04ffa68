"""Benchmark: ``grader review`` of a big class, to its first group and to its exports, against a baseline checkout.

    python eval/bench_review.py --against /tmp/base             # 100,000 answers: about five minutes on 2 cores
    python eval/bench_review.py --rows 5000 --repeat 5
    python eval/bench_review.py --against /tmp/base --rows 0 --one-question 50000   # one question's 50,000 answers
    python eval/bench_review.py --against /tmp/base --rows 0 --one-question 50000 --match keyword   # by words alone

``--against DIR`` is another checkout (a directory holding ``grader/``, e.g.
``git archive main | tar -x -C /tmp/base``); each figure is measured for it
and for this one in the same run, alternating, each in a process of its own
with ``PYTHONPATH`` pointing at its checkout and an empty home. The answers
are ``eval/bench.py``'s (the seed answers, mutated) to the bundled deck.
Figures, medians of ``--repeat`` runs:
- ``first group``: ``q`` on standard input, no export: wall seconds and peak
  memory (max RSS, from ``wait4``) of reading, grading and grouping the class
  until the first group is shown;
- ``exports``: ``--export-only`` with ``--output`` (JSON Lines), ``--report``
  (HTML) and ``--gradebook``.
- ``one question``, with ``--one-question N``: a class of N answers to the
  deck's first question (every card's seed answers, mutated, so some are
  right and most are about something else), reviewed to its first group and
  three groups accepted (``a``), then its exports from those decisions.
With ``--against``, the exports of the two checkouts must be byte-identical,
and so must the answers each accepted group held (the decisions files, less
their times).
The machine is shared: compare figures from one run, as ratios.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DECK = ROOT / "decks" / "virtualization.md"
EXPORTS = ("final.jsonl", "report.html", "gradebook.csv")
ACCEPTED = "a\na\na\nq\n"  # the first three groups of one question, as they come


def one_question(path: Path, rows: int) -> Path:
    """``rows`` answers to the deck's first question: ``eval/bench.py``'s answers, each given to question 1."""
    sys.path.insert(0, str(ROOT / "eval"))
    from bench import make_answers

    with path.open("w", encoding="utf-8") as f:
        for i, (_, text) in enumerate(make_answers(rows)):
            f.write(json.dumps({"student": f"s{i}", "card": 1, "answer": text}) + "\n")
    return path


def decided(path: Path) -> list[tuple[str, list]]:
    """A decisions file's verdicts and the answers of each, without the times they were made at."""
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [(d["verdict"], d["answers"]) for d in lines if d["type"] == "decision"]


def run(tree: Path, args: list[str], stdin: str, home: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of ``grader ARGS`` run from ``tree``, output dropped (in ``home``: ``python -m``
    imports from the working directory first)."""
    env = {**os.environ, "PYTHONPATH": str(tree), "HOME": str(home), "COLUMNS": "100"}
    start = time.perf_counter()
    with open(os.devnull, "w") as devnull:
        proc = subprocess.Popen(
            [sys.executable, "-m", "grader", *args], stdin=subprocess.PIPE, stdout=devnull, stderr=subprocess.PIPE, env=env, text=True, cwd=home
        )
        assert proc.stdin is not None and proc.stderr is not None
        proc.stdin.write(stdin)
        proc.stdin.close()
        errors = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"grader {' '.join(args)} ({tree}) failed: {errors[-500:]}")
    return wall, usage.ru_maxrss / 1024


def imported_from(tree: Path, home: Path) -> Path:
    """Where ``grader`` is imported from, run as ``run`` runs it."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    found = subprocess.run([sys.executable, "-c", "import grader; print(grader.__file__)"], env=env, cwd=home, capture_output=True, text=True, check=True)
    return Path(found.stdout.strip()).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="answers in the class (default 100,000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each figure, the median kept (default 3)")
    parser.add_argument("--against", type=Path, help="a baseline checkout, measured in the same run")
    parser.add_argument("--one-question", type=int, default=0, metavar="N", help="also N answers to one question (e.g. 50000)")
    parser.add_argument("--match", choices=("meaning", "keyword"), default="meaning", help="grader's --match (keyword: every answer compared by its words)")
    args = parser.parse_args()
    trees = {"this": ROOT}
    if args.against is not None:
        if not (args.against / "grader").is_dir():
            raise SystemExit(f"{args.against}: no grader/ in it")
        trees["baseline"] = args.against.resolve()
    print(f"grader review bench, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, {args.rows:,} answers, --match {args.match}\n")
    with tempfile.TemporaryDirectory(prefix="grader-bench-review-") as tmp:
        answers = Path(tmp) / "class.jsonl"
        if args.rows:
            subprocess.run([sys.executable, str(ROOT / "eval" / "bench.py"), "--write", str(args.rows), str(answers)], check=True)
        single = one_question(Path(tmp) / "question.jsonl", args.one_question) if args.one_question else None
        figures: dict[tuple[str, str], list[tuple[float, float]]] = {}

        def measured(name: str, what: str, figure: tuple[float, float]) -> None:
            figures.setdefault((name, what), []).append(figure)
            print(f"  ({name}, {what}: {figure[0]:.1f} s, {figure[1]:.0f} MB)", flush=True)  # a long run shows how it goes

        for i in range(args.repeat):
            for name, tree in trees.items():  # alternating: a slow spell of the machine falls on both
                work = Path(tmp) / f"{name}-{i}"
                (work / "home").mkdir(parents=True)
                if i == 0 and imported_from(tree, work / "home") != tree.resolve():
                    raise SystemExit(f"{tree}: grader is imported from {imported_from(tree, work / 'home')} instead")
                exports = ["--output", str(work / EXPORTS[0]), "--report", str(work / EXPORTS[1]), "--gradebook", str(work / EXPORTS[2])]
                if args.rows:
                    review = ["review", str(DECK), str(answers), "--match", args.match]
                    first = run(tree, [*review, "--decisions", str(work / "first.jsonl")], "q\n", work / "home")
                    exported = run(tree, [*review, "--decisions", str(work / "d.jsonl"), "--export-only", *exports], "", work / "home")
                    measured(name, "first group", first)
                    measured(name, "exports", exported)
                if single is not None:
                    review = ["review", str(DECK), str(single), "--decisions", str(work / "one.jsonl"), "--match", args.match]
                    measured(name, "one question", run(tree, review, ACCEPTED, work / "home"))
                    one = [f"one-{f}" for f in EXPORTS]
                    run(tree, [*review, "--export-only", "--output", str(work / one[0]), "--report", str(work / one[1]), "--gradebook", str(work / one[2])], "", work / "home")
        print("\ncheckout   to            wall s   peak RSS MB")
        for (name, what), runs in figures.items():
            wall = statistics.median(w for w, _ in runs)
            peak = statistics.median(p for _, p in runs)
            print(f"{name:<10} {what:<12} {wall:>7.1f}   {peak:>11.0f}")
        if args.against is not None:
            written = [f for f in EXPORTS if args.rows] + [f"one-{f}" for f in EXPORTS if single is not None]
            same = all(filecmp.cmp(Path(tmp) / f"this-{i}" / f, Path(tmp) / f"baseline-{i}" / f, shallow=False) for i in range(args.repeat) for f in written)
            print(f"\nexports ({', '.join(written)}) byte-identical across checkouts: {'yes' if same else 'NO'}")
            if single is not None:
                groups = all(decided(Path(tmp) / f"this-{i}" / "one.jsonl") == decided(Path(tmp) / f"baseline-{i}" / "one.jsonl") != [] for i in range(args.repeat))
                print(f"one question's accepted groups the same answers across checkouts: {'yes' if groups else 'NO'}")
                same = same and groups
            if not same:
                raise SystemExit(1)


if __name__ == "__main__":
    main()
