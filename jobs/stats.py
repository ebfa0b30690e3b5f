"""Job statistics: the aggregates they need, and the figures GET /api/v1/jobs/stats reports."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Aggregate, Avg, Count, F, FloatField, Max, Min
from django.db.models.expressions import Func
from django.utils import timezone


class Percentile(Aggregate):
    """PostgreSQL's percentile_cont(p) WITHIN GROUP (ORDER BY expr)."""

    function = "percentile_cont"
    name = "Percentile"
    output_field = FloatField()
    template = "%(function)s(%(percentile)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression, percentile: float, **extra):
        if not 0 <= percentile <= 1:
            raise ValueError("percentile must be between 0 and 1")
        super().__init__(expression, percentile=percentile, **extra)


class Epoch(Func):
    template = "EXTRACT(EPOCH FROM %(expressions)s)"
    output_field = FloatField()


def duration_seconds():
    return Epoch(F("completed_at") - F("started_at"))


def _timings(jobs) -> dict:
    """avg/min/max/p95 of completed jobs' durations in seconds (None when there are none), and how many."""
    timings = jobs.filter(status="completed", started_at__isnull=False, completed_at__isnull=False).aggregate(
        avg=Avg(duration_seconds()),
        min=Min(duration_seconds()),
        max=Max(duration_seconds()),
        p95=Percentile(duration_seconds(), percentile=0.95),
        n=Count("id"),
    )
    figures = {key: (round(float(value), 3) if value is not None else None) for key, value in timings.items()}
    return {key: figures[key] for key in ("avg", "min", "max", "p95")} | {"completed_jobs": timings["n"]}


def job_stats(jobs, window_hours: int = 24) -> dict:
    """Figures over the jobs accepted in the last ``window_hours`` (job rows are kept JOB_HISTORY_DAYS, so any window
    up to that is whole), plus what is pending and running now. ``jobs``: the jobs the caller may see."""
    from jobs.models import ACTIVE_STATUSES, JobStatus, JobType

    now = timezone.now()
    recent = jobs.filter(created_at__gte=now - timedelta(hours=window_hours))
    by_status = {row["status"]: row["n"] for row in recent.values("status").annotate(n=Count("id")).order_by()}
    by_type = {row["job_type"]: row["n"] for row in recent.values("job_type").annotate(n=Count("id")).order_by()}
    current = {
        row["status"]: row["n"]
        for row in jobs.filter(status__in=ACTIVE_STATUSES).values("status").annotate(n=Count("id")).order_by()
    }
    oldest = jobs.filter(status=JobStatus.QUEUED).order_by("created_at").values_list("created_at", flat=True).first()
    oldest_age = round((now - oldest).total_seconds(), 1) if oldest else None
    return {
        "window_hours": window_hours,
        "total": sum(by_status.values()),
        "by_status": {status: by_status.get(status, 0) for status in JobStatus.values},
        "by_type": {job_type: by_type.get(job_type, 0) for job_type in JobType.values},
        "processing_time_seconds": _timings(recent),
        "grading_duration_seconds": _timings(recent.filter(job_type=JobType.GRADING)),
        "pending": current.get(JobStatus.QUEUED, 0),
        "processing": current.get(JobStatus.PROCESSING, 0),
        "oldest_pending_age_seconds": oldest_age,
        "oldest_queued_age_seconds": oldest_age,
        "active_sessions": jobs.filter(status__in=ACTIVE_STATUSES, session__isnull=False)
        .values("session")
        .distinct()
        .count(),
    }


def queue_health() -> dict:
    """Across all organizations: queued and processing counts and the oldest queued job's age (the health check)."""
    from jobs.models import BackgroundJob, JobStatus

    oldest = (
        BackgroundJob.objects.filter(status=JobStatus.QUEUED)
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    return {
        "queued": BackgroundJob.objects.filter(status=JobStatus.QUEUED).count(),
        "processing": BackgroundJob.objects.filter(status=JobStatus.PROCESSING).count(),
        "oldest_queued_age_seconds": round((timezone.now() - oldest).total_seconds(), 1) if oldest else None,
    }
