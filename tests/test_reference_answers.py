"""Further acceptable reference answers in YAML and JSON decks: any one of them is a complete answer."""

from __future__ import annotations

import json

import pytest

from grader import KeywordGrader, load_deck
from grader.models import Verdict
from grader.render import make_console, reference_panel
from grader.scoring import GradingSettings

from .conftest import run_cli

TREE_DECK = """title: Trees
cards:
  - question: How tall is a balanced binary search tree with n nodes?
    answer: The ==number of levels==, about ==log n==.
    reference_answers:
      - "==logarithmic== in the number of nodes"
      - "the same as the depth of its deepest leaf"
      - "  "
  - question: What does a hash table look up in constant time?
    answer: A ==value== by its ==key==.
"""
KEYWORD = GradingSettings(match="keyword")


@pytest.fixture
def tree_deck(tmp_path):
    path = tmp_path / "trees.yaml"
    path.write_text(TREE_DECK, encoding="utf-8")
    return path


def test_reference_answers_keep_their_highlights_or_derive_terms(tree_deck):
    card = load_deck(tree_deck).cards[0]
    assert [r.answer for r in card.reference_answers] == [
        "==logarithmic== in the number of nodes",
        "the same as the depth of its deepest leaf",
    ]
    highlighted, derived = card.reference_answers
    assert [t.text for t in highlighted.key_terms] == ["logarithmic"]
    assert derived.key_terms and all(t.derived for t in derived.key_terms)
    assert "deepest leaf" in " ".join(t.text for t in derived.key_terms)
    assert load_deck(tree_deck).cards[1].reference_answers == []


def test_an_empty_reference_answer_is_a_lint_finding(tree_deck):
    result = run_cli("lint", str(tree_deck))
    assert result.returncode == 1
    assert f"{tree_deck}:3: reference answer 3 has no words to grade by: it is left out" in result.stdout


def test_any_reference_answer_is_a_complete_answer(tree_deck):
    card = load_deck(tree_deck).cards[0]
    grader = KeywordGrader(KEYWORD)
    other, main, both, wrong = grader.grade_many(
        card, ["it is logarithmic", "log n, the number of levels", "logarithmic: log n, the number of levels", "linear in n"]
    )
    assert other.verdict == Verdict.correct and [t.term for t in other.terms] == ["logarithmic"]
    assert main.verdict == Verdict.correct and [t.term for t in main.terms] == ["number of levels", "log n"]
    assert both.score == 1.0 and [t.term for t in both.terms] == ["number of levels", "log n"]  # a tie: the card's own answer
    assert wrong.verdict == Verdict.incorrect and wrong.missing == ["number of levels", "log n"]
    # the same grades one by one, and against a card without the further answers only the first changes
    assert grader.grade(card, "it is logarithmic") == other
    plain = card.model_copy(update={"reference_answers": []})
    assert grader.grade(plain, "it is logarithmic").verdict == Verdict.incorrect


def test_grade_and_cards_report_them(tree_deck, tmp_path):
    answers = tmp_path / "answers.jsonl"
    answers.write_text(json.dumps({"card": 1, "answer": "as deep as its deepest leaf"}) + "\n", encoding="utf-8")
    graded = run_cli("grade", str(tree_deck), str(answers), "--json", "--match", "keyword")
    assert graded.returncode == 0, graded.stderr
    record = json.loads(graded.stdout)
    assert record["score"] > 0.5 and "deepest leaf" in " ".join(record["matched"])
    listed = json.loads(run_cli("cards", str(tree_deck), "--json").stdout.splitlines()[0])
    assert listed["reference_answers"][0] == {"answer": "==logarithmic== in the number of nodes", "key_terms": ["logarithmic"]}


def test_a_reference_answers_field_of_the_wrong_type_is_one_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("cards:\n  - question: Q?\n    answer: A\n    reference_answers: just one\n", encoding="utf-8")
    result = run_cli("cards", str(path))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert f"{path}:4: cards.0.reference_answers: Input should be a valid list" in result.stderr


def test_practice_shows_what_else_is_accepted(tree_deck):
    console = make_console()
    with console.capture() as captured:
        console.width = 100
        console.print(reference_panel(load_deck(tree_deck).cards[0]))
    shown = captured.get()
    assert "Also accepted: logarithmic in the number of nodes" in shown
    assert "Also accepted: the same as the depth of its deepest leaf" in shown


def test_the_llm_assesses_the_terms_of_the_reference_the_keyword_grade_used(tree_deck, fake_openai):
    """An answer in the words of a further reference answer: the model is asked about that answer's terms (its score
    is then comparable with the keyword grade's) and told that the card's own answer is as complete."""
    from grader.llm.client import FeedbackClient
    from grader.config import LLMSettings

    card = load_deck(tree_deck).cards[0]
    answer = "It is logarithmic."
    grade = KeywordGrader(KEYWORD).grade(card, answer)
    settings = LLMSettings(enabled=True, model="fake-model", base_url=fake_openai.base_url, api_key="sk-test", timeout=2)
    with FeedbackClient(settings, KEYWORD) as client:
        result = client.feedback(card, answer, grade)
    assert (result.status, result.score, [t.term for t in result.terms]) == ("ok", 1.0, ["logarithmic"])
    body = fake_openai.chat_requests[0]["body"]
    rubric = body["messages"][-1]["content"]
    assert "Reference answer:\n**logarithmic** in the number of nodes\n" in rubric
    assert "- The **number of levels**, about **log n**." in rubric.split("Other answers the teacher accepts", 1)[1]
    assert "- the same as the depth of its deepest leaf" in rubric
    assert list(body["response_format"]["json_schema"]["schema"]["properties"]["terms"]["properties"]) == ["logarithmic"]
