"""An evaluation run and a comparison of two runs, as rich renderables for the terminal."""

from __future__ import annotations

from .compare import Comparison
from .report import METRIC_NAMES, fmt, one_line, per_class_table, question_metric, question_table, summary_lines, task_heading, task_table
from .results import EvalRun, Metric


def _two_line(m: Metric | None) -> str:
    """A terminal cell: the figure, and its interval dimmed below it (keeps columns narrow)."""
    if m is None or m.value is None:
        return "—"
    if m.low is None or m.high is None:
        return f"{m.value:.3f}"
    return f"{m.value:.3f}\n[dim]{m.low:.2f}–{m.high:.2f}[/dim]"


def terminal(run: EvalRun, width: int = 120) -> list:
    """Rich renderables for the terminal: a summary and one table per task.

    Intervals go on a second, dimmed line of each cell; when the table would
    not fit ``width`` they are left out (the --json and --report output keep them).
    """
    from rich.table import Table
    from rich.text import Text

    out: list = [Text("\n".join(summary_lines(run)), style="dim")]
    for task in run.tasks.values():
        headers, _ = task_table(run, task)
        with_intervals = 16 + sum(max(len(h), 9) + 3 for h in headers[1:]) <= width
        headers, rows = task_table(run, task, cell=_two_line if with_intervals else (lambda m: fmt(m, interval=False)))
        table = Table(title=task_heading(task), title_justify="left", show_lines=with_intervals)
        for i, h in enumerate(headers):
            if i == 0:
                table.add_column(h, justify="left", min_width=12)
            else:
                table.add_column(h, justify="right", no_wrap=True, min_width=9 if with_intervals else None)
        for row in rows:
            style = "bold" if row[0].endswith("calibrated") else None
            table.add_row(*row, style=style)
        out.append(table)
        if not with_intervals:
            out.append(Text("(95% intervals left out to fit the terminal: see --json or --report)", style="dim"))
        headers, rows = per_class_table(task)
        if rows:
            pc = Table(title=f"Per class ({run.grader} · calibrated)", title_justify="left")
            for h in headers:
                pc.add_column(h, justify="right" if h != "class" else "left")
            for row in rows:
                pc.add_row(*row)
            out.append(pc)
        headers, rows = question_table(task, run.data.question_text, cell=_two_line)
        if rows:
            qt = Table(title=f"By question ({METRIC_NAMES[question_metric(task)]})", title_justify="left", show_lines=True)
            for h in headers:
                if h == "text":
                    qt.add_column(h, justify="left", ratio=1, overflow="fold")
                else:
                    qt.add_column(h, justify="left" if h == "question" else "right", no_wrap=True)
            for row in rows:
                qt.add_row(*row)
            out.append(qt)
    return out


def comparison_terminal(cmp: Comparison, limit: int = 30) -> list:
    """Rich renderables for ``grader eval compare``: metric deltas and flipped answers."""
    from rich.table import Table
    from rich.text import Text

    out: list = []
    if not cmp.same_data:
        out.append(Text("Warning: the two runs are not on the same data; deltas compare different answers.", style="yellow"))
    table = Table(title=f"Metric deltas ({cmp.b} minus {cmp.a})", title_justify="left")
    for h in ("task", "system", "metric", cmp.a, cmp.b, "delta"):
        table.add_column(h, justify="left" if h in ("task", "system", "metric") else "right")
    for d in cmp.deltas:
        if d.system not in ("zero_shot", "calibrated"):
            continue
        delta = "—" if d.delta is None else f"{d.delta:+.3f}"
        style = None if d.delta is None or abs(d.delta) < 0.0005 else ("green" if (d.delta > 0) != (d.metric in ("rmse", "mae")) else "red")
        table.add_row(d.task, d.system, METRIC_NAMES.get(d.metric, d.metric), _num(d.a), _num(d.b), Text(delta, style=style or ""))
    out.append(table)
    flips = Table(title=f"{len(cmp.flips)} answers changed verdict or calibrated prediction" + (f" (first {limit})" if len(cmp.flips) > limit else ""), title_justify="left")
    for h in ("id", "human", f"verdict {cmp.a}", f"verdict {cmp.b}", f"pred {cmp.a}", f"pred {cmp.b}", "answer"):
        flips.add_column(h, overflow="fold")
    for f in cmp.flips[:limit]:
        flips.add_row(f.id, _num(f.gold), f.verdict_a.value, f.verdict_b.value, _num(f.predicted_a), _num(f.predicted_b), one_line(f.answer, 80))
    out.append(flips)
    if cmp.only_in_a or cmp.only_in_b:
        out.append(Text(f"Answers only in {cmp.a}: {cmp.only_in_a}; only in {cmp.b}: {cmp.only_in_b}", style="dim"))
    return out


def _num(v) -> str:
    if v is None:
        return "—"
    return f"{v:.3f}" if isinstance(v, float) else str(v)
