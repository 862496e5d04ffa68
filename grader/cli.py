"""The ``grader`` command line: a thin layer over the library.

Each command maps its flags onto library calls and renders the result. Library
modules are imported inside the commands so ``grader --help`` starts fast.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from .errors import GraderError

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from rich.console import Console

    from .batch import Writer
    from .models import AnswerRow, Deck
    from .scoring import GradingSettings
    from .session import Shown

app = typer.Typer(
    name="grader",
    help="Grade free-recall answers against the key terms of your own study decks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


# LLM options shared by several commands.
LlmFlag = Annotated[bool, typer.Option("--llm", help="Add rubric feedback from an LLM (configure: grader llm check --help).")]
OfflineFlag = Annotated[bool, typer.Option("--offline", help="Keyword grading only, even when an LLM is configured.")]
ModelOption = Annotated[Optional[str], typer.Option("--model", help="LLM model for --llm (default: settings, GRADER_MODEL, gpt-4o-mini).")]
BaseUrlOption = Annotated[Optional[str], typer.Option("--base-url", help="OpenAI-compatible server for --llm, e.g. http://localhost:11434/v1.")]
NoCacheFlag = Annotated[bool, typer.Option("--no-cache", help="Ask the LLM again even for answers it has graded before.")]


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
    llm: LlmFlag = False,
    offline: OfflineFlag = False,
    model: ModelOption = None,
    base_url: BaseUrlOption = None,
    no_cache: NoCacheFlag = False,
    cram: bool = typer.Option(False, "--cram", help="Ignore the schedule and the daily limits: ask every card."),
    new_limit: Optional[int] = typer.Option(None, "--new-limit", min=0, help="New cards a day (default 20, or new_per_day under [practice] in settings.toml)."),
    review_limit: Optional[int] = typer.Option(None, "--review-limit", min=0, help="Reviews a day (default 200, or reviews_per_day under [practice])."),
) -> None:
    """Practise a deck: answer each question from memory and see how you did.

    Type your answer and finish it with an empty line. Instead of an answer, type
    /skip, /reveal (show the answer) or /quit. When input is not a terminal, each
    line is one answer (for a self-graded card: c, p or i for how you did).

    Every answer is saved to your history and schedules the card (FSRS): cards
    that are due come first, then new cards up to a daily limit. After each
    answer, press 1-4 (again, hard, good, easy) to change its rating, or any
    other key to go on. --cram and --cards ask the cards you name regardless of
    the schedule; the answers still count.

    Example: grader practice notes/ --shuffle --limit 10

    Example: grader practice notes/ --cram

    Example: grader practice --llm --base-url http://localhost:11434/v1 --model llama3.2
    """
    from .config import load_grading_settings, load_schedule_settings
    from .render import make_console
    from .session import run_practice

    terminal = _TerminalIO(make_console(), interactive=sys.stdin.isatty())
    the_decks = _decks(decks)
    settings = load_schedule_settings({"new_per_day": new_limit, "reviews_per_day": review_limit})
    grading = load_grading_settings()
    run_practice(
        the_decks, terminal, settings=settings, grading=grading, picks=cards, shuffle=shuffle, seed=seed, limit=limit,
        cram=cram, feedback=lambda: _feedback_client(llm, offline, model, base_url, no_cache, grading=grading),
    )  # fmt: skip


@dataclass
class _TerminalIO:
    """A practice session's user at the terminal, or a script on standard input (``session.PracticeIO``)."""

    console: Console
    interactive: bool

    def ask(self, prompt: str) -> str | None:
        try:
            return input(prompt)
        except EOFError:
            return None

    def read_key(self) -> str | None:
        try:
            return typer.getchar()  # one key, no Enter; Ctrl-C still interrupts
        except EOFError:
            return None

    def show(self, shown: Shown) -> None:
        from .render import practice_view

        self.console.print(practice_view(shown))

    def waiting(self, message: str) -> AbstractContextManager[object]:
        return self.console.status(message)


def _feedback_client(llm: bool, offline: bool, model, base_url, no_cache: bool, concurrency=None, *, grading: GradingSettings):
    """The LLM feedback client the flags, environment and settings ask for; None for keyword-only.

    ``grading`` is the command's grading settings: the prompt and the judge use the keyword grader's thresholds.
    """
    from .config import load_llm_settings

    flags = {
        "enabled": llm or None,
        "offline": offline or None,
        "model": model,
        "base_url": base_url,
        "cache": False if no_cache else None,
        "concurrency": concurrency,
    }
    settings = load_llm_settings(flags)
    if not settings.active:
        return None
    from .llm.client import open_feedback_client

    return open_feedback_client(settings, grading)


def _now():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)


@app.command()
def grade(
    deck: Path = typer.Argument(..., help="The deck the answers are to."),
    answers: Path = typer.Argument(..., help="Answers file: .jsonl, .csv or .yaml with 'card' or 'question', and 'answer'."),
    json_out: bool = typer.Option(False, "--json", help="One JSON object per answer (JSON Lines)."),
    csv_out: bool = typer.Option(False, "--csv", help="CSV with one row per answer."),
    report: Optional[Path] = typer.Option(None, "--report", help="Also write a Markdown report to this file."),
    llm: LlmFlag = False,
    offline: OfflineFlag = False,
    model: ModelOption = None,
    base_url: BaseUrlOption = None,
    no_cache: NoCacheFlag = False,
    concurrency: Optional[int] = typer.Option(None, "--concurrency", min=1, max=64, help="LLM requests at once (default 4)."),
) -> None:
    """Grade a file of answers against a deck; results appear as they are computed.

    With --llm each answer also gets rubric feedback from an LLM, as an "llm"
    object in --json output; a progress bar shows on stderr.

    Example: grader grade decks/virtualization.md answers.jsonl --json > grades.jsonl

    Example: grader grade decks/virtualization.md answers.jsonl --llm --concurrency 8 --json
    """
    from .batch import grade_file
    from .config import load_grading_settings
    from .grading import KeywordGrader
    from .render import GradeTable, ProgressBar, make_console
    from .writers import CsvWriter, JsonLinesWriter, MarkdownReport

    if json_out and csv_out:
        raise typer.BadParameter("choose one of --json and --csv")

    def writers(the_deck: Deck, rows: list[AnswerRow]) -> list[Writer]:
        chosen: list[Writer] = []
        if json_out:
            chosen.append(JsonLinesWriter(sys.stdout))
        elif csv_out:
            chosen.append(CsvWriter.for_rows(sys.stdout, rows))
        if report is not None:
            chosen.append(MarkdownReport.create(report, the_deck.title, str(answers)))
        if not (json_out or csv_out):
            chosen.append(GradeTable(make_console()))
        return chosen

    settings = load_grading_settings()
    feedback = _feedback_client(llm, offline, model, base_url, no_cache, concurrency, grading=settings)
    bar = ProgressBar("LLM feedback") if feedback is not None else None
    try:
        grade_file(
            deck, answers, writers, KeywordGrader(settings), feedback,
            on_start=bar.start if bar else None, on_progress=bar.advance if bar else None,
        )  # fmt: skip
    finally:
        if bar is not None:
            bar.stop()
        if feedback is not None:
            for line in [*feedback.notices, feedback.totals.summary(feedback.settings.model)]:
                print(line, file=sys.stderr)
            feedback.close()


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
    from .writers import card_record

    the_deck = load_deck(deck)
    if json_out:
        for card in the_deck.cards:
            sys.stdout.write(json.dumps(card_record(card), ensure_ascii=False) + "\n")
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


EVAL_GRADERS = ("keyword", "llm", "hybrid")


@app.command("eval")
def eval_command(
    data: Optional[list[str]] = typer.Argument(
        None,
        metavar="[DATA.jsonl | compare A.json B.json]",
        help="Human-graded answers, JSON Lines (default: eval/seed_dev.jsonl); or 'compare' and two saved --json runs.",
    ),
    train: Optional[Path] = typer.Option(None, "--train", help="Fit the calibration on this file (default: cross-validation grouped by question)."),
    grader_name: str = typer.Option("keyword", "--grader", help="keyword, llm or hybrid."),
    json_out: bool = typer.Option(False, "--json", help="Print every metric and answer as one JSON document (to save and compare)."),
    report: Optional[Path] = typer.Option(None, "--report", help="Write report.md, report.html and SVG figures into this folder."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Grade a fixed random sample of this many answers (per file)."),
    repeat: int = typer.Option(1, "--repeat", min=1, help="Grade every answer this many times and report self-consistency."),
    per_question: bool = typer.Option(False, "--per-question", help="Fit one calibration per question (for unseen answers to known questions)."),
    deck: Optional[Path] = typer.Option(None, "--deck", help="The deck a card-numbered labelled set refers to (default: the bundled deck)."),
    model: Optional[str] = typer.Option(None, "--model", help="LLM model, for --grader llm or hybrid."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="OpenAI-compatible server, for --grader llm or hybrid."),
    no_cache: NoCacheFlag = False,
    yes: bool = typer.Option(False, "--yes", "-y", help="Start a paid LLM run without asking."),
) -> None:
    """Measure a grader against human grades, with 95% intervals and baselines.

    Calibration is cross-validated by question unless --train is given; every
    run also scores a majority, an answer-length and a word-overlap baseline.

    Example: grader eval ../shared/datasets/mohler/train.jsonl --report out/

    Example: grader eval runA.json ... ; grader eval compare runA.json runB.json
    """
    args = list(data or [])
    if args[:1] == ["compare"]:
        if len(args) != 3:
            raise typer.BadParameter("compare needs two saved runs: grader eval compare A.json B.json")
        return _eval_compare(Path(args[1]), Path(args[2]), json_out)
    if len(args) > 1:
        raise typer.BadParameter("give one data file (or: grader eval compare A.json B.json)")
    if grader_name not in EVAL_GRADERS:
        raise typer.BadParameter(f"--grader must be one of {', '.join(EVAL_GRADERS)}")
    from .config import load_grading_settings
    from .evaluation.report import write_report
    from .evaluation.runner import EvalHooks, EvalRequest, RunInterrupted, run_eval
    from .evaluation.terminal import terminal
    from .render import ProgressBar, make_console

    console, err = make_console(), make_console(stderr=True)
    request = EvalRequest(
        data=Path(args[0]) if args else None,
        train=train,
        deck=deck,
        grader=grader_name,
        limit=limit,
        repeat=repeat,
        scope="question" if per_question else "global",
        model=model,
        base_url=base_url,
        no_cache=no_cache,
        yes=yes,
    )
    hooks = EvalHooks(notify=err.print, confirm=typer.confirm if sys.stdin.isatty() else None, progress=ProgressBar)
    try:
        run = run_eval(request, load_grading_settings(), hooks)
    except RunInterrupted as exc:
        err.print(exc.message)
        raise typer.Exit(130) from None
    if run is None:  # the user declined a paid LLM run
        raise typer.Exit(1)
    if json_out:
        sys.stdout.write(run.model_dump_json() + "\n")
    else:
        for part in terminal(run, width=console.width):
            console.print(part)
    if report is not None:
        write_report(run, report)
        err.print(f"Report written to {report / 'report.html'} and {report / 'report.md'}")


def _eval_compare(a: Path, b: Path, json_out: bool) -> None:
    from .evaluation.compare import compare_runs
    from .evaluation.results import load_run
    from .evaluation.terminal import comparison_terminal
    from .render import make_console

    names = (a.name, b.name) if a.name != b.name else (str(a), str(b))
    comparison = compare_runs(load_run(a), load_run(b), a_name=names[0], b_name=names[1])
    if json_out:
        sys.stdout.write(comparison.model_dump_json() + "\n")
        return
    console = make_console()
    for part in comparison_terminal(comparison):
        console.print(part)


llm_app = typer.Typer(
    help="The LLM that gives rubric feedback (--llm).\n\nExample: grader llm check --model gpt-4o-mini",
    no_args_is_help=True,
)
app.add_typer(llm_app, name="llm")


@llm_app.command("check")
def llm_check(
    model: Optional[str] = typer.Option(None, "--model", help="Model to check (default: settings, GRADER_MODEL, gpt-4o-mini)."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="OpenAI-compatible server (default: OPENAI_BASE_URL, settings, OpenAI)."),
) -> None:
    """Say whether the endpoint answers, the model exists and structured output works; exit 1 if not.

    Settings come from flags, then OPENAI_API_KEY / OPENAI_BASE_URL / GRADER_MODEL,
    then the [llm] table of settings.toml in the config dir, then defaults.

    Example: grader llm check --base-url http://localhost:11434/v1 --model llama3.2
    """
    from .config import load_llm_settings
    from .llm.check import check_endpoint

    lines = check_endpoint(load_llm_settings({"model": model, "base_url": base_url}))
    for line in lines:
        print(line)
    if not all(line.ok for line in lines):
        raise typer.Exit(1)


@app.command()
def stats(
    decks: Optional[list[Path]] = typer.Argument(None, help="Deck files or folders (default: every deck in your history)."),
    json_out: bool = typer.Option(False, "--json", help="The whole report as one JSON object."),
) -> None:
    """Your progress: cards due today and in the coming days, retention, streak,
    mastery per deck and the key terms you miss most.

    Example: grader stats notes/ --json
    """
    from .config import load_schedule_settings
    from .render import make_console, stats_view
    from .stats import history_stats
    from .store import Store

    with Store.open(settings=load_schedule_settings()) as store:
        report = history_stats(store, _decks(decks) if decks else None, now=_now())
    if json_out:
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
    else:
        make_console().print(stats_view(report))


history_app = typer.Typer(
    help="Your practice history (JSON Lines), to move it to another machine or analyse it.\n\n"
    "Example: grader history export backup.jsonl",
    no_args_is_help=True,
)
app.add_typer(history_app, name="history")


@history_app.command("export")
def history_export(file: Optional[Path] = typer.Argument(None, help="File to write (default: standard output).")) -> None:
    """Write your whole history as JSON Lines: a header, then one line per card and per answer.

    Example: grader history export backup.jsonl
    """
    from .history_file import export, export_file
    from .store import Store

    if file is None:
        with Store.open() as store:
            export(store, sys.stdout, now=_now())
        return
    lines = export_file(file, now=_now())
    print(f"Exported {lines} lines to {file}", file=sys.stderr)


@history_app.command("import")
def history_import(file: Path = typer.Argument(..., help="A file written by 'grader history export'.")) -> None:
    """Merge an export into your history; answers already in it are skipped, so importing twice is safe.

    Example: grader history import backup.jsonl
    """
    from .history_file import import_file

    report = import_file(file)
    print(f"Imported answers: {report.attempts} new, {report.duplicates} already in your history; cards: {report.cards}.")


def main() -> None:
    """Entry point: run the app, turning GraderErrors into one line and exit code 1.

    Usage errors are click's (exit 2); anything else is a bug and keeps its traceback.
    """
    try:
        app()
    except GraderError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        sys.exit(1)
