"""LLM benchmark: the client's own cost and concurrency, and how a real small model fares on the bundled deck.

    python eval/bench_llm.py fake [--requests 200] [--concurrency 16] [--delay 0.2]
    python eval/bench_llm.py real [--answers 20] [--root PATH] [--server BIN --gguf FILE | --base-url URL --model M]

``fake`` runs the test suite's fake OpenAI server (tests/fake_openai.py) with a
fixed delay per reply and measures, for a batch through ``FeedbackClient``:
client CPU per request (process CPU time / requests, the server's threads
excluded by timing a zero-delay run with the server in another process),
requests per second, and the most requests in flight at once. Target: with
concurrency 16 and a 200 ms server, at least 14 in flight.

``real`` grades a fixed sample of the seed dev set's answers (answered,
gradable cards) with ``grader grade --llm --json --no-cache`` against a real
OpenAI-compatible server: llama.cpp's ``llama-server`` started here on
127.0.0.1 (``--server`` and ``--gguf``), or one already running
(``--base-url``, ``--model``). It prints the share of replies accepted, how
many accepted verdicts agree with the teacher's, the completion tokens (a
figure the machine's load does not change) and the seconds per answer.
``--root`` runs another checkout's grader (the before figure: ``git worktree
add /tmp/before COMMIT``), with this machine's venv.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVER_ARGS = ["-c", "4096", "-np", "1", "-t", "2", "--seed", "42"]


# --- fake server: the client's own cost ------------------------------------------------------------


def fake_server_throughput(requests: int = 200, concurrency: int = 16, delay: float = 0.2, cache: bool = False) -> dict[str, float]:
    """Client CPU per request and the concurrency reached against the fake server replying after ``delay`` s.

    The server runs in a child process, so this process's CPU time is the client's alone. ``cache``: with a
    cold reply cache (every reply written to it).
    """
    from grader import KeywordGrader, load_deck
    from grader.config import LLMSettings
    from grader.llm.client import FeedbackClient
    from grader.scoring import GradingSettings

    deck = load_deck(ROOT / "decks" / "virtualization.md")
    card = deck.cards[2]
    keyword = KeywordGrader()
    items = [(card, f"sharing and isolation, answer {i}", None) for i in range(requests)]
    items = [(c, a, keyword.grade(c, a)) for c, a, _ in items]
    with _fake_server_process(delay) as (base_url, stats), tempfile.TemporaryDirectory() as tmp:
        settings = LLMSettings(
            enabled=True, model="fake-model", base_url=base_url, api_key="sk-bench", timeout=30, max_retries=0,
            concurrency=concurrency, cache=False,
        )  # fmt: skip
        from grader.llm.cache import LLMCache

        store = LLMCache(Path(tmp) / "cache.sqlite3") if cache else None
        with FeedbackClient(settings, GradingSettings(), cache=store) as client:
            if store is not None:
                client.settings = client.settings.model_copy(update={"cache": True})
            client.feedback(card, "warm up", keyword.grade(card, "warm up"))  # imports and connection out of the timing
            stats()  # reset
            cpu0, wall0 = time.process_time(), time.perf_counter()
            results = client.feedback_many(items)
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        peak = stats()["max_in_flight"]
    ok = sum(r is not None and r.status == "ok" for r in results)
    return {
        "requests": requests,
        "ok": ok,
        "concurrency": concurrency,
        "delay": delay,
        "cache": cache,
        "client_cpu_ms_per_request": 1000 * cpu / requests,
        "requests_per_second": requests / wall,
        "max_in_flight": peak,
    }


class _fake_server_process:
    """tests/fake_openai.py in a child process; ``stats()`` returns and resets its in-flight peak."""

    def __init__(self, delay: float):
        self.delay = delay

    def __enter__(self):
        code = (
            "import sys, json\n"
            f"sys.path.insert(0, {str(ROOT)!r})\n"
            "from tests.fake_openai import FakeOpenAI\n"
            "fake = FakeOpenAI()\n"
            f"fake.behaviour, fake.slow_seconds = 'slow', {self.delay!r}\n"
            "with fake:\n"
            "    print(fake.base_url, flush=True)\n"
            "    for line in sys.stdin:\n"
            "        print(json.dumps({'max_in_flight': fake.max_in_flight}), flush=True)\n"
            "        fake.max_in_flight = 0\n"
        )
        self.proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        base_url = self.proc.stdout.readline().strip()

        def stats() -> dict[str, int]:
            self.proc.stdin.write("stats\n")
            self.proc.stdin.flush()
            return json.loads(self.proc.stdout.readline())

        return base_url, stats

    def __exit__(self, *exc: object) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


# --- a real model: acceptance and speed -------------------------------------------------------------


def sample_answers(n: int, seed: int = 14) -> list[dict]:
    """``n`` answers of the seed dev set to gradable cards, real attempts only, in a fixed random order."""
    from grader import KeywordGrader, load_deck

    deck = load_deck(ROOT / "decks" / "virtualization.md")
    cards = {c.number: c for c in deck.cards}
    keyword = KeywordGrader()
    rows = [json.loads(line) for line in (ROOT / "eval" / "seed_dev.jsonl").open(encoding="utf-8")]
    rows = [r for r in rows if cards[r["card"]].gradable and keyword.grade(cards[r["card"]], r["answer"] or "").answered]
    random.Random(seed).shuffle(rows)
    return [{"card": r["card"], "answer": r["answer"], "kind": r.get("kind", ""), "teacher": r["verdict"]} for r in rows[:n]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_llama_server(binary: Path, gguf: Path, alias: str = "gemma3-270m", port: int | None = None) -> tuple[subprocess.Popen, str]:
    """llama-server on 127.0.0.1 with the suite's settings; its base URL once it answers."""
    import urllib.request

    port = port or free_port()
    log = open(Path(tempfile.gettempdir()) / f"llama-server-{port}.log", "w")  # noqa: SIM115 - kept open for the server
    proc = subprocess.Popen(
        [str(binary), "-m", str(gguf), "-a", alias, "--host", "127.0.0.1", "--port", str(port), *SERVER_ARGS],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"llama-server exited with {proc.returncode} (log: {log.name})")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                if r.status == 200:
                    return proc, f"http://127.0.0.1:{port}/v1"
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("llama-server did not become ready in 60 s")


def real_model(base_url: str, model: str, answers: int = 20, root: Path = ROOT, budget: float = 1800) -> dict:
    """Grade ``answers`` seed answers with ``root``'s grader against the server; acceptance and speed."""
    rows = sample_answers(answers)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "answers.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "GRADER_"))},
            "GRADER_HOME": tmp, "OPENAI_BASE_URL": base_url, "GRADER_MODEL": model, "PYTHONPATH": str(root),
        }  # fmt: skip
        cmd = [sys.executable, "-m", "grader", "grade", str(root / "decks" / "virtualization.md"), str(path), "--llm", "--json", "--no-cache"]
        started = time.perf_counter()
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, cwd=root, env=env, timeout=budget)
            out, err, timed_out = done.stdout, done.stderr, False
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
            err, timed_out = "", True
        seconds = time.perf_counter() - started
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    statuses = Counter(line.get("llm", {}).get("status", "none") for line in lines)
    accepted = [line for line in lines if line.get("llm", {}).get("status") == "ok"]
    reasons = Counter(
        (line["llm"].get("notice") or "")[:90] for line in lines if line.get("llm", {}).get("status") not in (None, "ok")
    )
    return {
        "answers": len(rows),
        "written": len(lines),
        "accepted": statuses.get("ok", 0),
        "statuses": dict(statuses),
        "acceptance": statuses.get("ok", 0) / len(rows),
        "accepted_agreeing_with_teacher": sum(line["llm"]["verdict"] == line["teacher"] for line in accepted),
        "completion_tokens": sum(line.get("llm", {}).get("usage", {}).get("completion_tokens", 0) for line in lines),
        "seconds": round(seconds, 1),
        "seconds_per_answer": round(seconds / len(rows), 1),
        "timed_out": timed_out,
        "reasons": reasons.most_common(6),
        "stderr_tail": err.strip().splitlines()[-3:],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    fake = sub.add_parser("fake", help="client CPU per request and concurrency reached, against the fake server")
    fake.add_argument("--requests", type=int, default=200)
    fake.add_argument("--concurrency", type=int, default=16)
    fake.add_argument("--delay", type=float, default=0.2)
    fake.add_argument("--cache", action="store_true", help="with a cold reply cache")
    real = sub.add_parser("real", help="acceptance rate and seconds per answer with a real model")
    real.add_argument("--answers", type=int, default=20)
    real.add_argument("--root", type=Path, default=ROOT, help="the checkout whose grader to run")
    real.add_argument("--server", type=Path, default=ROOT.parent / "shared" / "llm-fixture" / "llama-server")
    real.add_argument("--gguf", type=Path, default=ROOT / ".cache" / "gemma-3-270m-q4_k_m.gguf")
    real.add_argument("--base-url", help="a server already running (then --server is not started)")
    real.add_argument("--model", default="gemma3-270m")
    real.add_argument("--budget", type=float, default=1800, help="seconds before the run is stopped")
    args = parser.parse_args()
    if args.what == "fake":
        print(json.dumps(fake_server_throughput(args.requests, args.concurrency, args.delay, args.cache), indent=1))
        return
    proc = None
    base_url = args.base_url
    if base_url is None:
        proc, base_url = start_llama_server(args.server, args.gguf, args.model)
    try:
        print(json.dumps(real_model(base_url, args.model, args.answers, args.root.resolve(), args.budget), indent=1))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
