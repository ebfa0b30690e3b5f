"""Celery tasks: thin wrappers that hand a job id to the jobs engine, plus scheduled housekeeping."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from jobs import housekeeping
from jobs.services import execute


def _job_task(job_type: str):
    soft, hard = settings.JOB_TIME_LIMITS[job_type]

    @shared_task(
        bind=True,
        name=f"jobs.tasks.run_{job_type}",
        soft_time_limit=soft,
        time_limit=hard,
        acks_late=True,
        reject_on_worker_lost=True,
    )
    def run(self, job_id: str) -> str:
        return execute(job_id, self.request.id, self.request.hostname or "")

    return run


run_extraction = _job_task("extraction")
run_grading = _job_task("grading")
run_email = _job_task("email")


@shared_task(name="jobs.tasks.sweep_queued_jobs")
def sweep_queued_jobs() -> int:
    return housekeeping.sweep_queued_jobs()


@shared_task(name="jobs.tasks.reap_stuck_jobs")
def reap_stuck_jobs() -> int:
    return housekeeping.reap_stuck_jobs()


@shared_task(name="jobs.tasks.cleanup_expired_jobs")
def cleanup_expired_jobs() -> int:
    return housekeeping.cleanup_expired_jobs()


@shared_task(name="jobs.tasks.remove_orphaned_uploads")
def remove_orphaned_uploads() -> int:
    return housekeeping.remove_orphaned_uploads()
