"""The deck parser against the seed deck, the real corpus and every variation it holds."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from grader import DeckError, InputError, KeywordGrader, Verdict, card_id, find_decks, load_deck, parse_deck
from grader.decks import parse_markdown

from .conftest import CORPUS, SEED_DECK, run_cli

CORPUS_DECKS = sorted(CORPUS.glob("*/*.md")) if CORPUS.is_dir() else []
needs_corpus = pytest.mark.skipif(not CORPUS_DECKS, reason="shared decks corpus not present")


def card(question: str, body: str, indent: str = "    ") -> str:
    lines = "\n".join(indent + ln if ln else "" for ln in body.split("\n"))
    return f'1. <details markdown=1><summary markdown="span"> {question} </summary>\n\n{lines}\n\n</details>\n\n'


def terms_of(md: str) -> list[str]:
    return [t.text for t in parse_markdown(md).deck.cards[0].key_terms]


def test_seed_deck_cards_questions_and_terms(seed_deck):
    assert len(seed_deck.cards) == 18
    assert seed_deck.title == "Virtualization"
    first = seed_deck.cards[0]
    assert first.question == "What are 3 main characteristics of virtualization environments?"
    assert [t.text for t in first.key_terms] == ["increased secuirity", "managed execution", "portability"]
    assert [c.number for c in seed_deck.cards] == list(range(1, 19))
    assert "==" not in first.answer or "portability" in first.answer


def test_seed_deck_self_graded_and_derived_cards(seed_deck):
    by_number = {c.number: c for c in seed_deck.cards}
    assert not by_number[17].gradable and by_number[17].images == ["./static/CLD/virt6.png"]
    assert not by_number[4].gradable, "an image with a side note is self-graded"
    assert by_number[18].gradable and all(t.derived for t in by_number[18].key_terms)
    derived = " ".join(t.text for t in by_number[18].key_terms).lower()
    assert "docker daemon" in derived and "rest api" in derived


@needs_corpus
@pytest.mark.parametrize("path", CORPUS_DECKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_corpus_deck_loads_one_card_per_details_block(path: Path):
    text = path.read_text(encoding="utf-8")
    parsed = parse_deck(path)
    assert len(parsed.deck.cards) == len(re.findall(r"<details\b", text))
    for c in parsed.deck.cards:
        assert "<summary" not in c.question and "</" not in c.question
        assert "</details>" not in c.answer and "<summary" not in c.answer
        for term in c.key_terms:
            assert term.text and "==" not in term.text and "$" not in term.text
    ids = [c.id for c in parsed.deck.cards]
    assert len(set(ids)) == len(ids)


@needs_corpus
@pytest.mark.parametrize("path", CORPUS_DECKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_math_changes_no_corpus_deck_without_a_mark_in_its_math(path: Path, monkeypatch):
    """Reading ``==`` in math as an operator changes a deck's cards and terms only where its math holds ``==``
    (no deck of the corpus does): the corpus's ``$`` are math, money or text as they were."""
    from grader import cardtext
    from grader.formats import obsidian

    def deck(p):
        parsed = parse_deck(p)
        return [(c.id, c.answer, [t.text for t in c.key_terms]) for c in parsed.deck.cards], parsed.findings

    now = deck(path)
    monkeypatch.setattr(cardtext, "without_code_or_math", cardtext.without_code)
    monkeypatch.setattr(obsidian, "without_code_or_math", cardtext.without_code)
    text = cardtext.without_code(path.read_text(encoding="utf-8"))
    if not any("==" in text[a:b] for a, b in cardtext._math(text)):
        assert now == deck(path)


@needs_corpus
def test_corpus_has_547_cards_and_most_are_gradable():
    cards = [c for p in CORPUS_DECKS for c in load_deck(p).cards]
    assert len(cards) == 547
    assert sum(c.gradable for c in cards) / len(cards) > 0.85


@needs_corpus
def test_every_corpus_reference_typed_as_the_deck_shows_it_is_a_correct_answer():
    """The author's own answer, typed out (highlights and images left out), is a complete answer to its card."""
    grader = KeywordGrader()
    short = []
    for path in CORPUS_DECKS:
        for card in load_deck(path).cards:
            if not card.gradable:
                continue
            typed = re.sub(r"!\[[^\]]*\]\([^)]*\)", " ", card.answer).replace("==", "")
            grade = grader.grade(card, typed)
            if grade.verdict is not Verdict.correct:
                short.append(f"{path.parent.name}/{path.name}:{card.line} {grade.score:.2f}")
    assert not short


@needs_corpus
@pytest.mark.parametrize(
    "deck, number, expected_terms",
    [
        # highlight spanning two lines
        ("AML/detection-and-segmentation.md", 1, ["label each pixel in the image with a category label"]),
        # ==nonce=== : the extra = is a typo
        ("BDT/ethereum.md", None, ["nonce"]),
        # mark in the middle of a word widens to the word
        ("DEEP/data-features-and-more.md", 7, ["the features of the data points that do not change even if the embedding is changed"]),
        # math inside a highlight
        ("BIG/recommender-systems.md", 4, ["utility matrix R is sparse", "cold start"]),
    ],
)
def test_corpus_variations(deck, number, expected_terms):
    cards = load_deck(CORPUS / deck).cards
    pool = [t.text for c in (cards if number is None else [cards[number - 1]]) for t in c.key_terms]
    for term in expected_terms:
        assert any(t.startswith(term) for t in pool), (term, pool)


@needs_corpus
def test_summary_on_its_own_line():
    cards = load_deck(CORPUS / "BIG/mapreduce.md").cards
    assert cards[2].question == "What are the 3 main components of a standard implementation?"
    assert cards[2].key_terms and all(t.derived for t in cards[2].key_terms)


@needs_corpus
def test_headings_with_highlights_belong_to_no_card():
    cards = load_deck(CORPUS / "BIG/graph-link-analysis.md").cards
    assert not any(t.text.lower() == "page rank" for c in cards for t in c.key_terms)


@needs_corpus
def test_image_without_bang_is_an_image():
    cards = load_deck(CORPUS / "BDT/bitcoin.md").cards
    assert any(img.endswith("bit2.png") for c in cards for img in c.images)


@pytest.mark.parametrize(
    "body, expected",
    [
        ("plain ==term== here", ["term"]),
        ("==spans\nlines== ok", ["spans lines"]),
        ("==unclosed at the end", ["unclosed at the end"]),
        ("==a==, ==b== and ==c===", ["a", "b", "c"]),
        ("==$x^2$ grows==", ["x^2 grows"]),
        ("==**bold** term==", ["bold term"]),
        ("- Virtual machine ==manager==\n- ==library==", ["Virtual machine manager", "library"]),
        ("- the ==utility matrix== is sparse", ["utility matrix"]),
        ("==first== then ==unclosed\n\nnext ==para==", ["first", "unclosed", "para"]),
        ("see [[Some Note]] and ==wiki [[Linked|alias]]==", ["wiki alias"]),
        ("<small>==tiny==</small>", ["tiny"]),
        ("> quoted ==term==", ["term"]),
        ("==a== and t==he thing==", ["a", "the thing"]),
        # a mark after a character of a script without spaces opens there, as markdown renderers read it: widened
        # to the "word" before it, the terms were "在虚拟机监控器" and "上运行的计算机仿真"
        ("在==虚拟机监控器==上运行的==计算机仿真==。", ["虚拟机监控器", "计算机仿真"]),
        ("==ハイパーバイザー==の上で動く==エミュレーション==です", ["ハイパーバイザー", "エミュレーション"]),
        ("==ซอฟต์แวร์==ที่รัน==เครื่องเสมือน==", ["ซอฟต์แวร์", "เครื่องเสมือน"]),
        ("- 它是==托管执行==", ["托管执行"]),
        ("- 虚拟机 ==监控器==", ["虚拟机 监控器"]),  # after a space, a list item's lead-in is part of it as in English
        ("no highlight at all, only prose about containers", None),
        # "==" in code is an operator, not a mark: it made "b to compare, and" a key term, and lint call it unclosed
        ("use `a == b` to test ==equality==", ["equality"]),
        ("`x ==y== z` shows ==marks==", ["marks"]),
        ("==`ls -l`== lists", ["ls -l"]),
        ("```\nif a == b:\n```\nthen ==branch==", ["branch"]),
        # so is "==" in math: it made "b then" a term and lint call the real highlight unclosed
        ("if $a == b$ then ==equality== holds", ["equality"]),
        ("$$\nx == y\n$$\nthen ==display==", ["display"]),
        ("==$a == b$ is equality== here", ["a b is equality"]),  # a highlight holding such math: the term is whole
        # but not money, nor a "$" a space or a digit rules out as math: the marks are marks there
        ("costs $5 ==cheap==, $10 ==dear==", ["cheap", "dear"]),
        ("from $5 ==to== $6", ["to"]),
        ("$5-$6 ==range==", ["range"]),
        ("\\$a ==escaped== b$", ["escaped"]),
        ("one $a\n\n==para== b$", ["para"]),  # math stays in its paragraph
    ],
)
def test_highlight_variations(body, expected):
    terms = terms_of(card("Q?", body))
    if expected is None:
        assert terms and all(t for t in terms)  # derived from the prose
    else:
        assert terms == expected


def test_tabs_and_spaces_mixed_and_no_space_after_tag():
    md = '1. <details markdown=1><summary markdown="span">Q one?</summary>\n\t\\\n\t- ==alpha==\n    - ==beta==\n</details>\n'
    c = parse_markdown(md).deck.cards[0]
    assert c.question == "Q one?" and [t.text for t in c.key_terms] == ["alpha", "beta"]


def test_empty_and_question_mark_questions_get_unique_ids_and_lint():
    md = card("", "==a==") + card("?", "==b==") + card("", "==c==")
    parsed = parse_markdown(md)
    ids = [c.id for c in parsed.deck.cards]
    # "?" normalises to the empty question too: three cards share one hash
    assert ids == [ids[0], ids[0] + "-2", ids[0] + "-3"]
    messages = [f.message for f in parsed.findings]
    assert messages.count("card has an empty question") == 3


def test_card_id_is_stable_under_answer_and_whitespace_edits():
    a = parse_markdown(card("What is  a Hypervisor?", "==x==")).deck.cards[0]
    b = parse_markdown(card("what is a hypervisor ?", "something else ==y==")).deck.cards[0]
    assert a.id == b.id == card_id("What is a hypervisor")
    assert card_id("What is a hypervisor") != card_id("What is a container")


def test_text_before_first_card_and_numbering_restarts():
    md = "# Title\nIntro with ==not a term==.\n\n" + card("Q1?", "==a==") + "#### Section\n\n" + card("Q2?", "==b==")
    deck = parse_markdown(md).deck
    assert deck.title == "Title"
    assert [c.number for c in deck.cards] == [1, 2]
    assert [t.text for c in deck.cards for t in c.key_terms] == ["a", "b"]


def test_lint_findings_name_the_line():
    md = card("Same?", "==open") + card("Same?", "![](img.png)") + card("Plain?", "just text without highlights here")
    findings = [(f.line, f.message) for f in parse_markdown(md).findings]
    assert any("never closed" in m for _, m in findings)
    assert any("duplicate question" in m for _, m in findings)
    assert any("only an image" in m for _, m in findings)
    assert any("no highlighted key terms" in m for _, m in findings)
    assert all(line >= 1 for line, _ in findings)


@pytest.mark.parametrize("name, content", [("a.md", card("Is it so?", "It is.")), ("a.yaml", "- question: Is it so?\n  answer: It is.\n")])
def test_lint_says_an_answer_of_common_words_only_is_self_graded(tmp_path, name, content):
    """No key term can be derived from 'It is.': the card is self-graded. Lint said that grading used derived
    terms (markdown) or nothing at all (YAML)."""
    deck = tmp_path / name
    deck.write_text(content, encoding="utf-8")
    assert not load_deck(deck).cards[0].gradable
    result = run_cli("lint", str(deck))
    assert (result.returncode, result.stdout) == (1, f"{deck}:1: card answer has no words to grade by: it can only be self-graded\n")


def test_lint_names_a_missing_image_once_per_card(tmp_path):
    deck = tmp_path / "deck.md"
    deck.write_text(card("Where?", "![](map.png) before, ![](map.png) after, and ![](key.png)"), encoding="utf-8")
    result = run_cli("lint", str(deck))
    lines = [line.split(" (looked in")[0] for line in result.stdout.splitlines() if "image not found" in line]
    assert lines == [f"{deck}:1: image not found: map.png", f"{deck}:1: image not found: key.png"]


def test_an_image_in_the_question_is_the_questions(tmp_path):
    """Shown with the question (see test_question_images), so lint has nothing to say of it while its file is there."""
    deck = tmp_path / "deck.md"
    question = "Which layer is marked here?\n![diagram](layers.png)\n"
    example = "What does `![alt](path)` show?"  # an image written as code is an example, shown as text
    deck.write_text(card(question, "the ==network== layer") + card(example, "an ==image=="), encoding="utf-8")
    (tmp_path / "layers.png").write_bytes(b"")
    result = run_cli("lint", str(deck))
    assert (result.returncode, result.stdout) == (0, "")
    assert [(c.question, c.question_images, c.images) for c in load_deck(deck).cards] == [
        ("Which layer is marked here? diagram", ["layers.png"], []),
        ("What does alt show?", [], []),
    ]


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_plain_decks(tmp_path, suffix):
    cards = [
        {"question": "What is a VM?", "answer": "An emulated computer", "key_terms": ["emulated computer"]},
        {"question": "What is Docker?", "answer": "A platform that runs containers with a daemon"},
    ]
    path = tmp_path / f"deck{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps({"title": "Mine", "cards": cards}))
    else:
        import yaml

        path.write_text(yaml.safe_dump({"title": "Mine", "cards": cards}))
    deck = load_deck(path)
    assert deck.title == "Mine"
    assert [t.text for t in deck.cards[0].key_terms] == ["emulated computer"]
    assert deck.cards[1].key_terms and all(t.derived for t in deck.cards[1].key_terms)


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
@pytest.mark.parametrize(
    "key_terms, terms, finding",
    [
        (None, ["Reliable ordered delivery", "bytes"], None),  # absent: derived from the answer
        ([], [], None),  # written empty: a self-graded card on purpose, nothing derived
        (["", " "], [], "key_terms has blank entries (1, 2): they are left out; with no term left, the card can only be self-graded"),
        (["ordered", "\t"], ["ordered"], "key_terms has a blank entry (2): it is left out"),
    ],
    ids=["absent", "empty", "all-blank", "one-blank"],
)
def test_written_key_terms_are_the_cards_terms_as_they_stand(tmp_path, suffix, key_terms, terms, finding):
    """An empty or blank list fell back to terms derived from the answer, and lint said nothing."""
    first = {"question": "What does TCP give?", "answer": "Reliable ordered delivery of bytes"}
    cards = [first if key_terms is None else {**first, "key_terms": key_terms}, {"question": "Port?", "answer": "A ==number== naming an endpoint"}]
    path = tmp_path / f"deck{suffix}"
    if suffix == ".json":
        path.write_text('{"cards": [\n' + ",\n".join(json.dumps(c) for c in cards) + "\n]}\n")
    else:
        import yaml

        path.write_text(yaml.safe_dump({"cards": cards}))
    parsed = parse_deck(path)
    assert [t.text for t in parsed.deck.cards[0].key_terms] == terms
    assert parsed.deck.cards[0].gradable == bool(terms)
    line = 2
    assert [(f.line, f.message) for f in parsed.findings] == ([] if finding is None else [(line, finding)])
    result = run_cli("lint", str(path))
    assert result.stdout == ("" if finding is None else f"{path}:{line}: {finding}\n")


@pytest.mark.parametrize(
    "name, content, error, message",
    [
        ("missing.md", None, InputError, "no such deck"),
        ("bin.md", b"\x00\x01\x02", InputError, "binary data"),
        ("latin1.md", "caf\xe9".encode("latin-1"), InputError, "not valid UTF-8"),
        ("empty.md", b"# Nothing here\n", DeckError, "deck has no cards"),
        ("bad.yaml", b"cards: [\n", DeckError, "invalid YAML"),
        ("bad.json", b'{"cards": [{"answer": "x"}]}', DeckError, "question"),
        ("extra.yaml", b"cards:\n- question: q\n  answr: typo\n", DeckError, "answr"),
        # a character YAML does not allow: it said 'position 27' of '<unicode string>', and no line
        ("bell.yaml", b"cards:\n- question: q\n  answer: a \x07 b\n", DeckError, "bell.yaml:3: invalid YAML: character #x0007 is not allowed"),
        # an escaped lone surrogate: it named the file only; a pair (an emoji) and an escaped backslash are no such thing
        ("lone.json", b'{"cards": [\n {"question": "q", "answer": "\\\\ud800 \\ud83d\\ude00"},\n {"question": "r", "answer": "a \\udc00"}\n]}\n',
         DeckError, "lone.json:3: contains an escaped lone surrogate (like \\ud800), which is not text"),
        ("lone.yaml", b'cards:\n- question: q\n  answer: "\\U0001F600 \\uD800 b"\n', DeckError, "lone.yaml:3: contains an escaped lone surrogate"),
    ],
)
def test_deck_errors_name_the_file(tmp_path, name, content, error, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(error) as info:
        load_deck(path)
    assert message in str(info.value) and name in str(info.value)


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_an_unknown_field_of_a_plain_deck_is_named_with_the_fields_it_may_have_meant(tmp_path, suffix):
    """A typo was reported in pydantic's words, 'Extra inputs are not permitted', which named no field it should be."""
    text = {
        ".yaml": "titel: Mine\ncards:\n  - question: What is TCP?\n    anwser: A ==protocol==\n    colour: red\n",
        ".json": '{"titel": "Mine", "cards": [\n {"question": "What is TCP?", "anwser": "A ==protocol==", "colour": "red"}]}\n',
    }[suffix]
    path = tmp_path / f"deck{suffix}"
    path.write_text(text)
    card_fields = "(a card's fields are question, answer, key_terms, required, reference_answers)"
    assert run_cli("lint", str(path)).stdout.splitlines() == [
        # YAML knows where each field is written: the misspelt one's own line (JSON: the card's "question" line).
        f"{path}:{4 if suffix == '.yaml' else 2}: cards.0.anwser: unknown field: did you mean 'answer'? {card_fields}",
        f"{path}:{5 if suffix == '.yaml' else 2}: cards.0.colour: unknown field {card_fields}",
        f"{path}:1: titel: unknown field: did you mean 'title'? (a deck's fields are title, language, cards)",
    ]


@pytest.mark.parametrize(
    "suffix, text",
    [
        (".yaml", "title: 'Exam question: networking'\ncards:\n  - answer: |\n      The question: what is TCP?\n    question: First?\n"
                  "  - question: Second?\n    answer: ''\n  - question: Third?\n    answer: a\n    required: 0\n"),
        (".json", '{"title": "Exam question: networking", "cards": [\n {"answer": "The question: what is TCP?", "question": "First?"},\n'
                  ' {"question": "Second?", "answer": ""},\n {"question": "Third?", "answer": "a",\n  "required": 0}]}\n'),
    ],
)
def test_lint_names_the_line_each_plain_card_starts_on(tmp_path, suffix, text):
    """Cards were found by lines holding 'question:' anywhere, so a title or an answer saying it moved every card after."""
    path = tmp_path / f"deck{suffix}"
    path.write_text(text)
    first, second, third = (3, 6, 8) if suffix == ".yaml" else (2, 3, 4)
    result = run_cli("lint", str(path))
    required = 10 if suffix == ".yaml" else third  # YAML: the field's own line; JSON has the card's
    assert result.stdout == f"{path}:{required}: cards.2.required: Input should be greater than or equal to 1\n"
    path.write_text(text.replace("0", "1"))
    assert [c.line for c in load_deck(path).cards] == [first, second, third]
    assert run_cli("lint", str(path)).stdout.startswith(f"{path}:{second}: card answer is empty")


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2", 2),
        ("true", "cards.0.required: Input should be a valid integer"),  # it was 1: "any one term", where "all" was meant
        ("'2'", "cards.0.required: Input should be a valid integer"),
        ("2.5", "cards.0.required: Input should be a valid integer"),
        ("[2]", "cards.0.required: Input should be a valid integer"),
    ],
)
def test_required_is_a_whole_number_as_written(tmp_path, value, expected):
    path = tmp_path / "deck.yaml"
    path.write_text(f"cards:\n  - question: Which?\n    answer: ==alpha==, ==beta== and ==gamma==\n    required: {value}\n")
    if isinstance(expected, int):
        assert load_deck(path).cards[0].required == expected
    else:
        assert run_cli("lint", str(path)).stdout == f"{path}:4: {expected}\n"  # the line of required: itself


def test_find_decks_recurses_and_skips_non_decks(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deck.md").write_text(card("Q?", "==a=="))
    (tmp_path / "notes.md").write_text("# just notes\n")
    assert find_decks([tmp_path]) == [tmp_path / "sub" / "deck.md"]
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "deck.md").write_text(card("Q?", "==a=="))
    relative = Path(os.path.relpath(tmp_path / "sub", Path.cwd()))  # may contain ".."
    assert find_decks([relative.parent]) == [relative.parent / "sub" / "deck.md"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(DeckError, match="no decks found"):
        find_decks([tmp_path / "empty"])


def test_find_decks_takes_one_path_as_well_as_a_list(tmp_path, monkeypatch):
    # A string was read as a sequence of one-letter paths: find_decks("notes") gave [n, o, t, e, s], and a Path failed.
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "deck.md").write_text(card("Q?", "==a=="))
    monkeypatch.chdir(tmp_path)
    found = [Path("notes", "deck.md")]
    assert find_decks("notes") == find_decks(Path("notes")) == find_decks(["notes"]) == found
    (tmp_path / "empty").mkdir()
    with pytest.raises(DeckError, match="^empty: no decks found"):
        find_decks("empty")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_a_deck_saved_as_utf16_in_a_folder_is_found_and_told(tmp_path, encoding):
    """It was skipped unsaid (its '<details' is not those bytes in UTF-16): 'no decks found', or a deck missing from practice."""
    (tmp_path / "deck.md").write_bytes(("\ufeff" if encoding.endswith("be") else "").encode(encoding) + card("Q?", "==a==").encode(encoding))
    (tmp_path / "notes.md").write_text("# just notes\n", encoding=encoding)
    assert find_decks([tmp_path]) == [tmp_path / "deck.md"]
    result = run_cli("lint", str(tmp_path))
    assert (result.returncode, result.stdout) == (1, f"{tmp_path / 'deck.md'}:1: saved as UTF-16, not UTF-8; save the deck as UTF-8\n")


def test_bundled_deck_is_the_seed_deck():
    from grader.decks import bundled_deck_dir

    assert (bundled_deck_dir() / "virtualization.md").read_text() == SEED_DECK.read_text()


HINT = "<details><summary>Hint</summary>\n\nThink of ==isolation==.\n\n</details>"
NESTED_CASES = [
    # (what, deck, [(question, key terms)], lint lines as "line: message")
    ("a hint inside the answer is part of it", card("What does a hypervisor do?", f"It runs ==virtual machines==.\n\n{HINT}\n\nAnd it ==schedules== them."),
     [("What does a hypervisor do?", ["virtual machines", "isolation", "schedules"])], []),
    ("a spoiler inside a hint, summary on its own line",
     card("Why?", "==a==\n<details>\n<summary>More</summary>\n\n==b==\n<details><summary>Even more</summary>\n==c==\n</details>\n</details>"),
     [("Why?", ["a", "b", "c"])], []),
    ("the answer ends with the hint", card("Why?", f"==a==\n{HINT}") + card("Next?", "==b=="),
     [("Why?", ["a", "isolation"]), ("Next?", ["b"])], []),
    ("a card never closed ends where the next begins", card("One?", "==a==").replace("</details>", "") + card("Two?", "==b=="),
     [("One?", ["a"]), ("Two?", ["b"])], ["1: <details> is never closed with </details>"]),
    ("a card with a hint never closed: the hint and the next card are read as cards",
     "<details><summary>One?</summary>\n\n==a==\n\n" + HINT + "\n\n" + card("Two?", "==b=="),
     [("One?", ["a"]), ("Hint", ["isolation"]), ("Two?", ["b"])], ["1: <details> is never closed with </details>"]),
    ("a card without a summary does not take its hint's", "<details>\n\n==a==\n\n" + HINT + "\n\n</details>\n",
     [("", ["a", "isolation"])], ["1: card has no <summary>: its question is empty", "1: card has an empty question"]),
]


@pytest.mark.parametrize("md, cards, lint", [c[1:] for c in NESTED_CASES], ids=[c[0] for c in NESTED_CASES])
def test_a_details_block_inside_an_answer_is_part_of_it(tmp_path, md, cards, lint):
    """A hint or spoiler folded inside an answer was read as a card of its own, and lint said the card holding it was never closed."""
    deck = tmp_path / "d.md"
    deck.write_text(md, encoding="utf-8")
    parsed = parse_deck(deck)
    assert [(c.question, [t.text for t in c.key_terms]) for c in parsed.deck.cards] == cards
    assert all("<details" not in c.answer and "<summary" not in c.answer for c in parsed.deck.cards)
    result = run_cli("lint", str(deck))
    assert (result.returncode, result.stdout) == (1 if lint else 0, "".join(f"{deck}:{line}\n" for line in lint))


def test_lint_tells_a_summary_never_closed_from_a_missing_one():
    """A question whose </summary> was forgotten was reported as 'card has no <summary>', which the author can see it has."""
    deck = card("One?", "==a==") + '<details>\n<summary markdown="span"> What is RNA?\n\n==ribonucleic acid==\n</details>\n' + "<details>\n\n==b==\n</details>\n"
    findings = [(f.line, f.message) for f in parse_markdown(deck).findings]
    assert findings == [
        (7, "<summary> is never closed with </summary>: its question is empty"),
        (7, "card has an empty question"),
        (12, "card has no <summary>: its question is empty"),
        (12, "card has an empty question"),
    ]


def test_a_hint_keeps_its_summary_in_the_answer():
    answer = parse_markdown(card("What does a hypervisor do?", f"It runs ==virtual machines==.\n\n{HINT}")).deck.cards[0].answer
    assert answer == "It runs ==virtual machines==.\n\nHint\n\nThink of ==isolation==."


@needs_corpus
@pytest.mark.parametrize("path", CORPUS_DECKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_hint_added_to_every_corpus_card_joins_its_answer(path: Path):
    """Each real card given a folded hint (on its closing line, so no line moves) keeps its question and line, gains
    the hint's term, and lint finds nothing new."""
    text = path.read_text(encoding="utf-8")
    original = parse_markdown(text)
    parsed = parse_markdown(text.replace("</details>", "<details><summary>Hint</summary> ==hint term== </details></details>"))
    assert [(c.line, c.question) for c in parsed.deck.cards] == [(c.line, c.question) for c in original.deck.cards]
    for before, after in zip(original.deck.cards, parsed.deck.cards):
        written = [t.text for t in before.key_terms if not t.derived]
        assert [t.text for t in after.key_terms] == [*written, "hint term"]
    assert set(parsed.findings) <= set(original.findings)


def test_a_tag_in_an_answer_is_no_term_of_it(tmp_path):
    """``#[[BD VIII - Linear Regression]]`` files a card under a page (Logseq, Obsidian): it is no part of the answer
    to recall, and made the derived terms "#BD VIII" and "Linear Regression"."""
    path = tmp_path / "deck.md"
    path.write_text(
        "<details><summary>What is the idea behind regularization?</summary>\n\n"
        "We want to reduce the number of free parameters. This is also mentioned in #[[BD VIII - Linear Regression]]\n"
        "</details>\n",
        encoding="utf-8",
    )
    terms = " ".join(t.text for t in load_deck(path).cards[0].key_terms).casefold()
    assert "free parameters" in terms
    assert "bd" not in terms.split() and "regression" not in terms

