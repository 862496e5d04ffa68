"""Practice takes whatever bytes are typed: text that is not UTF-8 is kept as U+FFFD, never a crash."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .conftest import ROOT


@pytest.mark.slow
def test_bytes_that_are_not_utf8_are_saved_as_replacement_characters(isolated_env):
    env = {**os.environ, "COLUMNS": "100"}
    done = subprocess.run(
        [sys.executable, "-m", "grader", "practice", "--cards", "3"],
        input=b"shar\xffing\n/quit\n", capture_output=True, cwd=ROOT, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert b"Traceback" not in done.stderr
    exported = subprocess.run(
        [sys.executable, "-m", "grader", "history", "export"], capture_output=True, cwd=ROOT, env=env, timeout=60, text=True
    )
    answers = [json.loads(line)["answer"] for line in exported.stdout.splitlines() if json.loads(line)["type"] == "attempt"]
    assert answers == ["shar\ufffding"]
