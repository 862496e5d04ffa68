"""Shared fixtures: every test runs with a private home, no API keys and no network."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

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


def run_cli(*args: str, input: str | None = None, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real ``grader`` command as a user would (``python -m grader``)."""
    return subprocess.run(
        [sys.executable, "-m", "grader", *args],
        input=input,
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env={**os.environ, "COLUMNS": "120", **(env or {})},
        timeout=60,
    )


@pytest.fixture
def fake_openai():
    """A real chat-completions server on 127.0.0.1 (tests/fake_openai.py), one per test."""
    from .fake_openai import FakeOpenAI

    with FakeOpenAI() as server:
        yield server
