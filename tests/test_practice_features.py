"""What learners expect of a review tool, and the defects of issue 15, each held by a test.

Rating previews, /undo, /suspend, /bury, /open, card progress in ``grader
cards``, images resolved against their deck, honest mastery, folders with a
bad file, lint of every problem, the reference panel with images, and
untrusted text on the terminal (issue 11).
"""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import datetime, timedelta

import pytest

from grader import load_deck
from grader.models import Verdict
from grader.render import make_console, reference_panel
from grader.schedule import Rating, ScheduleSettings, describe_interval, preview
from grader.session import Notice, PracticeSession, Question, Rated, RatingKeys, Reference
from grader.stats import build_stats
from grader.store import MIGRATIONS, Store, deck_key

from .conftest import ROOT, SEED_DECK, run_cli
from .test_session import DECK, NOW, ScriptedUser, attempts, practise, ticking_now


@pytest.fixture
def deck(tmp_path):
    path = tmp_path / "migration.md"
    path.write_text(DECK, encoding="utf-8")
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "architecture.png").write_bytes(b"\x89PNG fake")
    return load_deck(path)


@pytest.fixture
def store(tmp_path, utc_local_time):
    with Store.open(tmp_path / "history.db") as store:
        yield store


# --- The reference panel with images (defect) ------------------------------------------


def words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z]+", text)


@pytest.mark.parametrize("number", [6, 8])
@pytest.mark.parametrize("width", [60, 80, 100, 140])
def test_the_reference_panel_keeps_every_word_in_order(seed_deck, number, width):
    card = seed_deck.cards[number - 1]
    console = make_console()
    with console.capture() as captured:
        console.width = width
        console.print(reference_panel(card))
    shown = " ".join(words(captured.get()))
    written = " ".join(words(re.sub(r"!?\[\]\([^)]*/([^/)]*)\)", r"[image: \1]", card.answer)))
    assert written in shown  # every word, in the author's order, the image where it stands


def test_an_image_stays_where_the_author_put_it(seed_deck):
    card = seed_deck.cards[5]  # text, then the image, then a note
    console = make_console()
    with console.capture() as captured:
        console.width = 200
        console.print(reference_panel(card))
    text = captured.get()
    assert text.index("supervisor mode") < text.index("[image: virt2.png]") < text.index("Note that")


def test_the_reference_panel_keeps_the_authors_line_breaks(seed_deck):
    card = seed_deck.cards[4]  # "...without interefering with the system \\" then "==Priviliged==:"
    console = make_console()
    with console.capture() as captured:
        console.width = 120
        console.print(reference_panel(card))
    lines = [line.strip("│ ") for line in captured.get().splitlines()]
    assert "Non priviliged: can be used without interefering with the system" in lines
    assert "Priviliged:" in lines


# --- Images -------------------------------------------------------------------------------


def test_images_resolve_against_the_deck_and_open_with_the_injected_viewer(store, deck, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # not the deck's folder
    opened: list[str] = []
    user = ScriptedUser(["/open", "c", "/open", "/quit"])
    session = PracticeSession(store, [deck], user, now=ticking_now(), opener=opened.append)
    session.run([(deck, deck.cards[1]), (deck, deck.cards[2])])
    assert opened == [str(tmp_path / "img" / "architecture.png")]
    [reference] = user.of(Reference)
    assert [(i.written, i.missing) for i in reference.images] == [("img/architecture.png", False)]
    # Before the answer is shown, /open (offered by the prompt) said "No image to open": the image is the answer's, not the question's.
    assert user.of(Notice)[0] == Notice("Not yet: card 2's image is part of its answer, shown once you press Enter; /open opens it then.", "warning")


@pytest.mark.parametrize("there", [True, False])
def test_the_key_o_is_offered_only_for_an_image_there_to_open(store, deck, tmp_path, there):
    if not there:
        (tmp_path / "img" / "architecture.png").unlink()
    opened: list[str] = []
    user = ScriptedUser(["", "/quit"], keys=["o", "c"], interactive=True)
    session = PracticeSession(store, [deck], user, now=ticking_now(), opener=opened.append)
    session.run([(deck, deck.cards[1]), (deck, deck.cards[2])])
    [keys] = user.of(RatingKeys)
    assert keys.images is there
    assert opened == ([str(tmp_path / "img" / "architecture.png")] if there else [])
    assert attempts(store, deck) == [(2, Verdict.self_graded, Rating.good, "user")]


def test_a_missing_image_is_said_in_practice_and_in_lint(tmp_path):
    path = tmp_path / "deck.md"
    path.write_text(DECK)
    result = run_cli("lint", str(path))
    assert result.returncode == 1
    assert f"{path}:9: image not found: img/architecture.png (looked in {tmp_path / 'img' / 'architecture.png'})" in result.stdout
    practised = run_cli("practice", str(path), "--cards", "2", input="c\n")
    assert "Image missing: img/architecture.png" in practised.stdout


# --- Rating previews, undo, suspend, bury ---------------------------------------------------


def test_the_rating_keys_preview_each_interval_for_this_card(store, deck):
    user = ScriptedUser(["offline and live migration", "", "/quit"], keys=["x"], interactive=True)
    ticks = iter(range(0, 1000, 60))
    practise(store, deck, user, cards=[1, 3], clock=lambda: next(ticks))
    [keys] = user.of(RatingKeys)
    expected = preview(None, now=NOW, settings=ScheduleSettings())
    assert [(r, when) for r, when in keys.preview] == [(r, describe_interval(due, now=NOW)) for r, due in expected.items()]
    assert [when for _, when in keys.preview] == ["1 min", "6 min", "10 min", "8 d"]
    assert not keys.self_rating and not keys.images


def test_undo_takes_back_the_answer_and_its_schedule(store, deck):
    user = ScriptedUser(["no idea", "/undo", "offline and live migration", "/quit"])
    session = practise(store, deck, user, cards=[1, 3])
    assert [q.card.number for q in user.of(Question)] == [1, 3, 1, 3]
    assert attempts(store, deck) == [(1, "correct", Rating.good, "grader")]  # the wrong answer is gone
    assert [(q.position, q.total, q.repeats) for q in user.of(Question)] == [(1, 2, 0), (2, 3, 1), (1, 2, 0), (2, 3, 1)]
    assert "Undone: your answer of card 1 (its schedule is as it was). Here it is again." in user.notices()
    assert [o.number for o in session.outcomes] == [1]
    [(_, state)] = store.states([deck]).items()
    assert state.reps == 1  # one review, not two


def test_undo_with_nothing_to_undo_says_so(store, deck):
    user = ScriptedUser(["/undo", "/quit"])
    practise(store, deck, user, cards=[1])
    assert user.of(Notice)[0] == Notice("Nothing to undo in this session.", "warning")


def test_suspend_and_bury_are_stored_and_undone(tmp_path, deck, utc_local_time):
    with Store.open(tmp_path / "h.db") as store:
        user = ScriptedUser(["/suspend", "/bury", "/undo", "/quit"])
        PracticeSession(store, [deck], user, now=lambda: NOW).run([(deck, c) for c in deck.cards])
        held = store.held_back([deck], now=NOW)
        assert list(held.values()) == ["suspended"]  # the burial was undone
        assert [n for n in user.notices() if n.startswith(("Suspended", "Buried"))] == [
            "Suspended: card 1 is left out of practice until you ask for it (--cards 1). /undo takes it back.",
            "Buried: card 2 waits until tomorrow (in 16 h). /undo takes it back.",
        ]
        PracticeSession(store, [deck], ScriptedUser([]), now=lambda: NOW).run([(deck, deck.cards[1])])
        store.set_aside(deck, deck.cards[1], buried_until=NOW + timedelta(hours=16))
        planner = ScriptedUser([])
        plan = PracticeSession(store, [deck], planner, now=lambda: NOW).plan()
        assert [c.number for _, c in plan] == [3]
        assert "1 suspended and 1 buried cards left out (--cards N asks one anyway)." in planner.notices()
        tomorrow = PracticeSession(store, [deck], ScriptedUser([]), now=lambda: NOW + timedelta(days=1)).plan()
        assert [c.number for _, c in tomorrow] == [2, 3]
        # Named with --cards, a suspended card is asked, and answering brings it back.
        named = ScriptedUser(["offline and live", "/quit"])
        session = PracticeSession(store, [deck], named, now=lambda: NOW)
        session.run(session.plan("1"))
        assert "Card 1 is back in practice (it was set aside)." in named.notices()
        assert store.held_back([deck], now=NOW + timedelta(days=1)) == {}


def test_the_schema_migrates_and_export_carries_what_was_set_aside(tmp_path, deck, utc_local_time):
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    for sql in MIGRATIONS[0]:
        db.execute(sql)
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    with Store.open(path) as store:
        assert store._db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) >= 2
        store.sync([deck])
        store.set_aside(deck, deck.cards[0], suspended=True)
        [card] = [c for c in store.cards() if c.card == deck.cards[0].id]
        assert card.suspended and card.buried_until is None
    exported = run_cli("history", "export", env={"GRADER_HOME": str(tmp_path)})
    assert exported.returncode == 0


# --- The session's words --------------------------------------------------------------------


@pytest.mark.parametrize(
    "picks, message",
    [
        ("3-1", "'3-1' runs backwards; write the smaller number first (1-3)"),
        ("0", "'0' is outside 1-18"),
        # These named no card, and the sitting said "Nothing is due now. Use --cram to practise anyway."
        (",", "',' names no card; give numbers, ranges or ids, e.g. '1,3,5-7'"),
        ("", "'' names no card; give numbers, ranges or ids, e.g. '1,3,5-7'"),
    ],
)
def test_bad_picks_are_told_before_anything_else(picks, message):
    result = run_cli("practice", "--cards", picks, input="")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"Error: --cards: {message}\n"


def test_picks_over_several_decks_take_an_id_from_its_deck_and_name_the_deck_a_number_is_outside(tmp_path, deck, utc_local_time):
    """With a folder of decks, a card's id (as `grader cards` lists it) was refused as 'neither a card number, a
    range nor a card id' by every other deck, and a number past a short deck's end did not say which deck."""
    from grader.errors import GraderError

    other_path = tmp_path / "other.md"
    other_path.write_text(DECK.split("2. <details")[0].replace("# Migration", "# Other").replace("two kinds", "2 kinds"), encoding="utf-8")
    other = load_deck(other_path)
    with Store.open(tmp_path / "history.db") as store:
        session = PracticeSession(store, [deck, other], ScriptedUser([]), now=lambda: NOW)
        picked = session.plan(f"{deck.cards[2].id},{other.cards[0].id}")
        assert [(d.title, c.number) for d, c in picked] == [("Migration", 3), ("Other", 1)]
        assert [(d.title, c.number) for d, c in session.plan("1")] == [("Migration", 1), ("Other", 1)]
        with pytest.raises(GraderError) as refused:
            session.plan("2")
    assert str(refused.value) == f"{other_path}: --cards: '2' is outside 1-1"


def test_suspending_with_several_decks_names_the_card_by_its_id(tmp_path, deck, utc_local_time):
    """With several decks the notice said '--cards 1', which asks card 1 of every deck: its id names the one card."""
    other_path = tmp_path / "other.md"
    other_path.write_text(DECK.replace("# Migration", "# Other").replace("two kinds", "2 kinds"), encoding="utf-8")
    other = load_deck(other_path)
    with Store.open(tmp_path / "history.db") as store:
        user = ScriptedUser(["/suspend", "/quit"])
        PracticeSession(store, [deck, other], user, now=lambda: NOW).run([(other, other.cards[0])])
        said = f"Suspended: card 1 is left out of practice until you ask for it (--cards {other.cards[0].id}). /undo takes it back."
        assert said in user.notices()
        named = PracticeSession(store, [deck, other], ScriptedUser([]), now=lambda: NOW).plan(other.cards[0].id)
        assert [(d.title, c.number) for d, c in named] == [("Other", 1)]


def test_the_progress_total_says_why_it_grows(store, deck):
    user = ScriptedUser(["no idea", "no idea", "/quit"])
    practise(store, deck, user, cards=[1, 3])
    console = make_console()
    from grader.render import practice_view

    with console.capture() as captured:
        for q in user.of(Question):
            console.print(practice_view(q))
    assert [(q.position, q.total, q.repeats) for q in user.of(Question)] == [(1, 2, 0), (2, 3, 1), (3, 4, 2)]
    assert "2/3 (incl. 1 repeat)" in captured.get() and "3/4 (incl. 2 repeats)" in captured.get()


@pytest.mark.parametrize("width", [40, 60, 120])
def test_a_long_deck_title_is_cut_before_the_card_number(deck, width):
    from grader.render import practice_view

    console = make_console()
    with console.capture() as captured:
        console.width = width
        console.print(practice_view(Question("Faster protocols to handle mutual exclusion", deck.cards[1], 1, 3)))
    title = captured.get().splitlines()[0]
    assert title.startswith("╭─ Faster") and "· card 2 ─" in title and len(title) == width


@pytest.mark.parametrize("width", [30, 40, 120])
@pytest.mark.parametrize("self_rating", [False, True])
def test_the_rating_keys_wrap_between_keys_never_inside_one(width, self_rating):
    from grader.render import practice_view

    keys = RatingKeys(((Rating.again, "1 min"), (Rating.hard, "6 min"), (Rating.good, "10 min"), (Rating.easy, "8 d")), self_rating, True)
    console = make_console()
    with console.capture() as captured:
        console.width = width
        console.print(practice_view(keys))
    items = [item for line in captured.get().splitlines() for item in line.rstrip().split(" · ")]
    assert items == [
        "How did you do?  1 Again 1 min" if self_rating else "1 Again 1 min", "2 Hard 6 min", "3 Good 10 min", "4 Easy 8 d", "o open the image",
        *([] if self_rating else ["other keys go on"]),
    ]  # fmt: skip


# --- Mastery ------------------------------------------------------------------------------


def test_mastery_is_not_high_right_after_first_learning(store, deck):
    practise(store, deck, ScriptedUser(["offline and live migration", "isolation, portability and consolidation"]), cards=[1, 3])
    report = build_stats(store.cards(), store.reviews(), now=NOW + timedelta(minutes=11), settings=store.settings)
    [d] = report.decks
    assert 0 < d.mastery < 0.15  # recalled now, but nothing is stable yet (plain recall now would read 1.0)
    states = [c.state for c in store.cards() if c.state]
    later = max(s.due for s in states) + timedelta(days=400)
    from grader.stats import card_mastery

    mature = states[0].model_copy(update={"stability": 60.0, "last_review": later - timedelta(days=1), "due": later})
    assert card_mastery(mature, now=later, settings=store.settings) > 0.9


# --- grader cards with the history ------------------------------------------------------


def test_cards_shows_due_last_grade_and_lapses(tmp_path):
    deck = tmp_path / "deck.md"
    deck.write_text(DECK)
    run_cli("practice", str(deck), "--cards", "1,3", input="offline and live migration\nno idea\n")
    listed = [json.loads(line) for line in run_cli("cards", str(deck), "--json").stdout.splitlines()]
    old_fields = {"id", "number", "question", "key_terms", "derived_terms", "gradable", "images", "line"}
    assert old_fields < set(listed[0])
    assert [(c["last_verdict"], c["phase"], c["lapses"], c["reviews"]) for c in listed] == [
        ("correct", "learning", 0, 1), (None, "new", 0, 0), ("incorrect", "learning", 0, 1),
    ]  # fmt: skip
    assert listed[0]["due"] and listed[1]["due"] is None and listed[0]["suspended"] is False
    due = run_cli("cards", str(deck), "--due", "--json").stdout.splitlines()
    assert [json.loads(line)["number"] for line in due] == [1, 3]  # both learning, due within 20 min; the new card is not due
    table = run_cli("cards", str(deck)).stdout
    assert "due" in table and "lapses" in table and "incorrect" in table and "new" in table


def test_cards_lists_a_card_suspended_before_it_was_ever_answered_as_suspended(tmp_path):
    """``/suspend`` on a new card: ``cards`` said "new" in its due column (``--json`` said suspended), so nothing
    the table showed told why practice never asked it; a buried new card already said "buried"."""
    deck = tmp_path / "deck.md"
    deck.write_text(DECK)
    run_cli("practice", str(deck), "--cards", "1,2", input="/suspend\n/bury\n")
    lines = run_cli("cards", str(deck)).stdout.splitlines()
    due = [dict(zip(lines[0].split("\t"), line.split("\t")))["due"] for line in lines[1:]]
    assert due[0] == "suspended" and due[1].startswith("buried, ") and due[2] == "new"


def test_cards_due_are_the_cards_practice_would_ask_by_the_users_settings(tmp_path, isolated_env):
    """``cards --due`` judged "due now" by the default settings, whatever settings.toml said: with learn-ahead off,
    it listed the learning cards due in minutes, which practice does not ask yet ("Nothing is due now")."""
    deck = tmp_path / "deck.md"
    deck.write_text(DECK)
    (isolated_env / "settings.toml").write_text("[practice]\nlearn_ahead_minutes = 0\n")
    run_cli("practice", str(deck), "--cards", "1,3", input="offline and live migration\nno idea\n")
    assert "Nothing is due now" in run_cli("practice", str(deck), "--new-limit", "0", input="").stdout
    due = run_cli("cards", str(deck), "--due", "--json")
    assert (due.returncode, due.stdout) == (0, "")
    (isolated_env / "settings.toml").write_text("[practice]\nlearn_ahead_minutes = 20\n")  # the default: both are due
    assert [json.loads(line)["number"] for line in run_cli("cards", str(deck), "--due", "--json").stdout.splitlines()] == [1, 3]


def test_cards_due_at_a_terminal_with_nothing_due_says_so(tmp_path):
    """At a terminal ``cards --due`` with nothing due drew an empty table, its columns squeezed to "id", "question"
    and no word of why; piped it stays the header alone, for scripts."""
    import os
    import sys

    import pexpect

    deck = tmp_path / "deck.md"
    deck.write_text(DECK)
    args = ["-m", "grader", "cards", str(deck), "--due"]
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "80"}
    shown, code = pexpect.run(sys.executable, args=args, env=env, encoding="utf-8", timeout=60, withexitstatus=True)
    assert code == 0 and shown.strip() == "No card of Migration is due now; see `grader stats` for when cards come due."
    piped = run_cli("cards", str(deck), "--due")
    assert (piped.returncode, piped.stdout.splitlines()) == (0, ["#\tid\tquestion\tkey terms\tgraded\tdue\tlast\tlapses"])
    run_cli("practice", str(deck), "--cards", "1", input="no idea\n")
    listed = pexpect.run(sys.executable, args=args, env=env, encoding="utf-8", timeout=60)
    assert "due now" not in listed and "now" in listed.split() and "new" not in listed.split()  # card 1, due again in minutes


def test_cards_says_a_card_is_due_when_practice_would_ask_it(tmp_path, isolated_env, utc_local_time, monkeypatch):
    """``cards`` showed FSRS's due time, while practice (and ``cards --due``) asks a learning card up to its
    learn-ahead early and a review card from the start of its study day: a learning card read "in 10 min" that
    practice asked in 5, and a review card due at noon read "in 6 h" at six in the morning, when practice asks it."""
    import grader.cli
    from grader.store import default_path

    path = tmp_path / "migration.md"
    path.write_text(DECK, encoding="utf-8")
    deck = load_deck(path)
    (isolated_env / "settings.toml").write_text("[practice]\nlearn_ahead_minutes = 5\n")
    with Store.open(default_path()) as store:
        practise(store, deck, ScriptedUser(["offline and live migration", ""], keys=["4"], interactive=True), cards=[1])  # Easy
        practise(store, deck, ScriptedUser(["isolation, portability and consolidation"]), cards=[3])  # Good: in 10 min

    def listed(now: datetime) -> tuple[dict[int, str], list[int], dict[int, dict]]:
        """The due column of ``cards``, the cards ``cards --due`` lists and the records of ``cards --json``, at ``now``."""
        monkeypatch.setattr(grader.cli, "_now", lambda: now)
        lines = run_cli("cards", str(path)).stdout.splitlines()
        column = lines[0].split("\t").index("due")
        due = [json.loads(line)["number"] for line in run_cli("cards", str(path), "--due", "--json").stdout.splitlines()]
        records = {r["number"]: r for r in map(json.loads, run_cli("cards", str(path), "--json").stdout.splitlines())}
        return {int(line.split("\t")[0]): line.split("\t")[column] for line in lines[1:]}, due, records

    _, _, records = listed(NOW)
    assert [records[n]["phase"] for n in (1, 2, 3)] == ["review", "new", "learning"]
    learning, review = (datetime.fromisoformat(records[n]["due"]) for n in (3, 1))
    assert (learning - NOW).total_seconds() // 60 == 10 and review.hour == 12  # FSRS's due times, kept in "due"
    moments = [
        (NOW + timedelta(minutes=1), {3: "in 4 min"}),  # asked 5 min before its due time
        (NOW + timedelta(minutes=6), {3: "now"}),  # 4 min before it: practice asks it now
        (review - timedelta(hours=9), {1: "in 1 h", 3: "now"}),  # 03:00: its study day starts at 04:00
        (review - timedelta(hours=6), {1: "now", 3: "now"}),  # 06:00: its study day has begun
    ]
    for now, expected in moments:
        cells, due, records = listed(now)
        assert {n: cells[n] for n in expected} == expected and cells[2] == "new"
        assert due == [n for n in (1, 2, 3) if cells[n] == "now"]  # the due column and --due agree
        # --json keeps FSRS's due and says when practice will ask the card.
        assert records[3]["next_asked"] == (learning - timedelta(minutes=5)).isoformat() and records[2]["next_asked"] is None


def test_cards_creates_no_history(tmp_path, isolated_env):
    run_cli("cards", str(SEED_DECK))
    assert not (isolated_env / "history.sqlite3").exists()


# --- Folders with a bad file, and lint of every problem ------------------------------------


def test_practice_warns_about_a_bad_file_in_a_folder_and_goes_on(tmp_path):
    (tmp_path / "config.yml").write_text("theme: [dark\n")
    (tmp_path / "deck.md").write_text(DECK)
    result = run_cli("practice", str(tmp_path), "--cards", "1", input="offline and live\n")
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith(f"Warning: {tmp_path / 'config.yml'}:2: invalid YAML")
    assert "(left out)" in result.stderr and "CORRECT" in result.stdout
    named = run_cli("practice", str(tmp_path / "config.yml"), input="")
    assert named.returncode == 1 and named.stderr.startswith("Error: ")  # named directly, it is still an error


def test_lint_reports_every_problem_in_every_file(tmp_path):
    (tmp_path / "config.yml").write_text("theme: [dark\n")
    (tmp_path / "cards.yaml").write_text("cards:\n- question: q\n  answr: typo\n- answer: no question\n- question: fine\n")
    (tmp_path / "deck.md").write_text(DECK)
    result = run_cli("lint", str(tmp_path))
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{tmp_path / 'cards.yaml'}:3: cards.0.answr: unknown field: did you mean 'answer'? (a card's fields are question, answer, key_terms, required, reference_answers)",
        f"{tmp_path / 'cards.yaml'}:4: cards.1.question: Field required",  # the card without a question is on line 4
        f"{tmp_path / 'config.yml'}:2: invalid YAML: expected ',' or ']', but got '<stream end>'",
        f"{tmp_path / 'config.yml'}:1: cards: Field required" if False else f"{tmp_path / 'deck.md'}:9: card answer is only an image (and a note): it can only be self-graded",
        f"{tmp_path / 'deck.md'}:9: image not found: img/architecture.png (looked in {tmp_path / 'img' / 'architecture.png'})",
    ]


def test_lint_accepts_the_readme_yaml_example(tmp_path):
    readme = (ROOT / "README.md").read_text()
    example = re.search(r"```yaml\n(title: Networking.*?)```", readme, re.DOTALL).group(1)
    path = tmp_path / "networking.yaml"
    path.write_text(example)
    result = run_cli("lint", str(path))
    assert (result.returncode, result.stdout) == (0, "")


def test_lint_of_the_readme_ignores_its_code_examples():
    result = run_cli("lint", str(ROOT / "README.md"))
    assert result.stdout == f"{ROOT / 'README.md'}:1: deck has no cards (no <details> blocks found, and no Obsidian or Logseq flashcards)\n"


# --- Small things --------------------------------------------------------------------------


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0 and re.fullmatch(r"grader \d+\.\d+\.\d+.*\n", result.stdout)


def test_eval_compare_has_its_own_help_and_usage():
    result = run_cli("eval", "compare", "--help")
    assert result.returncode == 0
    assert "eval compare [OPTIONS] {A.json} {B.json}" in result.stdout and "Compare two saved evaluation runs" in result.stdout
    assert "DATA.jsonl" not in result.stdout
    top = run_cli("eval", "--help").stdout
    assert re.search(r"Usage: .*grader eval \[OPTIONS\] \[DATA.jsonl\]\n +.*grader eval compare A.json B.json \[--json\]", top)


def test_an_empty_comparison_says_so():
    from grader.evaluation.compare import Comparison
    from grader.evaluation.terminal import comparison_terminal

    empty = Comparison(a="a.json", b="b.json", same_data=True, primary_task=None, deltas=[], flips=[], only_in_a=0, only_in_b=0)
    console = make_console()
    with console.capture() as captured:
        for part in comparison_terminal(empty):
            console.print(part)
    assert captured.get() == (
        "The two runs share no metric to compare (different tasks or systems).\n"
        "No answer changed its verdict or calibrated prediction.\n"
    )


def test_the_eval_table_is_not_cut_at_80_columns():
    result = run_cli("eval", env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    assert all(len(line) <= 80 for line in result.stdout.splitlines())
    for header in ("accuracy", "macro-F1", "Cohen κ", "QWK"):
        assert header in result.stdout


def test_the_readme_tour_is_what_practice_prints(tmp_path):
    readme = (ROOT / "README.md").read_text()
    tour = re.search(r"```text\n\$ grader practice --cards 3\n(.*?)```", readme, re.DOTALL).group(1)
    answer = re.search(r"^> (.+)$", tour, re.MULTILINE).group(1)
    result = run_cli("practice", "--cards", "3", input=answer + "\n", env={"COLUMNS": "80"})
    printed = [line.rstrip() for line in result.stdout.splitlines()]
    for line in tour.splitlines():
        if line.startswith((">", "…", "Answer (", "1 Again")) or not line.strip():
            continue  # prompts and keys only a terminal shows
        assert line.rstrip() in printed, line


def test_the_readme_grade_tour_is_what_grade_prints(tmp_path):
    """The tour's answers file, graded: each row's card, student, score, verdict and terms as the README shows them
    (the answer column is left out: its width follows the terminal's)."""
    readme = (ROOT / "README.md").read_text()
    tour = re.search(r"```text\n\$ cat answers.csv\n(.*?)\$ grader grade (\S+) answers.csv\n(.*?)```", readme, re.DOTALL)
    (tmp_path / "answers.csv").write_text(tour.group(1))
    result = run_cli("grade", str(ROOT / tour.group(2)), str(tmp_path / "answers.csv"))
    assert result.returncode == 0, result.stderr

    def cells(table: str) -> list[list[str]]:
        rows = [re.split(r" {2,}", line.strip()) for line in table.splitlines()]
        return [row[:5] + row[6:] for row in rows]

    shown = cells(tour.group(3))
    assert len(shown) == 5 and cells(result.stdout) == shown


# --- Untrusted text on the terminal (issue 11) ----------------------------------------------

HOSTILE_DECK = """# Arrays [/x] notes [bold]

1. <details markdown=1><summary markdown="span"> What is [red]an array[/red] \x1b]0;pwned\x07? </summary>

    A ==contiguous block== of memory. [/notes]

</details>
"""


def test_markup_and_escapes_from_a_deck_reach_the_terminal_as_text(tmp_path):
    path = tmp_path / "arrays.md"
    path.write_text(HOSTILE_DECK)
    for args, stdin in ((["practice", str(path)], "contiguous block\n"), (["cards", str(path)], None), (["stats", str(path)], None)):
        result = run_cli(*args, input=stdin, env={"COLUMNS": "200"})
        assert result.returncode == 0, (args, result.stderr)
        assert "\x1b" not in result.stdout and "pwned\x07" not in result.stdout
    practised = run_cli("practice", str(path), "--cram", input="contiguous block \x1b[2J\x1b]52;c;aGk=\x07 of memory\n", env={"COLUMNS": "200"})
    assert "Arrays [/x] notes [bold]" in practised.stdout and "[red]an array[/red]" in practised.stdout
    assert "[/notes]" in practised.stdout
    assert "\x1b" not in practised.stdout
    history = run_cli("history", "export").stdout
    assert "\\u001b[2J" in history  # stored as typed: only the display is cleaned


def test_clean_strips_every_kind_of_escape():
    from grader.display import clean, clean_same_length

    assert clean("a\x1b[31mred\x1b[0m \x1b]0;title\x07b \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\ \x9b2J c\x07\x08\r") == "ared b link  c"
    assert clean("tab\tand\nnewline") == "tab\tand\nnewline"
    assert clean_same_length("ab\x1b[Dc") == "ab\ufffd[Dc"


def test_an_error_line_carries_no_escape_from_the_file(tmp_path):
    answers = tmp_path / "a.jsonl"
    answers.write_text('{"card": "x\\u001b]0;pwned\\u0007\\u001b[2J", "answer": "a"}\n')
    result = run_cli("grade", str(SEED_DECK), str(answers))
    assert result.returncode == 1 and "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert result.stderr.startswith(f"Error: {answers}:1: card 'x")



@pytest.mark.parametrize("aside", [{"suspended": True}, {"buried_until": NOW + timedelta(hours=16)}])
def test_undo_of_an_answer_to_a_card_set_aside_sets_it_aside_again(store, deck, aside):
    """Answering a card set aside and named with --cards brings it back; /undo took the answer back but not that,
    so the card stayed in practice, its suspension or burial lost with the only answer that had ended it."""
    store.sync([deck])
    store.set_aside(deck, deck.cards[0], **aside)
    before = [c for c in store.cards() if c.card == deck.cards[0].id]
    user = ScriptedUser(["offline and live migration", "/undo", "/quit"])
    session = PracticeSession(store, [deck], user, now=ticking_now())
    session.run(session.plan("1"))
    assert attempts(store, deck) == []
    assert [c for c in store.cards() if c.card == deck.cards[0].id] == before
    # Asked again after the undo, answering it brings it back once more.
    user = ScriptedUser(["offline and live migration", "/undo", "offline and live migration", "/quit"])
    session = PracticeSession(store, [deck], user, now=ticking_now())
    session.run(session.plan("1"))
    assert attempts(store, deck) == [(1, "correct", Rating.good, "grader")]
    assert store.held_back([deck], now=NOW) == {}
    assert user.notices().count("Card 1 is back in practice (it was set aside).") == 2


def test_undo_of_an_answer_another_sitting_answered_since_is_refused_in_one_line(tmp_path, deck, utc_local_time):
    """Sitting A answers card 1, sitting B (another process, same history) answers it too, then A types /undo. The
    undo deleted A's answer but kept B's schedule, computed from the answer deleted, and told A "its schedule is as
    it was". It is refused now: both answers stay, B's schedule stands, and the line says why."""
    path = tmp_path / "history.db"

    class OtherSittingAnswers(ScriptedUser):
        def ask(self, prompt):
            if self.lines and self.lines[0] == "/undo":  # between A's answer and its /undo, B answers the same card
                with Store.open(path) as other:
                    PracticeSession(other, [deck], ScriptedUser(["isolation"]), now=lambda: NOW + timedelta(minutes=5)).run([(deck, deck.cards[0])])
            return super().ask(prompt)

    with Store.open(path) as store:
        user = OtherSittingAnswers(["offline and live migration", "/undo", "/quit"])
        practise(store, deck, user, cards=[1, 3])
        states = store.states([deck])
        assert attempts(store, deck) == [(1, "correct", Rating.good, "grader"), (1, "incorrect", Rating.again, "grader")]
        [later] = [a for a in store.attempts() if a.verdict is Verdict.incorrect]
    assert states[deck_key(deck), deck.cards[0].id] == later.state_after  # B's schedule stands, and it follows A's answer
    assert Notice(
        "Not undone: card 1 was answered again since, in another sitting, and its schedule follows that answer;"
        " your answer stays saved.", "warning"
    ) in user.shown
    assert not any(text.startswith("Undone") for text in user.notices())
    assert [q.card.number for q in user.of(Question)] == [1, 3, 3]  # the sitting goes on: the card on screen is asked again


def test_a_rating_key_for_an_answer_another_sitting_answered_since_is_refused_as_undo_is(tmp_path, deck, utc_local_time):
    """Sitting A answers card 1, sitting B answers it too while A's rating keys wait, then A presses 1 (Again). The
    override re-rated A's answer under B's, whose schedule was computed from it, and showed A "Rated Again · next
    review in 1 min", a schedule the card did not have (B's stood). It is refused now, as /undo is: nothing changes,
    and one line says why."""
    path = tmp_path / "history.db"

    class OtherSittingAnswers(ScriptedUser):
        def read_key(self):
            if self.keys == ["1"]:  # between A's answer and its rating key, B answers the same card
                with Store.open(path) as other:
                    PracticeSession(other, [deck], ScriptedUser(["isolation"]), now=lambda: NOW + timedelta(minutes=5)).run([(deck, deck.cards[0])])
            return super().read_key()

    with Store.open(path) as store:
        user = OtherSittingAnswers(["offline and live migration", "", "/quit"], keys=["1"], interactive=True)
        practise(store, deck, user, cards=[1, 3])
        states = store.states([deck])
        assert attempts(store, deck) == [(1, "correct", Rating.easy, "grader"), (1, "incorrect", Rating.again, "grader")]
        [later] = [a for a in store.attempts() if a.verdict is Verdict.incorrect]
    assert states[deck_key(deck), deck.cards[0].id] == later.state_after
    assert [r.rating for r in user.of(Rated)] == [Rating.easy]  # complete and quick: Easy, and it stays
    assert Notice(
        "Not re-rated: card 1 was answered again since, in another sitting, and its schedule follows that answer;"
        " your rating stays Easy.", "warning"
    ) in user.shown
