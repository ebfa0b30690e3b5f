"""Cancelling and retrying a job by hand (the pages, the API and the admin)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from jobs.errors import PermanentJobError
from jobs.job_log import log_event
from jobs.models import ACTIVE_STATUSES, BackgroundJob, JobEvent, JobStatus, JobType
from jobs.registry import RETRY_STARTERS, stopped
from jobs.starting import start_job


def cancel_job(job: BackgroundJob, by=None) -> bool:
    """Cancel a queued job at once, or a processing one at its next checkpoint. False if it had already finished."""
    with transaction.atomic():
        done = BackgroundJob.objects.filter(pk=job.pk, status__in=ACTIVE_STATUSES).update(
            status=JobStatus.CANCELLED, current_step="Cancelled", completed_at=timezone.now()
        )
        if done:
            who = f" by {by.email}" if by is not None and getattr(by, "email", None) else ""
            log_event(job, f"Cancelled{who}.", JobEvent.Level.WARNING)
            stopped(job, f"The job was cancelled{who}.")
    job.refresh_from_db()
    return bool(done)


def retry_job(job: BackgroundJob, by=None) -> BackgroundJob:
    """Start a failed or cancelled job again as a new job with the same input, through the same checks as a first
    start (a grading job: plan limit, budget, scripts already being graded). The old job records its replacement."""
    if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
        raise PermanentJobError("Only a failed or cancelled job can be retried.", code="JOB_NOT_RETRYABLE")
    if job.files_removed_at is not None:
        raise PermanentJobError(
            f"This job's files and input were removed on {job.files_removed_at:%d %b %Y}, so it cannot be retried; "
            "upload the scripts again.",
            code="JOB_EXPIRED",
        )
    from quizmarker.broker import require_broker

    require_broker()  # a 503 while the job queue is down, before the new job is created
    with transaction.atomic():
        if job.job_type in RETRY_STARTERS:
            new_job = import_string(RETRY_STARTERS[job.job_type])(job, by or job.user)
        else:
            if job.job_type == JobType.EXTRACTION and (job.input or {}).get("grade"):
                from grading.services import check_plan_limit  # it grades once read: the upload's early check

                check_plan_limit(job.organization, 1)
            new_job = start_job(
                organization=job.organization,
                job_type=job.job_type,
                user=by or job.user,
                input=job.input,
                session=job.session,
                priority=job.priority,
            )
        BackgroundJob.objects.filter(pk=job.pk).update(retried_as=new_job.pk)
    return new_job
