"""Terminal rendering with rich: questions, graded answers, summaries, tables, progress stats.

Text from decks, answers, histories and models is untrusted: it is drawn as
``Text`` (never parsed as rich markup) and cleaned of escape sequences
(``display.clean``) on its way to the screen.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .cardtext import shown_question
from .display import clean, clean_line, clean_same_length
from .foreign import guessing_share
from .models import Card, Grade, TermMatch, Verdict
from .writers import guesses_note, shown_percent, shown_score

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from rich.markdown import Markdown
    from rich.progress import TaskID

    from .images import Image
    from .llm.schema import LLMResult
    from .practice import SessionSummary
    from .schedule import ScheduleSettings
    from .scoring import GradeFacts
    from .session import RatingKeys, Shown
    from .stats import DayCount, DeckStats, MissedTerm, StatsReport
    from .store import CardProgress
    from .writers import GradedAnswer

VERDICT_STYLE = {
    Verdict.correct: "bold green",
    Verdict.partial: "bold yellow",
    Verdict.incorrect: "bold red",
    Verdict.self_graded: "bold cyan",
}


def question_panel(
    card: Card, position: int, total: int, deck_title: str, repeats: int = 0, images: tuple[Image, ...] = ()
) -> _QuestionPanel:
    """The question, and under it each of its images (``images``, located); the subtitle counts cards asked, and says
    how many of them are cards asked again (still learning)."""
    return _QuestionPanel(card, position, total, deck_title, repeats, images)


class _QuestionPanel:
    """The question panel, its title cut in the deck's name: the card number (what --cards and /suspend name) stays."""

    def __init__(self, card: Card, position: int, total: int, deck_title: str, repeats: int, images: tuple[Image, ...]):
        self.card, self.position, self.total, self.deck_title, self.repeats = card, position, total, deck_title, repeats
        self.images = images

    def __rich_console__(self, console: Console, options: Any) -> Iterator[Panel]:
        number = f" · card {self.card.number}"
        title = Text(clean_line(self.deck_title))
        title.truncate(max(1, options.max_width - 6 - len(number)), overflow="ellipsis")  # 6: the corners, rules and spaces around it
        title.append(number)
        again = f" (incl. {self.repeats} repeat{'s' if self.repeats != 1 else ''})" if self.repeats else ""
        question = Text(clean(shown_question(self.card)) or "(no question)", style="bold")
        images = image_lines(self.images, self.card.question_images)
        yield Panel(
            Group(question, *images) if images else question,
            title=title,
            subtitle=Text(f"{self.position}/{self.total}{again}"),
            title_align="left",
            subtitle_align="right",
            border_style="blue",
        )


def highlighted_answer(answer: str, grade: Grade) -> Text:
    """The user's answer with the spans that earned each key term highlighted, and under them, in red, the words a
    refused term was said in (``TermMatch.refused``: the term list says why)."""
    text = Text(clean_same_length(answer))  # same length: the spans are offsets into the answer
    for term in grade.terms:
        if term.span and term.refused:
            text.stylize("red", *term.span)
    for term in grade.terms:
        if term.span and term.credit > 0:
            style = "bold green" if term.found else "yellow"
            text.stylize(f"{style} underline" if term.how == "meaning" else style, *term.span)
    return text


def reference_markdown(card: Card) -> Markdown:
    """The reference answer as markdown, in the author's order: each image is a ``[image: name]`` placeholder where it stands.

    rich's markdown draws an image inline by moving it in front of its paragraph
    and dropping words around it, so images never reach it.
    """
    from rich.markdown import Markdown  # markdown-it loads only when a reference is shown

    from .cardtext import replace_images

    text = replace_images(clean(card.answer), lambda path: f"\\[image: {_image_name(path)}\\]")
    # A line break stays one, as in the notes apps decks come from (their ``\`` breaks are gone from the answer):
    # markdown would run "... the system" and "Privileged: ..." on one line.
    text = _LINE_BREAK.sub("  \n", text)
    # ==term== is not markdown; show it as bold so the key terms stand out.
    return Markdown(re.sub(r"={2,3}(.+?)={2,3}", r"**\1**", text, flags=re.DOTALL) or "_(no answer text)_")


_LINE_BREAK = re.compile(r"(?<=\S)\n(?=[^\n])")


def _image_name(path: str) -> str:
    return path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or path


def term_lines(grade: Grade) -> list[Text]:
    """The key terms found (✓), partly found (~, with their credit) and missed (✗), a line each.

    One place decides how a term is labelled (``term_label``), so a new way of
    finding a term adds its mark there.
    """
    found = [t for t in grade.terms if t.found]
    partly = [t for t in grade.terms if not t.found and t.credit > 0]
    missed = [t for t in grade.terms if not t.found and t.credit == 0]
    lines = []
    if found:
        lines.append(Text("✓ " + " · ".join(term_label(t) for t in found), style="green"))
    if partly:
        lines.append(Text("~ " + " · ".join(f"{term_label(t)} ({t.credit:.0%})" for t in partly), style="yellow"))
    if missed:
        lines.append(Text("✗ missed: " + " · ".join(term_label(t) for t in missed), style="red"))
    if grade.answered and grade.similarity is not None and grade.terms and grade.terms[0].derived:
        # Terms cut from prose say less than the prose: how close the whole answer comes to it (a short reference's
        # score counts it, README grading rule 6).
        lines.append(Text(f"≈ as a whole, {grade.similarity:.0%} close in meaning to the reference", style="cyan"))
    if grade.foreign_terms:
        share = guessing_share(sum(1 for t in grade.terms if t.credit > 0), len(grade.foreign_terms))
        named = guesses_note([clean_line(t) for t in grade.foreign_terms])
        lines.append(Text(f"{named}. A list of guesses keeps {share:.0%} of its score.", style="magenta"))
    return lines


def term_label(term: TermMatch) -> str:
    """How a key term is named in the lists after an answer; one found by meaning says by which words, one refused
    why the words said of it do not count."""
    if term.how == "meaning" and term.matched_text:
        return f"{clean_line(term.term)} ≈ “{clean_line(term.matched_text)}” (by meaning)"
    if term.refused and term.matched_text:
        return f"{clean_line(term.term)} (“{clean_line(term.matched_text)}”: {REFUSALS[term.refused]})"
    return clean_line(term.term)


# What a refused term's label says of the words the answer said of it.
REFUSALS = {
    "other side": "said of the other side",
    "swapped": "swapped with another term",
    "inside another term": "part of another term",
    "opposite": "says the opposite",
    "reversed": "the other way round",
}


def grade_view(card: Card, answer: str, grade: Grade, images: tuple[Image, ...] = ()) -> Group:
    """Everything shown after an answer: verdict, highlighted answer, missed terms, reference."""
    parts: list = []
    if grade.verdict is Verdict.self_graded:
        parts.append(Text("Self-graded card: compare with the reference.", style=VERDICT_STYLE[grade.verdict]))
    else:
        head = Text.assemble((grade.verdict.value.upper(), VERDICT_STYLE[grade.verdict]), f"  score {grade.score:.0%}")
        parts += [head, Text(""), Text("Your answer:", style="dim"), highlighted_answer(answer, grade)]
        if not grade.answered:
            parts.append(Text("Not an answer: here is what to learn.", style="dim"))
        parts += term_lines(grade)
        if any(t.derived for t in grade.terms):
            parts.append(Text("(key terms derived from the reference answer: the card has no highlights)", style="dim"))
    parts.append(Text(""))
    parts.append(reference_panel(card, images))
    return Group(*parts)


def reference_panel(card: Card, images: tuple[Image, ...] = ()) -> Panel:
    """The reference answer, and under it each image: where it is (or that it is missing), and how to see it."""
    body: list = [reference_markdown(card), *image_lines(images, card.images)]
    for other in card.reference_answers:
        body.append(Text("Also accepted: " + clean_line(re.sub(r"={2,3}(.+?)={2,3}", r"\1", other.answer)), style="dim"))
    return Panel(Group(*body), title="Reference answer", title_align="left", border_style="dim")


def image_lines(images: tuple[Image, ...], written: list[str]) -> list[Text]:
    """A line for each image, located: where it is (or that it is missing), and how to see it; the names as written
    (``written``) when they were not located."""
    lines = []
    for image in images:
        where = image.url or (str(image.path) if image.path else image.written)
        if image.missing:
            lines.append(Text(f"Image missing: {clean_line(image.written)} (not at {clean_line(where)})", style="yellow"))
        else:
            lines.append(Text(f"Image: {clean_line(where)}", style="cyan"))
    if any(not i.missing for i in images):
        lines.append(Text("/open shows it in your image viewer", style="dim"))
    if not images and written:
        lines.append(Text("Images: " + ", ".join(clean_line(i) for i in written), style="cyan"))
    return lines


def rating_keys(keys: RatingKeys) -> _Items:
    """"1 Again 1 min · 2 Hard 6 min · 3 Good 10 min · 4 Easy 4 d": each key, its rating and when the card would come back.

    Pressing one changes the rating; any other key goes on.
    """
    items = []
    for rating, interval in keys.preview:
        items.append(Text.assemble((f"{int(rating)} ", "bold"), f"{rating.name.capitalize()} ", (interval, "cyan")))
    if keys.self_rating:
        items[0] = Text.assemble(("How did you do?  ", "bold"), items[0])
    if keys.images:
        items.append(Text.assemble(("o ", "bold"), "open the image"))
    if not keys.self_rating:
        items.append(Text("other keys go on", style="dim"))
    return _Items(items, Text(" · ", style="dim"))


class _Items:
    """Items on a line joined by a separator, wrapped only between items: never "3 Good 10" and "min" on the next line."""

    def __init__(self, items: list[Text], separator: Text):
        self.items, self.separator = items, separator

    def __rich_console__(self, console: Console, options: Any) -> Iterator[Text]:
        line = Text()
        for item in self.items:
            if line and line.cell_len + self.separator.cell_len + item.cell_len > options.max_width:
                yield line
                line = Text()
            if line:
                line.append_text(self.separator)
            line.append_text(item)
        yield line


def summary_table(summary: SessionSummary) -> Table:
    table = Table(title="Session summary", show_header=False)
    table.add_row("Cards asked", str(summary.asked))
    table.add_row("Answered", f"{summary.answered} ({summary.self_rated} self-rated)" if summary.self_rated else str(summary.answered))
    table.add_row("Skipped or revealed", str(summary.skipped))
    if summary.set_aside:
        table.add_row("Suspended or buried", str(summary.set_aside))
    for verdict in Verdict:
        if summary.verdicts.get(verdict.value):
            table.add_row(Text(verdict.value, style=VERDICT_STYLE[verdict]), str(summary.verdicts[verdict.value]))
    if summary.mean_score is not None:
        table.add_row("Mean score", f"{summary.mean_score:.0%}" + (f" of {summary.graded} graded" if summary.self_rated else ""))
    return table


NOTICE_STYLE = {"hint": "dim", "warning": "yellow", "plain": ""}


def practice_view(shown: Shown) -> RenderableType:
    """What the terminal prints for each thing a practice session shows."""
    # Imported here, not at the top: only practice draws these, and `cards` should not load the session.
    from .session import AnswerGraded, ModelFeedback, Question, Rated, RatingKeys, Reference, Summary

    if isinstance(shown, Question):
        return question_panel(shown.card, shown.position, shown.total, shown.deck_title, shown.repeats, shown.images)
    if isinstance(shown, AnswerGraded):
        return grade_view(shown.card, shown.answer, shown.grade, shown.images)
    if isinstance(shown, Reference):
        return reference_panel(shown.card, shown.images)
    if isinstance(shown, RatingKeys):
        return rating_keys(shown)
    if isinstance(shown, ModelFeedback):
        return feedback_view(shown.result)
    if isinstance(shown, Rated):
        return Text.assemble("Rated ", (shown.rating.name.capitalize(), "bold"), f" · next review {shown.next_review}")
    if isinstance(shown, Summary):
        return summary_table(shown.summary)
    return Text(clean(shown.text), style=NOTICE_STYLE[shown.tone])


# The ``grade`` table's columns: name, width, alignment. The header and every row use these.
GRADE_COLUMNS = (("#", 4, ">"), ("card", 4, ">"), ("score", 5, ">"), ("verdict", 11, "<"))
# Pass-through columns (student, id, ...) are as wide as their name, within these bounds; longer values are cut.
FIELD_WIDTH = (6, 14)
ANSWER_WIDTH = (16, 40)
MATCHED_WIDTH = 30  # what the answer column leaves the terms at least, before they wrap


class GradeTable:
    """The ``grade`` command's table, a row printed as each answer is graded (a batch ``Writer``).

    Each row says who (the answers file's own columns: student, id...) and
    what (the answer, cut to a column) beside the grade.
    """

    def __init__(self, console: Console, fields: list[str] | tuple[str, ...] = ()):
        self.console = console
        self.rows = 0
        from .class_report import STUDENT_FIELDS

        # A name needs room whatever its header; other columns are as wide as their header, within bounds.
        self.fields = [(f, FIELD_WIDTH[1] if f.casefold() in STUDENT_FIELDS else max(FIELD_WIDTH[0], min(FIELD_WIDTH[1], len(f)))) for f in fields]
        fixed = sum(w + 2 for _, w, _ in GRADE_COLUMNS) + sum(w + 2 for _, w in self.fields)
        self.answer_width = max(ANSWER_WIDTH[0], min(ANSWER_WIDTH[1], console.width - fixed - MATCHED_WIDTH))
        (n, nw, na), (c, cw, ca), *grade_columns = GRADE_COLUMNS
        names = [f"{n:{na}{nw}}", f"{c:{ca}{cw}}", *(_padded(_cut(f, w), w) for f, w in self.fields)]
        names += [f"{name:{align}{width}}" for name, width, align in grade_columns]
        names.append(f"{'answer':<{self.answer_width}}")
        self._line(Text(f"{'  '.join(names)}  matched / missing", style="bold"))

    def write(self, graded: GradedAnswer) -> None:
        self.rows += 1
        cells = [(_cut(_plain(graded.extra.get(f)), w), w) for f, w in self.fields]
        self._line(grade_row(self.rows, graded.card, graded.facts, answer=(graded.answer, self.answer_width), cells=cells))
        if graded.feedback is not None:
            self._line(feedback_line(graded.feedback))

    def _line(self, line: Text) -> None:
        """One line of the table, never wrapped by us: a terminal folds it as it folds any long line, and piped
        each line stays one line (header and rows alike) for grep, cut and awk."""
        if self.console.is_terminal:
            self.console.print(line, soft_wrap=True)
        else:  # no styles to draw: the same characters, without rich laying out each line (most of a row's cost)
            self.console.file.write(line.plain + "\n")
            self.console.file.flush()  # as rich does: a reader downstream sees each row as it comes

    def close(self, footer: str | None = None) -> None:
        """Nothing to finish: the LLM's usage line goes to standard error with its notices."""


def _plain(value: object) -> str:
    return "" if value is None else clean_line(str(value))


def _cut(text: str, width: int) -> str:
    """Text on one line in ``width`` terminal cells, cut at a word where one is near, with an ellipsis.

    A lone surrogate (a ``\\ud800`` escape in the answers) is measured as the escape that reaches the terminal,
    so it does not push the columns after it out of line. Measured in cells, not characters: a Chinese character
    or an emoji takes two, a combining accent none.
    """
    line = " ".join(_as_written(clean_line(text)).split())
    if line.isascii():  # a character a cell: the common case, measured by len
        if len(line) <= width:
            return line
        space = line.rfind(" ", 0, width)
        return line[: space if space > width * 2 // 3 else width - 1].rstrip() + "…"
    from rich.cells import cell_len

    if cell_len(line) <= width:
        return line
    fits = _within(line, width)
    space = line.rfind(" ", 0, fits)
    return line[: space if space > fits * 2 // 3 else _within(line, width - 1)].rstrip() + "…"


def _within(line: str, cells: int) -> int:
    """How many of a line's first characters fit in ``cells`` terminal cells."""
    from rich.cells import cell_len

    used = 0
    for i, char in enumerate(line):
        used += cell_len(char)
        if used > cells:
            return i
    return len(line)


def _padded(text: str, width: int) -> str:
    """``text`` followed by spaces to fill ``width`` terminal cells (``format``'s padding counts characters)."""
    if text.isascii():
        return f"{text:<{width}}"
    from rich.cells import cell_len

    return text + " " * max(0, width - cell_len(text))


def _as_written(text: str) -> str:
    """``text`` as standard output writes it: a lone surrogate as its backslash escape (``cli`` sets that up)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def grade_row(
    n: int, card: Card, facts: GradeFacts, *, answer: tuple[str, int] | None = None, cells: list[tuple[str, int]] | tuple = ()
) -> Text:
    """One line of the grade table, from a grade's plain values (``scoring.grade_facts``): who (``cells``, each with
    its width), the grade, the answer (cut to its column), then found terms, partly found (with their credit), missed."""
    (_, n_width, _), (_, card_width, _), (_, score_width, _), (_, verdict_width, _) = GRADE_COLUMNS
    score, verdict, _, terms, _, foreign = facts
    who = "".join(f"{_padded(text, width)}  " for text, width in cells)
    line = Text.assemble(
        f"{n:>{n_width}}  {card.number:>{card_width}}  ",
        (who, "cyan"),
        f"{shown_score(score):>{score_width}}  ",
        (f"{verdict:<{verdict_width}}", VERDICT_STYLE[Verdict(verdict)]),
    )
    if answer is not None:
        text, width = answer
        line.append(f"  {_padded(_cut(text, width) or '—', width)}")
    found = [f"≈{term}" if how == "meaning" else term for term, is_found, _, _, _, _, how, _ in terms if is_found]
    partly = [f"~{term} ({shown_percent(credit)})" for term, is_found, credit, *_ in terms if not is_found and credit > 0]
    missed = [term for term, is_found, credit, *_ in terms if not is_found and credit == 0]
    if card.required is not None and len(found) >= card.required:
        missed = []  # "any 2": the others were never asked for
    for items, prefix, colour in ((found, "", "green"), (partly, "", "yellow"), (missed, "✗ ", "red")):
        if items:
            line.append("  " + prefix + clean_line(", ".join(items)), style=colour)
    if foreign:
        line.append(f"  ? {len(foreign)} other cards' terms", style="magenta")
    return line


# The ``cards`` listing's columns, and how the drawn table sets some of them; the history's columns come last.
CARD_COLUMNS = ("#", "id", "question", "key terms", "graded")
PROGRESS_COLUMNS = ("due", "last", "lapses")
# The short columns keep their words whole (an id cut to "29e7…" names no card for --cards); the texts share the rest.
_COLUMN_LAYOUT: dict[str, dict[str, Any]] = {
    "#": {"justify": "right", "no_wrap": True}, "id": {"no_wrap": True}, "question": {"ratio": 3}, "key terms": {"ratio": 3},
    "graded": {"no_wrap": True}, "due": {"no_wrap": True}, "last": {"no_wrap": True}, "lapses": {"justify": "right", "no_wrap": True},
}  # fmt: skip
_NARROW_COLUMNS = ("#", "id", "question", "due")


def cards_table(
    cards: list[Card], title: str, progress: Mapping[str, CardProgress | None] | None = None, *, now=None, settings: ScheduleSettings | None = None
) -> RenderableType:
    """The ``cards`` table; with ``progress`` (by card id) also each card's due date (when practice will ask it, by
    ``settings``, the defaults if None), last grade and lapses.

    On a terminal too narrow for every column, without a border: number, id, question and when it is due. Squeezed,
    rich drew every column of the whole table empty at 20 columns and cut the ids at 60.
    """
    columns = (*CARD_COLUMNS, *(PROGRESS_COLUMNS if progress is not None else ()))
    rows = [dict(zip(columns, _card_cells(c, progress, now, settings))) for c in cards]

    def table(names: tuple[str, ...], rows: list[dict] = rows, **box: Any) -> Table:
        drawn = Table(title=Text(clean_line(title)), **box)
        for name in names:
            drawn.add_column(name, **_COLUMN_LAYOUT.get(name, {}))
        for row in rows:
            drawn.add_row(*(row[name] for name in names))
        return drawn

    def stacked() -> Group:  # narrower still: a card's number, id and due date on a line, its question under them
        from rich.padding import Padding

        lines: list[RenderableType] = [Text(clean_line(title), style="italic")]
        for row in rows:
            lines.append(Text.assemble((row["#"], "bold"), " ", row["id"], *((" ", row["due"]) if "due" in row else ())))
            lines.append(Padding(row["question"], (0, 0, 0, 2)))
        return Group(*lines)

    narrow = tuple(n for n in _NARROW_COLUMNS if n in columns)
    layouts: list[tuple[tuple[str, ...], dict[str, Any]]] = [(columns, {}), (columns, _UNBOXED), (narrow, _UNBOXED)]
    # A table's minimum width, which chooses the layout, is its columns' widest cells' and its borders': the rows
    # holding those cells measure as the whole table does. Measuring every row of each layout cost a 2,000-card deck a fifth of its time.
    widest = [rows[i] for i in sorted({max(range(len(rows)), key=lambda i: _min_width(rows[i][name])) for name in columns})] if rows else []
    return _Fit(
        *(table(names, **box) for names, box in layouts), stacked(), measured=[table(names, widest, **box) for names, box in layouts]
    )


_UNBOXED: dict[str, Any] = {"box": None, "title_justify": "left"}


def _min_width(cell: str | Text) -> int:
    """A table cell's minimum width as rich measures it (``Text.__rich_measure__``): its widest word, else its widest line.

    The cells given are plain (a ``str`` cell is a number, an id or a word, with no markup for rich to take out).
    """
    from rich.cells import cell_len

    plain = cell.plain if isinstance(cell, Text) else cell
    words = plain.split()
    return max(map(cell_len, words)) if words else max(map(cell_len, plain.splitlines()), default=0)


def card_lines(
    cards: list[Card], progress: Mapping[str, CardProgress | None] | None = None, *, now=None, settings: ScheduleSettings | None = None
) -> Iterator[str]:
    """The ``cards`` table as tab-separated lines, a header first: for a pipe, where a drawn table would wrap every
    cell into many lines and a large deck's would take seconds to lay out (rich measures every cell)."""
    yield "\t".join((*CARD_COLUMNS, *(PROGRESS_COLUMNS if progress is not None else ()))) + "\n"
    for c in cards:
        yield "\t".join([str(cell) for cell in _card_cells(c, progress, now, settings)]) + "\n"


def _card_cells(card: Card, progress: Mapping[str, CardProgress | None] | None, now, settings: ScheduleSettings | None) -> list:
    """A card's cells in the ``cards`` listing, each text on one line (tabs made spaces), styled for the table."""
    from .schedule import ScheduleSettings, describe_due
    from .stats import asked_at

    terms = Text(clean_line("; ".join(t.text for t in card.key_terms)))
    if card.key_terms and card.key_terms[0].derived:
        terms = Text.assemble(("(derived) ", "dim"), terms)
    row: list = [str(card.number), card.id, Text(clean_line(shown_question(card))), terms, "yes" if card.gradable else "self"]
    if progress is None:
        return row
    p = progress.get(card.id)
    # Due when practice will ask it (learn-ahead, the study day's start: what ``cards --due`` lists by), not FSRS's due.
    at = asked_at(p, settings or ScheduleSettings())
    if p is not None and p.suspended:  # a card set aside before it was ever answered too
        due = Text("suspended", style="yellow")
    elif p is not None and p.buried_until is not None and now is not None and p.buried_until > now:
        due = Text(f"buried, {describe_due(at or p.buried_until, now=now)}", style="yellow")  # a new card: its burial's end
    elif at is None:
        due = Text("new", style="dim")
    else:
        due = Text(describe_due(at, now=now) if now else f"{at:%Y-%m-%d %H:%M}")
    last = Text(p.last_verdict.value, style=VERDICT_STYLE[p.last_verdict]) if p and p.last_verdict else Text("—", style="dim")
    return [*row, due, last, str(p.state.lapses) if p and p.state else "0"]


def make_console(stderr: bool = False) -> Console:
    """The console everything is drawn on. ``COLUMNS=0`` (as some CI runners and pseudo-terminals set it) is taken
    for unset, as ``shutil.get_terminal_size`` takes it: rich would take it for a width of 0 and draw nothing."""
    console = Console(stderr=stderr, highlight=False)
    if console.width < 1:
        import shutil

        console.width = shutil.get_terminal_size().columns
    return console


class ProgressBar:
    """A transient progress bar on standard error, drawn only when that is a terminal."""

    def __init__(self, label: str):
        from rich.progress import Progress

        self.label = label
        err = make_console(stderr=True)
        self.progress = Progress(console=err, transient=True, disable=not err.is_terminal)
        self.task: TaskID | None = None

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
        return Text(clean(result.notice or "LLM feedback unavailable"), style="yellow")
    if result.status == "rejected":
        return Text(f"⚑ {clean(result.notice or '')}", style=FLAG_STYLE)
    verdict = Verdict(result.verdict)
    parts: list = [
        Text.assemble((verdict.value.upper(), VERDICT_STYLE[verdict]), f"  score {result.score:.0%}"),
        Text(clean(result.feedback or "")),
    ]
    marks = {"covered": ("✓", "green"), "partly": ("~", "yellow"), "missing": ("✗", "red")}
    terms = Text()
    for t in result.terms:
        mark, style = marks[t.status]
        terms.append(f"{mark} {clean_line(t.term)}  ", style=style)
    parts.append(terms)
    for m in result.misconceptions:
        parts.append(Text.assemble(("✗ ", "red"), (f"“{clean(m.quote)}”", "italic"), f" → {clean(m.correction)}"))
    if result.suggestion:
        parts.append(Text.assemble(("Study next: ", "bold cyan"), clean(result.suggestion)))
    if "disagreement" in result.flags:
        parts.append(Text(f"⚑ {clean(result.notice or '')}", style=FLAG_STYLE))
    origin = " · cached" if result.cached else ""
    return Panel(
        Group(*parts), title=Text(f"LLM feedback ({clean_line(result.model)}{origin})"), title_align="left", border_style="magenta"
    )


def feedback_line(result: LLMResult) -> Text:
    """The LLM's side of a row of the ``grade`` table."""
    if result.status != "ok":
        style = FLAG_STYLE if result.status == "rejected" else "yellow"
        return Text(f"{'':>10}{'⚑ ' if result.status == 'rejected' else ''}{clean_line(result.notice or '')}", style=style)
    verdict = Verdict(result.verdict)
    line = Text.assemble(
        f"{'':>10}LLM {result.score:>5.2f}  ", (f"{verdict.value:<11}", VERDICT_STYLE[verdict]), f"  {clean_line(result.feedback or '')}"
    )
    if "disagreement" in result.flags:
        line.append("  ⚑ disagrees with the keyword grade", style=FLAG_STYLE)
    return line


# --- Progress (grader stats) -------------------------------------------------------

_SPARKS = "▁▂▃▄▅▆▇█"


class _Fit:
    """The first of ``choices`` whose narrowest rendering fits the width, else the last.

    rich squeezes a table wider than the terminal column by column, down to
    nothing: at 40 columns the decks table showed neither names nor numbers.
    ``measured``: for each choice but the last, a renderable as narrow as it and cheaper to measure.
    """

    def __init__(self, *choices: RenderableType, measured: list[RenderableType] | None = None):
        self.choices = choices
        self.measured = measured if measured is not None else choices[:-1]

    def __rich_console__(self, console: Console, options: Any) -> Iterator[RenderableType]:
        from rich.measure import Measurement

        unbounded = options.update_width(10_000)  # measured within the terminal, a table's minimum is clipped to it
        fits = (c for c, m in zip(self.choices, self.measured) if Measurement.get(console, unbounded, m).minimum <= options.max_width)
        yield next(fits, self.choices[-1])  # the last is drawn whether it fits or not: it is not measured


def stats_view(report: StatsReport) -> Group:
    """The stats report as rich renderables: headline, charts and tables (narrower ones on a narrow terminal)."""
    charts = _Fit(_stats_charts(report), Group(_forecast_table(report.forecast), Text(""), _activity_chart(report.activity)))
    parts: list = [*_stats_headline(report), Text(""), charts]
    if report.decks:
        parts += [Text(""), _Fit(_decks_table(report.decks), _decks_table_narrow(report.decks))]
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


MASTERY_BAR = 6  # characters: the wide decks table then holds a 14-letter title ("Virtualization") on 80 columns


def _decks_table(decks: list[DeckStats]) -> Table:
    table = Table(title="Decks", title_justify="left")
    table.add_column("deck", overflow="fold", max_width=24)  # a long title folds rather than push the table off a 100-column screen
    for name in ("cards", "new", "learning", "young", "mature", "due"):
        table.add_column(name, justify="right")
    table.add_column("mastery", no_wrap=True)
    for d in decks:
        table.add_row(
            Text(clean_line(d.title)), str(d.cards), str(d.new), str(d.learning), str(d.young), str(d.mature), str(d.due_today),
            Text.assemble((bar(d.mastery, MASTERY_BAR), "green"), f"\u00a0{d.mastery:4.0%}"),  # one unbreakable cell: rich
            # measured it as two words, chose this table at 80 columns and squeezed the title ("Virtualiza" / "tion")
        )  # fmt: skip
    return table


def _decks_table_narrow(decks: list[DeckStats]) -> Table:
    """The decks table for a narrow terminal: cards, due and mastery, without the bar."""
    table = Table(title="Decks", title_justify="left", box=None)
    table.add_column("deck", overflow="fold")
    for name in ("cards", "due", "mastery"):
        table.add_column(name, justify="right")
    for d in decks:
        table.add_row(Text(clean_line(d.title)), str(d.cards), str(d.due_today), f"{d.mastery:.0%}")
    return table


def _missed_terms_table(terms: list[MissedTerm]) -> Table:
    table = Table(title="Key terms you miss most", title_justify="left")
    table.add_column("term")
    table.add_column("deck")
    table.add_column("missed", justify="right")
    table.add_column("last time")
    for t in terms:
        table.add_row(
            Text(clean_line(t.term)), Text(clean_line(t.deck_title)), f"{t.missed} of {t.asked}",
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
