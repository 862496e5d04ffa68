"""Reading decks: the markdown ``<details>`` format here, other formats in ``formats/``.

Parsing is pure (text in, cards and findings out); ``parse_deck`` and
``load_decks`` are the I/O edge, choosing the format by extension and content.
The markdown format is read as its author writes it, not as a strict grammar:
see ``tests/test_decks.py`` for every variation the corpus holds. Every format
builds its cards with ``cardtext.build_cards``, so ids and key terms are made one way.
"""

from __future__ import annotations

import bisect
import codecs
import gc
import io
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from .cardtext import DeckSchemaError, Finding, ParsedDeck, build_cards, highlights, image_paths, in_language, question_image_paths, without_code
from .errors import DeckError
from .files import STDIN, decode_text, is_stream, read_stream, read_text, shown_name, untitled
from .keyterms import clean_markdown
from .models import Deck
from .resources import bundled, missing

MARKDOWN_SUFFIXES = {".md", ".markdown"}
PLAIN_SUFFIXES = {".yaml", ".yml", ".json"}
ANKI_SUFFIXES = {".apkg", ".colpkg"}
TEXT_SUFFIXES = {".txt", ".tsv"}  # Anki's plain-text export
SPREADSHEET_SUFFIXES = {".csv"}
DECK_SUFFIXES = MARKDOWN_SUFFIXES | PLAIN_SUFFIXES | ANKI_SUFFIXES | TEXT_SUFFIXES | SPREADSHEET_SUFFIXES
# Found in a folder, a file of these is a deck only if it looks like one (``_looks_like_deck``).
TOLD_BY_CONTENT = MARKDOWN_SUFFIXES | TEXT_SUFFIXES | SPREADSHEET_SUFFIXES


# --- Markdown decks -----------------------------------------------------------

# Every pattern here runs in time linear in the deck (as ``cardtext``'s do): a tag is found by its name, and it
# runs to the next ">", found with str.find, so no stretch of text is rescanned from many starts.
_DETAILS_OPEN = re.compile(r"<details\b", re.IGNORECASE)
_DETAILS_CLOSE = re.compile(r"</details\s*>", re.IGNORECASE)
_SUMMARY_OPEN = re.compile(r"<summary\b", re.IGNORECASE)
_SUMMARY_CLOSE = re.compile(r"</summary\s*>", re.IGNORECASE)
_TITLE = re.compile(r"^#\s+(.+)$", re.MULTILINE)


def parse_markdown(text: str, path: str = "<deck>") -> ParsedDeck:
    """Cards of a markdown deck: one per ``<details>`` block outside code, in order.

    A ``<details>`` inside a card's answer (a hint, a spoiler) is part of that answer. A card never closed ends
    where the next ``<details>`` starts, so a forgotten ``</details>`` loses no card but its own end (lint says so).
    """
    findings: list[Finding] = []
    structure = without_code(text)  # same offsets as text; where cards are looked for
    line_starts = [0, *(m.end() for m in re.finditer("\n", text))]

    def line_of(offset: int) -> int:
        return bisect.bisect_right(line_starts, offset)

    raw_cards = []
    for start, end, block_end, closed, inner in _card_blocks(structure):
        line = line_of(start)
        if not closed:
            findings.append(Finding(line, "<details> is never closed with </details>"))
        summary = _summary(structure, end, inner)  # not a nested block's
        if summary is None:
            opened = _SUMMARY_OPEN.search(structure, end, inner)  # written, but never closed: not "no <summary>"
            problem = "<summary> is never closed with </summary>" if opened else "card has no <summary>"
            findings.append(Finding(line, f"{problem}: its question is empty"))
            question_md, body_start = "", end
        else:
            question_md, body_start = text[summary[0] : summary[1]], summary[2]
        body = text[body_start:block_end]
        shown = _without_nested_tags(body, structure[body_start:block_end]) if inner < block_end else body
        raw_cards.append((line, clean_markdown(question_md), question_image_paths(question_md), body, shown, line_of(body_start)))

    cards = build_cards(
        [
            (line, question, *_read_body(body, shown, body_line, findings), question_images)
            for line, question, question_images, body, shown, body_line in raw_cards
        ],
        findings,
    )
    title_match = _TITLE.search(text)
    title = clean_markdown(title_match.group(1)) if title_match else untitled(path)
    return ParsedDeck(Deck(path=path, title=title, cards=cards), sorted(findings, key=lambda f: f.line))


def _card_blocks(text: str) -> list[tuple[int, int, int, bool, int]]:
    """The ``<details>`` blocks that are cards, in order: where each starts, where its opening tag ends, where it
    ends, whether ``</details>`` closed it, and where the first block nested in it starts (its end if none).

    Tags pair up as HTML nests them. A block left open at the end of the text ends at the next opening tag, and
    the blocks it would hold are cards: one missing ``</details>`` must not swallow the rest of the deck.
    """
    opens = _details_tags(text)
    tags = sorted([(start, i) for i, (start, _) in enumerate(opens)] + [(m.start(), -1) for m in _DETAILS_CLOSE.finditer(text)])
    # A block: [index of its opening tag, where its </details> starts (None while open), the blocks inside it].
    top: list[list] = []
    stack: list[list] = []
    tag_end = 0
    for pos, i in tags:
        if i >= 0:
            block: list = [i, None, []]
            (stack[-1][2] if stack else top).append(block)
            stack.append(block)
            tag_end = opens[i][1]
        elif stack and pos >= tag_end:  # a "</details>" inside an opening tag is not a tag
            stack.pop()[1] = pos
    blocks = []
    todo = top[::-1]
    while todo:  # in document order, without recursion: a hostile deck nests thousands deep
        i, close, inner = todo.pop()
        start, end = opens[i]
        if close is None:
            block_end = opens[i + 1][0] if i + 1 < len(opens) else len(text)
            blocks.append((start, end, block_end, False, block_end))
            todo.extend(inner[::-1])
        else:
            blocks.append((start, end, close, True, opens[inner[0][0]][0] if inner else close))
    return blocks


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


def _read_body(body: str, shown: str, first_line: int, findings: list[Finding]) -> tuple[str, list[str], list[str]]:
    """The display answer (from ``shown``, the body without nested blocks' tags), its image paths and its highlighted terms."""
    images = image_paths(body)
    terms = highlights(body, first_line, findings)
    return _display_answer(shown), images, terms


# A block nested in an answer is shown open: its tags go, its summary stays as a line of the answer.
_NESTED_TAG = re.compile(r"</?(?:details|summary)\b[^<>]*>", re.IGNORECASE)


def _without_nested_tags(body: str, structure: str) -> str:
    """The body without the ``<details>`` and ``<summary>`` tags outside code (found in ``structure``, code blanked)."""
    parts, start = [], 0
    for m in _NESTED_TAG.finditer(structure):
        parts.append(body[start : m.start()])
        start = m.end()
    parts.append(body[start:])
    return "".join(parts)


def _display_answer(body: str) -> str:
    """The answer as markdown, dedented, with the author's ``\\`` line breaks dropped."""
    if "\t" in body:  # tab stops count from each line's start, as they do line by line
        body = body.expandtabs(4)
    lines = [ln.rstrip() for ln in body.split("\n")]
    if "\\" in body:
        lines = [ln[:-1].rstrip() if ln.endswith("\\") else ln for ln in lines]
    cut = min([len(ln) - len(ln.lstrip()) for ln in lines if ln], default=0)  # blank lines are empty by now
    text = "\n".join([ln[cut:] for ln in lines]) if cut else "\n".join(lines)
    return _BLANK_LINES.sub("\n\n", text).strip() if "\n\n\n" in text else text.strip()


_BLANK_LINES = re.compile(r"\n{3,}")


# --- Loading ----------------------------------------------------------------------


def parse_deck(path: str | Path) -> ParsedDeck:
    """Read and parse one deck file, in whichever format it is; raise DeckError if it has no cards.

    Lint findings include the images a card shows that are not where the deck says. A pipe, or ``-`` (standard
    input), is read once (``is_piped``).
    """
    path = Path(path)
    if is_piped(path):
        return _parse_piped(path)
    suffix = path.suffix.lower()
    if suffix in ANKI_SUFFIXES:
        from .formats.anki import parse_package

        return _checked(lambda: parse_package(path), suffix, path, images=True)
    return _checked(lambda: parse_text(read_text(path, what="deck", error=DeckError), str(path)), suffix, path, images=True)


def _checked(parse: Callable[[], ParsedDeck], suffix: str, path: str | Path, *, images: bool) -> ParsedDeck:
    """A deck parsed (``_cycle_collector_paused``), refused if it has no cards, and read in its language: what a file and
    a pipe share. With ``images``, its findings include the images that are missing (a pipe has no folder to look in)."""
    with _cycle_collector_paused():
        parsed = parse()
        if not parsed.deck.cards:
            raise DeckError(f"deck has no cards ({_NO_CARDS_HINT.get(suffix, _NO_CARDS_HINT['.md'])})", path=path, line=1)
        if images:
            parsed.findings[:] = sorted([*parsed.findings, *_missing_images(parsed.deck)], key=lambda f: f.line)
        parsed.deck = in_its_language(parsed.deck)
    return parsed


def is_piped(path: str | Path) -> bool:
    """Whether a deck so named is read once from a pipe (``<(cat deck.md)``, a FIFO) or standard input (``-``) rather
    than from a file: it has no file that practice could keep its history by, nor a folder its images are in."""
    return str(path) == STDIN or is_stream(path)


def _parse_piped(path: Path) -> ParsedDeck:
    """A deck from a pipe or standard input, read once, to its end; its format from its name's extension, if it has
    one (``mkfifo deck.yaml``), else from its text (``sniffed_suffix``). Its images are not looked for: there is no
    folder to look in."""
    name = shown_name(path)
    data = _piped_bytes(path, name)
    if data.startswith(b"PK\x03\x04"):
        raise DeckError("an Anki package cannot be read from a pipe (its images are read from the file later): give the file", path=name)
    text = decode_text(data, name, what="deck", error=DeckError)
    suffix = Path(name).suffix.lower()
    if suffix not in DECK_SUFFIXES:
        suffix = sniffed_suffix(text)
    return _checked(lambda: parse_text(text, name, suffix=suffix), suffix, name, images=False)


def _piped_bytes(path: Path, name: str) -> bytes:
    """What the pipe or standard input gives, read once (``files.read_stream``)."""
    import sys

    if str(path) == STDIN:
        source = getattr(sys.stdin, "buffer", None)
        if source is None:  # a text-only stream (some embedders')
            source = io.BytesIO(sys.stdin.read().encode("utf-8"))
        return read_stream(source, name, what="deck", error=DeckError)
    try:
        with path.open("rb") as pipe:  # a FIFO waits here for its writer, as `cat` would
            return read_stream(pipe, name, what="deck", error=DeckError)
    except OSError as exc:  # opening it (reading it says its own)
        raise DeckError(f"cannot read deck: {exc.strerror or exc}", path=name) from None


_JSON_START = re.compile(r"\{|\[\s*[\[{\"\]]")
_YAML_DECK = re.compile(r"^(?:cards\s*:|-\s+question\s*:)", re.MULTILINE)


def sniffed_suffix(text: str) -> str:
    """The extension a deck read from a pipe would have, told by its text: JSON by its first character, Anki's text
    export by its headers, YAML by a ``cards:`` key or a list of ``- question:``, a CSV by a header naming only a
    deck's columns (``question,answer``), and else Markdown (with Obsidian's and Logseq's flashcards)."""
    from .formats.spreadsheet import looks_like_spreadsheet_deck

    if _JSON_START.match(text.lstrip()):
        return ".json"
    if _has_anki_headers(text):
        return ".txt"
    if _DETAILS_OPEN.search(text) is None:
        if _YAML_DECK.search(text):
            return ".yaml"
        if looks_like_spreadsheet_deck(text):
            return ".csv"
    return ".md"


def in_its_language(deck: Deck) -> Deck:
    """The deck with each card in the language it says it is in or, if it says none, that its words show
    (``language.infer_language``), terms derived from its answers derived in it (``cardtext.in_language``); an
    English deck's cards are left as they are."""
    from .language import infer_language

    language = deck.language or infer_language(text for c in deck.cards for text in (c.question, c.answer, *(t.text for t in c.key_terms)))
    if language == "english":
        return deck
    return deck.model_copy(update={"cards": in_language(deck.cards, language)})


@contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector while a deck is built: a deck's objects hold no cycles, and on a 20,000-card
    deck the collector's repeated passes over half a million of them cost a third of the parse.

    Afterwards the objects are moved to the oldest generation as they are (``freeze`` then ``unfreeze``): left in
    the youngest, the first collection after the pause would walk them all, a fifth of the parse again. Not done
    when the program has frozen objects of its own (before a fork), which ``unfreeze`` would let go.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        if was_enabled:
            gc.enable()


_NO_CARDS_HINT = {
    **dict.fromkeys(PLAIN_SUFFIXES, "the cards list is empty"),
    **dict.fromkeys(TEXT_SUFFIXES | SPREADSHEET_SUFFIXES, "no rows with a question and an answer"),
    **dict.fromkeys(ANKI_SUFFIXES, "the collection has no cards"),
    ".md": "no <details> blocks found, and no Obsidian or Logseq flashcards",
}


def parse_text(text: str, path: str, *, suffix: str | None = None) -> ParsedDeck:
    """A deck file's text, parsed by the format its extension (else ``suffix``, for a pipe) and content say."""
    suffix = Path(path).suffix.lower() if suffix is None else suffix
    if suffix in PLAIN_SUFFIXES:
        from .formats.plain import parse_plain

        return parse_plain(text, path, suffix)
    if suffix in TEXT_SUFFIXES or (suffix in SPREADSHEET_SUFFIXES and _has_anki_headers(text)):
        from .formats.anki_text import parse_anki_text

        return parse_anki_text(text, path)
    if suffix in SPREADSHEET_SUFFIXES:
        from .formats.spreadsheet import parse_spreadsheet

        return parse_spreadsheet(text, path)
    parsed = parse_markdown(text, path)
    if not parsed.deck.cards:
        from .formats.obsidian import parse_obsidian

        parsed = parse_obsidian(text, path)
    if not parsed.deck.cards:
        from .formats.logseq import parse_logseq

        parsed = parse_logseq(text, path)
    if text.startswith("---"):
        parsed.deck = parsed.deck.model_copy(update={"language": _declared_language(text, path)})
    return parsed


def _declared_language(text: str, path: str) -> str | None:
    """The language a markdown deck's YAML front matter says (``language: german``, as Snowball names it), if any."""
    from .formats.obsidian import frontmatter
    from .language import declared_language

    front, _ = frontmatter(text)
    return declared_language(front, path, first_line=2)  # the front matter starts on the second line


def _missing_images(deck: Deck) -> list[Finding]:
    """One finding per missing image of a card, however often the card shows it."""
    from .images import card_images, question_images

    findings = (
        Finding(card.line, f"image not found: {image.written}" + (f" (looked in {image.path})" if image.path else ""))
        for card in deck.cards
        for image in (*question_images(deck, card, extract=False), *card_images(deck, card, extract=False))
        if image.missing
    )
    return list(dict.fromkeys(findings))


def load_deck(path: str | Path) -> Deck:
    """Read one deck file."""
    return parse_deck(path).deck


def load_decks(paths: Sequence[str | Path], *, warn: Callable[[DeckError], None]) -> list[Deck]:
    """The decks named, and those found in the folders named.

    A file named directly must be a good deck (its error is raised). A file
    found inside a folder that turns out not to be one (a ``config.yml``
    with a syntax error, an unreadable note) is passed to ``warn`` and left out,
    so one bad file does not stop a whole notes folder; if nothing is left, the
    first error is raised (and not also warned of: it was said twice). So is a ``.csv`` found there that answers
    another deck (``answers_files``), or asks the same questions as another ``.csv`` found (``twin_files``).
    """
    read: list[tuple[Deck, bool]] = []
    errors = []
    warnings: list[DeckError] = []  # said once the outcome is known, so the error raised is not said as a warning too
    for path, named in deck_files(paths):
        try:
            read.append((load_deck(path), named))
        except DeckError as exc:
            if named:
                raise
            errors.append(exc)
            warnings.append(exc)
    answers = answers_files(read)
    for deck, owner in answers.items():
        warnings.append(DeckError(f"answers to {owner}, not a deck: each of its questions is a card there; name the file to read it as a deck", path=deck))
    twins = twin_files(read, answers)
    for deck, others in twins.items():
        error = DeckError(_twins_message(others), path=deck)
        warnings.append(error)
        errors.append(error)  # raised if no deck is left: the folder held nothing that could be told a deck
    decks = [deck for deck, _ in read if deck.path not in answers and deck.path not in twins]
    raised = errors[0] if not decks and errors else None
    for warning in warnings:
        if warning is not raised:
            warn(warning)
    if raised is not None:
        raise raised
    return decks


def answers_files(decks: Sequence[tuple[Deck, bool]]) -> dict[str, str]:
    """The ``.csv`` files found in a folder that are answers to another deck read with them, not decks: each one's
    path, with that deck's.

    An answers file may name its cards by ``question`` (``question,answer``), which is a deck's header too, so
    only its rows tell it apart: each asks a question of the deck it answers. A ``.csv`` found in a folder whose
    questions are all cards of another deck is left out, which loses no card. Two or more that ask the same
    questions, and no other deck does, are none of them answers to another deck read (``twin_files``); a file
    named is always a deck.
    """
    questions, found = _questions_asked(decks)
    answers = {}
    for i, (deck, _) in enumerate(decks):
        if not found[i]:
            continue
        owners = (j for j in sorted(range(len(decks)), key=found.__getitem__) if j != i)  # a deck of another format first
        owner = next((j for j in owners if questions[i] <= questions[j] and not (found[j] and questions[j] <= questions[i])), None)
        if owner is not None:
            answers[deck.path] = decks[owner][0].path
    return answers


def twin_files(decks: Sequence[tuple[Deck, bool]], answers: Mapping[str, str]) -> dict[str, list[str]]:
    """The ``.csv`` files found in a folder that ask the same questions as others found, which no deck read with
    them asks (``answers`` are those it does): each one's path, with the others'.

    Those cannot be told apart: one is the deck and the rest answers to it (one student's ``question,answer``
    file, or a copy of the deck), and nothing says which. Reading them all asked the students' answers as cards;
    guessing by name or order would as often keep the answers. So none is read as a deck, each with a warning
    that names the others (``lint`` reports them), and naming the deck's file reads it, as any file named.
    """
    questions, found = _questions_asked(decks)
    asking: dict[frozenset[str], list[str]] = {}  # the questions -> the files found that ask just those, in order
    for i, (deck, _) in enumerate(decks):
        if found[i] and deck.path not in answers:
            asking.setdefault(frozenset(questions[i]), []).append(deck.path)
    return {path: [other for other in paths if other != path] for paths in asking.values() if len(paths) > 1 for path in paths}


def _questions_asked(decks: Sequence[tuple[Deck, bool]]) -> tuple[list[set[str]], list[bool]]:
    """Each deck's questions (its card ids without their "-2", a question asked twice), and whether it is a ``.csv``
    found in a folder (not named)."""
    questions = [{card.id.partition("-")[0] for card in deck.cards} for deck, _ in decks]
    found = [not named and Path(deck.path).suffix.lower() in SPREADSHEET_SUFFIXES for deck, named in decks]
    return questions, found


def _twins_message(others: list[str]) -> str:
    return (
        f"asks the same questions as {' and '.join(others)}: one is the deck and the rest answers to it, and nothing "
        "says which, so none is read as a deck (name the deck's file to read it)"
    )


def lint_files(paths: Sequence[str | Path]) -> Iterator[str]:
    """Every problem of every deck named or found, as ``file:line: message`` lines (``grader lint``).

    A file that is not a deck at all is one line; a YAML deck with several
    schema errors gives each. A ``<details>`` nested in an answer is part of it and no problem; a card's missing
    ``</details>`` is (see ``parse_markdown``).
    """
    read: list[tuple[Path, ParsedDeck | list[Finding] | DeckError, bool]] = []
    for path, named in deck_files(paths):
        try:
            read.append((path, parse_deck(path), named))
        except DeckSchemaError as exc:
            read.append((path, exc.problems, named))
        except DeckError as exc:
            read.append((path, exc, named))
    parsed_decks = [(parsed.deck, named) for _, parsed, named in read if isinstance(parsed, ParsedDeck)]
    answers = answers_files(parsed_decks)
    twins = twin_files(parsed_decks, answers)
    for path, parsed, _ in read:
        path = Path(shown_name(path))
        if isinstance(parsed, DeckError):
            yield str(parsed)
        elif isinstance(parsed, ParsedDeck) and parsed.deck.path in answers:
            continue  # not a deck, so nothing a deck author fixes
        elif isinstance(parsed, ParsedDeck) and parsed.deck.path in twins:
            yield str(DeckError(_twins_message(twins[parsed.deck.path]), path=path))  # which is the deck: the author's to say
        else:
            for finding in parsed.findings if isinstance(parsed, ParsedDeck) else parsed:
                yield f"{path}:{finding.line}: {finding.message}"


def find_decks(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Deck files named directly, or found recursively in the folders named (see ``deck_files``); one path or many."""
    return [path for path, _ in deck_files(paths)]


def deck_files(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[tuple[Path, bool]]:
    """Deck files, each with whether it was named directly (True) or found in a folder.

    Inside a folder, a file counts as a deck only if it looks like one, so a
    notes vault can be pointed at whole: a markdown file with a ``<details>``
    block outside code, an Obsidian ``#flashcards`` tag or a Logseq ``#card`` block, a ``.txt`` file with
    Anki's export headers, a ``.csv`` whose header names only a deck's columns
    (``question,answer``: never an answers file's ``student`` or ``card``), and
    every YAML, JSON and Anki package.
    """
    if isinstance(paths, (str, os.PathLike)):  # one path, not a sequence of its letters ("notes" as n, o, t, e, s)
        paths = [paths]
    found: list[tuple[Path, bool]] = []
    for p in map(Path, paths):
        if os.path.isdir(p):  # never raises: a path that cannot be looked at is reported when it is read as a deck
            for f in sorted(p.rglob("*")):
                hidden = any(part.startswith(".") for part in f.relative_to(p).parts)
                suffix = f.suffix.lower()
                if suffix in DECK_SUFFIXES and f.is_file() and not hidden:
                    if suffix in TOLD_BY_CONTENT and not _looks_like_deck(f):
                        continue
                    found.append((f, False))
        else:
            found.append((p, True))
    if not found:
        raise DeckError(
            "no decks found (looked for .md files with <details> blocks, #flashcards tags or #card blocks, .yaml, .json, .apkg, .colpkg,"
            " Anki .txt exports and .csv files with a question,answer header)",
            path=", ".join(map(str, paths)),
        )
    return found


def _looks_like_deck(path: Path) -> bool:
    """Whether a markdown, text or CSV file found in a folder is a deck; an unreadable one is tried, so its error is told."""
    try:
        with path.open("rb") as fh:
            head = fh.read(2_000_000)
    except OSError:
        return True
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # A deck saved as UTF-16 (Notepad's "Unicode") is found, so reading it says so, not skipped unsaid.
        head = head.decode("utf-16", "replace").encode("utf-8")
    if path.suffix.lower() in TEXT_SUFFIXES | SPREADSHEET_SUFFIXES:
        from .formats.spreadsheet import looks_like_spreadsheet_deck

        text = head.decode("utf-8", "replace")
        # Anki imports a .csv with its export's headers too.
        return _has_anki_headers(text) or (path.suffix.lower() in SPREADSHEET_SUFFIXES and looks_like_spreadsheet_deck(text))
    lowered = head.lower()
    if not any(mark in lowered for mark in (b"<details", b"#flashcards", b"#card", b"[[card]]")):
        return False
    # A README that shows the format in code is not a deck.
    text = without_code(head.decode("utf-8", "replace"))
    if _DETAILS_OPEN.search(text):
        return True
    from .formats.logseq import has_card_tag
    from .formats.obsidian import has_flashcards_tag

    return has_flashcards_tag(text) or has_card_tag(text)


def _has_anki_headers(text: str) -> bool:
    """Whether a text or CSV file starts with the headers of Anki's text export (``#separator:``...)."""
    from .formats.anki_text import looks_like_anki_text

    return looks_like_anki_text(text)


def bundled_deck_dir() -> Path:
    """Where the bundled decks are: the repository's ``decks/`` or the installed copy."""
    found = bundled("decks")
    if found is None:
        raise DeckError("the bundled decks are missing from this installation", path=missing("decks"))
    return found


BUNDLED_DECK = "virtualization.md"


def bundled_deck() -> Path:
    """The deck grader ships (the seed sets are graded against it): what a command with no deck given reads."""
    return bundled_deck_dir() / BUNDLED_DECK
