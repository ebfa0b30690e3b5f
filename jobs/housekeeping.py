"""Scheduled work that keeps jobs trustworthy: publish what was never published, rescue what got stuck, and remove
what expired. Beat runs these in the public schema; per-tenant work loops over organizations explicitly."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import redis
from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from jobs.job_log import log_event
from jobs.models import BackgroundJob, JobEvent, JobStatus
from jobs.running import fail, limit_text
from jobs.starting import publish
from quizmarker.broker import broker_forgot_since

logger = logging.getLogger(__name__)

# A published message that nobody started after this long is assumed lost (Redis restarted without persistence).
REPUBLISH_AFTER = timedelta(minutes=30)


REQUEUED_UNPUBLISHED = "Handed to a worker again: requeued after a broker outage (the message queue was unavailable)."
REQUEUED_FORGOTTEN = (
    "Handed to a worker again: requeued after a broker outage (the message queue came back without its messages)."
)


def sweep_queued_jobs() -> int:
    """Publish queued jobs that have no message: the broker was down when they were accepted, lost the message, or
    came back empty after an outage (then every queued job is published again under a fresh message id, and a
    message that survived somewhere finds its job handed to the new one: jobs.running.execute)."""
    try:
        forgot_since = broker_forgot_since()
    except redis.RedisError as exc:
        logger.warning("Sweeper: the broker is unavailable, nothing can be published yet: %s", exc)
        return 0
    now = timezone.now()
    unpublished = Q(
        enqueued_at__isnull=True, created_at__lte=now - timedelta(seconds=settings.JOB_SWEEP_AFTER_SECONDS)
    ) & (Q(not_before__isnull=True) | Q(not_before__lte=now))  # a retry waits out its backoff first
    lost = Q(enqueued_at__lte=now - REPUBLISH_AFTER) & (
        Q(not_before__isnull=True) | Q(not_before__lte=now - REPUBLISH_AFTER)
    )
    # A retry that waited for its countdown but whose message was never published.
    retry_due = Q(enqueued_at__isnull=True, not_before__lte=now)
    queued = BackgroundJob.objects.filter(status=JobStatus.QUEUED)
    count = 0
    if forgot_since is not None:  # the broker restarted empty: what was published to it before is gone
        cutoff = datetime.fromtimestamp(forgot_since, tz=UTC)
        forgotten = queued.filter(enqueued_at__isnull=False, enqueued_at__lt=cutoff).order_by("created_at")
        for job_id, not_before in forgotten.values_list("pk", "not_before"):
            wait = (not_before - now).total_seconds() if not_before else None  # a retry keeps its backoff
            if publish(job_id, countdown=wait if wait and wait > 0 else None):
                log_event(job_id, REQUEUED_FORGOTTEN, JobEvent.Level.WARNING)
                count += 1
        if count:
            logger.warning("Sweeper: the broker came back empty; %d queued job(s) published again.", count)
    for job_id in (
        queued.filter(unpublished | lost | retry_due).order_by("created_at").values_list("pk", flat=True)[:500]
    ):
        if publish(job_id):
            log_event(job_id, REQUEUED_UNPUBLISHED, JobEvent.Level.WARNING)
            count += 1
    return count


def reap_stuck_jobs() -> int:
    """Rescue processing jobs whose worker is gone or that ran past their hard time limit.

    A running job's heartbeat is stamped every JOB_HEARTBEAT_SECONDS by its process's heartbeat thread
    (jobs.heartbeats), so a job silent for JOB_SILENT_AFTER_SECONDS has lost its process: its worker died, or died and
    came back under the same name (a restarted container), which pinging the workers cannot tell."""
    now = timezone.now()
    silent_since = now - timedelta(seconds=settings.JOB_SILENT_AFTER_SECONDS)
    rescued = 0
    for job in BackgroundJob.objects.filter(status=JobStatus.PROCESSING).select_related("organization"):
        _, hard = settings.JOB_TIME_LIMITS[job.job_type]
        attempt_start = job.attempt_started_at or job.started_at
        overdue = attempt_start and attempt_start < now - timedelta(seconds=hard + 60)
        silent = job.heartbeat_at is None or job.heartbeat_at < silent_since
        if not (overdue or silent):
            continue
        reason = (
            f"it ran past its {limit_text(hard)} limit"
            if overdue
            else f"its worker ({job.worker or 'unknown'}) stopped while running it"
        )
        if job.retry_count < job.max_retries:
            moved = BackgroundJob.objects.filter(
                pk=job.pk, status=JobStatus.PROCESSING, celery_task_id=job.celery_task_id
            ).update(status=JobStatus.QUEUED, retry_count=F("retry_count") + 1, current_step="Waiting for a worker")
            if moved:
                log_event(job, f"Re-queued because {reason}.", JobEvent.Level.WARNING)
                publish(job.pk)
                rescued += 1
        elif fail(
            job, job.celery_task_id, f"The job was stopped because {reason}, and it had no retries left.", "JOB_STUCK"
        ):
            rescued += 1
    return rescued


def cleanup_expired_jobs() -> int:
    """Step 1 of retention: remove expired jobs' files and input/result; the rows and logs stay (jobs.retention)."""
    from jobs.retention import remove_expired_files

    return remove_expired_files()


def remove_old_job_history() -> int:
    """Step 2 of retention: delete job rows, logs and sessions older than JOB_HISTORY_DAYS (jobs.retention)."""
    from jobs.retention import remove_old_history

    return remove_old_history()[0]


def remove_orphaned_uploads() -> int:
    """Remove stored upload folders whose job no longer exists (e.g. a crash between storing and recording)."""
    from grading.storage import remove_orphaned_upload_dirs

    return remove_orphaned_upload_dirs(min_age=timedelta(hours=1))
