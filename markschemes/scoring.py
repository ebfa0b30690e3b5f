"""The marking rule, with no database: a question's score is the sum of the marks of the marking points the answer
meets, capped at the question's maximum. Importable without Django (the offline grader's measuring script uses it)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal


def marks_text(value: Decimal) -> str:
    """Marks as a person writes them: 3, 1.5, 100."""
    return format(Decimal(value).normalize(), "f")


def points_score(max_marks: Decimal, met_marks: Iterable[Decimal]) -> Decimal:
    """A question's score: the sum of the marks of the points the answer meets, capped at the question's maximum."""
    return min(sum((Decimal(m) for m in met_marks), Decimal("0")), Decimal(max_marks))
