"""The public surface: the package's exports and every command's help, as contracts."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

import grader
from grader.cli import app

from .conftest import run_cli


def test_all_is_sorted_and_is_exactly_what_the_package_exports():
    assert grader.__all__ == sorted(grader.__all__)
    for name in grader.__all__:
        value = getattr(grader, name)
        assert getattr(value, "__name__", name) == name, name  # each export is the object it names
    assert dir(grader) == grader.__all__
    defined = {name for name, value in vars(grader).items() if not name.startswith("_") and type(value).__name__ != "module"}
    assert defined - {"annotations"} <= set(grader.__all__)  # nothing public that __all__ leaves out


def test_the_packages_example_runs_as_written(monkeypatch, tmp_path):
    """The docstring a library user reads first (``help(grader)``) is a doctest: it must stay true, and not only in
    the repository (it loaded ``decks/virtualization.md``, which an installed grader's user does not have)."""
    import doctest

    monkeypatch.chdir(tmp_path)
    result = doctest.testmod(grader, verbose=False)
    assert result.attempted > 0 and result.failed == 0


def test_grading_settings_import_without_the_matcher():
    code = "import sys; from grader import GradingSettings; print(sorted(m for m in ('numpy', 'rapidfuzz') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _command_paths(command, prefix=()):
    """Every runnable command of the CLI as its words, subcommands of groups included."""
    subcommands = getattr(command, "commands", None)
    if not subcommands:
        return [prefix]
    return [path for name, sub in sorted(subcommands.items()) for path in _command_paths(sub, (*prefix, name))]


def test_no_help_names_a_file_of_the_repository():
    """Most users install the wheel and have no ``decks/``, ``eval/`` or ``../shared/``: examples use files of their own."""
    from typer.main import get_command

    for path in _command_paths(get_command(app)):
        shown = run_cli(*path, "--help").stdout
        assert not re.search(r"decks/virtualization|eval/seed|\.\./shared", shown), (path, shown)


def test_every_command_has_help_with_an_example():
    from typer.main import get_command

    paths = _command_paths(get_command(app))
    assert {("practice",), ("grade",), ("llm", "check"), ("history", "export"), ("history", "import")} <= set(paths)
    for path in paths:
        result = run_cli(*path, "--help")
        assert result.returncode == 0, path
        assert "Example: grader " + " ".join(path) in result.stdout, path


def _option_help(path, flag):
    from typer.main import get_command

    command = get_command(app)
    for word in path:
        command = command.commands[word]
    return next(param.help for param in command.params if flag in param.opts)


def test_student_help_names_every_column_found_by_default():
    from grader.class_report import STUDENT_FIELDS

    for path in (("grade",), ("review",)):
        assert _option_help(path, "--student").endswith(f"(default: the first of {', '.join(STUDENT_FIELDS)})."), path


def test_model_help_lists_its_defaults_in_the_order_they_win():
    # flags > environment > settings file > defaults, as config resolves them
    for path in (("practice",), ("grade",), ("llm", "check")):
        text = _option_help(path, "--model")
        assert text.index("GRADER_MODEL") < text.index("settings") < text.index("gpt-4o-mini"), path


def _grade_in_workers(card, answer):
    # Enough pairs for two chunks, so that grading starts worker processes.
    return list(grader.grade_answers([(card, "sharing")] * 3 + [(card, answer)], grader.KeywordGrader(), chunk=2, jobs=2))


@pytest.mark.parametrize(
    "grade, error",
    [
        (lambda card: grader.grade_answer(card, None), "an answer must be a str, not NoneType"),
        (lambda card: grader.grade_answer(card, b"sharing"), "an answer must be a str, not bytes"),
        (lambda card: grader.grade_answer(card.model_dump(), "sharing"), "card must be a grader.Card, not dict"),
        (lambda card: grader.KeywordGrader().grade_many(card, "sharing"), "answers must be a list of strings, not one string"),
        (lambda card: list(grader.grade_answers([(card, 3)], grader.KeywordGrader())), "an answer must be a str, not int"),
        (lambda card: _grade_in_workers(card, None), "an answer must be a str, not NoneType"),
    ],
    ids=["none", "bytes", "dict-card", "one-string-for-many", "batch", "batch-in-workers"],
)
def test_grading_refuses_a_wrong_type_with_a_type_error_naming_it(seed_deck, grade, error):
    with pytest.raises(TypeError) as raised:
        grade(seed_deck.cards[2])
    assert str(raised.value) == error


@pytest.mark.parametrize("question, error", [(None, "NoneType"), (b"What is a VM?", "bytes"), (3, "int")])
def test_card_id_refuses_a_question_that_is_not_text_with_a_type_error_naming_it(question, error):
    # None gave AttributeError: 'NoneType' object has no attribute 'translate', from deep in normalize.
    with pytest.raises(TypeError) as raised:
        grader.card_id(question)
    assert str(raised.value) == f"a question must be a str, not {error}"


@pytest.mark.parametrize("n_docs", [-1, -5])
def test_derive_key_terms_refuses_a_negative_number_of_answers(n_docs):
    # It gave "math domain error" from the logarithm of the inverse document frequency.
    with pytest.raises(ValueError) as raised:
        grader.derive_key_terms("The hypervisor shares one machine", {"hypervisor": 1}, n_docs=n_docs)
    assert str(raised.value) == f"n_docs must be a number of answers, 0 or more, not {n_docs}"


def test_derive_key_terms_takes_no_answers_counted_as_none():
    assert [t.text for t in grader.derive_key_terms("The hypervisor shares one machine", {}, n_docs=0)] == ["hypervisor shares one", "machine"]


def _grade_with_term(**term):
    """Build a card by hand with one key term and grade an answer to it, as a library caller would."""
    key_term = grader.KeyTerm.model_validate({"text": "zebra", "alternatives": [[{"text": "zebra"}]], **term})
    card = grader.Card(id="c", number=1, question="Which animal is striped?", answer="a zebra", key_terms=[key_term])
    return grader.grade_answer(card, "a zebra")


@pytest.mark.parametrize(
    "term, error",
    [
        ({"alternatives": []}, r"alternatives\n  List should have at least 1 item"),
        ({"alternatives": [[]]}, r"alternatives\.0\n  List should have at least 1 item"),
        ({"alternatives": [[{"text": "zebra", "weight": 0}]]}, r"alternatives\.0\.0\.weight\n  Input should be greater than 0"),
        ({"alternatives": [[{"text": "zebra", "weight": float("nan")}]]}, r"alternatives\.0\.0\.weight\n  Input should be a finite number"),
        ({"weight": float("inf")}, r"weight\n  Input should be a finite number"),
        ({"alternatives": [[{"text": "!!!"}]]}, r"^card c: key term 'zebra' has a phrasing with no words to find: '!!!'$"),
        ({"alternatives": [[{"text": "zebra"}], [{"text": ""}]]}, r"^card c: key term 'zebra' has a phrasing with no words to find: ''$"),
    ],
    ids=["no-phrasing", "empty-phrasing", "zero-weight-part", "nan-weight-part", "infinite-weight", "no-words", "empty-second-phrasing"],
)
def test_a_key_term_built_by_hand_that_no_answer_could_earn_is_a_value_error(term, error):
    # Each crashed deep in the matcher (IndexError, ZeroDivisionError) or failed with a NaN score.
    with pytest.raises(ValueError, match=error):
        _grade_with_term(**term)


def test_a_key_term_built_by_hand_grades_as_a_parsed_one():
    assert _grade_with_term().score == 1.0


def test_ctrl_c_while_the_command_line_loads_ends_quietly():
    """Ctrl-C in the first tenth of a second, while typer and rich load, came before the CLI could catch it: a
    traceback. The entry point loads the CLI where it can catch it (here the import itself is interrupted)."""
    code = (
        "import sys\n"
        "class Interrupt:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'grader.cli':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Interrupt())\n"
        "from grader.launch import main\n"
        "main()\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert (result.returncode, result.stderr) == (130, "")


# A real Ctrl-C, sent by the process to itself at a chosen moment of start-up, as the console script starts.
_CTRL_C_AT_IMPORT = """
import os, signal, sys, weakref

def ctrl_c():
    os.kill(os.getpid(), signal.SIGINT)
    for _ in range(100):  # Python raises KeyboardInterrupt at a loop's jump back, here
        pass

class At:
    def find_spec(self, name, path=None, target=None):
        if name == {module!r}:
            sys.meta_path.remove(self)
            if {in_callback!r}:  # as in the import system's lock clean-up (a weakref callback)
                class Lock: pass
                lock = Lock()
                ref = weakref.ref(lock, lambda _: ctrl_c())
                del lock
            else:
                ctrl_c()

sys.meta_path.insert(0, At())
sys.argv = ["grader", "--version"]
from grader.launch import main
main()
"""


@pytest.mark.parametrize(
    ("module", "in_callback"),
    [("typing", False), ("typer", False), ("typer", True), ("typer._click.core", True)],
    ids=["importing-the-package", "loading-the-cli", "cli-import-clean-up", "cli-import-clean-up-deeper"],
)
def test_ctrl_c_at_any_moment_of_start_up_ends_quietly_with_130(module, in_callback):
    """Ctrl-C while ``import grader`` imported typing (10 ms) printed a traceback; one raised in the import system's
    clean-up while the CLI loaded printed "Exception ignored ... KeyboardInterrupt" and was lost: the command ran on
    and ended 0."""
    code = _CTRL_C_AT_IMPORT.format(module=module, in_callback=in_callback)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert (result.returncode, result.stdout, result.stderr) == (130, "", "")


def test_the_entry_point_runs_the_command_line():
    result = subprocess.run([sys.executable, "-m", "grader", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("grader")
