"""How long job records are kept, in two steps.

1. At expiry (``expires_at``, JOB_EXPIRY_HOURS after the job was accepted) a finished job's uploaded files and its
   input/result are removed: learners' pages do not linger. The row stays, says when its files went
   (``files_removed_at``), and keeps its log.
2. After JOB_HISTORY_DAYS the job rows, their logs (JobEvent) and the sessions left without jobs are deleted.

Neither step touches the usage ledger (organizations.UsageMonth) or the AI calls (ProviderCall). Each job's step 1 and
each batch of step 2 is its own transaction, so a run killed half-way leaves nothing half-done: the next run finishes
the rest. Beat runs each step on its own schedule (jobs.tasks); ``manage.py cleanup_jobs`` runs both by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from jobs.models import FINISHED_STATUSES, BackgroundJob, GradingSession, JobEvent

BATCH = 500


@dataclass
class CleanupReport:
    dry_run: bool
    files_removed: int = 0
    jobs_deleted: int = 0
    events_deleted: int = 0
    sessions_deleted: int = 0

    def lines(self) -> list[str]:
        verb = "Would remove" if self.dry_run else "Removed"
        return [
            f"{verb} the files and input/result of {self.files_removed} expired job(s).",
            f"{verb} {self.jobs_deleted} job(s) older than {settings.JOB_HISTORY_DAYS} days, with "
            f"{self.events_deleted} log line(s), and {self.sessions_deleted} session(s) left without jobs.",
        ]


def expired_jobs(now: datetime | None = None, older_than_hours: int | None = None):
    """Finished jobs whose files are still kept and are due to go: past their expiry, or (by hand) finished more than
    ``older_than_hours`` ago."""
    now = now or timezone.now()
    due = Q(expires_at__lte=now)
    if older_than_hours is not None:
        due |= Q(completed_at__lte=now - timedelta(hours=older_than_hours))
    return BackgroundJob.objects.filter(due, status__in=FINISHED_STATUSES, files_removed_at__isnull=True)


def remove_expired_files(
    now: datetime | None = None, older_than_hours: int | None = None, dry_run: bool = False
) -> int:
    """Step 1: remove expired jobs' uploaded files and input/result, keeping the job row and its log."""
    from grading.storage import delete_job_files
    from jobs.job_log import log_event

    now = now or timezone.now()
    due = expired_jobs(now, older_than_hours)
    if dry_run:
        return due.count()
    count = 0
    for job in due.select_related("organization").iterator():
        delete_job_files(job)  # first: a run killed after this finds the job again and deletes nothing twice
        with transaction.atomic():
            if BackgroundJob.objects.filter(pk=job.pk, files_removed_at__isnull=True).update(
                files_removed_at=now, input={}, result=None
            ):
                log_event(job, "The uploaded files and the job's input and result were removed, as they expired.")
                count += 1
    return count


def history_cutoff(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=settings.JOB_HISTORY_DAYS)


def old_jobs(now: datetime | None = None, files_gone: bool = True):
    """Finished jobs past JOB_HISTORY_DAYS, by default only those whose files have already gone: step 1 always comes
    first (JOB_HISTORY_DAYS is longer than JOB_EXPIRY_HOURS, so every such job is past its expiry too)."""
    cutoff = history_cutoff(now)
    jobs = BackgroundJob.objects.filter(
        Q(completed_at__lt=cutoff) | Q(completed_at__isnull=True, created_at__lt=cutoff), status__in=FINISHED_STATUSES
    )
    return jobs.filter(files_removed_at__isnull=False) if files_gone else jobs


def remove_old_history(now: datetime | None = None, dry_run: bool = False) -> tuple[int, int, int]:
    """Step 2: delete job rows and logs past JOB_HISTORY_DAYS, then sessions that old with no jobs left.
    Returns (jobs, log lines, sessions)."""
    now = now or timezone.now()
    old = old_jobs(now, files_gone=not dry_run)  # a dry run counts what a full run would delete after step 1
    stale_sessions = GradingSession.objects.filter(created_at__lt=history_cutoff(now))
    if dry_run:
        kept = BackgroundJob.objects.filter(session=OuterRef("pk")).exclude(pk__in=old.values("pk"))
        return (
            old.count(),
            JobEvent.objects.filter(job__in=old).count(),
            stale_sessions.exclude(Exists(kept)).count(),
        )
    jobs = events = 0
    while ids := list(old.values_list("pk", flat=True)[:BATCH]):
        with transaction.atomic():
            events += JobEvent.objects.filter(job_id__in=ids).delete()[0]
            deleted = BackgroundJob.objects.filter(pk__in=ids).delete()[1]
            jobs += deleted.get(BackgroundJob._meta.label, 0)
    sessions = stale_sessions.exclude(Exists(BackgroundJob.objects.filter(session=OuterRef("pk")))).delete()[1]
    return jobs, events, sessions.get(GradingSession._meta.label, 0)


def cleanup_jobs(
    now: datetime | None = None, older_than_hours: int | None = None, dry_run: bool = False
) -> CleanupReport:
    """Both steps, in order: what beat runs on its two schedules, and ``manage.py cleanup_jobs``."""
    now = now or timezone.now()
    report = CleanupReport(dry_run=dry_run)
    report.files_removed = remove_expired_files(now, older_than_hours, dry_run)
    report.jobs_deleted, report.events_deleted, report.sessions_deleted = remove_old_history(now, dry_run)
    return report
