"""Scheduled housekeeping, called directly against real PostgreSQL and Redis."""

from __future__ import annotations

import os
import time
import uuid
from datetime import datetime, timedelta
from importlib import import_module

import pytest
from django.conf import settings
from django.utils import timezone

from jobs.housekeeping import (
    REQUEUED_FORGOTTEN,
    cleanup_expired_jobs,
    reap_stuck_jobs,
    remove_orphaned_uploads,
    sweep_queued_jobs,
)
from jobs.models import BackgroundJob, JobEvent
from jobs.running import limit_text
from tests.reliability.support import PrivateRedis, broker_at, forget_broker

pytestmark = pytest.mark.django_db

GHOST = "ghost@nowhere.test"


def ago(**delta) -> datetime:
    return timezone.now() - timedelta(**delta)


# --- Sweeping up jobs that never reached the broker -----------------------------------------------


def test_the_sweeper_publishes_a_queued_job_that_never_reached_the_broker(make_job, broker_queue):
    job = make_job(celery_task_id="lost-message", created_at=ago(seconds=settings.JOB_SWEEP_AFTER_SECONDS + 5))
    before = len(broker_queue)

    assert sweep_queued_jobs() == 1

    job.refresh_from_db()
    assert job.status == "queued"
    assert job.enqueued_at is not None
    assert job.celery_task_id not in ("", "lost-message")
    assert len(broker_queue) == before + 1
    assert job.celery_task_id in broker_queue.task_ids()
    assert JobEvent.objects.filter(job=job, message__startswith="Handed to a worker again").exists()


def test_the_sweeper_leaves_a_fresh_or_published_job_alone(make_job, broker_queue):
    fresh = make_job(celery_task_id="on-its-way")
    published = make_job(celery_task_id="delivered", created_at=ago(hours=1), enqueued_at=ago(minutes=1))
    waiting_to_retry = make_job(celery_task_id="countdown", created_at=ago(hours=1), not_before=ago(seconds=-60))
    started = make_job(status="processing", celery_task_id="running", created_at=ago(hours=1))

    assert sweep_queued_jobs() == 0

    for job, task_id in [(fresh, "on-its-way"), (published, "delivered"), (waiting_to_retry, "countdown")]:
        job.refresh_from_db()
        assert job.celery_task_id == task_id
    fresh.refresh_from_db()
    assert fresh.enqueued_at is None
    started.refresh_from_db()
    assert started.status == "processing" and started.celery_task_id == "running"
    assert len(broker_queue) == 0


def test_the_sweeper_republishes_a_message_lost_long_ago(make_job, broker_queue):
    job = make_job(celery_task_id="vanished", created_at=ago(hours=1), enqueued_at=ago(minutes=30))

    assert sweep_queued_jobs() == 1

    job.refresh_from_db()
    assert job.celery_task_id != "vanished" and job.enqueued_at > ago(minutes=1)
    assert broker_queue.task_ids() == [job.celery_task_id]


def test_a_message_published_a_moment_before_the_broker_restarted_empty_is_published_again(make_job, tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        with broker_at(server.url):
            sweep_queued_jobs()  # the sweeper has met this broker: it remembers from now on
            server.stop()
            job = make_job(celery_task_id="just-before", created_at=ago(seconds=5), enqueued_at=timezone.now())
            server.start()  # empty, as after a restart without persistence

            assert sweep_queued_jobs() == 1

            job.refresh_from_db()
            assert job.celery_task_id != "just-before" and job.enqueued_at is not None
            assert list(job.events.values_list("message", flat=True)) == [REQUEUED_FORGOTTEN]
    finally:
        server.stop()
        forget_broker(server.url)


def test_the_sweeper_publishes_an_unpublished_retry_once_its_backoff_has_passed(make_job, broker_queue):
    # retry_or_fail could not reach the broker: the job waits for its not_before, then the sweeper hands it over.
    due = make_job(celery_task_id="never-sent", created_at=ago(hours=1), retry_count=1, not_before=ago(seconds=5))
    waiting = make_job(celery_task_id="not-yet", created_at=ago(hours=1), retry_count=1, not_before=ago(seconds=-90))

    assert sweep_queued_jobs() == 1

    due.refresh_from_db()
    waiting.refresh_from_db()
    assert broker_queue.task_ids() == [due.celery_task_id]
    assert waiting.celery_task_id == "not-yet" and waiting.enqueued_at is None


# --- Reaping jobs whose worker died or that ran too long ----------------------------------------------


def stuck_job(make_job, **fields):
    fields = {
        "status": "processing",
        "celery_task_id": "task-1",
        "worker": GHOST,
        "started_at": ago(minutes=5),
        "heartbeat_at": ago(minutes=5),
        "progress": 30,
    } | fields
    return make_job(**fields)


def test_the_reaper_requeues_a_job_whose_worker_is_gone(make_job, broker_queue):
    job = stuck_job(make_job)
    healthy = stuck_job(make_job, celery_task_id="task-2", heartbeat_at=ago(seconds=10))

    assert reap_stuck_jobs() == 1

    job.refresh_from_db()
    assert job.status == "queued"
    assert job.retry_count == 1
    assert job.current_step == "Waiting for a worker"
    assert job.celery_task_id != "task-1" and job.enqueued_at is not None
    assert broker_queue.task_ids() == [job.celery_task_id]
    event = JobEvent.objects.get(job=job)
    assert event.level == "warning"
    assert event.message == f"Re-queued because its worker ({GHOST}) stopped while running it."
    healthy.refresh_from_db()
    assert healthy.status == "processing" and healthy.celery_task_id == "task-2"


def test_the_reaper_fails_a_job_whose_worker_is_gone_and_that_has_no_retries_left(make_job, broker_queue):
    job = stuck_job(make_job, retry_count=3, max_retries=3)

    assert reap_stuck_jobs() == 1

    job.refresh_from_db()
    assert job.status == "failed"
    assert job.error_code == "JOB_STUCK"
    assert job.error_message == (
        f"The job was stopped because its worker ({GHOST}) stopped while running it, and it had no retries left."
    )
    assert job.completed_at is not None
    assert JobEvent.objects.filter(job=job, level="error").exists()
    assert len(broker_queue) == 0


def test_the_reaper_requeues_a_job_past_its_hard_limit_even_while_it_beats(make_job, broker_queue):
    _, hard = settings.JOB_TIME_LIMITS["extraction"]
    job = stuck_job(make_job, worker="", started_at=ago(seconds=hard + 120), heartbeat_at=ago(seconds=5))

    assert reap_stuck_jobs() == 1

    job.refresh_from_db()
    assert job.status == "queued" and job.retry_count == 1
    assert JobEvent.objects.filter(job=job, message=f"Re-queued because it ran past its {limit_text(hard)} limit.")
    assert broker_queue.task_ids() == [job.celery_task_id]


def test_the_reaper_fails_a_job_past_its_hard_limit_with_no_retries_left(make_job, broker_queue):
    _, hard = settings.JOB_TIME_LIMITS["grading"]
    job = stuck_job(
        make_job, job_type="grading", started_at=ago(seconds=hard + 120), heartbeat_at=ago(seconds=5), retry_count=3
    )

    assert reap_stuck_jobs() == 1

    job.refresh_from_db()
    assert job.status == "failed" and job.error_code == "JOB_STUCK"
    assert f"ran past its {limit_text(hard)} limit" in job.error_message
    assert "no retries left" in job.error_message


def reaped_while_running(context) -> dict:
    reap_stuck_jobs()
    context.progress(50, "Still going")
    return {"ok": True}


def test_the_reaper_times_the_hard_limit_from_the_current_attempt(make_job, monkeypatch, broker_queue):
    from jobs import registry
    from jobs.running import execute

    _, hard = settings.JOB_TIME_LIMITS["extraction"]
    # Attempt 1 started long ago and hit a temporary error; attempt 2 is starting now on a live worker.
    job = make_job(celery_task_id="task-2", retry_count=1, started_at=ago(seconds=hard + 120))
    monkeypatch.setitem(registry.HANDLERS, "extraction", f"{__name__}.reaped_while_running")

    assert execute(str(job.pk), "task-2", worker="w1@test") == "completed"


# --- Removing what expired ---------------------------------------------------------------------------


def upload_folder(root, job_id, schema="alpha"):
    folder = root / "uploads" / schema / str(job_id)
    folder.mkdir(parents=True)
    (folder / "1.png").write_bytes(b"\x89PNG fake")
    return folder


def test_cleanup_removes_expired_jobs_files_and_payloads_and_keeps_their_rows(make_job, personas, media_root):
    expired = [
        make_job(status=status, expires_at=ago(minutes=1), input={"files": [{"path": "x"}]}, result={"pages": 1})
        for status in ("completed", "failed", "cancelled")
    ]
    expired.append(
        make_job(organization=personas.beta, user=personas.charlie, status="completed", expires_at=ago(days=1))
    )
    expired_folders = [upload_folder(media_root, job.pk, schema=job.organization.schema_name) for job in expired]
    unexpired = make_job(status="completed", expires_at=ago(minutes=-10))
    active = [make_job(status=status, expires_at=ago(hours=1)) for status in ("queued", "processing")]
    kept_folders = [upload_folder(media_root, job.pk) for job in [unexpired, *active]]

    assert cleanup_expired_jobs() == 4

    for job in expired:
        job.refresh_from_db()
        assert job.files_removed_at is not None and (job.input, job.result) == ({}, None)
        assert job.events.filter(message__startswith="The uploaded files and the job's input").count() == 1
    assert not BackgroundJob.objects.filter(
        pk__in=[job.pk for job in [unexpired, *active]], files_removed_at__isnull=False
    ).exists()
    assert not any(folder.exists() for folder in expired_folders)
    assert all((folder / "1.png").exists() for folder in kept_folders)


def test_cleanup_of_a_job_without_files_is_quiet(make_job, media_root):
    make_job(status="failed", expires_at=ago(minutes=1))

    assert cleanup_expired_jobs() == 1


def test_orphaned_upload_folders_older_than_an_hour_are_removed(make_job, media_root):
    two_hours_ago = time.time() - 2 * 3600
    orphan = upload_folder(media_root, uuid.uuid4())
    owned = upload_folder(media_root, make_job().pk)
    fresh_orphan = upload_folder(media_root, uuid.uuid4(), schema="beta")
    for folder in (orphan, owned):  # a folder is as old as its newest file
        os.utime(folder / "1.png", (two_hours_ago, two_hours_ago))

    assert remove_orphaned_uploads() == 1

    assert not orphan.exists()
    assert (owned / "1.png").exists()
    assert (fresh_orphan / "1.png").exists()


def test_orphan_removal_with_no_uploads_folder_does_nothing(media_root):
    assert remove_orphaned_uploads() == 0


# --- Beat schedules ----------------------------------------------------------------------------------


def scheduled_by_the_migrations() -> dict[str, tuple[int, str]]:
    """task -> (every, period), as the migrations that own the housekeeping schedules create them (not a copy that
    could drift from them)."""
    created = import_module("jobs.migrations.0003_beat_schedules").SCHEDULES
    retention = import_module("jobs.migrations.0007_two_step_retention_schedules")
    return {task: (every, period) for task, every, period, _ in created} | {
        retention.HISTORY[0]: retention.HISTORY_INTERVAL
    }


def test_the_housekeeping_schedules_exist_after_migration():
    from django_celery_beat.models import PeriodicTask

    from quizmarker.celery import app

    expected = scheduled_by_the_migrations()
    assert len(expected) == 5, "sweeper, reaper, files clean-up, history clean-up, orphaned uploads"
    schedules = {task.task: task for task in PeriodicTask.objects.filter(task__in=expected).select_related("interval")}

    assert set(schedules) == set(expected)
    app.loader.import_default_modules()
    for name, (every, period) in expected.items():
        task = schedules[name]
        assert task.enabled, name
        assert (task.interval.every, task.interval.period) == (every, period)
        assert name in app.tasks, f"{name} is scheduled but not registered with Celery"


def test_the_sweeper_runs_at_least_as_often_as_a_job_may_wait_for_its_message():
    """A job whose message never reached the broker is published again within 2 x JOB_SWEEP_AFTER_SECONDS: the sweep
    comes round no less often than a job may wait for its message."""
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.select_related("interval").get(task="jobs.tasks.sweep_queued_jobs")
    every = timedelta(**{task.interval.period: task.interval.every})
    assert every <= timedelta(seconds=settings.JOB_SWEEP_AFTER_SECONDS)
