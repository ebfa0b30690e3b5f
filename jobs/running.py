"""Running a job: one attempt on a worker (``execute``) or in-process (``run_inline``), what its work sees
(``JobContext``: progress, checkpoints, the conditional finish), and how it ends: completed, retried with backoff, or
failed. Every status change is a conditional UPDATE, so a late, repeated or stale message can never move a job that
has finished or been handed to another attempt. Tasks in ``jobs.tasks`` are thin wrappers around :func:`execute`.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import redis.exceptions
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.module_loading import import_string

from jobs.errors import JobCancelled, JobError
from jobs.events import job_finished
from jobs.heartbeats import heartbeat
from jobs.job_log import log_event
from jobs.models import ACTIVE_STATUSES, BackgroundJob, JobEvent, JobStatus
from jobs.registry import HANDLERS, stopped
from jobs.starting import publish
from quizmarker.events import send_on_commit
from quizmarker.schemas import in_schema

logger = logging.getLogger(__name__)


# Exceptions from the outside world that are worth another try.
TRANSIENT_EXCEPTIONS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    ConnectionError,
    TimeoutError,
)


@dataclass
class JobContext:
    """What a job's work sees: the job, progress reporting, checkpoints and the conditional finish."""

    job: BackgroundJob
    task_id: str
    # time.monotonic() past which the job must stop: its soft time limit, enforced at every checkpoint. (The
    # prefork pool also enforces it with a signal; the threads pool that runs AI jobs cannot, so this does.)
    deadline: float | None = None

    def _attempt(self):
        """The jobs this attempt still runs: its job, unless the job was cancelled or handed to another attempt."""
        return BackgroundJob.objects.filter(celery_task_id=self.task_id, status=JobStatus.PROCESSING)

    def _check_deadline(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise SoftTimeLimitExceeded()

    def progress(self, percent: float, step: str | None = None) -> None:
        """Record progress (it never goes backwards) and act as a checkpoint for cancellation and the time limit."""
        self._check_deadline()
        percent = max(0, min(100, int(percent)))
        updates: dict[str, Any] = {"progress": Greatest(F("progress"), percent), "heartbeat_at": timezone.now()}
        if step:
            updates["current_step"] = step[:300]
        if not self._attempt().update_job(self.job.pk, **updates):
            raise JobCancelled()

    def checkpoint(self) -> None:
        self._check_deadline()
        if not self._attempt().filter(pk=self.job.pk).exists():
            raise JobCancelled()

    def callback(self, start: float, end: float, total: int, step: str) -> Callable[[int], None]:
        """A progress callback for loops: ``cb(i)`` after item i of ``total`` maps onto start..end percent;
        ``step`` may use {done} and {total}."""

        def report(done: int) -> None:
            fraction = done / total if total else 1.0
            self.progress(start + (end - start) * fraction, step.format(done=done, total=total))

        return report

    def log(self, message: str, level: str = JobEvent.Level.INFO) -> None:
        log_event(self.job, message, level)

    def complete(self, result: dict) -> None:
        """Mark the job completed. Call it inside the transaction that writes the job's records, so a job cancelled in
        the meantime raises JobCancelled and rolls them back: nothing half-written."""
        done = self._attempt().update_job(
            self.job.pk,
            status=JobStatus.COMPLETED,
            progress=100,
            current_step="Done",
            result=result,
            completed_at=timezone.now(),
            heartbeat_at=timezone.now(),
        )
        if not done:
            raise JobCancelled()
        # In the same transaction as the status, so whoever sees "completed" also sees its log line.
        log_event(self.job, "Completed.")
        finished(self.job, JobStatus.COMPLETED)
        self.job.status = JobStatus.COMPLETED
        self.job.result = result


def execute(job_id: str, task_id: str, worker: str = "") -> str:
    """Run one attempt of a job. Returns what happened (for the task's result record)."""
    job = BackgroundJob.objects.select_related("organization", "user").filter(pk=job_id).first()
    if job is None:
        logger.warning("Job %s no longer exists; message dropped.", job_id)
        return "missing"
    if job.celery_task_id != task_id:
        logger.info("Stale message %s for job %s ignored (current %s).", task_id, job_id, job.celery_task_id)
        return "stale"
    resumed = job.status == JobStatus.PROCESSING
    if resumed and job.retry_count >= job.max_retries:
        # The message came back because the worker running it died (reject_on_worker_lost): a job that kills its
        # worker on every attempt must not be redelivered forever.
        lost = f"The worker running this job stopped unexpectedly on each of its {job.retry_count + 1} attempts"
        failed = fail(
            job, task_id, f"{lost} (it may need more memory than a worker has), so it was not run again.", "WORKER_LOST"
        )
        return "failed" if failed else "finished"
    now = timezone.now()
    claim = {
        "status": JobStatus.PROCESSING,
        "started_at": Coalesce(F("started_at"), now),
        "attempt_started_at": now,
        "heartbeat_at": now,
        "worker": worker[:200],
        "not_before": None,
        "current_step": "Starting",
        "retry_count": F("retry_count") + (1 if resumed else 0),  # a lost worker's attempt counts as a retry
    }
    if not BackgroundJob.objects.filter(celery_task_id=task_id, status__in=ACTIVE_STATUSES).update_job(job.pk, **claim):
        return "finished"
    job.refresh_from_db(fields=list(claim))  # only what the claim wrote: the organization and user loaded stay
    if resumed:
        log_event(
            job,
            "The worker running this job stopped unexpectedly; running it again from the start.",
            JobEvent.Level.WARNING,
        )
    else:
        attempt = f" (attempt {job.retry_count + 1})" if job.retry_count else ""
        log_event(job, f"Started{attempt}.")
    soft, _ = settings.JOB_TIME_LIMITS[job.job_type]
    context = JobContext(job=job, task_id=task_id, deadline=time.monotonic() + soft)
    handler = import_string(HANDLERS[job.job_type])
    try:
        with heartbeat(job.pk, task_id), in_schema(job.organization.schema_name):
            result = handler(context)
            if job.status != JobStatus.COMPLETED:
                with transaction.atomic():
                    context.complete(result or {})
        return "completed"
    except JobCancelled:
        if BackgroundJob.objects.filter(pk=job.pk, status=JobStatus.CANCELLED).exists():
            log_event(job, "Stopped: the job was cancelled.", JobEvent.Level.WARNING)
        else:  # the reaper handed it to a new attempt while this one could not report (e.g. a database outage)
            log_event(job, "Stopped: this attempt was replaced by a new one.", JobEvent.Level.WARNING)
        return "cancelled"
    except SoftTimeLimitExceeded:
        fail(job, task_id, f"The job took longer than its {limit_text(soft)} limit and was stopped.", "JOB_TIMEOUT")
        return "failed"
    except JobError as exc:
        if exc.transient:
            return retry_or_fail(job, task_id, exc.message, exc.code, getattr(exc, "retry_after", None))
        fail(job, task_id, exc.message, exc.code)
        return "failed"
    except TRANSIENT_EXCEPTIONS as exc:
        return retry_or_fail(job, task_id, f"A connection failed ({type(exc).__name__}).", "TEMPORARY_FAILURE", None)
    except Exception:
        logger.exception("Job %s failed unexpectedly", job.pk)
        fail(
            job,
            task_id,
            "An unexpected error stopped this job; the team has been notified. Try again, or ask "
            "support if it keeps happening.",
            "INTERNAL_ERROR",
        )
        return "failed"


def limit_text(seconds: int) -> str:
    """A time limit as words: "14 minute", or "45 second" under two minutes."""
    return f"{seconds // 60} minute" if seconds >= 120 else f"{seconds} second"


def run_inline(job: BackgroundJob) -> str:
    """Run a queued job in this process instead of on a worker (``grade_quiz --sync``): same engine, no broker."""
    task_id = f"inline-{uuid.uuid4()}"
    BackgroundJob.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
        celery_task_id=task_id, enqueued_at=timezone.now()
    )
    outcome = execute(str(job.pk), task_id, worker="inline")
    job.refresh_from_db()
    if outcome == "retrying" and job.status == JobStatus.QUEUED:
        time.sleep(max(0.0, (job.not_before - timezone.now()).total_seconds()) if job.not_before else 0.0)
        return run_inline(job)
    return outcome


def backoff_seconds(retry_count: int, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter, at least the provider's Retry-After."""
    ceiling = min(settings.JOB_RETRY_BACKOFF_MAX, settings.JOB_RETRY_BACKOFF_BASE * (2**retry_count))
    delay = random.uniform(ceiling / 2, ceiling)
    if retry_after:
        delay = max(delay, float(retry_after))
    return round(delay, 2)


def retry_or_fail(job: BackgroundJob, task_id: str, message: str, code: str, retry_after: float | None) -> str:
    if job.retry_count >= job.max_retries:
        failed = fail(job, task_id, f"{message} Gave up after {job.retry_count + 1} attempts.", code)
        return "failed" if failed else "finished"
    delay = backoff_seconds(job.retry_count, retry_after)
    moved = BackgroundJob.objects.filter(celery_task_id=task_id, status=JobStatus.PROCESSING).update_job(
        job.pk,
        status=JobStatus.QUEUED,
        retry_count=F("retry_count") + 1,
        not_before=timezone.now() + timedelta(seconds=delay),
        current_step=f"Waiting {delay:.0f} s to retry after a temporary problem",
    )
    if not moved:
        return "cancelled"
    log_event(
        job,
        f"Temporary problem: {message} Retrying in {delay:.0f} s (retry {job.retry_count + 1} of {job.max_retries}).",
        JobEvent.Level.WARNING,
    )
    publish(job.pk, countdown=delay)
    return "retrying"


def fail(job: BackgroundJob, task_id: str | None, message: str, code: str) -> bool:
    filters = Q(status__in=ACTIVE_STATUSES)
    if task_id:
        filters &= Q(celery_task_id=task_id)
    with transaction.atomic():  # the status and its log line are seen together
        done = BackgroundJob.objects.filter(filters).update_job(
            job.pk,
            status=JobStatus.FAILED,
            error_message=message,
            error_code=code,
            current_step="Failed",
            completed_at=timezone.now(),
        )
        if done:
            log_event(job, f"Failed: {message}", JobEvent.Level.ERROR)
            stopped(job, message)
            finished(job, JobStatus.FAILED)
    return bool(done)


def finished(job: BackgroundJob, status: str) -> None:
    """Announce that ``job`` reached ``status`` (jobs.events.job_finished), once the transaction commits: listeners
    (webhooks, say) never block or fail the job."""
    send_on_commit(
        job_finished,
        BackgroundJob,
        job_id=job.pk,
        organization_id=job.organization_id,
        job_type=job.job_type,
        status=status,
    )
