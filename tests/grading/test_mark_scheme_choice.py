"""Which mark scheme grades a script: named by id, else the standard's published scheme, fixed when grading is
asked for and recorded on the submission (results page and API)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

from grading.models import QuestionResult, Submission, SubmissionStatus
from jobs.models import BackgroundJob, JobStatus, JobType
from markschemes.services import create_draft, publish, published_for_standard, scheme_data, update_draft

pytestmark = pytest.mark.django_db


def _extracted(personas, detected_standard=None):
    job = BackgroundJob.objects.create(
        organization=personas.alpha,
        user=personas.bob,
        job_type=JobType.EXTRACTION,
        status=JobStatus.COMPLETED,
        input={"files": []},
    )
    with schema_context("alpha"):
        submission = Submission.objects.create(
            upload_job_id=job.pk,
            status=SubmissionStatus.EXTRACTED,
            standard=detected_standard,
            detected_standard=detected_standard,
        )
        QuestionResult.objects.create(submission=submission, number=1, question_text="Q?", answer_text="An answer.")
    return job, submission


def _grade(api, personas, body):
    return api(personas.alpha, personas.bob).post("/api/v1/grade", body, format="json")


def _error(response, field):
    body = response.json()
    assert response.status_code == 400, body
    assert body["code"] == "VALIDATION_ERROR" and list(body["details"]) == [field]
    return body["error"]


def test_a_scheme_named_by_id_grades_and_is_shown_on_the_submission(api, web, personas):
    upload, submission = _extracted(personas)
    with schema_context("alpha"):
        data = scheme_data(published_for_standard(5)) | {"title": "Person-centred, our own quiz"}
        ours = publish(create_draft(data, created_by="alice@alpha.test"))
    response = _grade(api, personas, {"upload_job_id": str(upload.pk), "mark_scheme_id": ours.pk})
    assert response.status_code == 202, response.json()
    job = BackgroundJob.objects.get(pk=response.json()["data"]["job_id"])
    assert (job.input["standard_id"], job.input["mark_scheme_id"]) == (5, ours.pk)
    detail = api(personas.alpha, personas.bob).get(f"/api/v1/submissions/{submission.pk}").json()["data"]
    assert detail["standard"] == 5
    assert detail["mark_scheme"] == {
        "id": ours.pk,
        "key": str(ours.key),
        "standard": 5,
        "title": "Person-centred, our own quiz",
        "version": 1,
        "state": "published",
    }
    page = web(personas.alpha, personas.bob).get(f"/submissions/{submission.pk}/")
    assert "Mark scheme: Person-centred, our own quiz, version 1" in page.content.decode()


def test_without_a_standard_the_sheets_standard_chooses_its_published_scheme(api, personas):
    upload, submission = _extracted(personas, detected_standard=8)
    response = _grade(api, personas, {"upload_job_id": str(upload.pk)})
    assert response.status_code == 202, response.json()
    with schema_context("alpha"):
        assert Submission.objects.get(pk=submission.pk).mark_scheme == published_for_standard(8)


def test_a_draft_or_unknown_scheme_or_one_for_another_standard_is_refused(api, personas):
    upload, _ = _extracted(personas)
    with schema_context("alpha"):
        draft = update_draft(published_for_standard(2), scheme_data(published_for_standard(2)))
        three = published_for_standard(3).pk
    assert _error(
        _grade(api, personas, {"upload_job_id": str(upload.pk), "mark_scheme_id": draft.pk}), "mark_scheme_id"
    ) == (f"There is no published mark scheme {draft.pk}; choose a published one.")
    assert _error(_grade(api, personas, {"upload_job_id": str(upload.pk), "mark_scheme_id": 99999}), "mark_scheme_id")
    assert (
        _error(
            _grade(api, personas, {"upload_job_id": str(upload.pk), "mark_scheme_id": three, "standard_id": 4}),
            "mark_scheme_id",
        )
        == f"Mark scheme {three} is for standard 3, not standard 4."
    )
    assert not BackgroundJob.objects.filter(job_type=JobType.GRADING, user=personas.bob).exists()


def test_a_standard_with_no_published_scheme_cannot_be_graded(api, personas):
    upload, _ = _extracted(personas)
    with schema_context("alpha"):
        from markschemes.models import MarkScheme, SchemeState

        MarkScheme.objects.filter(standard=9).update(state=SchemeState.ARCHIVED)
    message = _error(_grade(api, personas, {"upload_job_id": str(upload.pk), "standard_id": 9}), "standard_id")
    assert message == "Standard 9 has no published mark scheme; publish one before grading."


def test_an_upload_that_asks_for_grading_fixes_the_scheme_version_when_it_is_accepted(api, personas):
    from tests.helpers import sheet

    with schema_context("alpha"):
        v1 = published_for_standard(6)
    response = api(personas.alpha, personas.bob).post(
        "/api/v1/upload",
        {"files": [sheet("s01_std01_breip_p1.png")], "standard_id": 6, "grade": "true"},
        format="multipart",
    )
    assert response.status_code == 202, response.json()
    with schema_context("alpha"):
        data = scheme_data(v1)
        data["questions"][0]["max_marks"] = "1"
        v2 = publish(update_draft(v1, data))
        assert v2.version == 2 and v2.questions.get(number=1).max_marks == Decimal("1")
    job = BackgroundJob.objects.get(pk=response.json()["data"]["job_id"])
    assert job.input["mark_scheme_id"] == v1.pk
