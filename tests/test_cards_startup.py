"""`grader cards` starts light: listing a deck loads no markdown renderer, practice session or matcher."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import SEED_DECK

NOT_FOR_CARDS = ("rich.markdown", "markdown_it", "numpy", "openai", "wordllama", "rapidfuzz", "grader.session", "grader.practice")


@pytest.mark.parametrize("flags", [[], ["--json"]])
def test_listing_cards_loads_only_what_it_draws(flags):
    code = (
        "import sys\n"
        "from grader.cli import app\n"
        f"try:\n    app(['cards', {str(SEED_DECK)!r}, *{flags!r}])\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {NOT_FOR_CARDS!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
