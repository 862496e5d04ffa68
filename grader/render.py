"""Terminal rendering with rich: questions, graded answers, summaries, tables."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rich.console import Console, Group, RenderableType
from rich.markdown import Markdown
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .models import Card, Grade, Verdict
from .practice import SessionSummary
from .session import Graded, ModelFeedback, Question, Rated, Reference, Shown, Summary

if TYPE_CHECKING:
    from .feedback import LLMResult

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
    if isinstance(shown, Graded):
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


def grade_row(n: int, card: Card, grade: Grade) -> Text:
    """One line of the grade table: found terms, partly found (with their credit), missed."""
    style = VERDICT_STYLE[grade.verdict]
    line = Text.assemble(f"{n:>4}  {card.number:>4}  {grade.score:>5.2f}  ", (f"{grade.verdict.value:<11}", style))
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
