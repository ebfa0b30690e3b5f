"""An organization's own subjects (issue 18, item 5): a name and a reference PDF, uploaded through the API or the
pages, checked and read in the file sandbox, stored per organization; listed by /api/v1/subjects beside the
standards (whose ids 1–15 and /api/v1/standards stay as they were); and its schemes mark like the built-in ones."""

from __future__ import annotations

import json
import re
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import schema_context

from markschemes.models import Subject
from tests.helpers import scanned_pdf, typed_pdf, wait_for_job

CORPUS = Path(__file__).resolve().parent.parent / "fixtures" / "bad_inputs"

REFERENCE = [
    "Fire safety at work",
    "Every worker must know the fire evacuation route and the assembly point outside the building.",
    "Raise the alarm at once by breaking the glass of the nearest fire alarm call point.",
    "Never use a lift during a fire; close doors behind you to slow the spread of smoke.",
    "Only use an extinguisher if you are trained and the fire is small; water extinguishers are never used on "
    "electrical fires.",
]

SCANNED = REFERENCE  # as a picture of the page, with no text layer


def pdf(lines: list[str], name: str = "fire-safety.pdf") -> SimpleUploadedFile:
    return typed_pdf(lines, name, font_size=9, line_height=18)


def corpus(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, (CORPUS / name).read_bytes(), content_type="application/pdf")


def unique(name: str) -> str:
    return f"{name} {uuid.uuid4().hex[:6]}"


def _error(response) -> tuple[int, str, str, dict]:
    body = response.json()
    assert body["success"] is False
    return response.status_code, body["code"], body["error"], body["details"]


@pytest.mark.django_db
def test_an_owner_adds_a_subject_through_the_api_and_it_is_listed_beside_the_standards(api, personas):
    client = api(personas.alpha, personas.alice)
    name = unique("Fire safety")
    response = client.post("/api/v1/subjects", {"name": name, "file": pdf(REFERENCE)}, format="multipart")
    assert response.status_code == 201, response.json()
    created = response.json()["data"]
    assert {k: created[k] for k in ("kind", "title", "pages", "reference_name", "created_by")} == {
        "kind": "subject",
        "title": name,
        "pages": 1,
        "reference_name": "fire-safety.pdf",
        "created_by": "alice@alpha.test",
    }
    with schema_context("alpha"):
        subject = Subject.objects.get(pk=created["id"])
        assert subject.reference_file.startswith("subjects/alpha/") and default_storage.exists(subject.reference_file)
        assert "fire evacuation route and the assembly point" in subject.reference_text

    listed = api(personas.alpha, personas.bob).get("/api/v1/subjects").json()["data"]
    assert [(s["kind"], s["id"]) for s in listed if s["kind"] == "standard"] == [("standard", n) for n in range(1, 16)]
    assert listed[2] == {"kind": "standard", "id": 3, "title": "Duty of care", "pages": listed[2]["pages"]}
    assert created in listed
    assert api(personas.alpha, personas.bob).get(f"/api/v1/subjects/{created['id']}").json()["data"] == created
    standards = api(personas.alpha, personas.bob).get("/api/v1/standards").json()["data"]
    assert [s["id"] for s in standards] == list(range(1, 16)) and "kind" not in standards[0]
    # Another organization neither lists it nor reaches it.
    beta = api(personas.beta, personas.charlie)
    assert all(s["kind"] == "standard" for s in beta.get("/api/v1/subjects").json()["data"])
    assert beta.get(f"/api/v1/subjects/{created['id']}").status_code == 404


@pytest.mark.django_db
def test_an_assessor_cannot_add_a_subject(api, personas):
    response = api(personas.alpha, personas.bob).post(
        "/api/v1/subjects", {"name": unique("Fire"), "file": pdf(REFERENCE)}, format="multipart"
    )
    assert response.status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("upload", "expected"),
    [
        (
            lambda: corpus("javascript.pdf"),
            (415, "UNSUPPORTED_FILE", "“javascript.pdf” contains scripts or actions, which we do not accept in PDFs."),
        ),
        (
            lambda: corpus("deflate-bomb.pdf"),
            (413, "FILE_TOO_LARGE", "“deflate-bomb.pdf” expands to more than 120 MB of data when opened"),
        ),
        (
            lambda: SimpleUploadedFile("notes.pdf", b"just some text, not a PDF at all" * 10),
            (415, "UNSUPPORTED_FILE", None),
        ),
        (
            lambda: scanned_pdf(SCANNED),
            (
                400,
                "VALIDATION_ERROR",
                "“scan.pdf” has no text we can read (a scanned PDF?); upload the reference material as a PDF with "
                "text, such as one saved from a word processor.",
            ),
        ),
        (lambda: None, (400, "VALIDATION_ERROR", "Attach the subject's reference material as a PDF.")),
    ],
    ids=["script", "bomb", "not-a-pdf", "scan", "no-file"],
)
def test_a_bad_reference_file_is_refused_with_a_sentence_and_nothing_is_stored(api, personas, upload, expected):
    name = unique("Fire")
    body = {"name": name} | ({"file": upload()} if upload() is not None else {})
    status, code, sentence, details = _error(
        api(personas.alpha, personas.alice).post("/api/v1/subjects", body, format="multipart")
    )
    assert (status, code) == expected[:2]
    if expected[2] is not None:
        assert sentence.startswith(expected[2])
    assert details["file"] == [sentence]
    with schema_context("alpha"):
        assert not Subject.objects.filter(name=name).exists()


@pytest.mark.django_db
def test_a_subject_needs_a_name_of_its_own(api, personas):
    client = api(personas.alpha, personas.alice)
    name = unique("Fire")
    assert (
        client.post("/api/v1/subjects", {"name": name, "file": pdf(REFERENCE)}, format="multipart").status_code == 201
    )
    again = client.post("/api/v1/subjects", {"name": name.upper(), "file": pdf(REFERENCE)}, format="multipart")
    assert _error(again) == (
        400,
        "VALIDATION_ERROR",
        f"There is already a subject called “{name.upper()}”.",
        {"name": [f"There is already a subject called “{name.upper()}”."]},
    )
    blank = client.post("/api/v1/subjects", {"name": "  ", "file": pdf(REFERENCE)}, format="multipart")
    assert _error(blank)[2] == "Give the subject a name."


@pytest.mark.django_db
def test_the_subjects_page_adds_a_subject_and_offers_its_scheme(web, personas):
    client = web(personas.alpha, personas.alice)
    name = unique("First aid")
    response = client.post("/mark-schemes/subjects/", {"name": name, "file": pdf(REFERENCE)}, follow=True)
    body = response.content.decode()
    assert response.status_code == 200
    assert f"“{name}” is added with its reference material (1 page). Now write or import its mark scheme." in body
    with schema_context("alpha"):
        subject = Subject.objects.get(name=name)
    assert f'href="/mark-schemes/new/?subject={subject.pk}"' in body
    editor = client.get(f"/mark-schemes/new/?subject={subject.pk}").content.decode()
    assert f'<option value="s{subject.pk}" selected>{name}</option>' in editor
    refused = client.post("/mark-schemes/subjects/", {"name": unique("Scan"), "file": scanned_pdf(SCANNED)})
    assert refused.status_code == 400 and "has no text we can read (a scanned PDF?)" in refused.content.decode()
    assessor = web(personas.alpha, personas.bob)
    assert assessor.post("/mark-schemes/subjects/", {"name": unique("x"), "file": pdf(REFERENCE)}).status_code == 403


SCHEME = {
    "title": "Fire safety quiz",
    "questions": [
        {
            "number": 1,
            "text": "What must you do first when you discover a fire?",
            "max_marks": 2,
            "points": [
                {"text": "raise the alarm", "marks": 1},
                {"text": "break the glass of the fire alarm call point", "marks": 1},
            ],
        },
        {
            "number": 2,
            "text": "Why should you never use a lift during a fire?",
            "max_marks": 1,
            "points": [{"text": "the lift can fail or fill with smoke", "marks": 1}],
        },
    ],
}


def _typed_sheet() -> SimpleUploadedFile:
    return pdf(
        [
            "Name: Sam Subject",
            "Fire safety quiz",
            "1. What must you do first when you discover a fire? (20 marks)",
            "I raise the alarm straight away at the call point.",
            "2. Why should you never use a lift during a fire?",
            "Because you could be trapped.",
        ],
        "sheet.pdf",
    )


@pytest.mark.worker
def test_a_subjects_published_scheme_marks_a_sheet_against_its_own_reference(
    celery_worker, live_db, personas, api, web, openai_server
):
    owner = api(personas.alpha, personas.alice)
    created = owner.post(
        "/api/v1/subjects", {"name": unique("Fire safety"), "file": pdf(REFERENCE)}, format="multipart"
    ).json()["data"]
    response = owner.post("/api/v1/mark-schemes", {"subject": created["id"], **SCHEME}, format="json")
    assert response.status_code == 201, response.json()
    draft = response.json()["data"]
    assert (draft["subject"], draft["standard"], draft["state"]) == (created["id"], None, "draft")
    scheme_id = owner.post(f"/api/v1/mark-schemes/{draft['id']}/publish").json()["data"]["id"]

    response = api(personas.alpha, personas.bob).post(
        "/api/v1/upload", {"files": [_typed_sheet()], "mark_scheme_id": scheme_id, "grade": "true"}, format="multipart"
    )
    assert response.status_code == 202, response.json()
    extraction = wait_for_job(response.json()["data"]["job_id"])
    assert extraction.status == "completed", extraction.error_message
    grading = wait_for_job(extraction.result["grading_job_id"])
    assert grading.status == "completed", grading.error_message
    assert (grading.result["standard_id"], grading.result["subject_id"]) == (None, created["id"])

    [call] = [r for r in openai_server.requests() if r["kind"] == "ScriptGrading"]
    system = call["messages"][0]["content"]
    assert f"the organization's own subject “{created['title']}”" in system
    assert f'<reference subject="{created["id"]}">' in system and "assembly point outside the building" in system
    sent = json.loads(re.search(r"<answers>(.*?)</answers>", call["messages"][-1]["content"], re.DOTALL).group(1))
    assert [(a["number"], a["max_score"]) for a in sent] == [(1, 2.0), (2, 1.0)], "the scheme's marks"

    submission_id = grading.result["submission_ids"][0]
    detail = api(personas.alpha, personas.bob).get(f"/api/v1/submissions/{submission_id}").json()["data"]
    assert (detail["mark_scheme"]["id"], detail["max_score"]) == (scheme_id, "3.00")
    assert [(q["number"], q["max_score"], q["detected_max_score"]) for q in detail["questions"]] == [
        (1, "2.00", "20.00"),
        (2, "1.00", None),
    ]
    page = web(personas.alpha, personas.bob).get(f"/submissions/{submission_id}/").content.decode()
    assert created["title"] in page and "raise the alarm" in page
    assert Decimal(detail["total_score"]) <= Decimal(3)


@pytest.mark.django_db
def test_the_admin_console_names_a_schemes_own_subject(web, api, personas):
    owner = api(personas.alpha, personas.alice)
    name = unique("Moving and handling")
    subject = owner.post("/api/v1/subjects", {"name": name, "file": pdf(REFERENCE)}, format="multipart").json()["data"]
    body = {"subject": subject["id"], "title": f"{name} quiz", "questions": SCHEME["questions"]}
    assert owner.post("/api/v1/mark-schemes", body, format="json").status_code == 201
    page = web(None, personas.root).get(f"/admin/organizations/organization/{personas.alpha.pk}/data/").content.decode()
    assert (
        f"<tr><td>{name}</td><td>{name} quiz</td><td>1</td><td>Draft</td><td>Written by the organization</td>" in page
    )
