"""Redis (broker, cache, limiter) stopped during a batch of uploads with grade=true and started again empty, as after
a restart without persistence. The AI worker runs on threads, as in production. Every upload answered 202 is read
and graded exactly once; uploads during the outage are answered 503 with Retry-After (never another 5xx); the worker
process is the same one at the end.

Fast (make test): 6 scripts, Redis down ~3 s. Long (make reliability): 20 scripts, Redis down 30 s.
The sweeper runs every second here (beat runs it every 30 s), so that the test waits for the work, not the schedule.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest
from django.test import override_settings
from django_tenants.utils import schema_context

from grading.api import GradeThrottle, UploadThrottle
from grading.models import Submission
from jobs.housekeeping import sweep_queued_jobs
from jobs.models import BackgroundJob, JobEvent, JobStatus
from tests.helpers import sheet, wait_until
from tests.reliability.support import FULL, caches_at, record_figures, worker_on_private_redis

pytestmark = [pytest.mark.worker]

SCRIPTS, OUTAGE_SECONDS = (20, 30.0) if FULL else (6, 3.0)


@pytest.fixture
def batch_stack(celery_worker, tmp_path, live_db, monkeypatch, openai_server):
    """A private Redis, and an AI worker on threads that uses it as broker, cache and limiter; this process's
    uploads go through it too (broker and throttle cache)."""
    monkeypatch.setattr(UploadThrottle, "THROTTLE_RATES", {"upload": "100000/hour"})
    monkeypatch.setattr(GradeThrottle, "THROTTLE_RATES", {"grade": "100000/hour"})
    openai_server.configure(latency=1.0 if FULL else 0.5)
    env = {
        "JOB_HEARTBEAT_SECONDS": "1",
        "AI_LIMITER_REDIS_WAIT_SECONDS": "10" if FULL else "1",  # then the job retries later: that path runs too
    }
    with (
        worker_on_private_redis(celery_worker, tmp_path, "batch", env=env, concurrency=8, pool="threads") as stack,
        override_settings(CACHES=caches_at(stack[0].url)),
    ):
        yield stack


def graded(upload_id) -> bool:
    job = BackgroundJob.objects.filter(pk=upload_id).first()
    if job is None or not job.is_finished:
        return False
    grading_id = (job.result or {}).get("grading_job_id")
    return job.status != JobStatus.COMPLETED or not grading_id or BackgroundJob.objects.get(pk=grading_id).is_finished


def test_redis_down_during_a_batch_and_back_empty_every_accepted_script_is_graded_once(batch_stack, api, personas):
    server, worker = batch_stack
    client = api(personas.alpha, personas.dana)
    pid = worker.process.pid
    answers: list[tuple[str, int, dict, dict]] = []

    def send(phase: str) -> None:
        response = client.post(
            "/api/v1/upload", {"files": [sheet("s05_std05_dkg_p1.png")], "grade": "true"}, format="multipart"
        )
        answers.append((phase, response.status_code, response.json(), dict(response.items())))

    for _ in range(SCRIPTS):
        send("batch")
    wait_until(
        lambda: BackgroundJob.objects.filter(
            pk__in=[b["data"]["job_id"] for _, s, b, _ in answers if s == 202], status=JobStatus.COMPLETED
        ).exists(),
        timeout=60,
        what="the first script to be read",
    )

    server.stop()
    stopped = time.monotonic()
    while time.monotonic() - stopped < OUTAGE_SECONDS:
        send("during")
        assert sweep_queued_jobs() == 0  # beat's sweeper, while Redis is down: it publishes nothing
        time.sleep(1.0)
    server.start()  # empty
    outage = time.monotonic() - stopped
    back = time.monotonic()

    accepted = [body["data"]["job_id"] for _, status, body, _ in answers if status == 202]

    def all_graded() -> bool:
        sweep_queued_jobs()
        return all(graded(job_id) for job_id in accepted)

    wait_until(all_graded, timeout=240 if FULL else 120, interval=1.0, what="every accepted script to be graded")
    recovered = time.monotonic() - back

    uploads = {job.pk: job for job in BackgroundJob.objects.filter(pk__in=accepted)}
    gradings = {
        job.pk: job
        for job in BackgroundJob.objects.filter(
            pk__in=[job.result.get("grading_job_id") for job in uploads.values() if job.result]
        )
    }
    with schema_context("alpha"):
        rows = Submission.objects.filter(upload_job_id__in=accepted).values_list("upload_job_id", flat=True)
        per_upload = Counter(str(u) for u in rows)
        scored = Submission.objects.filter(upload_job_id__in=accepted, total_score__isnull=False).count()
    completions = Counter(
        str(j)
        for j in JobEvent.objects.filter(job_id__in=[*uploads, *gradings], message="Completed.").values_list(
            "job_id", flat=True
        )
    )
    requeued = JobEvent.objects.filter(
        job_id__in=[*uploads, *gradings], message__contains="requeued after a broker outage"
    ).count()
    unavailable = [(body, headers) for phase, status, body, headers in answers if status == 503]
    figures = {
        "scripts_in_batch": SCRIPTS,
        "redis_down_seconds": round(outage, 1),
        "uploads_sent": len(answers),
        "accepted_202": len(accepted),
        "answered_503": len(unavailable),
        "answered_5xx_other": sum(1 for _, s, _, _ in answers if s >= 500 and s != 503),
        "graded": sum(1 for job in gradings.values() if job.status == JobStatus.COMPLETED),
        "scripts_scored": scored,
        "duplicates": sum(n - 1 for n in per_upload.values() if n > 1)
        + sum(n - 1 for n in completions.values() if n > 1),
        "requeued_after_outage": requeued,
        "seconds_to_all_graded_after_redis_back": round(recovered, 1),
        "worker_still_running": worker.process.poll() is None and worker.process.pid == pid,
    }
    record_figures("redis_outage_batch", figures)

    assert figures["answered_5xx_other"] == 0, [(p, s, b.get("code")) for p, s, b, _ in answers]
    assert figures["accepted_202"] == SCRIPTS, "every upload before the outage was accepted"
    assert figures["answered_503"] == sum(1 for p, _, _, _ in answers if p == "during"), "refused during the outage"
    for body, headers in unavailable:
        assert body["code"] == "SERVICE_UNAVAILABLE" and body["error"].endswith("."), body
        assert int(headers["Retry-After"]) > 0
    assert all(job.status == JobStatus.COMPLETED for job in uploads.values()), {
        str(j.pk): j.error_message for j in uploads.values() if j.status != JobStatus.COMPLETED
    }
    assert figures["graded"] == SCRIPTS and figures["scripts_scored"] == SCRIPTS, {
        str(j.pk): j.error_message for j in gradings.values() if j.status != JobStatus.COMPLETED
    }
    assert figures["duplicates"] == 0, (per_upload, completions)
    assert figures["worker_still_running"], f"the worker died; see {worker.log_path}"
    assert "Unrecoverable error" not in worker.log_path.read_text()
