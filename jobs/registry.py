"""What each job type is: the function that runs it, its Celery task and queue, and what else happens when one stops
or is retried by hand. The engine (``jobs.starting``, ``jobs.running``, ``jobs.cancel_retry``) reads these tables; the
apps that own the work name their functions here by dotted path, so ``jobs`` imports none of them."""

from __future__ import annotations

from django.utils.module_loading import import_string

from jobs.models import BackgroundJob, JobType
from quizmarker import queues

# What runs each job type: a function taking a JobContext and returning the job's result (a JSON-able dict).
HANDLERS: dict[str, str] = {
    JobType.EXTRACTION: "grading.reading.run_extraction_job",
    JobType.GRADING: "grading.marking.run_grading_job",
    JobType.EMAIL: "jobs.emails.run_email_job",
    JobType.SCHEME_IMPORT: "markschemes.importing.run_import_job",
}
# Its Celery task (jobs.tasks), and the queue that task is published to.
TASKS: dict[str, str] = {
    JobType.EXTRACTION: "jobs.tasks.run_extraction",
    JobType.GRADING: "jobs.tasks.run_grading",
    JobType.EMAIL: "jobs.tasks.run_email",
    JobType.SCHEME_IMPORT: "jobs.tasks.run_scheme_import",
}
QUEUES: dict[str, str] = {
    JobType.EXTRACTION: queues.DEFAULT,
    JobType.GRADING: queues.DEFAULT,
    JobType.EMAIL: queues.LOW,
    JobType.SCHEME_IMPORT: queues.DEFAULT,  # the AI worker: it may call the provider
}

# What else changes when a job fails or is cancelled, in the same transaction: a function taking (job, reason).
ON_STOPPED: dict[str, str] = {JobType.GRADING: "grading.services.grading_stopped"}

# How a failed or cancelled job is started again, through the same checks as its first start: (job, user) -> job.
RETRY_STARTERS: dict[str, str] = {JobType.GRADING: "grading.services.retry_grading"}


def stopped(job: BackgroundJob, reason: str) -> None:
    """What else changes when ``job`` fails or is cancelled, in the caller's transaction (``ON_STOPPED``)."""
    if job.job_type in ON_STOPPED:
        import_string(ON_STOPPED[job.job_type])(job, reason)
