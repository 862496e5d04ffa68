"""Anki notes as text: fields from HTML, card templates rendered, clozes blanked.

Shared by the package reader (``anki.py``) and the plain-text export reader
(``anki_text.py``). Anki stores fields as HTML; a card's question and answer are
its note type's templates (``{{Front}}``, ``{{#Field}}...{{/Field}}``,
``{{cloze:Text}}``, ``{{FrontSide}}<hr id=answer>...``) rendered with the
note's fields. Every scan here is linear in the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

BLANK = "[...]"
_SOUND = re.compile(r"\[sound:[^\]]*\]")
_TAG = re.compile(r"\{\{([^{}]*)\}\}")
_ANSWER_RULE = re.compile(r"<hr\s+id\s*=\s*[\"']?answer[\"']?\s*/?>", re.IGNORECASE)
_CLOZE_NUMBER = re.compile(r"\{\{c(\d+)::")
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


@dataclass(frozen=True)
class Deletion:
    number: int
    start: int  # of "{{c"
    end: int  # after "}}"
    text: str
    hint: str | None


def deletions(text: str) -> list[Deletion]:
    """The ``{{cN::text::hint}}`` deletions of a field, in order (a nested one ends its outer one)."""
    found: list[Deletion] = []
    pos = 0
    while (m := _CLOZE_NUMBER.search(text, pos)) is not None:
        close = text.find("}}", m.end())
        if close < 0:
            break  # no later deletion can close either
        body, _, hint = _CLOZE_NUMBER.sub("", text[m.end() : close]).partition("::")
        found.append(Deletion(int(m.group(1)), m.start(), close + 2, body, hint or None))
        pos = close + 2
    return found


def cloze_numbers(text: str) -> list[int]:
    return sorted({d.number for d in deletions(text)})


def render_cloze(text: str, number: int, *, answer: bool) -> str:
    """A cloze field for card ``number``: its deletions blanked (question) or marked ``==...==`` (answer); the others as text."""
    out, pos = [], 0
    for d in deletions(text):
        out.append(text[pos : d.start])
        if d.number != number:
            out.append(d.text)
        elif answer:
            out.append(f"=={d.text}==")
        else:
            out.append(f"[{d.hint}]" if d.hint else BLANK)
        pos = d.end
    out.append(text[pos:])
    return "".join(out)


def cloze_terms(text: str, number: int) -> list[str]:
    """The text of card ``number``'s deletions: its key terms."""
    return [html_to_text(d.text) for d in deletions(text) if d.number == number]


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
