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
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from .models import Card, Deck, Grade, Verdict
from .practice import Command, Outcome, SessionSummary, outcome_of, parse_command, parse_picks, parse_self_rating, sync_notes
from .schedule import VERDICT_RATING, Rating, ScheduleSettings, StudyPlan, ask_again, describe_due, parse_rating, pick_cards, rating_for

if TYPE_CHECKING:
    from .grading import KeywordGrader
    from .scoring import GradingSettings
    from .llm.client import FeedbackClient
    from .llm.schema import LLMResult
    from .store import RatedBy, Recorded, Store

SELF_RATING_PROMPT = "How did you do? [c]orrect, [p]artial, [i]ncorrect: "


# --- What a session shows ----------------------------------------------------------


@dataclass(frozen=True)
class Question:
    """A card being asked, the ``position``-th of ``total`` so far."""

    deck_title: str
    card: Card
    position: int
    total: int


@dataclass(frozen=True)
class AnswerGraded:
    """The keyword grade of an answer (shown with the reference)."""

    card: Card
    answer: str
    grade: Grade


@dataclass(frozen=True)
class Reference:
    """The reference answer alone: revealed, or for the user to grade themself."""

    card: Card


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
class Notice:
    """One line for the user: a ``hint`` (dim), a ``warning``, or ``plain`` text."""

    text: str
    tone: Literal["hint", "warning", "plain"] = "hint"


@dataclass(frozen=True)
class Summary:
    """The end-of-session tally."""

    summary: SessionSummary


Shown = Question | AnswerGraded | Reference | ModelFeedback | Rated | Notice | Summary


class PracticeIO(Protocol):
    """How a session meets its user: a terminal in the CLI, a script in tests.

    ``interactive`` means a person at a terminal: an answer runs until an empty
    line and is timed (fast and complete earns Easy), a self-graded card asks
    how it went, and one key can change each rating. Otherwise each line is one
    answer (for a self-graded card, the rating itself) and nothing is timed.
    """

    interactive: bool

    def ask(self, prompt: str) -> str | None:
        """One line typed after ``prompt``; None at the end of input (Ctrl-D)."""

    def read_key(self) -> str | None:
        """One key press, no Enter needed; None at the end of input."""

    def show(self, shown: Shown) -> None:
        """Put one thing in front of the user."""

    def waiting(self, message: str) -> AbstractContextManager[object]:
        """Say that something slow (the LLM) is going on, for as long as the block runs."""


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
) -> None:
    """``grader practice``: open the history (``history``, default the user's), choose the cards, ask them.

    Cards picked by hand (``picks``, ``--cards``) are asked whatever their
    schedule. ``feedback`` opens the LLM client, once the cards are chosen; it
    is closed at the end.
    """
    from .store import Store  # here, not at the top: render imports this module and needs no sqlite3

    with Store.open(history, settings=settings) as store:
        session = PracticeSession(store, decks, io, cram=cram or bool(picks), grading=grading)
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


class PracticeSession:
    """One sitting: plan the cards, then ask them, saving and rescheduling each answer.

    ``now`` and ``clock`` are injectable so tests can pin the schedule and the
    answer timing.
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
    ):
        self.store = store
        self.decks = list(decks)
        self.io = io
        self.cram = cram  # ignore the schedule: ask every card, never bring one back
        self.outcomes: list[Outcome] = []  # each card asked, as soon as its fate is known (for the summary)
        self._now = now
        self._clock = clock
        self.grading = grading
        self._grader: KeywordGrader | None = None  # the matcher (numpy, rapidfuzz) loads after the first question is on screen
        self._notices_shown: set[str | None] = set()  # an LLM failure notice is shown once a sitting

    def plan(
        self, picks: str | None = None, *, shuffle: bool = False, seed: int | None = None, limit: int | None = None
    ) -> list[tuple[Deck, Card]]:
        """The cards to ask, due ones first then new ones (see ``choose_cards``), telling what the schedule holds back.

        ``picks`` is ``--cards`` ("1,3,5-7"); ``seed`` repeats a shuffle.
        """
        for note in sync_notes(self.store.sync(self.decks)):
            self.io.show(Notice(note))
        now = self._now()
        candidates = [(deck, card) for deck in self.decks for card in (parse_picks(picks, deck.cards) if picks else deck.cards)]
        plan = choose_cards(self.store, self.decks, candidates, now=now, cram=self.cram)
        held = [f"{n} {what}" for n, what in ((plan.new_held_back, "new cards"), (plan.reviews_held_back, "reviews")) if n]
        if held:
            self.io.show(Notice(f"Daily limits leave {' and '.join(held)} for later days (--new-limit, --review-limit)."))
        if not plan.keys:
            when = f" The next card is due {describe_due(plan.next_due, now=now)}." if plan.next_due else ""
            self.io.show(Notice(f"Nothing is due now.{when} Use --cram to practise anyway.", tone="plain"))
        if shuffle:
            rng = random.Random(seed)
            rng.shuffle(plan.due)
            rng.shuffle(plan.new)
        return plan.keys[:limit] if limit else plan.keys

    def run(self, cards: Sequence[tuple[Deck, Card]], feedback: FeedbackClient | None = None) -> None:
        """Ask the cards until they run out, the user quits, input ends or Ctrl-C; then show the summary.

        A card still being learnt joins the end of the queue and comes back in
        this sitting. ``feedback`` adds the LLM's view of each graded answer.
        """
        queue = list(cards)
        try:
            for position, (deck, card) in enumerate(queue, start=1):
                self.io.show(Question(deck.title, card, position, len(queue)))
                started = self._clock()
                answer = self._read_answer(self_graded=not card.gradable)
                seconds = self._clock() - started if self.io.interactive else None  # scripted answers have no timing
                command = parse_command(answer) if answer is not None else Command.quit
                if command is Command.quit:
                    break
                if command is Command.skip:
                    self.outcomes.append(Outcome(card=card.id, number=card.number, skipped=True))
                    continue
                if command is Command.reveal:
                    attempt = self._reveal(deck, card, seconds)
                elif card.gradable:
                    attempt = self._grade(deck, card, answer, seconds, feedback)
                else:
                    attempt = self._self_grade(deck, card, answer, seconds)
                if attempt is not None and self._confirm_rating(attempt):
                    queue.append((deck, card))
        except KeyboardInterrupt:
            self.io.show(Notice("\nInterrupted."))  # ^C leaves the cursor where the user was typing
        if self.outcomes:
            self.io.show(Summary(SessionSummary.of(self.outcomes)))
        self._show_next_review()

    def _read_answer(self, *, self_graded: bool) -> str | None:
        """One answer, or None at the end of input: lines until an empty one at a terminal, one line from a script."""
        if not self.io.interactive:
            return self.io.ask("")
        if self_graded:
            self.io.show(Notice("The answer is an image: recall it (or type it), then press Enter to compare."))
        else:
            self.io.show(Notice("Your answer (empty line to submit; /skip, /reveal, /quit):"))
        lines: list[str] = []
        while True:
            line = self.io.ask("> " if not lines else "… ")
            if line is None:
                return "\n".join(lines) if lines else None
            if not line.strip():
                if lines or self_graded:
                    return "\n".join(lines)
                continue
            if not lines and line.strip().startswith("/"):
                return line.strip()
            lines.append(line)

    def _reveal(self, deck: Deck, card: Card, seconds: float | None) -> Recorded:
        """Show the reference; asking for the answer is not remembering it, so the card is rated Again."""
        self.outcomes.append(Outcome(card=card.id, number=card.number, revealed=True))
        self.io.show(Reference(card))
        return self._record(deck, card, "", Grade.nothing_recalled(card), Rating.again, "grader", seconds)

    def _grade(self, deck: Deck, card: Card, answer: str, seconds: float | None, feedback: FeedbackClient | None) -> Recorded:
        """Grade by key terms and save the attempt, then ask the LLM (which may be slow) if there is one."""
        if self._grader is None:
            from .grading import KeywordGrader

            self._grader = KeywordGrader(self.grading)
        grade = self._grader.grade(card, answer)
        self.io.show(AnswerGraded(card, answer, grade))
        self.outcomes.append(outcome_of(card, grade))
        rating = rating_for(grade, answer=answer, seconds=seconds, settings=self.store.settings)
        attempt = self._record(deck, card, answer, grade, rating, "grader", seconds)  # saved before the LLM is asked
        if feedback is not None:
            result = self._ask_model(feedback, card, answer, grade)
            if result is not None:
                self.store.set_feedback(attempt.attempt_id, result.record())
        return attempt

    def _ask_model(self, feedback: FeedbackClient, card: Card, answer: str, grade: Grade) -> LLMResult | None:
        """One answer's LLM feedback, returned to be saved; a notice already shown this session is not repeated."""
        with self.io.waiting("Asking the model…"):
            result = feedback.feedback(card, answer, grade)
        if result is None or (result.status == "failed" and result.notice in self._notices_shown):
            return result
        self._notices_shown.add(result.notice)
        self.io.show(ModelFeedback(result))
        return result

    def _self_grade(self, deck: Deck, card: Card, answer: str, seconds: float | None) -> Recorded | None:
        """A card the grader cannot grade (an image): show the reference and take the user's word; no word, no attempt."""
        self.io.show(Reference(card))
        verdict = self._self_rating(answer)
        self.outcomes.append(Outcome(card=card.id, number=card.number, verdict=verdict))
        if verdict is None:
            return None
        grade = Grade(card=card.id, number=card.number, score=0.0, verdict=Verdict.self_graded)
        return self._record(deck, card, answer, grade, VERDICT_RATING[verdict], "user", seconds)

    def _self_rating(self, answer: str) -> Verdict | None:
        """How the user says they did: a script's answer line is the rating; a terminal asks until c, p, i or blank."""
        if not self.io.interactive:
            return parse_self_rating(answer)
        while True:
            reply = self.io.ask(SELF_RATING_PROMPT)
            if reply is None:
                return None
            verdict = parse_self_rating(reply)
            if verdict is not None or not reply.strip():
                return verdict
            self.io.show(Notice("Type c, p or i.", tone="warning"))

    def _record(
        self, deck: Deck, card: Card, answer: str, grade: Grade, rating: Rating, rated_by: RatedBy, seconds: float | None
    ) -> Recorded:
        """Save an attempt as soon as it is graded: nothing typed is lost to Ctrl-C or a crash."""
        return self.store.record_attempt(
            deck, card, answer=answer, grade=grade, rating=rating, rated_by=rated_by, now=self._now(), seconds=seconds, cram=self.cram
        )

    def _confirm_rating(self, attempt: Recorded) -> bool:
        """Show the rating and next review; at a terminal one key (1-4) overrides it. True if the card comes back now."""
        now = self._now()
        self.io.show(Rated(attempt.rating, describe_due(attempt.state.due, now=now)))
        if self.io.interactive:
            self.io.show(Notice("1 again · 2 hard · 3 good · 4 easy to change the rating; any other key to go on"))
            key = self.io.read_key()
            rating = parse_rating(key) if key is not None else None
            if rating is not None and rating != attempt.rating:
                attempt = self.store.override_rating(attempt.attempt_id, rating)
                self.io.show(Rated(attempt.rating, describe_due(attempt.state.due, now=now)))
        if self.cram or not ask_again(attempt.state, now=now, settings=self.store.settings):
            return False
        self.io.show(Notice(f"Still learning: it comes back {describe_due(attempt.state.due, now=now)}, in this session."))
        return True

    def _show_next_review(self) -> None:
        now = self._now()
        upcoming = [s.due for s in self.store.states(self.decks).values() if s.due > now]
        if upcoming:
            self.io.show(Notice(f"Saved to your history. Next review {describe_due(min(upcoming), now=now)}; see `grader stats`."))

