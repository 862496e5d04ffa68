"""Benchmark: ``grader review`` of a big class, to its first group and to its exports, against a baseline checkout.

    python eval/bench_review.py --against /tmp/base             # 100,000 answers: about five minutes on 2 cores
    python eval/bench_review.py --rows 5000 --repeat 5

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
With ``--against``, the exports of the two checkouts must be byte-identical.
The machine is shared: compare figures from one run, as ratios.
"""

from __future__ import annotations

import argparse
import filecmp
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
    args = parser.parse_args()
    trees = {"this": ROOT}
    if args.against is not None:
        if not (args.against / "grader").is_dir():
            raise SystemExit(f"{args.against}: no grader/ in it")
        trees["baseline"] = args.against.resolve()
    print(f"grader review bench, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, {args.rows:,} answers\n")
    with tempfile.TemporaryDirectory(prefix="grader-bench-review-") as tmp:
        answers = Path(tmp) / "class.jsonl"
        subprocess.run([sys.executable, str(ROOT / "eval" / "bench.py"), "--write", str(args.rows), str(answers)], check=True)
        figures: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for i in range(args.repeat):
            for name, tree in trees.items():  # alternating: a slow spell of the machine falls on both
                work = Path(tmp) / f"{name}-{i}"
                (work / "home").mkdir(parents=True)
                if i == 0 and imported_from(tree, work / "home") != tree.resolve():
                    raise SystemExit(f"{tree}: grader is imported from {imported_from(tree, work / 'home')} instead")
                review = ["review", str(DECK), str(answers)]
                first = run(tree, [*review, "--decisions", str(work / "first.jsonl")], "q\n", work / "home")
                exports = ["--output", str(work / EXPORTS[0]), "--report", str(work / EXPORTS[1]), "--gradebook", str(work / EXPORTS[2])]
                exported = run(tree, [*review, "--decisions", str(work / "d.jsonl"), "--export-only", *exports], "", work / "home")
                figures.setdefault((name, "first group"), []).append(first)
                figures.setdefault((name, "exports"), []).append(exported)
        print("checkout   to            wall s   peak RSS MB")
        for (name, what), runs in figures.items():
            wall = statistics.median(w for w, _ in runs)
            peak = statistics.median(p for _, p in runs)
            print(f"{name:<10} {what:<12} {wall:>7.1f}   {peak:>11.0f}")
        if args.against is not None:
            same = all(filecmp.cmp(Path(tmp) / f"this-{i}" / f, Path(tmp) / f"baseline-{i}" / f, shallow=False) for i in range(args.repeat) for f in EXPORTS)
            print(f"\nexports ({', '.join(EXPORTS)}) byte-identical across checkouts: {'yes' if same else 'NO'}")
            if not same:
                raise SystemExit(1)


if __name__ == "__main__":
    main()
