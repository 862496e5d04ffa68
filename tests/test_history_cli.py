"""``grader stats``, ``grader history`` and the practice schedule, run as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import SEED_DECK, run_cli

DECK = str(SEED_DECK)
CARD_3 = "sharing, aggregation, emulation, isolation\n"  # a correct answer to card 3 of the seed deck


def test_stats_without_history():
    result = run_cli("stats")
    assert result.returncode == 0, result.stderr
    assert "Due today: 0" in result.stdout and "No answers in your history yet" in result.stdout


def test_practice_follows_the_daily_new_card_limit(isolated_env):
    (isolated_env / "settings.toml").write_text("[practice]\nnew_per_day = 1\n")
    first = run_cli("practice", DECK, input="anything\n" * 5)
    assert first.returncode == 0, first.stderr
    assert "Daily limits leave 17 new cards for later days" in first.stdout
    assert first.stdout.count("Rated Again") >= 1
    # The one new card of the day was failed: it is in learning, due within minutes, and
    # the only card offered; the flag overrides the settings file.
    again = run_cli("practice", DECK, "--new-limit", "0", input="/quit\n")
    assert "What are 3 main characteristics" in again.stdout and "card 2" not in again.stdout


def test_nothing_due_says_when_and_how_to_cram():
    result = run_cli("practice", DECK, "--new-limit", "0", input="")
    assert result.returncode == 0
    assert "Nothing is due now. Use --cram to practise anyway." in result.stdout


def test_bad_practice_settings_are_one_line_errors(isolated_env):
    settings = isolated_env / "settings.toml"
    settings.write_text("[practice]\nnew_cards = 3\n")
    result = run_cli("practice", DECK, input="")
    assert (result.returncode, result.stderr) == (1, f"Error: {settings}:2: [practice] has no setting 'new_cards'\n")


SEED_ANSWERS = str(SEED_DECK.parent.parent / "eval" / "seed_dev.jsonl")


@pytest.mark.parametrize(
    "argv, file_text, code, said",
    [
        # A bad [practice] table stopped practice and stats and was never heard of in grade, which does not read it.
        (["grade", DECK, SEED_ANSWERS, "--json", "--match", "keyword", "--jobs", "1"], "[practice]\nnew_cards = 3\n", 0,
         ["Warning: {file}:2: [practice] has no setting 'new_cards' (grade does not use [practice]; fix it for the commands that do)"]),
        (["stats"], "[grading]\npartial_at = 0.3\n\n[practice]\nnew_per_day = 3\n\n[llm]\ntimeout = -1\n", 0, [
            "Warning: {file}:8: [llm] timeout: Input should be greater than 0 (stats does not use [llm]; fix it for the commands that do)",
            "Warning: {file}:2: [grading] has no setting 'partial_at' (stats does not use [grading]; fix it for the commands that do)",
        ]),
        # cards reads [practice] for when each card is due (learn-ahead, the hour a study day starts), as practice does.
        (["cards", DECK, "--json"], "[practice]\nnew_cards = 3\n", 1, ["Error: {file}:2: [practice] has no setting 'new_cards'"]),
        (["cards", DECK, "--due"], "[practice]\nnew_cards = 3\n", 1, ["Error: {file}:2: [practice] has no setting 'new_cards'"]),
        (["cards", DECK], "[grading]\npartial_at = 0.3\n", 0,
         ["Warning: {file}:2: [grading] has no setting 'partial_at' (cards does not use [grading]; fix it for the commands that do)"]),
        # A command's own table is its error, as before.
        (["stats"], "[practice]\nnew_cards = 3\n", 1, ["Error: {file}:2: [practice] has no setting 'new_cards'"]),
        (["llm", "check"], "[llm]\ntimeout = -1\n", 1, ["Error: {file}:2: [llm] timeout: Input should be greater than 0"]),
    ],
)  # fmt: skip
def test_a_mistake_in_a_settings_table_a_command_does_not_use_is_a_warning(isolated_env, argv, file_text, code, said):
    settings = isolated_env / "settings.toml"
    settings.write_text(file_text)
    result = run_cli(*argv)
    assert (result.returncode, result.stderr.splitlines()) == (code, [line.format(file=settings) for line in said])


def test_a_failed_export_leaves_no_partial_file(tmp_path, monkeypatch):
    """An export that failed half-way (a full disk) left half of it in BACKUP.partial beside where it was going."""
    import errno

    import grader.history_file

    assert run_cli("practice", DECK, "--cards", "3", input=CARD_3).returncode == 0

    def half_then_full(store, out, *, now):
        out.write('{"type":"header"}\n')
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(grader.history_file, "export", half_then_full)
    backup = tmp_path / "backup.jsonl"
    result = run_cli("history", "export", str(backup))
    assert (result.returncode, result.stderr) == (1, f"Error: {backup}: cannot write the export: No space left on device\n")
    assert list(tmp_path.iterdir()) == []


def test_history_export_and_import_move_a_history(tmp_path, isolated_env):
    assert run_cli("practice", DECK, "--cards", "3", input=CARD_3).returncode == 0
    stats = json.loads(run_cli("stats", "--json").stdout)
    assert stats["attempts"] == 1 and stats["decks"][0]["cards"] == 18

    backup = tmp_path / "backup.jsonl"
    exported = run_cli("history", "export", str(backup))
    # In the words import uses ("20 lines" said nothing of what they held: a header, 18 cards, 1 answer).
    assert exported.returncode == 0 and exported.stderr == f"Exported 1 answer and 18 cards to {backup}\n"
    assert not (tmp_path / "backup.jsonl.partial").exists()

    other = {"GRADER_HOME": str(tmp_path / "other-machine")}
    imported = run_cli("history", "import", str(backup), env=other)
    assert imported.stdout == "Imported answers: 1 new, 0 already in your history; cards: 18.\n"
    again = run_cli("history", "import", str(backup), env=other)
    assert again.stdout == "Imported answers: 0 new, 1 already in your history; cards: 18.\n"
    assert run_cli("history", "export", env=other).stdout.splitlines()[1:] == backup.read_text().splitlines()[1:]

    # "-" is standard output and standard input, as for answers files: never a file named "-"
    piped = run_cli("history", "export", "-", env=other, cwd=tmp_path)
    assert piped.returncode == 0 and piped.stdout.splitlines()[1:] == backup.read_text().splitlines()[1:]
    third = {"GRADER_HOME": str(tmp_path / "third-machine")}
    assert run_cli("history", "import", "-", env=third, input=piped.stdout, cwd=tmp_path).stdout == "Imported answers: 1 new, 0 already in your history; cards: 18.\n"
    assert not (tmp_path / "-").exists()


def test_history_import_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "attempt"}\n')
    result = run_cli("history", "import", str(bad))
    assert result.returncode == 1
    assert result.stderr == f"Error: {bad}:1: not a grader history export (the first line must be its header)\n"
    missing = run_cli("history", "import", str(tmp_path / "nope.jsonl"))
    assert missing.stderr == f"Error: {tmp_path / 'nope.jsonl'}: no such history export\n"


def as_on_a_read_only_mount(history):
    """Leave ``history`` readable but unwritable as a read-only folder does, even for root (who may write any file):
    SQLite can make neither of the WAL files it needs beside it, so it cannot open the file to write, nor ``mode=ro``."""
    for suffix in ("-wal", "-shm"):
        side = history.with_name(history.name + suffix)
        side.unlink(missing_ok=True)
        side.symlink_to(history.parent / "no-such-folder" / suffix)


def test_a_read_only_history_folder_is_read_and_never_written(tmp_path, isolated_env):
    """On a read-only mount, stats and history export failed: 'cannot open the practice history: unable to open database file'."""
    assert run_cli("practice", DECK, "--cards", "3", input=CARD_3).returncode == 0
    history = isolated_env / "history.sqlite3"
    backup = tmp_path / "backup.jsonl"
    assert run_cli("history", "export", str(backup)).returncode == 0
    as_on_a_read_only_mount(history)
    kept = history.read_bytes()

    for args in (["stats", "--json"], ["stats", DECK, "--json"]):
        stats = run_cli(*args)
        assert stats.returncode == 0, stats.stderr
        assert json.loads(stats.stdout)["attempts"] == 1
    exported = run_cli("history", "export")
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.splitlines()[1:] == backup.read_text().splitlines()[1:]
    assert run_cli("history", "export", str(tmp_path / "again.jsonl")).returncode == 0
    assert run_cli("cards", DECK, "--due").returncode == 0

    # Commands that write say so in one line, and change nothing.
    refusal = f"Error: {history}: cannot save to the practice history: its folder is read-only; make it writable, or set GRADER_HOME to a folder you can write\n"
    for args, stdin in ((["practice", DECK, "--cards", "3"], CARD_3), (["history", "import", str(backup)], None)):
        result = run_cli(*args, input=stdin)
        assert (result.returncode, result.stderr) == (1, refusal)
    assert history.read_bytes() == kept


NET = """# Net

1. <details markdown=1><summary markdown="span"> {first} </summary>

    ==Reliable== and ==ordered== delivery.

</details>

2. <details markdown=1><summary markdown="span"> {second} </summary>

    {second_answer}

</details>
"""


# What practice, stats and cards say of ``practised_then_edited``'s deck when they first match it.
EDITED_DECK_NOTES = [
    "Net: card 1 continues the history of “What does TCP add over IP?” (same answer)",
    "Net: card 2 “Name the layers of the OSI model.” is new (no earlier history matches it)",
    "Net: 1 card no longer in the deck (history kept)",
]


def practised_then_edited(tmp_path: Path) -> Path:
    """A two-card deck answered once, then edited: card 1 reworded (it continues its history), card 2 rewritten
    whole (a new card)."""
    deck = tmp_path / "net.md"
    socket = "An ==endpoint==: an ==address== and a ==port==."
    deck.write_text(NET.format(first="What does TCP add over IP?", second="What is a socket?", second_answer=socket))
    assert run_cli("practice", str(deck), input="reliable and ordered delivery\nendpoint address port\n").returncode == 0
    osi = "==Physical==, ==data link==, ==network==."
    deck.write_text(NET.format(first="What does TCP add on top of IP?", second="Name the layers of the OSI model.", second_answer=osi))
    return deck


def test_stats_of_an_edited_deck_in_a_read_only_folder_are_those_of_a_writable_one(tmp_path, isolated_env):
    """Unsynced, the read-only history counted the cards as stored: a card rewritten since it was answered (no longer
    the same card: a writable history retires it, and the card in its place is new) kept its history: 2 cards
    learning and none new, where a writable folder says 1 learning and 1 new."""
    import shutil

    deck = practised_then_edited(tmp_path)
    writable = tmp_path / "writable-home"
    shutil.copytree(isolated_env, writable)
    history = isolated_env / "history.sqlite3"
    as_on_a_read_only_mount(history)
    kept = history.read_bytes()

    def stats(**env) -> dict:
        result = run_cli("stats", str(deck), "--json", env=env)
        assert result.returncode == 0, result.stderr
        return {k: v for k, v in json.loads(result.stdout).items() if k != "generated_at"}

    read_only = stats()
    assert read_only == stats(GRADER_HOME=str(writable))
    [net] = read_only["decks"]
    assert (net["cards"], net["new"], net["learning"], read_only["attempts"]) == (2, 1, 1, 2)
    # Moved, the deck takes the history of its cards along (the rewritten card's stays behind), as sync carries it over.
    deck = deck.rename(tmp_path / "moved.md")
    read_only = stats()
    assert read_only == stats(GRADER_HOME=str(writable))
    [net] = read_only["decks"]
    assert (net["deck"], net["cards"], net["new"], net["learning"], read_only["attempts"]) == (str(deck), 2, 1, 1, 1)
    assert history.read_bytes() == kept


def test_stats_of_an_edited_deck_says_what_it_matched_as_practice_would(tmp_path, isolated_env):
    """``stats DECK`` matched an edited deck with the history without a word, so the next ``practice`` found it
    matched and never said that card 1 continues its old question's history, nor that card 2 is new: nobody was
    told. Stats says it now, in practice's words, on stderr (stdout is the report, JSON stays JSON), read-only too."""
    import shutil

    deck = practised_then_edited(tmp_path)
    said = EDITED_DECK_NOTES
    read_only_home = tmp_path / "read-only-home"
    shutil.copytree(isolated_env, read_only_home)
    as_on_a_read_only_mount(read_only_home / "history.sqlite3")
    read_only = run_cli("stats", str(deck), "--json", env={"GRADER_HOME": str(read_only_home)})
    assert (read_only.returncode, read_only.stderr.splitlines()) == (0, said)
    result = run_cli("stats", str(deck), "--json")
    assert (result.returncode, result.stderr.splitlines()) == (0, said)
    assert json.loads(result.stdout)["decks"][0]["new"] == 1
    # Said once: matched now, the deck has nothing more to say, here or in practice.
    assert run_cli("stats", str(deck)).stderr == ""
    practised = run_cli("practice", str(deck), input="/quit\n")
    assert not any(line.startswith("Net:") for line in practised.stdout.splitlines())


def test_cards_of_an_edited_deck_show_the_history_the_cards_continue(tmp_path, isolated_env):
    """``cards DECK`` read the history unsynced: card 1, reworded since it was answered, showed as a new card (its
    history waited under its old id until practice or stats matched the deck). It matches the deck as stats does now,
    says so on stderr, and in a read-only folder lists what a writable one lists, writing nothing."""
    import shutil

    deck = practised_then_edited(tmp_path)
    said = EDITED_DECK_NOTES
    read_only_home = tmp_path / "read-only-home"
    shutil.copytree(isolated_env, read_only_home)
    history = read_only_home / "history.sqlite3"
    as_on_a_read_only_mount(history)
    kept = history.read_bytes()

    def listed(result) -> list[tuple]:
        assert (result.returncode, result.stderr.splitlines()) == (0, said)
        return [(c["number"], c["phase"], c["last_verdict"], c["reviews"]) for c in map(json.loads, result.stdout.splitlines())]

    expected = [(1, "learning", "correct", 1), (2, "new", None, 0)]
    assert listed(run_cli("cards", str(deck), "--json", env={"GRADER_HOME": str(read_only_home)})) == expected
    assert history.read_bytes() == kept
    assert listed(run_cli("cards", str(deck), "--json")) == expected
    # Said once: matched now, the deck has nothing more to say, here or in stats.
    again = run_cli("cards", str(deck))
    assert (again.returncode, again.stderr) == (0, "")
    assert run_cli("stats", str(deck)).stderr == ""
