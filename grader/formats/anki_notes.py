"""Anki notes as text: fields from HTML, card templates rendered, clozes blanked.

Shared by the package reader (``anki.py``), the plain-text export reader
(``anki_text.py``) and the CSV reader (``spreadsheet.py``), whose rows are notes too (``row_cards``). Anki stores fields as HTML; a card's question and answer are
its note type's templates (``{{Front}}``, ``{{#Field}}...{{/Field}}``,
``{{cloze:Text}}``, ``{{FrontSide}}<hr id=answer>...``) rendered with the
note's fields. Every scan here is linear in the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from ..cardtext import Finding, RawCard, highlights, image_paths, question_image_paths

BLANK = "[...]"
_SOUND = re.compile(r"\[sound:[^\]]*\]")
_TAG = re.compile(r"\{\{([^{}]*)\}\}")
_ANSWER_RULE = re.compile(r"<hr\s+id\s*=\s*[\"']?answer[\"']?\s*/?>", re.IGNORECASE)
_CLOZE_TOKEN = re.compile(r"\{\{c(\d{1,5})::|\}\}")  # an opening (more digits: not one, as in Anki) or a closing
FRONT_NAMES = ("front", "question", "text", "term", "word", "prompt", "recto")
BACK_NAMES = ("back", "answer", "definition", "meaning", "back extra", "extra", "verso")


# --- HTML --------------------------------------------------------------------------


class _Text(HTMLParser):
    """Markdown-ish text of an HTML field: line breaks kept, images as ``![](src)``, bold as ``**``."""

    BREAKS = {"br", "div", "p", "li", "tr", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.skip += 1
        elif tag == "img":
            src = dict(attrs).get("src")
            if src:
                self.parts.append(f" ![]({src.replace(' ', '%20')}) ")
        elif tag in ("b", "strong"):
            self.parts.append("**")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in self.BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.skip = max(0, self.skip - 1)
        elif tag in ("b", "strong"):
            self.parts.append("**")
        elif tag in self.BREAKS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """The text of an HTML field, as markdown: tags gone, entities decoded, sounds dropped, blank runs collapsed."""
    parser = _Text()
    parser.feed(_SOUND.sub("", html))
    parser.close()
    lines = [" ".join(line.replace("\xa0", " ").split()) for line in "".join(parser.parts).split("\n")]
    text = "\n".join(line for line in lines if line)  # Anki's <div>s and <br>s stack up blank lines
    return text.replace("****", "").strip()


# --- Clozes ------------------------------------------------------------------------
#
# Read as Anki reads them (2.1.56 and later, rslib's cloze.rs): "{{cN::" opens a deletion and "}}" closes the
# innermost open one, so deletions nest. Text inside a deletion is cut at its first "::": what follows is the hint.
# A "}}" that closes nothing is text; a deletion never closed is left as written (Anki would drop its text).

MAX_CLOZE_DEPTH = 10  # as Anki: a deeper "{{cN::" is text, and nothing nests deep enough to exhaust the stack


@dataclass
class Cloze:
    """One ``{{cN::text::hint}}`` deletion: its text as parts, some of them deletions nested in it."""

    number: int
    parts: list[str | Cloze] = field(default_factory=list)
    hint: str | None = None
    opening: str = ""  # "{{cN::" as written, for a deletion never closed
    start: int = -1  # where it is in the text parsed: its "{{cN::" to the end of its "}}" (a reader that marks more than
    end: int = -1  # Anki's deletions, as Obsidian's does, looks for the others between them)

    def text(self) -> str:
        """Its text as written, nested deletions shown as text, hints left out."""
        return "".join(p if isinstance(p, str) else p.text() for p in self.parts)


def parse_clozes(text: str) -> list[str | Cloze]:
    """A field as text and the deletions in it, in order; linear in the text."""
    top: list[str | Cloze] = []
    open_: list[Cloze] = []

    def add_text(chunk: str) -> None:
        if not chunk:
            return
        if open_:
            chunk, sep, hint = chunk.partition("::")
            if sep:
                open_[-1].hint = hint
            if chunk:
                open_[-1].parts.append(chunk)
        else:
            top.append(chunk)

    pos = 0
    for m in _CLOZE_TOKEN.finditer(text):
        add_text(text[pos : m.start()])
        pos = m.end()
        if m[1] is not None:
            if len(open_) < MAX_CLOZE_DEPTH:
                open_.append(Cloze(int(m[1]), opening=m[0], start=m.start()))
            else:
                add_text(m[0])
        elif open_:
            closed = open_.pop()
            closed.end = m.end()
            (open_[-1].parts if open_ else top).append(closed)
        else:
            top.append(m[0])
    add_text(text[pos:])
    while open_:  # never closed: its opening and its parts are text again, in the deletion around it or at the top
        unclosed = open_.pop()
        hint = "" if unclosed.hint is None else "::" + unclosed.hint
        (open_[-1].parts if open_ else top).extend([unclosed.opening, *unclosed.parts, hint])
    return top


def walk_clozes(nodes: list[str | Cloze]):
    """Every deletion, outer ones before those nested in them."""
    todo = [n for n in reversed(nodes) if isinstance(n, Cloze)]
    while todo:
        cloze = todo.pop()
        yield cloze
        todo.extend(n for n in reversed(cloze.parts) if isinstance(n, Cloze))


def cloze_numbers(text: str) -> list[int]:
    """The card numbers a field's deletions make (``c0`` makes none, as in Anki)."""
    return sorted({c.number for c in walk_clozes(parse_clozes(text)) if c.number > 0})


ZERO_CLOZE = "cloze c0 makes no card (clozes are numbered from c1, as in Anki)"  # what lint says of a field holding one


def has_zero_cloze(text: str) -> bool:
    """Whether a field has a ``{{c0::...}}`` deletion, which makes no card: shown as its text on the others' cards."""
    return any(c.number == 0 for c in walk_clozes(parse_clozes(text)))


def render_cloze(text: str, number: int, *, answer: bool) -> str:
    """A cloze field for card ``number``: its deletions blanked (question) or marked ``==...==`` (answer); the others as
    text. A deletion nested in card ``number``'s is hidden with it on the question and shown on the answer; one that
    holds card ``number``'s shows as text around it."""

    def render(nodes: list[str | Cloze], inside_asked: bool) -> str:
        out = []
        for node in nodes:
            if isinstance(node, str):
                out.append(node)
            elif node.number != number or inside_asked:
                out.append(render(node.parts, inside_asked))
            elif not answer:
                out.append(f"[{node.hint}]" if node.hint else BLANK)
            else:
                shown = render(node.parts, True)
                out.append(f"=={shown}==" if shown.strip() else shown)
        return "".join(out)

    return render(parse_clozes(text), False)


def cloze_texts(text: str, number: int) -> list[str]:
    """The text of card ``number``'s deletions as written (one nested in another of the same number is part of it)."""
    texts, todo = [], [n for n in reversed(parse_clozes(text)) if isinstance(n, Cloze)]
    while todo:
        cloze = todo.pop()
        if cloze.number == number:
            texts.append(cloze.text())
        else:
            todo.extend(n for n in reversed(cloze.parts) if isinstance(n, Cloze))
    return texts


def cloze_terms(text: str, number: int) -> list[str]:
    """The text of card ``number``'s deletions: its key terms."""
    return [html_to_text(t) for t in cloze_texts(text, number)]


def empty_cloze(number: int, terms: list[str]) -> str | None:
    """What lint says of card ``number`` when a deletion of it holds nothing (``{{c1::}}``); None when none does.

    Its card is graded by the other deletions' terms, or self-graded: never by words of the rest of the note.
    """
    if all(t.strip() for t in terms):
        return None
    if any(t.strip() for t in terms):
        return f"cloze c{number} has an empty deletion ({{{{c{number}::}}}}): it is left out"
    return f"cloze c{number} is empty ({{{{c{number}::}}}}): the card has nothing to grade by and can only be self-graded"


# --- Templates ---------------------------------------------------------------------


def render(template: str, fields: dict[str, str], *, cloze: int | None = None, answer: bool = False, special: dict[str, str] | None = None) -> str:
    """A card template rendered with a note's fields (HTML out), as Anki does for the parts grading needs.

    Sections ``{{#F}}...{{/F}}`` show when field F has text, ``{{^F}}...{{/F}}``
    when it has none; ``{{type:F}}`` (the type-in box) renders nothing on the front and the field on the back;
    ``{{cloze:F}}`` renders card ``cloze``'s deletions; other filters
    (``text:``, ``hint:``, ``furigana:``) show the field itself.
    """
    lookup = {k.casefold(): v for k, v in {**(special or {}), **fields}.items()}
    out: list[str] = []
    hidden = 0  # depth of sections whose content is not shown
    stack: list[bool] = []
    pos = 0
    for m in _TAG.finditer(template):
        if not hidden:
            out.append(template[pos : m.start()])
        pos = m.end()
        tag = m.group(1).strip()
        if tag[:1] in "#^":
            present = bool(html_to_text(lookup.get(tag[1:].strip().casefold(), "")))
            show = present if tag[0] == "#" else not present
            stack.append(show)
            hidden += not show
        elif tag[:1] == "/":
            if stack:
                hidden -= not stack.pop()
        elif not hidden:
            *filters, name = tag.split(":")
            value = lookup.get(name.strip().casefold(), "")
            filters = [f.strip().casefold() for f in filters]
            if "type" in filters and not answer:
                continue  # the type-in box; on the back Anki shows the expected answer
            if "cloze" in filters and cloze is not None:
                value = render_cloze(value, cloze, answer=answer)
            out.append(value)
    if not hidden:
        out.append(template[pos:])
    return "".join(out)


def answer_side(rendered_answer: str) -> str:
    """What the back adds to the front: the part after ``<hr id=answer>`` when the template has one."""
    parts = _ANSWER_RULE.split(rendered_answer, maxsplit=1)
    return parts[-1]


def pick_sides(names: list[str]) -> tuple[int, int | None]:
    """Which fields are the front and the back, by their names (Front/Back, Question/Answer, Text/Back Extra, ...)."""
    folded = [n.casefold().strip() for n in names]
    front = next((folded.index(n) for n in FRONT_NAMES if n in folded), 0)
    back = next((folded.index(n) for n in BACK_NAMES if n in folded and folded.index(n) != front), None)
    if back is None and len(names) > 1:
        back = 1 if front != 1 else 0
    return front, back


def row_cards(line: int, names: list[str], values: list[str], notetype: str, html: bool, findings: list[Finding]) -> tuple[list[RawCard], bool]:
    """A row's cards, and whether they are cloze cards."""
    text = html_to_text if html else (lambda v: v.strip())
    front, back = pick_sides(names)
    front_value = values[front]
    extra = text(values[back]) if back is not None else ""
    numbers = cloze_numbers(front_value)
    if has_zero_cloze(front_value):  # a cloze note, but c0 is no card's: a row of nothing else makes none
        findings.append(Finding(line, ZERO_CLOZE))
        if not numbers:
            return [], True
    if numbers:
        cards = []
        for n in numbers:
            question = text(render_cloze(front_value, n, answer=False))
            answer = "\n\n".join(part for part in (text(render_cloze(front_value, n, answer=True)), extra) if part)
            terms = cloze_terms(front_value, n) if html else [t.strip() for t in cloze_texts(front_value, n)]
            if (empty := empty_cloze(n, terms)) is not None:
                findings.append(Finding(line, empty))
            cards.append((line, question, answer, image_paths(answer), terms, question_image_paths(question)))
        return cards, True
    question = text(front_value)
    cards = [(line, question, extra, image_paths(extra), highlights(extra, line, []), question_image_paths(question))]
    if "reverse" in notetype.lower():
        cards.append((line, extra, question, image_paths(question), highlights(question, line, []), question_image_paths(extra)))
    return cards, False
