"""Worker processes SIGKILLed again and again, alternating mid-extraction and mid-grading: every job finishes exactly
once, with one submission per script, one set of question results and one email. (tests/jobs/test_worker_crash_safety
kills once in each phase; this repeats it across a chain of scripts.) Fast: 2 kills; long: 10."""

from __future__ import annotations

import os
import signal
import time

import pytest
from django_tenants.utils import schema_context

from grading.models import QuestionResult, Submission
from jobs.models import BackgroundJob
from quizmarker.celery import app, whoami
from tests.helpers import mail_dir, sheet, upload, wait_for_job, wait_until
from tests.reliability.support import FULL, full_only, record_figures

pytestmark = [pytest.mark.worker]

STOPPED = "The worker running this job stopped unexpectedly; running it again from the start."


def kill_pool(worker) -> int:
    children = worker.children()
    assert children, "the worker has pool processes"
    for pid in children:
        os.kill(pid, signal.SIGKILL)
    return len(children)


def pool_ready(worker) -> None:
    deadline = time.monotonic() + 30
    while len(worker.children()) < worker.concurrency and time.monotonic() < deadline:
        time.sleep(0.1)
    with schema_context("alpha"):
        assert whoami.delay().get(timeout=30)["schema"] == "alpha", "a pool process runs tasks again"


def calls(openai_server, kind: str) -> int:
    return sum(1 for r in openai_server.requests() if r["kind"] == kind)


def kill_during(worker, openai_server, kind: str, job_id, before: int) -> None:
    """Kill the pool while this job's call of `kind` is held open at the provider (the caller held its answers
    before the job was queued), then let the provider answer again."""
    wait_until(lambda: calls(openai_server, kind) > before, timeout=30, what=f"a {kind} call")
    assert BackgroundJob.objects.get(pk=job_id).status == "processing"
    kill_pool(worker)
    openai_server.release()


def crash_chain(worker, client, openai_server, personas, scripts: int) -> dict:
    kills = 0
    jobs = []
    for n in range(scripts):
        pool_ready(worker)
        before = calls(openai_server, "PageExtraction")
        openai_server.hold()  # answers wait, so the kill surely lands mid-call
        upload_id = upload(client, sheet(("s05_std05_dkg_p1.png", "s09_std09_kristi_p1.png")[n % 2]))["job_id"]
        kill_during(worker, openai_server, "PageExtraction", upload_id, before)
        kills += 1
        extraction = wait_for_job(upload_id, timeout=60)
        assert extraction.status == "completed", extraction.error_message

        pool_ready(worker)
        before = calls(openai_server, "ScriptGrading")
        openai_server.hold()  # before the grade is queued, so the kill lands mid-call
        response = client.post("/api/v1/grade", {"upload_job_id": upload_id, "standard_id": 5}, format="json")
        assert response.status_code == 202, response.json()
        grading_id = response.json()["data"]["job_id"]
        kill_during(worker, openai_server, "ScriptGrading", grading_id, before)
        kills += 1
        grading = wait_for_job(grading_id, timeout=60)
        assert grading.status == "completed", grading.error_message
        jobs.append((extraction, grading))

    figures = {
        "kills": kills,
        "scripts": scripts,
        "jobs": 0,
        "finished_once": 0,
        "duplicate_submissions": 0,
        "duplicate_results": 0,
        "emails": 0,
        "duplicate_emails": 0,
        "missing_emails": 0,
    }
    for extraction, grading in jobs:
        for job in (extraction, grading):
            job.refresh_from_db()
            figures["jobs"] += 1
            # "Completed." is logged just after the status is committed
            wait_until(lambda j=job: j.events.filter(message="Completed.").exists(), timeout=10, what="the log line")
            completed = job.events.filter(message="Completed.").count()
            figures["finished_once"] += int(job.status == "completed" and completed == 1)
            assert job.events.filter(message=STOPPED).count() == 1, list(job.events.values_list("message", flat=True))
        with schema_context("alpha"):
            submissions = list(Submission.objects.filter(upload_job_id=extraction.pk))
            figures["duplicate_submissions"] += len(submissions) - 1
            (submission,) = submissions
            numbers = list(QuestionResult.objects.filter(submission=submission).values_list("number", flat=True))
            figures["duplicate_results"] += len(numbers) - len(set(numbers))
            assert submission.grading_job_id == grading.pk
        email_jobs = BackgroundJob.objects.filter(job_type="email", input__grading_job_id=str(grading.pk))
        figures["duplicate_emails"] += max(0, email_jobs.count() - 1)
        for email_job in email_jobs:
            assert wait_for_job(email_job.pk, timeout=30).status == "completed"
        link = f"/submissions/{submission.pk}/"
        sent = sum(1 for text in sent_mails() if link in text and f"To: {personas.dana.email}" in text)
        figures["emails"] += sent
        figures["duplicate_emails"] += max(0, sent - 1)
        figures["missing_emails"] += int(sent == 0)
    assert worker.process.poll() is None, "the worker's main process survived every kill"
    pool_ready(worker)
    assert any(name.startswith(f"{worker.name}@") for reply in app.control.ping(timeout=1) for name in reply)
    return figures


def sent_mails() -> list[str]:
    return [p.read_text() for p in mail_dir().iterdir()] if mail_dir().exists() else []


def check(figures: dict) -> None:
    assert figures["finished_once"] == figures["jobs"], figures
    assert figures["duplicate_submissions"] == figures["duplicate_results"] == 0, figures
    assert figures["duplicate_emails"] == figures["missing_emails"] == 0, figures


def test_two_kills_mid_extraction_and_mid_grading_of_one_script_still_finish_each_job_once(
    celery_worker, live_db, api, personas, openai_server
):
    if FULL:
        pytest.skip("the long variant runs instead")
    figures = crash_chain(celery_worker, api(personas.alpha, personas.dana), openai_server, personas, scripts=1)
    record_figures("worker_crashes", figures)
    check(figures)


@full_only
def test_ten_kills_alternating_mid_extraction_and_mid_grading_finish_every_job_once(
    celery_worker, live_db, api, personas, openai_server
):
    figures = crash_chain(celery_worker, api(personas.alpha, personas.dana), openai_server, personas, scripts=5)
    record_figures("worker_crashes", figures)
    assert figures["kills"] >= 10
    check(figures)
