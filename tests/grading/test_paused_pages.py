"""While the job queue (the broker) is down, the pages say that processing is paused, and a person's upload or grade
request is refused with that sentence: nothing is stored or created."""

from __future__ import annotations

import uuid

import pytest
from django.test import override_settings
from django_tenants.utils import schema_context

from grading.models import Submission, SubmissionStatus
from jobs.models import BackgroundJob
from tests.helpers import sheet

pytestmark = pytest.mark.django_db

DOWN = "redis://127.0.0.1:1/0"  # nothing listens there
BANNER = "Processing is paused:"


@pytest.fixture
def member(web, personas):
    return web(personas.alpha, personas.bob)


@pytest.mark.parametrize("path", ["/", "/upload/"])
def test_the_dashboard_and_upload_page_say_processing_is_paused_only_while_the_broker_is_down(member, path):
    assert BANNER not in member.get(path).content.decode()
    with override_settings(CELERY_BROKER_URL=DOWN):
        page = member.get(path)
    assert page.status_code == 200
    assert BANNER in page.content.decode() and 'data-role="processing-paused"' in page.content.decode()


def test_an_upload_through_the_form_while_the_broker_is_down_is_refused_and_creates_nothing(member):
    before = BackgroundJob.objects.count()
    with override_settings(CELERY_BROKER_URL=DOWN):
        response = member.post("/upload/", {"files": [sheet("s01_std01_breip_p1.png")], "standard": "1"})
    assert response.status_code == 503
    assert any(str(m).startswith("Processing is paused") for m in response.context["messages"])
    assert BackgroundJob.objects.count() == before


def test_a_grade_request_while_the_broker_is_down_is_a_503_with_retry_after(api, personas):
    client = api(personas.alpha, personas.dana)
    with schema_context("alpha"):
        submission = Submission.objects.create(
            status=SubmissionStatus.EXTRACTED, standard=1, upload_job_id=uuid.uuid4()
        )
    before = BackgroundJob.objects.count()
    with override_settings(CELERY_BROKER_URL=DOWN):
        response = client.post("/api/v1/grade", {"submission_id": str(submission.pk)}, format="json")
    body = response.json()
    assert response.status_code == 503, body
    assert body["code"] == "SERVICE_UNAVAILABLE" and body["error"].startswith("Processing is paused"), body
    assert response["Retry-After"] == "30"
    assert BackgroundJob.objects.count() == before
    with schema_context("alpha"):
        assert Submission.objects.get(pk=submission.pk).grading_job_id is None
