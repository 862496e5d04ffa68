"""A gradebook for a learning management system: one row per student, one column per question, totals.

The CSV (UTF-8, comma-separated, a header row) that Canvas, Moodle and Google
Classroom import:

* the student column, named as in the answers file (``student``, ``email``,
  ``sis_user_id``...; ``--student`` chooses it): the LMS matches rows to its
  students by it (Canvas: SIS User ID or login; Moodle: username, email or ID
  number, chosen in its import form; Google Classroom: email);
* ``Q<n> <question>``: one column per question of the deck that the class
  answered, in deck order, holding the final score, 0 to 1 (a teacher's
  decision from ``grader review`` when there is one); blank when the student
  gave no answer, or for a self-graded (image) card nobody decided;
* ``Total``: the sum of the student's scores as the row shows them (two decimals); ``Out of``: the questions that
  were graded for the student (self-graded cards left out, and the student's own answer still waiting for a
  teacher's decision); ``Percent``: Total / Out of, 0 to 100, to one decimal, a half rounded up (6.25 is 6.3), as
  the class report shows it (``StudentTotal.percent``).

A student's later answer to a question replaces an earlier one. An answer with
no student named (a blank cell) has nobody to go to in the LMS: it is left out
of the gradebook (``nameless_notice`` says how many), not made a row without a
name that an import would refuse or give to nobody. Text cells that
a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-`` or ``@``)
are written with a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from .class_report import ClassSummary, short
from .errors import GraderError
from .files import write_whole
from .writers import inert_text, shown_score

QUESTION_HEADER_CHARS = 40


def gradebook_table(summary: ClassSummary) -> list[list[str]]:
    """The gradebook's rows, header first."""
    if summary.student_field is None:
        raise GraderError(
            "a gradebook needs a column naming each student: the answers have none named student, name, email or username "
            "(name yours with --student)"
        )
    questions = summary.questions
    header = [summary.student_field, *(f"Q{q.number} {short(q.question, QUESTION_HEADER_CHARS)}" for q in questions), "Total", "Out of", "Percent"]
    table = [[inert_text(h) for h in header]]
    for student in summary.students:
        if not student.student:
            continue  # nobody to go to in the LMS (``nameless_notice``)
        answers = student.answers
        cells = [inert_text(student.student)]
        cells += ["" if q.card not in answers or answers[q.card].self_graded else shown_score(answers[q.card].score) for q in questions]
        cells += [f"{student.total:.2f}", str(student.out_of), "" if student.percent is None else str(student.percent)]
        table.append(cells)
    return table


def nameless_notice(summary: ClassSummary) -> str | None:
    """The line that says how many answers name no student, and so are in no gradebook row; None if every one does."""
    nameless = sum(1 for r in summary.rows if not r.student)
    if not nameless:
        return None
    which = "answer names" if nameless == 1 else "answers name"
    return f"{nameless} {which} no student ({summary.student_field} is blank): left out of the gradebook, kept in the results and the report"


def gradebook_csv(summary: ClassSummary) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(gradebook_table(summary))
    return buffer.getvalue()


def write_gradebook(path: Path, summary: ClassSummary) -> None:
    """The gradebook CSV, written whole (a temporary file renamed into place)."""
    write_whole(path, gradebook_csv(summary), what="gradebook", newline="")
