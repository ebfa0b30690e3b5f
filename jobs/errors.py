"""How a job's work says what went wrong (the runner decides from the class whether to retry), and what starting a
job refuses with (:mod:`quizmarker.errors`' kinds, which the HTTP layer turns into statuses)."""

from __future__ import annotations

from quizmarker.errors import Conflict, DomainError, LimitReached

__all__ = [
    "DomainError",
    "JobCancelled",
    "JobError",
    "LimitReached",
    "PermanentJobError",
    "TransientJobError",
    "not_completed",
]


class JobError(Exception):
    """A failure with a sentence for a person and a machine code."""

    code = "JOB_FAILED"
    transient = False

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class PermanentJobError(JobError):
    """Retrying cannot help (bad input, a permission problem, nothing to grade): fail at once."""


class TransientJobError(JobError):
    """A temporary problem (provider 429/5xx/timeout, a dropped connection): retry with backoff."""

    code = "TEMPORARY_FAILURE"
    transient = True

    def __init__(self, message: str, *, code: str | None = None, retry_after: float | None = None):
        super().__init__(message, code=code)
        self.retry_after = retry_after


class JobCancelled(Exception):
    """The job was cancelled (or taken over by another attempt): stop at this checkpoint and write nothing."""


def not_completed(job, what: str, then: str) -> Conflict:
    """JOB_NOT_COMPLETED for a job that has not completed yet: "The {what} is {status}; {then} once it has completed."
    with its status and progress."""
    return Conflict(
        f"The {what} is {job.status}; {then} once it has completed.",
        code="JOB_NOT_COMPLETED",
        details={"status": job.status, "progress": job.progress},
    )
