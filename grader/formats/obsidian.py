"""Obsidian Spaced Repetition notes: the flashcard syntax of the Obsidian plugin, read into grader's cards.

What the plugin reads, and so what is read here (blocks are separated by blank
lines; nothing inside fenced or inline code counts):

* ``Question::Answer`` on one line; ``Question:::Answer`` makes two cards, one each way.
* A multi-line card: question lines, a line holding only ``?``, answer lines,
  to the end of the block; ``??`` makes two cards, one each way.
* A cloze: a block with ``==highlights==``, ``**bold**``, ``{{c1::Anki-style}}``
  (``{{c1::text::hint}}``) or ``{{curly}}`` deletions. Each deletion is a card
  (deletions sharing a ``cN`` number are one card); the question is the block
  with that deletion blanked as ``[...]`` and the deleted text is its key term.
  ``{{cN::...}}`` deletions are read by the Anki reader's parser, so they nest as in
  Anki (``{{c1::{{c2::x}} y}}`` is two cards), and a line holding one is no ``Question::Answer`` card.
* The plugin's ``<!--SR:...-->`` scheduling comments are dropped.
* ``#flashcards`` marks a note as a deck, whether a folder is searched or the
  note is named: a note without it has no cards, for its ``::`` is C++
  (``Foo::bar``), its bold and highlights emphasis.
  ``#flashcards/networking/tcp`` names its deck ``networking/tcp``. Without a
  sub-tag the deck is named by the note's first heading, or the file name.

A card's key terms are its ``==highlights==`` (in a basic card's answer) or its
deletions (cloze), else derived from the answer as for any unhighlighted card.
"""

from __future__ import annotations

import bisect
import re

from ..cardtext import (
    Finding, ParsedDeck, RawCard, build_cards, fenced_blocks, highlights, image_paths, question_image_paths, without_code, without_code_or_math,
)  # fmt: skip
from ..files import untitled
from ..keyterms import clean_markdown
from ..models import Deck
from .anki_notes import ZERO_CLOZE, Cloze, cloze_texts, empty_cloze, parse_clozes, render_cloze, walk_clozes

_TAG = re.compile(r"(?<![\w#/&])#flashcards(?:/([\w\-/]+))?(?![\w\-])", re.IGNORECASE)
_FRONTMATTER_TAG = re.compile(r"(?<![\w/])flashcards(?:/([\w\-/]+))?(?![\w\-])", re.IGNORECASE)
_SR_COMMENT = re.compile(r"<!--SR:[^>]*-->")
_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*)$")
_ANKI_OPENING = re.compile(r"\{\{c\d+::")  # a line with one holds a cloze: its "::" is no card separator
# Between Anki-style deletions (read by Anki's parser, as they nest), one deletion: ==text==, **text**, {{text}}. Each
# alternative stops at the first character that could start or end another, so no stretch of text is rescanned.
_MARKED = re.compile(
    r"==(?P<hl>[^=\n]+)=="
    r"|\*\*(?P<bold>[^*\n]+)\*\*"
    r"|\{\{(?P<curly>[^{}:\n][^{}\n]*)\}\}"
)
BLANK = "[...]"
MAX_CLOZES = 50  # cards from one block: each is the whole block, so more would make parsing quadratic


def has_flashcards_tag(text: str) -> bool:
    """Whether a note is tagged ``#flashcards`` (in its text or its front matter): the plugin's mark of a deck."""
    front, _ = frontmatter(text)
    return bool(_TAG.search(text) or _FRONTMATTER_TAG.search(front))


def parse_obsidian(text: str, path: str) -> ParsedDeck:
    """The flashcards of one Obsidian note, in order."""
    front, body_start = frontmatter(text)
    lines = text.split("\n")
    blanked = without_code(text)  # code blanked, same lines and columns
    structure = blanked.split("\n")
    title = _title(text, front, structure, path)
    if not has_flashcards_tag(blanked):  # a tag shown in code does not make a deck either
        return ParsedDeck(Deck(path=path, title=title, cards=[]), [])
    fenced = _fenced_lines(text)
    findings: list[Finding] = []
    raw: list[tuple[RawCard, bool]] = []  # each card, and whether it is a cloze (its terms are its deletions, never derived)
    block: list[int] = []
    for i in range(body_start, len(lines)):
        ends_block = not lines[i].strip() or _HEADING.match(structure[i]) is not None
        if ends_block and i not in fenced:
            raw += _block_cards(block, lines, structure, findings)
            block = []
        else:
            block.append(i)
    raw += _block_cards(block, lines, structure, findings)
    cards = build_cards([card for card, _ in raw], findings, derived_note=False, side_notes=False, terms_as_given=[cloze for _, cloze in raw])
    return ParsedDeck(Deck(path=path, title=title, cards=cards), findings)


def frontmatter(text: str) -> tuple[str, int]:
    """The YAML front matter's text and the index of the first line after it ("", 0 without one)."""
    if not text.startswith("---\n"):
        return "", 0
    end = text.find("\n---", 3)
    if end < 0:
        return "", 0
    return text[4:end], text.count("\n", 0, end) + 2


def _fenced_lines(text: str) -> set[int]:
    """Indexes of the lines inside fenced code (fence lines included)."""
    starts = [0, *(m.end() for m in re.finditer("\n", text))]
    lines: set[int] = set()
    for start, end in fenced_blocks(text):
        lines.update(range(bisect.bisect_right(starts, start) - 1, bisect.bisect_right(starts, end - 1)))
    return lines


def _title(text: str, front: str, structure: list[str], path: str) -> str:
    """The deck's name: a ``#flashcards/sub/deck`` tag's path, else the first heading, else the file name."""
    for found in (_TAG.search("\n".join(structure)), _FRONTMATTER_TAG.search(front)):
        if found and found.group(1):
            return found.group(1).strip("/")
    for line in structure:
        heading = _HEADING.match(line)
        if heading and len(heading.group(1)) == 1:
            return clean_markdown(_TAG.sub("", heading.group(2))) or untitled(path)
    return untitled(path)


def _block_cards(block: list[int], lines: list[str], structure: list[str], findings: list[Finding]) -> list[tuple[RawCard, bool]]:
    """The cards of one block: its one-line cards, then a multi-line card or clozes in what is left (each with
    whether it is a cloze)."""
    cards: list[RawCard] = []
    rest: list[int] = []
    for i in block:
        if _SR_COMMENT.fullmatch(lines[i].strip()) or not _TAG.sub("", structure[i]).strip():
            continue  # a scheduling comment, or a line holding only tags
        if _ANKI_OPENING.search(structure[i]):  # {{c1::{{c2::x}} y}} is a cloze, never "{{c1" asking "{{c2::x}} y}}"
            rest.append(i)
            continue
        sep = structure[i].find(":::")
        width = 3
        if sep < 0:
            sep, width = structure[i].find("::"), 2
        if sep < 0:
            rest.append(i)
            continue
        question, answer = _strip(lines[i][:sep]), _strip(lines[i][sep + width :])
        cards.append(_basic(i, question, answer))
        if width == 3:
            cards.append(_basic(i, answer, question))
    separator = next((k for k, i in enumerate(rest) if structure[i].strip() in ("?", "??")), None)
    if separator is not None:
        question = _strip("\n".join(lines[i] for i in rest[:separator]))
        answer = _strip("\n".join(lines[i] for i in rest[separator + 1 :]))
        cards.append(_basic(rest[0], question, answer))
        if structure[rest[separator]].strip() == "??":
            cards.append(_basic(rest[0], answer, question))
    basic = [(card, False) for card in cards]
    if separator is None and rest:
        basic += [(card, True) for card in _clozes(rest, lines, structure, findings)]
    return basic


def _strip(text: str) -> str:
    """A side of a card without scheduling comments or deck tags."""
    return _TAG.sub("", _SR_COMMENT.sub("", text)).strip()


def _basic(index: int, question: str, answer: str) -> RawCard:
    return (index + 1, clean_markdown(question), answer, image_paths(answer), highlights(answer, index + 1, []), question_image_paths(question))


def _clozes(block: list[int], lines: list[str], structure: list[str], findings: list[Finding]) -> list[RawCard]:
    """One card per deletion (per ``cN`` number for Anki-style ones, nested as Anki nests them), the others shown as plain text."""
    text = "\n".join(lines[i] for i in block)
    marked = without_code_or_math("\n".join(structure[i] for i in block))  # "$a == b$" deletes nothing
    # The deletions in order, each (start, end, what): an Anki-style one whole (with those nested in it), or a mark between them.
    found: list[tuple[int, int, Cloze | re.Match[str]]] = []
    pos = 0
    for node in parse_clozes(marked):
        if isinstance(node, Cloze):
            found += [(m.start(), m.end(), m) for m in _MARKED.finditer(marked, pos, node.start)]
            found.append((node.start, node.end, node))
            pos = node.end
    found += [(m.start(), m.end(), m) for m in _MARKED.finditer(marked, pos)]
    if not found:
        return []
    groups: dict[str, int] = {}  # "cN" -> N, or "#k" -> the k-th mark of ``found``
    numbered_zero = False
    for k, (_, _, item) in enumerate(found):
        if isinstance(item, Cloze):
            for cloze in walk_clozes([item]):
                if cloze.number > 0:
                    groups.setdefault(f"c{cloze.number}", cloze.number)
                numbered_zero |= cloze.number == 0
        else:
            groups[f"#{k}"] = k
    if numbered_zero:  # as in Anki, which numbers cards from c1: its text shows as written on the other cards
        findings.append(Finding(block[0] + 1, ZERO_CLOZE))
    if len(groups) > MAX_CLOZES:
        findings.append(Finding(block[0] + 1, f"{len(groups)} cloze deletions in one paragraph: only the first {MAX_CLOZES} become cards"))
        groups = dict(list(groups.items())[:MAX_CLOZES])
    cards = []
    for key, which in groups.items():
        anki = key.startswith("c")
        question, answer, terms = [], [], []
        pos = 0
        for k, (start, end, item) in enumerate(found):
            before, written = text[pos:start], text[start:end]
            if isinstance(item, Cloze):  # Anki's rendering; a mark's card shows it as text (no cloze is numbered -1)
                number = which if anki else -1
                question += [before, render_cloze(written, number, answer=False)]
                answer += [before, render_cloze(written, number, answer=True)]
                terms += cloze_texts(written, number)
            else:
                asked = not anki and k == which
                deleted = text[item.start(_group(item)) : item.end(_group(item))]
                question += [before, BLANK if asked else deleted]
                answer += [before, f"=={deleted}==" if asked and deleted.strip() else deleted]
                terms += [deleted] if asked else []
            pos = end
        question.append(text[pos:])
        answer.append(text[pos:])
        answer_text = _strip("".join(answer))
        line = block[0] + 1
        if anki and (empty := empty_cloze(which, terms)) is not None:
            findings.append(Finding(line, empty))
        question_text = _strip("".join(question))
        cards.append((line, clean_markdown(question_text), answer_text, image_paths(answer_text), terms, question_image_paths(question_text)))
    return cards


def _group(m: re.Match[str]) -> str:
    return next(name for name in ("hl", "bold", "curly") if m[name] is not None)
