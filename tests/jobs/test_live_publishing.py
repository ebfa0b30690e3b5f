"""What jobs.live publishes on Redis when a job changes: the job on its channel, and on its session's channel with the
session's count of active jobs when, and only when, a status changed (progress cannot move that count, so it is not
counted for every tick). The session stream ends on a count of 0 (tests/jobs/test_live_events.py follows one)."""

from __future__ import annotations

import json
import time

import pytest
import redis
from django.conf import settings

from jobs.live import job_channel, session_channel
from jobs.models import BackgroundJob, GradingSession
from jobs.running import JobContext


@pytest.fixture
def listen():
    """``listen(*channels)`` subscribes to them (and returns once Redis confirmed it); ``listen.received(n)`` then
    returns the next ``n`` messages published on them, as (channel, decoded message) pairs."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    pubsub = client.pubsub()

    def _next(timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = pubsub.get_message(timeout=0.2)
            if message is not None:
                return message
        raise AssertionError(f"nothing published within {timeout} s")

    def _listen(*channels) -> None:
        pubsub.subscribe(*channels)
        for _ in channels:
            assert _next(5)["type"] == "subscribe"

    def received(count: int) -> list[tuple[str, dict]]:
        return [(m["channel"].decode(), json.loads(m["data"])) for m in (_next(5) for _ in range(count))]

    _listen.received = received
    yield _listen
    pubsub.close()
    client.close()


def test_a_progress_tick_is_published_without_a_count_and_a_status_change_with_the_sessions_count(
    db, make_job, personas, listen, django_capture_on_commit_callbacks
):
    session = GradingSession.objects.create(organization=personas.alpha, user=personas.alice)
    job = make_job(status="processing", session=session, celery_task_id="task-1")
    make_job(status="queued", session=session)  # another job of the session, still to run
    listen(job_channel(job.pk), session_channel(session.pk))
    context = JobContext(job=job, task_id="task-1")

    with django_capture_on_commit_callbacks(execute=True):
        context.progress(40, "Read page 1 of 2")
    with django_capture_on_commit_callbacks(execute=True):
        context.complete({"pages": 2})

    messages = listen.received(4)
    on_session = [message for channel, message in messages if channel == session_channel(session.pk)]
    on_job = [message for channel, message in messages if channel == job_channel(job.pk)]
    assert [(m["job"]["status"], m["job"]["progress"]) for m in on_job] == [("processing", 40), ("completed", 100)]
    assert on_session == [{"job": on_job[0]["job"]}, {"job": on_job[1]["job"], "session_active_jobs": 1}]


def test_the_last_active_job_of_a_session_is_published_with_a_count_of_zero(
    db, make_job, personas, listen, django_capture_on_commit_callbacks
):
    session = GradingSession.objects.create(organization=personas.alpha, user=personas.alice)
    job = make_job(status="processing", session=session, celery_task_id="task-1")
    make_job(status="completed", session=session)
    listen(session_channel(session.pk))

    with django_capture_on_commit_callbacks(execute=True):
        BackgroundJob.objects.filter(pk=job.pk).update(status="failed", current_step="Failed")

    [(_, message)] = listen.received(1)
    assert message["job"]["status"] == "failed" and message["session_active_jobs"] == 0
