"""Start-up stays light: the help and first-question paths do not load heavy modules."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path
import sys

import pytest

from .conftest import SEED_DECK

HEAVY = ("openai", "numpy", "rapidfuzz", "fsrs", "sqlite3", "prompt_toolkit", "zstandard", "wordllama")


# `grader cards` draws a table: no markdown renderer, practice session or matcher.
NOT_FOR_CARDS = ("rich.markdown", "markdown_it", "numpy", "openai", "wordllama", "rapidfuzz", "grader.session", "grader.practice")


def modules_loaded(argv: list[str], watched: tuple[str, ...]) -> list[str]:
    """Which of ``watched`` a fresh interpreter has loaded after running ``grader ARGV``."""
    code = (
        "import sys\n"
        "from grader.cli import app\n"
        f"try:\n    app({argv!r})\nexcept SystemExit as exc:\n    assert exc.code in (0, None), exc.code\n"
        f"print(sorted(m for m in {watched!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return ast.literal_eval(out.strip().splitlines()[-1])


@pytest.mark.parametrize("argv", [["--help"], ["practice", "--help"], ["grade", "--help"]])
def test_help_paths_import_no_heavy_modules(argv):
    assert modules_loaded(argv, HEAVY) == []


@pytest.mark.parametrize("flags", [[], ["--json"]])
def test_listing_cards_loads_only_what_it_draws(flags):
    assert modules_loaded(["cards", str(SEED_DECK), *flags], NOT_FOR_CARDS) == []


# Output for programs is written without rich: the terminal renderer loads only to draw.
NOT_FOR_PROGRAMS = ("rich", "grader.render")
ANSWERS = str(Path(__file__).resolve().parent.parent / "eval" / "seed_dev.jsonl")


@pytest.mark.parametrize(
    "argv",
    [
        ["grade", str(SEED_DECK), ANSWERS, "--json", "--jobs", "1"],
        ["grade", str(SEED_DECK), ANSWERS, "--csv", "--jobs", "1"],
        ["grade", str(SEED_DECK), ANSWERS, "--output", "{tmp}/grades.jsonl", "--jobs", "1"],
        ["stats", "--json"],
        ["review", str(SEED_DECK), ANSWERS, "--export-only", "--decisions", "{tmp}/log.jsonl", "--output", "{tmp}/out.csv"],
    ],
)
def test_machine_readable_output_loads_no_terminal_renderer(argv, tmp_path):
    assert modules_loaded([arg.format(tmp=tmp_path) for arg in argv], NOT_FOR_PROGRAMS) == []


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


def test_the_matcher_is_the_only_module_that_imports_rapidfuzz():
    """The design (README, "Design notes"): one module owns fuzzy matching; the others ask it."""
    package = Path(__file__).resolve().parent.parent / "grader"
    importers = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n == "rapidfuzz" or n.startswith("rapidfuzz.") for n in names):
                importers.add(path.relative_to(package).as_posix())
    assert importers == {"match.py"}
