"""An organization's own subject in a real browser (issue 18): an owner adds a subject with its reference PDF,
imports its mark scheme from a typed document, publishes the draft, uploads a learner's sheet marked with it, and sees
the marking points met on the results page (screenshot: docs/screenshots/own-subject-results.png)."""

from __future__ import annotations

import time
import uuid

import pytest
from django.conf import settings
from django_tenants.utils import schema_context

from tests.browser import test_assessor_flow as flow
from tests.helpers import typed_pdf
from tests.markschemes.test_subjects import REFERENCE

pytestmark = [pytest.mark.browser, pytest.mark.worker]

# The assessor flow's live server fixture and its helpers (the browser is tests/browser/conftest.py's).
site_server = flow.site_server
_screenshot, _sign_in = flow._screenshot, flow._sign_in

SCHEME_DOCUMENT = [
    "Fire safety: mark scheme",
    "1. What must you do first when you discover a fire? (2 marks)",
    "- raise the alarm (1 mark)",
    "- use the nearest call point (1 mark)",
    "2. Why should you never use a lift during a fire? (1 mark)",
    "- the lift could stop and trap you (1 mark)",
]
SHEET = [
    "Name: Robin Learner",
    "1. What must you do first when you discover a fire?",
    "I raise the alarm straight away.",
    "2. Why should you never use a lift during a fire?",
    "Because the lift could stop and trap you inside.",
]


def _pdf(path, lines: list[str]) -> str:
    path.write_bytes(typed_pdf(lines).read())
    return str(path)


def _until(page, check, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        page.wait_for_timeout(500)


def test_an_owner_marks_an_own_subject_from_reference_to_results(
    celery_worker,
    site_server,
    browser,
    personas,
    openai_server,
    tmp_path,  # noqa: F811 - fixtures
):
    from grading.models import Submission
    from markschemes.models import MarkScheme, Subject

    base = f"http://alpha.{settings.BASE_DOMAIN}:{site_server.port}"
    name = f"Fire safety {uuid.uuid4().hex[:4]}"
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = _sign_in(context, base, personas.alice.email)

    # A subject of our own, with its reference material.
    page.goto(f"{base}/mark-schemes/subjects/")
    page.fill("input[name=name]", name)
    page.set_input_files("input[name=file]", _pdf(tmp_path / "fire-safety.pdf", REFERENCE))
    page.get_by_role("button", name="Add the subject").click()
    page.wait_for_load_state()
    assert f"“{name}” is added with its reference material (1 page)" in page.locator(".messages").inner_text()
    with schema_context("alpha"):
        subject = Subject.objects.get(name=name)

    # Its mark scheme, imported from a typed document into a draft, then published by a person.
    page.goto(f"{base}/mark-schemes/import/?subject={subject.pk}")
    page.set_input_files("input[name=file]", _pdf(tmp_path / "scheme.pdf", SCHEME_DOCUMENT))
    page.get_by_role("button", name="Read it into a draft").click()
    page.wait_for_url(f"{base}/jobs/*/")
    link = page.get_by_role("link", name="check, edit and publish it")
    _until(page, lambda: link.count() or page.reload() and False, "the import job")
    link.click()
    assert "Draft" in page.locator(".page-head").inner_text()
    page.get_by_role("link", name="Publish…").click()
    page.get_by_role("button", name="Publish version 1").click()
    page.wait_for_load_state()
    with schema_context("alpha"):
        scheme = MarkScheme.objects.get(subject=subject, state="published")
        assert [(q.number, q.max_marks) for q in scheme.questions.all()] == [(1, 2), (2, 1)]

    # A learner's typed sheet, marked with it as soon as it is read.
    page.goto(f"{base}/upload/")
    page.set_input_files("input[type=file]", _pdf(tmp_path / "robin.pdf", SHEET))
    page.select_option("select[name=standard]", f"m{scheme.pk}")
    page.check("input[name=grade]")
    page.get_by_role("button", name="Upload and read the pages").click()

    def graded():
        with schema_context("alpha"):
            return Submission.objects.filter(mark_scheme=scheme, graded_at__isnull=False).first()

    _until(page, graded, "the sheet to be graded", timeout=90)
    submission = graded()
    page.goto(f"{base}/submissions/{submission.pk}/")
    q1 = page.locator("#q1")
    assert name in page.locator(".page-head").inner_text()
    assert q1.locator("li.met").all_inner_texts() == ["Met (1): raise the alarm — I raise the alarm straight away."]
    assert q1.locator("li.missed").all_inner_texts() == ["Missed (1): use the nearest call point"]
    assert page.locator("#q2 li.met").all_inner_texts() == [
        "Met (1): the lift could stop and trap you — Because the lift could stop and trap you inside."
    ]
    with schema_context("alpha"):
        assert (submission.max_score, submission.total_score) == (3, 2)
    _screenshot(page, "own-subject-results")
    context.close()
