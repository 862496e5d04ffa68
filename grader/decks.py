"""Reading decks: the markdown ``<details>`` format and plain YAML/JSON decks.

Parsing is pure (text in, cards and findings out); ``load_deck`` is the I/O edge.
The markdown format is read as its author writes it, not as a strict grammar:
see ``tests/test_decks.py`` for every variation the corpus holds.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from .errors import DeckError
from .files import read_text
from .keyterms import clean_markdown, clean_term, derive_key_terms, document_frequencies, parse_term
from .models import Card, Deck, KeyTerm, PlainDeck
from .normalize import STOPWORDS, normalize, tokenize
from .resources import bundled, missing

MARKDOWN_SUFFIXES = {".md", ".markdown"}
PLAIN_SUFFIXES = {".yaml", ".yml", ".json"}
DECK_SUFFIXES = MARKDOWN_SUFFIXES | PLAIN_SUFFIXES


@dataclass(frozen=True)
class Finding:
    """Something a deck author should fix, at a line of the deck."""

    line: int
    message: str


@dataclass
class ParsedDeck:
    """A deck and what its author should fix."""

    deck: Deck
    findings: list[Finding] = field(default_factory=list)


# --- Markdown decks -----------------------------------------------------------

# Every pattern here runs in time linear in the deck: a scan stops where another
# match could start ("[" in alt text, "]" in a destination, "<" in a tag), so no
# stretch of text is rescanned from many starts. Tags are found with str.find.
_DETAILS_OPEN = re.compile(r"<details\b", re.IGNORECASE)
_DETAILS_CLOSE = re.compile(r"</details\s*>", re.IGNORECASE)
_SUMMARY_OPEN = re.compile(r"<summary\b", re.IGNORECASE)
_SUMMARY_CLOSE = re.compile(r"</summary\s*>", re.IGNORECASE)
_DESTINATION = r"\(\s*<?([^)\]\s>]+)(?![^)\]\s>])>?[^)\]]*\)"  # (path "title"); the path never gives back
_IMAGE = re.compile(
    r"!\[[^\[\]]*\]" + _DESTINATION  # ![alt](path)
    + r"|(?<!!)\[\]" + _DESTINATION  # [](path), the author's frequent slip
    + r"|<img\b[^<>]*\bsrc=[\"']([^\"']+)[\"']"  # <img src="path">
    r"|!\[\[([^\[\]|]+)(?:\|[^\[\]]*)?\]\]",  # ![[embed.png]] (Obsidian)
    re.IGNORECASE,
)
_HIGHLIGHT_MARK = re.compile(r"={2,3}")
_TITLE = re.compile(r"^#\s+(.+)$", re.MULTILINE)
_FENCE = re.compile(r"^[ \t>]*(`{3,}|~{3,})(.*)$", re.MULTILINE)
_BACKTICKS = re.compile(r"`+")
_BLANK_LINE = re.compile(r"^[ \t]*$", re.MULTILINE)
_NOT_NEWLINE = re.compile(r"[^\n]")


def parse_markdown(text: str, path: str = "<deck>") -> ParsedDeck:
    """Cards of a markdown deck: one per ``<details>`` block outside code, in order."""
    findings: list[Finding] = []
    structure = _without_code(text)  # same offsets as text; where cards are looked for
    line_starts = [0, *(m.end() for m in re.finditer("\n", text))]

    def line_of(offset: int) -> int:
        return bisect.bisect_right(line_starts, offset)

    opens = _details_tags(structure)
    raw_cards = []
    for i, (start, end) in enumerate(opens):
        limit = opens[i + 1][0] if i + 1 < len(opens) else len(text)
        close = _DETAILS_CLOSE.search(structure, end, limit)
        line = line_of(start)
        if close is None:
            findings.append(Finding(line, "<details> is never closed with </details>"))
        block_end = close.start() if close else limit
        summary = _summary(structure, end, block_end)
        if summary is None:
            findings.append(Finding(line, "card has no <summary>: its question is empty"))
            question_md, body_start = "", end
        else:
            question_md, body_start = text[summary[0] : summary[1]], summary[2]
        raw_cards.append((line, clean_markdown(question_md), text[body_start:block_end], line_of(body_start)))

    cards = _build_cards(
        [(line, question, *_read_body(body, body_line, findings)) for line, question, body, body_line in raw_cards],
        findings,
    )
    title_match = _TITLE.search(text)
    title = clean_markdown(title_match.group(1)) if title_match else Path(path).stem
    return ParsedDeck(Deck(path=path, title=title, cards=cards), sorted(findings, key=lambda f: f.line))


def _details_tags(text: str) -> list[tuple[int, int]]:
    """Start and end of each ``<details ...>`` opening tag: a tag runs to the first ``>``."""
    tags: list[tuple[int, int]] = []
    pos = 0
    for m in _DETAILS_OPEN.finditer(text):
        if m.start() < pos:  # inside the previous tag
            continue
        gt = text.find(">", m.end())
        if gt < 0:  # no later tag can close either
            break
        tags.append((m.start(), gt + 1))
        pos = gt + 1
    return tags


def _summary(text: str, start: int, end: int) -> tuple[int, int, int] | None:
    """Where the first ``<summary>`` in text[start:end] holds its question, and where it ends.

    Only the first ``<summary`` can match: a later one would close at the same or a later ``>``.
    """
    opening = _SUMMARY_OPEN.search(text, start, end)
    if opening is None:
        return None
    gt = text.find(">", opening.end(), end)
    if gt < 0:
        return None
    closing = _SUMMARY_CLOSE.search(text, gt + 1, end)
    return None if closing is None else (gt + 1, closing.start(), closing.end())


def _without_code(text: str) -> str:
    """The text with fenced and inline code blanked out, at the same offsets.

    A ``<details>`` shown in code is an example, not a card. A fence never
    closed is left as text: taking the rest of the deck for code would hide its cards.
    """
    text = _blank(text, _fenced_blocks(text))
    return _blank(text, _inline_code(text))


def _fenced_blocks(text: str) -> list[tuple[int, int]]:
    """Spans of ``` and ~~~ blocks, fence lines included, at any indent (cards sit in list items)."""
    spans = []
    opening: tuple[int, str, int] | None = None  # start, fence character, fence length
    for m in _FENCE.finditer(text):
        fence, info = m[1], m[2]
        if opening is None:
            if not (fence[0] == "`" and "`" in info):  # ```x``` on one line is inline code
                opening = (m.start(), fence[0], len(fence))
        elif fence[0] == opening[1] and len(fence) >= opening[2] and not info.strip():
            spans.append((opening[0], m.end()))
            opening = None
    return spans


def _inline_code(text: str) -> list[tuple[int, int]]:
    """Spans of inline code: a run of backticks up to the next run as long, in the same paragraph."""
    runs = [m.span() for m in _BACKTICKS.finditer(text)]
    blank_lines = [m.start() for m in _BLANK_LINE.finditer(text)]
    next_same: list[int | None] = [None] * len(runs)
    last: dict[int, int] = {}
    for i in range(len(runs) - 1, -1, -1):
        length = runs[i][1] - runs[i][0]
        next_same[i], last[length] = last.get(length), i
    spans = []
    i = 0
    while i < len(runs):
        j = next_same[i]
        if j is not None and bisect.bisect_right(blank_lines, runs[i][1]) == bisect.bisect_right(blank_lines, runs[j][0]):
            spans.append((runs[i][0], runs[j][1]))
            i = j + 1
        else:
            i += 1
    return spans


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    """Text with the spans' characters turned into spaces, newlines kept."""
    if not spans:
        return text
    parts, pos = [], 0
    for start, end in spans:
        parts += [text[pos:start], _NOT_NEWLINE.sub(" ", text[start:end])]
        pos = end
    parts.append(text[pos:])
    return "".join(parts)


def _read_body(body: str, first_line: int, findings: list[Finding]) -> tuple[str, list[str], list[str]]:
    """The display answer, its image paths and its highlighted terms."""
    images = _image_paths(body)
    terms = _highlights(body, first_line, findings)
    return _display_answer(body), images, terms


def _display_answer(body: str) -> str:
    """The answer as markdown, dedented, with the author's ``\\`` line breaks dropped."""
    lines = [ln.expandtabs(4).rstrip() for ln in body.split("\n")]
    lines = [ln[:-1].rstrip() if ln.endswith("\\") else ln for ln in lines]
    indents = [len(ln) - len(ln.lstrip()) for ln in lines if ln.strip()]
    cut = min(indents, default=0)
    text = "\n".join(ln[cut:] for ln in lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _highlights(body: str, first_line: int, findings: list[Finding]) -> list[str]:
    """Highlighted spans of a card body.

    Marks pair up within a line; a line left with an odd mark carries it to the
    next line of the same paragraph that also has an odd count (a highlight that
    wraps). A mark nothing closes highlights to the end of its line, and is
    reported. ``===`` is read as ``==`` (the extra ``=`` is a typo). A mark in
    the middle of a word (``t==he``) widens to the whole word.
    """
    lines = body.split("\n")
    terms: list[str] = []
    open_at: tuple[int, int] | None = None  # (line index, offset just after the mark)
    for idx, line in enumerate(lines):
        marks = [m for m in _HIGHLIGHT_MARK.finditer(line)]
        if not line.strip() and open_at is not None:
            terms.append(_unclosed(lines, open_at, first_line, findings))
            open_at = None
            continue
        if open_at is not None:
            if len(marks) % 2 == 1:
                start_idx, start_off = open_at
                text = "\n".join([lines[start_idx][start_off:], *lines[start_idx + 1 : idx], line[: marks[0].start()]])
                terms.append(text)
                marks = marks[1:]
                open_at = None
            elif idx + 1 >= len(lines) or not lines[idx + 1].strip() or marks:
                terms.append(_unclosed(lines, open_at, first_line, findings))
                open_at = None
        for n, (a, b) in enumerate(zip(marks[0::2], marks[1::2])):
            lead = _word_before(line, a.start())  # t==he features==  ->  "the features"
            if not lead and n == 0 and "==" not in line[: a.start()]:
                lead = _lead_in(line[: a.start()])
            terms.append(lead + line[a.end() : b.start()])
        if len(marks) % 2 == 1:
            open_at = (idx, marks[-1].end())
    if open_at is not None:
        terms.append(_unclosed(lines, open_at, first_line, findings))
    return terms


def _word_before(line: str, end: int) -> str:
    """The word characters just before ``end``; a walk back, not a regex search that rescans the line per mark."""
    start = end
    while start > 0 and (line[start - 1].isalnum() or line[start - 1] == "_"):
        start -= 1
    return line[start:end]


_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(?P<lead>.*)$")


def _lead_in(before: str) -> str:
    """Words that a highlight completes, which the term needs to mean anything.

    ``- Virtual machine ==manager==`` highlights the word that differs between
    list items, but the term is ``Virtual machine manager``: without its lead-in,
    ``virtual memory manager`` would earn it. Only a list item's opening words
    (one or two content words, no punctuation) are taken.
    """
    item = _LIST_ITEM.match(before)
    if not item or not item["lead"].strip() or re.search(r"[^\w\s-]", item["lead"]):
        return ""
    words = item["lead"].split()
    content = [w for w in words if tokenize(w) and tokenize(w)[0].word not in STOPWORDS]
    return item["lead"] if len(words) <= 3 and 1 <= len(content) <= 2 else ""


def _unclosed(lines: list[str], open_at: tuple[int, int], first_line: int, findings: list[Finding]) -> str:
    idx, offset = open_at
    findings.append(Finding(first_line + idx, "highlight opened with == is never closed"))
    return lines[idx][offset:]


def _build_cards(
    raw: list[tuple[int, str, str, list[str], list[str]]], findings: list[Finding]
) -> list[Card]:
    """Cards with ids, key terms (highlighted or derived) and lint findings."""
    doc_freq, n_docs = document_frequencies(clean_markdown(body) for _, _, body, _, _ in raw)
    seen_ids: dict[str, int] = {}
    seen_questions: dict[str, int] = {}
    cards = []
    for number, (line, question, answer, images, highlights) in enumerate(raw, start=1):
        norm_q = normalize(question)
        if not norm_q:
            findings.append(Finding(line, "card has an empty question"))
        elif norm_q in seen_questions:
            findings.append(Finding(line, f"duplicate question (same as the card at line {seen_questions[norm_q]})"))
        else:
            seen_questions[norm_q] = line
        terms = _terms(highlights)
        answer_text = _answer_text(answer)
        if images and _is_side_note(answer_text):
            answer_text = ""
        if not terms and answer_text:
            terms = derive_key_terms(answer, doc_freq, n_docs, question)
            findings.append(Finding(line, "card has no highlighted key terms; grading uses terms derived from the answer"))
        elif not terms:
            what = "only an image (and a note)" if images else "empty"
            findings.append(Finding(line, f"card answer is {what}: it can only be self-graded"))
        cards.append(
            Card(
                id=_unique_id(card_id(question), seen_ids),
                number=number,
                question=question,
                answer=answer,
                key_terms=terms,
                images=images,
                line=line,
            )
        )
    return cards


def _terms(highlights: list[str]) -> list[KeyTerm]:
    """Key terms from highlights, deduplicated in order."""
    terms: dict[str, KeyTerm] = {}
    for raw in highlights:
        term = parse_term(clean_term(raw))
        if term is not None:
            terms.setdefault(normalize(term.text), term)
    return list(terms.values())


def _answer_text(answer: str) -> str:
    """The words of an answer once images, links and markup are gone."""
    without_images = _IMAGE.sub(" ", answer)
    return clean_markdown(without_images).strip(" \\-*")


def _is_side_note(text: str) -> bool:
    """Text beside an image that is a remark on it, not an answer to grade."""
    return len(text.split()) < 8 or bool(re.match(r"(?i)(note|see|nb|n\.b\.|source)\b", text))


def card_id(question: str) -> str:
    """Stable id of a card: a hash of its normalised question.

    It survives edits to the answer, whitespace, case and punctuation. Two cards
    with the same question get ``-2``, ``-3``, ... in deck order.
    """
    return hashlib.sha1(normalize(question).encode()).hexdigest()[:10]


def _unique_id(base: str, seen: dict[str, int]) -> str:
    seen[base] = seen.get(base, 0) + 1
    return base if seen[base] == 1 else f"{base}-{seen[base]}"


# --- Plain YAML / JSON decks ----------------------------------------------------


def parse_plain(text: str, path: str, suffix: str) -> ParsedDeck:
    """Cards of a YAML or JSON deck (see ``PlainDeck``)."""
    try:
        data = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise DeckError(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DeckError(f"invalid YAML: {getattr(exc, 'problem', exc)}", path=path, line=mark.line + 1 if mark else None) from None
    except RecursionError:  # both parsers recurse per level: "[[[[..." exhausts the stack
        raise DeckError("nested too deeply to be a deck", path=path) from None
    if isinstance(data, list):
        data = {"cards": data}
    try:
        plain = PlainDeck.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise DeckError(f"{where}: {err['msg']}", path=path, line=_plain_line(text, err["loc"])) from None
    lines = _plain_card_lines(text, len(plain.cards))
    raw = []
    for i, card in enumerate(plain.cards):
        highlights = card.key_terms if card.key_terms is not None else _highlights(card.answer, lines[i], [])
        raw.append((lines[i], clean_markdown(card.question), card.answer.strip(), _image_paths(card.answer), highlights))
    findings: list[Finding] = []
    title = plain.title or Path(path).stem
    return ParsedDeck(Deck(path=path, title=title, cards=_build_cards(raw, findings)), findings)


def _image_paths(text: str) -> list[str]:
    return [next(g for g in m.groups() if g) for m in _IMAGE.finditer(text)]


def _plain_card_lines(text: str, count: int) -> list[int]:
    """Best-effort line of each card in a plain deck (where its question key is)."""
    lines = [i for i, ln in enumerate(text.split("\n"), start=1) if re.search(r"[\"']?question[\"']?\s*:", ln)]
    return (lines + [1] * count)[:count]


def _plain_line(text: str, loc: tuple) -> int | None:
    if len(loc) >= 2 and loc[0] == "cards" and isinstance(loc[1], int):
        lines = _plain_card_lines(text, loc[1] + 1)
        return lines[loc[1]]
    return None


# --- Loading ----------------------------------------------------------------------


def parse_deck(path: str | Path) -> ParsedDeck:
    """Read and parse one deck file; raise DeckError if it has no cards."""
    path = Path(path)
    text = read_text(path, what="deck", error=DeckError)
    suffix = path.suffix.lower()
    parsed = parse_plain(text, str(path), suffix) if suffix in PLAIN_SUFFIXES else parse_markdown(text, str(path))
    if not parsed.deck.cards:
        hint = "no <details> blocks found" if suffix not in PLAIN_SUFFIXES else "the cards list is empty"
        raise DeckError(f"deck has no cards ({hint})", path=path, line=1)
    return parsed


def load_deck(path: str | Path) -> Deck:
    """Read one deck file."""
    return parse_deck(path).deck


def find_decks(paths: list[str | Path]) -> list[Path]:
    """Deck files named directly, or found recursively in the folders named.

    Inside a folder, a markdown file counts as a deck only if it has a
    ``<details>`` block outside code, so a notes vault can be pointed at whole.
    """
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                hidden = any(part.startswith(".") for part in f.relative_to(p).parts)
                if f.suffix.lower() in DECK_SUFFIXES and f.is_file() and not hidden:
                    if f.suffix.lower() in MARKDOWN_SUFFIXES and not _looks_like_deck(f):
                        continue
                    found.append(f)
        else:
            found.append(p)
    if not found:
        raise DeckError("no decks found (looked for .md files with <details> blocks, .yaml and .json)", path=", ".join(map(str, paths)))
    return found


def _looks_like_deck(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            head = fh.read(2_000_000)
    except OSError:
        return False
    # A README that shows the format in code is not a deck.
    return b"<details" in head.lower() and bool(_DETAILS_OPEN.search(_without_code(head.decode("utf-8", "replace"))))


def bundled_deck_dir() -> Path:
    """Where the bundled decks are: the repository's ``decks/`` or the installed copy."""
    found = bundled("decks")
    if found is None:
        raise DeckError("the bundled decks are missing from this installation", path=missing("decks"))
    return found
