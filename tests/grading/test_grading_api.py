"""Upload, grade, standards, submissions and students endpoints: contract answers, validation and limits."""

import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import schema_context
from PIL import Image, ImageDraw

from grading.models import QuestionResult, Student, Submission, SubmissionStatus, UploadedFile
from jobs.models import BackgroundJob, JobStatus, JobType
from markschemes.services import published_for_standard
from organizations.models import Membership, User
from tests.helpers import api_data, api_error, post_upload, sheet, upload

pytestmark = pytest.mark.django_db


def _png(width=800, height=1000, blank=False, fmt="PNG") -> bytes:
    image = Image.new("RGB", (width, height), "white")
    if not blank:
        draw = ImageDraw.Draw(image)
        for y in range(50, height - 50, 40):
            draw.text((40, y), "1. What is duty of care? It is keeping people safe.", fill="black")
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def _error(response, status, code):
    body = api_error(response, status, code)
    assert len(body["error"]) > 15, "a sentence a person understands"
    return body


def _stored_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT) / "uploads"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_an_accepted_upload_answers_202_with_the_job_and_stores_the_files(api, personas):
    response = post_upload(api(personas.alpha, personas.bob), sheet("s01_std01_breip_p1.png"), standard_id=1)
    assert response.status_code == 202
    data = response.json()["data"]
    assert data["status"] == "queued" and data["estimated_time"] > 0
    job = BackgroundJob.objects.get(pk=data["job_id"])
    assert job.job_type == JobType.EXTRACTION and job.user == personas.bob and job.organization == personas.alpha
    assert job.input["standard_id"] == 1
    stored = Path(settings.MEDIA_ROOT) / job.input["files"][0]["path"]
    assert stored.read_bytes() == (Path(__file__).parents[1] / "fixtures/sheets/s01_std01_breip_p1.png").read_bytes()
    with schema_context("alpha"):
        assert UploadedFile.objects.get(upload_job_id=job.pk).original_name == "s01_std01_breip_p1.png"


def test_the_type_comes_from_the_content_not_the_name(api, personas):
    response = post_upload(api(personas.alpha, personas.bob), SimpleUploadedFile("scan.pdf", _png()))
    assert response.status_code == 202
    job = BackgroundJob.objects.get(pk=response.json()["data"]["job_id"])
    assert job.input["files"][0]["content_type"] == "image/png"


@pytest.mark.parametrize(
    ("name", "content", "status", "code", "words"),
    [
        ("empty.png", b"", 400, "VALIDATION_ERROR", "empty"),
        ("program.png", b"MZ\x90\x00" + b"\x00" * 500, 415, "UNSUPPORTED_FILE", "Windows program"),
        (
            "drawing.png",
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>',
            415,
            "UNSUPPORTED_FILE",
            "SVG",
        ),
        ("page.jpg", b"<!DOCTYPE html><html><body>hi</body></html>", 415, "UNSUPPORTED_FILE", "web page"),
        ("cut.png", _png()[:400], 415, "UNSUPPORTED_FILE", "damaged"),
        ("tiny.png", _png(1, 1, blank=True), 400, "VALIDATION_ERROR", "too small"),
        ("blank.png", _png(blank=True), 400, "VALIDATION_ERROR", "blank"),
        ("huge.png", _png(8000, 6000, blank=True), 413, "FILE_TOO_LARGE", "megapixels"),
    ],
)
def test_bad_files_get_a_clear_4xx_and_nothing_is_stored(api, personas, name, content, status, code, words):
    before = set(_stored_files())
    body = _error(post_upload(api(personas.alpha, personas.bob), SimpleUploadedFile(name, content)), status, code)
    assert words in body["error"]
    assert set(_stored_files()) == before
    assert not BackgroundJob.objects.filter(
        user=personas.bob, job_type="extraction", input__files__0__size=len(content)
    ).exists()


def test_a_file_over_16_mb_is_413(api, personas, settings):
    settings.UPLOAD_MAX_FILE_BYTES = 1000
    body = _error(
        post_upload(api(personas.alpha, personas.bob), SimpleUploadedFile("big.png", _png())), 413, "FILE_TOO_LARGE"
    )
    assert "at most" in body["error"]


def test_more_than_20_files_is_refused(api, personas):
    files = [SimpleUploadedFile(f"p{i}.png", b"x") for i in range(21)]
    body = _error(post_upload(api(personas.alpha, personas.bob), *files), 400, "VALIDATION_ERROR")
    assert "at most 20" in body["error"]


def test_an_upload_without_files_says_what_is_missing(api, personas):
    _error(api(personas.alpha, personas.bob).post("/api/v1/upload", {}, format="multipart"), 400, "VALIDATION_ERROR")


def test_an_unknown_standard_is_refused_with_the_list_of_standards(api, personas):
    body = _error(
        post_upload(api(personas.alpha, personas.bob), sheet("s01_std01_breip_p1.png"), standard_id=42),
        400,
        "VALIDATION_ERROR",
    )
    assert "1, 2, 3" in body["error"]


def test_the_standards_are_discovered_from_the_reference_folder(api, personas):
    data = api(personas.alpha, personas.bob).get("/api/v1/standards").json()["data"]
    assert [s["id"] for s in data] == list(range(1, 16))
    assert data[2] == {"id": 3, "title": "Duty of care", "pages": data[2]["pages"]} and data[2]["pages"] >= 1
    assert data[8]["title"] == "Awareness of mental health, dementia and learning disability"


def _extracted(organization, user, questions=2, schema="alpha"):
    job = BackgroundJob.objects.create(
        organization=organization,
        user=user,
        job_type=JobType.EXTRACTION,
        status=JobStatus.COMPLETED,
        input={"files": []},
    )
    with schema_context(schema):
        submission = Submission.objects.create(upload_job_id=job.pk, status=SubmissionStatus.EXTRACTED)
        for n in range(1, questions + 1):
            QuestionResult.objects.create(
                submission=submission, number=n, question_text=f"Q{n}?", answer_text="An answer.", max_score=Decimal(2)
            )
    return job, submission


def test_grading_an_upload_starts_one_grading_job_for_its_scripts(api, personas):
    upload, submission = _extracted(personas.alpha, personas.bob)
    response = api(personas.alpha, personas.bob).post(
        "/api/v1/grade", {"upload_job_id": str(upload.pk), "standard_id": 3}, format="json"
    )
    assert response.status_code == 202, response.json()
    job = BackgroundJob.objects.get(pk=response.json()["data"]["job_id"])
    assert job.job_type == JobType.GRADING
    with schema_context("alpha"):
        scheme = published_for_standard(3)
        assert Submission.objects.get(pk=submission.pk).mark_scheme == scheme
    assert job.input == {
        "submission_ids": [str(submission.pk)],
        "standard_id": 3,
        "mark_scheme_id": scheme.pk,
        "quiz_count": 1,
    }


def test_grading_before_extraction_completes_is_409(api, personas):
    upload, _ = _extracted(personas.alpha, personas.bob)
    BackgroundJob.objects.filter(pk=upload.pk).update(status=JobStatus.PROCESSING)
    _error(
        api(personas.alpha, personas.bob).post(
            "/api/v1/grade", {"upload_job_id": str(upload.pk), "standard_id": 3}, format="json"
        ),
        409,
        "JOB_NOT_COMPLETED",
    )


def test_grading_needs_a_standard_and_one_kind_of_id(api, personas):
    client = api(personas.alpha, personas.bob)
    _error(client.post("/api/v1/grade", {}, format="json"), 400, "VALIDATION_ERROR")
    _error(client.post("/api/v1/grade", {"upload_job_id": "not-a-uuid"}, format="json"), 400, "VALIDATION_ERROR")
    _error(
        client.post("/api/v1/grade", {"upload_job_id": 5, "standard_id": "three"}, format="json"),
        400,
        "VALIDATION_ERROR",
    )
    upload, _ = _extracted(personas.alpha, personas.bob)
    body = _error(
        client.post("/api/v1/grade", {"upload_job_id": str(upload.pk)}, format="json"), 400, "VALIDATION_ERROR"
    )
    assert "standard" in body["error"]


def test_another_organizations_upload_cannot_be_graded(api, personas):
    upload, _ = _extracted(personas.beta, personas.charlie, schema="beta")
    _error(
        api(personas.alpha, personas.bob).post(
            "/api/v1/grade", {"upload_job_id": str(upload.pk), "standard_id": 3}, format="json"
        ),
        404,
        "NOT_FOUND",
    )


@pytest.fixture
def beta_plan_used_up(personas):
    """Beta may grade 2 quizzes a month and has graded 2."""
    from organizations.usage import record_graded

    personas.beta.quiz_limit_override = 2
    personas.beta.save()
    record_graded(personas.beta.pk, 2)  # the ledger: what a completed grading of 2 scripts wrote


def test_the_plan_limit_is_checked_before_a_grading_job_is_created(api, personas, beta_plan_used_up):
    upload, _ = _extracted(personas.beta, personas.charlie, schema="beta")
    body = _error(
        api(personas.beta, personas.charlie).post(
            "/api/v1/grade", {"upload_job_id": str(upload.pk), "standard_id": 3}, format="json"
        ),
        403,
        "PLAN_LIMIT_EXCEEDED",
    )
    assert body["details"] == {"plan": "free", "quiz_limit": 2, "quizzes_this_month": 2}
    assert not BackgroundJob.objects.filter(
        organization=personas.beta, job_type=JobType.GRADING, status=JobStatus.QUEUED
    ).exists()


def test_an_upload_that_asks_for_grading_is_refused_at_once_when_the_plan_is_used_up(api, personas, beta_plan_used_up):
    client = api(personas.beta, personas.charlie)

    def fields(**more):
        return {"files": [sheet("s05_std05_dkg_p1.png")], "standard_id": 5, **more}

    refused = client.post("/api/v1/upload", fields(grade="true"), format="multipart")
    body = _error(refused, 403, "PLAN_LIMIT_EXCEEDED")

    assert body["details"] == {"plan": "free", "quiz_limit": 2, "quizzes_this_month": 2}
    assert not BackgroundJob.objects.filter(organization=personas.beta, job_type=JobType.EXTRACTION).exists()
    # Reading the sheets without grading them is still allowed.
    assert client.post("/api/v1/upload", fields(), format="multipart").status_code == 202


def test_the_plan_counts_graded_scripts_and_those_being_graded_but_not_failed_jobs(api, personas):
    from organizations.usage import quizzes_this_month, record_graded

    for status, count in [("failed", 5), ("cancelled", 7), ("completed", 11), ("queued", 2), ("processing", 1)]:
        BackgroundJob.objects.create(
            organization=personas.beta, job_type=JobType.GRADING, status=status, input={"quiz_count": count}
        )
    record_graded(personas.beta.pk, 3)  # a completed job counts through the ledger, not through its row
    assert quizzes_this_month(personas.beta) == 3 + 2 + 1


def hourly_rate(scope: str) -> int:
    """The throttle's allowance per hour (THROTTLE_UPLOAD / THROTTLE_GRADE, "20/hour" by default)."""
    count, period = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][scope].split("/")
    assert period == "hour"
    return int(count)


def new_member(api, personas, email: str):
    """A new member of Alpha and their API client: nobody has spent any of this user's throttle allowance yet."""
    user = User.objects.create_user(email, "pw-not-used-here")
    Membership.objects.create(user=user, organization=personas.alpha, role="member")
    return user, api(personas.alpha, user)


def test_uploads_are_throttled_at_their_hourly_rate_per_user(api, personas):
    user, client = new_member(api, personas, "burst@alpha.test")
    for _ in range(hourly_rate("upload")):
        assert client.post("/api/v1/upload", {}, format="multipart").status_code == 400
    response = client.post("/api/v1/upload", {}, format="multipart")
    body = _error(response, 429, "THROTTLED")
    assert int(response["Retry-After"]) > 0 and body["details"]["retry_after_seconds"] > 0
    # The throttled user may still poll their job's status as often as clients do (it is never throttled)...
    job = BackgroundJob.objects.create(organization=personas.alpha, user=user, job_type=JobType.EXTRACTION)
    polls = [client.get(f"/api/v1/jobs/{job.pk}").status_code for _ in range(25)]
    assert polls == [200] * 25
    # ...and another user is unaffected.
    assert api(personas.alpha, personas.bob).post("/api/v1/upload", {}, format="multipart").status_code == 400


def test_grading_is_throttled_at_its_hourly_rate_per_user(api, personas):
    _, client = new_member(api, personas, "gradeburst@alpha.test")
    for _ in range(hourly_rate("grade")):
        assert client.post("/api/v1/grade", {}, format="json").status_code == 400
    _error(client.post("/api/v1/grade", {}, format="json"), 429, "THROTTLED")


def test_submissions_are_listed_with_filters_and_read_with_their_questions(api, personas):
    upload, submission = _extracted(personas.alpha, personas.bob)
    with schema_context("alpha"):
        student = Student.objects.create(full_name="Priya Patel")
        Submission.objects.filter(pk=submission.pk).update(student=student, standard=6)
        QuestionResult.objects.filter(submission=submission, number=2).update(
            needs_review=True, review_reason="Unsure."
        )
    client = api(personas.alpha, personas.bob)
    listed = client.get("/api/v1/submissions", {"standard": 6, "needs_review": "true"}).json()["data"]
    assert [s["id"] for s in listed["submissions"]] == [str(submission.pk)]
    assert listed["submissions"][0]["needs_review"] is True
    assert client.get("/api/v1/submissions", {"standard": 7}).json()["data"]["total"] == 0
    detail = client.get(f"/api/v1/submissions/{submission.pk}").json()["data"]
    assert detail["student"]["full_name"] == "Priya Patel"
    assert [q["number"] for q in detail["questions"]] == [1, 2]
    student_view = client.get(f"/api/v1/students/{student.pk}").json()["data"]
    assert [s["id"] for s in student_view["submissions"]] == [str(submission.pk)]
    assert client.get("/api/v1/students", {"search": "priya"}).json()["data"]["total"] == 1


def test_another_organizations_submission_is_404(api, personas):
    _, submission = _extracted(personas.beta, personas.charlie, schema="beta")
    _error(api(personas.alpha, personas.bob).get(f"/api/v1/submissions/{submission.pk}"), 404, "NOT_FOUND")


def test_an_assessor_override_keeps_the_ai_score_and_is_audited(api, personas):
    _, submission = _extracted(personas.alpha, personas.bob)
    with schema_context("alpha"):
        QuestionResult.objects.filter(submission=submission).update(ai_score=Decimal("1"), ai_feedback="Partly.")
        Submission.objects.filter(pk=submission.pk).update(status=SubmissionStatus.GRADED)
    client = api(personas.alpha, personas.bob)
    url = f"/api/v1/submissions/{submission.pk}/questions/1"
    _error(client.patch(url, {"score": "1.5"}, format="json"), 400, "VALIDATION_ERROR")  # no reason
    _error(client.patch(url, {"score": "3", "reason": "Generous"}, format="json"), 400, "VALIDATION_ERROR")
    response = client.patch(
        url, {"score": "2", "feedback": "Covers both points.", "reason": "Both key points."}, format="json"
    )
    assert response.status_code == 200, response.json()
    question = response.json()["data"]["questions"][0]
    assert question["ai_score"] == "1.00" and question["final_score"] == "2.00" and question["score"] == "2.00"
    assert question["final_set_by"] == "bob@alpha.test"
    assert response.json()["data"]["total_score"] == "3.00"
    with schema_context("alpha"):
        change = QuestionResult.objects.get(submission=submission, number=1).changes.get()
        assert (change.old_score, change.new_score, change.reason) == (Decimal("1"), Decimal("2"), "Both key points.")


def test_the_api_is_not_served_on_the_bare_domain(client):
    response = client.get("/api/v1/standards", HTTP_HOST="localhost")
    assert response.status_code == 404 and response.json()["code"] == "NOT_FOUND"


def test_an_unknown_api_path_is_a_json_404(api, personas):
    response = api(personas.alpha, personas.bob).get("/api/v1/nothing-here")
    assert response.status_code == 404 and response.json()["success"] is False


# --- Priority (issue #21, item 5) -----------------------------------------------------------------------------------


def test_an_upload_is_normal_priority_unless_asked_and_the_job_api_shows_it(api, personas):
    client = api(personas.alpha, personas.alice)
    normal = upload(client, sheet("s01_std01_breip_p1.png"), standard_id=1)
    high = upload(client, sheet("s01_std01_breip_p1.png"), standard_id=1, priority="high")

    assert BackgroundJob.objects.get(pk=normal["job_id"]).priority == "normal"
    assert BackgroundJob.objects.get(pk=high["job_id"]).priority == "high"
    assert api_data(client.get(f"/api/v1/jobs/{high['job_id']}"))["priority"] == "high"
    assert api_data(client.get(f"/api/v1/jobs/{normal['job_id']}"))["priority"] == "normal"
    listed = {job["id"]: job["priority"] for job in api_data(client.get("/api/v1/jobs?per_page=100"))["jobs"]}
    assert (listed[high["job_id"]], listed[normal["job_id"]]) == ("high", "normal")


def test_an_admin_may_grade_at_high_priority(api, personas):
    upload_job, _ = _extracted(personas.alpha, personas.dana)
    response = api(personas.alpha, personas.dana).post(
        "/api/v1/grade", {"upload_job_id": str(upload_job.pk), "standard_id": 3, "priority": "high"}, format="json"
    )
    job = BackgroundJob.objects.get(pk=api_data(response, 202)["job_id"])
    assert (job.job_type, job.priority) == (JobType.GRADING, "high")


def test_an_assessor_asking_for_high_priority_gets_403_and_nothing_starts(api, personas):
    client = api(personas.alpha, personas.bob)
    before = BackgroundJob.objects.filter(organization=personas.alpha).count()
    refused = _error(post_upload(client, sheet("s01_std01_breip_p1.png"), priority="high"), 403, "PERMISSION_DENIED")
    upload_job, _ = _extracted(personas.alpha, personas.bob)
    graded = client.post(
        "/api/v1/grade", {"upload_job_id": str(upload_job.pk), "standard_id": 3, "priority": "high"}, format="json"
    )

    sentence = (
        'Only the organization\'s owners and admins can ask for high priority; send priority "normal" or leave it out.'
    )
    assert refused["error"] == _error(graded, 403, "PERMISSION_DENIED")["error"] == sentence
    assert BackgroundJob.objects.filter(organization=personas.alpha).count() == before + 1, "only _extracted's job"
    assert (
        api_data(
            client.post(
                "/api/v1/grade",
                {"upload_job_id": str(upload_job.pk), "standard_id": 3, "priority": "normal"},
                format="json",
            ),
            202,
        )["status"]
        == "queued"
    ), "normal, said out loud, is every member's"


@pytest.mark.parametrize("value", ["urgent", "HIGH", ""])
def test_a_priority_other_than_normal_or_high_is_400_naming_the_field(api, personas, value):
    body = _error(
        post_upload(api(personas.alpha, personas.alice), sheet("s01_std01_breip_p1.png"), priority=value),
        400,
        "VALIDATION_ERROR",
    )
    assert body["error"] == f'priority must be "normal" or "high", not {value!r}.'
    assert body["details"] == {"priority": ['Send "normal" or "high", or leave it out (normal).']}


def test_the_grading_an_upload_starts_itself_and_a_retry_keep_its_priority(api, personas):
    from grading.services import grade_when_read
    from jobs.cancel_retry import retry_job

    upload_job, submission = _extracted(personas.alpha, personas.alice)
    BackgroundJob.objects.filter(pk=upload_job.pk).update(priority="high", input={"files": [], "standard_id": 3})
    upload_job.refresh_from_db()
    with schema_context("alpha"):
        submission.student = Student.objects.create(full_name="Pat Priority")  # a script with a learner: not held
        submission.save()
        started = grade_when_read(upload_job, [submission])
    grading = BackgroundJob.objects.get(pk=started["grading_job_id"])
    assert grading.priority == "high"

    BackgroundJob.objects.filter(pk=grading.pk).update(status=JobStatus.FAILED)
    grading.refresh_from_db()
    assert retry_job(grading, personas.bob).priority == "high", "kept, whoever retries it"
    BackgroundJob.objects.filter(pk=upload_job.pk).update(status=JobStatus.FAILED)
    upload_job.refresh_from_db()
    assert retry_job(upload_job).priority == "high"
