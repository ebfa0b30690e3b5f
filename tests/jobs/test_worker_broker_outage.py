"""The AI worker (threads pool) through a broker outage: a Redis of the test's own is stopped while a job runs and
started again empty, as after a restart without persistence. The worker keeps running, the job finishes exactly once,
the grading it asked for runs after the sweeper republishes it, and an upload during the outage gets a clear 503."""

from __future__ import annotations

import kombu.exceptions
import pytest
import redis
from django.test import override_settings
from django_tenants.utils import schema_context

from grading.models import Submission
from jobs.housekeeping import REQUEUED_FORGOTTEN, REQUEUED_UNPUBLISHED, sweep_queued_jobs
from jobs.models import BackgroundJob, JobStatus
from quizmarker.celery import app
from tests.helpers import sheet, upload, wait_for_job, wait_until
from tests.reliability.support import worker_on_private_redis

pytestmark = [pytest.mark.worker]


@pytest.fixture
def outage_stack(celery_worker, tmp_path, live_db):
    """A private Redis (broker, cache and limiter of its worker) and a threads-pool worker on it, as in production,
    with one thread: a second job's message waits in Redis while the first runs."""
    with worker_on_private_redis(
        celery_worker, tmp_path, "outage", env={"JOB_HEARTBEAT_SECONDS": "0.5"}, concurrency=1, pool="threads"
    ) as stack:
        yield stack


def answers(worker) -> bool:
    """Whether the worker answers a ping (this process's first use of a connection from before the restart fails)."""
    try:
        replies = app.control.ping(timeout=0.5)
    except (redis.RedisError, kombu.exceptions.OperationalError):
        return False
    return any(name.startswith(f"{worker.name}@") for reply in replies for name in reply)


def test_a_threads_worker_survives_redis_going_away_mid_job_and_coming_back_empty(
    outage_stack, api, personas, openai_server
):
    server, worker = outage_stack
    client = api(personas.alpha, personas.dana)
    openai_server.configure(latency=3.0)
    running = upload(client, sheet("s05_std05_dkg_p1.png"), standard_id=5, grade="true")["job_id"]
    wait_until(lambda: openai_server.requests(), what="the page to reach the provider")
    waiting = upload(client, sheet("s05_std05_dkg_p1.png"), standard_id=5)["job_id"]  # its message waits in Redis
    assert BackgroundJob.objects.get(pk=running).status == JobStatus.PROCESSING
    assert BackgroundJob.objects.get(pk=waiting).enqueued_at is not None

    server.stop()  # while the job waits for its AI call: it finishes, and acknowledges, with the broker gone
    during = client.post("/api/v1/upload", {"files": [sheet("s05_std05_dkg_p1.png")]}, format="multipart")
    job = wait_for_job(running, timeout=60)
    assert job.status == JobStatus.COMPLETED, job.error_message
    grading_id = job.result["grading_job_id"]
    assert BackgroundJob.objects.get(pk=grading_id).enqueued_at is None, "its grading could not be published yet"
    # The worker's publish of the grading runs after the job's commit, with a retry: wait until it has given up, or
    # it may reach the Redis started below and leave the sweeper nothing to publish (a random-order run saw that).
    wait_until(
        lambda: f"Broker unavailable; job {grading_id} stays queued" in worker.log_path.read_text(),
        timeout=30,
        what="the worker to give up publishing the grading",
    )
    assert BackgroundJob.objects.get(pk=waiting).status == JobStatus.QUEUED

    server.start()  # empty: the waiting job's message is gone
    wait_until(lambda: answers(worker), timeout=60, what="the same worker process to reconnect and answer")
    openai_server.configure(latency=0.1)
    with override_settings(JOB_SWEEP_AFTER_SECONDS=0):
        # The job whose message Redis lost, and the grading never published (and any other test's queued job that
        # was published before this Redis restarted: each job's log below says which were requeued, once).
        assert sweep_queued_jobs() >= 2

    grading = wait_for_job(grading_id, timeout=60)
    assert grading.status == JobStatus.COMPLETED, grading.error_message
    assert wait_for_job(waiting, timeout=60).status == JobStatus.COMPLETED
    assert worker.process.poll() is None, f"the worker died; see {worker.log_path}"
    assert "Unrecoverable error" not in worker.log_path.read_text()
    with schema_context("alpha"):
        graded = list(Submission.objects.filter(upload_job_id=running))
        read = Submission.objects.filter(upload_job_id=waiting).count()
    assert len(graded) == 1 and read == 1, "exactly one result each"
    assert graded[0].total_score is not None and graded[0].grading_job_id == grading.pk
    for job_id, requeued in ((waiting, REQUEUED_FORGOTTEN), (grading_id, REQUEUED_UNPUBLISHED)):
        messages = list(BackgroundJob.objects.get(pk=job_id).events.values_list("message", flat=True))
        assert messages.count(requeued) == 1 and messages.count("Completed.") == 1, messages

    assert during.status_code == 503, during.json()
    body = during.json()
    assert body["code"] == "SERVICE_UNAVAILABLE" and body["error"].startswith("Processing is paused"), body
    assert int(during["Retry-After"]) > 0
