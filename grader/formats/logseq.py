"""Logseq flashcards: the cards of a Logseq page (a ``.md`` outline of ``- `` blocks), as Logseq's review reads them.

* A block tagged ``#card`` (or ``[[card]]``, ``#[[card]]``, in any case, or by its ``tags:: card`` property) is a
  card: the block is the question, its child blocks (and theirs) the answer.
* ``{{cloze text}}`` in a card's block hides its text, all of a block's deletions at once, as Logseq shows
  them: ``[...]``, or ``(cue)`` for ``{{cloze text \\\\ cue}}``. The deleted texts are the card's key terms, and its
  answer is the block with them shown, then its children.
* Logseq's properties lines (``card-last-score:: 5``, ``id:: 64f0...``, ``collapsed:: true``) are not content. A
  ``title::`` property at the top of the page names the deck; without one, the file's name does.
* A page without a ``#card`` block is not a deck (as an Obsidian note without ``#flashcards`` is not), and
  nothing inside code counts.

An answer's ``==highlights==`` are its key terms; without them, terms are derived from it as for any card.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..cardtext import Finding, ParsedDeck, RawCard, build_cards, highlights, image_paths, question_image_paths, without_code
from ..files import untitled
from ..keyterms import clean_markdown
from ..models import Deck

# The card tag, where a tag can start and up to where a page name can end (``#cards`` is another page).
_CARD_TAG = re.compile(r"(?<![\w#/&\[])(?:#card|#?\[\[card\]\])(?![\w\-/])", re.IGNORECASE)
_BULLET = re.compile(r"^([ \t]*)-(?:[ \t]+(.*))?$")
_PROPERTY = re.compile(r"^[ \t]*[\w\-.]+::(?:[ \t].*)?$")  # "card-last-score:: 5"; "std::vector" is no property
_TAGS = re.compile(r"^[ \t]*tags::[ \t]*(.*)$", re.IGNORECASE)  # a block's "tags:: card, [[network]]"
_TITLE = re.compile(r"^[ \t]*title::[ \t]*(.*)$", re.IGNORECASE)
# A deletion runs to the first "}}"; no "{" or "}" inside, so each scan stops at the next deletion's start.
_CLOZE = re.compile(r"\{\{cloze[ \t]+([^{}\n]*)\}\}")
_CUE = "\\\\"  # {{cloze text \\ cue}}: Logseq shows "(cue)" for the text
BLANK = "[...]"


@dataclass
class _Block:
    line: int  # of its bullet, from 1
    lines: list[str]  # its content: the bullet's text, then its further lines, without their indent
    children: list[_Block] = field(default_factory=list)


def has_card_tag(text: str) -> bool:
    """Whether a page holds a block tagged ``#card`` outside code: what makes it a deck."""
    if _CARD_TAG.search(without_code(text)) is not None:
        return True
    return "tags::" in text.casefold() and any(_tagged_card(block) for block in _walk(_outline(text)[1]))


def _tagged_card(block: _Block) -> bool:
    """Whether a block's ``tags::`` property names ``card`` (``tags:: card``, ``tags:: [[card]], network``), as Logseq
    makes a card of it. The page's own properties (before its first block, or a block of properties alone) tag the
    page, not a card."""
    for line in without_code("\n".join(block.lines)).split("\n")[1:]:
        if m := _TAGS.match(line):
            if any(tag.strip().lstrip("#").removeprefix("[[").removesuffix("]]").strip().casefold() == "card" for tag in m.group(1).split(",")):
                return True
    return False


def parse_logseq(text: str, path: str) -> ParsedDeck:
    """The cards of a Logseq page, one per ``#card`` block, in order."""
    preamble, blocks = _outline(text)
    title = next((m.group(1).strip() for line in preamble if (m := _TITLE.match(line))), "") or untitled(path)
    raw: list[RawCard] = []
    as_given: list[bool] = []
    findings: list[Finding] = []
    for block in _walk(blocks):
        content = _content(block)
        code_free = without_code(content)
        if not (_CARD_TAG.search(code_free) or _tagged_card(block)):
            continue
        question, shown, terms = _clozes(content, code_free)
        children = _children_text(block.children)
        if terms:
            answer = "\n\n".join(part for part in (shown, children) if part)
            raw.append((block.line, clean_markdown(question), answer, image_paths(answer), terms, question_image_paths(question)))
        else:
            raw.append((block.line, clean_markdown(question), children, image_paths(children), highlights(children, block.line + 1, findings), question_image_paths(question)))
        as_given.append(bool(terms))
    cards = build_cards(raw, findings, derived_note=False, side_notes=False, terms_as_given=as_given)
    return ParsedDeck(Deck(path=path, title=clean_markdown(title), cards=cards), sorted(findings, key=lambda f: f.line))


def _outline(text: str) -> tuple[list[str], list[_Block]]:
    """The lines before the first block (the page's properties), and the blocks as Logseq nests them by indent."""
    preamble: list[str] = []
    top: list[_Block] = []
    stack: list[tuple[int, _Block]] = []  # (indent width, block), each nested in the one before
    fence = ""  # the fence a code block opened with, while in one: its "- " lines are code, not blocks
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip()
        bullet = None if fence else _BULLET.match(line)
        if bullet is not None:
            width = len(bullet.group(1).expandtabs(4))
            while stack and stack[-1][0] >= width:
                stack.pop()
            block = _Block(number, [bullet.group(2) or ""])
            (stack[-1][1].children if stack else top).append(block)
            stack.append((width, block))
            content = bullet.group(2) or ""
        else:
            content = stripped if not stack else _dedent(line, stack[-1][0] + 2)
            (stack[-1][1].lines if stack else preamble).append(content)
        opener = content.lstrip()[:3]
        if fence and content.lstrip().startswith(fence):
            fence = ""
        elif not fence and opener in ("```", "~~~"):
            fence = opener
    return preamble, top


def _dedent(line: str, width: int) -> str:
    """A block's further line without the indent that puts it under the block's text (tabs as 4 columns)."""
    expanded = line.expandtabs(4)
    indent = len(expanded) - len(expanded.lstrip(" "))
    return expanded[min(indent, width) :].rstrip()


def _walk(blocks: list[_Block]) -> Iterator[_Block]:
    """Every block, in page order, without recursion (an outline may nest deeply)."""
    todo = blocks[::-1]
    while todo:
        block = todo.pop()
        yield block
        todo.extend(block.children[::-1])


def _clozes(content: str, code_free: str) -> tuple[str, str, list[str]]:
    """The question (tags gone, deletions hidden), the block with its deletions shown, and the deleted texts."""
    question, shown, terms = [], [], []
    pos = 0
    for m in _CLOZE.finditer(code_free):
        written = content[m.start(1) : m.end(1)]
        text, _, cue = written.rpartition(_CUE) if _CUE in written else (written, "", "")  # the last "\\", as Logseq
        text = text.strip()
        question += [content[pos : m.start()], f"({cue.strip()})" if cue.strip() else BLANK]
        shown += [content[pos : m.start()], f"=={text}==" if text else ""]
        if text:
            terms.append(text)
        pos = m.end()
    question.append(content[pos:])
    shown.append(content[pos:])
    return _without_tags("".join(question)), _without_tags("".join(shown)), terms


def _without_tags(text: str) -> str:
    code_free = without_code(text)
    parts, pos = [], 0
    for m in _CARD_TAG.finditer(code_free):
        parts.append(text[pos : m.start()])
        pos = m.end()
    parts.append(text[pos:])
    return "\n".join(line.rstrip() for line in "".join(parts).split("\n")).strip()


def _children_text(children: list[_Block]) -> str:
    """A card's answer: its child blocks as a markdown list (one child, and no grandchild shown, as its text).

    A card among them shows its question, not its answer, which is its own: were every card's answer to hold those
    of the cards nested in it, a page of cards nested a thousand deep would make answers of gigabytes."""
    if len(children) == 1:
        text, card = _block_text(children[0])
        if card or not children[0].children:
            return text
    lines: list[str] = []
    todo = [(0, child) for child in children[::-1]]
    while todo:
        depth, block = todo.pop()
        text, card = _block_text(block)
        first, *rest = text.split("\n")
        lines.append("  " * depth + "- " + first)
        lines += ["  " * depth + "  " + line if line else "" for line in rest]
        if not card:
            todo.extend((depth + 1, child) for child in block.children[::-1])
    return "\n".join(lines).strip()


def _block_text(block: _Block) -> tuple[str, bool]:
    """A block of an answer as it is shown (properties and tags gone, a deletion in it highlighted: a key term), and
    whether it is a card."""
    content = _content(block)
    code_free = without_code(content)
    return _clozes(content, code_free)[1], _CARD_TAG.search(code_free) is not None or _tagged_card(block)


def _content(block: _Block) -> str:
    """A block's text without its properties lines."""
    return "\n".join(line for line in block.lines if not _PROPERTY.match(line))
