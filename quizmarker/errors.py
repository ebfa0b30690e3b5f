"""What domain code raises when it refuses something: a kind (the class), the contract's machine ``code`` and a
sentence for a person.

Services, uploads, limits, edits, the broker check and job starting raise these and know nothing of HTTP; the HTTP
layer (``quizmarker.api.exception_handler`` for the API, ``quizmarker.api.status_for`` for pages) turns a kind into a
status. Pages, the admin and commands catch :class:`DomainError` and show ``message``.
"""

from __future__ import annotations


class DomainError(Exception):
    """A refusal with a sentence for a person (``message``), a machine ``code`` of the API contract, optional
    ``details`` and, where waiting helps, ``retry_after`` seconds."""

    def __init__(self, message: str, *, code: str, details: dict | None = None, retry_after: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = details or {}
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message


class NotFound(DomainError):
    """What was named does not exist here (or is not this person's to see)."""


class Invalid(DomainError):
    """The input is wrong; ``details`` names the field(s)."""


class TooLarge(Invalid):
    """A file or an upload is over a size or work limit."""


class Unsupported(Invalid):
    """A file is not of a kind we read (or is damaged)."""


class Conflict(DomainError):
    """The thing is not in a state that allows this now (already graded, still running, not completed)."""


class NotAllowed(DomainError):
    """This person or organization may not do this."""


class LimitReached(NotAllowed):
    """A plan's quota or the month's AI budget is spent."""


class Unavailable(DomainError):
    """A service we depend on is down for now; try again after ``retry_after`` seconds."""


def missing(what: str) -> NotFound:
    """The contract's 404 for an id that names nothing in this organization (or nothing this person may see)."""
    return NotFound(f"No {what} with that id in this organization.", code="NOT_FOUND")


def found(row, what: str):
    """``row``, or :func:`missing` naming ``what`` when it is None (a lookup's ``.first()`` found nothing)."""
    if row is None:
        raise missing(what)
    return row
