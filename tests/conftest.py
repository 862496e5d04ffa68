"""Shared fixtures: every test runs with a private home, no API keys and no network."""

from __future__ import annotations

import functools
import gc
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings

# CI draws the same examples every run, so a change lands or not on its own merits; runs elsewhere keep exploring
# (they found the JSON line separators and the stretch's float ties) and report what they find. No example has a
# deadline: an example slowed by a busy machine is not a failure (speed is measured by benchmarks, not tests).
settings.register_profile("explore", deadline=None)
settings.register_profile("ci", derandomize=True, deadline=None)
settings.load_profile("ci" if os.environ.get("GRADER_CI") else "explore")

ROOT = Path(__file__).resolve().parent.parent
SEED_DECK = ROOT / "decks" / "virtualization.md"
SHARED = Path(os.environ.get("GRADER_SHARED", ROOT.parent / "shared"))
CORPUS = SHARED / "decks-corpus"
DATASETS = SHARED / "datasets"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory, monkeypatch):
    """A temporary GRADER_HOME and no credentials from the developer's environment."""
    home = tmp_path_factory.mktemp("grader-home")
    monkeypatch.setenv("GRADER_HOME", str(home))
    for var in list(os.environ):
        if var.startswith(("OPENAI_", "GRADER_")) and var != "GRADER_HOME":
            monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture
def utc_local_time(monkeypatch):
    """Study days follow local time; pin it so a test means the same everywhere."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture(scope="session")
def seed_deck():
    from grader import load_deck

    return load_deck(SEED_DECK)


@dataclass
class CliResult:
    """What a command printed and returned, shaped like ``subprocess.CompletedProcess``."""

    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str, input: str | None = None, cwd: Path | None = None, env: dict | None = None) -> CliResult:
    """Run ``grader`` in this process, through its real entry point (``cli.main``), as a user would.

    Standard input, output, error, the environment, ``sys.argv`` and the working
    directory are swapped for the call, so it behaves like ``python -m grader``
    without paying for a new interpreter. Tests of what only a real process
    shows (signals, a terminal, start-up time) use ``run_process``.
    """
    from typer.testing import CliRunner

    from grader.cli import main

    runner = CliRunner()
    saved_argv, saved_cwd = sys.argv, os.getcwd()
    code = 0
    with runner.isolation(input=input, env={"COLUMNS": "120", **(env or {})}) as (out, err, _):
        sys.argv = ["grader", *args]
        os.chdir(cwd or ROOT)
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            sys.argv = saved_argv
            os.chdir(saved_cwd)
            sys.stdout.flush()
            sys.stderr.flush()
        stdout, stderr = out.getvalue().decode(), err.getvalue().decode()
    return CliResult(code, stdout, stderr)


def run_process(*args: str, input: str | None = None, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real ``grader`` command as a new process (``python -m grader``)."""
    return subprocess.run(
        [sys.executable, "-m", "grader", *args],
        input=input,
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env={**os.environ, "COLUMNS": "120", **(env or {})},
        timeout=60,
    )


@functools.cache
def _llm_client_warmed_up() -> None:
    """One request through the LLM client, once per process, before any test's clock starts: the first request
    loads the openai library and builds its models (0.5 s on an idle machine, seconds on a busy one)."""
    from grader import KeywordGrader, load_deck
    from grader.config import LLMSettings
    from grader.llm.client import FeedbackClient
    from grader.scoring import GradingSettings

    from .fake_openai import FakeOpenAI

    card = load_deck(SEED_DECK).cards[0]
    with FakeOpenAI() as server:
        settings = LLMSettings(enabled=True, model="fake-model", base_url=server.base_url, api_key="sk-warm-up", max_retries=0)
        with FeedbackClient(settings, GradingSettings()) as client:
            client.feedback(card, card.answer, KeywordGrader().grade(card, card.answer))


@pytest.fixture
def fake_openai():
    """A real chat-completions server on 127.0.0.1 (tests/fake_openai.py), one per test.

    What the LLM client learnt about endpoints in this process is forgotten, so a
    port reused by a later test's server starts from the defaults.

    The server and the client share this process, so a pause of the process is a
    server that does not answer in time. What earlier tests left on the heap is
    kept out of the garbage collector's way while the server runs: a full
    collection of a worker's heap took up to 1.8 s on a busy machine.
    """
    from .fake_openai import FakeOpenAI

    _llm_client_warmed_up()
    for name, table in (("grader.llm.client", "_KNOWN_ENDPOINTS"), ("grader.llm.endpoint", "_SLOTS")):
        module = sys.modules.get(name)
        if module is not None:
            getattr(module, table).clear()
    gc.freeze()
    try:
        with FakeOpenAI() as server:
            yield server
    finally:
        gc.unfreeze()
