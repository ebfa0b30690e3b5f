"""Scripts graded against a flaky provider (the fake OpenAI answering 10 % 429 with Retry-After, 10 % 500, 5 % hangs
past the client's timeout and 5 % truncated JSON): every job completes, an answer that truly could not be graded is
flagged for a person with no score, no score leaves 0..max, nothing is stored twice and the retries show in the job
logs. Fast: 10 scripts on the session worker. Long (RELIABILITY_FULL=1): 100 scripts with a second worker.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest
from django_tenants.utils import schema_context

from grading.api import GradeThrottle, UploadThrottle
from grading.models import QuestionResult, Submission
from jobs.models import BackgroundJob, JobEvent
from tests.helpers import sheet, upload
from tests.reliability.support import FULL, full_only, record_figures

pytestmark = [pytest.mark.worker]

FAULTS = {"429": 0.10, "500": 0.10, "hang": 0.05, "truncated": 0.05}
SHEETS = [
    "s01_std01_breip_p1.png",
    "s02_std02_purisa_p1.png",
    "s05_std05_dkg_p1.png",
    "s07_std07_dancing-script_p1.png",
    "s09_std09_kristi_p1.png",
]


@pytest.fixture
def unthrottled(monkeypatch):
    """This test is about the provider, not the per-user hourly throttles (tested in tests/security)."""
    monkeypatch.setattr(UploadThrottle, "THROTTLE_RATES", {"upload": "100000/hour"})
    monkeypatch.setattr(GradeThrottle, "THROTTLE_RATES", {"grade": "100000/hour"})


def _finished(job_ids) -> dict:
    return {
        str(pk): status
        for pk, status in BackgroundJob.objects.filter(pk__in=job_ids).values_list("pk", "status")
        if status in ("completed", "failed", "cancelled")
    }


def grade_flaky_scripts(client, openai_server, count: int, timeout: float) -> dict:
    """Upload `count` one-page scripts, grade each as its reading completes, wait for everything; return figures."""
    openai_server.configure(fault_rates=FAULTS, seed=20260407 + count, retry_after=0.5, hang_seconds=6.5, latency=0.05)
    uploads = [upload(client, sheet(SHEETS[n % len(SHEETS)]))["job_id"] for n in range(count)]
    gradings: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = _finished(uploads)
        for upload_id, status in done.items():
            if status == "completed" and upload_id not in gradings:
                response = client.post("/api/v1/grade", {"upload_job_id": upload_id, "standard_id": 3}, format="json")
                assert response.status_code == 202, response.json()
                gradings[upload_id] = response.json()["data"]["job_id"]
        if len(done) == count and len(_finished(gradings.values())) == len(done):
            break
        time.sleep(0.25)
    all_jobs = BackgroundJob.objects.filter(pk__in=[*uploads, *gradings.values()])
    statuses = Counter(all_jobs.values_list("job_type", "status"))
    assert not [s for s in all_jobs.values_list("status", flat=True) if s in ("queued", "processing")], (
        f"jobs still running after {timeout} s: {statuses}"
    )

    with schema_context("alpha"):
        submissions = Submission.objects.filter(upload_job_id__in=uploads)
        per_upload = Counter(str(u) for u in submissions.values_list("upload_job_id", flat=True))
        questions = QuestionResult.objects.filter(submission__in=submissions)
        duplicate_questions = sum(
            n - 1 for n in Counter(questions.values_list("submission_id", "number")).values() if n > 1
        )
        graded = questions.filter(submission__grading_job_id__in=list(gradings.values()))
        out_of_range = [
            (str(q.submission_id), q.number, q.ai_score, q.max_score)
            for q in graded
            if q.ai_score is not None and not (0 <= q.ai_score <= q.max_score)
        ]
        unscored_unflagged = graded.filter(ai_score__isnull=True, needs_review=False).count()
        figures = {
            "scripts": count,
            "jobs_completed": sum(n for (_, s), n in statuses.items() if s == "completed"),
            "jobs_failed": sum(n for (_, s), n in statuses.items() if s != "completed"),
            "questions_graded": graded.filter(ai_score__isnull=False).count(),
            "questions_flagged_no_score": graded.filter(ai_score__isnull=True, needs_review=True).count(),
            "questions_flagged_total": graded.filter(needs_review=True).count(),
            "duplicate_submissions": sum(n - 1 for n in per_upload.values() if n > 1),
            "duplicate_questions": duplicate_questions,
            "out_of_range_scores": len(out_of_range),
            "unscored_but_not_flagged": unscored_unflagged,
        }
    retried_jobs = all_jobs.filter(retry_count__gt=0)
    retry_events = JobEvent.objects.filter(job__in=all_jobs, message__contains="Retrying in")
    faults = openai_server.stats()["by_fault"]
    figures.update(
        {
            "job_retries": sum(all_jobs.values_list("retry_count", flat=True)),
            "retry_log_lines": retry_events.count(),
            "provider_calls": sum(faults.values()),
            "provider_faults": {k: v for k, v in faults.items() if k != "none"},
            "extraction_jobs": len(uploads),
            "grading_jobs": len(gradings),
        }
    )
    figures["_missing_log"] = [str(j.pk) for j in retried_jobs if not retry_events.filter(job=j).exists()]
    figures["_per_upload"] = per_upload
    figures["_out_of_range"] = out_of_range
    figures["_statuses"] = statuses
    return figures


def check(figures: dict, count: int) -> None:
    assert figures["jobs_failed"] == 0, figures["_statuses"]
    assert figures["extraction_jobs"] == figures["grading_jobs"] == count
    assert figures["jobs_completed"] == 2 * count
    assert all(figures["_per_upload"].get(str(u), 0) <= 1 for u in figures["_per_upload"])
    assert figures["duplicate_submissions"] == 0 and figures["duplicate_questions"] == 0
    assert figures["out_of_range_scores"] == 0, figures["_out_of_range"]
    assert figures["unscored_but_not_flagged"] == 0, "an answer without a score is always sent to a person"
    assert figures["questions_graded"] + figures["questions_flagged_no_score"] > 0
    assert sum(figures["provider_faults"].values()) > 0, "the provider really was flaky"
    if figures["job_retries"]:
        assert figures["retry_log_lines"] > 0, "retries are visible in the job log"
    assert not figures["_missing_log"]


def _report(name: str, figures: dict) -> None:
    record_figures(name, {k: v for k, v in figures.items() if not k.startswith("_")})


def test_ten_scripts_against_a_flaky_provider_all_complete_with_honest_scores(
    celery_worker, live_db, api, personas, openai_server, unthrottled
):
    if FULL:
        pytest.skip("the long variant runs instead")
    figures = grade_flaky_scripts(api(personas.alpha, personas.dana), openai_server, count=10, timeout=150)
    _report("flaky_provider", figures)
    check(figures, 10)


@full_only
def test_a_hundred_scripts_against_a_flaky_provider_all_complete_with_honest_scores(
    celery_worker, live_db, api, personas, openai_server, unthrottled
):
    helper = type(celery_worker)(celery_worker.env, name=f"{celery_worker.name}-flaky", concurrency=4)
    helper.start()
    try:
        figures = grade_flaky_scripts(api(personas.alpha, personas.dana), openai_server, count=100, timeout=900)
    finally:
        helper.stop()
    _report("flaky_provider", figures)
    check(figures, 100)
