"""CSV export of submissions with per-question scores."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from grading.models import Submission

BASE_COLUMNS = [
    "submission_id",
    "uploaded_at",
    "student",
    "student_reference",
    "standard",
    "status",
    "total_score",
    "max_score",
    "percentage",
    "result",
    "open_review_flags",
]
# A cell starting with one of these would be run as a formula by spreadsheet programs.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class Echo:
    """A file-like object whose write returns the line, for streaming csv rows."""

    def write(self, value: str) -> str:
        return value


def safe_cell(value) -> str:
    if value is None:
        return ""
    text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


class SafeWriter:
    """A csv writer whose every cell goes through ``safe_cell`` (for CSV files made elsewhere, e.g. the admin's)."""

    def __init__(self, file):
        self._writer = csv.writer(file)

    def writerow(self, row):
        return self._writer.writerow([safe_cell(cell) for cell in row])


def _result(submission: Submission, pass_mark: int) -> str:
    if submission.percentage is None:
        return ""
    return "pass" if submission.percentage >= pass_mark else "fail"


def rows(submissions: Iterable[Submission], pass_mark: int) -> Iterator[list[str]]:
    """Header then one row per submission; questions as Q<n> score and Q<n> max columns (the final score: the
    assessor's if set, else the AI's; empty while nobody has scored it)."""
    submissions = list(submissions)
    numbers = sorted({q.number for s in submissions for q in s.questions.all()})
    header = list(BASE_COLUMNS)
    for number in numbers:
        header += [f"Q{number} score", f"Q{number} max", f"Q{number} ai_score"]
    yield header
    for s in submissions:
        by_number = {q.number: q for q in s.questions.all()}
        flags = sum(1 for q in by_number.values() if q.needs_review and q.final_score is None)
        row = [
            str(s.pk),
            s.created_at.isoformat(timespec="seconds"),
            safe_cell(s.student.full_name if s.student else s.detected_student_name),
            safe_cell(s.student.reference if s.student else ""),
            safe_cell(s.standard),
            s.status,
            safe_cell(s.total_score),
            safe_cell(s.max_score),
            safe_cell(s.percentage),
            _result(s, pass_mark),
            str(flags),
        ]
        for number in numbers:
            q = by_number.get(number)
            row += [safe_cell(q.effective_score), safe_cell(q.max_score), safe_cell(q.ai_score)] if q else ["", "", ""]
        yield row


def stream(submissions: Iterable[Submission], pass_mark: int) -> Iterator[str]:
    writer = csv.writer(Echo())
    yield "\ufeff"  # so spreadsheet programs read the file as UTF-8
    for row in rows(submissions, pass_mark):
        yield writer.writerow(row)
