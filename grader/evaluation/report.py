"""An evaluation run as tables and files: report.md, report.html and SVG figures.

Every view is built from the saved ``EvalRun`` alone, so a report can be
written again from a ``--json`` file and always shows what was measured. The
tables and summary lines here are shared with the terminal views (``terminal``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from html import escape
from pathlib import Path

from ..errors import GraderError
from ..writers import md_text
from . import plots
from .results import EvalRun, ItemResult, Metric, TaskResult

WORST = 20
METRIC_NAMES = {
    "pearson": "Pearson r",
    "spearman": "Spearman ρ",
    "rmse": "RMSE",
    "mae": "MAE",
    "qwk": "QWK",
    "exact": "exact",
    "adjacent": "adjacent",
    "accuracy": "accuracy",
    "macro_f1": "macro-F1",
    "weighted_f1": "wtd F1",
    "kappa": "Cohen κ",
}
SCORE_COLUMNS = ("pearson", "spearman", "rmse", "mae", "qwk", "exact", "adjacent")
LABEL_COLUMNS = ("accuracy", "macro_f1", "weighted_f1", "kappa", "qwk")
TASK_TITLES = {"score": "Scores", "label": "Labels", "label_2way": "Two-way labels"}


def system_name(system: str, grader: str) -> str:
    return {
        "zero_shot": f"{grader} · zero-shot",
        "calibrated": f"{grader} · calibrated",
        "majority": "majority baseline",
        "length": "length baseline",
        "overlap": "overlap baseline",
        "human": "human: 2nd vs 1st",
    }.get(system, system)


def fmt(m: Metric | None, interval: bool = True) -> str:
    """``0.624 (0.607–0.639)``; an undefined figure is a dash."""
    if m is None or m.value is None:
        return "—"
    if not interval or m.low is None or m.high is None:
        return f"{m.value:.3f}"
    return f"{m.value:.3f} ({m.low:.3f}–{m.high:.3f})"


def one_line(text: str, n: int) -> str:
    """``text`` on one line, cut to ``n`` characters with an ellipsis, at a word where one ends past the middle
    (cut anywhere, a question read "What is t…")."""
    text = " ".join(text.split())
    if len(text) <= n:
        return text
    space = text.rfind(" ", 0, n)
    return text[: space if space > n // 2 else n - 1].rstrip() + "…"


def task_heading(task: TaskResult) -> str:
    if task.kind == "score":
        scale = "share of max score" if task.normalised else f"0–{task.max_score:g} points"
        return f"{TASK_TITLES.get(task.name, task.name)} ({scale}{', ordinal' if task.ordinal else ''})"
    return f"{TASK_TITLES.get(task.name, task.name)} ({' / '.join(task.classes)})"


def task_table(run: EvalRun, task: TaskResult, cell=fmt) -> tuple[list[str], list]:
    """Headers and rows: one row per system, one column per metric."""
    wanted = SCORE_COLUMNS if task.kind == "score" else LABEL_COLUMNS
    present = {m for s in task.systems.values() for m in s.metrics}
    columns = [c for c in wanted if c in present]
    rows = [[system_name(s, run.grader)] + [cell(r.metrics.get(c)) for c in columns] for s, r in task.systems.items()]
    return ["system"] + [METRIC_NAMES[c] for c in columns], rows


def per_class_table(task: TaskResult, system: str = "calibrated") -> tuple[list[str], list[list[str]]]:
    result = task.systems.get(system)
    if result is None or not result.per_class:
        return [], []
    rows = []
    for i, c in enumerate(task.classes):
        support = sum(result.confusion[i]) if result.confusion else 0
        pc = result.per_class[c]
        rows.append([c, str(support), fmt(pc["precision"]), fmt(pc["recall"])])
    return ["class", "answers", "precision", "recall"], rows


def question_metric(task: TaskResult) -> str:
    """The figure a per-question table shows: QWK for ordinal scores, Pearson for others, macro-F1 for labels."""
    return "qwk" if task.ordinal else ("pearson" if task.kind == "score" else "macro_f1")


def question_table(task: TaskResult, titles: dict[str, str], cell=fmt) -> tuple[list[str], list[list[str]]]:
    """The headline figure per question (sets of at most 20 questions)."""
    if not task.by_question:
        return [], []
    metric = question_metric(task)
    systems = [s for s in ("zero_shot", "calibrated", "overlap") if any(s in q for q in task.by_question.values())]
    rows = [[q, one_line(titles.get(q, ""), 50)] + [cell(by.get(s, {}).get(metric)) for s in systems] for q, by in task.by_question.items()]
    return ["question", "text"] + [s.replace("_", "-") for s in systems], rows


def summary_lines(run: EvalRun) -> list[str]:
    d, c, s = run.data, run.calibration, run.speed
    lines = [f"Data: {d.path} ({d.name}): {d.items} answers to {d.questions} questions"]
    if d.limit and d.limit <= d.items:  # a --limit above the set's size took every answer: no sample
        lines[0] += f" (a fixed sample of --limit {d.limit})"
    if d.deck:  # the rows name cards by number: the wrong deck (--deck forgotten) would grade them against other questions
        lines.append(f"Deck: {d.deck}")
    if d.reference_answers:
        lines.append(f"References: {d.reference_answers} further reference answers; each answer's best grade counts")
    if d.skipped_items:
        lines.append(
            f"Skipped: {d.skipped_items} answer{'' if d.skipped_items == 1 else 's'} to {len(d.skipped_questions)} "
            f"question{'' if len(d.skipped_questions) == 1 else 's'} with no reference answer "
            f"or key terms ({', '.join(d.skipped_questions[:10])})"
        )
    lines.append(f"Grader: {run.grader}")
    scope = "one mapping per question" if c.scope == "question" else "one mapping for the whole set"
    if c.neighbours:
        scope += (
            ", each score blended with the grade that graded answers to its question predict from their similarity"
            f" to it (where there are {c.neighbours} or more)"
        )
    if c.signals:
        scope += (
            ", the score with the answer's similarity to the reference, the share of its words repeated and its card's"
            " number of key terms, weighed by a logistic regression for two-class labels, else (the first two) as they"
            f" predict the fitting answers out of fold (where those answer {c.signals} or more questions)"
        )
    if c.mode == "train":
        lines.append(f"Calibration: fitted on {c.train_path} ({c.train_items} answers), {scope}")
    elif c.scope == "question":
        lines.append(f"Calibration: {c.folds}-fold cross-validation over the answers of each question, {scope}")
    else:
        lines.append(f"Calibration: {c.folds}-fold cross-validation grouped by question, {scope}")
    lines.append(
        f"Intervals: {run.bootstrap.confidence:.0%} bootstrap percentile intervals, "
        f"{run.bootstrap.resamples} resamples of answers (seed {run.bootstrap.seed})"
    )
    if s.answers_per_second:
        rate = (
            f"{s.answers_per_second:,.0f} answers/s"
            if s.answers_per_second >= 10
            else f"{1 / s.answers_per_second:.1f} s per answer"  # an LLM run: "0 answers/s" would say nothing
        )
        lines.append(f"Speed: {s.answers} answers graded in {s.grading_seconds:.2f} s ({rate})")
    if run.consistency:
        k = run.consistency
        pp = f"{k.pairwise_pearson:.3f}" if k.pairwise_pearson is not None else "—"
        lines.append(
            f"Self-consistency over {k.repeats} runs: same verdict for {k.verdict_agreement:.1%} of answers, "
            f"mean score SD {k.mean_score_sd:.3f}, mean pairwise Pearson {pp}"
        )
    return lines + [line for task in run.tasks.values() if (line := _one_grade(run, task))] + run.notes


def _one_grade(run: EvalRun, task: TaskResult) -> str | None:
    """Why a task's correlations and kappas are dashes or zeros, when the humans gave every answer one grade."""
    golds = {it.gold.get(task.name) for it in run.items}
    same = golds if task.kind == "label" else {_human_value(task, it) for it in run.items}  # points: as shares of their maxima
    if len(same) != 1:
        return None
    if len(golds) > 1:
        grade = f"{same.pop():.0%} of the maximum"
    elif task.kind == "score":
        points = golds.pop()
        grade = f"{points:g} point{'' if points == 1 else 's'}"
    else:
        grade = str(golds.pop())
    return f"Every answer has the same human grade ({grade}): correlations and kappas, which need grades that differ, are undefined (—) or 0"


# --- disagreements and plot data -----------------------------------------------------


def _human_value(task: TaskResult, item: ItemResult) -> float | None:
    """The human judgement as a share in [0, 1]: score / max, or the label's place on the scale."""
    gold = item.gold.get(task.name)
    if gold is None:
        return None
    if task.kind == "score":
        return float(gold) / (item.max_score or task.max_score or 1.0)
    if task.ordered and len(task.classes) > 1:
        return task.classes.index(str(gold)) / (len(task.classes) - 1)  # a label task's gold is its class name
    return 1.0 if gold == "correct" else 0.0


@dataclass
class Disagreement:
    item: ItemResult
    gold: str
    predicted: str
    size: float


def worst_disagreements(run: EvalRun, n: int = WORST) -> list[Disagreement]:
    """The answers where the calibrated grader and the human differ most on the main task.

    Scores: the largest gaps as a share of the maximum. Labels: wrong labels,
    those whose raw score sits farthest from the human's judgement first.
    """
    task = run.tasks.get(run.primary_task or "")
    if task is None:
        return []
    out = []
    for it in run.items:
        pred = it.predicted.get(task.name, {}).get("calibrated")
        human = _human_value(task, it)
        if pred is None or human is None:
            continue
        if task.kind == "score":
            top = it.max_score or task.max_score or 1.0
            size = abs(float(pred) / top - human)
            out.append(Disagreement(it, f"{float(it.gold[task.name]):g}", f"{float(pred):.2f}", size))
        elif pred != it.gold[task.name]:
            out.append(Disagreement(it, str(it.gold[task.name]), str(pred), abs(it.score - human)))
    out.sort(key=lambda d: (-d.size, d.item.id))
    return out[:n]


def _plot_task(run: EvalRun) -> TaskResult | None:
    return run.tasks.get(run.primary_task or "")


def figures(run: EvalRun) -> dict[str, str]:
    """SVG figures by file name: confusion matrix, predicted vs human scatter, calibration curve."""
    task = _plot_task(run)
    if task is None:
        return {}
    pairs = [(it.score, _human_value(task, it)) for it in run.items]
    pairs = [(x, y) for x, y in pairs if y is not None]
    xs, ys = [x for x, _ in pairs], [y for _, y in pairs]
    human = "human score / max" if task.kind == "score" else "human label (incorrect 0 … correct 1)"
    out = {
        "scatter.svg": plots.scatter(xs, ys, title=f"{run.grader} score vs human", x_label=f"{run.grader} raw score", y_label=human),
        "calibration.svg": plots.calibration_curve(
            xs, ys, title="Calibration: mean human judgement per score bin", x_label=f"{run.grader} raw score", y_label=human
        ),
    }
    matrix, classes, what = _confusion(run)
    if matrix is not None:
        out["confusion.svg"] = plots.confusion_matrix(matrix, classes, title=f"Confusion matrix: {what}")
    return out


def _confusion(run: EvalRun) -> tuple[list[list[int]] | None, list[str], str]:
    """The calibrated grader's confusion matrix for the main task (whole points for ordinal scores)."""
    task = _plot_task(run)
    if task is not None and task.kind == "score" and task.ordinal:
        k = int(task.max_score or 0) + 1
        matrix = [[0] * k for _ in range(k)]
        for it in run.items:
            pred = it.predicted.get(task.name, {}).get("calibrated_points")
            if pred is not None:
                gold = int(float(it.gold[task.name]) + 0.5)
                matrix[min(gold, k - 1)][min(int(pred), k - 1)] += 1
        return matrix, [str(i) for i in range(k)], "calibrated points"
    labelled = [t for t in ([task] if task else []) + list(run.tasks.values()) if t.kind == "label"]
    for t in labelled:
        cal = t.systems.get("calibrated")
        if cal and cal.confusion:
            return cal.confusion, t.classes, f"calibrated {t.name}"
    return None, [], ""


# --- files ------------------------------------------------------------------------------


def _md_table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(md_text(h) for h in headers) + " |", "|" + "|".join(["---"] * len(headers)) + "|"]
    lines += ["| " + " | ".join(md_text(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(run: EvalRun, figure_files: list[str]) -> str:
    """The report as Markdown, pointing at the SVG files beside it."""
    title = md_text(f"Evaluation: {run.grader} grader on {run.data.name}")
    parts = [f"# {title}", "", *[f"- {md_text(line)}" for line in summary_lines(run)], ""]
    for task in run.tasks.values():
        parts += [f"## {md_text(task_heading(task))}", "", _md_table(*task_table(run, task)), ""]
        human = task.systems.get("human")
        if human and human.note:
            parts += [f"Human ceiling: {md_text(human.note)}.", ""]
        headers, rows = per_class_table(task)
        if rows:
            parts += [f"Per class ({md_text(run.grader)} · calibrated):", "", _md_table(headers, rows), ""]
        headers, rows = question_table(task, run.data.question_text)
        if rows:
            parts += [f"By question ({METRIC_NAMES[question_metric(task)]}):", "", _md_table(headers, rows), ""]
    if figure_files:
        parts += ["## Figures", ""] + [f"![{f}]({f})" for f in figure_files] + [""]
    parts += [f"## The {WORST} worst disagreements", "", _md_table(*_worst_rows(run)), ""]
    return "\n".join(parts)


def _worst_rows(run: EvalRun) -> tuple[list[str], list[list[str]]]:
    rows = [
        [d.item.id, d.item.question_id, d.gold, d.predicted, f"{d.item.score:.2f}", d.item.verdict.value, one_line(d.item.answer, 160)]
        for d in worst_disagreements(run)
    ]
    return ["id", "question", "human", "calibrated", "raw score", "verdict", "answer"], rows


_CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right;vertical-align:top}
th:first-child,td:first-child,td.text{text-align:left}td.text{max-width:420px}.figures{display:flex;flex-wrap:wrap;gap:1em}
ul{color:#555}"""


def _html_table(headers: list[str], rows: list[list[str]], text_columns: tuple[int, ...] = ()) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td{" class=text" if i in text_columns else ""}>{escape(c)}</td>' for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def html(run: EvalRun, svgs: dict[str, str]) -> str:
    """The report as one self-contained HTML page (figures inline)."""
    title = f"Evaluation: {run.grader} grader on {run.data.name}"
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title><style>{_CSS}</style></head><body>"]
    parts.append(f"<h1>{escape(title)}</h1><ul>" + "".join(f"<li>{escape(x)}</li>" for x in summary_lines(run)) + "</ul>")
    for task in run.tasks.values():
        parts.append(f"<h2>{escape(task_heading(task))}</h2>" + _html_table(*task_table(run, task)))
        headers, rows = per_class_table(task)
        if rows:
            parts.append(f"<p>Per class ({escape(run.grader)} · calibrated):</p>" + _html_table(headers, rows))
        headers, rows = question_table(task, run.data.question_text)
        if rows:
            parts.append(f"<p>By question ({escape(METRIC_NAMES[question_metric(task)])}):</p>" + _html_table(headers, rows, text_columns=(1,)))
    if svgs:
        parts.append("<h2>Figures</h2><div class=figures>" + "".join(svgs.values()) + "</div>")
    parts.append(f"<h2>The {WORST} worst disagreements</h2>" + _html_table(*_worst_rows(run), text_columns=(0, 6)))
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(run: EvalRun, directory: str | Path) -> list[Path]:
    """Write report.md, report.html and the SVG figures into ``directory``; return the files.

    Every file is built before any is written, each under a temporary name renamed into place: a report interrupted
    (Ctrl-C) or failing leaves the folder as it was, not new figures beside the last run's report.
    """
    directory = Path(directory)
    svgs = figures(run)
    texts = {**svgs, "report.md": markdown(run, list(svgs)), "report.html": html(run, svgs)}
    temporaries: list[Path] = []
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for name, text in texts.items():
            temporaries.append(directory / f".{name}.{os.getpid()}.tmp")
            temporaries[-1].write_text(text, encoding="utf-8")
        for temporary, name in zip(temporaries, texts):
            os.replace(temporary, directory / name)
    except OSError as exc:
        raise GraderError(f"cannot write the report: {exc.strerror or exc}", path=directory) from None
    finally:
        for temporary in temporaries:
            temporary.unlink(missing_ok=True)
    return [directory / name for name in texts]
