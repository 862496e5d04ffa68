"""Comparing two saved runs of the same data: metric deltas and the answers whose verdict flipped."""

from __future__ import annotations

from pydantic import BaseModel, Field

from ..models import Verdict
from .results import SYSTEMS, EvalRun, ItemResult


class MetricDelta(BaseModel):
    task: str
    system: str
    metric: str
    a: float | None
    b: float | None
    delta: float | None


class Flip(BaseModel):
    id: str
    question_id: str
    answer: str
    gold: float | str | None
    verdict_a: Verdict
    verdict_b: Verdict
    score_a: float
    score_b: float
    predicted_a: float | str | None
    predicted_b: float | str | None


class Comparison(BaseModel):
    """What changed between two saved runs of the same data."""

    a: str
    b: str
    same_data: bool
    primary_task: str | None
    deltas: list[MetricDelta]
    flips: list[Flip] = Field(description="Answers whose verdict or calibrated prediction changed.")
    only_in_a: int
    only_in_b: int


def compare_runs(a: EvalRun, b: EvalRun, *, a_name: str = "A", b_name: str = "B") -> Comparison:
    """Metric deltas (B minus A) and the answers whose verdict flipped."""
    task = a.primary_task if a.primary_task == b.primary_task else None
    a_ids, b_ids = {_same(it) for it in a.items}, {_same(it) for it in b.items}
    return Comparison(
        a=a_name,
        b=b_name,
        same_data=a.data.path == b.data.path and a.data.items == b.data.items,
        primary_task=task,
        deltas=metric_deltas(a, b),
        flips=verdict_flips(a, b, task),
        only_in_a=len(a_ids - b_ids),
        only_in_b=len(b_ids - a_ids),
    )


def metric_deltas(a: EvalRun, b: EvalRun) -> list[MetricDelta]:
    """Every metric both runs measured for the same task and system, B minus A."""
    deltas = []
    for tname, ta in a.tasks.items():
        tb = b.tasks.get(tname)
        if tb is None:
            continue
        for sname in SYSTEMS:
            sa, sb = ta.systems.get(sname), tb.systems.get(sname)
            if sa is None or sb is None:
                continue
            for mname, ma in sa.metrics.items():
                mb = sb.metrics.get(mname)
                if mb is None:
                    continue
                delta = mb.value - ma.value if ma.value is not None and mb.value is not None else None
                deltas.append(MetricDelta(task=tname, system=sname, metric=mname, a=ma.value, b=mb.value, delta=None if delta is None else round(delta, 6)))
    return deltas


def _same(item: ItemResult) -> tuple[str, str, str]:
    """What makes an answer of one run the same answer in another: its id alone is not enough, as the default
    id (FILE:LINE) names another answer in another file of the same name."""
    return (item.id, item.question_id, item.answer)


def verdict_flips(a: EvalRun, b: EvalRun, task: str | None) -> list[Flip]:
    """Answers in both runs whose verdict, or calibrated prediction on ``task``, changed."""
    b_items = {_same(it): it for it in b.items}
    flips = []
    for ia in a.items:
        ib = b_items.get(_same(ia))
        if ib is None:
            continue
        pa = ia.predicted.get(task, {}).get("calibrated") if task else None
        pb = ib.predicted.get(task, {}).get("calibrated") if task else None
        if ia.verdict != ib.verdict or pa != pb:
            flips.append(
                Flip(
                    id=ia.id,
                    question_id=ia.question_id,
                    answer=ia.answer,
                    gold=ia.gold.get(task) if task else None,
                    verdict_a=ia.verdict,
                    verdict_b=ib.verdict,
                    score_a=ia.score,
                    score_b=ib.score,
                    predicted_a=pa,
                    predicted_b=pb,
                )
            )
    return flips
