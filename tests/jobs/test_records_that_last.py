"""Records that outlast a job's expiry, on a real worker: the plan's monthly limit, statistics and session logs after
clean-up, and retrying a failed grading job through the same checks as a first start (issue 17).

Each test grades as a member of Alpha of its own, who sees only their own jobs, so the figures are exact although the
other worker tests' jobs are committed in the same database.
"""

from __future__ import annotations

import uuid
from datetime import UTC, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.conf import settings
from django.utils import timezone
from django_tenants.utils import schema_context

from grading.models import QuestionResult, Submission, SubmissionStatus
from jobs.models import BackgroundJob, GradingSession, JobStatus, JobType
from jobs.retention import cleanup_jobs
from organizations.models import Membership, Organization, Role, User
from organizations.usage import quizzes_graded, quizzes_this_month
from tests.helpers import wait_for_job

pytestmark = [pytest.mark.worker]


@pytest.fixture
def member(personas, live_db):
    """A new assessor of Alpha (jobs: only their own), and Alpha's quiz limit put back afterwards."""
    user = User.objects.create_user(f"m{uuid.uuid4().hex[:10]}@alpha.test", "pw-not-used")
    Membership.objects.create(user=user, organization=personas.alpha, role=Role.MEMBER)
    yield user
    Organization.objects.filter(pk=personas.alpha.pk).update(quiz_limit_override=None)


def set_limit(organization, limit: int) -> None:
    Organization.objects.filter(pk=organization.pk).update(quiz_limit_override=limit)


def read_scripts(organization, user, count: int) -> tuple[BackgroundJob, list[Submission]]:
    """An upload whose pages have been read into ``count`` scripts of two questions each, in a session of its own."""
    session = GradingSession.objects.create(organization=organization, user=user, label="week 1")
    upload = BackgroundJob.objects.create(
        organization=organization,
        user=user,
        session=session,
        job_type=JobType.EXTRACTION,
        status=JobStatus.COMPLETED,
        input={"files": []},
        started_at=timezone.now() - timedelta(seconds=5),
        completed_at=timezone.now(),
    )
    scripts = []
    with schema_context(organization.schema_name):
        for _ in range(count):
            submission = Submission.objects.create(
                upload_job_id=upload.pk, session_id=session.pk, status=SubmissionStatus.EXTRACTED
            )
            for n in (1, 2):
                QuestionResult.objects.create(
                    submission=submission,
                    number=n,
                    question_text=f"Question {n}: what is duty of care?",
                    answer_text="Keeping the people I support safe from harm and reporting concerns.",
                    max_score=Decimal(2),
                )
            scripts.append(submission)
    return upload, scripts


def grade(client, upload) -> dict:
    return client.post("/api/v1/grade", {"upload_job_id": str(upload.pk), "standard_id": 3}, format="json")


def submissions(ids) -> list[Submission]:
    with schema_context("alpha"):
        return list(Submission.objects.filter(pk__in=ids).order_by("created_at"))


def test_the_monthly_limit_holds_after_cleanup_and_resets_on_the_1st(celery_worker, api, personas, member):
    client = api(personas.alpha, member)
    graded_before = quizzes_graded(personas.alpha)
    set_limit(personas.alpha, quizzes_this_month(personas.alpha) + 2)
    upload, _ = read_scripts(personas.alpha, member, 2)

    accepted = grade(client, upload)
    assert accepted.status_code == 202, accepted.json()
    job = wait_for_job(accepted.json()["data"]["job_id"], timeout=60)
    assert job.status == "completed", job.error_message
    assert quizzes_graded(personas.alpha) == graded_before + 2

    past_expiry = timezone.now() + timedelta(hours=settings.JOB_EXPIRY_HOURS, minutes=1)
    assert cleanup_jobs(now=past_expiry).files_removed >= 2  # the upload and the grading job (and others' jobs)
    job.refresh_from_db()
    assert job.files_removed_at == past_expiry and job.input == {} and job.result is None

    another, _ = read_scripts(personas.alpha, member, 1)
    refused = grade(client, another)
    body = refused.json()
    assert refused.status_code == 403 and body["code"] == "PLAN_LIMIT_EXCEEDED", body
    limit = Organization.objects.get(pk=personas.alpha.pk).quiz_limit
    assert body["details"] == {"plan": "pro", "quiz_limit": limit, "quizzes_this_month": limit}

    now = timezone.now()
    first_of_next_month = (now.replace(day=28) + timedelta(days=4)).replace(day=1, hour=0, minute=0, second=1)
    with mock.patch("django.utils.timezone.now", return_value=first_of_next_month.astimezone(UTC)):
        accepted = grade(client, another)
    assert accepted.status_code == 202, accepted.json()
    assert wait_for_job(accepted.json()["data"]["job_id"], timeout=60).status == "completed"


def test_the_weeks_jobs_and_a_sessions_log_remain_after_cleanup(celery_worker, api, personas, member):
    client = api(personas.alpha, member)
    upload, scripts = read_scripts(personas.alpha, member, 1)
    now = timezone.now()
    for days, seconds in [(3, 40), (8, 10)]:  # one earlier this week, one before the week
        BackgroundJob.objects.create(
            organization=personas.alpha,
            user=member,
            job_type=JobType.GRADING,
            status=JobStatus.COMPLETED,
            input={"quiz_count": 1},
            created_at=now - timedelta(days=days),
            started_at=now - timedelta(days=days),
            completed_at=now - timedelta(days=days) + timedelta(seconds=seconds),
            expires_at=now - timedelta(days=days - 1),
        )
    accepted = grade(client, upload)
    assert accepted.status_code == 202, accepted.json()
    job = wait_for_job(accepted.json()["data"]["job_id"], timeout=60)
    assert job.status == "completed", job.error_message
    for email in BackgroundJob.objects.filter(user=member, job_type=JobType.EMAIL):
        wait_for_job(email.pk, timeout=60)

    cleanup_jobs(now=timezone.now() + timedelta(hours=settings.JOB_EXPIRY_HOURS, minutes=1))

    stats = client.get("/api/v1/jobs/stats", {"hours": 168}).json()["data"]
    emails = BackgroundJob.objects.filter(user=member, job_type=JobType.EMAIL).count()
    assert stats["by_type"] == {"extraction": 1, "grading": 2, "email": emails, "scheme_import": 0}
    assert stats["by_status"]["completed"] == 3 + emails
    assert stats["grading_duration_seconds"]["completed_jobs"] == 2
    assert stats["grading_duration_seconds"]["max"] == pytest.approx(max(40.0, job.duration_seconds), abs=0.01)
    assert (stats["pending"], stats["processing"], stats["active_sessions"]) == (0, 0, 0)

    session = client.get(f"/api/v1/sessions/{upload.session_id}").json()["data"]
    assert session["status"] == "completed"
    assert [j["id"] for j in session["jobs"]][:2] == [str(upload.pk), str(job.pk)]
    assert all(j["files_removed_at"] for j in session["jobs"])
    messages = [line["message"] for line in session["log"] if line["job_id"] == str(job.pk)]
    assert messages[0] == "Grading job accepted." and "Completed." in messages
    assert messages[-1].startswith("The uploaded files and the job's input and result were removed")
    result = client.get(f"/api/v1/jobs/{job.pk}/result")
    assert result.status_code == 410 and result.json()["code"] == "JOB_EXPIRED"
    assert submissions([scripts[0].pk])[0].grading_job_id == job.pk


def test_retrying_a_failed_grading_job_completes_its_session_and_respects_the_plan(
    celery_worker, api, web, personas, member, openai_server
):
    client = api(personas.alpha, member)
    pages = web(personas.alpha, member)
    upload, scripts = read_scripts(personas.alpha, member, 2)
    openai_server.script("ScriptGrading", [{"status": 401}, {"status": 401}])
    failed = wait_for_job(grade(client, upload).json()["data"]["job_id"], timeout=60)
    assert failed.status == "failed" and failed.error_code == "PROVIDER_AUTH"
    assert {(s.status, s.grading_error) for s in submissions([s.pk for s in scripts])} == {
        ("grading_failed", failed.error_message)
    }
    assert client.get(f"/api/v1/sessions/{upload.session_id}").json()["data"]["status"] == "needs_attention"
    shown = client.get(f"/api/v1/submissions/{scripts[0].pk}").json()["data"]
    assert (shown["status"], shown["grading_error"]) == ("grading_failed", failed.error_message)

    set_limit(personas.alpha, quizzes_this_month(personas.alpha) + 1)  # one script short of the two to retry
    refused = pages.post(f"/jobs/{failed.pk}/retry/", HTTP_ACCEPT="application/json")
    assert refused.status_code == 403 and refused.json()["code"] == "PLAN_LIMIT_EXCEEDED"
    assert BackgroundJob.objects.filter(user=member, job_type=JobType.GRADING).count() == 1
    assert {s.grading_job_id for s in submissions([s.pk for s in scripts])} == {failed.pk}

    set_limit(personas.alpha, quizzes_this_month(personas.alpha) + 2)
    retried = pages.post(f"/jobs/{failed.pk}/retry/", HTTP_ACCEPT="application/json")
    assert retried.status_code == 202, retried.json()
    new_job = wait_for_job(retried.json()["data"]["job_id"], timeout=60)
    assert new_job.status == "completed", new_job.error_message

    graded = submissions([s.pk for s in scripts])
    assert {s.grading_job_id for s in graded} == {new_job.pk}
    assert {s.status for s in graded} <= {"graded", "needs_review"} and all(not s.grading_error for s in graded)
    failed.refresh_from_db()
    assert failed.retried_as == new_job.pk
    for email in BackgroundJob.objects.filter(user=member, job_type=JobType.EMAIL):  # "grading complete", same session
        wait_for_job(email.pk, timeout=60)
    assert client.get(f"/api/v1/sessions/{upload.session_id}").json()["data"]["status"] == "completed"
    again = pages.post(f"/jobs/{failed.pk}/retry/", HTTP_ACCEPT="application/json")
    assert again.status_code == 403 and again.json()["code"] == "PLAN_LIMIT_EXCEEDED", "no room left this month"
