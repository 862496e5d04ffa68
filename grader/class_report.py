"""A class's results a teacher can act on: per question, per student, and the answers worth a second look.

Built from the graded records of a whole answers file (``grade --json``
records, or ``review``'s, whose ``final_score`` / ``final_verdict`` carry the
teacher's decisions and what the calibration learned from them):

* per question: answers, mean score, the verdict distribution and a histogram,
  the key terms missed most, and the wrong statements the class repeats;
* per student, when the answers have a student column: totals;
* the answers nearest a verdict boundary, flagged for a look.

Self-graded cards (image-only answers) have no score: they are counted apart
and kept out of every mean. Written as Markdown sections (after the rows of
``grade --report FILE.md``) or as one self-contained HTML page (``--report
FILE.html``: inline CSS, no scripts, nothing fetched); either way every piece
of data text is escaped (``writers.md_text``, ``html.escape``).
"""

from __future__ import annotations

import html
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from .cardtext import shown_question
from .errors import GraderError
from .files import write_whole
from .models import Card, Deck
from .scoring import GradingSettings, correct_from
from .writers import NoAnswers, Unanswered, answers_count, guesses_note, md_code, md_text, rounded, shown_percent, shown_score, unanswered, verdicts_lead

# A pass-through column that names the student, first found (``--student`` chooses another).
STUDENT_FIELDS = ("student", "student_id", "name", "email", "username", "user", "login", "sis_id", "sis_user_id")
SELF_GRADED = "self-graded"
VERDICTS = ("correct", "partial", "incorrect")
BOUNDARY = 0.05  # an answer this close to a verdict threshold is flagged for a look
MAX_BOUNDARY = 20
MAX_MISSED = 3
MAX_WRONG = 3
HISTOGRAM_BINS = 5
ANSWER_CHARS = 160  # the answer as shown in a report's tables; the full text is in --json
PERCENT_PLACES = 1  # a student's percent, in the report and the gradebook alike


def student_field(fields: Iterable[str], chosen: str | None = None) -> str | None:
    """The pass-through field that names students: ``chosen`` if given (an error when absent), else the first known one."""
    names = list(fields)
    if chosen is not None:
        if chosen not in names:
            known = ", ".join(names) or "none"
            raise GraderError(f"--student {chosen}: the answers have no such column (their own columns: {known})")
        return chosen
    lowered = {n.casefold(): n for n in names}
    return next((lowered[f] for f in STUDENT_FIELDS if f in lowered), None)


@dataclass
class Row:
    """One graded answer as a report shows it (final grade: the teacher's, the calibration's, else the grader's)."""

    position: int
    card: str
    number: int
    question: str
    answer: str
    score: float
    verdict: str
    matched: list[str]
    missing: list[str]
    partly: list[tuple[str, float]]
    guesses: list[str]  # other cards' terms that cost it credit (a list of guesses)
    who: dict[str, Any]
    student: str | None
    graded_by: str = "grader"
    uncertain: bool = False
    unanswered: Unanswered | None = None  # no answer (left blank, or a non-answer): a row scored 0, not an answer

    @property
    def self_graded(self) -> bool:
        return self.verdict == SELF_GRADED

    @classmethod
    def from_record(cls, position: int, record: dict[str, Any], student: str | None, passthrough: Sequence[str]) -> Row:
        terms = record.get("terms") or []
        partly = [(t["term"], float(t["credit"])) for t in _partly_found(terms)]
        partly_names = {name for name, _ in partly}
        value = record.get(student) if student else None
        return cls(
            position=position,
            card=str(record["card"]),
            number=int(record["number"]),
            question=str(record.get("question", "")),
            answer=str(record.get("answer", "")),
            score=float(record.get("final_score", record["score"])),
            verdict=str(record.get("final_verdict", record["verdict"])),
            matched=_terms(record.get("matched")),
            missing=[t for t in _terms(record.get("missing")) if t not in partly_names],
            partly=partly,
            guesses=_terms(record.get("foreign_terms")),
            who={k: record[k] for k in passthrough if k in record and k != student},
            # Spaces around a name are a spreadsheet's, not the student's: "ann " is ann, not a second row for the LMS.
            student=None if student is None else ("" if value is None else str(value).strip()),
            graded_by=str(record.get("graded_by", "grader")),
            uncertain=bool(record.get("uncertain", False)),
            unanswered=unanswered(record),
        )


def as_reported(record: dict[str, Any]) -> dict[str, Any]:
    """The record as far as ``Row.from_record`` reads it: its terms only where partly found (the rest of a term list,
    spans and matched text, is most of a record's size, and a report kept until a batch ends holds every record)."""
    terms = record.get("terms")
    if not terms:
        return record
    return {**record, "terms": _partly_found(terms)}


def _partly_found(terms: list[Any]) -> list[dict[str, Any]]:
    """A record's terms that earned some credit without being found: all a report shows of its terms (beside the
    matched and missing lists)."""
    return [t for t in terms if isinstance(t, dict) and not t.get("found") and t.get("credit")]


def _terms(value: Any) -> list[str]:
    """A record's matched / missing terms: a list (JSON) or '; '-joined (CSV)."""
    if isinstance(value, list):
        return [str(v) for v in value]
    return [t for t in str(value or "").split("; ") if t]


@dataclass
class QuestionSummary:
    number: int
    card: str
    question: str
    answers: int = 0  # rows, those that are no answer too: each is in the mean, as a 0
    none: NoAnswers = field(default_factory=NoAnswers)  # of them, left blank or non-answers: not answered
    self_graded: int = 0
    mean: float | None = None
    verdicts: Counter[str] = field(default_factory=Counter)
    histogram: list[int] = field(default_factory=lambda: [0] * HISTOGRAM_BINS)
    missed: list[tuple[str, int]] = field(default_factory=list)
    wrong: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class StudentTotal:
    """A student's answers as they count: the latest to each question, and what they add up to. The class report
    and the gradebook both read them from here, so that the two agree."""

    student: str  # "" for the answers that name no student
    graded_cards: frozenset[str]  # the questions the class has scores for (a self-graded card nobody decided has none)
    answers: dict[str, Row] = field(default_factory=dict)  # by card: a later answer to a question replaces an earlier one

    @property
    def label(self) -> str:
        return self.student or "(blank)"

    @property
    def answered(self) -> int:
        """The questions the student answered: one left blank or a non-answer is none (it still counts in out of, as a 0)."""
        return sum(1 for r in self.answers.values() if r.unanswered is None)

    @property
    def self_graded(self) -> int:
        return sum(r.self_graded for r in self.answers.values())

    @property
    def out_of(self) -> int:
        """The questions graded for this student: those the class has scores for, but for the student's own answers
        still waiting for a teacher's decision (a self-graded card decided for others), which have no score yet and
        count as none, as a card nobody decided does, not as a 0."""
        waiting = sum(1 for card, r in self.answers.items() if r.self_graded and card in self.graded_cards)
        return len(self.graded_cards) - waiting

    @property
    def verdicts(self) -> Counter[str]:
        return Counter(r.verdict for r in self.answers.values())

    @property
    def total(self) -> Decimal:
        """The sum of the scores as they are shown (``shown_score``): the row adds up where a teacher checks it."""
        return sum((Decimal(shown_score(r.score)) for r in self.answers.values() if not r.self_graded), Decimal(0))

    @property
    def percent(self) -> Decimal | None:
        """Total / out of, 0 to 100, rounded once (``writers.rounded``) for the report and the gradebook both to show."""
        return rounded(100 * self.total / self.out_of, PERCENT_PLACES) if self.out_of else None


@dataclass
class ClassSummary:
    title: str
    answers_name: str
    rows: list[Row]
    questions: list[QuestionSummary]
    students: list[StudentTotal]
    boundary: list[tuple[Row, str]]
    student_field: str | None
    passthrough: list[str]
    settings: GradingSettings

    @property
    def graded(self) -> list[Row]:
        return [r for r in self.rows if not r.self_graded]

    @property
    def mean(self) -> float | None:
        graded = self.graded
        return sum(r.score for r in graded) / len(graded) if graded else None

    @property
    def verdicts(self) -> Counter[str]:
        return Counter(r.verdict for r in self.rows)

    @property
    def none(self) -> NoAnswers:
        """The rows that are no answer, by why."""
        return NoAnswers.of(r.unanswered for r in self.rows)

    @property
    def sources(self) -> Counter[str]:
        return Counter(r.graded_by for r in self.rows)

    @property
    def uncertain(self) -> int:
        return sum(r.uncertain for r in self.rows)


def summarise(
    deck: Deck,
    answers_name: str,
    records: Iterable[dict[str, Any]],
    settings: GradingSettings,
    *,
    passthrough: Sequence[str] = (),
    student: str | None = None,
) -> ClassSummary:
    """The class's results from its graded records (``passthrough``: the answers' own columns, as output names)."""
    rows = [Row.from_record(i, r, student, passthrough) for i, r in enumerate(records, start=1)]
    by_card: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        by_card[r.card].append(r)
    cards = {c.id: c for c in deck.cards}
    questions = [
        _question(by_card[card_id], cards.get(card_id)) for card_id in sorted(by_card, key=lambda c: (by_card[c][0].number, c))
    ]
    students = _students(rows, {q.card for q in questions if q.answers > q.self_graded}) if student else []
    return ClassSummary(
        deck.title, answers_name, rows, questions, students, _boundary(rows, cards, settings), student, list(passthrough), settings
    )


def _question(rows: list[Row], card: Any) -> QuestionSummary:
    first = rows[0]
    if card is not None and card.question_images:  # as the learner was shown it: "(image)", no image markup
        question = shown_question(card)
    else:
        question = first.question or (card.question if card else "")
    q = QuestionSummary(first.number, first.card, question)
    q.answers = len(rows)
    q.none = NoAnswers.of(r.unanswered for r in rows)
    graded = [r for r in rows if not r.self_graded]
    q.self_graded = q.answers - len(graded)
    q.verdicts = Counter(r.verdict for r in rows)
    if graded:
        q.mean = sum(r.score for r in graded) / len(graded)
        for r in graded:
            q.histogram[min(HISTOGRAM_BINS - 1, int(r.score * HISTOGRAM_BINS))] += 1
    missed = Counter(t for r in graded for t in r.missing)
    missed.update(t for r in graded for t, _ in r.partly)
    q.missed = missed.most_common(MAX_MISSED)
    reference = card.answer if card is not None else ""
    q.wrong = common_wrong_statements([r.answer for r in graded if r.verdict != "correct"], reference)
    return q


def common_wrong_statements(answers: list[str], reference: str, limit: int = MAX_WRONG) -> list[tuple[str, int]]:
    """What wrong answers say again and again: whole answers given twice or more, else phrases of two to four
    content words that the reference does not contain, each with the number of answers that say it."""
    from .normalize import content_tokens, normalize

    whole = Counter(normalize(a) for a in answers if normalize(a))
    found: list[tuple[str, int]] = []
    shown: dict[str, str] = {}
    for a in answers:
        shown.setdefault(normalize(a), " ".join(a.split()))
    for text, n in whole.most_common():
        if n < 2 or len(found) >= limit:
            break
        found.append((shown[text], n))
    if len(found) >= limit:
        return found
    known = {t.stem for t in content_tokens(reference)}
    phrases: Counter[tuple[str, ...]] = Counter()
    written: dict[tuple[str, ...], str] = {}
    for a in answers:
        tokens = content_tokens(a)
        seen = set()
        for size in (4, 3, 2):
            for i in range(len(tokens) - size + 1):
                part = tokens[i : i + size]
                key = tuple(t.stem for t in part)
                if all(s in known for s in key) or key in seen:
                    continue
                seen.add(key)
                written.setdefault(key, " ".join(a[part[0].start : part[-1].end].split()))
        phrases.update(seen)
    taken = [text for text, _ in found]
    for key, n in sorted(phrases.items(), key=lambda kv: (-kv[1], -len(kv[0]), kv[0])):
        if n < 2 or len(found) >= limit:
            break
        text = written[key]
        if any(text.casefold() in t.casefold() or t.casefold() in text.casefold() for t in taken):
            continue  # a piece of a phrase (or of an answer) already shown
        found.append((text, n))
        taken.append(text)
    return found


def _students(rows: list[Row], gradable_cards: set[str]) -> list[StudentTotal]:
    """Each student's answers as they count, in order of first appearance."""
    students: dict[str, StudentTotal] = {}
    graded_cards = frozenset(gradable_cards)
    for r in rows:
        student = r.student or ""
        if student not in students:
            students[student] = StudentTotal(student, graded_cards)
        students[student].answers[r.card] = r
    return list(students.values())


def _boundary(rows: list[Row], cards: dict[str, Card], settings: GradingSettings) -> list[tuple[Row, str]]:
    """The answers the grader marked within ``BOUNDARY`` of a verdict threshold (a card's highlighted terms have their
    own line for correct), closest first."""
    near = []
    for r in rows:
        if r.self_graded or r.graded_by == "teacher":
            continue
        card = cards.get(r.card)
        correct = settings.correct_threshold if card is None else correct_from(settings, card)
        for threshold, name in ((correct, "correct"), (settings.partial_threshold, "partial")):
            gap = r.score - threshold
            if abs(gap) <= BOUNDARY + 1e-9:
                side = "above" if gap >= 0 else "below"
                near.append((abs(gap), r.position, r, f"{abs(gap):.2f} {side} {name}"))
                break
    near.sort(key=lambda n: (n[0], n[1]))
    return [(r, why) for _, _, r, why in near[:MAX_BOUNDARY]]


# --- text helpers ---------------------------------------------------------------------------------


def short(text: str, width: int = ANSWER_CHARS) -> str:
    """Text on one line, cut at a word near ``width`` with an ellipsis."""
    line = " ".join(str(text).split())
    if len(line) <= width:
        return line
    cut = line.rfind(" ", 0, width - 1)
    return line[: cut if cut > width // 2 else width - 1].rstrip() + "…"


def percent(value: float | None) -> str:
    """A mean score as a whole percent (``writers.shown_percent``)."""
    return shown_percent(value)


def student_percent(student: StudentTotal) -> str:
    return "—" if student.percent is None else f"{student.percent}%"


def who(row: Row) -> str:
    """The student and the other pass-through fields of a row, as one short label."""
    parts = [row.student] if row.student else []
    parts += [f"{k}: {v}" for k, v in row.who.items() if v not in (None, "")]
    return " · ".join(str(p) for p in parts)


def _listed(parts: list[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return " and ".join([", ".join(parts[:-1]), parts[-1]]) if len(parts) > 1 else "".join(parts)


def _tally(verdicts: Counter[str]) -> str:
    return ", ".join(f"{verdicts[v]} {v}" for v in (*VERDICTS, SELF_GRADED) if verdicts.get(v))


# --- Markdown ---------------------------------------------------------------------------------------


def markdown(summary: ClassSummary) -> str:
    """The report's class sections as Markdown (appended after the rows of ``grade --report FILE.md``)."""
    out = ["", "## Class summary", ""]
    graded = summary.graded
    self_graded = len(summary.rows) - len(graded)
    # A blank answer or a non-answer is no answer: counted apart, as the rows' summary and each question count it,
    # yet a 0 in the mean.
    lead = verdicts_lead(len(summary.rows), summary.none)
    out.append(f"{answers_count(len(summary.rows), summary.none, 'answers')} to {len(summary.questions)} questions{lead}{_tally(summary.verdicts)}.")
    none = NoAnswers.of(r.unanswered for r in graded)
    over = _listed([f"{len(graded) - none.total} graded answers", *none.parts("left blank")]) + (", each a 0" if none.total else "")
    out.append(f"Mean score {percent(summary.mean)} over {over}" + (
        f"; {self_graded} self-graded (image cards) are counted apart, not in any mean." if self_graded else "."
    ))
    sources = summary.sources
    if sources.get("teacher") or sources.get("calibrated"):
        out.append(
            f"Final grades: {sources.get('teacher', 0)} decided by the teacher, {sources.get('calibrated', 0)} changed by the "
            f"calibration learned from those decisions, {sources.get('grader', 0)} the grader's; {summary.uncertain} still uncertain."
        )
    out += ["", "### Per question", "", "| # | question | answers | mean | correct / partial / incorrect | most missed key terms | common wrong statements |", "|---|---|---|---|---|---|---|"]
    for q in summary.questions:
        dist = " / ".join(str(q.verdicts.get(v, 0)) for v in VERDICTS) + (f" (+{q.self_graded} self-graded)" if q.self_graded else "")
        missed = ", ".join(f"{md_text(t)} ({n})" for t, n in q.missed)
        wrong = "; ".join(f"“{md_text(short(t, 80))}” ({n})" for t, n in q.wrong)
        out.append(f"| {q.number} | {md_text(short(q.question, 100))} | {answers_count(q.answers, q.none)} | {percent(q.mean)} | {dist} | {missed} | {wrong} |")
    if summary.students:
        out += ["", f"### Per student ({md_text(summary.student_field)})", "", "| student | answered | total | out of | percent | verdicts |", "|---|---|---|---|---|---|"]
        for s in summary.students:
            out.append(f"| {md_text(s.label)} | {s.answered} | {s.total:.2f} | {s.out_of} | {student_percent(s)} | {_tally(s.verdicts)} |")
    out += ["", "### Near a verdict boundary", ""]
    if summary.boundary:
        out += [
            f"The grader's verdict on these answers turned on a few hundredths of a point (within {BOUNDARY:.2f} of a threshold): worth a look.",
            "",
            "| row | # | who | answer | score | verdict | how close |",
            "|---|---|---|---|---|---|---|",
        ]
        for r, why in summary.boundary:
            out.append(f"| {r.position} | {r.number} | {md_text(who(r))} | {md_text(short(r.answer, 100))} | {shown_score(r.score)} | {r.verdict} | {why} |")
    else:
        out.append("No answer is within a few hundredths of a verdict threshold.")
    return "\n".join(out) + "\n"


# --- HTML -------------------------------------------------------------------------------------------

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330;margin:0;background:#f6f7f9}
main{max-width:1180px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:20px;margin:32px 0 10px;border-bottom:2px solid #dfe3ea;padding-bottom:4px}
.meta{color:#5b6474;margin:0 0 16px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{background:#fff;border:1px solid #dfe3ea;border-radius:8px;padding:10px 16px;min-width:120px}
.card b{display:block;font-size:22px}.card span{color:#5b6474;font-size:13px}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #dfe3ea;font-size:14px}
th,td{text-align:start;unicode-bidi:plaintext;vertical-align:top;padding:6px 9px;border-bottom:1px solid #eceff4}
th{background:#eef1f6;font-weight:600}td.n{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
.bar{display:flex;height:12px;width:160px;border-radius:3px;overflow:hidden;background:#eceff4;margin-top:3px}
.bar i{display:block;height:100%}
.correct{background:#2e9d5b}.partial{background:#e0a526}.incorrect{background:#d2453a}.self-graded{background:#3c8fc4}
.v{font-weight:600;white-space:nowrap}.v.correct,.v.partial,.v.incorrect,.v.self-graded{background:none}
.v.correct{color:#1f7a44}.v.partial{color:#9a6a00}.v.incorrect{color:#b3261e}.v.self-graded{color:#23689a}
.hist{display:flex;align-items:flex-end;gap:2px;height:34px}.hist i{display:block;width:10px;background:#7a8aa6}
.terms{color:#5b6474;font-size:13px}.ok{color:#1f7a44}.part{color:#9a6a00}.miss{color:#b3261e}
.note{color:#5b6474;font-size:13px}.flag{color:#b3261e;font-weight:600;white-space:nowrap}td.who{white-space:nowrap;max-width:220px;overflow:hidden;text-overflow:ellipsis}
ul{margin:0;padding-left:18px}
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _bar(verdicts: Counter[str], total: int) -> str:
    if not total:
        return ""
    parts = "".join(
        f'<i class="{v}" style="width:{100 * verdicts[v] / total:.1f}%" title="{verdicts[v]} {v}"></i>'
        for v in (*VERDICTS, SELF_GRADED)
        if verdicts.get(v)
    )
    return f'<div class="bar">{parts}</div>'


def _histogram(counts: list[int]) -> str:
    top = max(counts) or 1
    bins = "".join(
        f'<i style="height:{max(2, round(32 * c / top))}px" title="{c} scored {i * 100 // HISTOGRAM_BINS}–{(i + 1) * 100 // HISTOGRAM_BINS}%"></i>'
        for i, c in enumerate(counts)
    )
    return f'<div class="hist">{bins}</div>'


def _verdict(v: str) -> str:
    return f'<span class="v {_e(v)}">{_e(v)}</span>'


def html_lines(summary: ClassSummary) -> Iterator[str]:
    """The HTML page a line at a time, each ending in a line break: its row of every answer is made as it is written,
    so the page is never held whole (at 100,000 rows, 42 MB of text held as lines, then joined, then encoded)."""
    s = summary
    graded = s.graded
    self_graded = len(s.rows) - len(graded)
    head = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>Class report: {_e(s.title)}</title><style>{_CSS}</style></head><body><main>",
        f"<h1>Class report: {_e(s.title)}</h1>",
        f'<p class="meta">Answers: <code>{_e(s.answers_name)}</code></p>',
    ]
    cards = [
        ("answers", str(len(s.rows) - s.none.total)),  # those left blank and the non-answers have their own cards
        ("questions", str(len(s.questions))),
        ("mean score", percent(s.mean)),
        *((v, str(s.verdicts.get(v, 0))) for v in VERDICTS),
    ]
    none = s.none
    if none.blank:
        cards.append(("left blank, each a 0", str(none.blank)))
    if none.non_answers:
        cards.append(("non-answers, each a 0", str(none.non_answers)))
    if self_graded:
        cards.append(("self-graded, not in means", str(self_graded)))
    if s.students:
        cards.append(("students", str(len(s.students))))
    sources = s.sources
    if sources.get("teacher") or sources.get("calibrated"):
        cards += [("decided by the teacher", str(sources.get("teacher", 0))), ("re-graded from those marks", str(sources.get("calibrated", 0))), ("still uncertain", str(s.uncertain))]
    body = ['<div class="cards">' + "".join(f'<div class="card"><b>{_e(v)}</b><span>{_e(k)}</span></div>' for k, v in cards) + "</div>"]
    body.append(_bar(s.verdicts, len(s.rows)).replace('class="bar"', 'class="bar" style="width:100%;height:16px"'))
    if self_graded:
        body.append(f'<p class="note">{self_graded} answers to self-graded (image) cards have no score: they are counted apart and left out of every mean.</p>')

    body.append('<h2 id="questions">Per question</h2><table><thead><tr><th>#</th><th>question</th><th>answers</th><th>mean</th><th>verdicts</th><th>scores</th><th>most missed key terms</th><th>common wrong statements</th></tr></thead><tbody>')
    for q in s.questions:
        dist = " / ".join(str(q.verdicts.get(v, 0)) for v in VERDICTS)
        extra = f'<div class="note">+{q.self_graded} self-graded</div>' if q.self_graded else ""
        missed = "<ul>" + "".join(f"<li>{_e(t)} <span class=\"note\">({n})</span></li>" for t, n in q.missed) + "</ul>" if q.missed else ""
        wrong = "<ul>" + "".join(f"<li>“{_e(short(t, 90))}” <span class=\"note\">({n})</span></li>" for t, n in q.wrong) + "</ul>" if q.wrong else ""
        body.append(
            f'<tr><td class="n">{q.number}</td><td>{_e(short(q.question, 140))}</td><td class="n">{_e(answers_count(q.answers, q.none))}</td>'
            f'<td class="n">{percent(q.mean)}</td><td>{dist}{_bar(q.verdicts, q.answers)}{extra}</td>'
            f"<td>{_histogram(q.histogram) if q.mean is not None else ''}</td><td>{missed}</td><td>{wrong}</td></tr>"
        )
    body.append("</tbody></table>")

    if s.students:
        body.append(f'<h2 id="students">Per student <span class="note">({_e(s.student_field)})</span></h2>')
        body.append('<table><thead><tr><th>student</th><th>answered</th><th>total</th><th>out of</th><th>percent</th><th>verdicts</th></tr></thead><tbody>')
        for t in s.students:
            body.append(
                f'<tr><td>{_e(t.label)}</td><td class="n">{t.answered}</td><td class="n">{t.total:.2f}</td><td class="n">{t.out_of}</td>'
                f'<td class="n">{student_percent(t)}</td><td>{_e(_tally(t.verdicts))}{_bar(t.verdicts, len(t.answers))}</td></tr>'
            )
        body.append("</tbody></table>")

    body.append('<h2 id="boundary">Near a verdict boundary</h2>')
    if s.boundary:
        body.append(f'<p class="note">The grader\'s verdict on these answers turned on a few hundredths of a point (within {BOUNDARY:.2f} of a threshold): worth a look.</p>')
        body.append('<table><thead><tr><th>row</th><th>#</th><th>who</th><th>answer</th><th>score</th><th>verdict</th><th>how close</th></tr></thead><tbody>')
        for r, why in s.boundary:
            body.append(
                f'<tr><td class="n">{r.position}</td><td class="n">{r.number}</td><td class="who">{_e(who(r))}</td><td>{_e(short(r.answer))}</td>'
                f'<td class="n">{shown_score(r.score)}</td><td>{_verdict(r.verdict)}</td><td class="flag">{_e(why)}</td></tr>'
            )
        body.append("</tbody></table>")
    else:
        body.append('<p class="note">No answer is within a few hundredths of a verdict threshold.</p>')

    body.append('<h2 id="answers">Every answer</h2><table><thead><tr><th>row</th><th>#</th><th>who</th><th>answer</th><th>score</th><th>verdict</th><th>key terms</th></tr></thead><tbody>')
    for line in head + body:
        yield line + "\n"
    for r in s.rows:
        terms = []
        if r.matched:
            terms.append(f'<span class="ok">✓ {_e(", ".join(r.matched))}</span>')
        if r.partly:
            terms.append('<span class="part">~ ' + _e(", ".join(f"{t} ({shown_percent(c)})" for t, c in r.partly)) + "</span>")
        if r.missing:
            terms.append(f'<span class="miss">✗ {_e(", ".join(r.missing))}</span>')
        if r.guesses:
            terms.append(f'<span class="miss">{_e(guesses_note(r.guesses))}</span>')
        by = "" if r.graded_by == "grader" else f'<div class="note">{_e(r.graded_by)}{", uncertain" if r.uncertain else ""}</div>'
        yield (
            f'<tr><td class="n">{r.position}</td><td class="n">{r.number}</td><td class="who">{_e(who(r))}</td><td>{_e(short(r.answer))}</td>'
            f'<td class="n">{"—" if r.self_graded else shown_score(r.score)}</td><td>{_verdict(r.verdict)}{by}</td><td class="terms">{"<br>".join(terms)}</td></tr>\n'
        )
    yield "</tbody></table>\n</main></body></html>\n"


# --- writing -------------------------------------------------------------------------------------------


REPORT_SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html"}


def report_format(path: str | Path) -> str | None:
    """``markdown`` or ``html``, as the report's extension says; None for any other (refused: never a guess)."""
    return REPORT_SUFFIXES.get(Path(path).suffix.lower())


def is_html(path: str | Path) -> bool:
    return report_format(path) == "html"


def write_html(path: Path, summary: ClassSummary) -> None:
    """The HTML report, written whole under a temporary name and moved into place (never half a page)."""
    write_whole(path, html_lines(summary), what="report")


# The summary line ``MarkdownReport`` ends its rows with; the class sections go after it, before any LLM usage line.
_SUMMARY_LINE = re.compile(rb"\n\*\*\d+ answers\*\*[^\n]*\n")
_TAIL_BYTES = 64 * 1024


def append_markdown(path: Path, summary: ClassSummary) -> None:
    """The class sections after the rows and summary line of a Markdown report (its last line, the LLM's usage, stays last)."""
    try:
        with path.open("r+b") as f:
            size = f.seek(0, os.SEEK_END)
            start = max(0, size - _TAIL_BYTES)
            f.seek(start)
            tail = f.read()
            found = list(_SUMMARY_LINE.finditer(tail))
            at = start + found[-1].end() if found else size
            f.seek(at)
            rest = f.read()
            f.seek(at)
            f.truncate()
            f.write(markdown(summary).encode("utf-8", "backslashreplace") + rest)
    except OSError as exc:
        raise GraderError(f"cannot write report: {exc.strerror}", path=path) from None


def markdown_document(summary: ClassSummary) -> str:
    """A whole Markdown report: the class sections, then every answer with its final grade."""
    out = [f"# Class report: {md_text(summary.title)}", "", f"Answers: {md_code(summary.answers_name)}", markdown(summary), "### Every answer", ""]
    out += ["| row | # | who | answer | score | verdict | graded by | matched | missing |", "|---|---|---|---|---|---|---|---|---|"]
    for r in summary.rows:
        matched = [*map(md_text, r.matched), *(f"~{md_text(t)} ({shown_percent(c)})" for t, c in r.partly)]
        score = "—" if r.self_graded else shown_score(r.score)
        by = r.graded_by + (" (uncertain)" if r.uncertain else "")
        missing = [*map(md_text, r.missing), *([md_text(guesses_note(r.guesses))] if r.guesses else [])]
        out.append(
            f"| {r.position} | {r.number} | {md_text(who(r))} | {md_text(short(r.answer, 100))} | {score} | {r.verdict} | {by} "
            f"| {', '.join(matched)} | {', '.join(missing)} |"
        )
    return "\n".join(out) + "\n"
