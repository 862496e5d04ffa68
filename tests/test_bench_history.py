"""The history benchmark (eval/bench_history.py) still measures what the README quotes from it, at a small size."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.slow


def test_the_import_figure_is_measured_into_a_history_that_exists_before_it():
    """``stats`` opens a history read-only and makes none, so the bench made the history by other means; its lock
    prober must not create an empty file either, which the import then refuses as a history emptied by accident."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "eval" / "bench_history.py"), "--only", "import", "--lines", "6000"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "this       import:" in done.stdout
    assert "write lock held" in done.stdout and "Imported" in done.stdout
