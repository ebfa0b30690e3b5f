"""A job's life on a real Celery worker: progress, retries with backoff, permanent failures and cancelling.

The worker is the session's (tests/conftest.py); the AI provider is the fake OpenAI server, so every test decides
what the "outside world" answers and how slowly.
"""

from __future__ import annotations

import time

import pytest
from django_tenants.utils import schema_context

from grading.models import Submission
from jobs.models import BackgroundJob, JobEvent
from tests.helpers import on_broker, sheet, upload, wait_for_job, wait_until

pytestmark = [pytest.mark.worker]

STATUS_ORDER = {"queued": 0, "processing": 1, "completed": 2, "failed": 2, "cancelled": 2}


@pytest.fixture
def alpha_api(api, personas, live_db):
    """Dana, an admin of Alpha (whose provider is the fake OpenAI), through the API. (Not Bob: the pipeline's end-to-end
    test counts Bob's emails.)"""
    return api(personas.alpha, personas.dana)


def status_of(job_id) -> str:
    return BackgroundJob.objects.values_list("status", flat=True).get(pk=job_id)


def extraction_requests(openai_server) -> list[dict]:
    return [r for r in openai_server.requests() if r["kind"] == "PageExtraction"]


def submissions_of(job_id) -> int:
    with schema_context("alpha"):
        return Submission.objects.filter(upload_job_id=job_id).count()


# --- From queued to completed -------------------------------------------------------------------


def test_a_job_goes_from_queued_through_processing_to_completed_with_rising_progress(
    celery_worker, alpha_api, openai_server
):
    openai_server.configure(latency=0.5)
    accepted = upload(
        alpha_api, sheet("s05_std05_dkg_p1.png"), sheet("s05_std05_dkg_p2.png"), sheet("s09_std09_kristi_p1.png")
    )
    assert accepted["status"] == "queued"

    # Poll the status endpoint as a client would, recording everything it reports.
    seen = [("queued", 0, "")]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        data = alpha_api.get(f"/api/v1/jobs/{accepted['job_id']}").json()["data"]
        if seen[-1] != (data["status"], data["progress"], data["current_step"]):
            seen.append((data["status"], data["progress"], data["current_step"]))
        if data["status"] in ("completed", "failed", "cancelled"):
            break
        time.sleep(0.05)

    statuses = [status for status, _, _ in seen]
    percents = [percent for _, percent, _ in seen]
    assert statuses[-1] == "completed", seen
    assert [STATUS_ORDER[s] for s in statuses] == sorted(STATUS_ORDER[s] for s in statuses), seen
    assert percents == sorted(percents), f"progress went backwards: {seen}"
    assert percents[-1] == 100
    in_between = [(p, step) for status, p, step in seen if status == "processing" and 0 < p < 100]
    assert in_between, f"no intermediate progress was reported: {seen}"
    assert all(step for _, step in in_between), "every progress report says what is happening"
    assert len(extraction_requests(openai_server)) == 3, "one vision call per page"
    job = BackgroundJob.objects.get(pk=accepted["job_id"])
    assert job.started_at and job.completed_at and job.started_at <= job.completed_at
    assert job.retry_count == 0 and job.result["pages"] == 3


# --- Retries ------------------------------------------------------------------------------------


def test_a_transient_provider_failure_is_retried_with_growing_backoff_and_then_succeeds(
    celery_worker, alpha_api, openai_server
):
    # The openai client retries each call once by itself (OPENAI_MAX_RETRIES=1), so two failures in a row reach
    # the job: first a rate limit with a short Retry-After, then a server error; the third attempt succeeds.
    openai_server.configure(retry_after=0.3)
    openai_server.script("PageExtraction", [{"fault": "429"}, {"fault": "429"}, {"status": 500}, {"status": 500}])
    accepted = upload(alpha_api, sheet("s05_std05_dkg_p1.png"))

    job = wait_for_job(accepted["job_id"], timeout=45)

    assert job.status == "completed", job.error_message
    assert job.retry_count == 2
    assert job.error_message == ""
    messages = list(job.events.values_list("message", flat=True))
    retrying = [m for m in messages if "Retrying in" in m]
    assert len(retrying) == 2, messages
    assert "rate limiting" in retrying[0] and "(retry 1 of 3)" in retrying[0]
    assert "(retry 2 of 3)" in retrying[1]
    assert any("Started (attempt 3)" in m for m in messages), messages

    calls = extraction_requests(openai_server)
    assert [c["status"] for c in calls] == [429, 429, 500, 500, 200]
    first_wait = calls[2]["time"] - calls[1]["time"]
    second_wait = calls[4]["time"] - calls[3]["time"]
    # JOB_RETRY_BACKOFF_BASE=0.5: retry 1 waits 0.25–0.5 s but at least the Retry-After (0.3 s); retry 2 waits
    # 0.5–1 s (full jitter in the upper half of an exponentially growing ceiling).
    assert first_wait >= 0.3 - 0.02, first_wait
    assert second_wait >= 0.5 - 0.02, second_wait
    assert submissions_of(job.pk) == 1


@pytest.mark.parametrize("status", [401, 403])
def test_a_permanent_provider_failure_fails_at_once_with_a_readable_message(
    celery_worker, alpha_api, openai_server, status
):
    openai_server.script("PageExtraction", [{"status": status}])
    accepted = upload(alpha_api, sheet("s05_std05_dkg_p1.png"))

    job = wait_for_job(accepted["job_id"], timeout=20)

    assert job.status == "failed"
    assert job.retry_count == 0
    assert job.error_code == "PROVIDER_AUTH"
    assert job.error_message == ("The AI provider refused our credentials; an administrator must check OPENAI_API_KEY.")
    assert len(extraction_requests(openai_server)) == 1, "no retry, neither by the client nor by the job"
    assert not job.events.filter(message__contains="Retrying").exists()
    assert job.events.filter(level="error", message__startswith="Failed: The AI provider refused").exists()
    data = alpha_api.get(f"/api/v1/jobs/{job.pk}").json()["data"]
    assert data["status"] == "failed" and data["error"] == job.error_message and "result" not in data
    assert submissions_of(job.pk) == 0


# --- Cancelling ---------------------------------------------------------------------------------


def test_a_queued_job_that_is_cancelled_never_runs(celery_worker, alpha_api, openai_server):
    # Both of the worker's processes are busy with pages the provider holds, so the third job waits in the queue.
    openai_server.hold()
    blockers = [upload(alpha_api, sheet("s05_std05_dkg_p1.png"))["job_id"] for _ in range(2)]
    wait_until(lambda: openai_server.stats()["in_flight"] == 2, what="both worker processes to be busy")
    waiting = upload(alpha_api, sheet("s09_std09_kristi_p1.png"))["job_id"]
    job = BackgroundJob.objects.get(pk=waiting)
    assert job.status == "queued" and job.enqueued_at is not None, "its message is on the broker"
    message_id = job.celery_task_id
    assert on_broker(message_id)

    response = alpha_api.delete(f"/api/v1/jobs/{waiting}")

    assert response.status_code == 200, response.json()
    assert response.json()["data"]["status"] == "cancelled"
    openai_server.release()
    for blocker in blockers:
        assert wait_for_job(blocker, timeout=20).status == "completed"
    # The worker takes the cancelled job's message once a process is free, and drops it without running anything.
    wait_until(lambda: not on_broker(message_id), timeout=20, what="the cancelled job's message to be consumed")
    job.refresh_from_db()
    assert job.status == "cancelled" and job.started_at is None and job.progress == 0
    assert len(extraction_requests(openai_server)) == 2, "no provider call was made for the cancelled job"
    messages = list(job.events.values_list("message", flat=True))
    assert any(m == "Cancelled by dana@alpha.test." for m in messages), messages
    assert not any(m.startswith("Started") for m in messages), messages
    assert submissions_of(waiting) == 0


def test_a_processing_job_that_is_cancelled_stops_at_its_next_checkpoint_and_writes_nothing(
    celery_worker, alpha_api, openai_server
):
    openai_server.hold()  # the pages' answers wait until the job is cancelled: no latency window to race
    accepted = upload(
        alpha_api, sheet("s05_std05_dkg_p1.png"), sheet("s05_std05_dkg_p2.png"), sheet("s09_std09_kristi_p1.png")
    )
    job_id = accepted["job_id"]
    wait_until(lambda: status_of(job_id) == "processing", what="the job to start")
    wait_until(lambda: extraction_requests(openai_server), what="the first page to be sent to the provider")

    response = alpha_api.delete(f"/api/v1/jobs/{job_id}")

    assert response.status_code == 200, response.json()
    assert response.json()["data"]["status"] == "cancelled"
    openai_server.release()
    wait_until(
        lambda: JobEvent.objects.filter(job_id=job_id, message="Stopped: the job was cancelled.").exists(),
        timeout=20,
        what="the worker to stop the job at a checkpoint",
    )
    job = BackgroundJob.objects.get(pk=job_id)
    assert job.status == "cancelled"
    assert job.result is None
    assert job.progress < 95, "it never reached the step that saves the transcription"
    assert not job.events.filter(message="Completed.").exists()
    assert submissions_of(job_id) == 0, "nothing half-written"
    assert alpha_api.delete(f"/api/v1/jobs/{job_id}").status_code == 409, "a finished job cannot be cancelled again"
