"""The assessor's day in a real browser: Debian's Chromium driven by Playwright against a live server and a real
Celery worker (organization alpha reads and grades through the fake OpenAI server).

Sign in, upload a generated answer sheet, watch its progress bar reach 100 %, correct the transcription, grade,
override a score, export the CSV — and check that a member of another organization cannot open any of it.
Screenshots of the main pages go to test-artifacts/; `make screenshots` also copies them to docs/screenshots/.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil

import pytest
from django.conf import settings
from django_tenants.utils import schema_context

from tests.helpers import ROOT, SHEETS

ARTIFACTS = ROOT / "test-artifacts"
DOCS = ROOT / "docs" / "screenshots"
SHEET = "s03_std03_rufscript_p1_phone.jpg"

# Without Chromium the test is skipped, or fails in CI; every page it shows is checked with axe-core
# (tests/browser/conftest.py).
pytestmark = [pytest.mark.browser, pytest.mark.worker]


def _password() -> str:
    return "correct-horse-battery-staple"  # the personas' password (tests/conftest.py)


def _extraction_from_manifest(name: str) -> dict:
    """What the fake 'reads' from the sheet: its ground truth, with the last answer hard to read."""
    manifest = json.loads((SHEETS / "manifest.json").read_text())
    entry = next(f for f in manifest["files"] if f["file"] == name)
    page = entry["pages"][0]
    questions = [
        {"number": q["number"], "question": q["question"], "answer": q["answer"], "legibility": 0.92}
        for q in page["questions"]
    ]
    questions[-1]["legibility"] = 0.35
    return {"student_name": page["student_name"], "standard": entry["standard"], "questions": questions}


@pytest.fixture
def site_server(live_db):
    """Django's live server thread on a free port, inside the committed test database."""
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.test.testcases import LiveServerThread

    thread = LiveServerThread("127.0.0.1", StaticFilesHandler, port=0)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait(timeout=30)
    if thread.error:
        raise thread.error
    yield thread
    thread.terminate()


def _screenshot(page, name: str, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    if full_page:
        page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(path), full_page=full_page)
    if os.environ.get("QUIZMARKER_SCREENSHOTS"):  # `make screenshots`: refresh the README's pictures on purpose
        shutil.copyfile(path, DOCS / f"{name}.png")


def _sign_in(context, base: str, email: str):
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", _password())
    page.click("form button[type=submit]")
    page.wait_for_load_state()
    return page


def test_an_assessor_uploads_reviews_grades_corrects_and_exports(
    celery_worker, site_server, browser, personas, openai_server
):
    base = f"http://alpha.{settings.BASE_DOMAIN}:{site_server.port}"
    openai_server.configure(default_extraction=_extraction_from_manifest(SHEET), latency=2.0)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True, locale="en-GB")
    page = _sign_in(context, base, personas.bob.email)
    assert page.url.rstrip("/") == base, page.url
    assert page.get_by_role("heading", name="Dashboard").is_visible()

    # Upload: the file picker, a preview, then a progress card that follows the job's live stream until 100 %.
    page.get_by_role("link", name="Upload", exact=True).click()
    page.wait_for_url(re.compile(r"/upload/$"))  # and its load: upload.js watches the picker only once it has run
    page.set_input_files("input[type=file]", str(SHEETS / SHEET))
    preview = page.locator(".previews .preview")
    preview.first.wait_for()
    assert preview.count() == 1 and SHEET in preview.inner_text()
    page.select_option("select[name=standard]", "3")
    page.get_by_role("button", name="Upload and read the pages").click()
    # The server draws the card; each change of the job redraws it in place (a new element each time, so the waits
    # look the bar up again rather than hold on to one element).
    card = page.locator(".job-list .job-card").first
    card.locator("[role=progressbar]").wait_for()
    at_least = "p => Number(document.querySelector('.job-list .job-card [role=progressbar]').ariaValueNow) >= p"
    page.wait_for_function(at_least, arg=5, timeout=30_000)
    _screenshot(page, "upload-progress")
    page.wait_for_function(at_least, arg=100, timeout=60_000)
    assert card.locator("[data-role=percent]").inner_text() == "100 %"
    card.and_(page.locator("[data-status=completed]")).wait_for()  # the last redraw: 100 % is shown before "done"

    # Review: the page image beside the transcription; correct an answer (the marks come from the scheme), then grade.
    card.get_by_role("link", name="Review the transcription").click()
    page.wait_for_url(re.compile(r".*/submissions/[0-9a-f-]+/review/$"))
    submission_id = page.url.rstrip("/").split("/")[-2]
    image = page.locator(".page-image img")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    assert page.locator("select[name=student] option:checked").inner_text() == "Grace O'Connor"
    answer = page.locator("textarea[name='q-0-answer_text']")
    assert answer.input_value() == "Doing what the family tells you."
    answer.fill(
        "Duty of care means acting in the best interests of the people I support, keeping them safe from harm "
        "and following agreed ways of working and my training."
    )
    page.set_viewport_size({"width": 1280, "height": 1180})
    page.evaluate("window.scrollTo(0, 0)")
    _screenshot(page, "review", full_page=False)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("button", name="Save and grade").click()
    page.wait_for_url(f"{base}/submissions/{submission_id}/")
    assert "grading has started" in page.locator(".messages").inner_text()

    # Meanwhile the dashboard shows the grading job's live progress.
    dashboard = context.new_page()
    dashboard.goto(f"{base}/")
    dashboard.locator(".job-card[data-status=processing], .job-card[data-status=queued]").first.wait_for()
    _screenshot(dashboard, "dashboard")
    dashboard.close()
    openai_server.configure(latency=0)

    # Results: the page reloads itself when grading completes.
    page.locator("#q1 .score-pill").wait_for(timeout=60_000)
    page.wait_for_selector("text=Total", timeout=60_000)
    q1 = page.locator("#q1")
    assert "Duty of care means acting in the best interests" in q1.inner_text()
    assert "/ 3" in q1.locator(".score-pill").inner_text()
    with schema_context("alpha"):
        from grading.models import Submission

        submission = Submission.objects.get(pk=submission_id)
        question = submission.questions.get(number=1)
        assert submission.graded_at is not None and question.ai_score is not None
        assert question.answer_text.startswith("Duty of care means acting")
        ai_score = question.ai_score
    new_score = "1" if ai_score != 1 else "2"

    # Override question 1 with a reason: the AI's score stays visible, the change is in the history.
    if not q1.locator("details.override").get_attribute("open"):
        q1.locator("details.override summary").click()
    q1.locator("input[name=score]").fill(new_score)
    q1.locator("input[name=reason]").fill("Checked against the workbook: the key point about harm is only implied")
    q1.get_by_role("button", name="Save the mark").click()
    page.wait_for_load_state()
    assert f"Question 1 now scores {new_score} / 3" in page.locator(".messages").inner_text()
    q1 = page.locator("#q1")
    assert f"AI score {ai_score.normalize():f} / 3" in " ".join(q1.locator(".facts").inner_text().split())
    history = q1.locator(".history").inner_text()
    assert personas.bob.email in history and "only implied" in history
    _screenshot(page, "results")
    with schema_context("alpha"):
        question.refresh_from_db()
        assert question.ai_score == ai_score and str(question.final_score.normalize()) == new_score
        assert question.changes.count() == 1

    # Question 5 of the scheme is not on this page, whose last answer was hard to read: it is left unscored for a
    # person ("not found on the sheet"), and the script has no total until the assessor marks it.
    q5 = page.locator("#q5")
    assert "Question not found on the sheet" in q5.inner_text()
    with schema_context("alpha"):
        assert Submission.objects.get(pk=submission_id).percentage is None
    q5.locator("details.override").evaluate("details => { details.open = true; }")  # open already, when flagged
    q5.locator("input[name=score]").fill("0")
    q5.locator("input[name=reason]").fill("Checked the paper: the learner did not answer it")
    q5.get_by_role("button", name="Save the mark").click()
    page.wait_for_load_state()
    assert "Question 5 now scores 0 / 3" in page.locator(".messages").inner_text()

    # Export the filtered submissions as CSV (a real download).
    page.goto(f"{base}/submissions/?standard=3")
    _screenshot(page, "submissions")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV").click()
    download = download_info.value
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / "submissions.csv"
    download.save_as(str(target))
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8-sig"))))
    row = next(r for r in rows if r["submission_id"] == submission_id)
    assert row["student"] == "Grace O'Connor" and row["standard"] == "3"
    assert float(row["Q1 score"]) == float(new_score) and float(row["Q1 ai_score"]) == float(ai_score)

    # Analytics and the review queue; and the results page on a phone.
    page.goto(f"{base}/analytics/standard-3/")
    assert page.locator("svg.chart rect").count() == 10
    _screenshot(page, "analytics")
    page.goto(f"{base}/review/")
    _screenshot(page, "review-queue")
    phone = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
    phone.add_cookies(context.cookies())
    mobile = phone.new_page()
    mobile.goto(f"{base}/submissions/{submission_id}/")
    assert mobile.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    _screenshot(mobile, "results-phone", full_page=False)
    phone.close()
    context.close()

    # Charlie belongs to Beta: every assessor page of Alpha is closed to him.
    outsider = browser.new_context()
    charlie = _sign_in(outsider, base, personas.charlie.email)
    for path in (
        "/",
        "/upload/",
        "/review/",
        "/submissions/",
        f"/submissions/{submission_id}/",
        f"/submissions/{submission_id}/review/",
        f"/submissions/{submission_id}/pages/1/",
        "/submissions/export.csv",
        "/students/",
        "/sessions/",
        "/jobs/",
        "/analytics/",
    ):
        response = charlie.goto(f"{base}{path}")
        assert response.status == 403, path
        assert "not a member" in charlie.content()
        assert "Grace" not in charlie.content()
    outsider.close()
