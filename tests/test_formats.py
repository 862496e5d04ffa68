"""Deck formats other than grader's markdown: Obsidian Spaced Repetition notes, Logseq flashcards, Anki packages,
Anki's text export and CSV flashcards.

Every format yields the same ``Card`` model (ids from the question, key terms,
images), and ``cards``, ``lint``, ``practice`` and ``grade`` work on each.
The Anki packages are built with Anki's own schema (``anki_fixtures``).
"""

from __future__ import annotations

import json
import sqlite3
import time
import zipfile

import pytest

from grader import DeckError, card_id, load_deck, parse_deck
from grader.decks import find_decks
from grader.formats.anki_notes import html_to_text, render

from .anki_fixtures import BASIC, CLOZE, REVERSED, TYPE_IN, Note, Package, legacy_package, modern_package
from .conftest import run_cli

OBSIDIAN = """---
tags: [reading]
---
# Networking #flashcards/net/transport

What does TCP add over IP?::Reliable, ordered delivery with ==flow control==.
Port:::A number naming an endpoint
<!--SR:!2024-01-01,3,250-->

What is a socket?
?
An endpoint of a connection:
an IP address and a port.

Capital of France
??
Paris

The ==OSI model== has **seven** layers.

{{c1::TCP}} is reliable, {{c2::UDP::protocol}} is not; {{c1::TCP}} again.

```cpp
std::vector<int> v;  // code: not a card
?
```

Prose with `a::b` in inline code is not a card either.
"""

NOTES = [
    Note(BASIC, ["What does TCP add over IP?", "Reliable, <b>ordered</b> delivery with flow control.<br><img src=\"tcp diagram.png\">"], deck="Networking::Transport"),
    Note(REVERSED, ["Port", "A number naming an endpoint"], deck="Networking::Transport"),
    Note(CLOZE, ["{{c1::TCP}} is reliable, {{c2::UDP::protocol}} is not; {{c1::TCP}} &amp; more.", "Both run over IP."], deck="Networking::Transport::Clozes"),
    Note(TYPE_IN, ["Default port of HTTPS?", "443"], deck="Networking::Transport"),
]
MEDIA = {"tcp diagram.png": b"\x89PNG\r\n\x1a\n fake"}

NO_WORDS = "card answer has no words to grade by: it can only be self-graded"
EXPECTED_ANKI = [
    ("What does TCP add over IP?", "Reliable, **ordered** delivery with flow control.\n![](tcp%20diagram.png)"),
    ("Port", "A number naming an endpoint"),
    ("A number naming an endpoint", "Port"),
    ("[...] is reliable, UDP is not; [...] & more.", "==TCP== is reliable, UDP is not; ==TCP== & more.\nBoth run over IP."),
    ("TCP is reliable, [protocol] is not; TCP & more.", "TCP is reliable, ==UDP== is not; TCP & more.\nBoth run over IP."),
    ("Default port of HTTPS?", "443"),
]

ANKI_TEXT = (
    "#separator:tab\n#html:true\n#notetype column:3\n#deck column:4\n#tags column:5\n"
    "What does TCP add over IP?\tReliable, <b>ordered</b> delivery\tBasic\tNet\ttcp\n"
    "Port\tA number naming an endpoint\tBasic (and reversed card)\tNet\t\n"
    '"{{c1::TCP}} is reliable;\nsays ""who""?"\tline one<br>line two\tCloze\tNet\t\n'
)


def qa(deck) -> list[tuple[str, str]]:
    return [(c.question, c.answer) for c in deck.cards]


# --- Obsidian -----------------------------------------------------------------------


def test_obsidian_cards_of_every_kind(tmp_path):
    path = tmp_path / "net.md"
    path.write_text(OBSIDIAN)
    deck = load_deck(path)
    assert deck.title == "net/transport"  # the deck comes from the #flashcards/... tag
    assert qa(deck) == [
        ("What does TCP add over IP?", "Reliable, ordered delivery with ==flow control==."),
        ("Port", "A number naming an endpoint"),
        ("A number naming an endpoint", "Port"),
        ("What is a socket?", "An endpoint of a connection:\nan IP address and a port."),
        ("Capital of France", "Paris"),
        ("Paris", "Capital of France"),
        ("The [...] has seven layers.", "The ==OSI model== has seven layers."),
        ("The OSI model has [...] layers.", "The OSI model has ==seven== layers."),
        ("[...] is reliable, UDP is not; [...] again.", "==TCP== is reliable, UDP is not; ==TCP== again."),
        ("TCP is reliable, [protocol] is not; TCP again.", "TCP is reliable, ==UDP== is not; TCP again."),
    ]
    terms = [[t.text for t in c.key_terms] for c in deck.cards]
    assert terms[0] == ["flow control"] and terms[6:] == [["OSI model"], ["seven"], ["TCP"], ["UDP"]]
    assert [c.line for c in deck.cards][:5] == [6, 7, 7, 10, 15]
    assert [c.id for c in deck.cards] == [card_id(c.question) for c in deck.cards]


@pytest.mark.parametrize(
    "note",
    [
        "# C++ notes\n\nUse std::vector for arrays.\nThe scope operator is Foo::bar.\n",
        "# Notes\n\nA **bold** claim and ==a highlight==.\n\nQ1::A1\n",
        "# Notes\n\n```\n#flashcards\n```\n\nQ1::A1\n",  # a tag shown in code is no tag
    ],
)
def test_a_note_without_the_flashcards_tag_is_no_deck_even_named(tmp_path, note):
    path = tmp_path / "note.md"
    path.write_text(note)
    with pytest.raises(DeckError, match=r"deck has no cards \(no <details> blocks found, and no Obsidian or Logseq flashcards\)"):
        load_deck(path)
    with pytest.raises(DeckError, match="no decks found"):  # nor is it found in a folder
        find_decks([tmp_path])
    (tmp_path / "tagged.md").write_text("#flashcards\n\nQ2::A2\n\nThe ==OSI model== has seven layers.\n")
    assert find_decks([tmp_path]) == [tmp_path / "tagged.md"]
    assert qa(load_deck(tmp_path / "tagged.md")) == [("Q2", "A2"), ("The [...] has seven layers.", "The ==OSI model== has seven layers.")]


def parse_seconds(parse, text: str) -> float:
    """The least CPU time of three parses of ``text`` (CPU time: other work on a busy machine does not count)."""
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        parse(text, "x.md")
        best = min(best, time.process_time() - start)
    return best


@pytest.mark.parametrize("unit", ["::", ":::", "==w== ", "**b** ", "{{c1::", "{{c1::x::", "?\n", "```\n", "#flashcards "])
def test_obsidian_parsing_is_linear(tmp_path, unit):
    from grader.formats.obsidian import parse_obsidian

    def seconds(size: int) -> float:
        return parse_seconds(parse_obsidian, "#flashcards\n\n" + unit * (size // len(unit)))

    size = 1024 if unit in ("==w== ", "**b** ") else 4 * 1024  # each cloze card is its whole paragraph: a costlier unit
    small, large = seconds(size), seconds(4 * size)
    assert large < 8 * max(small, 0.01), (small, large)  # below 10 ms the timer's noise is all there is


# --- Anki packages ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "build, name",
    [
        (lambda p, pk: legacy_package(p, pk), "old.apkg"),
        (lambda p, pk: legacy_package(p, pk, member="collection.anki21"), "anki21.apkg"),
        (lambda p, pk: modern_package(p, pk), "new.apkg"),
        (lambda p, pk: modern_package(p, pk), "whole.colpkg"),
    ],
    ids=["schema11-anki2", "schema11-anki21", "schema18-anki21b", "colpkg"],
)
def test_anki_packages_as_anki_writes_them(tmp_path, build, name):
    path = build(tmp_path / name, Package(NOTES, MEDIA))
    parsed = parse_deck(path)
    deck = parsed.deck
    assert deck.title == "Networking::Transport"  # the deepest deck every card shares
    assert qa(deck) == EXPECTED_ANKI
    cloze_terms = [[t.text for t in c.key_terms] for c in deck.cards[3:5]]
    assert cloze_terms == [["TCP"], ["UDP"]]  # cloze numbers kept: c1 blanks both TCPs, c2 the UDP
    assert deck.cards[0].images == ["tcp%20diagram.png"] and deck.cards[0].gradable  # an Anki answer beside an image is graded
    assert [c.id for c in deck.cards] == [card_id(q) for q, _ in EXPECTED_ANKI]
    # The image is in the package; only the type-in card's '443' has no words to grade by (it was self-graded unsaid).
    assert [(f.line, f.message) for f in parsed.findings] == [(6, NO_WORDS)]


def test_anki_images_come_out_of_the_package_and_missing_ones_are_linted(tmp_path):
    from grader.images import card_images

    path = modern_package(tmp_path / "new.apkg", Package(NOTES, MEDIA))
    deck = load_deck(path)
    [image] = card_images(deck, deck.cards[0])
    assert not image.missing and image.path.read_bytes() == MEDIA["tcp diagram.png"]  # decompressed from zstd
    legacy = legacy_package(tmp_path / "old.apkg", Package(NOTES, {}))
    result = run_cli("lint", str(legacy))
    assert result.returncode == 1
    assert result.stdout == f"{legacy}:1: image not found: tcp%20diagram.png\n{legacy}:6: {NO_WORDS}\n"


def test_an_anki_image_whose_name_is_too_long_for_the_disk_is_missing_not_a_crash(tmp_path):
    """A package may name a media file longer than the file system allows: it cannot be copied out, so it is missing
    (pathlib's is_file() raised "File name too long" from practice and cards)."""
    from grader.images import card_images

    name = "n" * 300 + ".png"
    notes = [Note(BASIC, ["What does TCP add over IP?", f'Reliable delivery.<br><img src="{name}">']), NOTES[0]]
    deck = load_deck(modern_package(tmp_path / "long.apkg", Package(notes, {name: b"\x89PNG fake", **MEDIA})))
    [copied] = card_images(deck, deck.cards[1])  # copied out first, so the package's media folder exists
    [image] = card_images(deck, deck.cards[0])
    assert not copied.missing and image.missing and image.target is None


def test_the_stub_collection_of_a_modern_package_is_not_read(tmp_path):
    path = modern_package(tmp_path / "new.apkg", Package(NOTES[:1]))
    with zipfile.ZipFile(path) as z:
        assert {"collection.anki2", "collection.anki21b", "meta", "media"} <= set(z.namelist())
    assert [c.question for c in load_deck(path).cards] == ["What does TCP add over IP?"]


@pytest.mark.parametrize(
    "content, message",
    [
        (b"not a zip", "not an Anki package (not a zip file)"),
        (None, "not an Anki package (no collection.anki21b, .anki21 or .anki2 inside)"),
        (b"zip:collection.anki2:not sqlite", "the collection inside is not a SQLite database"),
    ],
)
def test_broken_anki_packages_are_one_line_errors(tmp_path, content, message):
    path = tmp_path / "bad.apkg"
    if content is None or content.startswith(b"zip:"):
        with zipfile.ZipFile(path, "w") as z:
            if content:
                _, member, data = content.split(b":", 2)
                z.writestr(member.decode(), data)
            else:
                z.writestr("readme.txt", "hello")
    else:
        path.write_bytes(content)
    with pytest.raises(DeckError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        parse_deck(path)


def _zip_flag(data: bytes, offsets: tuple[int, int], value: int, *, bits: bool) -> bytes:
    """The package with a field of its one member's local and central headers set (``bits``: OR-ed in)."""
    out = bytearray(data)
    for signature, offset in zip((b"PK\x03\x04", b"PK\x01\x02"), offsets):
        at = out.find(signature) + offset
        old = int.from_bytes(out[at : at + 2], "little")
        out[at : at + 2] = ((old | value) if bits else value).to_bytes(2, "little")
    return bytes(out)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: _zip_flag(d, (6, 8), 1, bits=True), "cannot read collection.anki2: File 'collection.anki2' is encrypted"),
        (lambda d: _zip_flag(d, (8, 10), 99, bits=False), "cannot read collection.anki2: That compression method is not supported"),
    ],
    ids=["encrypted", "compression-method-99"],
)
def test_a_package_zip_cannot_open_is_a_one_line_error(tmp_path, change, message):
    """Both were RuntimeError tracebacks from zipfile."""
    path = legacy_package(tmp_path / "bad.apkg", Package(NOTES[:1]))
    path.write_bytes(change(path.read_bytes()))
    with pytest.raises(DeckError, match=f"^{path}: {message}"):
        parse_deck(path)


GOOD_MODELS = {"1": {"name": "Basic", "flds": [{"name": "Front"}, {"name": "Back"}], "tmpls": [{"qfmt": "{{Front}}", "afmt": "{{Back}}"}]}}


@pytest.mark.parametrize(
    "models, flds, tags, ord_, expected",
    [
        # Anki never writes these; a package another tool wrote, or a damaged one, may
        (GOOD_MODELS, None, "", 0, "deck has no cards"),  # NULL fields: an empty question, which Anki would not show
        (GOOD_MODELS, "Q\x1fA", None, 0, [("Q", "A")]),
        (GOOD_MODELS, b"Q\x1fA", "", 0, [("Q", "A")]),  # a blob
        (GOOD_MODELS, "Q\x1fA", "", None, [("Q", "A")]),
        ({"1": []}, "Q\x1fA", "", 0, "not a readable Anki collection ('list' object has no attribute 'get')"),
        ([], "Q\x1fA", "", 0, "not a readable Anki collection ('list' object has no attribute 'items')"),
    ],
    ids=["null-fields", "null-tags", "blob-fields", "null-ord", "notetype-list", "models-list"],
)
def test_a_collection_of_the_wrong_shape_is_read_or_a_one_line_error(tmp_path, models, flds, tags, ord_, expected):
    """Each was an AttributeError or TypeError traceback."""
    collection = tmp_path / "c.anki2"
    db = sqlite3.connect(collection)
    db.executescript("create table col (models, decks); create table notes (id, mid, flds, tags); create table cards (nid, ord, did);")
    db.execute("insert into col values (?, ?)", (json.dumps(models), json.dumps({"1": {"name": "D"}})))
    db.execute("insert into notes values (1, 1, ?, ?)", (flds, tags))
    db.execute("insert into cards values (1, ?, 1)", (ord_,))
    db.commit()
    db.close()
    path = tmp_path / "odd.apkg"
    with zipfile.ZipFile(path, "w") as z:
        z.write(collection, "collection.anki2")
    if isinstance(expected, str):
        with pytest.raises(DeckError) as info:
            load_deck(path)
        assert str(info.value).startswith(f"{path}") and expected in str(info.value)
    else:
        assert [(c.question, c.answer) for c in load_deck(path).cards] == expected


@pytest.mark.parametrize(
    "template, fields, expected",
    [
        ("{{Front}}", {"Front": "Q"}, "Q"),
        ("{{#Extra}}[{{Extra}}]{{/Extra}}{{^Extra}}none{{/Extra}}", {"Extra": ""}, "none"),
        ("{{#Extra}}[{{Extra}}]{{/Extra}}", {"Extra": "x"}, "[x]"),
        ("{{text:Front}} {{hint:Back}} {{type:Back}}", {"Front": "<b>Q</b>", "Back": "A"}, "<b>Q</b> A "),
        ("{{Tags}} / {{Deck}}", {}, "t1 / D"),
    ],
)
def test_template_rendering(template, fields, expected):
    assert render(template, fields, special={"Tags": "t1", "Deck": "D"}) == expected


def test_html_is_stripped_to_text():
    html = '<div>One&nbsp;&amp; two</div><ul><li>a</li><li>b</li></ul>[sound:x.mp3]<style>.x{}</style><img src="a b.png">'
    assert html_to_text(html) == "One & two\n- a\n- b\n![](a%20b.png)"


# --- Anki's text export ---------------------------------------------------------------


def test_anki_text_export(tmp_path):
    path = tmp_path / "export.txt"
    path.write_text(ANKI_TEXT)
    deck = load_deck(path)
    assert deck.title == "Net"
    assert qa(deck) == [
        ("What does TCP add over IP?", "Reliable, **ordered** delivery"),
        ("Port", "A number naming an endpoint"),
        ("A number naming an endpoint", "Port"),
        ('[...] is reliable;\nsays "who"?', '==TCP== is reliable;\nsays "who"?\n\nline one\nline two'),
    ]
    assert [c.line for c in deck.cards] == [6, 7, 7, 8]
    assert [[t.text for t in c.key_terms] for c in deck.cards][3] == ["TCP"]


def test_anki_text_with_columns_header_and_a_comma_separator(tmp_path):
    path = tmp_path / "export.txt"
    path.write_text("#separator:comma\n#html:false\n#columns:Back,Front\n\"an endpoint, with a port\",What is a socket?\n")
    assert qa(load_deck(path)) == [("What is a socket?", "an endpoint, with a port")]


def test_a_folder_finds_every_format(tmp_path):
    (tmp_path / "net.md").write_text(OBSIDIAN)
    (tmp_path / "export.txt").write_text(ANKI_TEXT)
    (tmp_path / "todo.txt").write_text("buy milk\n")  # no Anki headers: not a deck
    modern_package(tmp_path / "deck.apkg", Package(NOTES, MEDIA))
    assert [p.name for p in find_decks([tmp_path])] == ["deck.apkg", "export.txt", "net.md"]


# --- Logseq flashcards ------------------------------------------------------------------

LOGSEQ = """title:: Networking
tags:: study

- What does TCP add over IP? #card
  card-last-interval:: 4
  card-repeats:: 1
  card-last-score:: 5
  id:: 64f0c1a2-1111-2222-3333-444455556666
\t- Reliable, ordered delivery
\t- with ==flow control==
\t\t- and congestion control
- {{cloze TCP}} is reliable, {{cloze UDP \\\\ a protocol}} is not [[card]]
- A note, with std::vector in it
\t- What is a socket? #Card
\t  collapsed:: true
\t\t- An endpoint: an IP address and a port.
\t- Port #[[card]]
\t\t- A number naming an endpoint
\t\t- it hides a {{cloze number}}
- ```
  - not a block, not a card #card
  ```
- A page about #cards is no card
"""


def test_logseq_cards_as_logseq_reviews_them(tmp_path):
    path = tmp_path / "net.md"
    path.write_text(LOGSEQ)
    parsed = parse_deck(path)
    deck = parsed.deck
    assert deck.title == "Networking"
    assert qa(deck) == [
        ("What does TCP add over IP?", "- Reliable, ordered delivery\n- with ==flow control==\n  - and congestion control"),
        ("[...] is reliable, (a protocol) is not", "==TCP== is reliable, ==UDP== is not"),
        ("What is a socket?", "An endpoint: an IP address and a port."),
        ("Port", "- A number naming an endpoint\n- it hides a ==number=="),
    ]
    assert [[t.text for t in c.key_terms] for c in deck.cards] == [["flow control"], ["TCP", "UDP"], ["IP address", "port", "endpoint"], ["it hides a number"]]
    assert [c.line for c in deck.cards] == [4, 12, 14, 17]
    assert [c.id for c in deck.cards] == [card_id(c.question) for c in deck.cards]
    assert parsed.findings == []


def test_a_logseq_page_without_a_card_block_is_no_deck(tmp_path):
    path = tmp_path / "note.md"
    path.write_text("- A note about #cards and [[cardiology]]\n\t- `#card` in code\n\t- ```\n\t  - #card\n\t  ```\n")
    with pytest.raises(DeckError, match=r"deck has no cards \(no <details> blocks found, and no Obsidian or Logseq flashcards\)"):
        load_deck(path)
    with pytest.raises(DeckError, match="no decks found"):
        find_decks([tmp_path])
    (tmp_path / "page.md").write_text(LOGSEQ)
    assert find_decks([tmp_path]) == [tmp_path / "page.md"]


def test_a_logseq_block_tagged_card_by_its_tags_property_is_a_card(tmp_path):
    """Logseq also makes a card of a block whose ``tags::`` property names card; the page's own tags tag the page."""
    path = tmp_path / "page.md"
    path.write_text(
        "tags:: card\n\n"
        "- What does TCP add over IP?\n  tags:: [[card]], networking\n  card-last-score:: 5\n\t- ==Reliable== delivery\n"
        "- A block tagged otherwise\n  tags:: cards, network\n\t- not an answer\n"
        "- What is a socket?\n  TAGS:: #Card\n\t- An endpoint\n"
        "- ```\n  tags:: card\n  ```\n"
    )
    assert qa(load_deck(path)) == [("What does TCP add over IP?", "==Reliable== delivery"), ("What is a socket?", "An endpoint")]
    assert find_decks([tmp_path]) == [path]
    path.write_text("tags:: card\n\n- tags:: card\n  alias:: cards\n- A page tagged card holds no card\n- ```\n  tags:: card\n  ```\n")
    with pytest.raises(DeckError, match="deck has no cards"):
        load_deck(path)
    with pytest.raises(DeckError, match="no decks found"):
        find_decks([tmp_path])


def test_a_logseq_card_without_children_is_self_graded_and_linted(tmp_path):
    (tmp_path / "page.md").write_text("- Lonely question #card\n- Q2 #card\n  - A2\n")
    linted = run_cli("lint", "page.md", cwd=tmp_path)
    assert (linted.returncode, linted.stdout) == (1, "page.md:1: card answer is empty: it can only be self-graded\n")


def test_a_logseq_card_nested_in_an_answer_shows_its_question_there_and_keeps_its_answer(tmp_path):
    path = tmp_path / "page.md"
    path.write_text("- Transport #card\n\t- TCP #card\n\t\t- reliable\n\t- UDP\n\t\t- datagrams\n")
    assert qa(load_deck(path)) == [("Transport", "- TCP\n- UDP\n  - datagrams"), ("TCP", "reliable")]
    # Cards nested a thousand deep: no answer holds those of the cards inside it, so the page reads at once.
    path.write_text("".join("\t" * depth + f"- Q{depth} #card\n" for depth in range(1000)))
    assert [c.answer for c in load_deck(path).cards][:2] == ["Q1", "Q2"]


@pytest.mark.parametrize("unit", ["- ", "\t- ", "{{cloze ", "{{cloze x \\\\", "#card ", "```\n", "x:: y\n"])
def test_logseq_parsing_is_linear(tmp_path, unit):
    from grader.formats.logseq import parse_logseq

    def seconds(size: int) -> float:
        return parse_seconds(parse_logseq, "- Q #card\n  - " + unit * (size // len(unit)))

    small, large = seconds(16 * 1024), seconds(64 * 1024)
    assert large < 8 * max(small, 0.01), (small, large)  # below 10 ms the timer's noise is all there is


# --- CSV flashcards ---------------------------------------------------------------------

TWO_CARDS = [("hypervisor", "software that runs virtual machines"), ("VMM", "the monitor, it traps and emulates")]


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b'hypervisor,software that runs virtual machines\nVMM,"the monitor, it traps and emulates"\n', id="comma"),
        pytest.param(b'question,answer\nhypervisor,software that runs virtual machines\nVMM,"the monitor, it traps and emulates"\n', id="header"),
        pytest.param(b'Answer,Question\nsoftware that runs virtual machines,hypervisor\n"the monitor, it traps and emulates",VMM\n', id="header-sides-by-name"),
        pytest.param(b'Term;Definition;Tags\nhypervisor;software that runs virtual machines;virt\nVMM;the monitor, it traps and emulates;\n', id="semicolon-header"),
        pytest.param(b'hypervisor;software that runs virtual machines\nVMM;the monitor, it traps and emulates\n', id="semicolon"),
        pytest.param(b'sep=;\nhypervisor;software that runs virtual machines\nVMM;the monitor, it traps and emulates\n', id="excel-sep-line"),
        pytest.param(b'\xef\xbb\xbffront,back\r\nhypervisor,software that runs virtual machines\r\nVMM,"the monitor, it traps and emulates"\r\n', id="bom-crlf"),
        pytest.param(b'hypervisor\tsoftware that runs virtual machines\nVMM\tthe monitor, it traps and emulates\n', id="tab"),
        pytest.param(b'front,back\n\nhypervisor,software that runs virtual machines\n,\nVMM,"the monitor, it traps and emulates"\n', id="blank-rows"),
    ],
)
def test_csv_flashcards_as_spreadsheets_export_them(tmp_path, content):
    path = tmp_path / "quiz.csv"
    path.write_bytes(content)
    deck = load_deck(path)
    assert (deck.title, qa(deck)) == ("quiz", TWO_CARDS)
    assert [c.id for c in deck.cards] == [card_id(q) for q, _ in TWO_CARDS]


def test_csv_cells_are_quoted_as_csv_quotes_them_and_highlights_are_key_terms(tmp_path):
    path = tmp_path / "quiz.csv"
    path.write_text('question,answer\n"What does ""VMM"" stand for?","virtual machine ==monitor==;\nit ==traps== privileged instructions"\nPort,443\n')
    parsed = parse_deck(path)
    assert qa(parsed.deck) == [('What does "VMM" stand for?', "virtual machine ==monitor==;\nit ==traps== privileged instructions"), ("Port", "443")]
    assert [c.line for c in parsed.deck.cards] == [2, 4]
    assert [t.text for t in parsed.deck.cards[0].key_terms] == ["monitor", "traps"]
    assert [f.message for f in parsed.findings] == [NO_WORDS]


def test_a_csv_of_one_column_has_no_answers_but_its_clozes(tmp_path):
    path = tmp_path / "quiz.csv"
    path.write_text("hypervisor\n{{c1::TCP}} is reliable\n")
    parsed = parse_deck(path)
    assert qa(parsed.deck) == [("[...] is reliable", "==TCP== is reliable")]
    assert [(f.line, f.message) for f in parsed.findings] == [(1, "row has a question but no answer: it is left out")]


# Every row has one comma and one semicolon: either could be the separator, and each gives a deck.
AMBIGUOUS_ROWS = "Capital of France, briefly;Paris\nLargest planet, roughly;Jupiter\n"
AMBIGUOUS = (
    "every row splits alike at commas and at semicolons, so which one separates the cells is unclear: "
    "start the file with a header (question,answer or question;answer) or a line sep=; (or sep=,)"
)


@pytest.mark.parametrize(
    ("first_line", "cards"),
    [
        ("question;answer", [("Capital of France, briefly", "Paris"), ("Largest planet, roughly", "Jupiter")]),
        ("sep=;", [("Capital of France, briefly", "Paris"), ("Largest planet, roughly", "Jupiter")]),
        ("Question,Answer", [("Capital of France", "briefly;Paris"), ("Largest planet", "roughly;Jupiter")]),
    ],
)
def test_rows_that_split_alike_at_commas_and_semicolons_are_read_as_the_file_says(tmp_path, first_line, cards):
    """Such rows were read at their commas without a word, so a semicolon file lost half of each question."""
    path = tmp_path / "quiz.csv"
    path.write_text(f"{first_line}\n{AMBIGUOUS_ROWS}")
    assert qa(load_deck(path)) == cards


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ("question,answer\nhypervisor,software that runs VMs, like KVM\n", 'quiz.csv:2: row has 3 cells; the header has 2 (a cell that holds a comma must be in quotes: "like, this")'),
        ("hypervisor,software that runs VMs, like KVM\nVMM,monitor\nport,443\n", 'quiz.csv:1: row has 3 cells; most rows have 2 (a cell that holds a comma must be in quotes: "like, this")'),
        ("hypervisor,software\nVMM\n", "quiz.csv:2: row has 1 cell; most rows have 2"),
        ('question,answer\nVMM,monitor\nhypervisor,"software\nport,443\n', 'quiz.csv:3: a quoted cell never closes (a missing ")'),
        ("student,card,answer\nann,1,software\n", "quiz.csv:1: this is an answers file (its header names 'card'), not a deck: grade it with grader grade DECK quiz.csv"),
        ("Student,Question,Answer\nann,hypervisor,software\n", "quiz.csv:1: this is an answers file (its header names 'student'), not a deck: grade it with grader grade DECK quiz.csv"),
        ("question,answer\n,,\n", "quiz.csv:1: deck has no cards (no rows with a question and an answer)"),
        (AMBIGUOUS_ROWS, f"quiz.csv:1: {AMBIGUOUS}"),
    ],
)
def test_a_bad_csv_deck_is_a_one_line_error_naming_file_and_line(tmp_path, content, error):
    (tmp_path / "quiz.csv").write_text(content)
    listed = run_cli("cards", "quiz.csv", cwd=tmp_path)
    assert (listed.returncode, listed.stdout, listed.stderr) == (1, "", f"Error: {error}\n")
    linted = run_cli("lint", "quiz.csv", cwd=tmp_path)
    assert (linted.returncode, linted.stdout) == (1, f"{error}\n")


def test_a_folder_finds_a_csv_deck_by_its_header_never_an_answers_or_results_file(tmp_path):
    (tmp_path / "deck.csv").write_bytes(b"\xef\xbb\xbfQuestion,Answer\r\nhypervisor,software\r\n")
    (tmp_path / "excel.csv").write_text("sep=;\nterm;definition;tags\nVMM;monitor;virt\n")
    (tmp_path / "anki.csv").write_text("#separator:comma\nPort,a number naming an endpoint\n")
    (tmp_path / "answers.csv").write_text("student,card,answer\nann,1,software\n")
    (tmp_path / "by-question.csv").write_text("email,question,answer\nann@example.org,hypervisor,software\n")
    (tmp_path / "results.csv").write_text("card,number,score,verdict,matched,missing,answer\n1,1,1.0,correct,software,,software\n")
    (tmp_path / "table.csv").write_text("hypervisor,software\n")  # no header: any table, a deck only when named
    assert [p.name for p in find_decks([tmp_path])] == ["anki.csv", "deck.csv", "excel.csv"]
    assert qa(load_deck(tmp_path / "table.csv")) == [("hypervisor", "software")]


def test_a_folder_leaves_out_a_question_answer_csv_that_answers_another_deck(tmp_path):
    """A ``question,answer`` answers file has a deck's header: it was practised as a deck of the students' answers."""
    from grader.decks import load_decks

    (tmp_path / "virt.md").write_text(
        "<details><summary>What is a hypervisor?</summary>\n\n==software== that runs VMs\n</details>\n\n"
        "<details><summary>What is a VMM?</summary>\n\na virtual machine ==monitor==\n</details>\n"
    )
    (tmp_path / "class.csv").write_text("question,answer\nWhat is a hypervisor?,software\nwhat is a hypervisor,hardware\n")
    (tmp_path / "net.csv").write_text("question,answer\nWhat is a port?,a number naming an endpoint\nWhat is a hypervisor?,software\n")
    warnings = []
    decks = load_decks([tmp_path], warn=lambda exc: warnings.append(str(exc)))
    assert sorted(deck.title for deck in decks) == ["net", "virt"]
    assert warnings == [
        f"{tmp_path / 'class.csv'}: answers to {tmp_path / 'virt.md'}, not a deck: each of its questions is a card there; name the file to read it as a deck"
    ]
    linted = run_cli("lint", str(tmp_path))
    assert "class.csv" not in linted.stdout and "duplicate question" not in linted.stdout
    assert [d.title for d in load_decks([tmp_path / "virt.md", tmp_path / "class.csv"], warn=warnings.append)] == ["virt", "class"]  # named


def test_two_csvs_found_in_a_folder_that_ask_the_same_questions_are_neither_read_as_a_deck(tmp_path):
    """Both were read as decks, so a teacher's deck and one student's question,answer file beside it were
    practised together, the student's answers asked as cards. Nothing says which of the two is the deck: neither
    is read, each with a warning naming the other, lint says so, and naming the deck's file reads it."""
    from grader.decks import load_decks

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "net.md").write_text("<details><summary>What is a port?</summary>\n\na ==number== naming an endpoint\n</details>\n")
    (notes / "quiz.csv").write_text("question,answer\nWhat is a socket?,an ==endpoint== of a connection\nWhat is a VLAN?,a virtual LAN\n")
    (notes / "ann.csv").write_text("Question,Answer\nwhat is a VLAN,a cable\nWhat is a socket?,a port\n")  # the same questions
    (notes / "bo.csv").write_text("question,answer\nWhat is a socket?,a plug\n")  # a part of them: answers to quiz and ann
    warnings = []
    decks = load_decks([notes], warn=lambda exc: warnings.append(str(exc)))
    assert [deck.title for deck in decks] == ["net"]
    twins = "one is the deck and the rest answers to it, and nothing says which, so none is read as a deck (name the deck's file to read it)"
    assert warnings == [
        f"{notes / 'bo.csv'}: answers to {notes / 'ann.csv'}, not a deck: each of its questions is a card there; name the file to read it as a deck",
        f"{notes / 'ann.csv'}: asks the same questions as {notes / 'quiz.csv'}: {twins}",
        f"{notes / 'quiz.csv'}: asks the same questions as {notes / 'ann.csv'}: {twins}",
    ]
    linted = run_cli("lint", str(notes))
    assert linted.returncode == 1 and linted.stdout.splitlines() == warnings[1:]
    practised = run_cli("practice", str(notes / "quiz.csv"), str(notes / "net.md"), "--cards", "1", input="/quit\n")
    assert practised.returncode == 0 and "Warning" not in practised.stderr and "What is a socket?" in practised.stdout
    (notes / "net.md").unlink()  # nothing left that is told a deck: the error says why, exit 1
    alone = run_cli("practice", str(notes), input="/quit\n")
    assert alone.returncode == 1 and alone.stderr.splitlines()[-1] == f"Error: {notes / 'ann.csv'}: asks the same questions as {notes / 'quiz.csv'}: {twins}"


# --- The commands on every format -------------------------------------------------------


@pytest.fixture
def format_decks(tmp_path):
    (tmp_path / "net.md").write_text(OBSIDIAN)
    (tmp_path / "export.txt").write_text(ANKI_TEXT)
    (tmp_path / "page.md").write_text("- What does TCP add over IP? #card\n\t- Reliable, ==ordered== delivery\n- Port #card\n\t- A number naming an endpoint\n")
    (tmp_path / "net.csv").write_text("Term,Definition\nWhat does TCP add over IP?,\"Reliable, ==ordered== delivery\"\nPort,A number naming an endpoint\n")
    return {
        "obsidian": tmp_path / "net.md",
        "anki-text": tmp_path / "export.txt",
        "csv": tmp_path / "net.csv",
        "logseq": tmp_path / "page.md",
        "apkg": modern_package(tmp_path / "deck.apkg", Package(NOTES, MEDIA)),
        "legacy": legacy_package(tmp_path / "old.apkg", Package(NOTES, MEDIA)),
    }


@pytest.mark.parametrize("kind", ["obsidian", "logseq", "anki-text", "csv", "apkg", "legacy"])
def test_cards_lint_practice_and_grade_work_on_every_format(tmp_path, format_decks, kind):
    deck = format_decks[kind]
    listed = [json.loads(line) for line in run_cli("cards", str(deck), "--json").stdout.splitlines()]
    assert listed and listed[0]["question"] == "What does TCP add over IP?"
    lint = run_cli("lint", str(deck))
    packaged = kind in ("apkg", "legacy")  # with the type-in card '443'
    assert (lint.returncode, lint.stdout) == ((1, f"{deck}:6: {NO_WORDS}\n") if packaged else (0, ""))
    answers = tmp_path / f"{kind}.jsonl"
    answers.write_text(json.dumps({"card": 2, "answer": "a number naming an endpoint"}) + "\n")
    graded = run_cli("grade", str(deck), str(answers), "--json")
    assert graded.returncode == 0, graded.stderr
    assert json.loads(graded.stdout)["verdict"] == "correct"
    practised = run_cli("practice", str(deck), "--cards", "2", input="a number naming an endpoint\n")
    assert practised.returncode == 0, practised.stderr
    assert "CORRECT" in practised.stdout


# --- Clozes as Anki reads them -------------------------------------------------------------


@pytest.mark.parametrize(
    "field, expected",
    [
        # card number -> (question, answer, key terms)
        ("{{c1::TCP}} is {{c2::reliable::how}}", {1: ("[...] is reliable", "==TCP== is reliable", ["TCP"]), 2: ("TCP is [how]", "TCP is ==reliable==", ["reliable"])}),
        (  # nested (Anki 2.1.56): the inner deletion is text on the outer card, the outer text around the inner card's blank
            "{{c1::{{c2::TCP}} is reliable}} over IP",
            {1: ("[...] over IP", "==TCP is reliable== over IP", ["TCP is reliable"]), 2: ("[...] is reliable over IP", "==TCP== is reliable over IP", ["TCP"])},
        ),
        (
            "{{c1::a {{c2::b::hint}} c::outer}} d",
            {1: ("[outer] d", "==a b c== d", ["a b c"]), 2: ("a [hint] c d", "a ==b== c d", ["b"])},
        ),
        ("{{c1::a {{c1::b}} c}}", {1: ("[...]", "==a b c==", ["a b c"])}),  # the same number inside: one deletion, one term
        ("{{c0::zero}} {{c1::one}}", {1: ("zero [...]", "zero ==one==", ["one"])}),  # c0 makes no card, as in Anki
        ("x }} {{c1::y}} {{c2::never closed", {1: ("x }} [...] {{c2::never closed", "x }} ==y== {{c2::never closed", ["y"])}),
    ],
    ids=["flat-with-hint", "nested", "nested-hints", "same-number-nested", "c0", "stray-and-unclosed"],
)
def test_clozes_nest_as_in_anki(tmp_path, field, expected):
    from grader.formats.anki_notes import cloze_numbers, cloze_terms, render_cloze

    assert cloze_numbers(field) == sorted(expected)
    assert {n: (render_cloze(field, n, answer=False), render_cloze(field, n, answer=True), cloze_terms(field, n)) for n in expected} == expected


def test_a_nested_cloze_makes_every_card_in_a_package_and_a_text_export(tmp_path):
    """Only one card came out, its question with a stray '}}', and the other card was lost."""
    nested = "{{c1::{{c2::TCP}} is reliable}} over IP"
    expected = [("[...] over IP", ["TCP is reliable"]), ("[...] is reliable over IP", ["TCP"])]
    package = modern_package(tmp_path / "nested.apkg", Package([Note(CLOZE, [nested, ""])]))
    export = tmp_path / "nested.txt"
    export.write_text(f"#separator:tab\n#html:false\n{nested}\tover the network\n")
    for path in (package, export):
        deck = load_deck(path)
        assert [(c.question, [t.text for t in c.key_terms]) for c in deck.cards] == expected, path


EMPTY_CLOZE = "cloze c1 is empty ({{c1::}}): the card has nothing to grade by and can only be self-graded"


@pytest.mark.parametrize("kind", ["apkg", "anki-text", "obsidian"])
@pytest.mark.parametrize(
    "field, terms, finding",
    [
        ("{{c1::}} is reliable over IP", [], EMPTY_CLOZE),
        ("{{c1::}} and {{c1::TCP}} are reliable", ["TCP"], "cloze c1 has an empty deletion ({{c1::}}): it is left out"),
        ("{{c1::TCP}} is reliable", ["TCP"], None),
    ],
    ids=["empty", "one-of-two-empty", "not-empty"],
)
def test_an_empty_cloze_is_linted_and_never_graded_by_the_rest_of_the_note(tmp_path, kind, field, terms, finding):
    """Its terms were derived, unsaid, from the rest of the note ('reliable', 'ip', the extra field)."""
    if kind == "apkg":
        path, line = modern_package(tmp_path / "empty.apkg", Package([Note(CLOZE, [field, "TCP guarantees ordered delivery"])])), 1
    elif kind == "anki-text":
        path, line = tmp_path / "empty.txt", 3
        path.write_text(f"#separator:tab\n#html:true\n{field}\tTCP guarantees ordered delivery\n")
    else:
        path, line = tmp_path / "empty.md", 3
        path.write_text(f"#flashcards\n\n{field}\n")
    [card] = load_deck(path).cards
    assert [t.text for t in card.key_terms] == terms and card.gradable == bool(terms)
    assert "====" not in card.answer
    lint = run_cli("lint", str(path))
    assert lint.stdout == ("" if finding is None else f"{path}:{line}: {finding}\n")
    answers = tmp_path / "answers.jsonl"
    answers.write_text(json.dumps({"card": 1, "answer": "reliable over IP, guarantees ordered delivery"}) + "\n")
    graded = json.loads(run_cli("grade", str(path), str(answers), "--json").stdout)
    assert graded["verdict"] == ("self-graded" if not terms else "incorrect")


def test_an_obsidian_cloze_is_not_read_in_math(tmp_path):
    """'$a == b$ then ==' was a deletion, and the highlight after it another."""
    path = tmp_path / "math.md"
    path.write_text("#flashcards\n\nIf $a == b$ then ==equality== holds.\n")
    assert qa(load_deck(path)) == [("If a b then [...] holds.", "If $a == b$ then ==equality== holds.")]


@pytest.mark.parametrize(
    "field",
    [
        "{{c1::{{c2::TCP}} is reliable}} over IP",
        "{{c1::a {{c2::b::hint}} c::outer}} d",
        "{{c1::a {{c1::b}} c}}",
        "x }} {{c1::y}} {{c2::never closed",
        "Transport::{{c1::TCP}} is reliable",  # a line with a cloze is never a Question::Answer card
        "{{c0::zero}} and {{c1::one}}",  # c0 makes no card
        "{{c1::a {{c0::b}} c}} d",
    ],
    ids=["nested", "nested-hints", "same-number-nested", "stray-and-unclosed", "double-colon-before", "c0", "c0-nested"],
)
def test_an_obsidian_cloze_gives_the_cards_anki_gives(tmp_path, field):
    """A nested cloze was split at its first '::' as a one-line card: '{{c1' asking '{{c2::TCP}} is reliable}} over IP'."""
    from grader.formats.anki_notes import cloze_numbers, cloze_terms, render_cloze

    path = tmp_path / "nested.md"
    path.write_text(f"#flashcards\n\n{field}\n")
    anki = [(render_cloze(field, n, answer=False), render_cloze(field, n, answer=True), cloze_terms(field, n)) for n in cloze_numbers(field)]
    assert [(c.question, c.answer, [t.text for t in c.key_terms]) for c in load_deck(path).cards] == anki


@pytest.mark.parametrize("kind", ["obsidian", "anki-text"])
def test_a_c0_cloze_makes_no_card_and_lint_says_so(tmp_path, kind):
    """Anki makes no card for cloze number 0. In an Obsidian note '{{c0::zero}}' was a card of its own ('[...] and
    one'); in an Anki text export a row whose only deletion was c0 was a basic card asking '{{c0::nothing}} here'."""
    if kind == "obsidian":
        path, lines = tmp_path / "zero.md", (3, 5)
        path.write_text("#flashcards\n\n{{c0::zero}} and {{c1::one}}\n\nOnly {{c0::nothing}} here\n")
    else:
        path, lines = tmp_path / "zero.txt", (3, 4)
        path.write_text("#separator:tab\n#html:false\n{{c0::zero}} and {{c1::one}}\tback\nOnly {{c0::nothing}} here\tback\n")
    assert [(c.question, [t.text for t in c.key_terms]) for c in load_deck(path).cards] == [("zero and [...]", ["one"])]
    lint = run_cli("lint", str(path))
    finding = "cloze c0 makes no card (clozes are numbered from c1, as in Anki)"
    assert (lint.returncode, lint.stdout) == (1, "".join(f"{path}:{line}: {finding}\n" for line in lines))


def test_an_obsidian_nested_cloze_among_highlights(tmp_path):
    path = tmp_path / "mixed.md"
    path.write_text("#flashcards\n\nOver ==IP==, {{c1::{{c2::TCP}} is reliable}} and **UDP** is not.\n")
    assert [(c.question, [t.text for t in c.key_terms]) for c in load_deck(path).cards] == [
        ("Over [...], TCP is reliable and UDP is not.", ["IP"]),
        ("Over IP, [...] and UDP is not.", ["TCP is reliable"]),
        ("Over IP, [...] is reliable and UDP is not.", ["TCP"]),
        ("Over IP, TCP is reliable and [...] is not.", ["UDP"]),
    ]



@pytest.mark.parametrize("command", ["practice", "stats"])
def test_a_folder_with_no_good_deck_says_each_files_error_once(tmp_path, command):
    """The first bad file was a warning ("... (left out)") and then, nothing being left, the same text again as the error."""
    (tmp_path / "net.yaml").write_text("title: Networking\ncards:\n  - question: What is a socket?\n    anwser: An endpoint.\n")
    (tmp_path / "old.yaml").write_text("cards:\n  - question: What is a port?\n    answr: A number.\n")
    result = run_cli(command, str(tmp_path), input="/quit\n")
    lines = result.stderr.splitlines()
    assert result.returncode == 1
    assert lines[-1].startswith(f"Error: {tmp_path / 'net.yaml'}:4: cards.0.anwser: unknown field")
    assert [line for line in lines if "net.yaml" in line] == lines[-1:]  # once, as the error
    assert [line for line in lines if "old.yaml" in line] == [line for line in lines if line.startswith("Warning: ")]
    assert len(lines) == 2 and lines[0].startswith(f"Warning: {tmp_path / 'old.yaml'}:3:") and lines[0].endswith("(left out)")
