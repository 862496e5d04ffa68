"""Worker processes for batch grading (``--jobs``), and the chunk grading they share with one process.

``batch.py`` grades chunks of answers here, in this process or in
``GradingWorkers``. What the pool guarantees:

- Results come back in input order, whichever worker finishes first; a worker
  done early takes the next chunk, but at most ``OUT_PER_WORKER`` chunks a
  worker are out and not yet handed on, so memory stays bounded.
- The same grades and lines as one process: a worker grades with
  ``grade_chunk_by_card`` and a KeywordGrader built from the same settings,
  and renders with the same line formats, so ``--jobs N`` writes what
  ``--jobs 1`` writes, byte for byte.
- Early start: the processes start loading the word vectors as soon as the
  pool is made, before the formats are known (they come with the first chunk).
- Ctrl-C is the parent's alone: workers ignore it, and ``close`` kills them.
  Workers never write output (the parent writes every line, whole, see
  ``batch._WholeRows``), and they end when the parent does, even killed with -9.

Not multiprocessing.Pool: its terminate() can hang for good when Ctrl-C lands
while its feeder thread is writing a large task, and its workers outlive a
parent killed with -9. Here each worker has a pipe of its own and one chunk at
a time (the parent sends a worker a chunk only once it has taken the worker's
last result, so a send never waits on a busy worker), results are taken as they
come, and stopping is a kill: no thread, no lock, nothing to wait for. A chunk
goes as card numbers and answers (a worker is sent each card once) and comes
back as plain values and the rendered lines: the parent, which reads every row
and writes every line, does no more than it must. For a JSON Lines file the
parent need not even read the rows: a job is then a byte range of the file,
which the worker reads, checks or grades, and renders itself.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, Any, NamedTuple

from .errors import AnswersError, GraderError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .answers import AnswersSource, CardResolver
    from .foreign import DeckTerms
    from .grading import KeywordGrader
    from .models import Card, Deck
    from .scoring import GradeFacts, GradingSettings
    from .writers import LineFormat

AnswerToGrade = tuple["Card", str, dict[str, Any]]  # a card, an answer to it, and the row's own fields (for rendered lines)
GradeAndLines = tuple["GradeFacts | None", tuple[str, ...]]  # plain values, and the answer in each line format asked for

OUT_PER_WORKER = 4  # chunks out and not yet written, at most, a worker's: one done early goes on, not far


@contextmanager
def gc_tuned_for_a_batch() -> Iterator[None]:
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


def grade_chunk_by_card(part: Sequence[AnswerToGrade], grader: KeywordGrader) -> list[GradeFacts]:
    """The chunk's grades in its order; the answers to each card (a deck's cards are one object each) in one batch."""
    by_card: dict[int, tuple[Card, list[int]]] = {}
    for i, (card, _, _) in enumerate(part):
        by_card.setdefault(id(card), (card, []))[1].append(i)
    graded: list[Any] = [None] * len(part)
    for card, rows in by_card.values():
        for i, facts in zip(rows, grader.grade_many_facts(card, [part[i][1] for i in rows])):
            graded[i] = facts
    return graded


_PENDING = object()  # a job's result not yet back


@dataclass
class _Out:
    """A job given to a worker: who has it, and what it made of it once that is back."""

    worker: int
    result: Any = _PENDING


class GradingWorkers:
    """``jobs`` processes that grade chunks on request, each with a KeywordGrader of its own.

    They start loading what grading needs (the word vectors) at once, so a
    batch can start them before it reads its rows. Each renders its answers in
    the formats ``graded`` is given, and leaves their grades out (None) unless
    asked for them (or there is no format).
    """

    def __init__(self, jobs: int, settings: GradingSettings, deck: Deck | None = None):
        import multiprocessing

        # fork is fastest (the workers inherit the loaded modules) but unsafe once threads run (a progress bar).
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1 else "spawn"
        context = multiprocessing.get_context(method)
        sys.stdout.flush()  # a forked worker must not inherit output that is still to be written
        sys.stderr.flush()
        self.jobs = jobs
        # The formats to render in, whether grades come back, and the deck's terms (an answer naming many costs credit).
        self.setup: tuple[list[LineFormat], bool, DeckTerms | None] = ([], True, None)
        self.setup_sent: list[Any] = [None] * jobs  # the setup each worker has (a new one is sent with its next job)
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
                # A forked worker inherits this end of its pipe, and of the pipes before it: held there, a pipe never
                # breaks when this process dies, and a worker sending a result waits for a reader for good.
                inherited = [*self.pipes, ours] if method == "fork" else []
                # typeshed gives get_context(str) the BaseContext, which lacks Process; fork's and spawn's have it.
                process = context.Process(target=_worker, args=(theirs, settings, deck, inherited), daemon=True, name="grader-worker")  # type: ignore[attr-defined]
                self.processes.append(process)
                self.pipes.append(ours)
                process.start()
                theirs.close()
        finally:
            if in_main:
                signal.signal(signal.SIGINT, previous)

    def graded(
        self,
        chunks: Iterator[list[AnswerToGrade]],
        formats: Sequence[LineFormat] = (),
        grades: bool = True,
        deck_terms: DeckTerms | None = None,
    ) -> Iterator[GradeAndLines]:
        """Each answer's grade and its lines in ``formats``, in order; a worker done early takes a chunk without
        waiting its turn. ``deck_terms``: the grader's (``KeywordGrader.use_deck``), for the workers' graders."""
        self.setup = (list(formats), grades or not formats, deck_terms)
        for graded in self._in_order(chunks):
            yield from graded

    def checked(self, source: AnswersSource, shards: Iterable[tuple[int, int]]) -> Iterator[ShardChecked]:
        """What checking each of ``source``'s byte ranges found (the workers have the deck), in order."""
        return self._in_order(("check", source, start, end) for start, end in shards)

    def graded_shards(
        self, source: AnswersSource, shards: Iterable[Shard], formats: Sequence[LineFormat], deck_terms: DeckTerms | None
    ) -> Iterator[tuple[int, tuple[str, ...]]]:
        """Each byte range's answers (``Shard``: where, its first line and how many rows it holds) graded and rendered
        in ``formats`` by a worker that reads them itself: how many, and their lines in each format, in order."""
        self.setup = (list(formats), False, deck_terms)
        return self._in_order(("grade", source, *shard) for shard in shards)

    def _in_order(self, jobs: Iterator[Any]) -> Iterator[Any]:
        """What the workers make of each job (a chunk of answers, or a message about a byte range), in order."""
        following: deque[Any] = deque()  # read ahead while the workers are busy: sent when one is free
        while True:
            while self.idle and len(self.out) < OUT_PER_WORKER * self.jobs:
                following.extend(islice(jobs, 0 if following else 1))
                if not following:
                    break
                self._give(self.idle.pop(), following.popleft())
            following.extend(islice(jobs, self.jobs - len(following)))
            if not self.out:
                return
            result = self.out[0].result
            if result is _PENDING:
                self._collect()
                continue
            self.out.popleft()
            yield result

    def _give(self, worker: int, job: Any) -> None:
        """Send a job to ``worker``, with the setup if it lacks the current one; a chunk of answers goes with the cards the
        worker lacks, each card by its number, fields only if rendered."""
        setup = None if self.setup_sent[worker] is self.setup else self.setup
        self.setup_sent[worker] = self.setup
        message = ("rows", setup, *self._numbered(worker, job)) if isinstance(job, list) else (job[0], setup, *job[1:])
        try:
            self.pipes[worker].send(message)
        except ConnectionError:
            raise self._stopped(worker) from None
        self.out.append(_Out(worker))

    def _numbered(self, worker: int, part: list[AnswerToGrade]) -> tuple[list[Card], list[tuple[int, str, Any]]]:
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
        return new_cards, numbered

    def _collect(self) -> None:
        """Wait for grades to come back, and take all that are back; their workers are free again."""
        from multiprocessing.connection import wait

        busy = {out.worker: out for out in self.out if out.result is _PENDING}
        watched = {conn: worker for worker in busy for conn in (self.pipes[worker], self.processes[worker].sentinel)}
        for worker in dict.fromkeys(watched[conn] for conn in wait(list(watched))):
            try:
                ok, result = self.pipes[worker].recv()
            except (EOFError, ConnectionError):
                raise self._stopped(worker) from None
            if ok is None:
                kind, message, path, line = result
                raise kind(message, path=path, line=line)
            if not ok:
                raise RuntimeError(f"a grading process failed:\n{result}")
            busy[worker].result = result
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


def _worker(pipe: Any, settings: GradingSettings, deck: Deck | None, inherited: Sequence[Any] = ()) -> None:
    """A worker's life: load what grading needs, do what comes, send back plain values and lines, end when the
    parent does. The first job comes with the formats to render in and whether to send grades back. ``inherited``:
    the parent's ends of the pipes, which a forked worker closes so that its own breaks when the parent is gone.

    Jobs: ``rows`` (answers, with the cards this worker lacks), and for a JSON Lines file read by the workers
    themselves, ``check`` (a byte range's rows checked and their cards found: the first pass) and ``grade`` (the
    same range graded and rendered: the second). A range's line numbers are known only once the ranges before it
    are counted, so ``check`` reports a bad row by its line within the range.
    """
    import multiprocessing
    import traceback
    from multiprocessing.connection import wait

    from .grading import KeywordGrader

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it kills the workers
    for connection in inherited:
        connection.close()
    grader = KeywordGrader(settings)
    if deck is None:  # loaded now, while the parent reads the rows, not on the first chunk; with a deck, rows come first
        grader.vectors  # noqa: B018
    resolver = None
    formats: list[LineFormat] = []
    grades = True
    cards: list[Card] = []
    parent = multiprocessing.parent_process()
    watched = [pipe] if parent is None else [pipe, parent.sentinel]
    with gc_tuned_for_a_batch():  # a forked worker inherits the parent's; a spawned one starts its own
        while pipe in wait(watched):  # the parent's sentinel alone: it has gone (killed with -9, say)
            try:
                kind, setup, *job = pipe.recv()
            except EOFError:
                break
            if setup is not None:
                formats, grades, grader.deck_terms = setup
            try:
                if kind == "rows":
                    new_cards, numbered = job
                    cards += new_cards
                    part = [(cards[number], answer, fields) for number, answer, fields in numbered]
                    # Plain values: a pickled pydantic Grade costs the parent more to load than the grading saves.
                    graded = grade_chunk_by_card(part, grader)
                    lines = [tuple(f.line(*answer, facts) for f in formats) for answer, facts in zip(part, graded)]
                    reply: tuple[bool | None, Any] = (True, list(zip(graded if grades else [None] * len(lines), lines)))
                else:
                    if resolver is None:
                        from .answers import CardResolver

                        assert deck is not None  # ranges are sent only with a deck
                        resolver = CardResolver(deck)
                    reply = (True, _check_shard(resolver, *job) if kind == "check" else _grade_shard(resolver, grader, formats, *job))
            except GraderError as exc:  # the input's fault (a file changed between the passes): the parent says so
                reply = (None, (type(exc), exc.message, exc.path, exc.line))
            except Exception:  # a bug: the parent raises it with this traceback
                reply = (False, traceback.format_exc())
            try:
                pipe.send(reply)
            except OSError:  # the parent has gone mid-send (killed with -9, say): nobody to tell
                break
    os._exit(0)  # no exit handlers: a forked worker shares the parent's files and must not flush or close them


class ShardChecked(NamedTuple):
    """What checking one byte range found: its rows' cards (positions in the deck, ``array("i")`` bytes), their own
    fields in order, how many lines it holds, and its first bad row as (message, line within the range), if any."""

    cards: bytes
    fields: tuple[str, ...]
    lines: int
    error: tuple[str, int | None] | None


class Shard(NamedTuple):
    """A byte range of a JSON Lines file to grade, with the number of its first line and how many rows it holds."""

    start: int
    end: int
    first_line: int
    rows: int


def _check_shard(resolver: CardResolver, source: AnswersSource, start: int, end: int) -> ShardChecked:
    """The first pass over one range, row by row as ``batch._check_rows`` goes, so its first fault is the one found."""
    from array import array

    found = array("i")
    fields: dict[str, None] = {}
    lines, rows = source.rows_in(start, end, 1)
    try:
        for row in rows:
            found.append(resolver.index(row, source.name))
            fields.update(dict.fromkeys(row.extra))
    except AnswersError as exc:
        return ShardChecked(b"", (), lines, (exc.message, exc.line))
    return ShardChecked(found.tobytes(), tuple(fields), lines, None)


def _grade_shard(
    resolver: CardResolver, grader: KeywordGrader, formats: list[LineFormat], source: AnswersSource, start: int, end: int, first_line: int, rows: int
) -> tuple[int, tuple[str, ...]]:
    """One range graded (its rows were checked by the first pass) and rendered in each of ``formats``."""
    _, read = source.rows_in(start, end, first_line)
    cards = resolver.deck.cards
    part = [(cards[resolver.index(row, source.name)], row.answer, row.extra) for row in read]
    if len(part) != rows:
        raise AnswersError("the answers file changed while it was being graded", path=source.name)
    graded = grade_chunk_by_card(part, grader)
    return len(part), tuple("".join(f.line(*answer, facts) for answer, facts in zip(part, graded)) for f in formats)
