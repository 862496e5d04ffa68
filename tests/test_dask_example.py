"""The Dask example (eval/dask_example.py) grades a partitioned dataset exactly as ``grader grade --json`` does.

Needs the ``dask`` extra (``pip install -e '.[dask]'``, which CI installs); skipped without it.
"""

from __future__ import annotations

import json
import sys

import pytest

from .conftest import ROOT, SEED_DECK, run_cli

pytest.importorskip("distributed")
sys.path.insert(0, str(ROOT / "eval"))

import dask_example

from grader import AnswersError, load_deck

SEED = ROOT / "eval" / "seed_dev.jsonl"


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    # Two small workers in this process: the same scheduling and serialisation paths, no processes to start.
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, Client(cluster) as c:
        yield c


def partitions(tmp_path, lines: list[str], sizes: list[int]) -> str:
    folder = tmp_path / "answers"
    folder.mkdir()
    start = 0
    for i, size in enumerate(sizes):
        (folder / f"part-{i}.jsonl").write_text("".join(lines[start : start + size]), encoding="utf-8")
        start += size
    return str(folder / "*.jsonl")


@pytest.mark.slow
def test_a_partitioned_dataset_grades_as_grader_grade_does(tmp_path, client):
    lines = SEED.read_text(encoding="utf-8").splitlines(keepends=True)
    answers = partitions(tmp_path, lines, [40, 1, 76])
    graded = dask_example.grade_dataset(load_deck(SEED_DECK), answers, str(tmp_path / "out"))
    assert graded == len(lines)
    parts = sorted((tmp_path / "out").glob("*.jsonl"))
    assert [p.name for p in parts] == ["00000.jsonl", "00001.jsonl", "00002.jsonl"]
    cli = run_cli("grade", str(SEED_DECK), str(SEED), "--json")
    assert "".join(p.read_text(encoding="utf-8") for p in parts) == cli.stdout


@pytest.mark.slow
def test_a_bad_row_in_any_partition_stops_the_run_before_grading(tmp_path, client):
    lines = SEED.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[50] = json.dumps({"card": 99, "answer": "x"}) + "\n"
    answers = partitions(tmp_path, lines, [40, 77])
    with pytest.raises(AnswersError, match=r"part-1\.jsonl:11: card '99' is not in"):
        dask_example.grade_dataset(load_deck(SEED_DECK), answers, str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()
