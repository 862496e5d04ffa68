"""A card's text as every deck format reads it: highlighted terms, images, code and the ``<!-- any N -->``
count, and the cards built from them, with what a reader reports to the deck's author.

The markdown ``<details>`` format (``decks.py``) and every reader in ``formats/``
hand their raw cards to ``build_cards``, so ids, key terms and the checks on
them are made one way. Pure functions: text in, cards and findings out.

Every pattern here runs in time linear in the text: a scan stops where another
match could start ("[" in alt text, "]" in a destination), so no stretch of
text is rescanned from many starts.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .errors import DeckError
from .keyterms import clean_markdown, derive_key_terms, document_frequencies, parse_terms
from .models import Card, Deck, KeyTerm, ReferenceAnswer
from .normalize import STOPWORDS, id_text, is_spaceless, normalize, stemming_in, tokenize


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


class DeckSchemaError(DeckError):
    """A deck file whose structure is wrong in several places: every problem is kept, for ``lint``."""

    def __init__(self, problems: list[Finding], *, path: str | Path):
        first = problems[0]
        more = f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''}: see grader lint)" if len(problems) > 1 else ""
        super().__init__(first.message + more, path=path, line=first.line)
        self.problems = problems


_DESTINATION = r"\(\s*<?([^)\]\s>]+)(?![^)\]\s>])>?[^)\]]*\)"  # (path "title"); the path never gives back
_IMAGE = re.compile(
    r"!\[[^\[\]]*\]" + _DESTINATION  # ![alt](path)
    + r"|(?<!!)\[\]" + _DESTINATION  # [](path), the author's frequent slip
    + r"|<img\b[^<>]*\bsrc=[\"']([^\"']+)[\"']"  # <img src="path">
    r"|!\[\[([^\[\]|]+)(?:\|[^\[\]]*)?\]\]",  # ![[embed.png]] (Obsidian)
    re.IGNORECASE,
)
_HIGHLIGHT_MARK = re.compile(r"={2,3}")
_FENCE = re.compile(r"^[ \t>]*(`{3,}|~{3,})(.*)$", re.MULTILINE)
_BACKTICKS = re.compile(r"`+")
_BLANK_LINE = re.compile(r"^[ \t]*$", re.MULTILINE)
_NOT_NEWLINE = re.compile(r"[^\n]")


def without_code(text: str) -> str:
    """The text with fenced and inline code blanked out, at the same offsets.

    A ``<details>`` shown in code is an example, not a card. A fence never
    closed is left as text: taking the rest of the deck for code would hide its cards.
    """
    text = _blank(text, fenced_blocks(text))
    return _blank(text, _inline_code(text))


def fenced_blocks(text: str) -> list[tuple[int, int]]:
    """Spans of ``` and ~~~ blocks, fence lines included, at any indent (cards sit in list items)."""
    if "```" not in text and "~~~" not in text:  # most decks: no need to look at every line
        return []
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
    if "`" not in text:  # most decks: a search for the character is many times faster than the pattern's scan
        return []
    runs = [m.span() for m in _BACKTICKS.finditer(text)]
    if not runs:
        return []
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


_DOLLARS = re.compile(r"\$+")


def without_code_or_math(text: str) -> str:
    """The text with code and math blanked out, at the same offsets: where highlight marks are looked for.

    In math ``==`` is an operator (``$a == b$``), as it is in code. Math is what pandoc reads as math: ``$$...$$``,
    and ``$...$`` whose opening ``$`` is not followed by a space and whose closing one is neither preceded by a space
    nor followed by a digit, in one paragraph; a ``\\$`` is a dollar. So money stays text: ``$5 == cheap, $10``.
    """
    text = without_code(text)
    return _blank(text, _math(text)) if "$" in text else text


def _math(text: str) -> list[tuple[int, int]]:
    """Spans of ``$$`` display and ``$`` inline math (see ``without_code_or_math``); linear but for a bisection per span."""
    runs = []  # (start, end) of each unescaped run of one or two dollars
    for m in _DOLLARS.finditer(text):
        backslashes = 0
        while m.start() - backslashes > 0 and text[m.start() - backslashes - 1] == "\\":
            backslashes += 1
        if m.end() - m.start() <= 2 and backslashes % 2 == 0:
            runs.append(m.span())
    if not runs:
        return []
    blank_lines = [m.start() for m in _BLANK_LINE.finditer(text)]

    def closer(start: int, end: int) -> bool:
        return end - start == 1 and not text[start - 1].isspace() and not (end < len(text) and text[end].isdigit())

    # For each run, the next run after it that could close it: the next "$$" for a "$$", the next closing "$" for a "$".
    next_double: list[int | None] = [None] * len(runs)
    next_closer: list[int | None] = [None] * len(runs)
    double = close = None
    for i in range(len(runs) - 1, -1, -1):
        next_double[i], next_closer[i] = double, close
        start, end = runs[i]
        if end - start == 2:
            double = i
        elif start > 0 and closer(start, end):
            close = i
    spans = []
    i = 0
    while i < len(runs):
        start, end = runs[i]
        if end - start == 2:
            j = next_double[i]
        else:
            j = next_closer[i] if end < len(text) and not text[end].isspace() else None
        if j is not None and bisect.bisect_right(blank_lines, start) == bisect.bisect_right(blank_lines, runs[j][0]):
            spans.append((start, runs[j][1]))
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


def highlights(body: str, first_line: int, findings: list[Finding]) -> list[str]:
    """Highlighted spans of a card body.

    Marks pair up within a line; a line left with an odd mark carries it to the
    next line of the same paragraph that also has an odd count (a highlight that
    wraps). A mark nothing closes highlights to the end of its line, and is
    reported. ``===`` is read as ``==`` (the extra ``=`` is a typo). A mark in
    the middle of a word (``t==he``) widens to the whole word, but not one after a character of a script written
    without spaces (``在==虚拟机==上``), where what comes before is the rest of a clause, as markdown renderers read it. Marks are looked for outside code and math, where
    ``==`` is an operator (``a == b``, ``$a == b$``); a highlight may hold code or math.
    """
    lines = body.split("\n")
    outside_code = without_code_or_math(body).split("\n") if "==" in body else lines
    terms: list[str] = []
    open_at: tuple[int, int] | None = None  # (line index, offset just after the mark)
    for idx, line in enumerate(lines):
        marked = outside_code[idx]
        if open_at is None and "==" not in marked:  # most lines: nothing highlighted, nothing open
            continue
        marks = list(_HIGHLIGHT_MARK.finditer(marked)) if "==" in marked else []
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
            if is_spaceless(line[a.start() - 1 : a.start()]):  # 在==虚拟机==: no word to widen to, a clause runs on
                lead = ""
            else:
                lead = _word_before(line, a.start())  # t==he features==  ->  "the features"
                if not lead and n == 0 and "==" not in marked[: a.start()]:
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
_NOT_LEAD_IN = re.compile(r"[^\w\s-]")  # punctuation: a sentence, not a few opening words


def _lead_in(before: str) -> str:
    """Words that a highlight completes, which the term needs to mean anything.

    ``- Virtual machine ==manager==`` highlights the word that differs between
    list items, but the term is ``Virtual machine manager``: without its lead-in,
    ``virtual memory manager`` would earn it. Only a list item's opening words
    (one or two content words, no punctuation) are taken.
    """
    item = _LIST_ITEM.match(before)
    if not item or _NOT_LEAD_IN.search(item["lead"]):
        return ""
    words = item["lead"].split()
    if not 1 <= len(words) <= 3:
        return ""
    return item["lead"] if 1 <= sum(map(_opens_with_content, words)) <= 2 else ""


@lru_cache(maxsize=65536)
def _opens_with_content(word: str) -> bool:
    """Whether a written word's first token is not a stopword (cached: list items repeat their words)."""
    tokens = tokenize(word)
    return bool(tokens) and tokens[0].word not in STOPWORDS


def _unclosed(lines: list[str], open_at: tuple[int, int], first_line: int, findings: list[Finding]) -> str:
    idx, offset = open_at
    findings.append(Finding(first_line + idx, "highlight opened with == is never closed"))
    return lines[idx][offset:]


# line, question (as ids and grading read it), answer (markdown), its image paths, key terms as written, the question's image paths
RawCard = tuple[int, str, str, list[str], list[str], list[str]]


# "Any two of these make a complete answer": an HTML comment in the answer, invisible where the deck is rendered.
_ANY = re.compile(r"<!--\s*any\s+(\S+?)\s*-->", re.IGNORECASE)
_COUNT = re.compile(r"[0-9]{1,9}")  # ASCII digits ("²" is a digit to isdigit, not to int), few enough for int


def required_count(answer: str, line: int, n_terms: int, findings: list[Finding]) -> int | None:
    """How many key terms the author says make a complete answer (``<!-- any 2 -->``), checked for lint."""
    marks = _ANY.findall(answer)
    if not marks:
        return None
    if len(marks) > 1 or not _COUNT.fullmatch(marks[0]) or int(marks[0]) < 1:
        findings.append(Finding(line, f"'<!-- any {marks[-1]} -->' should give one count of key terms, as digits: <!-- any 2 -->"))
        return None
    count = int(marks[0])
    if count >= n_terms:
        findings.append(Finding(line, f"'<!-- any {count} -->' asks for {count} of {n_terms} key terms: that is all of them"))
        return None
    return count


def build_cards(
    raw: list[RawCard],
    findings: list[Finding],
    *,
    derived_note: bool = True,
    side_notes: bool = True,
    required: list[int | None] | None = None,
    reference_answers: list[list[str]] | None = None,
    terms_as_given: list[bool] | None = None,
) -> list[Card]:
    """Cards with ids, key terms (as written, or derived from the answer) and lint findings.

    ``derived_note``: a card without key terms is worth a lint finding (in
    markdown its author highlights them; in other formats there is nothing to
    highlight with, or key terms are optional, and deriving them is normal).
    ``side_notes``: a few words beside an image are a note on it, not an answer
    (an author's habit in markdown notes; an Anki card's short answer is an answer).
    ``required``: per card, how many key terms make a complete answer, for formats
    that have a field for it; otherwise an answer may say so (``<!-- any 2 -->``).
    ``reference_answers``: per card, further acceptable answers (formats with a
    field for them), each with its highlighted or else derived key terms.
    ``terms_as_given``: per card, whether its key terms are exactly those its reader gives (a YAML ``key_terms``
    list, a cloze's deletions): none are derived from the rest of the answer, and with none the card is self-graded.
    A question's images (``question_image_paths``) are shown with it; its text stays as the reader gives it, so
    ids and grading are what they were before questions had images. A question that is only an image is not
    empty, and two questions alike but for their images are not duplicates.
    """
    frequencies: tuple[dict[str, int], int] | None = None  # only a card without key terms needs them

    def deck_frequencies() -> tuple[dict[str, int], int]:
        nonlocal frequencies
        if frequencies is None:
            frequencies = document_frequencies(clean_markdown(body) for _, _, body, _, _, _ in raw)
        return frequencies

    seen_ids: dict[str, int] = {}
    seen_questions: dict[tuple[str, ...], int] = {}  # the question's words and images -> its line
    cards = []
    for number, (line, question, answer, images, highlights, asked_images) in enumerate(raw, start=1):
        norm_q = normalize(question)
        asked = (norm_q, *asked_images)
        if not norm_q and not asked_images:
            findings.append(Finding(line, "card has an empty question"))
        elif asked in seen_questions:
            findings.append(Finding(line, f"duplicate question (same as the card at line {seen_questions[asked]})"))
        else:
            seen_questions[asked] = line
        terms = parse_terms(highlights)
        # The words of the answer matter only beside an image or without terms: most cards skip finding them.
        answer_text = _answer_text(answer) if images or not terms else ""
        if side_notes and images and _is_side_note(answer_text):
            answer_text = ""
        as_given = terms_as_given is not None and terms_as_given[number - 1]
        if not terms and answer_text and as_given:
            pass  # the reader says why, if anything is wrong: an empty YAML list is a self-graded card on purpose
        elif not terms and answer_text:
            terms = derive_key_terms(answer, *deck_frequencies(), _without_images(question, asked_images))
            if not terms:  # only common words ("It is."): said, as an empty answer is, not passed off as derived
                findings.append(Finding(line, "card answer has no words to grade by: it can only be self-graded"))
            elif derived_note:
                findings.append(Finding(line, "card has no highlighted key terms; grading uses terms derived from the answer"))
        elif not terms:
            what = "only an image (and a note)" if images else "empty"
            findings.append(Finding(line, f"card answer is {what}: it can only be self-graded"))
        count = required[number - 1] if required is not None else None
        if count is None:
            count = required_count(answer, line, len(terms), findings)
        elif count >= len(terms):
            findings.append(Finding(line, f"required: {count} asks for {count} of {len(terms)} key terms: that is all of them"))
            count = None
        cards.append(
            Card(
                id=_unique_id(_hashed_id(id_text(question) or " ".join(asked_images)), seen_ids),
                number=number,
                question=question,
                answer=answer,
                key_terms=terms,
                images=images,
                question_images=asked_images,
                line=line,
                required=count,
                reference_answers=[
                    ReferenceAnswer(answer=other, key_terms=other_terms)
                    for i, other in enumerate(reference_answers[number - 1] if reference_answers else [], start=1)
                    if (other_terms := _reference_terms(other, i, line, _without_images(question, asked_images), deck_frequencies, findings))
                ],
            )
        )
    return cards


def _reference_terms(
    answer: str, i: int, line: int, question: str, frequencies: Callable[[], tuple[dict[str, int], int]], findings: list[Finding]
) -> list[KeyTerm]:
    """The key terms of a further reference answer: its highlights, else derived from it; none (and a finding) if it has no words."""
    terms = parse_terms(highlights(answer, line, findings))
    if not terms and _answer_text(answer):
        terms = derive_key_terms(answer, *frequencies(), question)
    if not terms:
        findings.append(Finding(line, f"reference answer {i} has no words to grade by: it is left out"))
    return terms


def in_language(cards: list[Card], language: str) -> list[Card]:
    """The cards of a deck in the language it says or shows (``decks.in_its_language``), each saying so, with the
    terms ``build_cards`` derived from an unhighlighted answer derived again in that language: the deck is read
    before its language is known, so they were cut at English stopwords and weighed by English stems.

    A card whose answer has only the language's function words ("Das ist es.") keeps its English terms: derived
    again it would have none, and its author was told it is graded by terms derived from its answer.
    """
    if not any(map(_has_derived_terms, cards)):
        return [c.model_copy(update={"language": language}) for c in cards]
    with stemming_in(language):
        frequencies = document_frequencies(clean_markdown(c.answer) for c in cards)  # as build_cards counts them
        return [_derived_again(c, language, frequencies) if _has_derived_terms(c) else c.model_copy(update={"language": language}) for c in cards]


def _has_derived_terms(card: Card) -> bool:
    return _is_derived(card.key_terms) or any(_is_derived(r.key_terms) for r in card.reference_answers)


def _is_derived(terms: list[KeyTerm]) -> bool:
    return bool(terms) and terms[0].derived


def _derived_again(card: Card, language: str, frequencies: tuple[dict[str, int], int]) -> Card:
    """``in_language`` for one card with derived terms (its own or a further reference answer's)."""
    question = question_words(card)

    def again(answer: str, terms: list[KeyTerm]) -> list[KeyTerm]:
        return (derive_key_terms(answer, *frequencies, question) or terms) if _is_derived(terms) else terms

    references = [r.model_copy(update={"key_terms": again(r.answer, r.key_terms)}) for r in card.reference_answers]
    return card.model_copy(update={"language": language, "key_terms": again(card.answer, card.key_terms), "reference_answers": references})


def _answer_text(answer: str) -> str:
    """The words of an answer once images, links and markup are gone."""
    without_images = _IMAGE.sub(" ", answer) if _may_show_images(answer) else answer
    return clean_markdown(without_images).strip(" \\-*")


def _is_side_note(text: str) -> bool:
    """Text beside an image that is a remark on it, not an answer to grade."""
    return len(text.split()) < 8 or bool(re.match(r"(?i)(note|see|nb|n\.b\.|source)\b", text))


def card_id(question: str) -> str:
    """Stable id of a card: a hash of its normalised question.

    It survives edits to the answer, whitespace, case and punctuation. Two cards
    with the same question get ``-2``, ``-3``, ... in deck order. (A question of
    images and no words is known by its images' paths instead, in ``build_cards``.)
    """
    if not isinstance(question, str):
        raise TypeError(f"a question must be a str, not {type(question).__name__}")
    return _hashed_id(id_text(question))


def _hashed_id(normalized_question: str) -> str:
    return hashlib.sha1(normalized_question.encode()).hexdigest()[:10]


def _unique_id(base: str, seen: dict[str, int]) -> str:
    seen[base] = seen.get(base, 0) + 1
    return base if seen[base] == 1 else f"{base}-{seen[base]}"


def image_paths(text: str) -> list[str]:
    """The paths of the images a markdown text shows, in order."""
    if not _may_show_images(text):
        return []
    return [next(g for g in m.groups() if g) for m in _IMAGE.finditer(text)]


def question_image_paths(question: str) -> list[str]:
    """The paths of the images a question shows, in order; an image written in code is an example, shown as text."""
    return image_paths(without_code(question)) if _may_show_images(question) else []


# What clean_markdown leaves of an Obsidian embed: "!fig.png" of ![[fig.png]], "!300" of ![[fig.png|300]] (a size),
# "!A heart" of ![[fig.png|A heart]] (its alt text).
_EMBED_LEFT = re.compile(r"(?<!\S)!(\w\S*)")
_IMAGE_SIZE = re.compile(r"[0-9]+(?:x[0-9]+)?")


def question_words(card: Card) -> str:
    """The question's text without the image markup it may still hold (an Anki front's ``![](fig.png)``, what is
    left of an Obsidian embed): what grading reads as the question's words, so that "heart" is not taken for a copy
    of a question that shows ``heart.png``. ``card.question`` itself stays as written: ids read it."""
    return _without_images(card.question, card.question_images)


def _without_images(question: str, images: list[str]) -> str:
    if not images:
        return question
    text = replace_images(question, lambda path: " ") if _may_show_images(question) else question
    if "!" in text:
        text = _EMBED_LEFT.sub(lambda m: " " if m[1] in images or _IMAGE_SIZE.fullmatch(m[1]) else m[1], text)
    return " ".join(text.split())


def shown_question(card: Card) -> str:
    """The question as a person is shown it, its images shown apart (``question_words``), and ``(image)`` for a
    question that is only images, so that it is never blank."""
    if not card.question_images:
        return card.question
    text = question_words(card)
    if any(ch.isalnum() for ch in text):
        return text
    count = len(card.question_images)
    return f"{text} {'(image)' if count == 1 else f'({count} images)'}".strip()


def _may_show_images(text: str) -> bool:
    """Whether a text can show an image at all: every form needs a ``[`` or a ``<``, and most answers have neither."""
    return "[" in text or "<" in text


def replace_images(text: str, replacement) -> str:
    """Text with each image replaced by ``replacement(path)``, in place."""
    return _IMAGE.sub(lambda m: replacement(next(g for g in m.groups() if g)), text)
