"""A sitting of ``grader practice``, apart from the terminal: the flow between the user, the history and the schedule.

``run_practice`` opens the history and runs one ``PracticeSession``: sync the
decks with the history and say what matched, choose the cards
the schedule asks for (``choose_cards``), then ask, grade, save and reschedule
each answer. The session meets its user only through a ``PracticeIO`` (read
lines and keys, show the things in ``Shown``): a rich console in the CLI, a
script in tests. Every attempt is saved the moment it is graded, so Ctrl-C or
the end of input loses nothing. The words of a sitting (what the user types,
the notes and the tally) are ``practice.py``'s.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, TypedDict, TypeVar

from .errors import HistoryBusy
from .images import Image, Opener, card_images, question_images, system_opener
from .models import Card, Deck, Grade, Verdict
from .practice import (
    COMMANDS_HINT, Command, Outcome, SessionSummary, outcome_of, parse_command, parse_picks, parse_self_rating_key, sync_notes,
    typed_ahead, unknown_command, verdict_of,
)  # fmt: skip
from .schedule import (
    RATING_KEYS, Rating, ScheduleSettings, StudyPlan, ask_again, describe_due, describe_interval, next_asked, next_study_day, parse_rating, pick_cards,
    preview, rating_for, review,
)  # fmt: skip

T = TypeVar("T")  # what a write to the history returns (``PracticeSession._patiently``)

if TYPE_CHECKING:
    from .grading import KeywordGrader
    from .scoring import GradingSettings
    from .llm.client import FeedbackClient
    from .llm.schema import LLMResult
    from .schedule import CardState
    from .store import RatedBy, Recorded, Store


# --- What a session shows ----------------------------------------------------------


@dataclass(frozen=True)
class Question:
    """A card being asked, the ``position``-th of ``total`` so far; ``repeats`` of them are cards asked again (still learning).

    ``images``: the question's own images, located (shown with it: a picture may be what it asks about).
    """

    deck_title: str
    card: Card
    position: int
    total: int
    repeats: int = 0
    images: tuple[Image, ...] = ()


@dataclass(frozen=True)
class AnswerGraded:
    """The keyword grade of an answer (shown with the reference and where its images are)."""

    card: Card
    answer: str
    grade: Grade
    images: tuple[Image, ...] = ()


@dataclass(frozen=True)
class Reference:
    """The reference answer alone: revealed, or for the user to grade themself."""

    card: Card
    images: tuple[Image, ...] = ()


@dataclass(frozen=True)
class ModelFeedback:
    """The LLM's rubric feedback on the answer just graded, or its notice."""

    result: LLMResult


@dataclass(frozen=True)
class Rated:
    """The rating an attempt got and when its card is due next ("in 8 days")."""

    rating: Rating
    next_review: str


@dataclass(frozen=True)
class RatingKeys:
    """The rating keys and, for each, when the card would come back ("Good 10 min"), as FSRS computes it for this card.

    ``self_rating``: the user says how they did (an image card) rather than
    changing the grader's rating. ``images``: the key ``o`` opens them (one at least is there to open).
    """

    preview: tuple[tuple[Rating, str], ...]
    self_rating: bool = False
    images: bool = False


@dataclass(frozen=True)
class Notice:
    """One line for the user: a ``hint`` (dim), a ``warning``, or ``plain`` text."""

    text: str
    tone: Literal["hint", "warning", "plain"] = "hint"


@dataclass(frozen=True)
class Summary:
    """The end-of-session tally."""

    summary: SessionSummary


Shown = Question | AnswerGraded | Reference | ModelFeedback | Rated | RatingKeys | Notice | Summary


class PracticeIO(Protocol):
    """How a session meets its user: a terminal in the CLI, a script in tests.

    ``interactive`` means a person at a terminal: an answer may run over
    several lines and is timed (fast and complete earns Easy), a self-graded
    card asks how it went with one key, and one key can change each rating.
    Otherwise each line is one answer (for a self-graded card, the rating
    itself) and nothing is timed.
    """

    interactive: bool

    def ask(self, prompt: str) -> str | None:
        """One line typed after ``prompt``; None at the end of input (Ctrl-D)."""

    def ask_answer(self, prompt: str, *, allow_empty: bool = False) -> str | None:
        """A whole answer, which may run over several lines (interactive only); None at the end of input.

        An empty answer is only returned when ``allow_empty``; a line starting
        with ``/`` on its own is a command. ``answer_from_lines`` does this for
        an I/O that reads line by line.
        """

    def read_key(self) -> str | None:
        """One key press, no Enter needed; None at the end of input."""

    def show(self, shown: Shown) -> None:
        """Put one thing in front of the user."""

    def waiting(self, message: str) -> AbstractContextManager[object]:
        """Say that something slow (the LLM) is going on, for as long as the block runs."""


def answer_from_lines(ask: Callable[[str], str | None], *, allow_empty: bool = False) -> str | None:
    """An answer read line by line: lines until an empty one (blank lines before it are ignored), or one command line."""
    lines: list[str] = []
    while True:
        try:
            line = ask("> " if not lines else "… ")
        except KeyboardInterrupt:
            if lines:
                raise AnswerInterrupted("\n".join(lines)) from None
            raise
        if line is None:
            return "\n".join(lines) if lines else None
        if not line.strip():
            if lines or allow_empty:
                return "\n".join(lines)
            continue
        if not lines and line.strip().startswith("/"):
            return line.strip()
        lines.append(line)


# How long practice waits for a history another grader is writing (an import, say) before it keeps an answer in a file.
SAVE_FIRST_WAIT_SECONDS = 2.0  # silently; then one line says the history is busy
SAVE_PATIENCE_SECONDS = 300.0  # in all


class AnswerKeptAside(Exception):
    """An answer the history could not take (locked too long, or Ctrl-C while waiting) was kept in ``file`` instead."""

    def __init__(self, file: Path, cause: BaseException, what: str = "your answer"):
        super().__init__(str(file))
        self.file = file
        self.cause = cause
        self.what = what  # what was kept: "your answer", "your rating (Again)", "the model's feedback"


# The keys that overrule the grader's rating after an answer: the digits (the letters a/h/g/e are for self-rating only).
_OVERRIDE_DIGITS = frozenset(key for key in RATING_KEYS if key.isdigit())


class AnswerInterrupted(KeyboardInterrupt):
    """Ctrl-C while an answer was being typed: ``draft`` is what was typed, never graded nor saved (the user is told).

    ``submitted``: the answer was given, and Ctrl-C came while it was being graded, before it was saved.
    """

    def __init__(self, draft: str, *, submitted: bool = False):
        super().__init__()
        self.draft = draft
        self.submitted = submitted


class ChangeNotMade(KeyboardInterrupt):
    """Ctrl-C while an /undo, /suspend or /bury waited for a locked history: ``not_made`` says which change was not made."""

    def __init__(self, not_made: str):
        super().__init__()
        self.not_made = not_made


class PracticeInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a sitting; every answer given before it is saved, and the summary was shown."""


# --- A whole sitting -----------------------------------------------------------------


def run_practice(
    decks: Sequence[Deck],
    io: PracticeIO,
    *,
    settings: ScheduleSettings,
    grading: GradingSettings,
    picks: str | None = None,
    shuffle: bool = False,
    seed: int | None = None,
    limit: int | None = None,
    cram: bool = False,
    feedback: Callable[[], FeedbackClient | None] = lambda: None,
    history: Path | None = None,
    opener: Opener = system_opener,
) -> None:
    """``grader practice``: open the history (``history``, default the user's), choose the cards, ask them.

    Cards picked by hand (``picks``, ``--cards``) are asked whatever their
    schedule, even if set aside. ``feedback`` opens the LLM client, once the
    cards are chosen; it is closed at the end. ``opener`` shows an image (``/open``).
    """
    if picks is not None:  # a bad --cards is told before anything else
        parse_picks(picks, decks)
    from .store import Store  # here, not at the top: render imports this module and needs no sqlite3

    with Store.open(history, settings=settings) as store:
        session = PracticeSession(store, decks, io, cram=cram or bool(picks), grading=grading, opener=opener)
        queue = session.plan(picks, shuffle=shuffle, seed=seed, limit=limit)
        client = feedback()
        try:
            session.run(queue, client)
        finally:
            if client is not None:
                client.close()


def choose_cards(
    store: Store, decks: Sequence[Deck], candidates: Sequence[tuple[Deck, Card]], *, now: datetime, cram: bool = False
) -> StudyPlan[tuple[Deck, Card]]:
    """Which of the candidate cards to ask now: ``schedule.pick_cards`` fed from the history."""
    from .store import deck_key

    keys = {id(d): deck_key(d) for d in decks}
    by_key = {(keys.get(id(d)) or deck_key(d), c.id): (d, c) for d, c in candidates}
    new_done, reviews_done = store.done_today(decks, now=now)
    plan = pick_cards(
        list(by_key), store.states(decks), now=now, settings=store.settings,
        new_done_today=new_done, reviews_done_today=reviews_done, cram=cram,
    )  # fmt: skip
    return StudyPlan(
        due=[by_key[k] for k in plan.due],
        new=[by_key[k] for k in plan.new],
        new_held_back=plan.new_held_back,
        reviews_held_back=plan.reviews_held_back,
        next_due=plan.next_due,
    )


# --- The session -------------------------------------------------------------------


@dataclass
class _Done:
    """One thing done to a card in this sitting, as ``/undo`` needs to take it back."""

    position: int
    deck: Deck
    card: Card
    attempt_id: int | None = None
    set_aside: str | None = None  # "suspended" or "buried"
    requeued: bool = False


class _AttemptFields(TypedDict):
    """An attempt as ``Store.record_attempt`` saves it and ``Store.unsaved`` keeps it when the history stays locked."""

    answer: str
    grade: Grade
    rating: Rating
    rated_by: RatedBy
    now: datetime
    seconds: float | None
    cram: bool


def _answered_since(refused: str, card: Card, kept: str) -> Notice:
    """Why /undo or a rating key changed nothing: another sitting answered the card since, and its schedule rests on
    this answer (``Store.undo_attempt``, ``Store.override_rating``)."""
    return Notice(
        f"{refused}: card {card.number} was answered again since, in another sitting, and its schedule follows that answer; {kept}.",
        tone="warning",
    )


class PracticeSession:
    """One sitting: plan the cards, then ask them, saving and rescheduling each answer.

    ``now`` and ``clock`` are injectable so tests can pin the schedule and the
    answer timing; ``opener`` so they can see what ``/open`` would show.
    """

    def __init__(
        self,
        store: Store,
        decks: Sequence[Deck],
        io: PracticeIO,
        *,
        cram: bool = False,
        grading: GradingSettings | None = None,
        now: Callable[[], datetime] = partial(datetime.now, timezone.utc),
        clock: Callable[[], float] = time.monotonic,
        opener: Opener = system_opener,
    ):
        self.store = store
        self.decks = list(decks)
        self.io = io
        self.cram = cram  # ignore the schedule: ask every card, never bring one back
        self.outcomes: list[Outcome] = []  # each card asked, as soon as its fate is known (for the summary)
        self.repeats = 0  # cards queued again in this sitting (still learning): why the total grows
        self._now = now
        self._clock = clock
        self._opener = opener
        self.grading = grading
        self._grader: KeywordGrader | None = None  # the matcher (numpy, rapidfuzz) loads after the first question is on screen
        self._notices_shown: dict[str | None, int] = {}  # how often each LLM failure notice was shown this sitting
        self._held: dict[tuple[str, str], str] = {}  # cards set aside before this sitting and asked anyway (named)
        self._unheld: dict[int, tuple[str, bool, datetime | None]] = {}  # attempt id -> how the answer's card was set aside before it
        self._aside: set[tuple[str, str]] = set()  # cards set aside in this sitting: not asked again in it
        # Attempts saved in this sitting and not undone, counted when saved: Ctrl-C at the rating keys or while the model
        # thinks comes before the answer's step is done, and the answer is saved all the same.
        self._saved: set[int] = set()
        self._last_reference: tuple[Deck, Card] | None = None  # whose images /open shows
        self._openable = False  # whether any image of the answer just shown can be opened (the key o)

    def plan(
        self, picks: str | None = None, *, shuffle: bool = False, seed: int | None = None, limit: int | None = None
    ) -> list[tuple[Deck, Card]]:
        """The cards to ask, due ones first then new ones (see ``choose_cards``), telling what the schedule holds back.

        ``picks`` is ``--cards`` ("1,3,5-7"): those cards are asked even if
        suspended or buried. Otherwise cards set aside are left out. ``seed`` repeats a shuffle, and asks for one:
        a seed has no other use, so it is never ignored.
        """
        from .store import deck_key

        picked = list(zip(self.decks, parse_picks(picks, self.decks) if picks else [deck.cards for deck in self.decks]))
        try:
            syncs = self._patiently(lambda: self.store.sync(self.decks))
        except HistoryBusy:  # nothing asked yet, so nothing to keep: the sitting does not start
            raise HistoryBusy(
                f"cannot start practising: another grader held the practice history for over {SAVE_PATIENCE_SECONDS:g} s;"
                " nothing was asked or saved, so run it again once that grader is done",
                path=self.store.path,
            ) from None
        for note in sync_notes(syncs):
            self.io.show(Notice(note))
        now = self._now()
        held = self.store.held_back(self.decks, now=now)
        candidates = [(deck, card) for deck, cards in picked for card in cards if picks or (deck_key(deck), card.id) not in held]
        self._held = {key: why for key, why in held.items() if picks}
        if held and not picks:
            counts = Counter(held.values())
            said = " and ".join(f"{n} {why}" for why, n in sorted(counts.items(), reverse=True))
            self.io.show(Notice(f"{said} card{'s' if len(held) > 1 else ''} left out (--cards N asks one anyway)."))
        plan = choose_cards(self.store, self.decks, candidates, now=now, cram=self.cram)
        held_back = [f"{n} {what}" for n, what in ((plan.new_held_back, "new cards"), (plan.reviews_held_back, "reviews")) if n]
        if held_back:
            self.io.show(Notice(f"Daily limits leave {' and '.join(held_back)} for later days (--new-limit, --review-limit)."))
        if not plan.keys:
            when = f" The next card is due {describe_due(plan.next_due, now=now)}." if plan.next_due else ""
            self.io.show(Notice(f"Nothing is due now.{when} Use --cram to practise anyway.", tone="plain"))
        if shuffle or seed is not None:
            rng = random.Random(seed)
            rng.shuffle(plan.due)
            rng.shuffle(plan.new)
        return plan.keys[:limit] if limit else plan.keys

    def run(self, cards: Sequence[tuple[Deck, Card]], feedback: FeedbackClient | None = None) -> None:
        """Ask the cards until they run out, the user quits, input ends or Ctrl-C; then show the summary.

        After Ctrl-C, the summary shown, ``PracticeInterrupted`` is raised (``grader practice`` exits 130).

        A card still being learnt joins the end of the queue and comes back in
        this sitting. ``/undo`` takes back the last thing done and asks that
        card again. ``feedback`` adds the LLM's view of each graded answer.
        """
        queue = list(cards)
        done: list[_Done] = []
        position = 0
        interrupted = False
        kept_aside: AnswerKeptAside | None = None
        try:
            while position < len(queue):
                deck, card = queue[position]
                if self._key(deck, card) in self._aside:  # set aside after it was queued again
                    position += 1
                    continue
                asked_images = question_images(deck, card) if card.question_images else ()
                self.io.show(Question(deck.title, card, position + 1, len(queue), self.repeats, asked_images))
                started = self._clock()
                answer = self._read_answer(self_graded=not card.gradable)
                while answer is not None and (typo := unknown_command(answer)):  # said, never graded nor saved
                    self.io.show(Notice(f"Unknown command {typo} (commands: {COMMANDS_HINT})", tone="warning"))
                    answer = self._read_answer(self_graded=not card.gradable)
                seconds = self._clock() - started if self.io.interactive else None  # scripted answers have no timing
                if answer is None or (command := parse_command(answer)) is Command.quit:  # input ended, or /quit
                    break
                if command is Command.undo:
                    position = self._undo(done, queue, position)
                    continue
                if command is Command.open:
                    self._open(self._last_reference, asked=(card, asked_images))
                    continue
                step = _Done(position, deck, card)
                if command is Command.skip:
                    self.outcomes.append(Outcome(card=card.id, number=card.number, skipped=True))
                    self.io.show(Notice("Skipped: not graded, and its schedule is as it was."))  # else the next card just followed
                elif command in (Command.suspend, Command.bury):
                    step.set_aside = self._set_aside(deck, card, command)
                    if step.set_aside is None:  # the history stayed locked: not made, and the card is asked again
                        continue
                else:
                    if command is Command.reveal:
                        attempt = self._reveal(deck, card, seconds)
                    elif card.gradable:
                        attempt = self._grade(deck, card, answer, seconds, feedback)
                    else:
                        attempt = self._self_grade(deck, card, answer, seconds)
                    if attempt is not None:
                        step.attempt_id = attempt.attempt_id
                        if self._settle(deck, card, attempt, override=card.gradable or command is Command.reveal):
                            queue.append((deck, card))
                            self.repeats += 1
                            step.requeued = True
                done.append(step)
                position += 1
        except KeyboardInterrupt as exc:
            # ^C leaves the cursor where the user was typing; an answer half typed must not pass for one saved.
            unsaved = ""
            if isinstance(exc, AnswerInterrupted) and exc.draft.strip():
                unsaved = " Your answer was not graded nor saved." if exc.submitted else " The answer you were typing was not saved."
            if isinstance(exc, ChangeNotMade):
                self.io.show(Notice(f"\nInterrupted while waiting for your history: {exc.not_made}.", tone="warning"))
            else:
                self.io.show(Notice(f"\nInterrupted.{unsaved}"))
            interrupted = True
        except AnswerKeptAside as kept:
            kept_aside = kept
            where = f"{kept.what} is kept in {kept.file}; `grader history import {kept.file}` adds it"
            if isinstance(kept.cause, KeyboardInterrupt):
                self.io.show(Notice(f"\nInterrupted while waiting for your history: {where}.", tone="warning"))
                interrupted = True
        if self.outcomes:
            self.io.show(Summary(SessionSummary.of(self.outcomes)))
        if kept_aside is not None and not interrupted:  # the history stayed locked: the sitting ends, the answer kept
            raise HistoryBusy(
                f"cannot save to the practice history: another grader held it for over {SAVE_PATIENCE_SECONDS:g} s; {where}", path=self.store.path
            )
        self._show_next_review(saved=bool(self._saved) or any(step.set_aside for step in done))
        if interrupted:  # every answer is saved already (``_record``); the caller still learns it was Ctrl-C
            raise PracticeInterrupted

    def _key(self, deck: Deck, card: Card) -> tuple[str, str]:
        from .store import deck_key

        return deck_key(deck), card.id

    def _read_answer(self, *, self_graded: bool) -> str | None:
        """One answer, or None at the end of input: a whole (multi-line) answer at a terminal, one line from a script."""
        if not self.io.interactive:
            return _valid_text(self.io.ask(""))
        if self_graded:
            self.io.show(Notice("The answer is an image: recall it (or type it), then press Enter to see it."))
            self.io.show(Notice(f"Instead of an answer: {COMMANDS_HINT}"))  # they work here too, and a missing image is worth a /skip
        else:
            self.io.show(Notice(f"Answer (empty line to submit; {COMMANDS_HINT}):"))
        return _valid_text(self.io.ask_answer("> ", allow_empty=self_graded))

    # --- What the user can do instead of answering --------------------------------------

    def _undo(self, done: list[_Done], queue: list[tuple[Deck, Card]], position: int) -> int:
        """Take back the last thing done (an answer with its schedule, a skip, a suspension or burial); where to go on."""
        if not done:
            self.io.show(Notice("Nothing to undo in this session.", tone="warning"))
            return position
        last = done[-1]
        outcome = self.outcomes[-1]
        taken = "reveal" if outcome.revealed else "answer" if last.attempt_id is not None else {"suspended": "suspension", "buried": "burial"}.get(last.set_aside or "", "skip")
        not_made = f"your {taken} of card {last.card.number} is not undone"
        attempt_id = last.attempt_id
        if attempt_id is not None:
            unheld = self._unheld.get(attempt_id)  # the answer had brought a card set aside back: it goes back aside
            undone = self._or_refuse(lambda: self.store.undo_attempt(attempt_id, set_aside=unheld[1:] if unheld else None), not_made, "/undo")
            if undone is None:
                return position
            if not undone:  # answered since in another sitting, whose schedule stands on this answer: it stays
                self.io.show(_answered_since("Not undone", last.card, "your answer stays saved"))
                return position
            self._saved.discard(attempt_id)
            if unheld:
                del self._unheld[attempt_id]
                self._held[self._key(last.deck, last.card)] = unheld[0]
        elif last.set_aside == "suspended":
            if self._or_refuse(lambda: self.store.set_aside(last.deck, last.card, suspended=False), not_made, "/undo") is None:
                return position
        elif last.set_aside == "buried":
            if self._or_refuse(lambda: self.store.set_aside(last.deck, last.card, buried_until=None), not_made, "/undo") is None:
                return position
        done.pop()
        self.outcomes.pop()
        self._aside.discard(self._key(last.deck, last.card))
        if last.requeued:
            queue.pop()
            self.repeats -= 1
        self.io.show(Notice(f"Undone: your {taken} of card {last.card.number} (its schedule is as it was). Here it is again.", tone="plain"))
        return last.position

    def _set_aside(self, deck: Deck, card: Card, command: Command) -> str | None:
        """Suspend the card (until named with --cards) or bury it until the next study day; say how to take it back.

        None if the history stayed locked: the card is not set aside (``_or_refuse`` said so).
        """
        if command is Command.suspend:
            if self._or_refuse(lambda: self.store.set_aside(deck, card, suspended=True), f"card {card.number} is not suspended", "/suspend") is None:
                return None
            named = card.id if len(self.decks) > 1 else card.number  # with several decks, a number names a card of each
            how, text = "suspended", f"Suspended: card {card.number} is left out of practice until you ask for it (--cards {named})."
        else:
            until = next_study_day(self._now(), self.store.settings)
            if self._or_refuse(lambda: self.store.set_aside(deck, card, buried_until=until), f"card {card.number} is not buried", "/bury") is None:
                return None
            how, text = "buried", f"Buried: card {card.number} waits until tomorrow ({describe_due(until, now=self._now())})."
        self._aside.add(self._key(deck, card))
        self.outcomes.append(Outcome(card=card.id, number=card.number, set_aside=how))
        self.io.show(Notice(text + " /undo takes it back.", tone="plain"))
        return how

    def _open(self, target: tuple[Deck, Card] | None, *, asked: tuple[Card, tuple[Image, ...]] | None = None) -> None:
        """Show images in the system viewer: those of the question on screen, else of the answer just shown (``target``);
        say which are missing.

        ``asked``: the card whose question is on screen, with its question's images. A card whose images are all in
        its answer, not yet shown, is said so, rather than "no image" under a prompt that offers /open.
        """
        if asked is not None and asked[1]:
            images = asked[1]
        elif target is not None and target[1].images:
            images = card_images(*target)
        else:
            if asked is not None and asked[0].images:
                card = asked[0]
                image = "image is" if len(card.images) == 1 else "images are"
                shown = "once you press Enter" if not card.gradable else "once you have answered"
                self.io.show(Notice(f"Not yet: card {card.number}'s {image} part of its answer, shown {shown}; /open opens it then.", tone="warning"))
                return
            self.io.show(Notice("No image to open: /open shows the images of the question asked, or of the answer just shown.", tone="warning"))
            return
        for image in images:
            if image.target is None:
                self.io.show(Notice(f"Image not found: {image.written}" + (f" (looked in {image.path})" if image.path else ""), tone="warning"))
                continue
            try:
                self._opener(image.target)
                self.io.show(Notice(f"Opened {image.target}"))
            except OSError as exc:
                self.io.show(Notice(f"Cannot open {image.target}: {exc.strerror or exc}", tone="warning"))

    # --- Answers -----------------------------------------------------------------------

    def _images(self, deck: Deck, card: Card) -> tuple[Image, ...]:
        self._last_reference = (deck, card)
        images = card_images(deck, card) if card.images else ()
        self._openable = any(image.target for image in images)
        return images

    def _reveal(self, deck: Deck, card: Card, seconds: float | None) -> Recorded:
        """Show the reference; asking for the answer is not remembering it, so the card is rated Again."""
        self.outcomes.append(Outcome(card=card.id, number=card.number, revealed=True))
        self.io.show(Reference(card, self._images(deck, card)))
        return self._record(deck, card, "", Grade.nothing_recalled(card), Rating.again, "grader", seconds)

    def _grade(self, deck: Deck, card: Card, answer: str, seconds: float | None, feedback: FeedbackClient | None) -> Recorded:
        """Grade by key terms and save the attempt, then ask the LLM (which may be slow) if there is one."""
        try:  # Ctrl-C before the grade is saved (the first grade loads the matcher) must not pass for an answer saved
            if self._grader is None:
                from .grading import KeywordGrader

                self._grader = KeywordGrader(self.grading)
                # The sitting's cards' terms, so that a list of them is not an answer (whichever deck is asked first).
                self._grader.use_deck(c for d in self.decks for c in d.cards)
            grade = self._grader.grade(card, answer)
            self.io.show(AnswerGraded(card, answer, grade, self._images(deck, card)))
        except KeyboardInterrupt:
            raise AnswerInterrupted(answer, submitted=True) from None
        self.outcomes.append(outcome_of(card, grade))
        rating = rating_for(grade, answer=answer, seconds=seconds, settings=self.store.settings)
        assert rating is not None  # only a self-graded card has no rating, and this card is graded
        attempt = self._record(deck, card, answer, grade, rating, "grader", seconds)  # saved before the LLM is asked
        if feedback is not None:
            result = self._ask_model(feedback, card, answer, grade)
            if result is not None:
                self._keep_aside(
                    lambda: self.store.set_feedback(attempt.attempt_id, result.record()),
                    lambda: self.store.kept(attempt.attempt_id, feedback=result.record()),
                    "the model's feedback",
                )
        return attempt

    def _ask_model(self, feedback: FeedbackClient, card: Card, answer: str, grade: Grade) -> LLMResult | None:
        """One answer's LLM feedback, returned to be saved; a failure notice already shown comes back as one counted line."""
        with self.io.waiting("Asking the model…"):
            result = feedback.feedback(card, answer, grade)
        if result is None:
            return result
        times = self._notices_shown[result.notice] = self._notices_shown.get(result.notice, 0) + 1
        if result.status == "failed" and times > 1:
            # Shown every time, so feedback skipped later is not invisible; counted, so it is not noise.
            self.io.show(Notice(f"{result.notice} ({times} answers this session)", tone="warning"))
            return result
        self.io.show(ModelFeedback(result))
        return result

    def _self_grade(self, deck: Deck, card: Card, answer: str, seconds: float | None) -> Recorded | None:
        """A card the grader cannot grade (an image): show the reference and take the user's rating.

        Without one (input ended, or a script's line is not a rating) the card is
        counted as skipped and the user is told: it is never dropped unsaid.
        """
        self.io.show(Reference(card, self._images(deck, card)))
        rating = self._self_rating(deck, card, answer)
        if rating is None:
            self.outcomes.append(Outcome(card=card.id, number=card.number, skipped=True))
            said = f" ('{answer.strip()}' is not c, p, i or 1-4)" if not self.io.interactive and answer.strip() else ""
            self.io.show(Notice(f"Not rated{said}: card {card.number} is left as it was, for next time.", tone="warning"))
            return None
        self.outcomes.append(Outcome(card=card.id, number=card.number, verdict=verdict_of(rating), self_rated=True))
        grade = Grade(card=card.id, number=card.number, score=0.0, verdict=Verdict.self_graded)
        return self._record(deck, card, answer, grade, rating, "user", seconds)

    def _self_rating(self, deck: Deck, card: Card, answer: str) -> Rating | None:
        """How the user says they did: a script's answer line is the rating; at a terminal one key, as for any rating."""
        if not self.io.interactive:
            return parse_self_rating_key(answer)
        state = self.store.states([deck]).get(self._key(deck, card))
        self.io.show(RatingKeys(self._preview(state), self_rating=True, images=self._openable))
        while True:
            key = self._read_key()
            if key is None:
                return None
            if key.lower() == "o" and self._openable:
                self._open((deck, card))
                continue
            rating = parse_self_rating_key(key)
            if rating is not None:
                return rating
            self.io.show(Notice("Press 1, 2, 3 or 4 (or c, p, i) for how you did.", tone="warning"))

    def _read_key(self) -> str | None:
        """One key press for the rating keys. Text typed before them (``typed_ahead``) is neither a key nor dropped
        unsaid: one line shows it, and the keys wait on."""
        while True:
            key = self.io.read_key()
            text = typed_ahead(key) if key is not None else None
            if text is None:
                return key
            shown = " ↵ ".join(line.strip() for line in text.splitlines() if line.strip())
            self.io.show(Notice(f"Typed ahead and not used: “{shown}” ({len(text)} characters); the keys above wait for one.", tone="warning"))

    def _preview(self, state: CardState | None, now: datetime | None = None) -> tuple[tuple[Rating, str], ...]:
        now = now or self._now()
        return tuple((r, describe_interval(due, now=now)) for r, due in preview(state, now=now, settings=self.store.settings).items())

    def _record(
        self, deck: Deck, card: Card, answer: str, grade: Grade, rating: Rating, rated_by: RatedBy, seconds: float | None
    ) -> Recorded:
        """Save an attempt as soon as it is graded: nothing typed is lost to Ctrl-C or a crash.

        A card set aside before and named with --cards comes back into practice by being answered (and /undo puts it back aside).
        """
        fields = _AttemptFields(answer=answer, grade=grade, rating=rating, rated_by=rated_by, now=self._now(), seconds=seconds, cram=self.cram)
        why = self._held.get(self._key(deck, card))
        try:
            attempt = self._patiently(lambda: self.store.record_attempt(deck, card, **fields, bring_back=bool(why)))
        except (HistoryBusy, KeyboardInterrupt) as exc:  # never lost: kept in a file that imports into the history
            from .history_file import keep_unsaved

            # Imported, the answer brings its card back from aside, as saving it would have.
            file = keep_unsaved(self.store, list(self.store.unsaved(deck, card, **fields)), now=fields["now"])
            raise AnswerKeptAside(file, exc) from None
        self._saved.add(attempt.attempt_id)
        if why and attempt.set_aside_before:
            del self._held[self._key(deck, card)]
            self._unheld[attempt.attempt_id] = (why, *attempt.set_aside_before)
            self.io.show(Notice(f"Card {card.number} is back in practice (it was set aside)."))
        return attempt

    def _patiently(self, write: Callable[[], T]) -> T:
        """Run a write to the history; while another grader holds it (an import), say so once and keep trying.

        ``HistoryBusy`` after ``SAVE_PATIENCE_SECONDS`` in all; Ctrl-C stops the waiting at once.
        """
        with self.store.busy_timeout(SAVE_FIRST_WAIT_SECONDS):
            try:
                return write()
            except HistoryBusy:
                pass
        self.io.show(Notice("History busy (another grader is writing to it): waiting to save. Ctrl-C stops.", tone="warning"))
        deadline = time.monotonic() + SAVE_PATIENCE_SECONDS - SAVE_FIRST_WAIT_SECONDS
        with self.io.waiting("Waiting for your history…"):
            while True:
                with self.store.busy_timeout(min(0.25, max(0.0, deadline - time.monotonic()))):  # short, so Ctrl-C is felt at once
                    try:
                        return write()
                    except HistoryBusy:
                        if time.monotonic() >= deadline:  # said with the whole wait, not the last short one
                            held = f"another grader held it for over {SAVE_PATIENCE_SECONDS:g} s"
                            raise HistoryBusy(f"cannot write the practice history: {held}", path=self.store.path) from None

    def _keep_aside(self, write: Callable[[], T], records: Callable[[], list], what: str) -> T | None:
        """A change beyond the answer itself (a new rating, the model's feedback), written ``_patiently``; None if the history
        stayed locked: the change is then kept in ``unsaved-answers.jsonl`` (``records``: its export lines), one line says
        where, and the sitting goes on. Ctrl-C while waiting keeps it too, and ends the sitting."""
        try:
            return self._patiently(write)
        except (HistoryBusy, KeyboardInterrupt) as exc:
            from .history_file import keep_unsaved

            file = keep_unsaved(self.store, records(), now=self._now())
            if isinstance(exc, KeyboardInterrupt):
                raise AnswerKeptAside(file, exc, what) from None
            self.io.show(Notice(f"History still busy: {what} is kept in {file}; `grader history import {file}` adds it.", tone="warning"))
            return None

    def _or_refuse(self, write: Callable[[], T], not_made: str, command: str) -> T | None:
        """A change no export line can carry, written ``_patiently``: what the write returns, or None if the history
        stayed locked: one line says the change was ``not_made``, and the sitting goes on (``command`` again makes it).
        An undo deletes an attempt, and an import takes a card's suspension or burial only with a later review, so
        ``unsaved-answers.jsonl`` cannot keep these. Ctrl-C while waiting ends the sitting, saying the same (``ChangeNotMade``)."""
        try:
            return self._patiently(write)
        except HistoryBusy:
            self.io.show(Notice(f"History still busy: {not_made}; the sitting goes on ({command} again to retry).", tone="warning"))
            return None
        except KeyboardInterrupt:
            raise ChangeNotMade(not_made) from None

    def _settle(self, deck: Deck, card: Card, attempt: Recorded, *, override: bool) -> bool:
        """Show the rating and next review; at a terminal one key (1-4) overrides the grader's. True if the card comes back now."""
        now = self._now()
        # Both lines count from the moment of the review, as FSRS did: counted from now, a Hard of 5.5 min was "in 5 min"
        # beside a key that said "Hard 6 min".
        reviewed = attempt.state.last_review or now
        self.io.show(Rated(attempt.rating, describe_due(attempt.state.due, now=reviewed)))
        if override and self.io.interactive:
            self.io.show(RatingKeys(self._preview(attempt.previous, reviewed), images=self._openable))
            key = self._read_key()
            while key is not None and key.lower() == "o" and self._openable:
                self._open((deck, card))
                key = self._read_key()
            # Digits only: "other keys go on", and the next answer typed early ("a process ...") must not re-rate this one.
            rating = parse_rating(key) if key is not None and key.strip() in _OVERRIDE_DIGITS else None
            if rating is not None and rating != attempt.rating:
                from .store import Recorded

                first = attempt
                overridden = self._keep_aside(  # None: kept aside, the history locked; False: answered since (as /undo)
                    lambda: self.store.override_rating(first.attempt_id, rating) or False,
                    lambda: self.store.kept(first.attempt_id, rating=rating),
                    f"your rating ({rating.name.capitalize()})",
                )
                if overridden is False:
                    self.io.show(_answered_since("Not re-rated", card, f"your rating stays {first.rating.name.capitalize()}"))
                else:
                    attempt = overridden if isinstance(overridden, Recorded) else Recorded(first.attempt_id, rating, review(first.previous, rating, now=reviewed, settings=self.store.settings), first.previous)
                    self.io.show(Rated(attempt.rating, describe_due(attempt.state.due, now=reviewed)))
        if self.cram or not ask_again(attempt.state, now=now, settings=self.store.settings):
            return False
        # Queued again at the end, it may come back before it is due (the last card of a sitting comes back at once).
        # Counted from the review, as the Rated line above it: from now, a Hard of 5.5 min said "in 6 min" there and "in 5 min" here.
        self.io.show(Notice(f"Still learning (due again {describe_due(attempt.state.due, now=reviewed)}): it comes back later in this session."))
        return True

    def _show_next_review(self, *, saved: bool) -> None:
        """When practice is next needed: now, if the sitting ended with cards still due (quit early); else the moment it
        will ask the next card (``schedule.next_asked``: the rule ``grader stats`` and ``cards --due`` count by).

        ``saved``: whether the sitting left anything in the history (an answer, a card set aside), which the line says first.
        """
        now = self._now()
        done = "Saved to your history." if saved else "Nothing answered, nothing saved."
        progress = self.store.progress(self.decks)
        settings = self.store.settings
        asked = [
            next_asked(state, settings=settings, suspended=progress[key].suspended, buried_until=progress[key].buried_until)
            for key, state in self.store.states(self.decks).items()
        ]
        due_now = sum(1 for at in asked if at is not None and at <= now)
        upcoming = [at for at in asked if at is not None and at > now]
        if due_now:
            said = "1 card is" if due_now == 1 else f"{due_now} cards are"
            self.io.show(Notice(f"{done} {said} still due now; see `grader stats`."))
        elif upcoming:
            self.io.show(Notice(f"{done} Next review {describe_due(min(upcoming), now=now)}; see `grader stats`."))


def _valid_text(typed: str | None) -> str | None:
    """What was typed, with bytes that were not UTF-8 (read as lone surrogates) shown as U+FFFD, so it can be stored."""
    if typed is None:
        return None
    return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in typed)
