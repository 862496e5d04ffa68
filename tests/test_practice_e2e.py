"""The real ``grader practice`` in a pseudo-terminal: answers are remembered and scheduled across sessions."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from .conftest import ROOT, run_cli

pexpect = pytest.importorskip("pexpect")

DECK = """# Migration

1. <details markdown=1><summary markdown="span"> What are the two kinds of VM migration? </summary>

    ==Offline== and ==live== migration.

</details>

2. <details markdown=1><summary markdown="span"> What does a hypervisor do? </summary>

    It ==creates and runs virtual machines==.

</details>

3. <details markdown=1><summary markdown="span"> What are three benefits of virtualization? </summary>

    ==Isolation==, ==portability== and ==consolidation==.

</details>

4. <details markdown=1><summary markdown="span"> What is a container? </summary>

    An ==isolated process== sharing the host ==kernel==.

</details>
"""

OVERRIDE_PROMPT = "other keys go on"


def spawn(*args: str, home) -> pexpect.spawn:
    env = {**os.environ, "GRADER_HOME": str(home), "TERM": "dumb", "COLUMNS": "120", "LINES": "40"}
    return pexpect.spawn(
        sys.executable, ["-m", "grader", *args], cwd=str(ROOT), env=env, encoding="utf-8", timeout=20, dimensions=(40, 120)
    )


def answer(child: pexpect.spawn, text: str) -> None:
    child.expect_exact("> ")
    child.sendline(text)
    child.expect_exact("… ")
    child.sendline("")  # an empty line submits


@pytest.mark.slow
def test_practice_remembers_across_sessions(tmp_path, isolated_env):
    deck = tmp_path / "migration.md"
    deck.write_text(DECK, encoding="utf-8")

    child = spawn("practice", str(deck), home=isolated_env)
    child.expect_exact("Migration: new deck, 4 cards")

    # Card 1: complete and fast, so the grader rates it Easy; Enter keeps that.
    child.expect_exact("What are the two kinds of VM migration?")
    answer(child, "offline and live migration")
    child.expect_exact("Rated Easy · next review in 8 days")
    child.expect_exact(OVERRIDE_PROMPT)
    child.send("\r")

    # Card 2: wrong, so Again; it will come back in this session.
    child.expect_exact("What does a hypervisor do?")
    answer(child, "no idea, something with networks")
    child.expect_exact("Rated Again · next review in 1 min")
    child.expect_exact(OVERRIDE_PROMPT)
    child.send(" ")
    child.expect_exact("Still learning (due again in 1 min): it comes back later in this session.")

    # Card 3: partial, so Hard; one key overrules the grader.
    child.expect_exact("What are three benefits of virtualization?")
    answer(child, "isolation and portability")
    child.expect_exact("Rated Hard")
    child.expect_exact(OVERRIDE_PROMPT)
    child.send("4")
    child.expect_exact("Rated Easy · next review in 8 days")

    # Card 4: Ctrl-C halfway through typing an answer.
    child.expect_exact("What is a container?")
    child.expect_exact("> ")
    child.send("an isolated pro")
    child.sendintr()
    child.expect_exact("Interrupted.")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130  # as grade and review: the shell's code for Ctrl-C

    exported = run_cli("history", "export", env={"GRADER_HOME": str(isolated_env)})
    assert exported.returncode == 0, exported.stderr
    records = [json.loads(line) for line in exported.stdout.splitlines()]
    attempts = [r for r in records if r["type"] == "attempt"]
    assert [(a["question"], a["verdict"], a["rating"], a["rated_by"]) for a in attempts] == [
        ("What are the two kinds of VM migration?", "correct", 4, "grader"),
        ("What does a hypervisor do?", "incorrect", 1, "grader"),
        ("What are three benefits of virtualization?", "partial", 4, "override"),
    ]
    assert all(a["seconds"] is not None and a["seconds"] < 15 for a in attempts)
    assert attempts[2]["missing"] == ["consolidation"]

    # A new session: the failed card is due first, then the new one; the two rated Easy wait 8 days.
    child = spawn("practice", str(deck), home=isolated_env)
    child.expect_exact("What does a hypervisor do?")
    output = child.before
    answer(child, "it creates and runs virtual machines")
    child.expect_exact("Rated Easy · next review tomorrow")  # out of learning at once: 1 day, as the key "4 Easy 1 d" says
    child.expect_exact(OVERRIDE_PROMPT)
    child.send("\r")
    child.expect_exact("What is a container?")
    assert "migration?" not in output + child.before and "benefits" not in output + child.before
    child.expect_exact("> ")
    child.sendline("/quit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0

    stats = run_cli("stats", str(deck), "--json", env={"GRADER_HOME": str(isolated_env)})
    assert stats.returncode == 0, stats.stderr
    report = json.loads(stats.stdout)
    assert report["attempts"] == 4 and report["new_cards"] == 1
    [deck_stats] = report["decks"]
    assert (deck_stats["cards"], deck_stats["new"], deck_stats["learning"], deck_stats["young"]) == (4, 1, 0, 3)
    assert [(t["term"], t["missed"], t["asked"], t["missed_last_time"]) for t in report["missed_terms"]] == [
        ("consolidation", 1, 1, True),
        ("creates and runs virtual machines", 1, 2, False),
    ]


IMAGE_CARD = """
5. <details markdown=1><summary markdown="span"> What does the architecture diagram show? </summary>

    ![](img/architecture.png)

</details>
"""

UP, CTRL_A, CTRL_E, CTRL_W = "\x1b[A", "\x01", "\x05", "\x17"


def spawn_editor(*args: str, home) -> pexpect.spawn:
    """``grader`` at a terminal that prompt_toolkit drives (no cursor-position queries), rich printing plain text."""
    env = {
        **os.environ, "GRADER_HOME": str(home), "TERM": "xterm-256color", "PROMPT_TOOLKIT_NO_CPR": "1",
        "TTY_COMPATIBLE": "0", "COLUMNS": "120", "LINES": "40",
    }  # fmt: skip
    return pexpect.spawn(
        sys.executable, ["-m", "grader", *args], cwd=str(ROOT), env=env, encoding="utf-8", timeout=20, dimensions=(40, 120)
    )


def at_prompt(child: pexpect.spawn) -> None:
    child.expect_exact("Answer (empty line to submit;")
    child.expect_exact(">")


@pytest.mark.slow
def test_line_editing_rating_preview_undo_suspend_and_an_image_card(tmp_path, isolated_env):
    deck = tmp_path / "migration.md"
    deck.write_text(DECK + IMAGE_CARD, encoding="utf-8")
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "architecture.png").write_bytes(b"\x89PNG fake")
    child = spawn_editor("practice", str(deck), home=isolated_env)

    # Card 1: type the end first, go to the start of the line, add the beginning, go to the end, submit.
    child.expect_exact("What are the two kinds of VM migration?")
    at_prompt(child)
    child.send("live migration" + CTRL_A + "offline and " + CTRL_E + "\r\r")
    child.expect_exact("Rated Easy · next review in 8 days")
    child.expect_exact("1 Again 1 min · 2 Hard 6 min · 3 Good 10 min · 4 Easy 8 d · other keys go on")
    child.send("x")

    # Card 2: /undo takes card 1 back; Up twice recalls its answer from this sitting's history.
    child.expect_exact("What does a hypervisor do?")
    at_prompt(child)
    child.send("/undo\r")
    child.expect_exact("Undone: your answer of card 1 (its schedule is as it was). Here it is again.")
    child.expect_exact("What are the two kinds of VM migration?")
    at_prompt(child)
    child.send(UP + UP + CTRL_E + "\r\r")
    child.expect_exact("Rated Easy")
    child.send("x")

    # Card 2 again: Ctrl-W deletes the word before the cursor; a second line continues the answer.
    child.expect_exact("What does a hypervisor do?")
    at_prompt(child)
    child.send("it creates networks" + CTRL_W + "and runs\rvirtual machines\r\r")
    child.expect_exact("other keys go on")
    child.send("x")

    # Card 3: suspended.
    child.expect_exact("What are three benefits of virtualization?")
    at_prompt(child)
    child.send("/suspend\r")
    child.expect_exact("Suspended: card 3 is left out of practice until you ask for it (--cards 3). /undo takes it back.")

    # Card 4, then the image card: Enter shows the image, one key rates it, with the same preview.
    child.expect_exact("What is a container?")
    at_prompt(child)
    child.send("an isolated process sharing the kernel\r\r")
    child.expect_exact("other keys go on")
    child.send("x")
    child.expect_exact("What does the architecture diagram show?")
    child.expect_exact("The answer is an image")
    child.send("\r")
    child.expect_exact(f"Image: {tmp_path / 'img' / 'architecture.png'}")
    child.expect_exact("How did you do?  1 Again 1 min · 2 Hard 6 min · 3 Good 10 min · 4 Easy 8 d · o open the image")
    child.send("3")
    child.expect_exact("Rated Good · next review in 10 min")

    # Still learning, it comes back; Ctrl-D there ends the sitting, the summary on a line of its own.
    child.expect_exact("(incl. 1 repeat)")
    child.expect_exact("then press Enter to see it.")
    child.expect_exact("Instead of an answer: /skip /reveal /undo /suspend /bury /open /quit")
    child.expect_exact(">")  # the editor is reading: Ctrl-D now is its end of input
    child.sendeof()
    child.expect_exact("Session summary")
    assert re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", child.before).rstrip(" ").endswith("\n")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0

    exported = run_cli("history", "export", env={"GRADER_HOME": str(isolated_env)})
    attempts = [json.loads(line) for line in exported.stdout.splitlines() if '"attempt"' in line]
    assert [(a["answer"], a["rating"], a["rated_by"]) for a in attempts] == [
        ("offline and live migration", 4, "grader"),  # the first try was undone: one attempt, not two
        ("it creates and runs\nvirtual machines", 4, "grader"),
        ("an isolated process sharing the kernel", 4, "grader"),
        ("", 3, "user"),
    ]
    listed = [json.loads(line) for line in run_cli("cards", str(deck), "--json", env={"GRADER_HOME": str(isolated_env)}).stdout.splitlines()]
    assert [c["suspended"] for c in listed] == [False, False, True, False, False]


@pytest.mark.slow
def test_ctrl_d_at_a_plain_prompt_ends_on_a_new_line(tmp_path, isolated_env):
    deck = tmp_path / "migration.md"
    deck.write_text(DECK, encoding="utf-8")
    child = spawn("practice", str(deck), "--cards", "1,2", home=isolated_env)
    answer(child, "offline and live migration")
    child.expect_exact(OVERRIDE_PROMPT)
    child.send("x")
    child.expect_exact("> ")
    child.sendeof()
    child.expect_exact("Session summary")
    assert child.before.rstrip(" ").endswith("\n")  # not after the prompt
    child.expect(pexpect.EOF)


@pytest.mark.slow
def test_ctrl_c_in_a_scripted_session_exits_130_keeping_the_answers(tmp_path, isolated_env):
    deck = tmp_path / "migration.md"
    deck.write_text(DECK, encoding="utf-8")
    env = {**os.environ, "GRADER_HOME": str(isolated_env), "COLUMNS": "100"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "grader", "practice", str(deck), "--cards", "1,2"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env,
    )  # fmt: skip
    proc.stdin.write("offline and live migration\n")  # then no more input: the second card waits
    proc.stdin.flush()
    history = isolated_env / "history.sqlite3"
    deadline = time.monotonic() + 60
    while not (history.exists() and _attempts(history)):
        assert time.monotonic() < deadline, "no answer saved"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Interrupted." in out and "Session summary" in out
    assert _attempts(history) == 1


def _attempts(history) -> int:
    with sqlite3.connect(history) as db:
        return db.execute("select count(*) from attempts").fetchone()[0]


@pytest.mark.slow
def test_text_typed_ahead_of_the_rating_keys_is_shown_never_dropped(tmp_path, isolated_env):
    """A dumb terminal's plain prompt submits at an empty line, so an answer pasted with a blank line in it was
    submitted at the blank line; the rating keys then switched the terminal to raw mode flushing its input, and the
    rest of the paste vanished unsaid. It is read now, said in one line, and the keys still wait for a key."""
    deck = tmp_path / "migration.md"
    deck.write_text(DECK, encoding="utf-8")
    child = spawn("practice", str(deck), "--cards", "1,2", home=isolated_env)
    child.expect_exact("What are the two kinds of VM migration?")
    child.expect_exact("> ")
    child.send("offline migration\r\rand live migration, the second part\r\r")  # one paste
    child.expect_exact(OVERRIDE_PROMPT)
    child.expect_exact("Typed ahead and not used: “and live migration, the second part” (35 characters); the keys above wait for one.")
    child.send("4")  # the keys still work: this is the rating, not the text
    child.expect_exact("Rated Easy")
    child.expect_exact("What does a hypervisor do?")
    child.expect_exact("> ")
    child.sendline("/quit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    exported = run_cli("history", "export", env={"GRADER_HOME": str(isolated_env)})
    [attempt] = [json.loads(line) for line in exported.stdout.splitlines() if '"type":"attempt"' in line]
    assert (attempt["answer"], attempt["rating"], attempt["rated_by"]) == ("offline migration", 4, "override")
