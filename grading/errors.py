"""What the grading app's domain code (services, uploads and their limits, script edits, corrections, lookups) raises
when it refuses something: the kinds of :mod:`quizmarker.errors`, and the refusals it makes in more than one place.
The HTTP layer turns them into statuses; pages and the grade_quiz command show their sentence."""

from __future__ import annotations

from quizmarker.errors import (
    Conflict,
    DomainError,
    Invalid,
    LimitReached,
    NotFound,
    TooLarge,
    Unsupported,
    found,
    missing,
)

__all__ = [
    "Conflict",
    "DomainError",
    "Invalid",
    "LimitReached",
    "NotFound",
    "TooLarge",
    "Unsupported",
    "found",
    "missing",
]
