"""Importing a blank quiz or a mark-scheme document (issue 18, item 6): through the API door, a background job of the
jobs engine (run here in this process, the same engine a worker runs) reads it into a DRAFT scheme — a typed PDF
from its text layer with no AI call, a scan through the provider's Structured Outputs (the fake OpenAI) — and never
publishes it; a document with no questions ends the job with a sentence and no draft."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

from jobs.models import BackgroundJob
from jobs.running import run_inline
from markschemes.importing import NO_QUESTIONS, PLACEHOLDER_POINT
from markschemes.models import MarkScheme
from markschemes.services import scheme_data
from tests.helpers import scanned_pdf, typed_pdf

pytestmark = pytest.mark.django_db

URL = "/api/v1/mark-schemes/import"
BLANK_QUIZ = [
    "Fire safety: end of course quiz",
    "Name: ______________________   Date: __________",
    "1. What must you do first when you discover a fire? (2 marks)",
    "________________________________________________",
    "2. Why should you never use a lift during a fire? (1 mark)",
    "________________________________________________",
    "3. Name two checks you make on a fire door before you open",
    "it. (1.5 marks)",
    "________________________________________________",
    "4. What does the sign on a blue extinguisher label tell you? [3]",
    "Page 1 of 1",
]
MARK_SCHEME = [
    "Mark scheme: fire safety",
    "1. What must you do first when you discover a fire? (2 marks)",
    "- raise the alarm (1 mark)",
    "- break the glass of the nearest call point (1 mark)",
    "Model answer: Raise the alarm at the nearest call point.",
    "2. Why should you never use a lift during a fire? (1 mark)",
    "- the lift may fail or fill with smoke (1 mark)",
    "- you could be trapped (1 mark)",
]


def _import(api, personas, upload, **fields) -> BackgroundJob:
    response = api(personas.alpha, personas.alice).post(URL, {"file": upload, **fields}, format="multipart")
    assert response.status_code == 202, response.json()
    job = BackgroundJob.objects.get(pk=response.json()["data"]["job_id"])
    assert (job.job_type, job.status) == ("scheme_import", "queued")
    run_inline(job)
    job.refresh_from_db()
    return job


def _questions(scheme_id: int) -> list[tuple]:
    with schema_context("alpha"):
        data = scheme_data(MarkScheme.objects.get(pk=scheme_id))
    return [
        (q["number"], q["text"], Decimal(q["max_marks"]), [(p["statement"], Decimal(p["marks"])) for p in q["points"]])
        for q in data["questions"]
    ]


def test_a_typed_blank_quiz_becomes_a_draft_with_its_questions_and_marks(api, personas, openai_server, settings):
    settings.OPENAI_BASE_URL = openai_server.base_url  # were a call made, the fake would log it
    job = _import(api, personas, typed_pdf(BLANK_QUIZ), standard="3")
    assert job.status == "completed", job.error_message
    assert job.progress == 100
    result = job.result
    assert (result["questions"], result["total_marks"], result["source"], result["state"]) == (
        4,
        "7.5",
        ["pdf_text"],
        "draft",
    )
    assert _questions(result["mark_scheme_id"]) == [
        (1, "What must you do first when you discover a fire?", Decimal(2), [(PLACEHOLDER_POINT, Decimal(2))]),
        (2, "Why should you never use a lift during a fire?", Decimal(1), [(PLACEHOLDER_POINT, Decimal(1))]),
        (
            3,
            "Name two checks you make on a fire door before you open it.",
            Decimal("1.5"),
            [(PLACEHOLDER_POINT, Decimal("1.5"))],
        ),
        (
            4,
            "What does the sign on a blue extinguisher label tell you?",
            Decimal(3),
            [(PLACEHOLDER_POINT, Decimal(3))],
        ),
    ]
    with schema_context("alpha"):
        scheme = MarkScheme.objects.get(pk=result["mark_scheme_id"])
        assert (scheme.state, scheme.origin, scheme.standard, scheme.title, scheme.created_by) == (
            "draft",
            "imported",
            3,
            "Fire safety: end of course quiz",
            "alice@alpha.test",
        )
    assert openai_server.requests() == [], "a typed document needs no AI call"
    assert "Question 1: no marking points printed; write them before publishing." in result["notes"]


def test_a_typed_mark_scheme_keeps_its_points_and_model_answers(api, personas):
    job = _import(api, personas, typed_pdf(MARK_SCHEME), standard="3", title="Fire safety v1")
    assert job.status == "completed", job.error_message
    assert _questions(job.result["mark_scheme_id"]) == [
        (
            1,
            "What must you do first when you discover a fire?",
            Decimal(2),
            [("raise the alarm", Decimal(1)), ("break the glass of the nearest call point", Decimal(1))],
        ),
        (
            2,
            "Why should you never use a lift during a fire?",
            Decimal(1),
            [("the lift may fail or fill with smoke", Decimal(1)), ("you could be trapped", Decimal(1))],
        ),
    ]
    with schema_context("alpha"):
        scheme = MarkScheme.objects.get(pk=job.result["mark_scheme_id"])
        assert scheme.title == "Fire safety v1"
        assert scheme.questions.get(number=1).model_answer == "Raise the alarm at the nearest call point."


@pytest.fixture
def openai_provider(openai_server, settings):
    settings.QUIZMARKER_AI_PROVIDER = "openai"
    settings.OPENAI_BASE_URL = openai_server.base_url
    settings.OPENAI_API_KEY = "sk-test-not-a-real-key"
    settings.OPENAI_MAX_RETRIES = 0
    settings.OPENAI_TIMEOUT = 5
    return openai_server


def test_a_scanned_quiz_is_read_through_the_provider_into_a_draft(api, personas, openai_provider):
    openai_provider.script(
        "SchemeDocument",
        [
            {
                "json": {
                    "title": "Fire safety: end of course quiz",
                    "questions": [
                        {
                            "number": 1,
                            "text": "What must you do first when you discover a fire?",
                            "max_marks": 2,
                            "points": [],
                            "model_answer": None,
                        },
                        {
                            "number": 2,
                            "text": "Why should you never use a lift during a fire?",
                            "max_marks": 1,
                            "points": [{"statement": "the lift may fail", "marks": 1}],
                            "model_answer": None,
                        },
                    ],
                }
            }
        ],
    )
    job = _import(api, personas, scanned_pdf(BLANK_QUIZ[:5]), standard="3")
    assert job.status == "completed", job.error_message
    assert job.result["source"] == ["vision"]
    assert _questions(job.result["mark_scheme_id"]) == [
        (1, "What must you do first when you discover a fire?", Decimal(2), [(PLACEHOLDER_POINT, Decimal(2))]),
        (2, "Why should you never use a lift during a fire?", Decimal(1), [("the lift may fail", Decimal(1))]),
    ]
    [call] = openai_provider.requests()
    assert call["kind"] == "SchemeDocument"
    assert call["messages"][1]["content"][1]["type"] == "image_url"


def test_a_document_with_no_questions_ends_with_a_sentence_and_no_draft(api, personas, openai_provider):
    with schema_context("alpha"):
        before = MarkScheme.objects.count()
    job = _import(api, personas, scanned_pdf(BLANK_QUIZ[:5]), standard="3")  # the fake finds nothing on the page
    assert (job.status, job.error_code, job.error_message) == ("failed", "NO_QUESTIONS", NO_QUESTIONS)
    with schema_context("alpha"):
        assert MarkScheme.objects.count() == before
    job = _import(api, personas, typed_pdf(["Fire safety notes", "Nothing numbered here at all."]), standard="3")
    assert (job.status, job.error_message) == ("failed", NO_QUESTIONS)


def test_an_import_needs_a_subject_and_a_manager(api, personas):
    response = api(personas.alpha, personas.alice).post(
        URL, {"file": typed_pdf(BLANK_QUIZ), "standard": "16"}, format="multipart"
    )
    sentence = "The standard must be a Care Certificate standard from 1 to 15 (or give one of your subjects)."
    assert (response.status_code, response.json()["details"]) == (400, {"standard": [sentence]})
    response = api(personas.alpha, personas.bob).post(
        URL, {"file": typed_pdf(BLANK_QUIZ), "standard": "3"}, format="multipart"
    )
    assert response.status_code == 403


def test_the_import_page_starts_the_job_and_the_job_page_links_the_draft(web, personas):
    client = web(personas.alpha, personas.alice)
    assert "Import from a document" in client.get("/mark-schemes/").content.decode()
    response = client.post("/mark-schemes/import/", {"file": typed_pdf(MARK_SCHEME), "standard": "3"})
    assert response.status_code == 302
    job = BackgroundJob.objects.filter(job_type="scheme_import").latest("created_at")
    assert response["Location"] == f"/jobs/{job.pk}/"
    run_inline(job)
    job.refresh_from_db()
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert f'href="/mark-schemes/{job.result["mark_scheme_id"]}/">check, edit and publish it</a>' in page
