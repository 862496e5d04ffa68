"""Flashcards kept in a spreadsheet: a ``.csv`` of ``question,answer`` rows, as Quizlet, Knowt, Brainscape, Excel
and Google Sheets export them.

* The separator is Excel's ``sep=;`` first line where there is one; else the one a header row is written with;
  else the one of tab, comma and semicolon that splits every row into the same number (two or more) of cells (the
  tab, when it is one of those; when the comma and the semicolon both do, the deck is refused as ambiguous).
* A first row naming a question column and an answer column (``question,answer``, ``front,back``,
  ``term,definition``, in any case; the names Anki's export uses, see ``anki_notes.pick_sides``) is a header: the
  sides are found by it and other columns left out. Without one, the first two cells are question and answer.
* Cells are quoted as CSV quotes them; every row has as many cells as the header, or without one as most rows, or
  the deck is refused at that row (an unquoted comma in an answer would otherwise cut it short without a word).
  A row of one cell (a file of one column) has no answer, and is left out and linted, unless it holds a cloze.
* A file that starts with Anki's ``#separator:`` headers is Anki's text export: ``decks.py`` gives it to that reader.

A row becomes a card as in Anki's text export (``anki_notes.row_cards``): the answer's ``==highlights==`` are its
key terms, and a question with ``{{c1::...}}`` deletions makes cloze cards.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from pathlib import Path

from ..cardtext import Finding, ParsedDeck, RawCard, build_cards
from ..errors import DeckError
from ..files import untitled
from ..models import Deck
from .anki_notes import BACK_NAMES, FRONT_NAMES, cloze_numbers, has_zero_cloze, row_cards

SEPARATORS = ("\t", ",", ";")  # tried in this order (see ``choose_separator``)
_EXCEL_SEPARATOR = re.compile(r"^sep=(.)$")
# Columns an answers file has and a deck does not: a file of students' answers named as a deck is refused.
ANSWERS_COLUMNS = {"card", "student"}
# The columns a deck's header may name, for a file found in a folder to count as one.
DECK_COLUMNS = {*FRONT_NAMES, *BACK_NAMES, "tags"}
_FRONT = set(FRONT_NAMES)
_BACK = set(BACK_NAMES)


def parse_spreadsheet(text: str, path: str) -> ParsedDeck:
    """The cards of a CSV deck, one a row (a cloze row one a deletion number)."""
    lines = text.split("\n")
    excel = _EXCEL_SEPARATOR.match(lines[0])
    body_line = 1 if excel else 0  # lines before the rows
    body = "\n".join(lines[body_line:])
    separator = excel.group(1) if excel else choose_separator(body, path, body_line)
    rows = _rows(body, separator, path, body_line)
    if not rows:
        return ParsedDeck(Deck(path=path, title=untitled(path), cards=[]), [])
    first_line, first = rows[0]
    header = is_header(first)
    if "answer" in _names(first) and (answers := ANSWERS_COLUMNS & _names(first)):
        raise DeckError(
            f"this is an answers file (its header names '{sorted(answers)[0]}'), not a deck: grade it with grader grade DECK {Path(path).name}",
            path=path,
            line=first_line,
        )
    width = len(first) if header else _usual_width(rows)
    names = [cell.strip() for cell in first] if header else [f"Field {i + 1}" for i in range(width)]
    raw: list[RawCard] = []
    as_given: list[bool] = []
    findings: list[Finding] = []
    for line, row in rows[1:] if header else rows:
        if len(row) != width:
            raise DeckError(_width_problem(len(row), width, header, separator), path=path, line=line)
        if width < 2 and not cloze_numbers(row[0]) and not has_zero_cloze(row[0]):
            findings.append(Finding(line, "row has a question but no answer: it is left out"))
            continue
        cards, cloze = row_cards(line, names, row, "", False, findings)
        raw += cards
        as_given += [cloze] * len(cards)
    cards = build_cards(raw, findings, derived_note=False, side_notes=False, terms_as_given=as_given)
    return ParsedDeck(Deck(path=path, title=untitled(path), cards=cards), findings)


def is_header(cells: list[str]) -> bool:
    """Whether a first row names the columns: a question column and an answer column (``Term,Definition``)."""
    names = _names(cells)
    return bool(names & _FRONT) and bool(names & _BACK)


def looks_like_spreadsheet_deck(head: str) -> bool:
    """Whether a ``.csv`` found in a folder is a deck: its header names a question and an answer column and no
    column but those a deck has (``question,answer``, ``Term,Definition,Tags``). An answers file names its students
    (``student``, ``email``) and cards (``card``), a results file its scores; a file without a header could be any
    table, and is not taken for a deck unless named."""
    lines = head.removeprefix("\ufeff").split("\n")
    excel = _EXCEL_SEPARATOR.match(lines[0].rstrip("\r"))
    first = next((line for line in lines[1 if excel else 0 :] if line.strip()), "")
    for separator in excel.group(1) if excel else SEPARATORS:
        cells = next(csv.reader([first], delimiter=separator), [])
        if is_header(cells):
            return _names(cells) <= DECK_COLUMNS
    return False


def choose_separator(body: str, path: str, body_line: int = 0) -> str:
    """The separator a header row is written with, else the one that splits every row into as many cells (two or
    more), else the comma (and the first row that it splits otherwise is reported).

    A tab that splits the rows alike is the separator (Quizlet's export; a cell rarely holds one). Rows that the
    comma and the semicolon both split alike (``Capital of France, briefly;Paris``) are refused: either reading
    gives a deck, and the wrong one cuts every card at the wrong place without a word."""
    first = next((line for line in body.split("\n") if line.strip()), "")
    for separator in SEPARATORS:
        if is_header(next(csv.reader([first], delimiter=separator), [])):
            return separator
    alike = [separator for separator in SEPARATORS if _splits_alike(body, separator)]
    if alike[:1] == ["\t"] or len(alike) == 1:
        return alike[0]
    if alike:
        raise DeckError(
            "every row splits alike at commas and at semicolons, so which one separates the cells is unclear: "
            "start the file with a header (question,answer or question;answer) or a line sep=; (or sep=,)",
            path=path,
            line=body_line + 1,
        )
    return ","


def _splits_alike(body: str, separator: str) -> bool:
    """Whether a separator splits every row that holds anything into as many cells, two or more."""
    width = None
    try:
        for row in csv.reader(io.StringIO(body), delimiter=separator, strict=True):
            if not any(cell.strip() for cell in row):
                continue
            if width is None:
                width = len(row)
            if len(row) < 2 or len(row) != width:
                return False
    except csv.Error:
        return False
    return width is not None


def _rows(body: str, separator: str, path: str, body_line: int) -> list[tuple[int, list[str]]]:
    """The rows that hold anything, each with the line it starts on."""
    reader = csv.reader(io.StringIO(body), delimiter=separator, strict=True)
    rows = []
    start = 1
    try:
        for row in reader:
            if any(cell.strip() for cell in row):  # a blank line, or a spreadsheet's row of empty cells (",,")
                rows.append((body_line + start, row))
            start = reader.line_num + 1
    except csv.Error as exc:
        problem = str(exc)
        if "end of data" in problem:
            message = "a quoted cell never closes (a missing \")"
        elif "field limit" in problem:
            message = f"a cell is longer than {csv.field_size_limit():,} characters, the CSV limit"
        else:
            message = f"invalid CSV: {problem}"
        raise DeckError(message, path=path, line=body_line + start) from None
    return rows


def _usual_width(rows: list[tuple[int, list[str]]]) -> int:
    """How many cells the rows of a deck without a header have: most rows' number, so the odd row is the one
    reported even when it is the first; in a tie, the smallest of two or more (an unquoted comma adds a cell)."""
    counts = Counter(len(row) for _, row in rows)
    return max(counts, key=lambda width: (counts[width], width >= 2, -width))


def _width_problem(cells: int, width: int, header: bool, separator: str) -> str:
    first = "the header" if header else "most rows"
    hint = ""
    if cells > width and separator != "\t":
        shown = {",": "comma", ";": "semicolon"}.get(separator, f"'{separator}'")
        hint = f' (a cell that holds a {shown} must be in quotes: "like{separator} this")'
    return f"row has {cells} cell{'s' if cells != 1 else ''}; {first} {'has' if header else 'have'} {width}{hint}"


def _names(cells: list[str]) -> set[str]:
    return {cell.strip().casefold() for cell in cells if cell.strip()}
