"""Benchmark: the practice history at scale, ``grader stats`` and ``grader history import``, against a baseline checkout.

    python eval/bench_history.py --against /tmp/base           # both figures: about four minutes on 2 cores
    python eval/bench_history.py --only stats --reviews 200000
    python eval/bench_history.py --only import --lines 400000

``--against DIR`` is another checkout (a directory holding ``grader/``, e.g.
``git archive main grader | tar -x -C /tmp/base``); each figure is measured for
it and for this one, in the same run, each in a process of its own with
``PYTHONPATH`` pointing at its checkout. Without it only this checkout is measured.

The history is generated through the library (``Store``), deterministically:
4 decks, 1,000 cards each, every card reviewed in a chain of FSRS states with
mixed ratings, scores and missed terms, the last review before a pinned
``NOW``. Figures:
- ``stats``: wall and CPU seconds and peak memory (max RSS, from ``wait4``) of a
  process computing ``history_stats`` over the whole history at ``NOW``; the
  reports (``generated_at`` aside) must be byte-identical across checkouts;
- ``import``: wall seconds of ``grader history import`` of an export of
  ``--lines`` lines into a new history, and how long it held the write lock:
  the longest span a prober (its own connection, ``BEGIN IMMEDIATE`` without
  waiting, every 5 ms) found the history locked, which is what a practice
  session started meanwhile waits for.
The machine is shared: compare figures from one run, as ratios.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 3, 2, 18, 30, tzinfo=timezone.utc)


def build_history(path: Path, reviews: int, *, decks: int = 4, cards_per_deck: int = 1000, seed: int = 3) -> int:
    """A history of ``reviews`` answers at ``path``, written through the store in one transaction; returns the count."""
    sys.path.insert(0, str(ROOT))
    from grader.models import Verdict
    from grader.schedule import Rating, ScheduleSettings, review
    from grader.store import Attempt, Store, _insert_attempt, _insert_card, _set_state

    rng = random.Random(seed)
    settings = ScheduleSettings()
    cards = [(d, c) for d in range(decks) for c in range(cards_per_deck)]
    per_card = [reviews // len(cards) + (1 if i < reviews % len(cards) else 0) for i in range(len(cards))]
    ratings = [Rating.again] * 15 + [Rating.hard] * 10 + [Rating.good] * 65 + [Rating.easy] * 10
    done = 0
    with Store(path, settings) as store, store._write() as db:
        for (d, c), count in zip(cards, per_card):
            deck = f"/decks/deck-{d}.md"
            terms = [f"term {d}-{c}-{k}" if k else f"shared term {c % 37}" for k in range(4)]
            question = f"Question {c} of deck {d}: what is {terms[1]}?"
            key = _insert_card(db, deck, f"Deck {d}", f"{d:02d}{c:08x}", question, " ".join(terms))
            # Intervals between answers: a chain of short steps, so a card's answers end near NOW.
            steps = [rng.uniform(0.02, 3.0) for _ in range(count)]
            at = NOW - timedelta(days=sum(steps) + rng.uniform(0, 20))
            state = None
            for step in steps:
                at += timedelta(days=step)
                rating = rng.choice(ratings)
                found = [t for t in terms if rng.random() < 0.25 + 0.2 * int(rating)]
                score = round(len(found) / len(terms), 4)
                verdict = Verdict.correct if score >= 0.75 else Verdict.partial if score > 0 else Verdict.incorrect
                after = review(state, rating, now=at, settings=settings)
                attempt = Attempt.model_construct(
                    uid=f"{done:012x}", deck=deck, card=f"{d:02d}{c:08x}", question=question, at=at,
                    answer=" ".join(found) or "no idea", score=score, verdict=verdict,
                    matched=found, missing=[t for t in terms if t not in found], feedback=None, rating=rating,
                    rated_by="grader", seconds=rng.choice([None, round(rng.uniform(2, 90), 2)]), cram=rng.random() < 0.03,
                    state_before=state, state_after=after,
                )  # fmt: skip
                _insert_attempt(db, key, attempt)
                state, done = after, done + 1
            if state is not None:
                _set_state(db, key, state)
    return done


# --- Measuring, each in a process of its own -----------------------------------------------------------

STATS_WORKER = """
import sys
from datetime import datetime
from grader.stats import history_stats
from grader.store import Store

with Store(sys.argv[1]) as store:
    report = history_stats(store, None, now=datetime.fromisoformat(sys.argv[2]))
sys.stdout.write(report.model_dump_json(indent=2, exclude={"generated_at"}) + "\\n")
"""

NEW_HISTORY = """
import sys
from grader.store import Store

Store(sys.argv[1]).close()
"""


def run(cmd: list[str], pythonpath: Path, home: Path | None = None) -> tuple[float, float, float, str]:
    """(wall seconds, CPU seconds, peak RSS in MB, standard output) of a command run with ``pythonpath`` first."""
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    if home is not None:
        env["GRADER_HOME"] = str(home)
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        # Run from the checkout, not ROOT: the working directory comes first on sys.path.
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=pythonpath)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{' '.join(cmd)} failed: {err.read().decode()[-800:]}")
        return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out.read().decode()


def bench_stats(checkouts: dict[str, Path], reviews: int, work: Path) -> None:
    db = work / "stats.sqlite3"
    start = time.perf_counter()
    build_history(db, reviews)
    print(f"stats: history of {reviews:,} reviews built in {time.perf_counter() - start:.1f} s")
    reports = {}
    for name, path in checkouts.items():
        wall, cpu, rss, out = run([sys.executable, "-c", STATS_WORKER, str(db), NOW.isoformat()], path)
        reports[name] = out
        print(f"  {name:10} stats of {reviews:,} reviews: {wall:5.2f} s wall, {cpu:5.2f} s CPU, peak {rss:6.0f} MB")
    if len(set(reports.values())) > 1:
        raise SystemExit("stats: the reports differ between checkouts")
    if len(reports) > 1:
        print("  reports identical (generated_at aside)")


def lock_spans(db: Path, stop: threading.Event, spans: list[float]) -> None:
    """Record the longest run of time the history stayed write-locked, probing every 5 ms without waiting."""
    # mode=rw: never create the file (an empty one is a history grader refuses to touch).
    conn = sqlite3.connect(f"{db.as_uri()}?mode=rw", uri=True, timeout=0, isolation_level=None)
    locked_since = None
    while not stop.is_set():
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            if locked_since is not None:
                spans.append(time.perf_counter() - locked_since)
                locked_since = None
        except sqlite3.OperationalError:
            if locked_since is None:
                locked_since = time.perf_counter()
        time.sleep(0.005)
    if locked_since is not None:
        spans.append(time.perf_counter() - locked_since)
    conn.close()


def bench_import(checkouts: dict[str, Path], lines: int, work: Path) -> None:
    source, export = work / "import-source", work / "history.jsonl"
    source.mkdir(exist_ok=True)
    start = time.perf_counter()
    cards = 4000
    build_history(source / "history.sqlite3", lines - 1 - cards)
    grader = [sys.executable, "-m", "grader"]
    run([*grader, "history", "export", str(export)], next(iter(checkouts.values())), home=source)
    count, size = sum(1 for _ in export.open()), export.stat().st_size / 1e6
    print(f"import: export of {count:,} lines ({size:.0f} MB) made in {time.perf_counter() - start:.1f} s")
    for name, path in checkouts.items():
        home = work / f"import-{name}"
        home.mkdir()
        db = home / "history.sqlite3"
        # The history exists before the import, as a user's does: made by the checkout's own store (``stats`` only
        # reads a history, and makes none, since it opens it read-only).
        run([sys.executable, "-c", NEW_HISTORY, str(db)], path)
        stop, spans = threading.Event(), []
        prober = threading.Thread(target=lock_spans, args=(db, stop, spans))
        prober.start()
        try:
            wall, cpu, rss, out = run([*grader, "history", "import", str(export)], path, home=home)
        finally:
            stop.set()
            prober.join()
        held = max(spans, default=0.0)
        print(f"  {name:10} import: {wall:5.1f} s wall, peak {rss:6.0f} MB, write lock held {held:5.2f} s at most; {out.strip()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", type=Path, help="A baseline checkout (a directory holding grader/).")
    parser.add_argument("--only", action="append", choices=["stats", "import"])
    parser.add_argument("--reviews", type=int, default=200_000)
    parser.add_argument("--lines", type=int, default=400_000)
    args = parser.parse_args()
    checkouts = {"this": ROOT}
    if args.against:
        checkouts = {"baseline": args.against.resolve(), **checkouts}
    only = set(args.only or ["stats", "import"])
    with tempfile.TemporaryDirectory(prefix="grader-bench-history-") as tmp:
        if "stats" in only:
            bench_stats(checkouts, args.reviews, Path(tmp))
        if "import" in only:
            bench_import(checkouts, args.lines, Path(tmp))


if __name__ == "__main__":
    main()
