"""The real ``grader practice`` in a pseudo-terminal: answers are remembered and scheduled across sessions."""

from __future__ import annotations

import json
import os
import sys

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

OVERRIDE_PROMPT = "any other key to go on"


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
    child.expect_exact("Still learning: it comes back in 1 min, in this session.")

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
    assert child.exitstatus == 0

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
    child.expect_exact("Rated Easy · next review in ")  # out of learning at once
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
