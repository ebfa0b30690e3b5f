"""Every door that starts AI work has the API's limits (issue 19, item 8): the upload form, the review page's Grade
button and job retry count against the same per-user rates and counters as the API, and a retry checks the plan."""

from __future__ import annotations

import uuid

import pytest
from django_tenants.utils import schema_context

from grading.models import Submission
from jobs.models import BackgroundJob, JobStatus, JobType
from organizations.models import Organization
from quizmarker.throttles import GradeThrottle, UploadThrottle
from tests.grading.test_pages import flash, make_submission, review_data
from tests.helpers import sheet

pytestmark = pytest.mark.django_db


@pytest.fixture
def rates(monkeypatch):
    def _set(upload: str = "100/hour", grade: str = "100/hour"):
        monkeypatch.setattr(UploadThrottle, "THROTTLE_RATES", {"upload": upload})
        monkeypatch.setattr(GradeThrottle, "THROTTLE_RATES", {"grade": grade})

    return _set


def test_the_upload_form_and_the_api_share_one_upload_rate(web, api, personas, rates):
    rates(upload="2/hour")
    page = web(personas.alpha, personas.bob)
    client = api(personas.alpha, personas.bob)
    assert (
        client.post("/api/v1/upload", {"files": [sheet("s01_std01_breip_p1.png")]}, format="multipart").status_code
        == 202
    )
    assert page.post("/upload/", {"files": [sheet("s01_std01_breip_p1.png")]}).status_code == 302
    before = BackgroundJob.objects.filter(user=personas.bob, job_type=JobType.EXTRACTION).count()

    refused = page.post("/upload/", {"files": [sheet("s01_std01_breip_p1.png")]})
    assert refused.status_code == 429
    assert any(m.startswith("You have uploaded too often in the last hour; try again in") for m in flash(refused))
    api_refused = client.post("/api/v1/upload", {"files": [sheet("s01_std01_breip_p1.png")]}, format="multipart")
    assert api_refused.status_code == 429 and api_refused.json()["code"] == "THROTTLED"
    assert BackgroundJob.objects.filter(user=personas.bob, job_type=JobType.EXTRACTION).count() == before
    # Another person's uploads are counted apart.
    assert (
        web(personas.alpha, personas.dana).post("/upload/", {"files": [sheet("s01_std01_breip_p1.png")]}).status_code
        == 302
    )


def test_the_review_pages_grade_button_counts_against_the_grading_rate(web, personas, rates):
    rates(grade="1/hour")
    with schema_context("alpha"):
        first, second = (
            make_submission(name=name, status="extracted", standard=None, scores=((None, 2, False),) * 2)
            for name in ("Gina Grade", "Hal Grade")
        )
        first_data, second_data = review_data(first, grade="1"), review_data(second, grade="1")
    page = web(personas.alpha, personas.bob)
    page.post(f"/submissions/{first.pk}/review/", first_data)
    response = page.post(f"/submissions/{second.pk}/review/", second_data, follow=True)
    assert any(
        "grading could not start: You have started grading too often in the last hour" in m for m in flash(response)
    )
    with schema_context("alpha"):
        first.refresh_from_db()
        second.refresh_from_db()
        assert first.grading_job_id is not None
        assert second.grading_job_id is None
        assert second.student.full_name == "Rita Reviewed", "the corrections are still saved"


def _failed(personas, job_type, scripts=1):
    """A failed job of Bob's; a grading job's scripts exist (a retry grades them again through start_grading)."""
    input = {}
    if job_type == JobType.GRADING:
        with schema_context("alpha"):
            ids = [str(Submission.objects.create(upload_job_id=uuid.uuid4(), standard=3).pk) for _ in range(scripts)]
        input = {"submission_ids": ids, "standard_id": 3, "quiz_count": scripts}
    return BackgroundJob.objects.create(
        organization=personas.alpha, user=personas.bob, job_type=job_type, status=JobStatus.FAILED, input=input
    )


def test_retrying_jobs_counts_against_the_same_rates(web, personas, rates):
    rates(upload="1/hour", grade="1/hour")
    page = web(personas.alpha, personas.bob)
    json = {"HTTP_ACCEPT": "application/json"}
    assert page.post(f"/jobs/{_failed(personas, JobType.EXTRACTION).pk}/retry/", **json).status_code == 202
    refused = page.post(f"/jobs/{_failed(personas, JobType.EXTRACTION).pk}/retry/", **json)
    assert refused.status_code == 429 and refused.json()["code"] == "THROTTLED"
    # The grading rate is its own.
    assert page.post(f"/jobs/{_failed(personas, JobType.GRADING).pk}/retry/", **json).status_code == 202
    assert page.post(f"/jobs/{_failed(personas, JobType.GRADING).pk}/retry/", **json).status_code == 429


def test_retrying_a_grading_job_checks_the_plan(web, personas, rates):
    rates()
    from organizations.usage import quizzes_this_month, record_graded

    record_graded(personas.alpha.pk, 1)
    Organization.objects.filter(pk=personas.alpha.pk).update(quiz_limit_override=quizzes_this_month(personas.alpha) + 1)
    failed = _failed(personas, JobType.GRADING, scripts=2)
    response = web(personas.alpha, personas.bob).post(f"/jobs/{failed.pk}/retry/", HTTP_ACCEPT="application/json")
    assert response.status_code == 403
    assert response.json()["code"] == "PLAN_LIMIT_EXCEEDED"
    assert not BackgroundJob.objects.filter(
        job_type=JobType.GRADING, status=JobStatus.QUEUED, user=personas.bob
    ).exists()
