"""What ``grade --report`` / ``--gradebook`` and ``review`` write for a graded class, and when.

The class report (``class_report.py``) and the LMS gradebook (``gradebook.py``)
are both made from one summary of the batch's records, once every row is
graded: from the records kept meanwhile, or read back from ``grade --output``
so that a large batch holds none of them. The two writers know nothing of each
other; this module picks them, checks the student column a gradebook needs
before anything is graded, and hands them the summary.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .class_report import (
    STUDENT_FIELDS,
    ClassSummary,
    append_markdown,
    as_reported,
    is_html,
    markdown_document,
    student_field,
    summarise,
    write_html,
)
from .errors import GraderError
from .files import write_whole
from .gradebook import write_gradebook
from .models import Deck
from .scoring import GradingSettings


class Collector:
    """A batch ``Writer`` that keeps every record, for the reports written when the batch is done."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def write(self, graded: Any) -> None:
        record = as_reported(graded.record)
        self.records.append({k: v for k, v in record.items() if k != "llm"} if "llm" in record else record)

    def close(self, footer: str | None = None) -> None:
        pass


def output_records(output: Path, fmt: str) -> Iterator[dict[str, Any]]:
    """Every record of a finished ``--output`` file (CSV cells read back as the values they were written from), one
    at a time: the summary keeps what it needs of each, not the records."""
    from .resume import written_results

    for _, _, record in written_results(output, fmt):
        yield record


def check_student(fields: Sequence[str], chosen: str | None, *, gradebook: bool) -> str | None:
    """The student column among the answers' own ``fields`` (an error if ``chosen`` is not one, or a gradebook has none)."""
    from .writers import passthrough_name

    names = [passthrough_name(f) for f in fields]
    found = student_field(names, passthrough_name(chosen) if chosen else None)
    if gradebook and found is None:
        known = ", ".join(fields) or "none"
        raise GraderError(
            f"a gradebook needs a column naming each student: the answers have none called {', '.join(STUDENT_FIELDS[:5])} "
            f"(their own columns: {known}; name one with --student)"
        )
    return found


def write_class_outputs(
    deck: Deck,
    answers_name: str,
    records: Iterable[dict[str, Any]],
    settings: GradingSettings,
    fields: Sequence[str],
    *,
    report: Path | None = None,
    gradebook: Path | None = None,
    student: str | None = None,
    output: Path | None = None,
    whole_markdown: bool = False,
) -> ClassSummary:
    """The class report and the gradebook of a finished batch.

    ``records`` are the batch's records; with ``output`` (``grade --output``,
    perhaps resumed) they are read back from that file, which then holds every
    row. A Markdown ``report`` gets the class sections appended after its rows,
    or (``whole_markdown``) is written whole.
    """
    from .resume import output_format
    from .writers import passthrough_name

    if output is not None and output_format(output):
        records = output_records(output, output_format(output) or "jsonl")
    passthrough = [passthrough_name(f) for f in fields]
    chosen = check_student(fields, student, gradebook=gradebook is not None)
    summary = summarise(deck, answers_name, records, settings, passthrough=passthrough, student=chosen)
    if report is not None:
        if is_html(report):
            write_html(report, summary)
        elif whole_markdown:
            write_whole(report, markdown_document(summary), what="report")
        else:
            append_markdown(report, summary)
    if gradebook is not None:
        write_gradebook(gradebook, summary)
    return summary


@dataclass
class ClassOutputs:
    """``grade --report`` and ``--gradebook``: the class report and the gradebook, written once the batch is done.

    A Markdown report streams its rows as they are graded (``batch.grade_file``)
    and gets the class sections at the end; an HTML report and the gradebook
    are written whole at the end, from the records of every row. An
    interrupted batch writes neither (its Markdown report says it stopped).
    """

    report: Path | None
    gradebook: Path | None
    student: str | None
    answers_name: str
    output: Path | None = None  # grade --output: the records are read back from it at the end, not kept meanwhile
    deck: Deck | None = None
    fields: list[str] | None = None
    collector: Collector | None = None

    @property
    def streamed_report(self) -> Path | None:
        """The report ``grade_file`` writes row by row (a Markdown one), if any."""
        return self.report if self.report is not None and not is_html(self.report) else None

    def start(self, deck: Deck, fields: list[str]) -> list[Any]:
        """The batch writers needed (a collector, when there is anything to write), checking the student column first."""
        if self.report is None and self.gradebook is None:
            return []
        check_student(fields, self.student, gradebook=self.gradebook is not None)
        self.deck, self.fields, self.collector = deck, fields, Collector()
        return [] if self.output is not None else [self.collector]

    def finish(self, settings: GradingSettings) -> ClassSummary | None:
        """The report's class sections (or the whole HTML page) and the gradebook, once every row is graded."""
        if self.deck is None or self.fields is None or self.collector is None:
            return None
        return write_class_outputs(
            self.deck, self.answers_name, self.collector.records, settings, self.fields,
            report=self.report, gradebook=self.gradebook, student=self.student, output=self.output,
        )  # fmt: skip
