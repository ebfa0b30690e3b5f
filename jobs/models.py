"""Background jobs, in the public schema so ops see every organization's jobs in one place.

A job holds references only (ids, counts, file names we generated): student names, answers and grades stay in the
organization's schema.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone


class JobType(models.TextChoices):
    EXTRACTION = "extraction", "Extraction"
    GRADING = "grading", "Grading"
    EMAIL = "email", "Email"
    SCHEME_IMPORT = "scheme_import", "Mark scheme import"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    PROCESSING = "processing", "Processing"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.PROCESSING)
FINISHED_STATUSES = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


class Priority(models.TextChoices):
    """What the person who started a job asked for (owners and admins may ask for high): a high job is handed to a
    worker first and its AI calls go before its organization's other calls, within the organization's fair share
    (jobs.fairness, grading.limiter). Which queue a job goes to is its type's (jobs.registry.QUEUES), not this."""

    NORMAL = "normal", "Normal"
    HIGH = "high", "High"


def _default_expiry():
    return timezone.now() + timedelta(hours=settings.JOB_EXPIRY_HOURS)


class GradingSession(models.Model):
    """A batch of scripts uploaded together. Its status is derived from its jobs."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.CASCADE, related_name="grading_sessions"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="grading_sessions"
    )
    label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.label or f"Session of {self.created_at:%d %b %Y %H:%M}"

    @property
    def status(self) -> str:
        """Derived from the latest attempt of each piece of work: a job that was retried, and a grading job whose
        scripts have all been handed to a newer grading job, no longer count. Read it in the organization's schema
        (it looks at the session's scripts)."""
        from grading.models import Submission

        jobs = list(self.jobs.filter(retried_as__isnull=True).values_list("pk", "job_type", "status"))
        if not jobs:
            return "empty"
        finished_grading = [pk for pk, kind, status in jobs if kind == JobType.GRADING and status in FINISHED_STATUSES]
        current = set(
            Submission.objects.filter(grading_job_id__in=finished_grading).values_list("grading_job_id", flat=True)
            if finished_grading
            else []
        )
        statuses = {
            status for pk, kind, status in jobs if kind != JobType.GRADING or status in ACTIVE_STATUSES or pk in current
        }
        if JobStatus.FAILED in statuses:
            return "needs_attention"
        if statuses & {JobStatus.QUEUED, JobStatus.PROCESSING}:
            return "in_progress"
        if statuses == {JobStatus.CANCELLED}:
            return "cancelled"
        return "completed"


# The fields of a job whose change watchers see (jobs.live publishes it).
WATCHED_FIELDS = frozenset({"status", "progress", "current_step"})


def _announced(done: int, ids: list, updates: dict) -> int:
    """Publish (after commit) the jobs an UPDATE matched, if it wrote a field watchers see; returns ``done``."""
    if done and ids and updates.keys() & WATCHED_FIELDS:
        from jobs.live import changed

        changed(ids, status=updates.get("status"))
    return done


class JobQuerySet(models.QuerySet):
    """The one door for writing a job's status, progress or step: each such write is published after commit to
    whoever watches the job (jobs/live.py) and counted (quizmarker/metrics.py)."""

    def update(self, **kwargs):
        if not kwargs.keys() & WATCHED_FIELDS:
            return super().update(**kwargs)
        ids = list(self.values_list("pk", flat=True))  # what to publish: read first, the UPDATE may unmatch them
        return _announced(super().update(**kwargs), ids, kwargs)

    def update_job(self, pk, **kwargs) -> int:
        """``filter(pk=pk).update(**kwargs)`` for the one job whose id the caller has (the engine's conditional
        updates of a job it runs): published the same way, without first reading which ids the UPDATE will match.
        Returns 1 if the job matched, else 0."""
        return _announced(super(JobQuerySet, self.filter(pk=pk)).update(**kwargs), [pk], kwargs)

    def create(self, **kwargs):
        job = super().create(**kwargs)
        from jobs.live import changed

        changed([job.pk], status=job.status)
        return job


class BackgroundJob(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No index of its own: job_org_status_created starts with it. With fresh statistics PostgreSQL chose a separate
    # one for the status poll and filtered all of the organization's jobs.
    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.CASCADE, related_name="jobs", db_index=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    session = models.ForeignKey(GradingSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs")
    job_type = models.CharField(max_length=20, choices=JobType.choices, db_index=True)
    status = models.CharField(max_length=20, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    progress = models.PositiveSmallIntegerField(default=0)
    current_step = models.CharField(max_length=300, default="Waiting for a worker")
    input = models.JSONField(default=dict, blank=True)
    result = models.JSONField(null=True, blank=True)
    error_message = models.TextField(blank=True)
    error_code = models.CharField(max_length=60, blank=True)
    retry_count = models.PositiveSmallIntegerField(default=0)
    max_retries = models.PositiveSmallIntegerField(default=3)
    # The id of the one Celery message allowed to run this job now; stale or duplicate messages are ignored.
    celery_task_id = models.CharField(max_length=64, blank=True, db_index=True)
    worker = models.CharField(max_length=200, blank=True, help_text="The worker that last ran the job.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    enqueued_at = models.DateTimeField(
        null=True, blank=True, help_text="When the message was last handed to the broker."
    )
    not_before = models.DateTimeField(null=True, blank=True, help_text="A retry waits until then.")
    started_at = models.DateTimeField(null=True, blank=True)
    attempt_started_at = models.DateTimeField(null=True, blank=True, help_text="When the current attempt started.")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(default=_default_expiry, db_index=True)
    files_removed_at = models.DateTimeField(
        null=True, blank=True, help_text="When its files and input/result were removed at expiry; the row stays."
    )
    retried_as = models.UUIDField(null=True, blank=True, help_text="The job that started this one again.")

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["organization", "status", "-created_at"], name="job_org_status_created"),
            models.Index(fields=["status", "enqueued_at"], name="job_status_enqueued"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(progress__gte=0, progress__lte=100), name="job_progress_0_100"),
        ]

    def __str__(self) -> str:
        return f"{self.get_job_type_display()} job {self.id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.completed_at:
            return (self.completed_at - self.started_at).total_seconds()
        return None

    @property
    def wait_seconds(self) -> float | None:
        if self.started_at:
            return (self.started_at - self.created_at).total_seconds()
        return None


class Alert(models.Model):
    """Something ops should know about (jobs/alerts.py): open until its problem is gone, then resolved."""

    key = models.CharField(max_length=100, help_text="What it is about: stuck_jobs, queue_age, budget:<slug>...")
    title = models.CharField(max_length=200)
    detail = models.TextField()
    opened_at = models.DateTimeField()
    checked_at = models.DateTimeField(help_text="When the check last saw it.")
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(fields=["key"], condition=models.Q(resolved_at__isnull=True), name="alert_one_open")
        ]

    def __str__(self) -> str:
        return self.title


class JobEvent(models.Model):
    """What happened to a job, in sentences a user can read (no student data)."""

    class Level(models.TextChoices):
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        ERROR = "error", "Error"

    job = models.ForeignKey(BackgroundJob, on_delete=models.CASCADE, related_name="events")
    session = models.ForeignKey(GradingSession, null=True, blank=True, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    level = models.CharField(max_length=10, choices=Level.choices, default=Level.INFO)
    message = models.CharField(max_length=500)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.at:%H:%M:%S} {self.level}: {self.message}"


class SentEmail(models.Model):
    """One row per email job, written before sending: the guard that makes every email go out at most once."""

    job = models.OneToOneField(BackgroundJob, on_delete=models.CASCADE, related_name="sent_email")
    kind = models.CharField(max_length=60)
    recipients = models.CharField(max_length=500)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.kind} to {self.recipients}"
