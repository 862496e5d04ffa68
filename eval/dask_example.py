"""Grade a partitioned dataset of answers on a Dask cluster, through the function `grader grade` uses.

    pip install 'grader[dask]'        # or: pip install -e '.[dask]'
    python eval/dask_example.py DECK 'answers/*.jsonl' OUT_DIR [--scheduler tcp://host:8786]

The answers are JSON Lines partitions, one file each (on a shared disk, or any
fsspec URL such as ``s3://bucket/answers/*.jsonl`` with s3fs installed). Each
partition is graded on a worker with ``grader.batch.grade_rows`` — the function
``grader grade`` grades with (``grader.grade_answers`` is the same for bare
(card, answer) pairs) — and written to ``OUT_DIR/<n>.jsonl`` in the records of
``grader grade --json``: the partitions' outputs, concatenated in order, are
byte for byte what ``grader grade --json`` writes for the whole dataset.

As in ``grader grade``, nothing is graded until every row is checked: a first
pass over the partitions finds each row's card (a bad row stops the run with
``FILE:LINE: ...``), the second grades. Without ``--scheduler`` a LocalCluster
on this machine runs it.

This is for data that already lives in a cluster's reach. On one machine
``grader grade --jobs N`` is simpler and as fast (README, "Design notes").
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader import GradingSettings, KeywordGrader, load_deck
from grader.answers import CardResolver, answer_row, json_lines
from grader.batch import grade_rows
from grader.models import AnswerRow, Card, Deck


def checked_rows(lines: Iterable[tuple[str, str]], deck: Deck) -> list[tuple[AnswerRow, Card]]:
    """A partition's rows, each checked and paired with its card (``(line text, file)`` pairs in, as
    ``dask.bag.read_text(..., include_path=True)`` gives them; one file is one partition)."""
    lines = list(lines)
    path = lines[0][1] if lines else ""
    resolver = CardResolver(deck)
    rows = [answer_row(data, number, path) for number, data in json_lines((text for text, _ in lines), path)]
    return [(row, resolver.card(row, path)) for row in rows]


def count_partition(lines: Iterable[tuple[str, str]], deck: Deck) -> list[int]:
    """The first pass: every row of the partition checked; how many there are."""
    return [len(checked_rows(lines, deck))]


def grade_partition(lines: Iterable[tuple[str, str]], deck: Deck, settings: GradingSettings) -> list[dict[str, Any]]:
    """The second pass: the partition's rows graded as ``grader grade`` grades them, as its ``--json`` records."""
    grader = KeywordGrader(settings)
    grader.use_deck(deck.cards)  # as grader grade does: a list of the deck's terms is not an answer
    return [graded.record for graded in grade_rows(checked_rows(lines, deck), grader)]


def grade_dataset(deck: Deck, answers: str, out_dir: str, settings: GradingSettings | None = None) -> int:
    """Grade every partition matched by ``answers`` on the current Dask client; the number of rows graded."""
    import dask.bag as db

    settings = settings or GradingSettings()
    bag = db.read_text(answers, include_path=True)  # one partition per file, rows in file order
    total = sum(bag.map_partitions(count_partition, deck).compute())  # raises at the first bad row
    records = bag.map_partitions(grade_partition, deck, settings)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    records.map(lambda record: json.dumps(record, ensure_ascii=False)).to_textfiles(
        f"{out_dir}/*.jsonl", name_function=lambda i: f"{i:05d}", encoding="utf-8", last_endline=True
    )
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("deck", type=Path)
    parser.add_argument("answers", help="JSON Lines partitions: a glob or a list of paths or URLs")
    parser.add_argument("out_dir")
    parser.add_argument("--scheduler", help="a running Dask scheduler's address (default: a LocalCluster here)")
    args = parser.parse_args()
    from distributed import Client, LocalCluster

    from grader.config import load_grading_settings

    deck = load_deck(args.deck)
    if args.scheduler:
        client = Client(args.scheduler)
    else:
        client = Client(LocalCluster(n_workers=2, threads_per_worker=1))
    with client:
        n = grade_dataset(deck, args.answers, args.out_dir, load_grading_settings())
    print(f"graded {n} answers into {args.out_dir}")


if __name__ == "__main__":
    main()
