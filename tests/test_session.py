"""The practice loop driven by a scripted user, without a terminal (``grader.session``)."""

from __future__ import annotations

import io
import itertools
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest

from grader import load_deck
from grader.llm.schema import LLMResult
from grader.models import Verdict
from grader.schedule import Rating, ScheduleSettings
from grader.session import (
    AnswerGraded,
    ModelFeedback,
    Notice,
    PracticeInterrupted,
    PracticeSession,
    Question,
    Rated,
    RatingKeys,
    Reference,
    Summary,
    answer_from_lines,
)
from grader.store import Store

from .conftest import run_cli

DECK = """# Migration

1. <details markdown=1><summary markdown="span"> What are the two kinds of VM migration? </summary>

    ==Offline== and ==live== migration.

</details>

2. <details markdown=1><summary markdown="span"> What does this diagram show? </summary>

    ![](img/architecture.png)

</details>

3. <details markdown=1><summary markdown="span"> What are three benefits of virtualization? </summary>

    ==Isolation==, ==portability== and ==consolidation==.

</details>
"""

NOW = datetime(2025, 3, 4, 12, 0, tzinfo=timezone.utc)
CTRL_C = "<Ctrl-C>"  # a line the scripted user interrupts instead of typing


@dataclass
class ScriptedUser:
    """A ``PracticeIO`` that types the given lines and keys, then ends its input; it keeps all it was shown."""

    lines: list[str]
    keys: list[str] = field(default_factory=list)
    interactive: bool = False
    shown: list = field(default_factory=list)
    prompts: list[str] = field(default_factory=list)
    waits: list[str] = field(default_factory=list)

    def ask(self, prompt: str) -> str | None:
        self.prompts.append(prompt)
        if not self.lines:
            return None
        line = self.lines.pop(0)
        if line == CTRL_C:
            raise KeyboardInterrupt
        return line

    def ask_answer(self, prompt: str, *, allow_empty: bool = False) -> str | None:
        return answer_from_lines(self.ask, allow_empty=allow_empty)

    def read_key(self) -> str | None:
        key = self.keys.pop(0) if self.keys else None
        if key == CTRL_C:
            raise KeyboardInterrupt
        return key

    def show(self, shown) -> None:
        self.shown.append(shown)

    @contextmanager
    def waiting(self, message: str):
        self.waits.append(message)
        yield

    def of(self, kind: type) -> list:
        return [s for s in self.shown if isinstance(s, kind)]

    def notices(self) -> list[str]:
        return [n.text for n in self.of(Notice)]


@pytest.fixture
def deck(tmp_path):
    path = tmp_path / "migration.md"
    path.write_text(DECK, encoding="utf-8")
    return load_deck(path)


@pytest.fixture
def store(tmp_path, utc_local_time):
    with Store.open(tmp_path / "history.db") as store:
        yield store


def ticking_now():
    """A clock from NOW that moves a second each time it is read, so that saved attempts keep their order."""
    seconds = itertools.count()
    return lambda: NOW + timedelta(seconds=next(seconds))


def practise(store, deck, user, *, cards=(1, 2, 3), cram=False, feedback=None, clock=None) -> PracticeSession:
    session = PracticeSession(store, [deck], user, cram=cram, now=ticking_now(), clock=clock or (lambda: 0.0))
    session.run([(deck, deck.cards[n - 1]) for n in cards], feedback)
    return session


def attempts(store, deck) -> list[tuple]:
    """The saved attempts, oldest first, as (card number, verdict, rating, rated by)."""
    number = {c.id: c.number for c in deck.cards}
    return [(number[a.card], a.verdict, a.rating, a.rated_by) for a in store.attempts()]


@pytest.mark.parametrize(
    "lines, asked, saved, summary",
    [
        # Input ends after one answer: it is saved, the next card was asked, the summary still comes.
        (["offline and live migration"], [1, 2], [(1, Verdict.correct, Rating.good, "grader")], (1, 1, 0)),
        # /skip saves nothing; a self-graded card takes the scripted line as its rating; learning cards come back.
        (
            ["/skip", "c", "isolation"],
            [1, 2, 3, 2],
            [(2, Verdict.self_graded, Rating.good, "user"), (3, Verdict.partial, Rating.hard, "grader")],
            (3, 2, 1),
        ),
        # /quit mid-session keeps what was answered before it and asks nothing more.
        (["offline and live migration", "/quit", "isolation"], [1, 2], [(1, Verdict.correct, Rating.good, "grader")], (1, 1, 0)),
        # Asking for the answer is not remembering it: rated Again, counted with the skipped.
        (["/reveal", "/q"], [1, 2], [(1, Verdict.incorrect, Rating.again, "grader")], (1, 0, 1)),
        # A self-rating that means nothing saves nothing; the card was asked and counts as skipped (and the user is told).
        (["/s", "maybe", "/q"], [1, 2, 3], [], (2, 0, 2)),
        # A self-rating may be a rating key too.
        (["/s", "4", "/q"], [1, 2, 3], [(2, Verdict.self_graded, Rating.easy, "user")], (2, 1, 1)),
        # No input at all: nothing asked but the first question, no summary.
        ([], [1], [], None),
    ],
)
def test_scripted_sessions(store, deck, lines, asked, saved, summary):
    user = ScriptedUser(lines)
    session = practise(store, deck, user)
    assert [q.card.number for q in user.of(Question)] == asked
    assert attempts(store, deck) == saved
    assert set(user.prompts) <= {""}  # a script sees no prompts
    summaries = [(s.summary.asked, s.summary.answered, s.summary.skipped) for s in user.of(Summary)]
    assert summaries == ([summary] if summary else [])
    assert len(session.outcomes) == (summary[0] if summary else 0)


def test_a_skip_is_said(store, deck):
    """A skipped card was followed by the next question with no word, so a scripted or fast user could not tell the
    skip from a lost answer."""
    user = ScriptedUser(["/skip", "/quit"])
    practise(store, deck, user)
    assert [n.text for n in user.of(Notice) if "Skipped" in n.text] == ["Skipped: not graded, and its schedule is as it was."]
    assert attempts(store, deck) == []


@pytest.mark.parametrize(
    "lines, counts, rows",
    [
        # A self-rating has no score: the mean is of the graded answers (1.0 and 1/3), and says so.
        (["offline and live migration", "c", "isolation", "/quit"],
         {"asked": 3, "answered": 3, "self_rated": 1, "skipped": 0, "set_aside": 0, "graded": 2, "mean_score": 0.667},
         [("Cards asked", "3"), ("Answered", "3 (1 self-rated)"), ("Skipped or revealed", "0"), ("correct", "2"), ("partial", "1"),
          ("Mean score", "67% of 2 graded")]),
        # Cards set aside are their own count: they were counted as skipped.
        (["/suspend", "/bury", "isolation", "/quit"],
         {"asked": 3, "answered": 1, "self_rated": 0, "skipped": 0, "set_aside": 2, "graded": 1, "mean_score": 0.333},
         [("Cards asked", "3"), ("Answered", "1"), ("Skipped or revealed", "0"), ("Suspended or buried", "2"), ("partial", "1"),
          ("Mean score", "33%")]),
        # Revealed and left unrated are asked, not answered; nothing graded, no mean.
        (["/reveal", "maybe", "/bury", "/quit"],
         {"asked": 3, "answered": 0, "self_rated": 0, "skipped": 2, "set_aside": 1, "graded": 0, "mean_score": None},
         [("Cards asked", "3"), ("Answered", "0"), ("Skipped or revealed", "2"), ("Suspended or buried", "1")]),
        # Only self-rated answers: no score to average.
        (["/skip", "p", "/quit"],
         {"asked": 2, "answered": 1, "self_rated": 1, "skipped": 1, "set_aside": 0, "graded": 0, "mean_score": None},
         [("Cards asked", "2"), ("Answered", "1 (1 self-rated)"), ("Skipped or revealed", "1"), ("partial", "1")]),
    ],
    ids=["self-rated", "set-aside", "revealed-and-unrated", "only-self-rated"],
)  # fmt: skip
def test_the_summary_counts_each_card_once_and_says_what_the_mean_is_of(store, deck, lines, counts, rows):
    """The mean score left self-rated answers out unsaid, and cards suspended or buried were counted as skipped."""
    from grader.render import make_console, summary_table

    user = ScriptedUser(lines)
    practise(store, deck, user)
    [shown] = user.of(Summary)
    summary = shown.summary
    assert summary.model_dump(exclude={"verdicts"}) == counts
    assert summary.asked == summary.answered + summary.skipped + summary.set_aside
    console = make_console()
    with console.capture() as captured:
        console.print(summary_table(summary))
    cells = [line.split("│")[1:3] for line in captured.get().splitlines() if line.startswith("│")]
    assert [(label.strip(), value.strip()) for label, value in cells] == rows


def test_a_graded_answer_is_shown_saved_and_rated(store, deck):
    user = ScriptedUser(["live and offline migration", "/quit"])
    practise(store, deck, user)
    [graded] = user.of(AnswerGraded)
    assert (graded.card.number, graded.answer, graded.grade.verdict) == (1, "live and offline migration", Verdict.correct)
    [attempt] = store.attempts()
    assert (attempt.answer, attempt.score, attempt.seconds, attempt.cram) == ("live and offline migration", 1.0, None, False)
    # Scripted answers are not timed, so a complete answer is Good, never Easy.
    assert user.of(Rated) == [Rated(Rating.good, "in 10 min")]
    assert user.notices()[-2:] == [
        "Still learning (due again in 10 min): it comes back later in this session.",
        # Due in 10 min is inside the 20-minute learn-ahead: practice (and `cards --due`) would ask it now.
        "Saved to your history. 1 card is still due now; see `grader stats`.",
    ]
    assert isinstance(user.shown[-1], Notice) and isinstance(user.shown[-2], Summary)


def test_quitting_with_cards_still_due_says_so_not_a_later_review(store, deck):
    practise(store, deck, ScriptedUser(["no idea", "/quit"]))  # card 1: Again, due in a minute
    next_day = ticking_now()
    user = ScriptedUser(["isolation, portability and consolidation", "/quit"])
    PracticeSession(store, [deck], user, now=lambda: next_day() + timedelta(days=1)).run([(deck, deck.cards[2]), (deck, deck.cards[0])])
    # Card 1 is overdue and card 3, in its first learning step, is inside the learn-ahead: "next review in N min" would send the user away.
    assert user.notices()[-1] == "Saved to your history. 2 cards are still due now; see `grader stats`."


@pytest.mark.parametrize(
    "learn_ahead, easy, later, line, due_now",
    [
        # Good on a new card: a learning step due in 10 min, which a 20-minute learn-ahead asks now.
        (20, False, timedelta(0), "1 card is still due now", 1),
        (5, False, timedelta(0), "Next review in 5 min", 0),  # asked 5 min early, not at its due time
        (0, False, timedelta(0), "Next review in 10 min", 0),
        # Easy: a review card due in 8 days at noon, asked from 4 am that study day, so due at 6 am already.
        (20, True, timedelta(days=8, hours=-6), "1 card is still due now", 1),
        (20, True, timedelta(days=7, hours=12), "Next review in 4 h", 0),
    ],
)
def test_the_closing_line_agrees_with_stats_and_cards_due(tmp_path, deck, utc_local_time, learn_ahead, easy, later, line, due_now):
    """The line counted a card due by ``due <= now`` while stats and ``cards --due`` use the learn-ahead and the study day."""
    from grader.stats import card_progress, history_stats, is_due_now

    settings = ScheduleSettings(learn_ahead_minutes=learn_ahead)
    with Store.open(tmp_path / "history.db", settings=settings) as store:
        user = ScriptedUser(["offline and live migration", "/quit"] if not easy else ["offline and live migration", ""], interactive=easy)
        practise(store, deck, user, cards=[1])
        assert user.of(Rated)[0].rating is (Rating.easy if easy else Rating.good)
        now = NOW + later
        after = ScriptedUser(["/quit"])
        PracticeSession(store, [deck], after, cram=True, now=lambda: now).run([(deck, deck.cards[1])])
        assert after.notices()[-1] == f"Nothing answered, nothing saved. {line}; see `grader stats`."
        assert history_stats(store, [deck], now=now).due_today == due_now
        progress = card_progress(deck, now=now, history=store.path)
        assert sum(is_due_now(progress.get(c.id), now=now, settings=settings) for c in deck.cards) == due_now


def test_practice_knows_the_deck_so_a_list_of_its_terms_is_partial(store, deck):
    user = ScriptedUser(["offline, live, isolation, portability, consolidation", "/quit"])
    practise(store, deck, user)
    [graded] = user.of(AnswerGraded)
    assert (graded.grade.score, graded.grade.verdict) == (0.4, Verdict.partial)  # its own 2 terms of the 5 it names
    assert graded.grade.foreign_terms == ["Isolation", "portability", "consolidation"]


def test_a_learning_card_comes_back_unless_cramming(store, deck):
    user = ScriptedUser(["no idea", "offline, live"])
    practise(store, deck, user, cards=[1])
    assert [(q.card.number, q.position, q.total) for q in user.of(Question)] == [(1, 1, 1), (1, 2, 2), (1, 3, 3)]
    # The only card comes back at once, though due in a minute: the notice must not promise a wait.
    assert user.notices()[0] == "Still learning (due again in 1 min): it comes back later in this session."
    assert [a.rating for a in store.attempts()] == [Rating.again, Rating.good]

    crammer = ScriptedUser(["no idea", "isolation"])
    practise(store, deck, crammer, cards=[3], cram=True)
    assert [q.card.number for q in crammer.of(Question)] == [3]
    assert [(a.rating, a.cram) for a in store.attempts() if a.card == deck.cards[2].id] == [(Rating.again, True)]
    assert not any(n.startswith("Still learning") for n in crammer.notices())



def test_the_still_learning_line_gives_the_interval_the_rating_line_above_it_gives(store, deck):
    """A Hard of 5.5 min was "next review in 6 min" and, on the next line, "due again in 5 min": counted a moment later."""
    user = ScriptedUser(["isolation and portability", "/quit"])
    practise(store, deck, user, cards=[3])
    [rated] = user.of(Rated)
    assert (rated.rating, rated.next_review) == (Rating.hard, "in 6 min")
    assert user.notices()[0] == "Still learning (due again in 6 min): it comes back later in this session."

def test_ctrl_c_keeps_every_answer_already_graded(store, deck):
    user = ScriptedUser(["offline and live migration", "c", CTRL_C])
    with pytest.raises(PracticeInterrupted):  # after the summary: the CLI exits 130
        practise(store, deck, user)
    assert [number for number, *_ in attempts(store, deck)] == [1, 2]
    interrupted, summary = user.shown[-3:-1]
    assert interrupted == Notice("\nInterrupted.")
    assert (summary.summary.asked, summary.summary.answered) == (2, 2)


def test_ctrl_c_while_typing_says_the_half_typed_answer_was_not_saved(store, deck):
    user = ScriptedUser(["offline and live migration", "", "offline", CTRL_C], keys=["\r"], interactive=True)
    with pytest.raises(PracticeInterrupted):
        practise(store, deck, user, cards=[1, 3])
    assert [a.answer for a in store.attempts()] == ["offline and live migration"]
    assert Notice("\nInterrupted. The answer you were typing was not saved.") in user.shown


def test_ctrl_c_while_an_answer_is_graded_says_it_was_not_saved(store, deck, monkeypatch):
    """Ctrl-C after Enter, while the answer was graded (the first grade loads the matcher), said only 'Interrupted.'
    though the answer was neither graded nor saved."""
    from grader.grading import KeywordGrader

    def interrupted(self, card, answer):
        raise KeyboardInterrupt

    monkeypatch.setattr(KeywordGrader, "grade", interrupted)
    user = ScriptedUser(["offline and live migration", "c"])
    with pytest.raises(PracticeInterrupted):
        practise(store, deck, user, cards=[1, 2])
    assert store.attempts() == [] and not user.of(AnswerGraded)
    assert user.notices()[-1] == "\nInterrupted. Your answer was not graded nor saved."

@pytest.mark.parametrize("typed, draft", [("first\rsecond\x03", "first\nsecond"), ("\x03", None)])
def test_the_line_editor_hands_a_half_typed_answer_to_ctrl_c(typed, draft):
    pytest.importorskip("prompt_toolkit")
    from prompt_toolkit.application import create_app_session
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    from grader.line_editor import AnswerEditor
    from grader.session import AnswerInterrupted

    with create_pipe_input() as keys, create_app_session(input=keys, output=DummyOutput()):
        editor = AnswerEditor()
        keys.send_text(typed)
        with pytest.raises(KeyboardInterrupt) as interrupted:
            editor.ask("> ")
    assert getattr(interrupted.value, "draft", None) == draft
    assert isinstance(interrupted.value, AnswerInterrupted) is (draft is not None)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    "term, stdout, editor",
    [
        ("xterm-256color", _Terminal, True),
        ("dumb", _Terminal, False),  # the terminal edits lines itself
        ("xterm-256color", io.StringIO, False),  # grader practice | tee log: the editor's drawing would go to the log
    ],
)
def test_the_line_editor_only_draws_on_a_terminal(monkeypatch, term, stdout, editor):
    from grader.line_editor import wanted

    monkeypatch.setenv("TERM", term)
    monkeypatch.setattr("sys.stdout", stdout())
    assert wanted() is editor


def test_a_mistyped_command_is_said_and_asked_again_never_graded(store, deck):
    user = ScriptedUser(["/foo", "  /Sikp ", "/?", "offline and live migration", "c", "/", "/etc", "/etc/passwd is a file", "/quit"])
    practise(store, deck, user)
    assert [n for n in user.notices() if n.startswith("Unknown")] == [
        "Unknown command /foo (commands: /skip /reveal /undo /suspend /bury /open /quit)",
        "Unknown command /Sikp (commands: /skip /reveal /undo /suspend /bury /open /quit)",
        "Unknown command /? (commands: /skip /reveal /undo /suspend /bury /open /quit)",
        "Unknown command / (commands: /skip /reveal /undo /suspend /bury /open /quit)",
        "Unknown command /etc (commands: /skip /reveal /undo /suspend /bury /open /quit)",
    ]
    assert [q.card.number for q in user.of(Question)][:3] == [1, 2, 3]  # a typo is no answer: the same card waits
    assert [a.answer for a in store.attempts()] == ["offline and live migration", "c", "/etc/passwd is a file"]


def test_at_a_terminal_answers_span_lines_are_timed_and_one_key_rerates(store, deck):
    # A blank line before anything is typed is ignored; a blank line after it submits.
    user = ScriptedUser(["", "offline", "and live", "", "/quit"], keys=["2"], interactive=True)
    ticks = itertools.count(0.0, 3.0)  # every answer takes 3 s
    practise(store, deck, user, clock=lambda: next(ticks))
    assert user.prompts == ["> ", "> ", "… ", "… ", "> "]
    assert user.of(AnswerGraded)[0].answer == "offline\nand live"
    # Complete and within 5 s: Easy; then the key "2" overrules it.
    assert user.of(Rated)[0] == Rated(Rating.easy, "in 8 days")
    assert [r.rating for r in user.of(Rated)] == [Rating.easy, Rating.hard]
    [attempt] = store.attempts()
    assert (attempt.rating, attempt.rated_by, attempt.seconds) == (Rating.hard, "override", 3.0)
    assert user.notices()[0] == "Answer (empty line to submit; /skip /reveal /undo /suspend /bury /open /quit):"


@pytest.mark.parametrize(
    "keys, ratings, rated_by",
    [
        ([], [Rating.good], "grader"),  # end of input: the grader's rating stands
        (["\r"], [Rating.good], "grader"),  # any other key goes on
        (["3"], [Rating.good], "grader"),  # the same rating changes nothing
        (["1"], [Rating.good, Rating.again], "override"),
        (["a"], [Rating.good], "grader"),  # a letter goes on: it may be the next answer, typed early ("a process ...")
    ],
)
def test_the_rating_key(store, deck, keys, ratings, rated_by):
    user = ScriptedUser(["offline and live migration", "", "/quit"], keys=keys, interactive=True)
    ticks = itertools.count(0.0, 60.0)  # slow: Good, not Easy
    practise(store, deck, user, cards=[1, 3], clock=lambda: next(ticks))
    assert [r.rating for r in user.of(Rated)] == ratings
    assert store.attempts()[0].rated_by == rated_by


def test_the_rating_shown_and_its_key_say_the_same_interval(store, deck):
    # Hard on a new card is 5.5 min: counted from the review, never "in 5 min" beside the key "Hard 6 min".
    user = ScriptedUser(["isolation", "", "/quit"], keys=["\r"], interactive=True)
    practise(store, deck, user, cards=[3])
    assert user.of(Rated) == [Rated(Rating.hard, "in 6 min")]
    assert dict(user.of(RatingKeys)[0].preview)[Rating.hard] == "6 min"


def test_end_of_input_at_a_terminal_submits_what_was_typed(store, deck):
    user = ScriptedUser(["offline and live migration"], interactive=True)
    practise(store, deck, user, cards=[1, 3], clock=lambda: 0.0)
    assert [a.answer for a in store.attempts()] == ["offline and live migration"]
    assert [q.card.number for q in user.of(Question)] == [1, 3]  # the next card, then input is over
    assert len(user.of(Summary)) == 1


@pytest.mark.parametrize(
    "cards, keys, saved",
    [
        # The grader's rating: text typed ahead is no key ("offline" is not "other keys go on"); the 1 after it re-rates.
        ([1], ["offline\r\rand live", "1"], [(1, Verdict.partial, Rating.again, "override")]),
        # A self-rating: the text is said, not read as "c" nor answered "Press 1, 2, 3 or 4" and dropped.
        ([2], ["c was it\r", "c"], [(2, Verdict.self_graded, Rating.good, "user")]),
        # One key with its Enter (a line-buffered terminal's "4\r") and an arrow's escape sequence are keys.
        ([1], ["4\r"], [(1, Verdict.partial, Rating.easy, "override")]),
        ([1], ["\x1b[A"], [(1, Verdict.partial, Rating.hard, "grader")]),
    ],
)
def test_text_typed_ahead_of_the_rating_keys_is_said_and_the_keys_wait_on(store, deck, cards, keys, saved):
    """The text came in one read with the key, and was read as the key: "other keys go on", or "Press 1, 2, 3 or 4"."""
    user = ScriptedUser(["offline", "", "/quit"] if cards == [1] else ["", "/quit"], keys=list(keys), interactive=True)
    practise(store, deck, user, cards=cards)
    typed = [n for n in user.notices() if n.startswith("Typed ahead")]
    if len(keys) == 1:
        assert typed == []
    else:
        text = keys[0].strip()
        shown = " ↵ ".join(line.strip() for line in text.splitlines() if line.strip())
        assert typed == [f"Typed ahead and not used: “{shown}” ({len(text)} characters); the keys above wait for one."]
        assert "Press 1, 2, 3 or 4 (or c, p, i) for how you did." not in user.notices()
    assert attempts(store, deck) == saved


def test_at_a_terminal_a_self_graded_card_takes_one_key_like_the_rating_keys(store, deck):
    # Enter shows the image's answer; then one key rates it, as 1-4 do for any card: no Enter, no second question.
    user = ScriptedUser(["", "/quit"], keys=["z", "\r", "2"], interactive=True)
    practise(store, deck, user, cards=[2, 3])
    assert user.prompts == ["> ", "> "]
    assert user.notices()[:4] == [
        "The answer is an image: recall it (or type it), then press Enter to see it.",
        "Instead of an answer: /skip /reveal /undo /suspend /bury /open /quit",  # the commands work on an image card too
        "Press 1, 2, 3 or 4 (or c, p, i) for how you did.",
        "Press 1, 2, 3 or 4 (or c, p, i) for how you did.",
    ]
    assert user.of(Notice)[2].tone == "warning"
    assert user.of(Reference)[0].card.number == 2 and not user.of(AnswerGraded)
    [keys] = user.of(RatingKeys)  # only the self-rating: the user's own rating is not offered for change
    assert keys.self_rating and not keys.images  # img/architecture.png is not there: no key o to open it
    assert [(r.name, when) for r, when in keys.preview] == [("again", "1 min"), ("hard", "6 min"), ("good", "10 min"), ("easy", "8 d")]
    assert attempts(store, deck) == [(2, Verdict.self_graded, Rating.hard, "user")]
    assert [r.rating for r in user.of(Rated)] == [Rating.hard]


@pytest.mark.parametrize("keys", [["c"], ["p"], ["i"], ["3"]])
def test_a_self_rating_key_is_c_p_i_or_a_rating(store, deck, keys):
    expected = {"c": Rating.good, "p": Rating.hard, "i": Rating.again, "3": Rating.good}[keys[0]]
    user = ScriptedUser(["", "/quit"], keys=list(keys), interactive=True)
    practise(store, deck, user, cards=[2, 3])
    assert attempts(store, deck) == [(2, Verdict.self_graded, expected, "user")]


def test_a_self_graded_card_is_never_dropped_unsaid(store, deck):
    # Input ends where the rating was wanted: nothing is saved, and the user hears that the card is left as it was.
    user = ScriptedUser(["", "/quit"], keys=[], interactive=True)
    session = practise(store, deck, user, cards=[2, 3])
    assert store.attempts() == []
    assert [(o.number, o.verdict, o.skipped) for o in session.outcomes] == [(2, None, True)]
    assert "Not rated: card 2 is left as it was, for next time." in user.notices()
    [summary] = user.of(Summary)
    assert (summary.summary.asked, summary.summary.skipped) == (1, 1)


class FakeFeedback:
    """A feedback client whose model is always unreachable, or whose call the user interrupts."""

    def __init__(self, interrupt: bool = False):
        self.interrupt = interrupt
        self.asked: list[str] = []

    def feedback(self, card, answer, grade):
        self.asked.append(answer)
        if self.interrupt:
            raise KeyboardInterrupt
        return LLMResult(status="failed", notice="LLM feedback off: no server", model="m", prompt_version="v1")


def test_llm_feedback_is_saved_and_a_failure_notice_shown_once(store, deck):
    user = ScriptedUser(["offline", "c", "isolation"])
    feedback = FakeFeedback()
    practise(store, deck, user, feedback=feedback)
    assert feedback.asked == ["offline", "isolation"]  # the self-graded card is not sent
    assert user.waits == ["Asking the model…"] * 2
    assert [s.result.notice for s in user.of(ModelFeedback)] == ["LLM feedback off: no server"]
    assert [a.feedback and a.feedback["status"] for a in store.attempts()] == ["failed", None, "failed"]


def test_ctrl_c_while_the_model_thinks_keeps_the_graded_answer(store, deck):
    user = ScriptedUser(["offline and live migration", "isolation"])
    with pytest.raises(PracticeInterrupted):
        practise(store, deck, user, feedback=FakeFeedback(interrupt=True))
    assert attempts(store, deck) == [(1, Verdict.correct, Rating.good, "grader")]
    assert "\nInterrupted." in user.notices()
    [summary] = user.of(Summary)
    assert (summary.summary.asked, summary.summary.answered) == (1, 1)



@pytest.mark.parametrize("where", ["at the rating keys", "while the model thinks"])
def test_ctrl_c_after_an_answer_was_saved_does_not_say_nothing_was_saved(store, deck, where):
    """Ctrl-C at the rating keys, or while the model thought, ended 'Nothing answered, nothing saved.' under a summary
    that counted the answer, which was saved."""
    at_keys = where == "at the rating keys"
    user = ScriptedUser(["offline and live migration", ""], keys=[CTRL_C], interactive=at_keys)
    with pytest.raises(PracticeInterrupted):
        practise(store, deck, user, cards=[1, 3], feedback=None if at_keys else FakeFeedback(interrupt=True))
    assert [a.answer for a in store.attempts()] == ["offline and live migration"]
    assert user.notices()[-1].startswith("Saved to your history.")

def test_plan_says_what_the_daily_limit_holds_back(tmp_path, deck, utc_local_time):
    with Store.open(tmp_path / "history.db", settings=ScheduleSettings(new_per_day=1)) as store:
        user = ScriptedUser([])
        assert [c.number for _, c in PracticeSession(store, [deck], user, now=lambda: NOW).plan()] == [1]
    assert user.notices() == [
        "Migration: new deck, 3 cards",
        "Daily limits leave 2 new cards for later days (--new-limit, --review-limit).",
    ]


def test_plan_says_when_nothing_is_due(tmp_path, deck, utc_local_time):
    with Store.open(tmp_path / "history.db", settings=ScheduleSettings(new_per_day=0)) as store:
        user = ScriptedUser([])
        assert PracticeSession(store, [deck], user, now=lambda: NOW).plan() == []
        assert user.of(Notice)[-1] == Notice("Nothing is due now. Use --cram to practise anyway.", "plain")

        practise(store, deck, ScriptedUser(["offline and live migration", ""], interactive=True), cards=[1])  # fast: Easy
        later = ScriptedUser([])
        assert PracticeSession(store, [deck], later, now=lambda: NOW).plan() == []
        assert later.notices()[-1] == "Nothing is due now. The next card is due in 8 days. Use --cram to practise anyway."
        assert len(PracticeSession(store, [deck], later, cram=True, now=lambda: NOW).plan()) == 3


def test_plan_picks_cards_limits_and_shuffles_repeatably(store, deck):
    def numbers(**options) -> list[int]:
        return [c.number for _, c in PracticeSession(store, [deck], ScriptedUser([]), now=lambda: NOW).plan(**options)]

    assert numbers(picks="3,1") == [3, 1]
    assert numbers(limit=2) == [1, 2]
    shuffled = numbers(shuffle=True, seed=7)
    assert sorted(shuffled) == [1, 2, 3] and numbers(shuffle=True, seed=7) == shuffled


def test_a_seed_alone_shuffles_as_with_shuffle(isolated_env):
    """``--seed 7`` without ``--shuffle`` was silently ignored: the cards came in deck order. A seed asks for a
    repeatable shuffle and has no other use, so it implies one."""

    def order(*flags: str) -> list[str]:
        result = run_cli("practice", "--cram", *flags, input="/skip\n" * 18, env={"GRADER_HOME": str(isolated_env)})
        assert result.returncode == 0, result.stderr
        return re.findall(r"card (\d+) ─", result.stdout)

    shuffled = order("--shuffle", "--seed", "7")
    assert sorted(shuffled, key=int) != shuffled and len(shuffled) == 18
    assert order("--seed", "7") == shuffled


# --- A history another grader is writing to -----------------------------------------------------------

HOLDER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")  # as a long import does: the write lock, held
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("COMMIT")
"""


@contextmanager
def another_grader_writing(path, seconds: float):
    """A second process holding the history's write lock for ``seconds`` (killed, if still running, at the end)."""
    import subprocess
    import sys

    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), str(seconds)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        yield holder
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()


@pytest.fixture
def impatient(monkeypatch):
    import grader.session as session_module

    monkeypatch.setattr(session_module, "SAVE_FIRST_WAIT_SECONDS", 0.2)
    monkeypatch.setattr(session_module, "SAVE_PATIENCE_SECONDS", 1.5)


@pytest.mark.slow
def test_an_answer_waits_for_a_busy_history_and_is_saved(store, deck, impatient):
    """A session started before a long import used to lose the answer just graded ('database is locked', exit 1)."""
    user = ScriptedUser(["offline and live migration"])
    with another_grader_writing(store.path, 1.0) as holder:
        practise(store, deck, user, cards=[1])
        holder.wait(timeout=30)
    assert [a.answer for a in store.attempts()] == ["offline and live migration"]
    assert store.states([deck])  # and the card is scheduled
    busy = [n for n in user.notices() if "busy" in n]
    assert busy == ["History busy (another grader is writing to it): waiting to save. Ctrl-C stops."]
    assert user.of(Summary) and not (store.path.parent / "unsaved-answers.jsonl").exists()


class ImpatientUser(ScriptedUser):
    """Presses Ctrl-C as soon as grader says it is waiting."""

    @contextmanager
    def waiting(self, message: str):
        raise KeyboardInterrupt
        yield


@pytest.mark.slow
@pytest.mark.parametrize("ctrl_c", [False, True])
def test_an_answer_the_history_cannot_take_is_kept_in_a_file_that_imports(store, deck, impatient, ctrl_c):
    """Locked past the patience (or Ctrl-C while waiting): the answer goes to a file beside the history, said in one line."""
    from grader.errors import HistoryBusy
    from grader.history_file import import_file

    kept = store.path.parent / "unsaved-answers.jsonl"
    user = (ImpatientUser if ctrl_c else ScriptedUser)(["offline and live migration", "never asked"])
    with another_grader_writing(store.path, 60):
        with pytest.raises(PracticeInterrupted if ctrl_c else HistoryBusy) as exc:
            practise(store, deck, user, cards=[1, 3])
        assert store.attempts() == []  # nothing written: the other grader holds the history
    where = f"your answer is kept in {kept}; `grader history import {kept}` adds it"
    if ctrl_c:
        assert f"\nInterrupted while waiting for your history: {where}." in user.notices()
    else:
        assert str(exc.value) == f"{store.path}: cannot save to the practice history: another grader held it for over 1.5 s; {where}"
    [summary] = user.of(Summary)
    assert summary.summary.answered == 1 and len(user.of(Question)) == 1  # the sitting ended there
    merged = import_file(kept, history=store.path)
    assert (merged.attempts, merged.cards) == (1, 1)
    [attempt] = store.attempts()
    assert (attempt.answer, attempt.verdict, attempt.rating) == ("offline and live migration", Verdict.correct, Rating.good)
    assert store.states([deck])[(attempt.deck, attempt.card)] == attempt.state_after  # scheduled as if saved at once
    assert import_file(kept, history=store.path).duplicates == 1  # importing it again changes nothing


def test_a_sitting_that_saved_nothing_does_not_say_it_saved(store, deck):
    """A --cram sitting quit before any answer ended 'Saved to your history. 1 card is still due now'."""
    practise(store, deck, ScriptedUser(["no idea", "/quit"]))  # card 1: Again, due in a minute
    later = ticking_now()
    for lines in (["/quit"], ["/skip", "/quit"]):
        user = ScriptedUser(lines)
        PracticeSession(store, [deck], user, cram=True, now=lambda: later() + timedelta(minutes=5)).run([(deck, c) for c in deck.cards])
        assert user.notices()[-1] == "Nothing answered, nothing saved. 1 card is still due now; see `grader stats`."
    assert len(store.attempts()) == 1


@pytest.mark.slow
def test_a_rating_changed_while_the_history_is_locked_is_kept_in_a_file_that_imports(store, deck, impatient):
    """A rating key pressed during another grader's long import was lost: the sitting stopped with 'database is locked'."""
    from contextlib import ExitStack

    from grader.history_file import import_file

    kept = store.path.parent / "unsaved-answers.jsonl"
    with ExitStack() as lock:
        user = ScriptedUser(["offline and live migration", ""], keys=["1"], interactive=True)
        read_key = user.read_key

        def the_import_starts_then_the_key_is_pressed():
            lock.enter_context(another_grader_writing(store.path, 60))
            return read_key()

        user.read_key = the_import_starts_then_the_key_is_pressed
        practise(store, deck, user, cards=[1])
        [saved] = store.attempts()  # the answer itself, saved before the lock
        assert saved.rated_by == "grader" and saved.rating is not Rating.again
    assert f"History still busy: your rating (Again) is kept in {kept}; `grader history import {kept}` adds it." in user.notices()
    assert user.of(Rated)[-1].rating is Rating.again and user.of(Summary)  # the sitting went on
    merged = import_file(kept, history=store.path)
    assert (merged.attempts, merged.duplicates, merged.updated) == (0, 1, 1)
    [attempt] = store.attempts()
    assert (attempt.uid, attempt.rating, attempt.rated_by) == (saved.uid, Rating.again, "override")
    assert store.states([deck])[(attempt.deck, attempt.card)] == attempt.state_after  # rescheduled as the key said
    assert import_file(kept, history=store.path).updated == 0  # importing it again changes nothing



@contextmanager
def an_import_starts_at(user, path, line: int):
    """Another grader takes the history's write lock just before ``user`` types its ``line``-th line (from 0), until the block ends."""
    from contextlib import ExitStack

    with ExitStack() as lock:
        ask, typed = user.ask, itertools.count()

        def ask_once_locked(prompt):
            if next(typed) == line:
                lock.enter_context(another_grader_writing(path, 60))
            return ask(prompt)

        user.ask = ask_once_locked
        yield


@pytest.mark.slow
@pytest.mark.parametrize(
    "lines, locked_at, not_made, asked, set_aside, saved",
    [
        # /suspend or /bury while another grader imports: not made, said, and the same card is asked again.
        (["/suspend", "/quit"], 0, "card 1 is not suspended; the sitting goes on (/suspend again to retry)", [1, 1], [], []),
        (["/bury", "/quit"], 0, "card 1 is not buried; the sitting goes on (/bury again to retry)", [1, 1], [], []),
        # /undo of an answer: the answer stays saved, and the card on screen is asked again.
        (["no idea", "/undo", "/quit"], 1, "your answer of card 1 is not undone; the sitting goes on (/undo again to retry)", [1, 3, 3], [], [1]),
        # /undo of a suspension: the card stays suspended.
        (["/suspend", "/undo", "/quit"], 1, "your suspension of card 1 is not undone; the sitting goes on (/undo again to retry)", [1, 3, 3], [1], []),
    ],
)
def test_an_undo_suspend_or_bury_the_history_cannot_take_is_refused_and_the_sitting_goes_on(
    store, deck, impatient, lines, locked_at, not_made, asked, set_aside, saved
):
    """No export line can carry these (an undo deletes an attempt; an import takes a suspension only with a later
    review), so they cannot be kept aside; they stopped the sitting with HistoryBusy after the wait, the change lost unsaid."""
    store.sync([deck])
    number = {c.id: c.number for c in deck.cards}
    user = ScriptedUser(lines)
    with an_import_starts_at(user, store.path, locked_at):
        practise(store, deck, user, cards=[1, 3])
        assert [number[c.card] for c in store.cards() if c.suspended or c.buried_until] == set_aside
        assert [number[a.card] for a in store.attempts()] == saved
    assert f"History still busy: {not_made}." in user.notices()
    assert [q.card.number for q in user.of(Question)] == asked and not any("Undone" in n for n in user.notices())
    assert not (store.path.parent / "unsaved-answers.jsonl").exists()


@pytest.mark.slow
def test_ctrl_c_while_an_undo_waits_for_the_history_says_it_was_not_made(store, deck, impatient):
    user = ImpatientUser(["no idea", "/undo"])
    with an_import_starts_at(user, store.path, 1):
        with pytest.raises(PracticeInterrupted):
            practise(store, deck, user, cards=[1, 3])
        assert len(store.attempts()) == 1
    assert "\nInterrupted while waiting for your history: your answer of card 1 is not undone." in user.notices()
    assert user.of(Summary)


@pytest.mark.slow
def test_a_sitting_the_busy_history_will_not_let_start_ends_in_one_line(deck, impatient, isolated_env):
    """The decks' sync with the history, at the start of a sitting, waited as an answer does, then ended with
    'database is locked (another grader held it for over 0.03 s)': the last of its short waits, not the whole one."""
    history = isolated_env / "history.sqlite3"
    assert run_cli("practice", deck.path, "--cards", "1", input="/quit\n").returncode == 0
    with another_grader_writing(history, 60):
        result = run_cli("practice", deck.path, input="offline and live migration\n")
        assert Store.open(history, read_only=True).attempts() == []
    assert result.returncode == 1
    assert result.stdout == "History busy (another grader is writing to it): waiting to save. Ctrl-C stops.\n"
    assert result.stderr == (
        f"Error: {history}: cannot start practising: another grader held the practice history for over 1.5 s;"
        " nothing was asked or saved, so run it again once that grader is done\n"
    )


@pytest.mark.slow
@pytest.mark.parametrize("aside", [{"suspended": True}, {"buried_until": NOW + timedelta(hours=16)}])
def test_an_answer_brings_its_card_back_from_aside_in_the_same_write(store, deck, impatient, aside):
    """A card set aside and named with --cards was brought back by a second write after its answer was saved: an
    import starting between the two ended the sitting with HistoryBusy after the wait, without its summary, and the
    card stayed aside unsaid."""
    from contextlib import ExitStack

    store.sync([deck])
    store.set_aside(deck, deck.cards[0], **aside)
    with ExitStack() as lock:
        record = store.record_attempt

        def an_import_starts_once_the_answer_is_saved(*args, **kwargs):
            recorded = record(*args, **kwargs)
            lock.enter_context(another_grader_writing(store.path, 60))
            return recorded

        store.record_attempt = an_import_starts_once_the_answer_is_saved
        user = ScriptedUser(["offline and live migration"])
        session = PracticeSession(store, [deck], user, now=ticking_now())
        session.run(session.plan("1"))
        assert attempts(store, deck) == [(1, "correct", Rating.good, "grader")]
        assert store.held_back([deck], now=NOW) == {}
    assert "Card 1 is back in practice (it was set aside)." in user.notices() and user.of(Summary)
    assert not any("busy" in n for n in user.notices())


@pytest.mark.slow
def test_an_answer_kept_aside_brings_its_card_back_from_aside_when_imported(store, deck, impatient):
    """The history locked before the answer: neither the answer nor the card's return is written, and both are in the file."""
    from grader.errors import HistoryBusy
    from grader.history_file import import_file

    store.sync([deck])
    store.set_aside(deck, deck.cards[0], suspended=True)
    user = ScriptedUser(["offline and live migration"])
    session = PracticeSession(store, [deck], user, now=ticking_now())
    queue = session.plan("1")
    with another_grader_writing(store.path, 60):
        with pytest.raises(HistoryBusy):
            session.run(queue)
    assert store.held_back([deck], now=NOW) == {(deck.path, deck.cards[0].id): "suspended"}
    import_file(store.path.parent / "unsaved-answers.jsonl", history=store.path)
    assert attempts(store, deck) == [(1, "correct", Rating.good, "grader")]
    assert store.held_back([deck], now=NOW) == {}
