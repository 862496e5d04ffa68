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
and writes every line, does no more than it must.
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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .foreign import DeckTerms
    from .grading import KeywordGrader
    from .models import Card
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


@dataclass
class _Out:
    """A chunk given to a worker: who has it, and its grades once they are back."""

    worker: int
    graded: list[GradeAndLines] | None = None


class GradingWorkers:
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
        # The formats to render in, whether grades come back, and the deck's terms (an answer naming many costs credit).
        self.setup: tuple[list[LineFormat], bool, DeckTerms | None] = ([], True, None)
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
        following: deque[list[AnswerToGrade]] = deque()  # read ahead while the workers are busy: sent when one is free
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

    def _give(self, worker: int, part: list[AnswerToGrade]) -> None:
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
    with gc_tuned_for_a_batch():  # a forked worker inherits the parent's; a spawned one starts its own
        while pipe in wait(watched):  # the parent's sentinel alone: it has gone (killed with -9, say)
            try:
                setup, new_cards, numbered = pipe.recv()
            except EOFError:
                break
            if setup is not None:
                formats, grades, grader.deck_terms = setup
            cards += new_cards
            try:
                part = [(cards[number], answer, fields) for number, answer, fields in numbered]
                # Plain values: a pickled pydantic Grade costs the parent more to load than the grading saves.
                graded = grade_chunk_by_card(part, grader)
                lines = [tuple(f.line(*answer, facts) for f in formats) for answer, facts in zip(part, graded)]
                reply = (True, list(zip(graded if grades else [None] * len(lines), lines)))
            except Exception:  # a bug: the parent raises it with this traceback
                reply = (False, traceback.format_exc())
            pipe.send(reply)
    os._exit(0)  # no exit handlers: a forked worker shares the parent's files and must not flush or close them
