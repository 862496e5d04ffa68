"""The ``grader`` command line: a thin layer over the library.

Each command maps its flags onto library calls and renders the result. Library
modules are imported inside the commands so ``grader --help`` starts fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from .errors import GraderError

if TYPE_CHECKING:
    from .models import Card, Deck

app = typer.Typer(
    name="grader",
    help="Grade free-recall answers against the key terms of your own study decks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _decks(paths: list[Path] | None) -> list[Deck]:
    from .decks import bundled_deck_dir, find_decks, load_deck

    return [load_deck(p) for p in find_decks(paths or [bundled_deck_dir()])]


@app.command()
def practice(
    decks: Optional[list[Path]] = typer.Argument(None, help="Deck files or folders (default: the bundled deck)."),
    shuffle: bool = typer.Option(False, "--shuffle", help="Ask the cards in random order."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Ask at most this many cards."),
    cards: Optional[str] = typer.Option(None, "--cards", help="Only these cards: numbers, ranges or ids, e.g. '1,3,5-7'."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed for --shuffle, to repeat an order."),
) -> None:
    """Practise a deck: answer each question from memory and see how you did.

    Type your answer and finish it with an empty line. Instead of an answer, type
    /skip, /reveal (show the answer) or /quit. When input is not a terminal, each
    line is one answer (for a self-graded card: c, p or i for how you did).

    Example: grader practice notes/ --shuffle --limit 10
    """
    from .models import Grade
    from .practice import Command, Outcome, SessionSummary, outcome_of, parse_command, parse_self_rating, select_cards
    from .render import grade_view, make_console, question_panel, reference_panel, summary_table

    console = make_console()
    interactive = sys.stdin.isatty()
    grader = None  # the matcher (numpy, rapidfuzz) loads after the first question is on screen
    session = [(deck, card) for deck in _decks(decks) for card in select_cards(deck.cards, picks=cards)]
    if shuffle:
        import random

        random.Random(seed).shuffle(session)
    session = session[:limit] if limit else session
    outcomes: list[Outcome] = []
    try:
        for position, (deck, card) in enumerate(session, start=1):
            console.print(question_panel(card, position, len(session), deck.title))
            answer = _read_answer(console, interactive, self_graded=not card.gradable)
            command = parse_command(answer) if answer is not None else Command.quit
            if command is Command.quit:
                break
            if command in (Command.skip, Command.reveal):
                outcomes.append(Outcome(card=card.id, number=card.number, skipped=command is Command.skip, revealed=command is Command.reveal))
                if command is Command.reveal:
                    console.print(reference_panel(card))
                continue
            if not card.gradable:
                console.print(reference_panel(card))
                rating = parse_self_rating(answer) if not interactive else _ask_self_rating(console)
                outcomes.append(Outcome(card=card.id, number=card.number, verdict=rating))
                continue
            if grader is None:
                from .grading import KeywordGrader

                grader = KeywordGrader()
            grade: Grade = grader.grade(card, answer)
            console.print(grade_view(card, answer, grade))
            outcomes.append(outcome_of(card, grade))
    except KeyboardInterrupt:
        console.print("\n[dim]Interrupted.[/dim]")
    if outcomes:
        console.print(summary_table(SessionSummary.of(outcomes)))


def _read_answer(console, interactive: bool, self_graded: bool = False) -> str | None:
    """One answer: several lines ended by an empty one on a terminal, one line otherwise."""
    if not interactive:
        line = sys.stdin.readline()
        return line.rstrip("\n") if line else None
    if self_graded:
        console.print("[dim]The answer is an image: recall it (or type it), then press Enter to compare.[/dim]")
    else:
        console.print("[dim]Your answer (empty line to submit; /skip, /reveal, /quit):[/dim]")
    lines: list[str] = []
    while True:
        try:
            line = input("> " if not lines else "… ")
        except EOFError:
            return "\n".join(lines) if lines else None
        if not line.strip():
            if lines or self_graded:
                return "\n".join(lines)
            continue
        if not lines and line.strip().startswith("/"):
            return line.strip()
        lines.append(line)


def _ask_self_rating(console):
    from .practice import parse_self_rating

    while True:
        try:
            reply = input("How did you do? [c]orrect, [p]artial, [i]ncorrect: ")
        except EOFError:
            return None
        rating = parse_self_rating(reply)
        if rating is not None or not reply.strip():
            return rating
        console.print("[yellow]Type c, p or i.[/yellow]")


@app.command()
def grade(
    deck: Path = typer.Argument(..., help="The deck the answers are to."),
    answers: Path = typer.Argument(..., help="Answers file: .jsonl, .csv or .yaml with 'card' or 'question', and 'answer'."),
    json_out: bool = typer.Option(False, "--json", help="One JSON object per answer (JSON Lines)."),
    csv_out: bool = typer.Option(False, "--csv", help="CSV with one row per answer."),
    report: Optional[Path] = typer.Option(None, "--report", help="Also write a Markdown report to this file."),
) -> None:
    """Grade a file of answers against a deck; results appear as they are computed.

    Example: grader grade decks/virtualization.md answers.jsonl --json > grades.jsonl
    """
    from .answers import read_answers, resolve_card
    from .decks import load_deck
    from .grading import KeywordGrader
    from .render import VERDICT_STYLE, make_console
    from .report import CsvWriter, JsonLinesWriter, MarkdownReport, grade_record, passthrough_name

    if json_out and csv_out:
        raise typer.BadParameter("choose one of --json and --csv")
    the_deck = load_deck(deck)
    rows = read_answers(answers)
    resolved = [(row, resolve_card(the_deck, row, answers)) for row in rows]  # every row checked before any output
    grader = KeywordGrader()
    writers = []
    if json_out:
        writers.append(JsonLinesWriter(sys.stdout))
    elif csv_out:
        extra = list(dict.fromkeys(passthrough_name(k) for row in rows for k in row.extra))
        writers.append(CsvWriter(sys.stdout, extra))
    report_file = None
    if report is not None:
        try:
            report_file = report.open("w", encoding="utf-8")
        except OSError as exc:
            raise GraderError(f"cannot write report: {exc.strerror}", path=report) from None
        writers.append(MarkdownReport(report_file, the_deck.title, str(answers)))
    console = make_console()
    table = not (json_out or csv_out)
    if table:
        console.print(f"[bold]{'#':>4}  {'card':>4}  {'score':>5}  {'verdict':<11}  matched / missing[/bold]")
    try:
        for n, (row, card) in enumerate(resolved, start=1):
            result = grader.grade(card, row.answer)
            record = grade_record(card, row, result)
            for w in writers:
                w.write(record)
            if table:
                style = VERDICT_STYLE[result.verdict]
                missing = f"  [red]✗ {', '.join(result.missing)}[/red]" if result.missing else ""
                console.print(
                    f"{n:>4}  {card.number:>4}  {result.score:>5.2f}  [{style}]{result.verdict.value:<11}[/{style}]"
                    f"  [green]{', '.join(result.matched)}[/green]{missing}",
                    soft_wrap=True,
                )
    finally:
        for w in writers:
            w.close()
        if report_file is not None:
            report_file.close()


@app.command()
def cards(
    deck: Path = typer.Argument(..., help="A deck file."),
    json_out: bool = typer.Option(False, "--json", help="One JSON object per card (JSON Lines)."),
) -> None:
    """List a deck's cards with their ids, key terms and whether they can be graded.

    Example: grader cards decks/virtualization.md --json
    """
    import json

    from .decks import load_deck
    from .render import cards_table, make_console

    the_deck = load_deck(deck)
    if json_out:
        for c in the_deck.cards:
            record = {
                "id": c.id,
                "number": c.number,
                "question": c.question,
                "key_terms": [t.text for t in c.key_terms],
                "derived_terms": bool(c.key_terms) and c.key_terms[0].derived,
                "gradable": c.gradable,
                "images": c.images,
                "line": c.line,
            }
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        return
    make_console().print(cards_table(the_deck.cards, the_deck.title))


@app.command()
def lint(decks: list[Path] = typer.Argument(..., help="Deck files or folders.")) -> None:
    """Report what a deck author should fix, as file:line: message; exit 1 if anything.

    Example: grader lint notes/
    """
    from .decks import find_decks, parse_deck

    count = 0
    for path in find_decks(decks):
        for finding in parse_deck(path).findings:
            print(f"{path}:{finding.line}: {finding.message}")
            count += 1
    if count:
        raise typer.Exit(1)


def main() -> None:
    """Entry point: run the app, turning GraderErrors into one line and exit code 1.

    Usage errors are click's (exit 2); anything else is a bug and keeps its traceback.
    """
    try:
        app()
    except GraderError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        sys.exit(1)
