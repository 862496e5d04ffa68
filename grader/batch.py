"""Batch grading: many answers, graded grouped by card, handed on in input order.

One path for every batch: ``grader grade`` (``grade_file``), ``grader review``
and the Dask example (``eval/dask_example.py``) grade rows with ``grade_rows``,
and library users (card, answer) pairs with ``grade_answers``: both chunk,
group by card and fan out to worker processes the same way, so the code that
is measured is the code that runs.

Everything streams: answers are read a row at a time (twice: first every row
is checked and its card found, keeping only the card's position, then the rows
are graded), graded a chunk at a time, in this process or in ``jobs`` worker
processes (``workers.py``, which render the output lines too), and each result
is written as soon as it and every row before it are final. Memory stays flat
however many rows there are.

With workers, a JSON Lines file is cut into byte ranges of whole lines, which
the workers read themselves for both passes (``_check_shards``, then
``GradingWorkers.graded_shards`` when their lines are all the outputs need):
this process would otherwise parse every row twice and hand each on, a third
process competing with the workers for the cores (``--jobs 2`` reached 1.4x
``--jobs 1`` so, 1.7x now).
"""

from __future__ import annotations

import os
import signal
import threading
from array import array
from collections import Counter, deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import ExitStack, closing, nullcontext
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol, TypeVar

from .errors import AnswersError, GraderError
from .models import AnswerRow, Card, Deck, Grade, check_types
from .scoring import facts_grade
from .workers import AnswerToGrade, GradeAndLines, GradingWorkers, Shard, gc_tuned_for_a_batch, grade_chunk_by_card
from .writers import GradedAnswer, GradedLines, LineFormat, LineWriter, NoAnswers, unanswered

if TYPE_CHECKING:
    from .answers import AnswersSource, RowValues
    from .config import LLMSettings
    from .grading import KeywordGrader
    from .llm.schema import LLMResult, Totals

CHUNK_ROWS = 512  # rows graded together: enough to batch per card, few enough to show results as they come
# An answers file larger than this (more than two chunks of rows of 64 bytes) starts its workers before its rows
# are checked, so that they load the word vectors meanwhile: 4-7% less wall time at 100,000 rows with --jobs 2.
EARLY_WORKERS_BYTES = 2 * CHUNK_ROWS * 64
# A JSON Lines file's byte ranges, for --jobs workers that read and check their own: a few thousand rows each.
SHARD_BYTES = 256 * 1024
FEEDBACK_WINDOW = 256  # rows handed to the LLM client at once; its requests run concurrently within a window


class BatchFeedback(Protocol):
    """What batch grading asks of the LLM: ``llm.client.FeedbackClient``, or ``llm.provider_batch.BatchRequests``,
    which collects the requests to submit as one provider batch."""

    @property
    def settings(self) -> LLMSettings: ...

    @property
    def totals(self) -> Totals: ...

    def iter_feedback(
        self, items: Sequence[tuple[Card, str, Grade]], on_progress: Callable[[], None] | None = None
    ) -> Generator[LLMResult | None, None, None]: ...


_Takes = TypeVar("_Takes", contravariant=True)


class Writer(Protocol[_Takes]):
    """Where graded answers go, each the moment it is final (JSON Lines, CSV, a report, a table).

    Every output is a ``Writer[GradedAnswer]``; a ``LineWriter`` also takes a worker's ``GradedLines``.
    """

    def write(self, graded: _Takes) -> None: ...

    def close(self, footer: str | None = None) -> None: ...


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a batch; ``graded`` of ``total`` rows are written whole (counting resumed ones)."""

    def __init__(self, graded: int, total: int):
        super().__init__(f"interrupted after {graded} of {total} answers")
        self.graded, self.total = graded, total


def default_jobs() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def jobs_to_run(asked: int | None) -> int:
    """The grading processes to start for ``--jobs asked``: at most one a core. Grading is all computation, so a
    process more than the cores only waits its turn, and costs its memory (about 100 MB each with the semantic
    tier: ``--jobs 8`` on two cores took 870 MB and no less time than ``--jobs 2``, 270 MB)."""
    return min(asked, default_jobs()) if asked is not None else default_jobs()


# --- Keyword grades of a stream of (card, answer) pairs ------------------------------------------


def grade_answers(
    pairs: Iterable[tuple[Card, str]], grader: KeywordGrader, chunk: int = CHUNK_ROWS, jobs: int = 1
) -> Iterator[Grade]:
    """Keyword grades of (card, answer) pairs, in input order.

    Pairs are taken ``chunk`` at a time and the answers to each card in a chunk
    are compared in one batch, so a long stream costs one matcher call per card
    and chunk, not per answer, and memory stays bounded. With ``jobs`` > 1 the
    chunks are graded in that many worker processes (a few chunks ahead of the
    consumer, no more); the grades are the same, in the same order.
    """
    cards: deque[Card] = deque()  # a grade from a worker comes as plain values, without its card

    def remembered() -> Iterator[AnswerToGrade]:
        for card, answer in pairs:
            if jobs > 1:  # here, before a worker process meets it; in this process the grader checks it (grade_many_facts)
                check_types(card, (answer,))
            cards.append(card)
            yield card, answer, _NO_FIELDS

    for facts, _ in _grades(remembered(), grader, chunk, jobs):
        assert facts is not None  # asked with grades=True: each grade comes as its facts
        yield facts_grade(cards.popleft(), facts)


_NO_FIELDS: dict[str, Any] = {}


def _grades(
    answers: Iterable[AnswerToGrade],
    grader: KeywordGrader,
    chunk: int,
    jobs: int,
    formats: Sequence[LineFormat] = (),
    grades: bool = True,
    workers: GradingWorkers | None = None,
) -> Generator[GradeAndLines, None, None]:
    """Grades as plain values, without a ``Grade`` (records need only its values), in input order.

    Worker processes also render each answer in ``formats`` (the parent's
    output lines, taken off its hands) and leave its grade out (None) unless
    ``grades``; this process leaves the lines to the writers. ``workers``
    started earlier (and closed by whoever started them) are used instead of
    new ones.
    """
    chunks = _chunks(answers, chunk)
    first, second = next(chunks, None), next(chunks, None)
    if first is None:
        return
    with gc_tuned_for_a_batch():
        if (jobs <= 1 and workers is None) or second is None:  # one chunk is not worth starting processes for
            for part in chain([first], [] if second is None else [second], chunks):
                for facts in grade_chunk_by_card(part, grader):
                    yield facts, ()
        else:
            with closing(GradingWorkers(jobs, grader.settings)) if workers is None else nullcontext(workers) as started:
                yield from started.graded(chain([first, second], chunks), formats, grades, grader.deck_terms)


def _chunks(answers: Iterable[AnswerToGrade], size: int) -> Iterator[list[AnswerToGrade]]:
    if size < 1:  # a chunk of none would end the stream at once: every answer left ungraded, and nothing said
        raise ValueError(f"chunk must be at least 1, not {size}")
    it = iter(answers)
    while part := list(islice(it, size)):
        yield part


# --- Graded rows, with LLM feedback if asked ---------------------------------------------------


def grade_rows(
    resolved: Iterable[tuple[AnswerRow | RowValues, Card]],
    grader: KeywordGrader,
    feedback: BatchFeedback | None = None,
    on_progress: Callable[[], None] | None = None,
    *,
    jobs: int = 1,
    formats: Sequence[LineFormat] = (),
    grades: bool = True,
    workers: GradingWorkers | None = None,
) -> Generator[GradedAnswer, None, None]:
    """Graded rows in input order; with a feedback client each also carries its LLM feedback.

    Keyword grading runs in ``jobs`` processes (or the ``workers`` started
    before), which also render each row in ``formats`` (without feedback: its
    lines do not hold it) and, unless ``grades``, send back those lines alone;
    LLM feedback is asked a window of rows at a time, with the client's own
    concurrency.
    """
    waiting: deque[tuple[AnswerRow | RowValues, Card]] = deque()  # rows whose grades are on their way
    if feedback is not None:  # the lines would lack it, and feedback is asked from the grades
        formats, grades = (), True
    keys = [f.key for f in formats]

    def answers() -> Iterator[AnswerToGrade]:
        for row, card in resolved:
            waiting.append((row, card))
            yield card, row.answer, row.extra

    with closing(_grades(answers(), grader, CHUNK_ROWS, jobs, formats, grades, workers)) as grades_and_lines:
        graded = (GradedAnswer(*waiting.popleft(), g, lines=dict(zip(keys, lines))) for g, lines in grades_and_lines)
        if feedback is None:
            yield from graded
            return
        window = max(FEEDBACK_WINDOW, 16 * feedback.settings.concurrency)
        while batch := list(islice(graded, window)):
            items = [(g.card, g.row.answer, g.grade) for g in batch]
            with closing(feedback.iter_feedback(items, on_progress)) as results:
                for g, result in zip(batch, results):
                    g.feedback = result
                    yield g


# --- A file of answers -----------------------------------------------------------------------


@dataclass
class _Checked:
    """What the first pass keeps: each row's card (its position in the deck) and the rows' own fields."""

    cards: array = field(default_factory=lambda: array("i"))  # 4 bytes a row
    fields: dict[str, None] = field(default_factory=dict)
    stamp: tuple[int, int] = (0, 0)


@dataclass
class _Resume:
    """What the earlier run's output (and report) hold, as far as both hold whole rows that match the answers."""

    rows: int = 0
    output_end: int = 0
    report_end: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    score_sum: float = 0.0
    none: NoAnswers = field(default_factory=NoAnswers)  # of the rows, those that are no answer (``writers.unanswered``)


def grade_file(
    deck_path: Path,
    answers_path: Path | str,
    writers: Callable[[Deck, list[str]], list[Writer[GradedAnswer]]],
    grader: KeywordGrader,
    feedback: BatchFeedback | None = None,
    on_start: Callable[[int], None] | None = None,
    on_progress: Callable[[], None] | None = None,
    *,
    answers_format: str | None = None,
    output: Path | None = None,
    report: Path | None = None,
    resume: bool = False,
    jobs: int = 1,
) -> int:
    """Grade a file of answers against a deck, writing each result as soon as it is final; the number graded.

    Every row is read and matched to its card before anything is graded, so a
    bad row stops the run with nothing written. ``answers_path`` ``-`` is standard
    input (spooled to a temporary file). ``output`` is a results file (JSON Lines
    or CSV by its extension) and ``report`` a Markdown report; with ``resume``
    the rows they already hold whole are kept and only the rest are graded.
    ``writers(deck, fields)`` builds the other outputs (``fields``: the rows' own
    fields, for CSV columns). The writers are closed however the batch ends, so
    an interrupted run keeps every whole result it wrote; Ctrl-C raises
    ``BatchInterrupted`` and never cuts a row in half.
    """
    from .answers import open_answers
    from .decks import load_deck
    from .resume import output_format

    fmt = "jsonl"
    if output is not None:
        fmt = output_format(output) or ""
        if not fmt:
            raise GraderError("a results file ends in .jsonl or .csv", path=output)
    with open_answers(answers_path, answers_format) as source, ExitStack() as files:  # outputs close first, then workers
        resuming = resume and output is not None and output.exists()
        shards = source.shards(SHARD_BYTES) if jobs > 1 and not resuming else None
        plan: list[Shard] | None = None
        if shards is not None and len(shards) > 1:  # the workers read the file too: both passes run in parallel
            deck = load_deck(deck_path)
            grader.use_deck(deck.cards)
            sharded = files.enter_context(closing(GradingWorkers(jobs, grader.settings, deck)))
            checked, plan = _check_shards(source, shards, sharded)
            workers: GradingWorkers | None = sharded
            done = _Resume()
        else:
            workers = files.enter_context(closing(GradingWorkers(jobs, grader.settings))) if _start_early(source, jobs) else None
            deck = load_deck(deck_path)
            grader.use_deck(deck.cards)
            if resuming and output is not None:
                checked, done = _check_rows_and_results(source, deck, output, fmt, report)
            else:
                checked, done = _check_rows(source, deck), _Resume()
        total = len(checked.cards)
        if output is not None and not resuming:
            _refuse_to_replace_an_unfinished_run(source, deck, output, fmt, total)
        outputs: list[Writer[GradedAnswer]] = []
        if output is not None:
            outputs.append(_open_results(files, output, fmt, list(checked.fields), done))
        outputs += writers(deck, list(checked.fields))
        if report is not None:
            outputs.append(_open_report(report, deck, source.name, total, done))
        if on_start is not None:
            on_start(total - done.rows)
        formats = list({out.format.key: out.format for out in outputs if isinstance(out, LineWriter)}.values())
        only_lines = all(isinstance(out, LineWriter) for out in outputs)  # then a worker's lines are all they need
        if plan is not None and workers is not None and only_lines and feedback is None:
            keys = [f.key for f in formats]
            blocks = workers.graded_shards(source, plan, formats, grader.deck_terms)
            line_writers = [out for out in outputs if isinstance(out, LineWriter)]  # every output (only_lines)
            return _write_all((GradedLines(rows, dict(zip(keys, texts))) for rows, texts in blocks), line_writers, None, 0, total)
        rows = _rows_to_grade(source, deck, checked, start=done.rows)
        graded = grade_rows(
            rows, grader, feedback, on_progress, jobs=jobs, formats=formats, grades=not only_lines, workers=workers
        )
        return _write_all(graded, outputs, feedback, done.rows, total)


def _start_early(source: AnswersSource, jobs: int) -> bool:
    """Whether to start the workers before the rows are checked, so that they load the word vectors meanwhile."""
    try:
        return jobs > 1 and source.path.stat().st_size > EARLY_WORKERS_BYTES
    except OSError:  # reading it will say what is wrong
        return False


def _check_rows(
    source: AnswersSource, deck: Deck, on_row: Callable[[int, RowValues, Card], None] | None = None
) -> _Checked:
    """The first pass: every row parsed and its card found (an AnswersError at the first bad one)."""
    from .answers import CardResolver

    resolver = CardResolver(deck)
    checked = _Checked()
    for i, row in enumerate(source.row_values()):
        index = resolver.index(row, source.name)
        checked.cards.append(index)
        for name in row.extra:
            checked.fields.setdefault(name)
        if on_row is not None:
            on_row(i, row, deck.cards[index])
    checked.stamp = _stamp(source.path)
    return checked


def _check_shards(source: AnswersSource, shards: list[tuple[int, int]], workers: GradingWorkers) -> tuple[_Checked, list[Shard]]:
    """The first pass, by the workers, a byte range each: what ``_check_rows`` finds, and the first bad row of the
    file reported as it reports it. Also each range's first line and rows, for the second pass."""
    checked = _Checked()
    plan = []
    line = 1  # the first line of the range in hand
    for (start, end), found in zip(shards, workers.checked(source, shards)):
        if found.error is not None:
            message, at = found.error
            raise AnswersError(message, path=source.name, line=None if at is None else line + at - 1)
        cards = array("i")
        cards.frombytes(found.cards)
        plan.append(Shard(start, end, line, len(cards)))
        checked.cards.extend(cards)
        checked.fields.update(dict.fromkeys(found.fields))  # a field keeps the place it was first seen at
        line += found.lines
    if not checked.cards:
        raise AnswersError("answers file has no rows", path=source.name, line=1)
    checked.stamp = _stamp(source.path)
    return checked, plan


def _check_rows_and_results(
    source: AnswersSource, deck: Deck, output: Path, fmt: str, report: Path | None
) -> tuple[_Checked, _Resume]:
    """The first pass, also reading the earlier run's results beside the rows they grade.

    The rows kept are those the results file holds whole and matching the
    answers (same card; for JSON Lines the same answer too) and, with a report,
    that the report holds too.
    """
    from .resume import report_rows, written_results

    if report is None:
        keep = None
    else:
        keep = sum(1 for _ in report_rows(report)) if report.exists() else 0
    done = _Resume()
    results = written_results(output, fmt)
    more = True  # the results may go on

    def compare(i: int, row: RowValues, card: Card) -> None:
        nonlocal more
        if not more or i != done.rows or done.rows == keep:
            return
        got = next(results, None)
        if got is None:
            more = False
            return
        line, end, record = got
        if record.get("card") != card.id or (fmt == "jsonl" and record.get("answer") != row.answer):
            raise GraderError(
                f"result {i + 1} is not for line {row.line} of {source.name} (card {card.number}): "
                "was it written from other answers? Choose another --output, or leave out --resume",
                path=output,
                line=line,
            )
        try:
            done.verdicts[str(record["verdict"])] += 1
            done.score_sum += float(record["score"])
            done.none.add(unanswered(record))
        except (KeyError, TypeError, ValueError):
            raise GraderError("not a result line of 'grader grade'", path=output, line=line) from None
        done.rows, done.output_end = i + 1, end

    checked = _check_rows(source, deck, compare)
    if more and done.rows == len(checked.cards) and done.rows != keep and next(results, None) is not None:
        raise GraderError(
            f"holds more results than {source.name} has rows ({len(checked.cards)}): was it written from other answers?",
            path=output,
        )
    if fmt == "csv" and done.rows:
        _check_csv_header(output, list(checked.fields))
    if report is not None and done.rows:
        done.report_end = next(islice(report_rows(report), done.rows - 1, None))
    return checked, done


def _refuse_to_replace_an_unfinished_run(source: AnswersSource, deck: Deck, output: Path, fmt: str, total: int) -> None:
    """A GraderError if ``output`` holds the first results of these answers but not all: an interrupted run, perhaps
    of paid LLM requests, that ``--resume`` would go on with. A finished run's output, or one of other answers (or of
    nothing grader wrote), is replaced, as scripts that run the same command again expect."""
    from .resume import whole_results

    try:
        written = whole_results(output, fmt)
    except OSError:  # nothing there, or nothing to read: opening it to write says what is wrong
        return
    if not 0 < written < total:
        return
    try:
        _, done = _check_rows_and_results(source, deck, output, fmt, None)
    except GraderError:  # written from other answers, or not results at all
        return
    if done.rows:
        raise GraderError(
            f"holds the results of an unfinished run ({done.rows} of {total} answers): "
            "--resume to continue, or remove it / choose another file",
            path=output,
        )


def _check_csv_header(output: Path, fields: list[str]) -> None:
    from .resume import csv_header
    from .writers import csv_columns, passthrough_name

    found = csv_header(output)
    expected = csv_columns([passthrough_name(k) for k in fields])
    if found is None or found[0] != expected:
        raise GraderError(
            f"its columns are not the ones this run writes ({', '.join(expected)}): was it written from other answers?",
            path=output,
            line=1,
        )


def _stamp(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_size, info.st_mtime_ns


def _rows_to_grade(
    source: AnswersSource, deck: Deck, checked: _Checked, start: int
) -> Iterator[tuple[RowValues, Card]]:
    """The second pass: the rows again, each with the card the first pass found, from row ``start`` on.

    As ``RowValues``, not models: validating every row again as an ``AnswerRow`` cost 0.2 s per 100,000 rows.
    """
    if _stamp(source.path) != checked.stamp:
        raise AnswersError("the answers file changed while it was being graded", path=source.name)
    cards = deck.cards
    for i, row in enumerate(source.row_values()):
        if i >= len(checked.cards):
            raise AnswersError("the answers file changed while it was being graded", path=source.name)
        if i >= start:
            yield row, cards[checked.cards[i]]


def _open_results(files: ExitStack, output: Path, fmt: str, fields: list[str], done: _Resume) -> Writer[GradedAnswer]:
    from .writers import CsvWriter, JsonLinesWriter

    try:
        if done.rows:
            os.truncate(output, done.output_end)  # drop a row cut in half, and any row the report lacks
        # A lone surrogate (a "\ud800" escape in the answers) is written as that escape, as on standard output.
        mode = "a" if done.rows else "w"
        out: IO[str] = files.enter_context(output.open(mode, encoding="utf-8", errors="backslashreplace", newline=""))
    except OSError as exc:
        raise GraderError(f"cannot write results: {exc.strerror}", path=output) from None
    if fmt == "csv":
        return CsvWriter.for_fields(out, fields, header=not done.rows)
    return JsonLinesWriter(out)


def _open_report(report: Path, deck: Deck, answers_name: str, total: int, done: _Resume) -> Writer[GradedAnswer]:
    from .writers import MarkdownReport

    if not done.rows:
        return MarkdownReport.create(report, deck.title, answers_name, total)
    try:
        os.truncate(report, done.report_end)  # drop the "incomplete" line, and any row the results lack
    except OSError as exc:
        raise GraderError(f"cannot write report: {exc.strerror}", path=report) from None
    return MarkdownReport.append(report, total, done.verdicts, done.score_sum, done.none)


_Graded = TypeVar("_Graded", GradedAnswer, GradedLines)


def _write_all(
    graded: Generator[_Graded, None, None], outputs: Sequence[Writer[_Graded]], feedback: BatchFeedback | None, start: int, total: int
) -> int:
    count = 0
    try:
        with _WholeRows() as whole, closing(graded):
            for answer in graded:
                whole.writing = True
                try:
                    for out in outputs:
                        out.write(answer)
                finally:
                    whole.writing = False
                count += answer.rows
                if whole.pending:
                    raise KeyboardInterrupt
    except KeyboardInterrupt:
        raise BatchInterrupted(start + count, total) from None
    finally:
        footer = feedback.totals.summary(feedback.settings.model) if feedback is not None else None
        for out in outputs:
            out.close(footer)
    return count


class _WholeRows:
    """While installed, Ctrl-C during a row's writes (``writing``) waits until every output has the whole row.

    It takes over SIGINT only in the main thread and only from Python's default
    handler (a shell's ``&`` leaves SIGINT ignored, and so does this).
    """

    def __init__(self) -> None:
        self.writing = self.pending = False
        self.previous: Any = None

    def __enter__(self) -> _WholeRows:
        if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self.previous = signal.signal(signal.SIGINT, self._interrupt)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)

    def _interrupt(self, signum: int, frame: object) -> None:
        if self.writing:
            self.pending = True
        else:
            raise KeyboardInterrupt
