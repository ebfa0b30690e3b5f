"""Celery tasks: thin wrappers that hand a job id to the jobs engine, plus scheduled housekeeping."""

from __future__ import annotations

import time

from celery import shared_task
from celery.exceptions import Reject
from django.conf import settings
from django.db import InterfaceError, OperationalError, connections
from tenant_schemas_celery.app import get_schema_name_from_task

from jobs import fairness, housekeeping
from jobs.registry import QUEUES
from jobs.running import execute

DATABASE_OUTAGE_PAUSE = 2.0  # seconds before a message is handed back while the database is unreachable


def _drop_broken_connections() -> None:
    for connection in connections.all(initialized_only=True):
        try:
            connection.close()
        except Exception:  # noqa: BLE001 - a broken connection may fail to close; it is discarded either way
            connection.connection = None


def _job_task(job_type: str):
    soft, hard = settings.JOB_TIME_LIMITS[job_type]

    same_queue = [other for other, queue in QUEUES.items() if queue == QUEUES[job_type]]

    @shared_task(
        bind=True,
        name=f"jobs.tasks.run_{job_type}",
        queue=QUEUES[job_type],  # also when sent without one (the engine always names it); routes say high otherwise
        soft_time_limit=soft,
        time_limit=hard,
        acks_late=True,
        reject_on_worker_lost=True,
        # The job's own row is its record (status, result, log). Writing Celery's result row too added a database
        # write after the job had finished, outside its transaction: during a database outage that write failed in
        # the worker after the message was taken, and the job stayed "processing" until the reaper's time limit.
        # (It also skips the STARTED row that task_track_started writes before the task runs.)
        ignore_result=True,
    )
    def run(self, job_id: str) -> str:
        share = get_schema_name_from_task(self, {}) or ""
        with fairness.worker_turn(share, lambda: fairness.others_queued(share, same_queue)) as admitted:
            if not admitted:
                # Its organization's jobs hold every thread but the reserve kept for others' (jobs.fairness): the
                # message goes back to the end of its queue, and this thread to whatever comes first.
                time.sleep(fairness.DEFER_PAUSE_SECONDS)
                raise fairness.HandedBack("its organization's jobs hold this worker's threads", requeue=True)
            return _execute(self, job_id)

    return run


def _execute(task, job_id: str) -> str:
    try:
        return execute(job_id, task.request.id, task.request.hostname or "")
    except (OperationalError, InterfaceError) as exc:
        # The database went away (a restart, a failover) so even the attempt's outcome could not be recorded.
        # Put the message back instead of acknowledging it, which would leave the job "processing" until the
        # reaper's time limit: it runs again from the start once the database answers.
        _drop_broken_connections()
        time.sleep(DATABASE_OUTAGE_PAUSE)
        raise Reject(exc, requeue=True) from exc


run_extraction = _job_task("extraction")
run_grading = _job_task("grading")
run_email = _job_task("email")
run_scheme_import = _job_task("scheme_import")


@shared_task(name="jobs.tasks.sweep_queued_jobs")
def sweep_queued_jobs() -> int:
    return housekeeping.sweep_queued_jobs()


@shared_task(name="jobs.tasks.reap_stuck_jobs")
def reap_stuck_jobs() -> int:
    return housekeeping.reap_stuck_jobs()


@shared_task(name="jobs.tasks.cleanup_expired_jobs")
def cleanup_expired_jobs() -> int:
    return housekeeping.cleanup_expired_jobs()


@shared_task(name="jobs.tasks.remove_old_job_history")
def remove_old_job_history() -> int:
    return housekeeping.remove_old_job_history()


@shared_task(name="jobs.tasks.remove_orphaned_uploads")
def remove_orphaned_uploads() -> int:
    return housekeeping.remove_orphaned_uploads()


@shared_task(name="jobs.tasks.check_alerts")
def check_alerts() -> dict:
    from jobs.alerts import check_alerts as check

    return check()
