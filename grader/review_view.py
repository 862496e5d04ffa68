"""The terminal face of ``grader review``: each group as the teacher sees it (rich; text cleaned as in ``render``)."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.panel import Panel
from rich.text import Text

from .cardtext import shown_question
from .class_report import short, student_field
from .display import clean_line
from .models import Verdict
from .render import VERDICT_STYLE
from .writers import shown_score
from .review import HELP, GroupShown, Said

TONES = {"plain": "", "done": "green", "warning": "yellow"}


def review_view(shown: GroupShown | Said, width: int = 100) -> RenderableType:
    if isinstance(shown, Said):
        return Text(clean_line(shown.text), style=TONES.get(shown.tone, ""))
    return group_view(shown, width)


# Below this many columns for an answer beside its number, name, score and verdict, it goes on a line of its own.
ANSWER_MIN = 20


def group_view(g: GroupShown, width: int = 100) -> Panel:
    """A group: its question, the grader's proposal, and its answers numbered (best first), one line each
    (after m: every answer, each whole).

    In a narrow terminal (40 columns) each answer takes a second line, and the question and the counts wrap:
    beside the name, score and verdict an answer had no room left, and the teacher saw only "…".
    """
    inner = width - 4  # the panel's border and padding
    lead = 5 + (17 if any(_who(item) for _, item, _, _ in g.members) else 0) + 5 + 10  # number, who, score, verdict
    narrow = inner - lead < ANSWER_MIN
    label = f"Q{g.question.number} "
    # On one line beside its number, as much as fits (it was cut 20 columns short whatever room was left); narrow, two.
    question = short(shown_question(g.question), 2 * (inner - 4) if narrow else max(30, inner - len(label)))
    head = Text.assemble((label, "bold"), Text(clean_line(question), style="bold"))
    tally = ", ".join(f"{n} {v}" for v, n in g.grader.most_common())
    proposal = Text.assemble(
        ("Proposed: ", "dim"),
        (g.proposal.value, VERDICT_STYLE[g.proposal]) if g.proposal else ("nothing (self-graded card)", "cyan"),
        (f"   grader: {tally}", "dim"),
    )
    lines: list[RenderableType] = [head, proposal, Text("")]
    answer_width = max(ANSWER_MIN, width - 45)  # the panel's border, the number, who, score and verdict take the rest
    for number, item, verdict, score in g.members:
        who = clean_line(_who(item))
        line = Text(f"{number:>3}. ", no_wrap=True, overflow="ellipsis")
        if who:
            line.append(f"{short(who, 16):<16} ", style="cyan")
        line.append(f"{shown_score(max(score, 0.0))} " if verdict is not Verdict.self_graded else "  —  ", style="dim")
        line.append(f"{verdict.value[:9]:<9} ", style=VERDICT_STYLE[verdict])
        if g.show_all:  # m: every answer, each whole, wrapped under its line
            line.rstrip()
            lines += [line, Padding(Text(clean_line(item.row.answer) or "(empty)"), (0, 0, 0, 5))]
            continue
        answer = clean_line(short(item.row.answer, inner - 5 if narrow else answer_width)) or "(empty)"
        if narrow:
            line.rstrip()
            lines += [line, Text("     " + answer, no_wrap=True, overflow="ellipsis")]
        else:
            lines.append(line.append(answer))
    lines += [Text(""), Text(HELP, style="dim")]
    title = f"Question {g.question_index}/{g.questions} · group of {g.size or len(g.members)}"
    counts = f"{g.groups_left} group(s) left here · {g.uncertain_here} uncertain here, {g.uncertain} in all"
    if narrow:  # a subtitle is cut to the border's width; inside the panel the counts wrap
        lines.append(Text(counts, style="dim"))
    subtitle = None if narrow else Text(counts)
    return Panel(Group(*lines), title=Text(title), subtitle=subtitle, title_align="left", subtitle_align="right", border_style="blue")


def _who(item) -> str:
    """The student's name (or the row's first own field) to show beside an answer."""
    extra = item.row.extra
    name = student_field(extra)
    if name is not None and extra.get(name) not in (None, ""):
        return str(extra[name])
    return next((str(v) for v in extra.values() if v not in (None, "")), "")
