"""Celery beat, with django-celery-beat's database schedules (created by a data migration), runs the housekeeping on
the worker: the sweeper publishes a job that never reached the broker, the reaper rescues a job whose worker is gone,
and the cleanup deletes an expired job."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from jobs.models import BackgroundJob, JobEvent
from tests.helpers import ROOT

pytestmark = [pytest.mark.worker]

HOUSEKEEPING = ("jobs.tasks.sweep_queued_jobs", "jobs.tasks.reap_stuck_jobs", "jobs.tasks.cleanup_expired_jobs")
NOTHING_TO_SEND = {"kind": "grading_complete", "submission_ids": []}  # an email job that completes with no email


@pytest.fixture
def every_second(live_db):
    """The housekeeping schedules run every second while the test runs; the migration's schedules come back after."""
    tasks = {task: PeriodicTask.objects.get(task=task) for task in HOUSEKEEPING}
    original = {task: periodic.interval_id for task, periodic in tasks.items()}
    second, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
    for periodic in tasks.values():
        periodic.interval = second
        periodic.save()
    yield
    for task, periodic in tasks.items():
        periodic.refresh_from_db()
        periodic.interval_id = original[task]
        periodic.save()


@pytest.fixture
def beat(celery_worker, every_second, tmp_path):
    """`celery beat` with the database scheduler, as `make beat` and the compose service run it."""
    log = (tmp_path / "beat.log").open("ab")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "quizmarker",
            "beat",
            "-S",
            "django_celery_beat.schedulers:DatabaseScheduler",
            "--pidfile=",
            "-s",
            str(tmp_path / "celerybeat-schedule"),
            "-l",
            "info",
        ],
        cwd=ROOT,
        env=celery_worker.env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    yield process
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.close()
    drop_leftover_housekeeping()


def drop_leftover_housekeeping() -> None:
    """Beat queued housekeeping every second; what the worker has not taken yet is redundant, and would keep it busy
    into the next test."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    key = f"{settings.REDIS_KEY_PREFIX}:high"
    for raw in client.lrange(key, 0, -1):
        if json.loads(raw)["headers"].get("task") in HOUSEKEEPING:
            client.lrem(key, 0, raw)
    client.close()


def wait_until(predicate, timeout: float, what: str, beat_process) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        assert beat_process.poll() is None, "celery beat exited"
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_beat_runs_the_sweeper_the_reaper_and_the_cleanup_on_the_worker(
    celery_worker, live_db, personas, make_job, tmp_path, request
):
    now = timezone.now()
    # Accepted a minute ago while the broker was down: no message was ever sent.
    unpublished = make_job(job_type="email", input=NOTHING_TO_SEND, created_at=now - timedelta(minutes=1))
    # Was running on a worker that no longer exists, silent for 100 s (within the email's time limit).
    stuck = make_job(
        job_type="email",
        status="processing",
        input=NOTHING_TO_SEND,
        celery_task_id="lost-with-its-worker",
        worker="gone@nowhere",
        created_at=now - timedelta(minutes=2),
        attempt_started_at=now - timedelta(seconds=100),
        heartbeat_at=now - timedelta(seconds=100),
    )
    # Finished and past its expiry.
    expired = make_job(job_type="email", status="completed", expires_at=now - timedelta(minutes=1))

    beat_process = request.getfixturevalue("beat")

    wait_until(
        lambda: BackgroundJob.objects.filter(pk=expired.pk, files_removed_at__isnull=False).exists(),
        timeout=30,
        what="the cleanup to remove the expired job's files (its row stays for JOB_HISTORY_DAYS)",
        beat_process=beat_process,
    )
    wait_until(
        lambda: all(job.is_finished for job in BackgroundJob.objects.filter(pk__in=[unpublished.pk, stuck.pk])),
        timeout=30,
        what="the swept and the reaped job to run",
        beat_process=beat_process,
    )

    unpublished.refresh_from_db()
    assert unpublished.status == "completed" and unpublished.enqueued_at is not None
    assert unpublished.result == {"sent": False, "reason": "nothing to send"}
    assert JobEvent.objects.filter(job=unpublished, message__startswith="Handed to a worker again").exists()

    stuck.refresh_from_db()
    assert stuck.status == "completed" and stuck.retry_count == 1
    assert stuck.celery_task_id != "lost-with-its-worker"
    assert stuck.worker.startswith(f"{celery_worker.name}@")
    assert JobEvent.objects.filter(
        job=stuck, message="Re-queued because its worker (gone@nowhere) stopped while running it."
    ).exists()
