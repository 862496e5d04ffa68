"""Batch grading: many answers, graded grouped by card, handed on in input order.

One path for every batch: ``grader grade`` (``grade_file``), ``grader review``
and the Dask example (``eval/dask_example.py``) grade rows with ``grade_rows``,
and library users (card, answer) pairs with ``grade_answers``: both chunk,
group by card and fan out to worker processes the same way, so the code that
is measured is the code that runs.

Everything streams: answers are read a row at a time (twice: first every row
is checked and its card found, keeping only the card's position, then the rows
are graded), graded a chunk at a time, in this process or in ``jobs`` worker
processes (which render the output lines too), and each result is written as
soon as it and every row before it are final. Memory stays flat however many
rows there are.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
from array import array
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, closing, contextmanager, nullcontext
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from .errors import AnswersError, GraderError
from .models import AnswerRow, Card, Deck, Grade
from .scoring import GradeFacts, facts_grade
from .writers import GradedAnswer, LineFormat, LineWriter

if TYPE_CHECKING:
    from .answers import AnswersSource, RowValues
    from .grading import KeywordGrader
    from .llm.client import FeedbackClient
    from .scoring import GradingSettings

CHUNK_ROWS = 512  # rows graded together: enough to batch per card, few enough to show results as they come
FEEDBACK_WINDOW = 256  # rows handed to the LLM client at once; its requests run concurrently within a window


class Writer(Protocol):
    """Where graded answers go, each the moment it is final (JSON Lines, CSV, a report, a table)."""

    def write(self, graded: GradedAnswer) -> None: ...

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

    def remembered() -> Iterator[_Answer]:
        for card, answer in pairs:
            cards.append(card)
            yield card, answer, _NO_FIELDS

    for facts, _ in _grades(remembered(), grader, chunk, jobs):
        yield facts_grade(cards.popleft(), facts)


_Answer = tuple[Card, str, dict[str, Any]]  # a card, an answer to it, and the row's own fields (for rendered lines)
_NO_FIELDS: dict[str, Any] = {}
_Graded = tuple["GradeFacts | None", tuple[str, ...]]  # plain values, and the answer in each line format asked for


def _grades(
    answers: Iterable[_Answer],
    grader: KeywordGrader,
    chunk: int,
    jobs: int,
    formats: Sequence[LineFormat] = (),
    grades: bool = True,
    workers: _Workers | None = None,
) -> Iterator[_Graded]:
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
    with _collector_for_a_batch():
        if (jobs <= 1 and workers is None) or second is None:  # one chunk is not worth starting processes for
            for part in chain([first], [] if second is None else [second], chunks):
                for facts in _grade_chunk(part, grader):
                    yield facts, ()
        else:
            with closing(_Workers(jobs, grader.settings)) if workers is None else nullcontext(workers) as started:
                yield from started.graded(chain([first, second], chunks), formats, grades)


@contextmanager
def _collector_for_a_batch() -> Iterator[None]:
    """While a batch runs, the garbage collector skips the objects made before it, and runs less often.

    Grading makes and drops many small objects (refcounting frees them as it
    goes): the collector's full passes walked every object the process holds
    (the modules, the deck), and its young passes ran every 700 allocations, a
    sixth of a batch's CPU together. Both are as they were when the batch ends.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _chunks(answers: Iterable[_Answer], size: int) -> Iterator[list[_Answer]]:
    it = iter(answers)
    while part := list(islice(it, size)):
        yield part


def _grade_chunk(part: Sequence[_Answer], grader: KeywordGrader) -> list[GradeFacts]:
    """The chunk's grades in its order; the answers to each card (a deck's cards are one object each) in one batch."""
    by_card: dict[int, tuple[Card, list[int]]] = {}
    for i, (card, _, _) in enumerate(part):
        by_card.setdefault(id(card), (card, []))[1].append(i)
    graded: list[Any] = [None] * len(part)
    for card, rows in by_card.values():
        for i, facts in zip(rows, grader.grade_many_facts(card, [part[i][1] for i in rows])):
            graded[i] = facts
    return graded


# Worker processes. Not multiprocessing.Pool: its terminate() can hang for good when Ctrl-C lands
# while its feeder thread is writing a large task, and its workers outlive a parent killed with -9.
# Here each worker has a pipe of its own and one chunk at a time (the parent sends a worker a chunk
# only once it has taken the worker's last result, so a send never waits on a busy worker), results
# are taken as they come and written in order, and stopping is a kill: no thread, no lock, nothing
# to wait for. A chunk goes as card numbers and answers (a worker is sent each card once) and comes
# back as plain values and the rendered lines: the parent, which reads every row and writes every
# line, does no more than it must.

OUT_PER_WORKER = 4  # chunks out and not yet written, at most, a worker's: one done early goes on, not far
# An answers file larger than this (more than two chunks of rows of 64 bytes) starts its workers before its rows
# are checked, so that they load the word vectors meanwhile: 4-7% less wall time at 100,000 rows with --jobs 2.
EARLY_WORKERS_BYTES = 2 * CHUNK_ROWS * 64


@dataclass
class _Out:
    """A chunk given to a worker: who has it, and its grades once they are back."""

    worker: int
    graded: list[_Graded] | None = None


class _Workers:
    """``jobs`` processes that grade chunks on request, each with a KeywordGrader of its own.

    They start loading what grading needs (the word vectors) at once, so a
    batch can start them before it reads its rows. Each renders its answers in
    the formats ``graded`` is given, and leaves their grades out (None) unless
    asked for them (or there is no format).
    """

    def __init__(self, jobs: int, settings: GradingSettings):
        import multiprocessing

        # fork is fastest (the workers inherit the loaded modules) but unsafe once threads run (a progress bar).
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1 else "spawn"
        context = multiprocessing.get_context(method)
        sys.stdout.flush()  # a forked worker must not inherit output that is still to be written
        sys.stderr.flush()
        self.jobs = jobs
        self.setup: tuple[list[LineFormat], bool] = ([], True)  # the formats to render in, and whether grades come back
        self.configured = [False] * jobs  # whether each worker has been sent the setup
        self.out: deque[_Out] = deque()  # chunks given out, oldest first
        self.cards: list[Card] = []  # every card sent so far, by its number
        self.numbers: dict[int, int] = {}  # id(card) -> its number (the cards above keep the ids taken)
        self.cards_sent = [0] * jobs  # how many of the cards each worker has
        self.idle = list(range(jobs))
        self.processes: list[Any] = []
        self.pipes: list[Any] = []
        in_main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if in_main else None  # born ignoring Ctrl-C
        try:
            for _ in range(jobs):
                ours, theirs = context.Pipe()
                process = context.Process(target=_worker, args=(theirs, settings), daemon=True, name="grader-worker")
                self.processes.append(process)
                self.pipes.append(ours)
                process.start()
                theirs.close()
        finally:
            if in_main:
                signal.signal(signal.SIGINT, previous)

    def graded(self, chunks: Iterator[list[_Answer]], formats: Sequence[LineFormat] = (), grades: bool = True) -> Iterator[_Graded]:
        """Each answer's grade and its lines in ``formats``, in order; a worker done early takes a chunk without
        waiting its turn."""
        self.setup = (list(formats), grades or not formats)
        following: deque[list[_Answer]] = deque()  # read ahead while the workers are busy: sent when one is free
        while True:
            while self.idle and len(self.out) < OUT_PER_WORKER * self.jobs:
                following.extend(islice(chunks, 0 if following else 1))
                if not following:
                    break
                self._give(self.idle.pop(), following.popleft())
            following.extend(islice(chunks, self.jobs - len(following)))
            if not self.out:
                return
            graded = self.out[0].graded
            if graded is None:
                self._collect()
                continue
            self.out.popleft()
            yield from graded

    def _give(self, worker: int, part: list[_Answer]) -> None:
        """Send a chunk to ``worker`` with the cards it lacks: each card by its number, fields only if rendered."""
        numbered = []
        rendered = bool(self.setup[0])
        for card, answer, fields in part:
            number = self.numbers.get(id(card))
            if number is None:
                number = self.numbers[id(card)] = len(self.cards)
                self.cards.append(card)
            numbered.append((number, answer, fields if rendered else None))
        new_cards = self.cards[self.cards_sent[worker] :]
        self.cards_sent[worker] = len(self.cards)
        setup = None if self.configured[worker] else self.setup
        self.configured[worker] = True
        try:
            self.pipes[worker].send((setup, new_cards, numbered))
        except ConnectionError:
            raise self._stopped(worker) from None
        self.out.append(_Out(worker))

    def _collect(self) -> None:
        """Wait for grades to come back, and take all that are back; their workers are free again."""
        from multiprocessing.connection import wait

        busy = {out.worker: out for out in self.out if out.graded is None}
        watched = {conn: worker for worker in busy for conn in (self.pipes[worker], self.processes[worker].sentinel)}
        for worker in dict.fromkeys(watched[conn] for conn in wait(list(watched))):
            try:
                ok, result = self.pipes[worker].recv()
            except (EOFError, ConnectionError):
                raise self._stopped(worker) from None
            if not ok:
                raise RuntimeError(f"a grading process failed:\n{result}")
            busy[worker].graded = result
            self.idle.append(worker)

    def _stopped(self, worker: int) -> RuntimeError:
        process = self.processes[worker]
        process.join(1)  # its pipe can close before its exit code is known
        return RuntimeError(f"a grading process stopped (exit code {process.exitcode})")

    def close(self) -> None:
        """Kill the workers: whatever they hold is no longer wanted, however the batch ended."""
        for process in self.processes:
            if process.is_alive():
                process.kill()
        for process in self.processes:
            process.join()
        for pipe in self.pipes:
            pipe.close()


def _worker(pipe: Any, settings: GradingSettings) -> None:
    """A worker's life: load what grading needs, grade what comes, send back plain values and lines, end when the
    parent does. The first chunk comes with the formats to render in and whether to send grades back."""
    import multiprocessing
    import traceback
    from multiprocessing.connection import wait

    from .grading import KeywordGrader

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it kills the workers
    grader = KeywordGrader(settings)
    grader.vectors  # noqa: B018 - loaded now, while the parent reads the rows, not on the first chunk
    formats: list[LineFormat] = []
    grades = True
    cards: list[Card] = []
    parent = multiprocessing.parent_process()
    watched = [pipe] if parent is None else [pipe, parent.sentinel]
    with _collector_for_a_batch():  # a forked worker inherits the parent's; a spawned one starts its own
        while pipe in wait(watched):  # the parent's sentinel alone: it has gone (killed with -9, say)
            try:
                setup, new_cards, numbered = pipe.recv()
            except EOFError:
                break
            if setup is not None:
                formats, grades = setup
            cards += new_cards
            try:
                part = [(cards[number], answer, fields) for number, answer, fields in numbered]
                # Plain values: a pickled pydantic Grade costs the parent more to load than the grading saves.
                graded = _grade_chunk(part, grader)
                lines = [tuple(f.line(*answer, facts) for f in formats) for answer, facts in zip(part, graded)]
                reply = (True, list(zip(graded if grades else [None] * len(lines), lines)))
            except Exception:  # a bug: the parent raises it with this traceback
                reply = (False, traceback.format_exc())
            pipe.send(reply)
    os._exit(0)  # no exit handlers: a forked worker shares the parent's files and must not flush or close them


# --- Graded rows, with LLM feedback if asked ---------------------------------------------------


def grade_rows(
    resolved: Iterable[tuple[AnswerRow | RowValues, Card]],
    grader: KeywordGrader,
    feedback: FeedbackClient | None = None,
    on_progress: Callable[[], None] | None = None,
    *,
    jobs: int = 1,
    formats: Sequence[LineFormat] = (),
    grades: bool = True,
    workers: _Workers | None = None,
) -> Iterator[GradedAnswer]:
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

    def answers() -> Iterator[_Answer]:
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


def grade_file(
    deck_path: Path,
    answers_path: Path | str,
    writers: Callable[[Deck, list[str]], list[Writer]],
    grader: KeywordGrader,
    feedback: FeedbackClient | None = None,
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
        workers = files.enter_context(closing(_Workers(jobs, grader.settings))) if _start_early(source, jobs) else None
        deck = load_deck(deck_path)
        if resume and output is not None and output.exists():
            checked, done = _check_rows_and_results(source, deck, output, fmt, report)
        else:
            checked, done = _check_rows(source, deck), _Resume()
        total = len(checked.cards)
        outputs: list[Writer] = []
        if output is not None:
            outputs.append(_open_results(files, output, fmt, list(checked.fields), done))
        outputs += writers(deck, list(checked.fields))
        if report is not None:
            outputs.append(_open_report(report, deck, source.name, total, done))
        if on_start is not None:
            on_start(total - done.rows)
        rows = _rows_to_grade(source, deck, checked, start=done.rows)
        formats = {out.format.key: out.format for out in outputs if isinstance(out, LineWriter)}.values()
        only_lines = all(isinstance(out, LineWriter) for out in outputs)  # then a worker's lines are all they need
        graded = grade_rows(
            rows, grader, feedback, on_progress, jobs=jobs, formats=list(formats), grades=not only_lines, workers=workers
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


def _open_results(files: ExitStack, output: Path, fmt: str, fields: list[str], done: _Resume) -> Writer:
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


def _open_report(report: Path, deck: Deck, answers_name: str, total: int, done: _Resume) -> Writer:
    from .writers import MarkdownReport

    if not done.rows:
        return MarkdownReport.create(report, deck.title, answers_name, total)
    try:
        os.truncate(report, done.report_end)  # drop the "incomplete" line, and any row the results lack
    except OSError as exc:
        raise GraderError(f"cannot write report: {exc.strerror}", path=report) from None
    return MarkdownReport.append(report, total, done.verdicts, done.score_sum)


def _write_all(
    graded: Iterator[GradedAnswer], outputs: list[Writer], feedback: FeedbackClient | None, start: int, total: int
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
                count += 1
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
