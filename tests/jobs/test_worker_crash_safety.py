"""A worker process killed with SIGKILL mid-task: the message is redelivered (acks_late + reject_on_worker_lost), the
job runs again from the start and finishes exactly once — one set of results, one email."""

from __future__ import annotations

import os
import signal
import time
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

from grading.models import QuestionResult, Submission
from jobs.models import BackgroundJob
from organizations.models import ProviderCall
from quizmarker.celery import app, whoami
from tests.fakeopenai import default_extraction
from tests.grading.test_pipeline_end_to_end import COMPLAINT_1_OF_4, DILEMMA_1_OF_5, DUTY_2_OF_4, NOT_ANSWERED
from tests.helpers import mail_dir, marks, sheet, upload, wait_for_job, wait_until

pytestmark = [pytest.mark.worker]

STOPPED_UNEXPECTEDLY = "The worker running this job stopped unexpectedly; running it again from the start."


@pytest.fixture
def alpha_api(api, personas, live_db):
    """Dana, an admin of Alpha (whose provider is the fake OpenAI), through the API. (Not Bob: the pipeline's end-to-end
    test counts Bob's emails.)"""
    return api(personas.alpha, personas.dana)


@pytest.fixture
def healthy_worker_afterwards(celery_worker, live_db):
    """The session worker replaces killed pool processes by itself; check it runs tasks again before moving on."""
    yield celery_worker
    assert celery_worker.process.poll() is None, "the worker's main process survived"
    deadline = time.monotonic() + 30
    while len(celery_worker.children()) < celery_worker.concurrency and time.monotonic() < deadline:
        time.sleep(0.1)
    assert any(name.startswith(f"{celery_worker.name}@") for reply in app.control.ping(timeout=1) for name in reply)
    with schema_context("alpha"):
        assert whoami.delay().get(timeout=30)["schema"] == "alpha", "a pool process runs tasks again"


def kill_pool_processes(worker) -> list[int]:
    children = worker.children()
    assert children, "the worker has pool processes"
    for pid in children:
        os.kill(pid, signal.SIGKILL)
    return children


def requests_of(openai_server, kind: str) -> list[dict]:
    return [r for r in openai_server.requests() if r["kind"] == kind]


def test_a_worker_killed_mid_extraction_runs_the_job_again_and_writes_one_result(
    healthy_worker_afterwards, alpha_api, openai_server
):
    worker = healthy_worker_afterwards
    openai_server.hold()  # the page's answer waits: the worker is surely mid-call when it is killed
    job_id = upload(alpha_api, sheet("s05_std05_dkg_p1.png"))["job_id"]
    wait_until(lambda: requests_of(openai_server, "PageExtraction"), what="the page to reach the provider")
    assert BackgroundJob.objects.get(pk=job_id).status == "processing"
    message_id = BackgroundJob.objects.get(pk=job_id).celery_task_id

    killed = kill_pool_processes(worker)
    openai_server.release()  # the second attempt is answered

    job = wait_for_job(job_id, timeout=45)
    assert job.status == "completed", job.error_message
    assert job.celery_task_id == message_id, "the same message was redelivered, not a new one published"
    assert job.retry_count == 1, "the lost attempt counts against the job's retries"
    assert job.events.filter(message=STOPPED_UNEXPECTEDLY, level="warning").count() == 1
    assert job.events.filter(message="Completed.").count() == 1
    assert len(requests_of(openai_server, "PageExtraction")) == 2, "the page was read again from the start"
    with schema_context("alpha"):
        submissions = Submission.objects.filter(upload_job_id=job_id)
        assert submissions.count() == 1, "exactly one result"
        assert [str(s.pk) for s in submissions] == job.result["submission_ids"]
        transcribed = QuestionResult.objects.filter(submission__upload_job_id=job_id).order_by("number")
        assert [(q.number, q.answer_text) for q in transcribed] == [
            (q["number"], q["answer"]) for q in default_extraction()["questions"]
        ], "each answer once, under its own number"
    assert not set(killed) & set(worker.children()), "the killed processes were replaced"


def test_a_worker_killed_mid_grading_grades_once_and_sends_one_email(
    healthy_worker_afterwards, personas, alpha_api, openai_server
):
    worker = healthy_worker_afterwards
    upload_job = wait_for_job(upload(alpha_api, sheet("s05_std05_dkg_p1.png"))["job_id"], timeout=30)
    assert upload_job.status == "completed", upload_job.error_message
    (submission_id,) = upload_job.result["submission_ids"]

    openai_server.hold()
    response = alpha_api.post("/api/v1/grade", {"upload_job_id": str(upload_job.pk), "standard_id": 3}, format="json")
    assert response.status_code == 202, response.json()
    job_id = response.json()["data"]["job_id"]
    wait_until(lambda: requests_of(openai_server, "ScriptGrading"), what="the script to reach the provider")
    assert BackgroundJob.objects.get(pk=job_id).status == "processing"

    kill_pool_processes(worker)
    openai_server.release()

    job = wait_for_job(job_id, timeout=45)
    assert job.status == "completed", job.error_message
    assert job.events.filter(message=STOPPED_UNEXPECTEDLY).count() == 1
    assert job.result["submission_ids"] == [submission_id]
    assert len(requests_of(openai_server, "ScriptGrading")) == 2
    assert ProviderCall.objects.filter(job_id=job_id, purpose="grading", succeeded=True).count() == 1, (
        "only the finished attempt's call is accounted"
    )
    with schema_context("alpha"):
        submission = Submission.objects.get(pk=submission_id)
        assert submission.graded_at is not None and submission.grading_job_id == job.pk
        assert marks(submission.questions.all()) == {  # the fake's default page, graded once, each on its own row
            1: ("2.00", DUTY_2_OF_4, False, ""),
            2: ("1.00", DILEMMA_1_OF_5, False, ""),
            3: ("1.00", COMPLAINT_1_OF_4, False, ""),
            4: NOT_ANSWERED,
            5: NOT_ANSWERED,
        }
        assert submission.total_score == Decimal("4.00") and submission.status == "graded"

    emails = BackgroundJob.objects.filter(job_type="email", input__grading_job_id=str(job_id))
    assert emails.count() == 1, "exactly one email job"
    email_job = wait_for_job(emails.get().pk, timeout=30)
    assert email_job.status == "completed" and email_job.result["sent"] is True
    link = f"/submissions/{submission_id}/"
    mails = [p for p in mail_dir().iterdir() if link in p.read_text() and f"To: {personas.dana.email}" in p.read_text()]
    assert len(mails) == 1, "Dana gets exactly one email"


def test_a_job_that_kills_its_worker_every_time_fails_after_its_retries_instead_of_looping(
    healthy_worker_afterwards, alpha_api, openai_server
):
    # A poison job (say, a page that needs more memory than a worker has) kills the process running it on every
    # attempt. The redelivered message must not loop forever: each lost attempt counts against max_retries.
    worker = healthy_worker_afterwards
    openai_server.hold()  # every attempt is killed mid-call
    job_id = upload(alpha_api, sheet("s05_std05_dkg_p1.png"))["job_id"]
    kills = 0
    while kills < 6:
        wait_until(
            lambda seen=kills: (
                len(requests_of(openai_server, "PageExtraction")) > seen
                or BackgroundJob.objects.get(pk=job_id).is_finished
            ),
            timeout=30,
            what="the next attempt to reach the provider",
        )
        if BackgroundJob.objects.get(pk=job_id).is_finished:
            break
        kill_pool_processes(worker)
        kills += 1

    openai_server.release()
    job = wait_for_job(job_id, timeout=30)
    assert job.status == "failed", f"still {job.status} after {kills} lost attempts"
    assert kills == job.max_retries + 1 == 4
    assert job.error_code == "WORKER_LOST"
    assert "stopped unexpectedly" in job.error_message and "4 attempts" in job.error_message
    assert job.retry_count == job.max_retries
    assert len(requests_of(openai_server, "PageExtraction")) == 4
    with schema_context("alpha"):
        assert not Submission.objects.filter(upload_job_id=job_id).exists()
