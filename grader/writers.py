"""Graded answers as records, and the file writers that put each one out the moment it is final.

The JSON Lines record is a contract other tools rely on (README, "grade --json"):
``card``, ``number``, ``question``, ``answer``, ``score``, ``verdict``,
``matched``, ``missing``, ``terms``, ``answered``, plus the input row's own fields. An input
field whose name collides with one of ours is kept as ``input_<name>`` (``passthrough_name``).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property, lru_cache
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, Protocol

from .errors import GraderError
from .models import AnswerRow, Card, Grade, Verdict
from .scoring import GradeFacts, TermFacts, facts_grade, grade_facts

if TYPE_CHECKING:
    from .answers import RowValues
    from .llm.schema import LLMResult

RECORD_FIELDS = (
    "card", "number", "question", "answer", "score", "verdict", "matched", "missing", "terms", "answered", "similarity",
    "foreign_terms",
)  # fmt: skip


# What a record holds besides: the LLM's feedback (--llm) and, from ``grader review``, the final grade.
FINAL_FIELDS = ("final_score", "final_verdict", "graded_by", "uncertain")
_OURS = frozenset((*RECORD_FIELDS, "llm", *FINAL_FIELDS))
_PREFIX = "input_"


def passthrough_name(field: str) -> str:
    """The output name of an input field: ``input_<name>`` if it is one of ours or, so that no two fields become one,
    ``input_`` and one of ours (``score`` is ``input_score``, so an ``input_score`` beside it is ``input_input_score``)."""
    ours = field
    while ours.startswith(_PREFIX):
        ours = ours[len(_PREFIX) :]
    return _PREFIX + field if ours in _OURS else field


def grade_record(card: Card, row: AnswerRow | RowValues, grade: Grade | GradeFacts) -> dict[str, Any]:
    """The stable JSON record of one graded answer, built from plain values (no pydantic round trip)."""
    return _record(card, row.answer, row.extra, grade)


def _record(card: Card, answer: str, extra: dict[str, Any], grade: Grade | GradeFacts) -> dict[str, Any]:
    score, verdict, answered, terms, similarity, foreign = grade_facts(grade) if isinstance(grade, Grade) else grade
    return {
        **{passthrough_name(k): v for k, v in extra.items()},
        "card": card.id,
        "number": card.number,
        "question": card.question,
        "answer": answer,
        "score": score,
        "verdict": verdict,
        "matched": [t[0] for t in terms if t[1]],
        "missing": [t[0] for t in terms if not t[1]],
        "terms": [_term_record(t) for t in terms],
        "answered": answered,
        "similarity": similarity,
        "foreign_terms": list(foreign),
    }


def _term_record(facts: TermFacts) -> dict[str, Any]:
    term, found, credit, span, matched_text, derived, how, refused = facts
    return {
        "term": term,
        "found": found,
        "credit": credit,
        "span": None if span is None else list(span),
        "matched_text": matched_text,
        "derived": derived,
        "how": how,
        "refused": refused,
    }


def card_record(card: Card) -> dict[str, Any]:
    """The stable JSON record of one card (``cards --json``)."""
    return {
        "id": card.id,
        "number": card.number,
        "question": card.question,
        "key_terms": [t.text for t in card.key_terms],
        "derived_terms": bool(card.key_terms) and card.key_terms[0].derived,
        "gradable": card.gradable,
        "images": card.images,
        "question_images": card.question_images,
        "line": card.line,
        "required": card.required,
        "reference_answers": [{"answer": r.answer, "key_terms": [t.text for t in r.key_terms]} for r in card.reference_answers],
    }


class GradedAnswer:
    """One row of an answers file with its card, its keyword grade and any LLM feedback.

    The row comes as an ``AnswerRow`` or as the ``RowValues`` of one (``grader
    grade`` reads them so). The grade comes as a ``Grade`` or, from a worker
    process, as ``GradeFacts`` with the lines the worker already rendered
    (``lines``, by format key), or as None when those lines are all the writers
    need; the record is built from plain values, and a ``Grade`` or an
    ``AnswerRow`` only when one is asked for.
    """

    rows = 1  # how many answers it writes (GradedLines writes many)

    def __init__(
        self,
        row: AnswerRow | RowValues,
        card: Card,
        grade: Grade | GradeFacts | None,
        feedback: LLMResult | None = None,
        lines: dict[Hashable, str] | None = None,
    ):
        self._row, self.card, self.feedback = row, card, feedback
        self._grade = grade
        self.lines = lines or {}

    @cached_property
    def row(self) -> AnswerRow:
        """The row as a model, made only when asked for (the lines and the record need just its answer and fields)."""
        row = self._row
        return row if isinstance(row, AnswerRow) else row.model()

    @property
    def _given(self) -> Grade | GradeFacts:
        """The grade as it came; never asked for when it came as None (the worker's lines are all the writers need)."""
        assert self._grade is not None
        return self._grade

    @cached_property
    def grade(self) -> Grade:
        grade = self._given
        return grade if isinstance(grade, Grade) else facts_grade(self.card, grade)

    @property
    def facts(self) -> GradeFacts:
        """The grade as plain values (``scoring.grade_facts``), made without a pydantic model when it came as them."""
        grade = self._given
        return grade_facts(grade) if isinstance(grade, Grade) else grade

    @property
    def answer(self) -> str:
        return self._row.answer

    @property
    def extra(self) -> dict[str, Any]:
        """The row's own fields (student, id...), as read."""
        return self._row.extra

    @cached_property
    def record(self) -> dict[str, Any]:
        """The stable output record (``grade --json``), built once for every writer."""
        record = grade_record(self.card, self._row, self._given)
        if self.feedback is not None:
            record["llm"] = self.feedback.record()
        return record

    def line(self, fmt: LineFormat) -> str:
        """This answer as a line of ``fmt``: the one a grading worker rendered, or rendered now."""
        line = self.lines.get(fmt.key)
        return fmt.line(self.card, self._row.answer, self._row.extra, self._given) if line is None else line


class GradedLines:
    """Many graded answers as their lines in each format (by key), rendered by a worker: written as one."""

    def __init__(self, rows: int, lines: dict[Hashable, str]):
        self.rows, self.lines = rows, lines

    def line(self, fmt: LineFormat) -> str:
        return self.lines[fmt.key]


class LineFormat(Protocol):
    """A graded answer as one line of text, a function of its values alone: a grading worker can render it."""

    @property
    def key(self) -> Hashable:
        """Equal for formats that render alike."""

    def line(self, card: Card, answer: str, extra: dict[str, Any], grade: Grade | GradeFacts) -> str: ...


class JsonLinesFormat:
    """A graded answer as ``json.dumps`` writes its record, and a newline.

    The line is put together from pieces: a card's fields, a term with no
    span, and a found term's object but for its span and matched text, read
    the same on many lines, so each is encoded once (half the cost of
    encoding the record whole).
    """

    key = "jsonl"

    def __init__(self) -> None:
        self._cards: dict[tuple[str, int, str], str] = {}  # a card's fields -> their encoding
        self._terms: dict[TermFacts, str] = {}  # a term's plain values (without a span) -> its object, encoded
        self._heads: dict[tuple[str, bool, float], str] = {}  # (term, found, credit) -> its object's start, up to its span
        self._tails: dict[tuple[bool, str | None, str | None], str] = {}  # (derived, how, refused) -> its object's end, after its matched text

    def line(self, card: Card, answer: str, extra: dict[str, Any], grade: Grade | GradeFacts) -> str:
        if isinstance(grade, Grade):
            return json_line(_json(_record(card, answer, extra, grade)))
        score, verdict, answered, terms, similarity, foreign = grade
        key = (card.id, card.number, card.question)
        head = self._cards.get(key)
        if head is None:
            head = self._cards[key] = f'"card": {_json(card.id)}, "number": {_json(card.number)}, "question": {_json(card.question)}'
        own = _fields(extra) + ", " if extra else ""
        matched: list[str] = []
        missing: list[str] = []
        records = []
        for t in terms:
            (matched if t[1] else missing).append(_string(t[0]))
            records.append(self._term(t))
        return json_line(
            f'{{{own}{head}, "answer": {_string(answer)}, "score": {_float(score)}, "verdict": {_string(verdict)}, '
            f'"matched": [{", ".join(matched)}], "missing": [{", ".join(missing)}], '
            f'"terms": [{", ".join(records)}], "answered": {_BOOL[answered]}, '
            f'"similarity": {"null" if similarity is None else _float(similarity)}, '
            f'"foreign_terms": [{", ".join(map(_string, foreign))}]}}'
        )

    def _term(self, facts: TermFacts) -> str:
        term, found, credit, span, matched_text, derived, how, refused = facts
        if span is None or matched_text is None:  # (a span always comes with its matched text)
            encoded = self._terms.get(facts)
            if encoded is None:
                encoded = self._terms[facts] = _json(_term_record(facts))
            return encoded
        head = self._heads.get((term, found, credit))
        if head is None:
            head = self._heads[term, found, credit] = f'{{"term": {_string(term)}, "found": {_BOOL[found]}, "credit": {_float(credit)}, "span": ['
        tail = self._tails.get((derived, how, refused))
        if tail is None:
            tail = self._tails[derived, how, refused] = (
                f', "derived": {_BOOL[derived]}, "how": {_string_or_null(how)}, "refused": {_string_or_null(refused)}}}'
            )
        return f'{head}{span[0]}, {span[1]}], "matched_text": {_string(matched_text)}{tail}'


# Characters that JSON leaves raw inside a string but that end a line for other readers (Python's splitlines,
# JavaScript), and the C1 controls and bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069) that
# JSON escapes no more than letters: an answer's "\x9b2J" clears the terminal `grade --json` prints to, and an
# override reverses the rest of the line, score and verdict included. Escaped, the same text: a record is one line
# wherever it is read, and shows as written.
_ESCAPED = {c: f"\\u{c:04x}" for c in (*range(0x80, 0xA0), 0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A))}
_RAW = re.compile("[\x80-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def json_line(encoded: str) -> str:
    """One encoded JSON value as one line of JSON Lines: its raw line separators and controls escaped, and a newline.

    Most lines are ASCII, which says it at once (a regular expression cost 3 µs a line, a tenth of grading one).
    """
    if not encoded.isascii() and _RAW.search(encoded):
        encoded = encoded.translate(_ESCAPED)
    return encoded + "\n"


# json.dumps(value, ensure_ascii=False), and what it does for each kind of value in a record (scores are finite).
_json = json.JSONEncoder(ensure_ascii=False).encode
_string = json.encoder.encode_basestring
_float = float.__repr__
_BOOL = {True: "true", False: "false"}


def _string_or_null(value: str | None) -> str:
    return "null" if value is None else _string(value)


def _fields(extra: dict[str, Any]) -> str:
    """A row's own fields as the record's JSON has them, without its braces; a text value costs no encoder."""
    heads = _field_heads(tuple(extra))
    return ", ".join([head + (_string(v) if type(v) is str else _json(v)) for head, v in zip(heads, extra.values())])


@lru_cache(maxsize=256)
def _field_heads(names: tuple[str, ...]) -> tuple[str, ...]:
    """Each field's ``"name": `` as the record has it."""
    return tuple(f"{_string(passthrough_name(name))}: " for name in names)


class CsvFormat:
    """A graded answer as a CSV record under ``columns`` (``csv_columns``), cells a spreadsheet would run made inert."""

    def __init__(self, columns: list[str]):
        self.columns = columns
        self.key = ("csv", *columns)
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer)

    def __reduce__(self) -> tuple[type[CsvFormat], tuple[list[str]]]:
        return CsvFormat, (self.columns,)  # to a spawned worker: a csv writer cannot be pickled, so it is made anew

    def header(self) -> str:
        return self._text(self.columns)

    def line(self, card: Card, answer: str, extra: dict[str, Any], grade: Grade | GradeFacts) -> str:
        score, verdict, answered, terms, _, _ = grade_facts(grade) if isinstance(grade, Grade) else grade
        cells = {passthrough_name(k): v for k, v in extra.items()}
        cells.update(
            card=card.id, number=card.number, score=score, verdict=verdict, answer=answer, answered=answered,
            matched="; ".join([t[0] for t in terms if t[1]]), missing="; ".join([t[0] for t in terms if not t[1]]),
        )  # fmt: skip
        return self._text([csv_cell(cells.get(column, "")) for column in self.columns])

    def _text(self, cells: list[Any]) -> str:
        self._buffer.seek(0)
        self._buffer.truncate()
        self._writer.writerow(cells)
        return self._buffer.getvalue()


class LineWriter:
    """Each graded answer as a line of ``format``, flushed at once: a reader downstream sees each result as it comes."""

    def __init__(self, out: IO[str], format: LineFormat):
        self.out, self.format = out, format

    def write(self, graded: GradedAnswer | GradedLines) -> None:
        self.out.write(self.line(graded))
        self.out.flush()

    def line(self, graded: GradedAnswer | GradedLines) -> str:
        return graded.line(self.format)

    def close(self, footer: str | None = None) -> None:
        pass


class JsonLinesWriter(LineWriter):
    """One JSON object a line: the record, with the LLM's feedback when there is some."""

    def __init__(self, out: IO[str]):
        super().__init__(out, JsonLinesFormat())

    def line(self, graded: GradedAnswer | GradedLines) -> str:
        return json_line(_json(graded.record)) if isinstance(graded, GradedAnswer) and graded.feedback is not None else graded.line(self.format)


class CsvWriter(LineWriter):
    """CSV with our columns first; extra input columns after, as first seen."""

    def __init__(self, out: IO[str], extra_columns: list[str], *, header: bool = True):
        csv_format = CsvFormat(csv_columns(extra_columns))
        super().__init__(out, csv_format)
        if header:  # not when appending to a file that has it (grade --resume)
            out.write(csv_format.header())

    @classmethod
    def for_fields(cls, out: IO[str], fields: list[str], *, header: bool = True) -> CsvWriter:
        """A writer whose extra columns are the rows' input fields (each named as ``passthrough_name`` says)."""
        return cls(out, [passthrough_name(k) for k in fields], header=header)


class ShownCsvWriter(CsvWriter):
    """``grade --csv`` to a terminal: each control character shown, never run.

    CSV has no escapes, so a file or pipe gets the text as written; a terminal would run an answer's ESC sequences
    (recolour, move the cursor over the verdicts, OSC 52 to write the teacher's clipboard), its carriage returns and
    its bidirectional overrides. They are shown as the Markdown report shows them (``_MD_CONTROLS``); newlines and
    tabs in a cell stay, and so does each record's own line ending.
    """

    def __init__(self, out: IO[str], extra_columns: list[str], *, header: bool = True):
        super().__init__(out, extra_columns, header=False)
        if header:
            out.write(shown_csv(CsvFormat(csv_columns(extra_columns)).header()))  # the input's column names are untrusted too

    def line(self, graded: GradedAnswer | GradedLines) -> str:
        return shown_csv(super().line(graded))


# --- Numbers as a teacher reads them ------------------------------------------------------------------------


def rounded(value: float | Decimal, places: int) -> Decimal:
    """``value`` to ``places`` decimals, a half away from zero, of the number as it is written in decimal (a float's
    shortest ``repr``): the rounding taught at school and done by a spreadsheet's ROUND, so a teacher who checks a
    score, a total or a percent by hand gets the figure shown. The one rule for every rounded number a report, a
    gradebook or grade's table shows. Python's ``round`` and format specs round a half to even, and round the binary
    float, not the number written: 6.25 gave 6.2, 0.125 gave 0.12 and 0.145 gave 14% (0.1449999...)."""
    number = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    return number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


@lru_cache(maxsize=4096)  # scores take few values, and grade's table rounds one per row
def shown_score(score: float) -> str:
    """A score (0 to 1) as reports, gradebooks and grade's table show it: two decimals (``rounded``)."""
    return str(rounded(score, 2))


def shown_percent(fraction: float | Decimal | None, places: int = 0) -> str:
    """A fraction (0 to 1) as a percent with ``places`` decimals (``rounded``); "—" for none."""
    if fraction is None:
        return "—"
    number = fraction if isinstance(fraction, Decimal) else Decimal(repr(float(fraction)))
    return f"{rounded(100 * number, places)}%"


def guesses_note(foreign_terms: list[str]) -> str:
    """How a report says why a list of guesses lost credit: the other cards' terms it named."""
    return "? other cards' terms: " + ", ".join(foreign_terms)


def csv_columns(extra_columns: list[str]) -> list[str]:
    """The header of ``grade --csv``: our columns, the input's own, then the answer. ``answered`` is there so that
    a report made from an ``--output FILE.csv`` counts non-answers as the records do (``unanswered``)."""
    return ["card", "number", "score", "verdict", "matched", "missing", "answered", *dict.fromkeys(extra_columns), "answer"]


# A spreadsheet reads a cell that starts with one of these as a formula ("=HYPERLINK(...)"):
# such text cells are written with a leading apostrophe, which spreadsheets show as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert_text(text: str) -> str:
    """Text a spreadsheet will show, not run: a leading apostrophe before a formula's first character."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def written_text(cell: str) -> str:
    """The text an ``inert_text`` cell of our CSV was made from (its apostrophe dropped), for what reads the CSV back.
    (Text that began with an apostrophe and a formula's first character reads back without the apostrophe.)"""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS) else cell


# Text from answers, decks and datasets is shown in a Markdown file, never interpreted: raw HTML becomes entities, the
# characters that make links, images, emphasis, code and table cells are escaped, and control characters (an ESC
# that would recolour a terminal showing the file, a NUL) become visible: C0 ones and DEL as their Unicode control
# pictures (␛, ␀), C1 ones, which have none, as U+FFFD. So do bidirectional embeddings, overrides and isolates
# (U+202A-U+202E, U+2066-U+2069): in a file read as text, one reverses the rest of its line, verdict column included.
_MD_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_MD_PUNCTUATION = re.compile(r"([\\`*_\[\]|!#~])")
_MD_CONTROLS = {
    **{c: 0x2400 + c for c in range(0x20)},
    0x7F: 0x2421,
    **{c: 0xFFFD for c in (*range(0x80, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A))},
}


_SHOWN_IN_CSV = {c: v for c, v in _MD_CONTROLS.items() if chr(c) not in "\t\n"}


def shown_csv(text: str) -> str:
    """CSV records as a terminal may show them: ``_MD_CONTROLS`` made visible but for tabs, newlines and the
    records' own line endings (``\\r\\n``)."""
    records = text.split("\r\n")
    return "\r\n".join(record.translate(_SHOWN_IN_CSV) for record in records)


def md_text(text: Any) -> str:
    """``text`` as literal Markdown on one line: what it says is what a renderer shows."""
    text = " ".join(str(text).split()).translate(_MD_CONTROLS)
    text = re.sub(r"[&<>]", lambda m: _MD_ENTITIES[m[0]], text)
    return _MD_PUNCTUATION.sub(r"\\\1", text)


def md_code(text: Any) -> str:
    """``text`` as a Markdown code span on one line, whatever backticks it holds: fenced by one more backtick than its
    longest run of them, and padded with a space where it starts or ends with one (CommonMark's rule)."""
    text = str(text).translate(_MD_CONTROLS)
    fence = "`" * (max(map(len, re.findall("`+", text)), default=0) + 1)
    pad = " " if text[:1] == "`" or text[-1:] == "`" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def csv_cell(value: Any) -> Any:
    """One CSV cell: lists and objects as JSON, text that a spreadsheet would run as a formula made inert."""
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False)
    return inert_text(value) if isinstance(value, str) else value


def is_blank(answer: object) -> bool:
    """Nothing written (empty, or only spaces)."""
    return not str(answer or "").strip()


Unanswered = Literal["blank", "non-answer"]


def unanswered(record: dict[str, Any]) -> Unanswered | None:
    """Why a graded row is no answer, or None for an answer: left blank, or a non-answer ("idk", "no idea", "?":
    the record's ``answered`` is false). The one rule every count of answers follows, in the report's rows summary,
    its class sections, its HTML page and its per-student "answered" alike: such a row is scored 0 and in every
    mean, but counted apart. (A blank answer to a self-graded card is ``answered``, as it has no score, yet blank.)"""
    if is_blank(record.get("answer")):
        return "blank"
    return "non-answer" if record.get("answered") is False else None


@dataclass
class NoAnswers:
    """How many rows are no answer, by why (``unanswered``), and how every output says it."""

    blank: int = 0
    non_answers: int = 0

    @classmethod
    def of(cls, whys: Iterable[Unanswered | None]) -> NoAnswers:
        counted = Counter(whys)
        return cls(counted["blank"], counted["non-answer"])

    def add(self, why: Unanswered | None) -> None:
        self.blank += why == "blank"
        self.non_answers += why == "non-answer"

    @property
    def total(self) -> int:
        return self.blank + self.non_answers

    def parts(self, blank: str = "blank") -> list[str]:
        """Each kind there is, counted: ["2 blank", "1 non-answer"]."""
        plural = "" if self.non_answers == 1 else "s"
        return [*([f"{self.blank} {blank}"] if self.blank else []), *([f"{self.non_answers} non-answer{plural}"] if self.non_answers else [])]


def answers_count(rows: int, none: NoAnswers, noun: str = "", *, bold: bool = False) -> str:
    """How many answers some rows hold, as every report says it: those answered, and apart those left blank or
    non-answers ("2 (+1 blank)", "3 answers (+2 blank, +1 non-answer)"; ``bold``: "**3 answers** (+2 blank)")."""
    written = f"{rows - none.total} {noun}".rstrip()
    written = f"**{written}**" if bold else written
    apart = ", ".join(f"+{part}" for part in none.parts())
    return f"{written} ({apart})" if apart else written


def verdicts_lead(rows: int, none: NoAnswers) -> str:
    """What goes between an ``answers_count`` and the verdicts of its rows: where some rows are no answer, the
    verdicts are said to be of every row (their incorrects are among them), or the two would not add up."""
    return f"; verdicts of all {rows} rows: " if none.total else ": "


class MarkdownReport:
    """A Markdown report written row by row, with a summary appended at the end.

    A run that ends before its last row (Ctrl-C, a crash, an error) ends the
    report with a line saying so, never with a summary that looks complete.
    """

    HEADER = "| # | card | who | question | answer | score | verdict | matched | missing |\n|---|---|---|---|---|---|---|---|---|\n"
    ANSWER_CHARS = 120  # the answer as the report shows it; --json has it whole

    @classmethod
    def create(cls, path: Path, deck_title: str, answers_path: str, total: int | None = None) -> MarkdownReport:
        """A report in a new file at ``path`` for ``total`` answers (the file is closed with the report)."""
        try:
            # A lone surrogate (from a "\ud800" escape in a file) cannot be UTF-8: it is written as that escape.
            out = path.open("w", encoding="utf-8", errors="backslashreplace")
        except OSError as exc:
            raise GraderError(f"cannot write report: {exc.strerror}", path=path) from None
        out.write(f"# Grading report: {md_text(deck_title)}\n\nAnswers: {md_code(answers_path)}\n\n{cls.HEADER}")
        out.flush()
        return cls(out, total)

    @classmethod
    def append(cls, path: Path, total: int | None, verdicts: Counter[str], score_sum: float, none: NoAnswers) -> MarkdownReport:
        """Go on with a report whose rows so far (tallied in ``verdicts``, ``score_sum`` and ``none``) are in ``path``."""
        try:
            out = path.open("a", encoding="utf-8", errors="backslashreplace")
        except OSError as exc:
            raise GraderError(f"cannot write report: {exc.strerror}", path=path) from None
        report = cls(out, total)
        report.verdicts.update(verdicts)
        report.score_sum = score_sum
        report.self_graded = verdicts.get("self-graded", 0)
        report.none = none
        return report

    def __init__(self, out: IO[str], total: int | None = None):
        self.out = out
        self.total = total
        self.verdicts: Counter[str] = Counter()
        self.score_sum = 0.0
        self.self_graded = 0
        self.none = NoAnswers()  # rows left blank or non-answers: in the tally and the mean (as 0s), not counted as answers

    @property
    def rows(self) -> int:
        return sum(self.verdicts.values())

    def write(self, graded: GradedAnswer) -> None:
        record = graded.record
        self.verdicts[record["verdict"]] += 1
        self.score_sum += record["score"]
        if record["verdict"] == "self-graded":
            self.self_graded += 1
        self.none.add(unanswered(record))
        # Who (the row's own fields) and what (the answer, cut short); a partly found term shows with its credit.
        # Every piece of text from the answers or the deck is escaped (md_text): an answer is text, never markup.
        who = " · ".join(f"{k}: {v}" for k, v in record.items() if k not in RECORD_FIELDS and k != "llm" and v not in (None, ""))
        partly = {t["term"]: t["credit"] for t in record["terms"] if not t["found"] and t["credit"] > 0}
        matched = [*map(md_text, record["matched"]), *(f"~{md_text(term)} ({shown_percent(credit)})" for term, credit in partly.items())]
        missing = [md_text(t) for t in record["missing"] if t not in partly]
        if record["foreign_terms"]:  # a list of guesses: what it named besides (see foreign.py)
            missing.append(md_text(guesses_note(record["foreign_terms"])))
        self.out.write(
            f"| {self.rows} | {record['number']} | {md_text(who)} | {md_text(record['question'])} "
            f"| {md_text(_short(record['answer'], self.ANSWER_CHARS))} "
            f"| {shown_score(record['score'])} | {record['verdict']} | {', '.join(matched)} | {', '.join(missing)} |\n"
        )
        self.out.flush()

    def close(self, footer: str | None = None) -> None:
        """The summary (and the LLM's usage line, if any), then the file is closed."""
        n = self.rows
        if self.total is not None and n < self.total:
            self.out.write(
                f"\n**Incomplete: the run stopped after {n} of {self.total} answers.** "
                "Run the command again with `--output` and `--resume` to finish it.\n"
            )
        elif n:
            # In the verdicts' own order, as the class summary under it lists them (sorted, the same counts read otherwise).
            order = [v.value for v in Verdict]
            ranked = sorted(self.verdicts, key=lambda k: (order.index(k) if k in order else len(order), k))
            tally = ", ".join(f"{self.verdicts[k]} {k}" for k in ranked if self.verdicts[k])
            graded = n - self.self_graded  # a self-graded card has no score: out of the mean, counted apart
            mean = f"mean score {shown_score(self.score_sum / graded)}" if graded else "no graded answers"
            apart = f" ({self.self_graded} self-graded, not in the mean)" if self.self_graded else ""
            # Bold, which is how the class sections find this line; answers counted as they count them.
            self.out.write(f"\n{answers_count(n, self.none, 'answers', bold=True)}{verdicts_lead(n, self.none)}{tally}; {mean}{apart}.\n")
        if footer:
            self.out.write(f"\n{footer}.\n")
        self.out.close()


def _short(text: str, width: int) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= width else line[: width - 1].rstrip() + "…"
