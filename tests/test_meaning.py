"""Grading by meaning: negations, restated questions, how each term was found, synonyms, and what a question needs."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time

import pytest

from grader import GradingSettings, grade_answer
from grader.grading import KeywordGrader
from grader.keyterms import parse_term
from grader.models import Card

KEYWORD_ONLY = GradingSettings(match="keyword")


def card(question: str, terms: list[str], answer: str = "", required: int | None = None) -> Card:
    return Card(
        id="c", number=1, question=question, answer=answer or "; ".join(terms),
        key_terms=[parse_term(t) for t in terms], required=required,
    )  # fmt: skip


EXAMPLES = card("What are examples of managed execution?", ["sharing", "aggregation", "emulation", "isolation"])


@pytest.mark.parametrize(
    "answer, score",
    [
        ("sharing, aggregation, emulation, isolation", 1.0),
        ("not sharing, not aggregation, not emulation, not isolation", 0.0),
        ("no sharing, never aggregation", 0.0),
        ("sharing and aggregation but not emulation or isolation", 0.5),  # a denied list: neither of the two
        ("not only sharing but also aggregation, emulation and isolation", 1.0),  # "not only" affirms
        ("it is not a secret: sharing, aggregation, emulation, isolation", 1.0),  # a negation elsewhere denies nothing
        ("sharing, aggregation, emulation, isolation, whether or not they apply", 1.0),
    ],
)
def test_a_negated_term_earns_nothing(answer, score):
    assert grade_answer(EXAMPLES, answer, KEYWORD_ONLY).score == score


@pytest.mark.parametrize(
    "term, answer, credit",
    [
        ("results in deadlock", "it is deadlock free", 0.0),  # "X-free" is without X
        ("results in deadlock", "it is deadlock-free", 0.0),
        ("results in deadlock", "it can deadlock", 0.5),
        ("deadlock free", "it is deadlock-free", 1.0),  # a term that says it too
        ("free memory", "the memory is free", 1.0),  # "free" after a verb denies nothing
    ],
)
def test_a_term_word_followed_by_free_is_denied(term, answer, credit):
    grade = grade_answer(card("What is it?", [term, "something else"]), answer, KEYWORD_ONLY)
    assert grade.terms[0].credit == credit


@pytest.mark.parametrize(
    "term, answer, credit",
    [
        ("linear", "f is not linear but sigma is", 0.0),  # a negation after a verb denies a highlighted term
        ("closed form", "there is no closed form anymore", 0.0),
        ("burnt", "the fees are no longer burnt", 0.0),
        ("without competition", "when there is no competition", 0.5),  # the reference denies it too: agreement
        ("lack of parallelisation", "you can't parallelize it", 0.5),  # "lack of" denies in the reference too
        ("locks", "it works without locks", 0.0),
        ("sparsity", "it does not suffer from sparsity", 0.0),  # a negated verb's object, a preposition after it
        ("hardware", "non critical instructions run on the hardware", 1.0),  # a denied phrase has no object
        ("hardware", "it does not run fast on the hardware", 1.0),  # only right after the verb
        ("push model", "it doesn't use a push model", 0.0),  # a negated verb that is a stopword, before its object
        ("deadlock freedom", "it does not have deadlock freedom, only mutual exclusion", 0.0),
        ("push model", "it doesn't use SSH, it uses a push model", 1.0),
        ("stacking", "use one wide layer instead of stacking them", 0.0),  # "instead of", "rather than" deny
        ("locks", "use semaphores rather than locks", 0.0),
        ("slow locks", "locks are rather slow", 1.0),  # "rather" alone denies nothing
        ("locks", "use locks instead of semaphores", 1.0),
    ],
)
def test_a_highlighted_term_reads_every_denial(term, answer, credit):
    assert grade_answer(card("What is it?", [term, "something else"]), answer, KEYWORD_ONLY).terms[0].credit == credit


@pytest.mark.parametrize(
    "answer, credits",
    [
        ("not sharing, aggregation or emulation", [0.0, 0.0, 0.0]),  # a denied list denies every item
        ("no sharing or aggregation, but emulation", [0.0, 0.0, 1.0]),
        ("neither sharing nor aggregation; emulation", [0.0, 0.0, 1.0]),
        ("not sharing, aggregation and emulation are the point", [0.0, 1.0, 1.0]),  # no "or": a new clause
        ("not sharing, aggregation is what it does, or emulation", [0.0, 1.0, 1.0]),
    ],
)
def test_a_denied_list_denies_each_of_its_items(answer, credits):
    grade = grade_answer(card("What does it provide?", ["sharing", "aggregation", "emulation"]), answer, KEYWORD_ONLY)
    assert [t.credit for t in grade.terms] == credits


def test_a_derived_term_reads_only_a_denial_before_a_phrase():
    """In terms cut from a reference, "is not" and "without" deny nothing: the datasets' students write right answers
    so (eval/RESULTS.md)."""
    derived = card("What is it?", ["linear"]).model_copy(update={"key_terms": [parse_term("linear").model_copy(update={"derived": True})]})
    assert grade_answer(derived, "f is not linear", KEYWORD_ONLY).score == 1.0


def test_a_negation_the_reference_makes_too_is_agreement():
    path = card("Why is bulb A off?", ["closed path"], answer="Bulb A is not in a closed path.")
    assert grade_answer(path, "because it is not in a closed path", KEYWORD_ONLY).score == 1.0


def test_a_term_that_is_itself_negative_is_found_by_its_negation():
    privileged = card("What is a user-mode instruction?", ["non privileged"])
    assert grade_answer(privileged, "a non-privileged one", KEYWORD_ONLY).score == 1.0


@pytest.mark.parametrize(
    "term, answer, credit",
    [
        ("non transparent", "never", 0.0),  # the negation alone
        ("non transparent", "no changes are needed to the guest", 0.0),
        ("non transparent", "transparent to the guest", 0.0),  # the word it denies, affirmed: the opposite
        ("not contain acid", "it contains acid", 0.0),
        ("no downtime", "there is some downtime", 0.0),
        ("non transparent", "it is not transparent", 1.0),
        ("non transparent", "nontransparent", 1.0),
        ("not contain acid", "the food does not contain any acid", 1.0),
        ("no flow control", "there is no flow control", 1.0),
        ("does not converge", "so it doesnt converge", 1.0),  # an apostrophe left out
    ],
)
def test_a_negative_term_is_met_by_its_negation_and_what_it_denies_together(term, answer, credit):
    grade = grade_answer(card("What is it?", [term, "something else"]), answer, KEYWORD_ONLY)
    assert grade.terms[0].credit == credit


@pytest.mark.parametrize(
    "answer, credited",
    [
        ("examples of managed execution", False),  # the question, restated
        ("What are the examples of managed execution?", False),
        ("managed execution examples: sharing", True),
    ],
)
def test_an_answer_that_only_restates_the_question_earns_nothing(answer, credited):
    grade = grade_answer(card("What are examples of managed execution?", ["managed execution", "sharing"]), answer, KEYWORD_ONLY)
    assert (grade.score > 0) is credited
    assert grade.answered  # a restatement is an attempt, not a non-answer


@pytest.mark.parametrize(
    "answer, credited",
    [
        ("the difference between privileged and non privileged operations", False),  # spelt right, still the question
        ("privileged operations and non-privileged operations are different", False),
        ("privileged ones touch the I/O registers, non privileged ones do not", True),
    ],
)
def test_a_question_restated_in_other_spellings_earns_nothing(answer, credited):
    """The author's question misspells "privileged": the student's right spelling restates it all the same."""
    question = "What is the difference between priviliged and non priviliged operations?"
    grade = grade_answer(card(question, ["non priviliged", "priviliged", "I/O"]), answer, KEYWORD_ONLY)
    assert (grade.score > 0) is credited


@pytest.mark.parametrize(
    "term, answer, how",
    [
        ("live migration", "live migration", "exact"),
        ("aggregation", "aggregating", "stem"),
        ("virtualization", "virtualisation", "typo"),
        ("virtualization", "virt", "typo"),
        ("read-only", "readonly", "compound"),
        ("database", "data base", "compound"),
        ("emulation", "isolation", None),
    ],
)
def test_each_term_says_how_it_was_found(term, answer, how):
    grade = grade_answer(card("Q?", [term]), answer, KEYWORD_ONLY)
    assert grade.terms[0].how == how


def test_any_two_of_five_is_a_complete_answer():
    examples = card("Give examples.", ["sharing", "aggregation", "emulation", "isolation", "portability"], required=2)
    assert grade_answer(examples, "emulation and isolation", KEYWORD_ONLY).score == 1.0
    assert grade_answer(examples, "isolation", KEYWORD_ONLY).score == 0.5
    assert grade_answer(examples, "security", KEYWORD_ONLY).score == 0.0


# --- the semantic tier (the wordllama package's bundled vectors) --------------------------------

semantic = pytest.importorskip("grader.semantic")


@pytest.fixture(scope="module")
def vectors():
    try:
        return semantic.load()
    except semantic.SemanticUnavailable as exc:
        pytest.skip(str(exc))


def test_a_term_word_is_found_by_a_word_of_the_same_meaning(vectors):
    grader = KeywordGrader(GradingSettings(), vectors)
    grade = grader.grade(card("How does a VM migration begin?", ["start the copy"]), "begin the copy")
    assert grade.terms[0].found and grade.terms[0].how == "meaning"
    assert grade.terms[0].matched_text == "begin the copy"


@pytest.mark.parametrize(
    "term, answer",
    [
        ("hypervisor", "supervisor"),  # alike in letters and in vectors, not the same thing
        ("increase", "decrease"),
        ("big", "small"),
    ],
)
def test_look_alikes_and_opposites_are_not_found_by_meaning(vectors, term, answer):
    grade = KeywordGrader(GradingSettings(), vectors).grade(card("Q?", [term]), answer)
    assert grade.terms[0].credit == 0


@pytest.mark.parametrize(
    "terms, answer",
    [
        (["λογισμικό", "εικονικές μηχανές"], "λογισμικό"),  # Greek, spelt letter by letter
        (["תוכנה", "מכונות וירטואליות"], "תוכנה"),  # Hebrew
        (["برنامج", "الأجهزة الافتراضية"], "برنامج"),  # Arabic
        (["하이퍼바이저", "컴퓨터 에뮬레이션"], "하이퍼바이저"),  # Korean, spelt byte by byte
    ],
)
def test_words_the_vectors_know_only_letter_by_letter_mean_nothing_to_them(vectors, terms, answer):
    """Such a word's vector is the mean of its letters': any two words of the script were close enough to be synonyms."""
    grade = KeywordGrader(GradingSettings(), vectors).grade(card("Q?", terms), answer)
    assert [(t.how, t.credit) for t in grade.terms] == [("exact", 1.0), (None, 0.0)]


def test_keyword_mode_uses_no_meaning_and_reports_no_similarity(vectors):
    grade = KeywordGrader(KEYWORD_ONLY, vectors).grade(card("How does it begin?", ["start"]), "begin")
    assert grade.score == 0 and grade.similarity is None


def test_the_answer_similarity_to_the_reference_is_reported(vectors):
    grader = KeywordGrader(GradingSettings(), vectors)
    reference = card("What is live migration?", ["live migration"], answer="moving a running VM to another host")
    close = grader.grade(reference, "moving a running virtual machine to a different host")
    far = grader.grade(reference, "bananas are yellow fruit")
    assert close.similarity > 0.7 > far.similarity


def test_the_similarity_leaves_out_the_words_the_question_gives(vectors):
    grader = KeywordGrader(GradingSettings(), vectors)
    reference = card("How does live migration move a virtual machine?", ["copy"], answer="it copies the memory of the running virtual machine to the new host")
    echo = grader.grade(reference, "it moves the virtual machine")
    assert echo.answered and echo.similarity == 0  # every content word is the question's: nothing is said of the rest
    # The same answer to a question that does not give those words is close to the reference.
    other = card("What happens to the memory?", ["copy"], answer=reference.answer)
    assert grader.grade(other, "it moves the virtual machine").similarity > 0.3
    # Words of its own keep their similarity whatever question words come with them.
    own = grader.grade(reference, "copies memory to the new host")
    with_question = grader.grade(reference, "live migration copies memory to the new host")
    assert own.similarity == with_question.similarity > 0.7


def test_a_huge_answer_is_compared_in_bounded_memory(vectors):
    """An answer is untrusted text of any length: its words' vectors were one array, 1 KB a word (a 50 MB answer of
    six million words took 7.8 GB to grade), where a block at a time gives the same similarity."""
    import tracemalloc

    import numpy as np

    from grader.normalize import tokenize

    words = tokenize("sharing of one machine, aggregation of many machines")
    tokens = words * 20_000  # 160,000 words, the same few: a list of references, 1.3 MB
    reference = semantic.text_vector(vectors, words)
    tracemalloc.start()
    try:
        huge = semantic.similarities(vectors, reference, [tokens], set())[0]
        whole = semantic.text_vector(vectors, tokens)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 40 * 2**20, f"peak traced memory {peak / 2**20:.0f} MiB"  # the one array alone was 160 MiB
    assert huge == pytest.approx(1.0) and np.allclose(whole, reference, atol=1e-5)  # float32 sums in another order


def test_a_reference_made_of_the_question_words_keeps_them(vectors):
    grader = KeywordGrader(GradingSettings(), vectors)
    echo = card("What is memory?", ["memory"], answer="memory")
    assert grader.grade(echo, "the RAM").similarity > 0.3  # the reference's vector is not empty: its words count


def test_threads_sharing_a_grader_all_grade_with_the_vectors(monkeypatch, vectors):
    # A thread that grades while another loads the vectors waits for them: one that went on without them compiled the
    # card by words alone, and every later grade of that card, in any thread, lacked the meaning tier.
    loading = threading.Event()

    def slow_load():
        loading.set()
        time.sleep(0.2)
        return vectors

    monkeypatch.setattr(semantic, "load", slow_load)
    grader = KeywordGrader()
    close = card("How does a VM migration begin?", ["start the copy"])
    first = threading.Thread(target=grader.grade, args=(close, "begin the copy"))
    first.start()
    loading.wait()
    meanwhile = grader.grade(close, "begin the copy")
    first.join()
    assert meanwhile == KeywordGrader(GradingSettings(), vectors).grade(close, "begin the copy")
    assert meanwhile.terms[0].how == "meaning" and meanwhile.similarity is not None


def test_loading_the_vectors_makes_no_network_call(monkeypatch):
    attempts = []

    def refuse(self, address, *args, **kwargs):
        attempts.append(address)
        raise OSError("network blocked by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: attempts.append(a) or (_ for _ in ()).throw(OSError("no DNS")))
    semantic.load.cache_clear()
    try:
        vectors = semantic.load()
        grade = KeywordGrader(GradingSettings(), vectors).grade(EXAMPLES, "sharing and isolation")
    except semantic.SemanticUnavailable as exc:
        pytest.skip(str(exc))
    finally:
        semantic.load.cache_clear()
    assert attempts == [] and grade.score == 0.5


def test_without_the_vectors_grading_goes_on_by_words_with_one_notice(monkeypatch):
    monkeypatch.setitem(sys.modules, "wordllama", None)  # "import wordllama" now fails
    semantic.load.cache_clear()
    try:
        grader = KeywordGrader(GradingSettings())
        first = grader.grade(EXAMPLES, "sharing and isolation")
        grader.grade(EXAMPLES, "emulation")
    finally:
        semantic.load.cache_clear()
    assert first.score == 0.5 and first.similarity is None
    assert grader.notices == ["meaning tier off: the wordllama package is not installed; grading by words only"]


def test_why_the_vectors_cannot_load_is_known_without_loading_them(monkeypatch, tmp_path):
    from importlib.machinery import ModuleSpec

    monkeypatch.setitem(sys.modules, "wordllama", None)
    assert semantic.unavailable_reason() == "meaning tier off: the wordllama package is not installed"
    empty = ModuleSpec("wordllama", None, origin=str(tmp_path / "__init__.py"))  # installed without its vectors
    monkeypatch.setattr("importlib.util.find_spec", lambda name: empty)
    assert semantic.unavailable_reason() == f"meaning tier off: the l2_supercat word vectors are not in {tmp_path}"


def test_damaged_vectors_fall_back_to_words_with_a_notice(monkeypatch, tmp_path, vectors):
    weights, tokenizer = semantic._files()
    damaged = tmp_path / weights.name
    damaged.write_bytes(weights.read_bytes()[:1000])  # a download cut short
    monkeypatch.setattr(semantic, "_files", lambda: (damaged, tokenizer))
    semantic.load.cache_clear()
    try:
        grader = KeywordGrader(GradingSettings())
        grade = grader.grade(EXAMPLES, "sharing and isolation")
    finally:
        semantic.load.cache_clear()
    assert grade.score == 0.5 and grade.similarity is None
    assert len(grader.notices) == 1 and grader.notices[0].startswith("meaning tier off: cannot load the l2_supercat word vectors: ")


def test_loading_the_vectors_imports_neither_wordllama_nor_an_http_client(vectors):
    import subprocess

    code = "import sys; from grader.semantic import load; load(); print(sorted(m for m in ('wordllama', 'requests', 'urllib3') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --- the command line ------------------------------------------------------------------------

DECK = """# Migration

1. <details markdown=1><summary markdown="span"> How does a live migration begin? </summary>

    It ==starts the copy== of memory while the VM runs.

</details>
"""


@pytest.fixture
def files(tmp_path):
    deck = tmp_path / "deck.md"
    deck.write_text(DECK, encoding="utf-8")
    answers = tmp_path / "answers.jsonl"
    answers.write_text('{"card": 1, "answer": "it begins the copy"}\n', encoding="utf-8")
    return str(deck), str(answers)


def test_grade_marks_a_term_found_by_meaning_and_match_keyword_turns_it_off(files, vectors):
    from .conftest import run_cli

    by_meaning = run_cli("grade", *files, "--jobs", "1")
    assert by_meaning.returncode == 0, by_meaning.stderr
    row = by_meaning.stdout.splitlines()[1]
    assert row.split()[:4] == ["1", "1", "1.00", "correct"] and "≈starts the copy" in row
    record = json.loads(run_cli("grade", *files, "--json", "--jobs", "1").stdout)
    assert record["terms"][0]["how"] == "meaning" and record["terms"][0]["matched_text"] == "begins the copy"
    assert 0 < record["similarity"] <= 1
    words_only = json.loads(run_cli("grade", *files, "--json", "--match", "keyword", "--jobs", "1").stdout)
    assert words_only["similarity"] is None
    assert (words_only["terms"][0]["credit"], words_only["terms"][0]["how"]) == (0.5, "exact")  # "copy" alone


def test_a_missing_semantic_tier_is_one_notice_and_grading_goes_on(files, monkeypatch):
    from .conftest import run_cli

    monkeypatch.setattr(semantic, "unavailable_reason", lambda: "meaning tier off: the wordllama package is not installed")
    result = run_cli("grade", *files, "--json", "--jobs", "1")
    assert result.returncode == 0 and json.loads(result.stdout)["card"]
    assert result.stderr == "Notice: meaning tier off: the wordllama package is not installed; grading by words only.\n"


def test_bad_match_value_is_a_usage_error(files):
    from .conftest import run_cli

    assert run_cli("grade", *files, "--match", "vibes").returncode == 2


# --- what a question needs: the deck says so ---------------------------------------------------

GASES_MD = """# Gases

1. <details markdown=1><summary markdown="span"> Name one noble gas. </summary>

    <!-- any 1 -->
    ==helium==, ==neon==, ==argon==

</details>

2. <details markdown=1><summary markdown="span"> Name two noble gases. </summary>

    <!-- any two -->
    ==helium==, ==neon==, ==argon==

</details>

3. <details markdown=1><summary markdown="span"> Name the three lightest. </summary>

    <!-- any 3 -->
    ==helium==, ==neon==, ==argon==

</details>
"""

GASES_YAML = """title: Gases
cards:
  - question: Name one noble gas.
    key_terms: [helium, neon, argon]
    required: 1
  - question: Name any.
    key_terms: [helium, neon]
    required: 2
"""


def test_a_deck_says_how_many_terms_make_a_complete_answer(tmp_path):
    from grader.decks import parse_deck

    md, yml = tmp_path / "gases.md", tmp_path / "gases.yaml"
    md.write_text(GASES_MD, encoding="utf-8")
    yml.write_text(GASES_YAML, encoding="utf-8")
    markdown, plain = parse_deck(md), parse_deck(yml)
    assert [c.required for c in markdown.deck.cards] == [1, None, None]
    assert [c.required for c in plain.deck.cards] == [1, None]
    assert [(f.line, f.message) for f in markdown.findings] == [
        (10, "'<!-- any two -->' should give one count of key terms, as digits: <!-- any 2 -->"),
        (17, "'<!-- any 3 -->' asks for 3 of 3 key terms: that is all of them"),
    ]
    assert [f.message for f in plain.findings] == ["required: 2 asks for 2 of 2 key terms: that is all of them"]
    assert all("any" not in t.text for c in markdown.deck.cards for t in c.key_terms)  # the note is not a term
    assert grade_answer(markdown.deck.cards[0], "argon", KEYWORD_ONLY).score == 1.0


def test_loading_the_vectors_leaves_logging_as_it_was(vectors):
    import subprocess

    code = "import logging; from grader.semantic import load; load(); r = logging.getLogger(); print(len(r.handlers), r.level)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["0", "30"]  # no handler, WARNING: as Python starts


def test_practice_shows_how_close_an_answer_to_prose_comes_in_meaning(vectors):
    """A card without highlights is scored on its derived terms and the whole answer's similarity to the reference:
    practice says how close the answer came, so the score can be understood; highlighted cards leave it out."""
    from grader.keyterms import derive_key_terms
    from grader.render import term_lines

    reference = "it copies the memory of the running virtual machine to the new host"
    prose = Card(id="p", number=1, question="What happens in live migration?", answer=reference,
                 key_terms=derive_key_terms(reference, question="What happens in live migration?"))  # fmt: skip
    grader = KeywordGrader(GradingSettings(), vectors)
    grade = grader.grade(prose, "the RAM is transferred to the other server")
    shown = [line.plain for line in term_lines(grade)]
    assert f"≈ as a whole, {grade.similarity:.0%} close in meaning to the reference" in shown
    highlighted = grader.grade(card("What happens in live migration?", ["copies the memory"], answer=reference), "the RAM is moved")
    assert highlighted.similarity is not None and not any(line.startswith("≈") for line in map(str, term_lines(highlighted)))
