"""Terminal rendering with rich: questions, graded answers, summaries, tables, progress stats."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .models import Card, Grade, Verdict
from .practice import SessionSummary
from .session import AnswerGraded, ModelFeedback, Question, Rated, Reference, Shown, Summary

if TYPE_CHECKING:
    from rich.markdown import Markdown

    from .writers import GradedAnswer
    from .llm.schema import LLMResult
    from .stats import DayCount, DeckStats, MissedTerm, StatsReport

VERDICT_STYLE = {
    Verdict.correct: "bold green",
    Verdict.partial: "bold yellow",
    Verdict.incorrect: "bold red",
    Verdict.self_graded: "bold cyan",
}


def question_panel(card: Card, position: int, total: int, deck_title: str) -> Panel:
    return Panel(
        Text(card.question or "(no question)", style="bold"),
        title=f"{deck_title} · card {card.number}",
        subtitle=f"{position}/{total}",
        title_align="left",
        subtitle_align="right",
        border_style="blue",
    )


def highlighted_answer(answer: str, grade: Grade) -> Text:
    """The user's answer with the spans that earned each key term highlighted."""
    text = Text(answer)
    for term in grade.terms:
        if term.span and term.credit > 0:
            text.stylize("bold green" if term.found else "yellow", *term.span)
    return text


def reference_markdown(card: Card) -> Markdown:
    from rich.markdown import Markdown  # markdown-it loads only when a reference is shown

    # ==term== is not markdown; show it as bold so the key terms stand out.
    return Markdown(re.sub(r"={2,3}(.+?)={2,3}", r"**\1**", card.answer, flags=re.DOTALL) or "_(no answer text)_")


def grade_view(card: Card, answer: str, grade: Grade) -> Group:
    """Everything shown after an answer: verdict, highlighted answer, missed terms, reference."""
    parts: list = []
    if grade.verdict is Verdict.self_graded:
        parts.append(Text("Self-graded card: compare with the reference.", style=VERDICT_STYLE[grade.verdict]))
    else:
        head = Text.assemble((grade.verdict.value.upper(), VERDICT_STYLE[grade.verdict]), f"  score {grade.score:.0%}")
        parts += [head, Text(""), Text("Your answer:", style="dim"), highlighted_answer(answer, grade)]
        if not grade.answered:
            parts.append(Text("Not an answer: here is what to learn.", style="dim"))
        found = [t for t in grade.terms if t.found]
        partly = [t for t in grade.terms if not t.found and t.credit > 0]
        missed = [t for t in grade.terms if not t.found and t.credit == 0]
        if found:
            parts.append(Text("✓ " + " · ".join(t.term for t in found), style="green"))
        if partly:
            parts.append(Text("~ " + " · ".join(f"{t.term} ({t.credit:.0%})" for t in partly), style="yellow"))
        if missed:
            parts.append(Text("✗ missed: " + " · ".join(t.term for t in missed), style="red"))
        if any(t.derived for t in grade.terms):
            parts.append(Text("(key terms derived from the reference answer: the card has no highlights)", style="dim"))
    parts.append(Text(""))
    parts.append(reference_panel(card))
    return Group(*parts)


def reference_panel(card: Card) -> Panel:
    body: list = [reference_markdown(card)]
    if card.images:
        body.append(Text("Images: " + ", ".join(card.images), style="cyan"))
    return Panel(Group(*body), title="Reference answer", title_align="left", border_style="dim")


def summary_table(summary: SessionSummary) -> Table:
    table = Table(title="Session summary", show_header=False)
    table.add_row("Cards asked", str(summary.asked))
    table.add_row("Answered", str(summary.answered))
    table.add_row("Skipped or revealed", str(summary.skipped))
    for verdict in Verdict:
        if summary.verdicts.get(verdict.value):
            table.add_row(Text(verdict.value, style=VERDICT_STYLE[verdict]), str(summary.verdicts[verdict.value]))
    if summary.mean_score is not None:
        table.add_row("Mean score", f"{summary.mean_score:.0%}")
    return table


NOTICE_STYLE = {"hint": "dim", "warning": "yellow", "plain": ""}


def practice_view(shown: Shown) -> RenderableType:
    """What the terminal prints for each thing a practice session shows."""
    if isinstance(shown, Question):
        return question_panel(shown.card, shown.position, shown.total, shown.deck_title)
    if isinstance(shown, AnswerGraded):
        return grade_view(shown.card, shown.answer, shown.grade)
    if isinstance(shown, Reference):
        return reference_panel(shown.card)
    if isinstance(shown, ModelFeedback):
        return feedback_view(shown.result)
    if isinstance(shown, Rated):
        return Text.assemble("Rated ", (shown.rating.name.capitalize(), "bold"), f" · next review {shown.next_review}")
    if isinstance(shown, Summary):
        return summary_table(shown.summary)
    return Text(shown.text, style=NOTICE_STYLE[shown.tone])


# The ``grade`` table's columns: name, width, alignment. The header and every row use these.
GRADE_COLUMNS = (("#", 4, ">"), ("card", 4, ">"), ("score", 5, ">"), ("verdict", 11, "<"))


class GradeTable:
    """The ``grade`` command's table, a row printed as each answer is graded (a batch ``Writer``)."""

    def __init__(self, console: Console):
        self.console = console
        self.rows = 0
        header = "  ".join(f"{name:{align}{width}}" for name, width, align in GRADE_COLUMNS)
        console.print(Text(f"{header}  matched / missing", style="bold"))

    def write(self, graded: GradedAnswer) -> None:
        self.rows += 1
        self.console.print(grade_row(self.rows, graded.card, graded.grade), soft_wrap=True)
        if graded.feedback is not None:
            self.console.print(feedback_line(graded.feedback), soft_wrap=True)

    def close(self, footer: str | None = None) -> None:
        """Nothing to finish: the LLM's usage line goes to standard error with its notices."""


def grade_row(n: int, card: Card, grade: Grade) -> Text:
    """One line of the grade table: found terms, partly found (with their credit), missed."""
    (_, n_width, _), (_, card_width, _), (_, score_width, _), (_, verdict_width, _) = GRADE_COLUMNS
    style = VERDICT_STYLE[grade.verdict]
    line = Text.assemble(
        f"{n:>{n_width}}  {card.number:>{card_width}}  {grade.score:>{score_width}.2f}  ",
        (f"{grade.verdict.value:<{verdict_width}}", style),
    )
    found = [t.term for t in grade.terms if t.found]
    partly = [f"~{t.term} ({t.credit:.0%})" for t in grade.terms if not t.found and t.credit > 0]
    missed = [t.term for t in grade.terms if not t.found and t.credit == 0]
    for items, prefix, colour in ((found, "", "green"), (partly, "", "yellow"), (missed, "✗ ", "red")):
        if items:
            line.append("  " + prefix + ", ".join(items), style=colour)
    return line


def cards_table(cards: list[Card], title: str) -> Table:
    table = Table(title=title)
    table.add_column("#", justify="right")
    table.add_column("id")
    table.add_column("question", ratio=3)
    table.add_column("key terms", ratio=3)
    table.add_column("graded")
    for c in cards:
        terms = "; ".join(t.text for t in c.key_terms)
        if c.key_terms and c.key_terms[0].derived:
            terms = f"[dim](derived)[/dim] {terms}"
        table.add_row(str(c.number), c.id, c.question, terms, "yes" if c.gradable else "self")
    return table


def make_console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, highlight=False)


class ProgressBar:
    """A transient progress bar on standard error, drawn only when that is a terminal."""

    def __init__(self, label: str):
        from rich.progress import Progress

        self.label = label
        err = make_console(stderr=True)
        self.progress = Progress(console=err, transient=True, disable=not err.is_terminal)
        self.task = None

    def start(self, total: int) -> None:
        self.progress.start()
        self.task = self.progress.add_task(self.label, total=total)

    def advance(self) -> None:
        if self.task is not None:
            self.progress.advance(self.task)

    def stop(self) -> None:
        self.progress.stop()


# --- LLM feedback (issue 3) ---------------------------------------------------------

FLAG_STYLE = "bold magenta"


def feedback_view(result: LLMResult) -> Text | Panel:
    """The LLM's feedback under the keyword grade; a one-line notice when it has none."""
    if result.status == "failed":
        return Text(result.notice or "LLM feedback unavailable", style="yellow")
    if result.status == "rejected":
        return Text(f"⚑ {result.notice}", style=FLAG_STYLE)
    verdict = Verdict(result.verdict)
    parts: list = [
        Text.assemble((verdict.value.upper(), VERDICT_STYLE[verdict]), f"  score {result.score:.0%}"),
        Text(result.feedback or ""),
    ]
    marks = {"covered": ("✓", "green"), "partly": ("~", "yellow"), "missing": ("✗", "red")}
    terms = Text()
    for t in result.terms:
        mark, style = marks[t.status]
        terms.append(f"{mark} {t.term}  ", style=style)
    parts.append(terms)
    for m in result.misconceptions:
        parts.append(Text.assemble(("✗ ", "red"), (f"“{m.quote}”", "italic"), f" → {m.correction}"))
    if result.suggestion:
        parts.append(Text.assemble(("Study next: ", "bold cyan"), result.suggestion))
    if "disagreement" in result.flags:
        parts.append(Text(f"⚑ {result.notice}", style=FLAG_STYLE))
    origin = " · cached" if result.cached else ""
    return Panel(
        Group(*parts), title=f"LLM feedback ({result.model}{origin})", title_align="left", border_style="magenta"
    )


def feedback_line(result: LLMResult) -> Text:
    """The LLM's side of a row of the ``grade`` table."""
    if result.status != "ok":
        style = FLAG_STYLE if result.status == "rejected" else "yellow"
        return Text(f"{'':>10}{'⚑ ' if result.status == 'rejected' else ''}{result.notice}", style=style)
    verdict = Verdict(result.verdict)
    line = Text.assemble(
        f"{'':>10}LLM {result.score:>5.2f}  ", (f"{verdict.value:<11}", VERDICT_STYLE[verdict]), f"  {result.feedback}"
    )
    if "disagreement" in result.flags:
        line.append("  ⚑ disagrees with the keyword grade", style=FLAG_STYLE)
    return line


# --- Progress (grader stats) -------------------------------------------------------

_SPARKS = "▁▂▃▄▅▆▇█"


def stats_view(report: StatsReport) -> Group:
    """The stats report as rich renderables: headline, charts and tables."""
    parts: list = [*_stats_headline(report), Text(""), _stats_charts(report)]
    if report.decks:
        parts += [Text(""), _decks_table(report.decks)]
    if report.missed_terms:
        parts += [Text(""), _missed_terms_table(report.missed_terms)]
    if not report.attempts:
        parts += [Text(""), Text("No answers in your history yet: start with `grader practice`.")]
    return Group(*parts)


def _stats_headline(report: StatsReport) -> list[Text]:
    """Due, new, retention and streak on one line; answers and time spent under it."""
    r30, s = report.retention_30_days, report.streak
    retention = f"{r30.rate:.0%} of {r30.reviews} reviews (30 days)" if r30.rate is not None else "no reviews yet"
    streak = f"{s.current} day{'s' if s.current != 1 else ''}" + ("" if s.studied_today or not s.current else ", practise today to keep it")
    headline = Text.assemble(
        ("Due today: ", "bold"), (str(report.due_today), "bold cyan"),
        f"   New: {report.new_cards}   ",
        ("Retention: ", "bold"), retention, "   ",
        ("Streak: ", "bold"), streak, f" (longest {s.longest})",
    )  # fmt: skip
    return [headline, Text(f"Answers: {report.attempts}, time spent {_duration(report.time_spent_seconds)}", style="dim")]


def _stats_charts(report: StatsReport) -> Table:
    """The forecast and the recent activity, side by side."""
    charts = Table.grid(padding=(0, 4))
    charts.add_column()
    charts.add_column()
    charts.add_row(_forecast_table(report.forecast), _activity_chart(report.activity))
    return charts


def _forecast_table(forecast: list[DayCount]) -> Table:
    top = max((d.count for d in forecast), default=0)
    table = Table(title="Due in the coming days", show_header=False, box=None, title_justify="left")
    for d in forecast:
        table.add_row(d.day.strftime("%a %d %b"), Text(bar(d.count / top if top else 0, 16), style="cyan"), str(d.count))
    return table


def _activity_chart(activity: list[DayCount]) -> Text:
    spark = sparkline([d.count for d in activity])
    first, last = f"{activity[0].day:%d %b}", f"{activity[-1].day:%d %b}"
    return Text.assemble(
        (f"Answers, last {len(activity)} days\n", "italic"), (spark, "green"), "\n", (first + last.rjust(len(spark) - len(first)), "dim")
    )


def _decks_table(decks: list[DeckStats]) -> Table:
    table = Table(title="Decks", title_justify="left")
    table.add_column("deck", overflow="fold")
    for name in ("cards", "new", "learning", "young", "mature", "due"):
        table.add_column(name, justify="right")
    table.add_column("mastery", no_wrap=True)
    for d in decks:
        table.add_row(
            d.title, str(d.cards), str(d.new), str(d.learning), str(d.young), str(d.mature), str(d.due_today),
            Text.assemble((bar(d.mastery, 10), "green"), f" {d.mastery:4.0%}"),
        )  # fmt: skip
    return table


def _missed_terms_table(terms: list[MissedTerm]) -> Table:
    table = Table(title="Key terms you miss most", title_justify="left")
    table.add_column("term")
    table.add_column("deck")
    table.add_column("missed", justify="right")
    table.add_column("last time")
    for t in terms:
        table.add_row(
            t.term, t.deck_title, f"{t.missed} of {t.asked}",
            Text("missed", style="red") if t.missed_last_time else Text("found", style="green"),
        )  # fmt: skip
    return table


def sparkline(values: list[int]) -> str:
    """Values as a row of block characters, the largest full height; zero is a dot."""
    top = max(values, default=0)
    if top == 0:
        return "·" * len(values)
    return "".join("·" if v == 0 else _SPARKS[min(len(_SPARKS) - 1, (v * len(_SPARKS) - 1) // top)] for v in values)


def bar(fraction: float, width: int = 20) -> str:
    """A horizontal bar, in eighths of a character."""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, rest = divmod(eighths, 8)
    return ("█" * full + ("▏▎▍▌▋▊▉"[rest - 1] if rest else "")).ljust(width)


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"
