"""Anki's plain-text export ("Notes in Plain Text", ``.txt``) read into grader's cards.

The file starts with header lines Anki writes and reads back:
``#separator:tab`` (or ``comma``, ``semicolon``, ``space``, ``colon``, ``pipe``,
or the character itself), ``#html:true``, ``#columns:Front<sep>Back<sep>Tags``,
``#notetype column:N``, ``#deck column:N``, ``#tags column:N``,
``#guid column:N``, ``#notetype:NAME``, ``#deck:NAME``, ``#tags:...``; and grader's own
``#language:german``, the deck's language as Snowball names it (Anki skips a header it does not know). Then one note a
row, its fields separated by the separator, quoted like CSV where a field holds
the separator, a quote or a line break.

The front and back are found by the column names (Front/Back, Question/Answer,
Text/Back Extra), else they are the first two fields. A row whose front has
``{{c1::...}}`` deletions gives one card per cloze number; a note type whose name
says "reversed" gives a card each way. With ``#html:true`` fields are HTML
and are stripped like a package's.
"""

from __future__ import annotations

import csv
import io
import re

from ..cardtext import Finding, ParsedDeck, RawCard, build_cards
from ..errors import DeckError
from ..files import untitled
from ..models import Deck
from .anki_notes import cloze_numbers, has_zero_cloze, row_cards

SEPARATORS = {"tab": "\t", "comma": ",", "semicolon": ";", "space": " ", "colon": ":", "pipe": "|"}
_HEADER = re.compile(r"^#([a-z ]+):(.*)$", re.IGNORECASE)
META_COLUMNS = ("notetype", "deck", "tags", "guid")


def looks_like_anki_text(head: str) -> bool:
    """Whether a text file starts with Anki's export headers (how a folder's ``.txt`` notes are told apart)."""
    first = next((line for line in head.split("\n") if line.strip()), "")
    return first.lower().startswith(("#separator:", "#html:", "#columns:", "#notetype", "#deck", "#tags", "#guid"))


def parse_anki_text(text: str, path: str) -> ParsedDeck:
    """The cards of one plain-text export, row by row."""
    headers, body_line = _headers(text)
    lines = text.split("\n")
    body = "\n".join(lines[body_line:])
    sep = _separator(headers.get("separator"), body)
    html = headers.get("html", "").strip().lower() == "true"
    columns = [c.strip() for c in headers["columns"].split(sep)] if "columns" in headers else []
    meta = {name: _column(headers.get(f"{name} column")) for name in META_COLUMNS}
    try:
        reader = csv.reader(io.StringIO(body), delimiter=sep, quotechar='"', strict=True)
        rows = []
        start = reader.line_num + 1
        for row in reader:
            rows.append((body_line + start, row))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise DeckError(f"not a readable Anki text export: {exc}", path=path, line=body_line + reader.line_num) from None
    raw: list[RawCard] = []
    as_given: list[bool] = []  # a cloze card's terms are its deletions, never derived from the rest of the row
    findings: list[Finding] = []
    decks: list[str] = []
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        notetype = _cell(row, meta["notetype"]) or headers.get("notetype", "")
        decks.append(_cell(row, meta["deck"]) or headers.get("deck", ""))
        keep = [i for i in range(len(row)) if i not in meta.values()]
        names = [columns[i] if i < len(columns) else f"Field {i + 1}" for i in keep]
        values = [row[i] for i in keep]
        if len(values) < 2 and not cloze_numbers(values[0] if values else "") and not has_zero_cloze(values[0] if values else ""):
            findings.append(Finding(line, "row has a question but no answer: it is left out"))
            continue
        cards, cloze = row_cards(line, names, values, notetype, html, findings)
        raw += cards
        as_given += [cloze] * len(cards)
    title = next((d for d in decks if d), "") or untitled(path)
    cards = build_cards(raw, findings, derived_note=False, side_notes=False, terms_as_given=as_given)
    return ParsedDeck(Deck(path=path, title=title, cards=cards, language=_language(lines[:body_line], path)), findings)


def _language(header_lines: list[str], path: str) -> str | None:
    """The language a ``#language:german`` header says, if one does (a header of grader's: Anki skips it)."""
    from ..language import declared_language

    said = [(number, m[2]) for number, line in enumerate(header_lines, start=1) if (m := _HEADER.match(line)) and m[1].strip().lower() == "language"]
    if not said:
        return None
    number, name = said[-1]  # the last, as for every header
    return declared_language(f"language: {name.strip()}", path, first_line=number)


def _headers(text: str) -> tuple[dict[str, str], int]:
    """The ``#key:value`` lines at the top, and the index of the first line after them."""
    headers: dict[str, str] = {}
    lines = text.split("\n")
    index = 0
    while index < len(lines) and (m := _HEADER.match(lines[index])) is not None:
        headers[m.group(1).strip().lower()] = m.group(2)
        index += 1
    return headers, index


def _separator(value: str | None, body: str) -> str:
    if value:
        value = value.strip("\r")
        return SEPARATORS.get(value.strip().lower(), value[:1] or "\t")
    first = next((line for line in body.split("\n") if line.strip()), "")
    return "\t" if "\t" in first or "," not in first else ","


def _column(value: str | None) -> int | None:
    try:
        return int(value) - 1 if value else None
    except ValueError:
        return None


def _cell(row: list[str], index: int | None) -> str:
    return row[index].strip() if index is not None and index < len(row) else ""
