"""The ``grader`` command line: a thin layer over the library.

Each command maps its flags onto library calls and renders the result. Library
modules are imported inside the commands so ``grader --help`` starts fast.
"""

from __future__ import annotations

import errno
import os
import sys
from enum import Enum
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from typer.core import TyperGroup

from .errors import GraderError

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from rich.console import Console

    from .batch import Writer
    from .models import Deck
    from .scoring import GradingSettings
    from .line_editor import AnswerEditor
    from .session import Shown
    from .writers import GradedAnswer

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
ModelOption = Annotated[Optional[str], typer.Option("--model", help="LLM model for --llm (default: GRADER_MODEL, settings, gpt-4o-mini).")]
BaseUrlOption = Annotated[Optional[str], typer.Option("--base-url", help="OpenAI-compatible server for --llm, e.g. http://localhost:11434/v1.")]
NoCacheFlag = Annotated[bool, typer.Option("--no-cache", help="Ask the LLM again even for answers it has graded before.")]

# Written out, not built from class_report.STUDENT_FIELDS, so that --help does not import pydantic (a test compares them).
StudentOption = Annotated[
    Optional[str],
    typer.Option(
        "--student",
        help="The answers' column that names students (default: the first of student, student_id, name, email, username, user, login, sis_id, sis_user_id).",
    ),
]


class MatchMode(str, Enum):
    """How answers meet key terms (``GradingSettings.match``)."""

    meaning = "meaning"
    keyword = "keyword"


MatchOption = Annotated[
    Optional[MatchMode],
    typer.Option("--match", help="meaning (words, and the offline semantic tier; the default) or keyword (words only)."),
]


def _grading(match: MatchMode | None):
    """The command's one GradingSettings: --match, then the [grading] table of settings.toml, then defaults.

    Grading by meaning falls back to words when the semantic tier cannot load: say so once, up front.
    """
    from .config import load_grading_settings

    settings = load_grading_settings({"match": match.value if match else None})
    if settings.match == "meaning":
        from .semantic import unavailable_reason

        reason = unavailable_reason()
        if reason:
            print(f"Notice: {reason}; grading by words only.", file=sys.stderr)
    return settings


def _warn_of_unused_settings(command: str, *used: str) -> None:
    """A mistake in a table of settings.toml this command does not read is a warning (those it reads are errors)."""
    from .config import unused_table_mistakes
    from .display import clean_line

    for table, mistake in unused_table_mistakes(used):
        print(f"Warning: {clean_line(str(mistake))} ({command} does not use [{table}]; fix it for the commands that do)", file=sys.stderr)


def _decks(paths: list[Path] | None) -> list[Deck]:
    """The decks named or found in folders; a bad file inside a folder is a warning on stderr, not the end."""
    from .decks import bundled_deck_dir, load_decks
    from .display import clean_line

    def warn(exc: GraderError) -> None:
        print(f"Warning: {clean_line(str(exc))} (left out)", file=sys.stderr)

    return load_decks(paths or [bundled_deck_dir()], warn=warn)


def _refuse_piped(paths: list[Path] | None, why: str) -> None:
    """Refuse a deck read from a pipe or standard input for a command that keeps or reads the history, which is kept
    by the deck's file: a pipe has none, and another pipe of the same deck would be another deck (``decks.is_piped``)."""
    from .decks import is_piped
    from .errors import InputError
    from .files import shown_name

    for path in paths or ():
        if is_piped(path):
            raise InputError(f"{why}, and a deck read from a pipe has none: give the deck's file", path=shown_name(path))


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            print(f"grader {version('grader')}")
        except PackageNotFoundError:
            print("grader (not installed)")
        raise typer.Exit()


@app.callback()
def _main(
    show_version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print grader's version and exit."),
) -> None:
    """Grade free-recall answers against the key terms of your own study decks."""


@app.command()
def practice(
    decks: Optional[list[Path]] = typer.Argument(None, help="Deck files or folders (default: the bundled deck)."),
    shuffle: bool = typer.Option(False, "--shuffle", help="Ask the cards in random order."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Ask at most this many cards."),
    cards: Optional[str] = typer.Option(None, "--cards", help="Only these cards: numbers, ranges or ids, e.g. '1,3,5-7'."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Shuffle with this seed, to repeat an order (implies --shuffle)."),
    llm: LlmFlag = False,
    offline: OfflineFlag = False,
    model: ModelOption = None,
    base_url: BaseUrlOption = None,
    no_cache: NoCacheFlag = False,
    cram: bool = typer.Option(False, "--cram", help="Ignore the schedule and the daily limits: ask every card."),
    new_limit: Optional[int] = typer.Option(None, "--new-limit", min=0, help="New cards a day (default 20, or new_per_day under [practice] in settings.toml)."),
    review_limit: Optional[int] = typer.Option(None, "--review-limit", min=0, help="Reviews a day (default 200, or reviews_per_day under [practice])."),
    match: MatchOption = None,
) -> None:
    """Practise a deck: answer each question from memory and see how you did.

    Type your answer and finish it with an empty line (arrows, word deletion and
    Up for earlier answers work as in a shell). Instead of an answer, type /skip,
    /reveal (show the answer), /undo (take back the last answer), /suspend,
    /bury (until tomorrow), /open (the images of the question, or of the answer
    just shown) or /quit. When input is not a terminal, each line is one answer (for a
    self-graded card: c, p, i or 1-4 for how you did).

    Every answer is saved to your history and schedules the card (FSRS): cards
    that are due come first, then new cards up to a daily limit. After each
    answer, the keys 1-4 (again, hard, good, easy) show when the card would come
    back; press one to change the rating, or any other key to go on. --cram and
    --cards ask the cards you name regardless of the schedule; the answers still
    count. Decks may be markdown, YAML/JSON, Obsidian notes, Anki packages or
    Anki text exports; a folder is searched for all of them.

    Example: grader practice notes/ --shuffle --limit 10

    Example: grader practice notes/ --cram

    Example: grader practice --llm --base-url http://localhost:11434/v1 --model llama3.2
    """
    from .config import load_schedule_settings
    from .render import make_console
    from .session import PracticeInterrupted, run_practice

    _refuse_piped(decks, "practice keeps your history by the deck's file")
    terminal = _TerminalIO(make_console(), interactive=sys.stdin.isatty())
    the_decks = _decks(decks)
    settings = load_schedule_settings({"new_per_day": new_limit, "reviews_per_day": review_limit})
    grading = _grading(match)
    try:
        run_practice(
            the_decks, terminal, settings=settings, grading=grading, picks=cards, shuffle=shuffle, seed=seed, limit=limit,
            cram=cram, feedback=lambda: _feedback_client(llm, offline, model, base_url, no_cache, grading=grading),
        )  # fmt: skip
    except KeyboardInterrupt as exc:  # as grade and review: 130, the shell's code for Ctrl-C
        if not isinstance(exc, PracticeInterrupted):  # before the first card (the session says it otherwise)
            print("Interrupted.", file=sys.stderr)
        raise typer.Exit(130) from None


@dataclass
class _TerminalIO:
    """A practice session's user at the terminal, or a script on standard input (``session.PracticeIO``).

    At a terminal an answer is typed in a line editor (``line_editor``, prompt_toolkit, loaded here only).
    """

    console: Console
    interactive: bool
    editor: AnswerEditor | None = None

    def ask(self, prompt: str) -> str | None:
        try:
            return input(prompt)
        except EOFError:
            if self.interactive:
                print()  # what follows starts on its own line, not after the prompt
            return None

    def ask_answer(self, prompt: str, *, allow_empty: bool = False) -> str | None:
        from .line_editor import AnswerEditor, wanted

        if not wanted():
            from .session import answer_from_lines

            return answer_from_lines(self.ask, allow_empty=allow_empty)
        if self.editor is None:
            self.editor = AnswerEditor()
        return self.editor.ask(prompt, allow_empty=allow_empty)

    def read_key(self) -> str | None:
        from .keys import read_key

        return read_key()  # one key, no Enter, with what was typed before it (never flushed); Ctrl-C still interrupts

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
    deck: Path = typer.Argument(..., help="The deck the answers are to (a pipe, <(cat deck.md), or - is read once)."),
    answers: Path = typer.Argument(
        ..., help="Answers file: .jsonl, .csv or .yaml with 'card' or 'question', and 'answer'; '-' reads standard input, and a pipe (<(cat x.csv)) is read once."
    ),
    json_out: bool = typer.Option(False, "--json", help="One JSON object per answer (JSON Lines)."),
    csv_out: bool = typer.Option(False, "--csv", help="CSV with one row per answer."),
    report: Optional[Path] = typer.Option(
        None, "--report", help="Also write a class report: Markdown (.md) or one self-contained HTML page (.html), by the extension."
    ),
    llm: LlmFlag = False,
    offline: OfflineFlag = False,
    model: ModelOption = None,
    base_url: BaseUrlOption = None,
    no_cache: NoCacheFlag = False,
    concurrency: Optional[int] = typer.Option(None, "--concurrency", min=1, max=64, help="LLM requests at once (default 4)."),
    output: Optional[Path] = typer.Option(
        None, "--output", help="Write the results to this file: JSON Lines (.jsonl) or CSV (.csv), by its extension."
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Keep the results --output (and --report) already hold from an interrupted run; grade the rest."
    ),
    jobs: Optional[int] = typer.Option(
        None, "--jobs", min=1, help="Grading processes (default and most: the machine's cores; 1: this process only). Not for --llm requests."
    ),
    answers_format: Optional[str] = typer.Option(
        None, "--answers-format", help="jsonl, csv or yaml, when the answers file's name does not say (standard input or a pipe: else what it starts with)."
    ),
    match: MatchOption = None,
    batch: bool = typer.Option(
        False, "--batch", help="With --llm and --output: send the LLM requests as one provider batch (OpenAI Batch API: half price, done within 24 h); --resume collects it."
    ),
    gradebook: Optional[Path] = typer.Option(
        None, "--gradebook", help="Also write a gradebook CSV for an LMS (Canvas, Moodle, Google Classroom): a row per student, a column per question."
    ),
    student: StudentOption = None,
) -> None:
    """Grade a file of answers against a deck; results appear as they are computed.

    With --llm each answer also gets rubric feedback from an LLM, as an "llm"
    object in --json output; a progress bar shows on stderr. Every row is
    checked before any is graded; keyword grading runs on every core (--jobs).

    Example: grader grade deck.md answers.jsonl --json > grades.jsonl

    Example: grader grade deck.md answers.jsonl --llm --concurrency 8 --json

    Example: grader grade deck.md big.csv --output grades.jsonl --jobs 4 (after Ctrl-C: the same with --resume)

    Example: cat answers.csv | grader grade deck.md - --answers-format csv --csv

    Example: grader grade deck.md answers.jsonl --llm --batch --output grades.jsonl (later: the same with --resume instead of --batch)

    Example: grader grade deck.md class.csv --report class.html --gradebook gradebook.csv
    """
    from .batch import BatchInterrupted, grade_file, jobs_to_run
    from .grading import KeywordGrader
    from .resume import output_format
    from .writers import CsvWriter, JsonLinesWriter, ShownCsvWriter

    if json_out and csv_out:
        raise typer.BadParameter("choose one of --json and --csv")
    if output is not None and output_format(output) is None:
        raise typer.BadParameter("--output must end in .jsonl or .csv (the format is chosen by the extension)")
    if resume and output is None:
        raise typer.BadParameter("--resume continues an --output file: give --output too")
    if answers_format is not None and answers_format not in ("jsonl", "csv", "yaml"):
        raise typer.BadParameter("--answers-format must be jsonl, csv or yaml")
    if str(deck) == "-" and str(answers) == "-":
        raise typer.BadParameter("the deck and the answers cannot both come from standard input: give one of them as a file or a pipe, <(cat FILE)")
    if output is not None:
        from .files import refuse_overwrite
        from .store import history_files

        protected = {"the deck": deck, "the answers file": answers, **history_files()}
        refuse_overwrite(output, {**protected, **({"the report": report} if report is not None else {})})
    if report is not None:
        from .files import refuse_overwrite
        from .store import history_files

        refuse_overwrite(report, {"the deck": deck, "the answers file": answers, **history_files()})
        _check_report_name(report)  # after: that it would write over the answers says more than its extension
    if gradebook is not None:
        _check_gradebook(gradebook, {"the deck": deck, "the answers file": answers, "the report": report, "the output": output})
    _check_writable(output=output, report=report, gradebook=gradebook, whole=False)
    from .class_outputs import ClassOutputs
    from .files import shown_name

    class_outputs = ClassOutputs(report, gradebook, student, shown_name(answers), output)

    def writers(the_deck: Deck, fields: list[str]) -> list[Writer[GradedAnswer]]:
        chosen: list[Writer[GradedAnswer]] = class_outputs.start(the_deck, fields)
        if json_out:
            chosen.append(JsonLinesWriter(sys.stdout))
        elif csv_out:
            chosen.append((ShownCsvWriter if sys.stdout.isatty() else CsvWriter).for_fields(sys.stdout, fields))
        elif output is None:  # with --output the results go there; the table only when nothing else is asked for
            from .render import GradeTable, make_console

            chosen.append(GradeTable(make_console(), fields))
        return chosen

    if batch and (output is None or resume):
        raise typer.BadParameter("--batch needs --output (the batch is recorded beside it), and --resume collects it later")
    settings = _grading(match)
    _warn_of_unused_settings("grade", "grading", "llm")
    recorded = _batch_record(output) if resume and output is not None else None
    if recorded is not None:  # the LLM of the batch being collected (a base URL with a password: given again)
        llm, model = True, model or recorded.model
        base_url = base_url or (None if recorded.credentials_withheld else recorded.base_url)
    feedback = _feedback_client(llm, offline, model, base_url, no_cache, concurrency, grading=settings)
    if batch or recorded is not None:
        if feedback is None:
            raise typer.BadParameter("--batch sends LLM requests: add --llm (and no --offline)")
        if not _provider_batch(deck, answers, KeywordGrader(settings), feedback, output, answers_format, recorded):
            return  # submitted, or still running: said on stderr
    processes = jobs_to_run(jobs)
    if jobs is not None and processes < jobs:
        print(f"Notice: --jobs {jobs} is more than the {processes} cores this process may use; grading in {processes}.", file=sys.stderr)
    bar = None
    if feedback is not None:
        from .render import ProgressBar

        bar = ProgressBar("LLM feedback")
    try:
        grade_file(
            deck, answers, writers, KeywordGrader(settings), feedback,
            on_start=bar.start if bar else None, on_progress=bar.advance if bar else None,
            answers_format=answers_format, output=output, report=class_outputs.streamed_report, resume=resume,
            jobs=processes,
        )  # fmt: skip
        summary = class_outputs.finish(settings)
        if summary is not None and gradebook is not None:
            from .gradebook import nameless_notice

            if notice := nameless_notice(summary):
                print(notice, file=sys.stderr)
    except BatchInterrupted as exc:
        again = " (the same command with --resume goes on)" if output is not None else ""
        print(f"Interrupted: {exc.graded} of {exc.total} answers graded{again}.", file=sys.stderr)
        raise typer.Exit(130) from None
    except KeyboardInterrupt:  # before the first answer: while the deck and the rows were read and checked
        print("Interrupted before any answer was graded: nothing written.", file=sys.stderr)
        raise typer.Exit(130) from None
    finally:
        if bar is not None:
            bar.stop()
        if feedback is not None:
            for line in [*feedback.notices, feedback.totals.summary(feedback.settings.model)]:
                print(line, file=sys.stderr)
            feedback.close()


def _check_gradebook(gradebook: Path, others: dict[str, Path | str | None]) -> None:
    from .files import refuse_overwrite
    from .store import history_files

    if gradebook.suffix.lower() != ".csv":
        raise typer.BadParameter("--gradebook writes CSV: give a file name ending in .csv")
    refuse_overwrite(gradebook, {**{k: v for k, v in others.items() if v is not None}, **history_files()})


def _check_report_name(report: Path | None) -> None:
    """A report is Markdown or HTML by its extension: any other is refused rather than guessed."""
    from .class_report import report_format

    if report is not None and report_format(report) is None:
        raise typer.BadParameter("--report writes Markdown or HTML: give a file name ending in .md or .html")


def _check_writable(*, output: Path | None, report: Path | None, gradebook: Path | None, whole: bool) -> None:
    """Each file asked for can be written: said before anything is graded, not after all of it.

    ``whole``: every file is written under a temporary name and renamed into place (``review``); ``grade`` writes
    --output and a Markdown --report as it goes, an HTML report and the gradebook whole at the end.
    """
    from .class_report import is_html
    from .files import check_writable

    if output is not None:
        check_writable(output, "results", replaced=whole)
    if report is not None:
        check_writable(report, "report", replaced=whole or is_html(report))
    if gradebook is not None:
        check_writable(gradebook, "gradebook", replaced=True)


def _batch_record(output: Path):
    """The provider batch recorded beside an --output file, if there is one."""
    if not output.with_name(output.name + ".llm-batch.json").exists():
        return None
    from .llm.provider_batch import BatchRecord, record_path

    record, masked_now = BatchRecord.load(record_path(output))
    if masked_now:
        print(f"{record_path(output)}: the password in its base URL, kept in the clear by an earlier grader, is masked now.", file=sys.stderr)
    return record


def _provider_batch(deck, answers, grader, feedback, output, answers_format, recorded) -> bool:
    """Submit a batch (``recorded`` None) or collect one; True when its replies are in and grading goes on."""
    from .batch import grade_file
    from .llm.provider_batch import BatchRequests, collect, record_path, submit

    try:
        if recorded is None:  # grade by key terms, collect a request for each answer worth asking, submit them as one
            requests = BatchRequests(feedback)
            grade_file(deck, answers, lambda _deck, _fields: [], grader, requests, answers_format=answers_format)
            record = submit(feedback, requests.lines, record_path(output))
            print(
                f"Submitted LLM batch {record.batch_id} ({record.requests} requests; {requests.cached} answers already cached) "
                f"to {record.endpoint}; recorded in {record_path(output)}. Collect it with the same command, "
                "--resume instead of --batch.",
                file=sys.stderr,
            )
            feedback.close()
            return False
        state = collect(feedback, recorded)
    except BaseException:
        feedback.close()
        raise
    if not state.ready:
        print(f"LLM batch {recorded.batch_id} is {state.status}: {state.done} of {state.total} done; run again later.", file=sys.stderr)
        feedback.close()
        return False
    print(f"LLM batch {recorded.batch_id}: {state.collected} replies collected.", file=sys.stderr)
    return True  # the record stays: collecting again (after an interruption) is free


@app.command()
def review(
    deck: Path = typer.Argument(..., help="The deck the answers are to (a pipe, <(cat deck.md), is read once)."),
    answers: Path = typer.Argument(..., help="The class's answers: .jsonl, .csv or .yaml, as for grade (a file: your keys come on standard input)."),
    decisions: Optional[Path] = typer.Option(
        None, "--decisions", help="Where your decisions are saved as you make them (default: beside the answers, NAME.review.jsonl)."
    ),
    output: Optional[Path] = typer.Option(
        None, "--output", help="Write every answer with its final grade: JSON Lines (.jsonl) or CSV (.csv), by the extension."
    ),
    report: Optional[Path] = typer.Option(None, "--report", help="Write a class report of the final grades: Markdown (.md) or HTML (.html)."),
    gradebook: Optional[Path] = typer.Option(None, "--gradebook", help="Write a gradebook CSV of the final grades for an LMS."),
    student: StudentOption = None,
    everything: bool = typer.Option(False, "--all", help="Show every group, also those your marks already settle."),
    export_only: bool = typer.Option(False, "--export-only", help="Ask nothing: write the exports from the decisions saved so far."),
    answers_format: Optional[str] = typer.Option(None, "--answers-format", help="jsonl, csv or yaml, when the file's name does not say."),
    match: MatchOption = None,
) -> None:
    """Review a class's answers by groups: accept or override a whole group with one key, and the grader learns.

    The answers to each question are grouped by what they say and what the
    grader found in them, largest groups first. For each group press a to
    accept the proposed verdict, c, p or i to mark the whole group correct,
    partial or incorrect, o to mark some answers of it (then e.g. 'i 2 5-7'),
    s to split it, u to undo, n to go to the next question, m to see every
    answer of the group, each whole, q to stop. Each decision is saved at once (in
    --decisions), so you can stop at any time, Ctrl-C included, and run the
    same command again to go on.

    Your marks train the grader for the rest of the class: a calibration per
    question, fitted on your verdicts, re-grades the answers you have not seen,
    and only groups holding answers it is still uncertain about are shown. When
    input is not a terminal, each line is one command (a, c, p, i, 'i 2 5', s,
    u, n, q), so reviews can be scripted. Exports carry the final grades: yours,
    else the calibration's, else the grader's.

    Example: grader review deck.md class.csv --report class.html --gradebook gradebook.csv

    Example: printf 'a\\nc\\ni 2\\nq\\n' | grader review deck.md class.csv

    Example: grader review deck.md class.csv --export-only --output final.jsonl
    """
    from .batch import default_jobs
    from .class_outputs import check_student
    from .files import refuse_overwrite
    from .resume import output_format
    from .review import ReviewInterrupted, open_review, run_review, sidecar_path, write_exports
    from .store import history_files

    if str(answers) == "-":
        raise typer.BadParameter("review reads your keys on standard input: give the answers as a file")
    from .files import is_stream

    if str(deck) == "-":
        raise typer.BadParameter("review reads your decisions from standard input: give the deck as a file or a pipe, <(cat FILE), not -")
    if decisions is None and is_stream(answers):
        raise typer.BadParameter("the answers come through a pipe, with no folder to keep your decisions in: name their file with --decisions")
    if output is not None and output_format(output) is None:
        raise typer.BadParameter("--output must end in .jsonl or .csv (the format is chosen by the extension)")
    if gradebook is not None and gradebook.suffix.lower() != ".csv":
        raise typer.BadParameter("--gradebook writes CSV: give a file name ending in .csv")
    log = decisions or sidecar_path(answers)
    protected = {"the deck": deck, "the answers file": answers, **history_files()}
    refuse_overwrite(log, protected)
    chosen = {"the decisions": log, "--output": output, "--report": report, "--gradebook": gradebook}
    for name, path in chosen.items():
        if path is not None and name != "the decisions":
            refuse_overwrite(path, {**protected, **{k: v for k, v in chosen.items() if v is not None and k != name}})
    _check_report_name(report)
    _check_writable(output=output, report=report, gradebook=gradebook, whole=True)
    settings = _grading(match)
    _warn_of_unused_settings("review", "grading")
    try:
        opened = open_review(deck, answers, settings, log, answers_format=answers_format, jobs=default_jobs())
    except KeyboardInterrupt:  # while the answers were read and graded: nothing asked, nothing written
        print(f"Interrupted while the answers were read and graded: nothing written; the decisions in {log} are as they were.", file=sys.stderr)
        raise typer.Exit(130) from None
    try:
        for notice in opened.review.notices:
            print(f"Notice: {notice}", file=sys.stderr)
        check_student(opened.fields, student, gradebook=gradebook is not None)
        if not export_only:
            from .render import make_console

            terminal = _ReviewTerminal(make_console(), interactive=sys.stdin.isatty())
            try:
                run_review(opened.review, terminal, everything=everything)
            except KeyboardInterrupt:
                raise ReviewInterrupted from None
    except ReviewInterrupted:
        print(f"Stopped: every decision is saved in {log} ({opened.log.written} this time); the same command goes on.", file=sys.stderr)
        raise typer.Exit(130) from None
    finally:
        opened.log.close()
    try:
        if notice := write_exports(opened, settings, output=output, report=report, gradebook=gradebook, student=student):
            print(notice, file=sys.stderr)
    except KeyboardInterrupt:  # raised once every export is written whole
        print(f"Stopped: the exports were finished first; every decision is saved in {log}.", file=sys.stderr)
        raise typer.Exit(130) from None
    print(
        f"Decisions: {log} ({opened.review.decided} answer{'' if opened.review.decided == 1 else 's'} decided by you); {opened.review.still_open()}.",
        file=sys.stderr,
    )


@dataclass
class _ReviewTerminal:
    """The teacher at the terminal (one key a command; o asks for answer numbers), or a script, a line a command."""

    console: Console
    interactive: bool

    def command(self) -> str | None:
        if not self.interactive:
            line = sys.stdin.readline()
            return None if line == "" else line.rstrip("\r\n")
        try:
            key = typer.getchar()
            if key in ("o", "O"):
                return "o " + input("Mark which answers? A verdict, then their numbers (e.g. i 2 5-7): ")
        except EOFError:
            return None
        return key

    def show(self, shown) -> None:  # noqa: ANN001 - review.GroupShown or review.Said
        from .review_view import review_view

        self.console.print(review_view(shown, self.console.width))


@app.command()
def cards(
    deck: Optional[Path] = typer.Argument(None, help="A deck file (default: the bundled deck); a pipe or - is read once, without your history."),
    json_out: bool = typer.Option(False, "--json", help="One JSON object per card (JSON Lines)."),
    due: bool = typer.Option(False, "--due", help="Only the cards due now (new cards and cards set aside are left out)."),
) -> None:
    """List a deck's cards with their ids, key terms, whether they can be graded,
    and, from your history, when each is due, its last grade and its lapses
    (the deck is matched with your history first, as stats matches it, so an
    edited card keeps its history).

    Example: grader cards deck.md --json

    Example: grader cards notes/networking.apkg --due
    """
    from .config import load_schedule_settings
    from .decks import bundled_deck, load_deck
    from .display import clean_line
    from .stats import card_progress, is_due_now, progress_record

    from .decks import is_piped

    if due:
        _refuse_piped([deck] if deck else None, "--due reads your history, kept by the deck's file")
    # When a card is due (learn-ahead, the hour a study day starts), as practice reads it: for the due column and --due.
    settings = load_schedule_settings()
    _warn_of_unused_settings("cards", "practice")
    the_deck = load_deck(deck or bundled_deck())
    now = _now()
    # What matching the deck with the history found is said on stderr, as stats says it: stdout is the list. A deck
    # from a pipe has no history to show (it is kept by the deck's file): it is listed as one never practised.
    piped = deck is not None and is_piped(deck)
    progress = {} if piped else card_progress(the_deck, now=now, say=lambda note: print(clean_line(note), file=sys.stderr))
    shown = [c for c in the_deck.cards if not due or is_due_now(progress.get(c.id), now=now, settings=settings)]
    if json_out:
        import json

        from .writers import card_record, json_line

        for card in shown:
            sys.stdout.write(json_line(json.dumps({**card_record(card), **progress_record(progress.get(card.id), settings)}, ensure_ascii=False)))
        return
    from .render import card_lines, cards_table, make_console

    console = make_console()
    if console.is_terminal and due and not shown:  # an empty table, its columns squeezed, said nothing of why
        console.print(f"No card of {clean_line(the_deck.title)} is due now; see `grader stats` for when cards come due.", markup=False)
    elif console.is_terminal:
        console.print(cards_table(shown, the_deck.title, progress, now=now, settings=settings))
    else:
        sys.stdout.writelines(card_lines(shown, progress, now=now, settings=settings))


@app.command()
def lint(decks: Optional[list[Path]] = typer.Argument(None, help="Deck files or folders (default: the bundled deck); a pipe or - is read once.")) -> None:
    """Report what a deck author should fix, as file:line: message; exit 1 if anything.

    Every file of a folder is checked, one that cannot be read as a deck too, and
    every problem of each is reported (all schema errors of a YAML deck, images
    not where the deck says).

    Example: grader lint notes/
    """
    from .decks import bundled_deck, lint_files
    from .display import clean_line

    count = 0
    for line in lint_files(decks or [bundled_deck()]):
        print(clean_line(line))
        count += 1
    if count:
        raise typer.Exit(1)


EVAL_GRADERS = ("keyword", "llm", "hybrid")


class _EvalGroup(TyperGroup):
    """``grader eval [DATA]`` runs an evaluation; ``grader eval compare A B`` is a sub-command with its own help.

    A group's own argument would take the word ``compare`` for DATA, so when
    the first word names a sub-command the run's parameters keep their
    defaults and everything after goes to the sub-command. Options may follow
    DATA (``grader eval data.jsonl --json``), as they could before.
    """

    allow_interspersed_args = True

    # The overrides take typer.Context, which typer makes for its commands: the base they override names click's
    # Context, which is typer's own copy of click in newer typers and click itself in older ones (no one import for both).
    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        if not args or args[0] not in self.commands:
            return super().parse_args(ctx, args)
        super().parse_args(ctx, [])  # the run's parameters at their defaults
        ctx.meta["grader.eval.sub"] = True  # and not in the sub-command's usage line (get_params)
        if hasattr(ctx, "_protected_args"):  # click 8.2+
            ctx._protected_args = args[:1]
        else:  # pragma: no cover - click 8.1
            ctx.protected_args = args[:1]  # type: ignore[attr-defined]  # click 8.1's name, gone from the click checked
        ctx.args = args[1:]
        return ctx.args

    def resolve_command(self, ctx: typer.Context, args: list[str]):  # type: ignore[override]  # noqa: ANN201
        if args and args[0] not in self.commands:
            ctx.fail("give one data file (or: grader eval compare A.json B.json)")
        return super().resolve_command(ctx, args)

    def get_params(self, ctx: typer.Context) -> list:  # type: ignore[override]
        params = super().get_params(ctx)
        return [p for p in params if p.param_type_name != "argument"] if ctx.meta.get("grader.eval.sub") else params

    def format_usage(self, ctx: typer.Context, formatter) -> None:  # type: ignore[override]  # noqa: ANN001 - click's HelpFormatter
        formatter.write_usage(ctx.command_path, "[OPTIONS] [DATA.jsonl]")
        formatter.write_usage(ctx.command_path, "compare A.json B.json [--json]", prefix="       ")


eval_app = typer.Typer(cls=_EvalGroup, invoke_without_command=True, no_args_is_help=False, add_completion=False)
app.add_typer(eval_app, name="eval")


@eval_app.callback(invoke_without_command=True)
def eval_command(
    ctx: typer.Context,
    data: Optional[Path] = typer.Argument(
        None,
        metavar="DATA.jsonl",
        help="Human-graded answers, JSON Lines (default: the labelled answers to the bundled deck).",
        show_default=False,
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
    shots: int = typer.Option(0, "--shots", min=0, max=20, help="For --grader llm/hybrid: put the K most similar graded answers of --train in each prompt."),
    match: MatchOption = None,
) -> None:
    """Measure a grader against human grades, with 95% intervals and baselines.

    Calibration is cross-validated by question unless --train is given; every
    run also scores a majority, an answer-length and a word-overlap baseline.

    Example: grader eval mohler_train.jsonl --report out/

    Example: grader eval --json > runA.json ; grader eval compare runA.json runB.json

    Example: grader eval test.jsonl --grader llm --train train.jsonl --shots 3
    """
    if ctx.invoked_subcommand is not None:
        return
    if grader_name not in EVAL_GRADERS:
        raise typer.BadParameter(f"--grader must be one of {', '.join(EVAL_GRADERS)}")
    if shots and grader_name == "keyword":  # ignored, it would pass a keyword run off as a few-shot one
        raise typer.BadParameter("--shots puts graded examples in LLM prompts: use it with --grader llm or hybrid")
    from .evaluation.report import write_report
    from .files import check_folder_writable
    from .evaluation.runner import EvalHooks, EvalRequest, RunInterrupted, run_eval
    from .display import clean
    from .render import ProgressBar, make_console

    console, err = make_console(), make_console(stderr=True)
    request = EvalRequest(
        data=data,
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
        shots=shots,
    )
    hooks = EvalHooks(notify=lambda message: err.print(clean(str(message)), markup=False), confirm=typer.confirm if sys.stdin.isatty() else None, progress=ProgressBar)
    if report is not None:
        check_folder_writable(report, "the report")  # before a long or paid run, not after it
    grading = _grading(match)
    _warn_of_unused_settings("eval", "grading", *(["llm"] if grader_name != "keyword" else []))
    try:
        run = run_eval(request, grading, hooks)
    except RunInterrupted as exc:
        err.print(clean(exc.message), markup=False)
        raise typer.Exit(130) from None
    if run is None:  # the user declined a paid LLM run
        raise typer.Exit(1)
    if json_out:
        sys.stdout.write(run.model_dump_json() + "\n")
    else:
        from .evaluation.terminal import terminal

        for part in terminal(run, width=console.width):
            console.print(part)
    if report is not None:
        write_report(run, report)
        err.print(f"Report written to {report / 'report.html'} and {report / 'report.md'}")


@eval_app.command("compare")
def eval_compare(
    a: Path = typer.Argument(..., metavar="A.json", help="A run saved with grader eval --json."),
    b: Path = typer.Argument(..., metavar="B.json", help="Another saved run, to compare with A."),
    json_out: bool = typer.Option(False, "--json", help="The comparison as one JSON document."),
) -> None:
    """Compare two saved evaluation runs: metric deltas (B minus A) and the answers whose verdict changed.

    Example: grader eval compare before.json after.json
    """
    from .evaluation.compare import compare_runs
    from .evaluation.results import load_run

    names = (a.name, b.name) if a.name != b.name else (str(a), str(b))
    comparison = compare_runs(load_run(a), load_run(b), a_name=names[0], b_name=names[1])
    if json_out:
        sys.stdout.write(comparison.model_dump_json() + "\n")
        return
    from .evaluation.terminal import comparison_terminal
    from .render import make_console

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
    model: Optional[str] = typer.Option(None, "--model", help="Model to check (default: GRADER_MODEL, settings, gpt-4o-mini)."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="OpenAI-compatible server (default: OPENAI_BASE_URL, settings, OpenAI)."),
) -> None:
    """Say whether the endpoint answers, the model exists and structured output works; exit 1 if not.

    Settings come from flags, then OPENAI_API_KEY / OPENAI_BASE_URL / GRADER_MODEL,
    then the [llm] table of settings.toml in the config dir, then defaults.

    Example: grader llm check --base-url http://localhost:11434/v1 --model llama3.2
    """
    from .config import load_llm_settings
    from .llm.check import check_endpoint

    settings = load_llm_settings({"model": model, "base_url": base_url})
    _warn_of_unused_settings("llm check", "llm")
    lines = check_endpoint(settings)
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
    from .display import clean_line
    from .stats import history_stats
    from .errors import HistoryReadOnly
    from .store import Store

    _refuse_piped(decks, "stats finds a deck's history by its file")
    settings = load_schedule_settings()
    _warn_of_unused_settings("stats", "practice")
    try:  # naming decks syncs them with the history (edited cards keep theirs), which writes: read only where it cannot
        store = Store.open(settings=settings, read_only=not decks)
    except HistoryReadOnly:
        store = Store.open(settings=settings, read_only=True)
    with store:  # what the sync matched is said as practice says it, on stderr: stdout is the report
        report = history_stats(store, _decks(decks) if decks else None, now=_now(), say=lambda note: print(clean_line(note), file=sys.stderr))
    if json_out:
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
    else:
        from .render import make_console, stats_view

        make_console().print(stats_view(report))


history_app = typer.Typer(
    help="Your practice history (JSON Lines), to move it to another machine or analyse it.\n\n"
    "Example: grader history export backup.jsonl",
    no_args_is_help=True,
)
app.add_typer(history_app, name="history")


@history_app.command("export")
def history_export(file: Optional[Path] = typer.Argument(None, help="File to write (default, or -: standard output).")) -> None:
    """Write your whole history as JSON Lines: a header, then one line per card and per answer.

    Example: grader history export backup.jsonl
    """
    from .history_file import export, export_file
    from .store import Store

    if file is None or str(file) == "-":
        with Store.open(read_only=True) as store:
            export(store, sys.stdout, now=_now())
        return
    exported = export_file(file, now=_now())
    answers, cards = exported.answers, exported.cards
    print(f"Exported {answers} answer{'s' * (answers != 1)} and {cards} card{'s' * (cards != 1)} to {file}", file=sys.stderr)


@history_app.command("import")
def history_import(file: Path = typer.Argument(..., help="A file written by 'grader history export' (-: standard input).")) -> None:
    """Merge an export into your history; answers already in it are skipped, so importing twice is safe.

    Example: grader history import backup.jsonl
    """
    from .history_file import import_file

    report = import_file(file)
    updated = f" ({report.updated} re-rated or given feedback)" if report.updated else ""
    print(f"Imported answers: {report.attempts} new, {report.duplicates} already in your history{updated}; cards: {report.cards}.")


def main() -> None:
    """Entry point: run the app, turning GraderErrors into one line and exit code 1.

    Usage errors are click's (exit 2). Output that cannot be written ends the
    run cleanly: a full disk is one line and exit 1; a closed pipe
    (``grader ... | head -1``) ends quietly with exit 1, as typer does for one
    it meets itself. Anything else is a bug and keeps its traceback.
    """
    # Started with a standard stream closed (<&-, >&-, 2>&-), Python has None for it: reading from a closed stdin is
    # the end of input at once, as from /dev/null, and what would go to a closed output goes nowhere (an error line
    # for stderr is not written into stdout instead, where print() would put it; input() refuses to run without it).
    if sys.stdin is None:
        sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 - lives as long as the process
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
    _escape_lone_surrogates(sys.stdout)
    try:
        try:
            app()
        finally:
            # Flushed here, not at exit, where a failure would print "Exception ignored ..."
            sys.stdout.flush()
    except GraderError as exc:
        from .display import clean_line

        _say(f"Error: {clean_line(str(exc))}")  # one line, whatever a file put in it
        sys.exit(1)
    except OSError as exc:
        if exc.errno not in _OUTPUT_ERRNOS:
            raise
        _discard_output()
        if exc.errno != errno.EPIPE:
            _say(f"Error: cannot write the output: {exc.strerror or exc}")
        sys.exit(1)


# A full disk (or quota, or file size limit), a device failing, a reader gone away.
_OUTPUT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EPIPE}


def _escape_lone_surrogates(stream) -> None:
    """Write text that is not valid Unicode (a lone surrogate, from a ``\\ud800`` escape in a file) as that escape.

    In UTF-8 output nothing else can fail to encode, and a surrogate can only
    stand in a string, where ``\\ud800`` is also the JSON escape that reads back
    as the same text; so --json, --csv and tables go on past such a row.
    """
    encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "").replace("_", "")
    if encoding in ("utf8", "utf8sig"):
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError, OSError):  # not a TextIOWrapper
            pass


def _say(line: str) -> None:
    """One line on stderr, if stderr can still take it."""
    try:
        print(line, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def _discard_output() -> None:
    """Point standard output at /dev/null, so what is left in its buffer cannot fail again at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file (tests capture output in memory)
        pass
