"""The review benchmark (eval/bench_review.py) still runs both checkouts and compares their exports, at a small size."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.slow


def test_the_review_bench_measures_both_checkouts_and_compares_their_exports(tmp_path):
    baseline = tmp_path / "base"
    baseline.symlink_to(ROOT)  # another name for this checkout: its exports are the same
    done = subprocess.run(
        [sys.executable, str(ROOT / "eval" / "bench_review.py"), "--rows", "300", "--repeat", "1", "--against", str(baseline)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    for line in ("this       first group", "this       exports", "baseline   first group", "baseline   exports"):
        assert line in done.stdout
    assert "byte-identical across checkouts: yes" in done.stdout
