"""An evaluation run and a comparison of two runs, as rich renderables for the terminal.

Dataset text (questions, answers, ids) is untrusted: every cell is a ``Text``
(never parsed as markup) cleaned of escape sequences. A table wider than the
terminal first drops its intervals, then is split into several tables of
metric columns, each repeating the row names: no figure is ever cut.
"""

from __future__ import annotations

from ..display import clean, clean_line
from .compare import Comparison
from .report import METRIC_NAMES, fmt, one_line, per_class_table, question_metric, question_table, summary_lines, task_heading, task_table
from .results import EvalRun, Metric

FIRST_COLUMN = 16  # the widest row name shown whole ("overlap baseline")


def _two_line(m: Metric | None):
    """A terminal cell: the figure, and its interval dimmed below it (keeps columns narrow)."""
    from rich.text import Text

    if m is None or m.value is None:
        return Text("—")
    if m.low is None or m.high is None:
        return Text(f"{m.value:.3f}")
    return Text.assemble(f"{m.value:.3f}\n", (f"{m.low:.2f}–{m.high:.2f}", "dim"))


def _plain(m: Metric | None):
    from rich.text import Text

    return Text(fmt(m, interval=False))


def _cell_width(cell) -> int:
    return max((len(line) for line in str(cell).split("\n")), default=0)


def _column_groups(headers: list[str], rows: list[list], width: int) -> list[list[int]]:
    """The metric columns (1..n) in groups that each fit ``width`` beside the first column."""
    need = [max(_cell_width(h), *(_cell_width(r[i]) for r in rows)) + 3 for i, h in enumerate(headers)]
    room = max(width - min(need[0], FIRST_COLUMN + 3) - 1, 1)
    groups: list[list[int]] = [[]]
    used = 0
    for i in range(1, len(headers)):
        if groups[-1] and used + need[i] > room:
            groups.append([])
            used = 0
        groups[-1].append(i)
        used += need[i]
    return groups


def terminal(run: EvalRun, width: int = 120) -> list:
    """Rich renderables for the terminal: a summary and one table per task (split to fit ``width``).

    Intervals go on a second, dimmed line of each cell; when the table would
    not fit ``width`` they are left out (the --json and --report output keep them).
    """
    from rich.table import Table
    from rich.text import Text

    out: list = [Text(clean("\n".join(summary_lines(run))), style="dim")]
    for task in run.tasks.values():
        headers, _ = task_table(run, task)
        with_intervals = 16 + sum(max(len(h), 9) + 3 for h in headers[1:]) <= width
        headers, rows = task_table(run, task, cell=_two_line if with_intervals else _plain)
        groups = _column_groups(headers, rows, width)
        for n, group in enumerate(groups):
            title = task_heading(task) + (f" ({n + 1} of {len(groups)})" if len(groups) > 1 else "")
            table = Table(title=Text(clean_line(title)), title_justify="left", show_lines=with_intervals)
            table.add_column(headers[0], justify="left", min_width=12)
            for i in group:
                table.add_column(headers[i], justify="right", no_wrap=True, min_width=9 if with_intervals else None)
            for row in rows:
                style = "bold" if str(row[0]).endswith("calibrated") else None
                table.add_row(Text(clean_line(str(row[0]))), *(row[i] for i in group), style=style)
            out.append(table)
        if not with_intervals:
            out.append(Text("(95% intervals left out to fit the terminal: see --json or --report)", style="dim"))
        headers, rows = per_class_table(task)
        if rows:
            pc = Table(title=Text(f"Per class ({clean_line(run.grader)} · calibrated)"), title_justify="left")
            for h in headers:
                pc.add_column(h, justify="right" if h != "class" else "left")
            for row in rows:
                pc.add_row(*(Text(clean_line(str(c))) for c in row))
            out.append(pc)
        headers, rows = question_table(task, run.data.question_text, cell=_two_line)
        if rows:
            qt = Table(title=Text(f"By question ({METRIC_NAMES[question_metric(task)]})"), title_justify="left", show_lines=True)
            for h in headers:
                if h == "text":
                    qt.add_column(h, justify="left", ratio=1, overflow="fold")
                else:
                    qt.add_column(h, justify="left" if h == "question" else "right", no_wrap=True)
            for row in rows:
                qt.add_row(*(c if isinstance(c, Text) else Text(clean_line(str(c))) for c in row))
            out.append(qt)
    return out


def comparison_terminal(cmp: Comparison, limit: int = 30) -> list:
    """Rich renderables for ``grader eval compare``: metric deltas and flipped answers; says so when there are none."""
    from rich.table import Table
    from rich.text import Text

    out: list = []
    a, b = clean_line(cmp.a), clean_line(cmp.b)
    if not cmp.same_data:
        out.append(Text("Warning: the two runs are not on the same data; deltas compare different answers.", style="yellow"))
    deltas = [d for d in cmp.deltas if d.system in ("zero_shot", "calibrated")]
    if deltas:
        table = Table(title=Text(f"Metric deltas ({b} minus {a})"), title_justify="left")
        for h in ("task", "system", "metric", a, b, "delta"):
            table.add_column(Text(h), justify="left" if h in ("task", "system", "metric") else "right")
        for d in deltas:
            delta = "—" if d.delta is None else f"{d.delta:+.3f}"
            style = None if d.delta is None or abs(d.delta) < 0.0005 else ("green" if (d.delta > 0) != (d.metric in ("rmse", "mae")) else "red")
            metric = METRIC_NAMES.get(d.metric, d.metric)
            table.add_row(*(Text(clean_line(str(x))) for x in (d.task, d.system, metric, _num(d.a), _num(d.b))), Text(delta, style=style or ""))
        out.append(table)
    else:
        out.append(Text("The two runs share no metric to compare (different tasks or systems)."))
    if cmp.flips:
        shown = f" (first {limit})" if len(cmp.flips) > limit else ""
        flips = Table(title=Text(f"{len(cmp.flips)} answers changed verdict or calibrated prediction{shown}"), title_justify="left")
        for h in ("id", "human", f"verdict {a}", f"verdict {b}", f"pred {a}", f"pred {b}", "answer"):
            flips.add_column(Text(h), overflow="fold")
        for f in cmp.flips[:limit]:
            cells = (f.id, _num(f.gold), f.verdict_a.value, f.verdict_b.value, _num(f.predicted_a), _num(f.predicted_b), one_line(f.answer, 80))
            flips.add_row(*(Text(clean_line(str(c))) for c in cells))
        out.append(flips)
    else:
        out.append(Text("No answer changed its verdict or calibrated prediction."))
    if cmp.only_in_a or cmp.only_in_b:
        out.append(Text(f"Answers only in {a}: {cmp.only_in_a}; only in {b}: {cmp.only_in_b}", style="dim"))
    return out


def _num(v) -> str:
    if v is None:
        return "—"
    return f"{v:.3f}" if isinstance(v, float) else str(v)
