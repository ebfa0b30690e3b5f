"""An assessor corrects how pages were grouped, before grading: split a script, move a page to another script, merge
two (API v1 and the review page). Answers travel with their page; two answers to one question are kept apart and
flagged, never joined; a graded script's pages stay where they are."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from django.utils.html import escape
from django_tenants.utils import schema_context

from grading.grouping import LEARNER_NOT_IDENTIFIED, group_into_scripts, second_answer_reason
from grading.models import Submission
from grading.pages import PageSource
from grading.providers.schemas import ExtractedQuestion, PageExtraction, PageResult
from grading.reading import _save_script
from jobs.models import BackgroundJob

pytestmark = pytest.mark.django_db


def _read(number: int, name: str | None, answers: dict[int, str], path: str):
    extraction = PageExtraction(
        student_name=name,
        standard=3,
        questions=[
            ExtractedQuestion(number=n, question=f"Question {n}?", answer=a, legibility=0.9) for n, a in answers.items()
        ],
    )
    return PageSource(number=number, file_index=number - 1, path=path), PageResult(extraction, source="vision")


@pytest.fixture
def upload(personas, settings, tmp_path):
    """One upload read into three scripts: Priya (pages 1-2), Tom (page 3), and a page nobody's name is on that
    starts again at question 1 (page 4, learner not identified)."""
    settings.MEDIA_ROOT = tmp_path
    path = default_storage.save("uploads/alpha/test/1.jpg", ContentFile(b"\xff\xd8 a photographed page"))
    pages = [
        _read(1, "Priya Shah", {1: "Priya one.", 2: "Priya two."}, path),
        _read(2, None, {3: "Priya three."}, path),
        _read(3, "Tom Baker", {1: "Tom one.", 2: "Tom two.", 3: "Tom three."}, path),
        _read(4, None, {1: "Nobody one."}, path),
    ]
    job = BackgroundJob.objects.create(organization=personas.alpha, user=personas.bob, job_type="extraction")
    with schema_context("alpha"):
        return [_save_script(script, job, standard_id=3) for script in group_into_scripts(pages)]


def _scripts(upload_job_id) -> list[tuple]:
    """Each script of the upload as (learner, [(question number, printed number, answer, page)])."""
    with schema_context("alpha"):
        return [
            (
                s.student.full_name if s.student else None,
                [(q.number, q.detected_number, q.answer_text, q.page_number) for q in s.questions.order_by("number")],
            )
            for s in Submission.objects.filter(upload_job_id=upload_job_id).order_by("created_at")
        ]


def test_the_upload_is_read_as_three_scripts_and_the_nameless_one_is_flagged(upload):
    priya, tom, nobody = upload
    assert [s.page_count for s in upload] == [2, 1, 1]
    with schema_context("alpha"):
        assert [Submission.objects.get(pk=s.pk).flags for s in upload] == [[], [], [LEARNER_NOT_IDENTIFIED]]


def test_merging_a_script_moves_its_pages_and_answers_and_keeps_answers_to_the_same_question_apart(
    api, personas, upload
):
    priya, tom, nobody = upload
    response = api(personas.alpha, personas.bob).post(
        f"/api/v1/submissions/{priya.pk}/merge", {"submission_id": str(nobody.pk)}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["success"] is True
    assert [(s["id"], s["page_count"], s["flags"]) for s in body["data"]["scripts"]] == [(str(priya.pk), 3, [])]
    assert _scripts(priya.upload_job_id) == [
        (
            "Priya Shah",
            [
                (1, None, "Priya one.", 1),
                (2, None, "Priya two.", 1),
                (3, None, "Priya three.", 2),
                (4, 1, "Nobody one.", 3),  # a second answer to question 1: its own row, never joined
            ],
        ),
        ("Tom Baker", [(1, None, "Tom one.", 1), (2, None, "Tom two.", 1), (3, None, "Tom three.", 1)]),
    ]
    with schema_context("alpha"):
        kept_apart = Submission.objects.get(pk=priya.pk).questions.get(number=4)
        assert (kept_apart.needs_review, kept_apart.review_reason) == (True, second_answer_reason(1))
        assert not Submission.objects.filter(pk=nobody.pk).exists(), "the emptied script is removed"
        images = list(Submission.objects.get(pk=priya.pk).pages.order_by("number").values_list("file", flat=True))
        assert all(f.startswith(f"pages/alpha/{priya.pk}/") for f in images), "images live with their script"
        assert all(default_storage.exists(f) for f in images)


def test_a_page_moved_to_a_new_script_takes_its_name_and_gets_its_printed_numbers_back(api, personas, upload):
    priya, tom, nobody = upload
    client = api(personas.alpha, personas.alice)  # the owner may too
    moved = client.post(f"/api/v1/submissions/{tom.pk}/merge", {"submission_id": str(priya.pk)}, format="json").json()
    assert moved["data"]["scripts"][0]["page_count"] == 3
    assert _scripts(tom.upload_job_id)[0][1] == [
        (1, None, "Tom one.", 1),
        (2, None, "Tom two.", 1),
        (3, None, "Tom three.", 1),
        (4, 1, "Priya one.", 2),
        (5, 2, "Priya two.", 2),
        (6, 3, "Priya three.", 3),
    ]
    response = client.post(
        f"/api/v1/submissions/{tom.pk}/move-pages", {"pages": [2, 3], "to_submission_id": None}, format="json"
    )
    assert response.status_code == 200, response.json()
    tom_now, new = response.json()["data"]["scripts"]
    assert (tom_now["id"], tom_now["page_count"]) == (str(tom.pk), 1)
    assert (new["student"]["full_name"], new["detected_student_name"], new["page_count"]) == (
        "Priya Shah",
        "Priya Shah",
        2,
    )
    with schema_context("alpha"):
        rows = Submission.objects.get(pk=new["id"]).questions.order_by("number")
        assert [(q.number, q.detected_number, q.answer_text, q.page_number, q.needs_review) for q in rows] == [
            (1, None, "Priya one.", 1, False),
            (2, None, "Priya two.", 1, False),
            (3, None, "Priya three.", 2, False),
        ]


def test_splitting_a_script_makes_the_later_pages_a_script_flagged_until_its_learner_is_known(api, personas, upload):
    priya, tom, nobody = upload
    response = api(personas.alpha, personas.bob).post(
        f"/api/v1/submissions/{priya.pk}/split", {"from_page": 2}, format="json"
    )
    assert response.status_code == 200, response.json()
    first, second = response.json()["data"]["scripts"]
    assert (first["page_count"], first["student"]["full_name"], first["flags"]) == (1, "Priya Shah", [])
    assert (second["page_count"], second["student"], second["flags"]) == (1, None, [LEARNER_NOT_IDENTIFIED])
    with schema_context("alpha"):
        rows = Submission.objects.get(pk=second["id"]).questions.all()
        assert [(q.number, q.answer_text, q.page_number) for q in rows] == [(3, "Priya three.", 1)]


@pytest.mark.parametrize(
    ("path", "body", "status", "code", "error"),
    [
        (
            "split",
            {"from_page": 3},
            400,
            "VALIDATION_ERROR",
            "The script has 2 page(s); there is nothing from page 3 on to split off.",
        ),
        ("split", {"from_page": 1}, 400, "VALIDATION_ERROR", None),
        ("move-pages", {"pages": [7]}, 400, "VALIDATION_ERROR", "The script has no page 7; it has 2 page(s)."),
        (
            "move-pages",
            {"pages": [1, 2]},
            400,
            "VALIDATION_ERROR",
            "Those are all the script's pages; to split it, leave at least one page behind.",
        ),
        (
            "merge",
            {"submission_id": "00000000-0000-0000-0000-000000000000"},
            400,
            "VALIDATION_ERROR",
            "No script with that id in this organization.",
        ),
    ],
)
def test_a_request_that_cannot_be_done_is_refused_with_a_sentence_and_nothing_moves(
    api, personas, upload, path, body, status, code, error
):
    priya = upload[0]
    before = _scripts(priya.upload_job_id)
    response = api(personas.alpha, personas.bob).post(f"/api/v1/submissions/{priya.pk}/{path}", body, format="json")
    assert response.status_code == status
    assert response.json()["success"] is False and response.json()["code"] == code
    if error:
        assert response.json()["error"] == error
    assert _scripts(priya.upload_job_id) == before


def test_merging_a_script_with_itself_is_refused(api, personas, upload):
    priya = upload[0]
    response = api(personas.alpha, personas.bob).post(
        f"/api/v1/submissions/{priya.pk}/merge", {"submission_id": str(priya.pk)}, format="json"
    )
    assert (response.status_code, response.json()["error"]) == (400, "A script cannot be merged with itself.")


def test_a_graded_script_keeps_its_pages(api, personas, upload):
    priya, tom, nobody = upload
    with schema_context("alpha"):
        Submission.objects.filter(pk=tom.pk).update(status="graded", graded_at=timezone.now())
    before = _scripts(priya.upload_job_id)
    response = api(personas.alpha, personas.bob).post(
        f"/api/v1/submissions/{priya.pk}/merge", {"submission_id": str(tom.pk)}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "SCRIPT_ALREADY_GRADED"
    assert response.json()["error"].endswith("pages can be moved only before grading.")
    assert _scripts(priya.upload_job_id) == before


def test_an_outsider_gets_404_and_moves_nothing(api, personas, upload):
    priya, tom, nobody = upload
    before = _scripts(priya.upload_job_id)
    response = api(personas.alpha, personas.charlie).post(
        f"/api/v1/submissions/{priya.pk}/merge", {"submission_id": str(nobody.pk)}, format="json"
    )
    assert response.status_code == 404
    assert _scripts(priya.upload_job_id) == before


def test_the_review_page_shows_the_flag_and_moves_a_page_to_another_script(web, personas, upload):
    priya, tom, nobody = upload
    client = web(personas.alpha, personas.bob)
    page = client.get(f"/submissions/{nobody.pk}/review/").content.decode()
    assert escape(LEARNER_NOT_IDENTIFIED) in page
    assert "Move page 1 to" in page and f'<option value="{priya.pk}">Priya Shah — 2 pages</option>' in page
    response = client.post(
        f"/submissions/{nobody.pk}/scripts/", {"action": "move", "page": "1", "target": str(priya.pk)}, follow=True
    )
    assert response.redirect_chain[-1][0] == f"/submissions/{priya.pk}/review/", "the emptied script is gone"
    assert "Page 1 moved to the script you chose." in response.content.decode()
    assert "Question 1 (another answer, kept apart)" in response.content.decode()
    assert [s[0] for s in _scripts(priya.upload_job_id)] == ["Priya Shah", "Tom Baker"]


def test_the_review_page_splits_a_script_where_the_assessor_says(web, personas, upload):
    priya = upload[0]
    client = web(personas.alpha, personas.dana)  # an admin
    response = client.post(f"/submissions/{priya.pk}/scripts/", {"action": "split", "page": "2"}, follow=True)
    assert "Page 2 onwards is now a script of its own." in response.content.decode()
    assert [(name, len(rows)) for name, rows in _scripts(priya.upload_job_id)] == [
        ("Priya Shah", 2),
        ("Tom Baker", 3),
        (None, 1),
        (None, 1),
    ]
