"""Benchmark: batch grading against its baselines, peak memory, --jobs, deck parsing and start-up, in one run.

    python eval/bench.py            # 10k / 100k rows: about two minutes on 2 cores
    python eval/bench.py --big      # also 1M rows: about ten minutes more
    python eval/bench.py --only parse --only startup   # just those figures, in seconds
    python eval/bench.py --throughput   # only grader against the naive matcher and the I/O floor

Answers are the seed dev set's, mutated deterministically (words dropped,
letters swapped) until there are enough, written as JSON Lines. Figures:
- ``grader grade --json --jobs 1`` (and with ``--match keyword``, the semantic tier off) against a naive matcher (rapidfuzz
  ``extractOne`` per key-term word, below, 20 lines) and the I/O floor (read,
  parse and write every row, no grading), each a process of its own: CPU
  seconds (user + system, from ``wait4``) and answers per CPU-second;
- peak memory (max RSS) of a ``grader grade`` process at 10k / 100k (/ 1M) rows;
- ``--jobs 1`` against ``--jobs 2``: wall seconds on 100k rows, beside two ``--jobs 1``
  processes grading its two halves side by side (what separate processes reach);
- deck parsing (``load_deck``) of generated 1k / 10k / 20k-card decks;
- start-up: ``grader --help`` and ``grader cards`` against ``python -c pass``;
- the keyword matcher alone (``KeywordGrader.grade_many`` on 20,000 answers,
  best of three), the evaluation harness's bootstrap, and ``grader practice``
  to its first question.
The machine is shared: compare figures from one run, as ratios.
LLM throughput has its own bench: ``python eval/bench_llm.py fake``; so has ``grader review`` of a big class:
``python eval/bench_review.py --against /tmp/base``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DECK = ROOT / "decks" / "virtualization.md"


def make_answers(n: int, seed: int = 7) -> list[tuple[int, str]]:
    rows = [json.loads(line) for line in (ROOT / "eval" / "seed_dev.jsonl").open()]
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        row = rng.choice(rows)
        words = row["answer"].split()
        if words and rng.random() < 0.5:
            words.pop(rng.randrange(len(words)))
        if words and rng.random() < 0.5:
            i = rng.randrange(len(words))
            w = words[i]
            if len(w) > 3:
                j = rng.randrange(len(w) - 1)
                words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
        out.append((row["card"], " ".join(words)))
    return out


def write_answers(path: Path, n: int) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for i, (card, text) in enumerate(make_answers(n)):
            f.write(json.dumps({"student": f"s{i % 997}", "card": card, "answer": text}) + "\n")
    return path


# --- The baselines, each run as a process of its own (python eval/bench.py --baseline KIND FILE) ------


def naive(answers: Path) -> None:
    """A 20-line keyword grader: a term is found if each of its words has a close word in the answer."""
    from rapidfuzz import fuzz, process, utils

    from grader import load_deck

    cards = {c.number: [utils.default_process(t.text).split() for t in c.key_terms] for c in load_deck(DECK).cards}
    out = sys.stdout
    with answers.open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            terms = cards[int(row["card"])]
            words = utils.default_process(row["answer"]).split()
            found = [
                all(process.extractOne(w, words, scorer=fuzz.ratio, score_cutoff=80) for w in term) if words else False
                for term in terms
            ]
            score = sum(found) / len(terms) if terms else 0.0
            out.write(json.dumps({**row, "score": score, "found": found}, ensure_ascii=False) + "\n")


def floor(answers: Path) -> None:
    """Read, parse and write every row: what any grader pays before grading anything."""
    out = sys.stdout
    with answers.open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            out.write(json.dumps({**row, "score": 0.0}, ensure_ascii=False) + "\n")


# --- Measuring --------------------------------------------------------------------------------------


def run(cmd: list[str]) -> tuple[float, float, float]:
    """(CPU seconds, wall seconds, peak RSS in MB) of a command (and the processes it waited for), output dropped."""
    start = time.perf_counter()
    with open(os.devnull, "w") as devnull:
        proc = subprocess.Popen(cmd, stdout=devnull, stderr=subprocess.PIPE, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.read().decode()[-500:]}")
    proc.stderr.close()
    return usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss / 1024


def wall(cmd: list[str], repeat: int = 5, stdin: str | None = None) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, input=stdin, capture_output=True, text=True, check=False, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def best(fn, repeat: int = 3) -> float:
    """Best of ``repeat`` runs: on a shared machine the fastest run is the one least disturbed."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def grader_cmd() -> list[str]:
    script = Path(sys.executable).parent / "grader"
    return [str(script)] if script.exists() else [sys.executable, "-m", "grader"]


def generated_deck(path: Path, cards: int) -> Path:
    """A markdown deck of ``cards`` cards: highlighted terms, a list, and every fifth card left to derive its terms."""
    rng = random.Random(cards)
    words = ["kernel", "page", "table", "scheduler", "thread", "process", "memory", "cache", "disk", "network", "socket", "driver"]
    parts = [f"# Generated deck of {cards} cards\n\n"]
    for i in range(1, cards + 1):
        a, b, c = rng.sample(words, 3)
        body = (
            f"    - the {a} ==holds {b} {i}== for each {c}\n    - a ==second {c} term== here\n"
            if i % 5
            else f"    The {a} keeps the {b} of every {c} apart, and {i} times over.\n"
        )
        parts.append(f'{i}. <details markdown=1><summary markdown="span"> What does the {a} do with the {b} ({i})? </summary>\n\n{body}\n</details>\n\n')
    path.write_text("".join(parts), encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", action="store_true", help="also 1,000,000 rows (about ten minutes more)")
    parser.add_argument("--throughput", action="store_true", help="only grader against the naive matcher and the I/O floor")
    parser.add_argument("--only", action="append", choices=["parse", "startup"], help="only these figures (repeatable)")
    parser.add_argument("--baseline", choices=["naive", "floor"], help=argparse.SUPPRESS)
    parser.add_argument("--write", type=int, metavar="ROWS", help=argparse.SUPPRESS)
    parser.add_argument("file", nargs="?", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline:
        (naive if args.baseline == "naive" else floor)(args.file)
        return
    if args.write:
        write_answers(args.file, args.write)
        return

    grader = grader_cmd()
    print(f"grader bench, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}\n")
    if args.only:
        if "parse" in args.only:
            deck_parsing()
        if "startup" in args.only:
            start_up(grader)
        return
    me = [sys.executable, __file__]
    help_text = subprocess.run([*grader, "grade", "--help"], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    keyword_only = "--match" in help_text  # the semantic tier can be turned off: measure both
    sizes = [100_000, 1_000_000] if args.big else [100_000]
    with tempfile.TemporaryDirectory(prefix="grader-bench-") as tmp:
        # Written by another process: a child's peak RSS counts the memory of the parent it was forked from,
        # so this process stays small until the processes are measured.
        files = {n: Path(tmp) / f"a{n}.jsonl" for n in [10_000, *sizes]}
        for n, path in files.items():
            subprocess.run([*me, "--write", str(n), str(path)], check=True)

        print("answers          what                      CPU s   answers/CPU-s   x floor   peak RSS MB")
        peaks = {}
        for n in sizes:
            runs = {
                "grader grade --jobs 1": run([*grader, "grade", str(DECK), str(files[n]), "--json", "--jobs", "1"]),
                **({
                    "  --match keyword": run([*grader, "grade", str(DECK), str(files[n]), "--json", "--jobs", "1", "--match", "keyword"])
                } if keyword_only else {}),
                "naive extractOne": run([*me, "--baseline", "naive", str(files[n])]),
                "I/O floor": run([*me, "--baseline", "floor", str(files[n])]),
            }
            base = runs["I/O floor"][0]
            for name, (cpu, _, rss) in runs.items():
                print(f"{n:>9,}        {name:<24} {cpu:>7.1f}   {n / cpu:>13,.0f}   {cpu / base:>7.1f}   {rss:>11.0f}")
            g, nv = runs["grader grade --jobs 1"][0], runs["naive extractOne"][0]
            ratios = f"grader / naive CPU: {g / nv:.1f}x"
            if keyword_only:
                k = runs["  --match keyword"][0]
                ratios += f"; keyword-only / naive: {k / nv:.1f}x; with the semantic tier / keyword-only: {g / k:.1f}x"
            print(f"{'':>9}        {ratios}\n")
            peaks[n] = runs["grader grade --jobs 1"][2]
            if n == 100_000:
                jobs1_wall = runs["grader grade --jobs 1"][1]
        if args.throughput:
            return
        peaks[10_000] = run([*grader, "grade", str(DECK), str(files[10_000]), "--json", "--jobs", "1"])[2]
        print("peak memory of `grader grade --json --jobs 1`: " + ", ".join(f"{n:,} rows {mb:.0f} MB" for n, mb in sorted(peaks.items())))

        cpu2, jobs2_wall, _ = run([*grader, "grade", str(DECK), str(files[100_000]), "--json", "--jobs", "2"])
        halves = halves_wall(grader, files[100_000])
        print(f"--jobs 1 vs --jobs 2 on 100,000 rows: {jobs1_wall:.1f} s vs {jobs2_wall:.1f} s wall "
              f"({jobs1_wall / jobs2_wall:.2f}x; --jobs 2 used {cpu2:.1f} CPU s); two busy processes get "
              f"{two_cores():.2f}x one's speed here now (2.0 on an idle 2-core machine); two --jobs 1 "
              f"processes on the two halves, side by side: {halves:.1f} s ({jobs1_wall / halves:.2f}x)\n")  # fmt: skip

    deck_parsing()
    start_up(grader)
    t_first = wall([*grader, "practice", "--limit", "1"], stdin="/quit\n")
    print(f"practice, first question: {t_first * 1000:.0f} ms (start, show card 1, read /quit, exit)")
    print(f"keyword matcher alone (grade_many, 20,000 answers, best of 3): {matcher_rate():,.0f} answers/s")
    print(f"eval bootstrap, 12,000 answers: {bootstrap_seconds():.2f} s (1,000 resamples, score metrics with QWK)")
    modules = subprocess.run(
        [sys.executable, "-c", "import sys, grader.cli; print('openai' in sys.modules, 'numpy' in sys.modules)"],
        capture_output=True, text=True, cwd=ROOT, check=True,
    ).stdout.split()  # fmt: skip
    print(f"openai imported by the CLI at start-up: {modules[0]}; numpy: {modules[1]}")
    llm_throughput()


def deck_parsing() -> None:
    """``load_deck`` on generated 1k / 10k / 20k-card decks."""
    from grader import load_deck

    parse = []
    with tempfile.TemporaryDirectory(prefix="grader-bench-") as tmp:
        for cards in (1_000, 10_000, 20_000):
            path = generated_deck(Path(tmp) / f"deck{cards}.md", cards)
            parse.append(f"{cards:,} cards {best(lambda path=path: load_deck(path)):.2f} s")
        deck = load_deck(path)
    print("deck parsing (load_deck, best of 3): " + ", ".join(parse))
    knowing, blind = (best(lambda know=know: grade_on_a_big_deck(deck.cards, know), repeat=2) for know in (True, False))
    print(
        f"1,000 answers to 1,000 cards of the 20,000-card deck: {knowing:.2f} s knowing the deck (a list of its terms is"
        f" not an answer), {blind:.2f} s not"
    )


def grade_on_a_big_deck(cards: list, know: bool) -> None:
    """Each answer names its card's terms and two other cards' ones: whether the deck's size slows the check."""
    from grader import KeywordGrader

    grader = KeywordGrader()
    if know:
        grader.use_deck(cards)
    picked = random.Random(0).sample(cards, 1000)
    for card, other, third in zip(picked, picked[1:] + picked[:1], picked[2:] + picked[:2]):
        grader.grade(card, ", ".join(t.text for t in (*card.key_terms, *other.key_terms[:1], *third.key_terms[:1])))


def start_up(grader: list[str], repeat: int = 5) -> None:
    """Wall time of ``grader --help`` and ``grader cards`` against ``python -c pass``.

    The three take turns, so a change in the machine's load falls on all of them alike.
    """
    commands = [[sys.executable, "-c", "pass"], [*grader, "--help"], [*grader, "cards", str(DECK)]]
    times: list[list[float]] = [[] for _ in commands]
    for _ in range(repeat):
        for cmd, taken in zip(commands, times):
            taken.append(wall(cmd, repeat=1))
    t_pass, t_help, t_cards = map(statistics.median, times)
    print(f"start-up (median of {repeat}): python -c pass {t_pass * 1000:.0f} ms; grader --help {t_help * 1000:.0f} ms "
          f"({t_help / t_pass:.1f}x); grader cards {t_cards * 1000:.0f} ms ({t_cards / t_pass:.1f}x)")  # fmt: skip


def llm_throughput() -> None:
    """LLM client cost and concurrency against the fake server (eval/bench_llm.py fake; goal: 16 -> >= 14 in flight)."""
    from bench_llm import fake_server_throughput

    r = fake_server_throughput(requests=200, concurrency=16, delay=0.2)
    print(f"LLM client, fake server replying in 200 ms, concurrency 16: {r['max_in_flight']} requests in flight at most, "
          f"{r['requests_per_second']:.0f} requests/s, {r['client_cpu_ms_per_request']:.1f} ms client CPU per request")  # fmt: skip


def two_cores(seconds: float = 2.0) -> float:
    """How much faster two CPU-bound processes get through work than one, on this machine as loaded now."""
    burn = [sys.executable, "-c", f"import time\nt = time.process_time()\nwhile time.process_time() - t < {seconds}: pass"]
    one = run(burn)[1]
    start = time.perf_counter()
    both = [subprocess.Popen(burn) for _ in range(2)]
    for proc in both:
        proc.wait()
    return 2 * one / (time.perf_counter() - start)


def halves_wall(grader: list[str], answers: Path) -> float:
    """Wall seconds of two ``--jobs 1`` processes grading the two halves of ``answers`` side by side: what two
    processes reach here when nothing is shared, each paying its own start-up, word vectors and caches."""
    lines = answers.read_text(encoding="utf-8").splitlines(keepends=True)
    halves = [answers.with_name(f"{answers.stem}.half{i}.jsonl") for i in (1, 2)]
    for path, part in zip(halves, (lines[: len(lines) // 2], lines[len(lines) // 2 :])):
        path.write_text("".join(part), encoding="utf-8")
    start = time.perf_counter()
    with open(os.devnull, "w") as devnull:
        both = [subprocess.Popen([*grader, "grade", str(DECK), str(h), "--json", "--jobs", "1"], stdout=devnull, cwd=ROOT) for h in halves]
        for proc in both:
            proc.wait()
    return time.perf_counter() - start


def matcher_rate(n: int = 20_000) -> float:
    from grader import KeywordGrader, load_deck

    cards = {c.number: c for c in load_deck(DECK).cards}
    by_card: dict[int, list[str]] = defaultdict(list)
    for number, text in make_answers(n):
        by_card[number].append(text)
    grader = KeywordGrader()
    grader.grade_many(cards[1], ["warm up"])  # imports and first compile out of the timing

    def batched() -> None:
        for number, texts in by_card.items():
            grader.grade_many(cards[number], texts)

    return n / best(batched)


def bootstrap_seconds(n: int = 12_000) -> float:
    """Best time of the score metrics' bootstrap (``grader eval`` runs it per system and task)."""
    import numpy as np

    from grader.evaluation import metrics

    rng = np.random.default_rng(6)
    gold = rng.integers(0, 4, n)
    pred = np.clip(np.round(gold + rng.normal(0, 0.5, n)), 0, 3).astype(int)
    stats = metrics.score_statistics(gold, pred + 0.0, ordinal_k=4, ordinal_gold=gold, ordinal_pred=pred)
    return best(lambda: metrics.bootstrap(stats, n))


if __name__ == "__main__":
    main()
