"""Start-up stays light: the help and first-question paths do not load heavy modules."""

from __future__ import annotations

import subprocess
from pathlib import Path
import sys

import pytest

HEAVY = ("openai", "numpy", "rapidfuzz", "fsrs", "sqlite3", "prompt_toolkit", "zstandard", "wordllama")


@pytest.mark.parametrize("argv", [["--help"], ["practice", "--help"], ["grade", "--help"]])
def test_help_paths_import_no_heavy_modules(argv):
    code = (
        "import sys\n"
        "from grader.cli import app\n"
        f"try:\n    app({argv!r})\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_importing_the_package_is_lazy():
    code = "import sys, grader; print(sorted(m for m in ('numpy', 'rapidfuzz', 'pydantic') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_listing_cards_loads_neither_the_matcher_nor_the_word_vectors():
    deck = str(Path(__file__).resolve().parent.parent / "decks" / "virtualization.md")
    code = (
        "import sys\n"
        "from grader.cli import app\n"
        f"try:\n    app(['cards', {deck!r}, '--json'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('wordllama', 'rapidfuzz', 'openai') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
