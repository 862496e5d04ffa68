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

    from .models import Deck
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
    from .render import make_console
    from .schedule import load_settings
    from .session import PracticeSession
    from .store import Store

    terminal = _TerminalIO(make_console(), interactive=sys.stdin.isatty())
    the_decks = _decks(decks)
    with Store.open(settings=load_settings({"new_per_day": new_limit, "reviews_per_day": review_limit})) as store:
        # Cards picked by hand are asked whatever their schedule.
        session = PracticeSession(store, the_decks, terminal, cram=cram or bool(cards))
        queue = session.plan(cards, shuffle=shuffle, seed=seed, limit=limit)
        feedback = _feedback_client(llm, offline, model, base_url, no_cache)
        try:
            session.run(queue, feedback)
        finally:
            if feedback is not None:
                feedback.close()


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


def _feedback_client(llm: bool, offline: bool, model, base_url, no_cache: bool, concurrency=None):
    """The LLM feedback client the flags, environment and settings ask for; None for keyword-only."""
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
    from .feedback import open_feedback_client

    return open_feedback_client(settings)


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
    from .answers import read_answers, resolve_cards
    from .decks import load_deck
    from .grading import KeywordGrader
    from .render import grade_row, make_console
    from .report import CsvWriter, JsonLinesWriter, MarkdownReport, grade_record, passthrough_name

    if json_out and csv_out:
        raise typer.BadParameter("choose one of --json and --csv")
    the_deck = load_deck(deck)
    rows = read_answers(answers)
    resolved = resolve_cards(the_deck, rows, answers)  # every row checked before any output
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
    feedback = _feedback_client(llm, offline, model, base_url, no_cache, concurrency)
    progress = None
    try:
        if feedback is not None:
            from rich.progress import Progress

            from .feedback import grade_all
            from .render import feedback_line

            err = make_console(stderr=True)
            progress = Progress(console=err, transient=True, disable=not err.is_terminal)
            progress.start()
            task = progress.add_task("LLM feedback", total=len(resolved))
            graded = grade_all(
                [(card, row.answer) for row, card in resolved], grader, feedback, lambda: progress.advance(task)
            )
        else:
            graded = ((grader.grade(card, row.answer), None) for row, card in resolved)
        for n, ((row, card), (result, llm_result)) in enumerate(zip(resolved, graded), start=1):
            record = grade_record(card, row, result)
            if llm_result is not None:
                record["llm"] = llm_result.record()
            for w in writers:
                w.write(record)
            if table:
                console.print(grade_row(n, card, result), soft_wrap=True)
                if llm_result is not None:
                    console.print(feedback_line(llm_result), soft_wrap=True)
    finally:
        if progress is not None:
            progress.stop()
        for w in writers:
            w.close()
        if feedback is not None:
            summary = feedback.totals.summary(feedback.settings.model)
            for line in [*feedback.notices, summary]:
                print(line, file=sys.stderr)
            if report_file is not None:
                report_file.write(f"\n{summary}.\n")
            feedback.close()
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
    from .datasets import default_dataset, load_eval_set
    from .eval_report import terminal, write_report
    from .evaluate import KeywordEvalGrader, evaluate, limit_items
    from .render import make_console

    console, err = make_console(), make_console(stderr=True)
    evalset = load_eval_set(Path(args[0]) if args else default_dataset(), deck=deck)
    train_set = load_eval_set(train, deck=deck) if train else None
    client = None
    try:
        if grader_name == "keyword":
            grader = KeywordEvalGrader()
        else:
            from .config import load_llm_settings
            from .eval_llm import LLMEvalGrader, estimate_cost
            from .feedback import open_feedback_client

            # Repeats measure the model, not the cache.
            flags = {"model": model, "base_url": base_url, "enabled": True, "cache": False if no_cache or repeat > 1 else None}
            settings = load_llm_settings(flags)
            if settings.offline:
                raise GraderError(f"--grader {grader_name} needs an LLM, but offline mode is on (GRADER_OFFLINE)")
            client = open_feedback_client(settings)
            if client.disabled:
                raise GraderError(client.disabled)
            sets = [limit_items(s, limit) for s in (evalset, train_set) if s is not None]
            estimate = estimate_cost(sets, client, repeat=repeat)
            err.print(estimate.summary())
            if estimate.requests and not estimate.local and not yes:
                if not sys.stdin.isatty():
                    raise GraderError("a paid LLM run needs confirmation: run it in a terminal or add --yes")
                if not typer.confirm("Start the run?"):
                    raise typer.Exit(1)
            grader = LLMEvalGrader(client, hybrid=grader_name == "hybrid")
        scope = "question" if per_question else "global"
        if client is None:
            run = evaluate(evalset, grader, train=train_set, repeat=repeat, limit=limit, scope=scope)
        else:
            from rich.progress import Progress

            with Progress(console=err, transient=True) as bar:
                task = bar.add_task("LLM grading", total=repeat * sum(len(s.items) for s in sets))
                grader.progress = lambda: bar.advance(task)
                run = evaluate(evalset, grader, train=train_set, repeat=repeat, limit=limit, scope=scope)
    except KeyboardInterrupt:
        err.print("Interrupted." + (" LLM replies so far are cached: run again to continue at no cost." if client else ""))
        raise typer.Exit(130) from None
    finally:
        if client is not None:
            client.close()
    if json_out:
        sys.stdout.write(run.model_dump_json() + "\n")
    else:
        for part in terminal(run, width=console.width):
            console.print(part)
    if report is not None:
        write_report(run, report)
        err.print(f"Report written to {report / 'report.html'} and {report / 'report.md'}")


def _eval_compare(a: Path, b: Path, json_out: bool) -> None:
    from .eval_report import comparison_terminal
    from .evaluate import compare_runs, load_run
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
    from .feedback import check_endpoint

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
    from .render import make_console
    from .schedule import load_settings
    from .stats import build_stats, stats_view
    from .store import Store, deck_key

    with Store.open(settings=load_settings()) as store:
        keys = None
        if decks:
            the_decks = _decks(decks)
            store.sync(the_decks)  # so that edited cards count with their history
            keys = [deck_key(d) for d in the_decks]
        report = build_stats(store.cards(keys), store.attempts(keys), now=_now(), settings=store.settings)
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
    import os

    from .store import Store

    with Store.open() as store:
        if file is None:
            store.export(sys.stdout, now=_now())
            return
        partial = file.with_name(file.name + ".partial")
        try:
            with partial.open("w", encoding="utf-8") as out:
                lines = store.export(out, now=_now())
            os.replace(partial, file)  # a failed export never leaves half a file under the real name
        except OSError as exc:
            raise GraderError(f"cannot write the export: {exc.strerror or exc}", path=file) from None
    print(f"Exported {lines} lines to {file}", file=sys.stderr)


@history_app.command("import")
def history_import(file: Path = typer.Argument(..., help="A file written by 'grader history export'.")) -> None:
    """Merge an export into your history; answers already in it are skipped, so importing twice is safe.

    Example: grader history import backup.jsonl
    """
    import io

    from .files import read_text
    from .store import Store

    text = read_text(file, what="history export", max_bytes=1024 * 1024 * 1024)
    with Store.open() as store:
        report = store.import_(io.StringIO(text), path=str(file))
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
