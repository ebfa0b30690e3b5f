"""The small ones (issue 19, item 6): formula cells in the admin's usage CSV, `next` kept on this host, a changed
formset management form answered with 400, and a Content-Security-Policy with no inline script."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

from grading.models import QuestionResult
from jobs.models import BackgroundJob
from organizations.models import Organization, ProviderCall
from organizations.usage import month_start
from tests.grading.test_pages import make_submission, review_data
from tests.helpers import ROOT

pytestmark = pytest.mark.django_db


def test_the_usage_csv_escapes_cells_a_spreadsheet_would_run_as_formulas(web, personas):
    formula = '=HYPERLINK("http://evil.test","Open")'
    Organization.objects.filter(pk=personas.beta.pk).update(name=formula)
    ProviderCall.objects.create(
        organization=personas.beta, provider="openai", model="gpt-4.1-mini", purpose="grading", cost_usd=Decimal("0")
    )
    response = web(None, personas.root).get(
        "/admin/organizations/organization/usage/", {"month": month_start().strftime("%Y-%m"), "export": "csv"}
    )
    rows = {r["slug"]: r for r in csv.DictReader(io.StringIO(response.content.decode()))}
    assert rows["beta"]["organization"] == "'" + formula
    assert rows["beta"]["calls"] == "1", "plain numbers are left alone"


@pytest.mark.parametrize(
    "target", ["https://evil.test/", "//evil.test/", "/\\evil.test/", "http://alpha.localhost.evil.test/"]
)
def test_next_never_leaves_this_host(web, personas, target):
    job = BackgroundJob.objects.create(organization=personas.alpha, user=personas.bob, job_type="extraction")
    response = web(personas.alpha, personas.bob).post(f"/jobs/{job.pk}/cancel/", {"next": target})
    assert response.status_code == 302
    assert response["Location"] == "/jobs/"


def test_next_on_this_host_is_followed(web, personas):
    job = BackgroundJob.objects.create(organization=personas.alpha, user=personas.bob, job_type="extraction")
    response = web(personas.alpha, personas.bob).post(f"/jobs/{job.pk}/cancel/", {"next": f"/jobs/{job.pk}/"})
    assert response["Location"] == f"/jobs/{job.pk}/"


@pytest.fixture
def script():
    with schema_context("alpha"):
        yield make_submission(name="Tam Per", status="extracted", standard=None, scores=((None, 2, False),) * 2)


@pytest.mark.parametrize(
    "change",
    [
        {"q-TOTAL_FORMS": "3", "q-2-question_text": "Added?", "q-2-answer_text": "x", "q-2-max_score": "2"},
        {"q-TOTAL_FORMS": "5", "q-INITIAL_FORMS": "5"},
        {"q-TOTAL_FORMS": "1", "q-INITIAL_FORMS": "1"},
        {"q-TOTAL_FORMS": "two"},
        {"q-TOTAL_FORMS": None, "q-INITIAL_FORMS": None},
    ],
    ids=["an-added-form", "more-initial-forms-than-questions", "fewer-forms", "not-a-number", "missing"],
)
def test_a_changed_management_form_is_a_400_and_saves_nothing(web, personas, script, change):
    data = review_data(script, **{"q-0-answer_text": "Changed."})
    for key, value in change.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    response = web(personas.alpha, personas.bob).post(f"/submissions/{script.pk}/review/", data)
    assert response.status_code == 400
    assert "does not match this script" in response.content.decode()
    with schema_context("alpha"):
        assert QuestionResult.objects.filter(submission=script).count() == 2
        assert not QuestionResult.objects.filter(submission=script, answer_text="Changed.").exists()


@pytest.mark.parametrize("path", ["/", "/upload/", "/account/tokens/"])
def test_pages_carry_a_content_security_policy_without_inline_script(web, personas, path):
    policy = web(personas.alpha, personas.bob).get(path)["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert "unsafe-inline" not in directives["script-src"] and "unsafe-eval" not in policy
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    assert "Content-Security-Policy" in web(None, personas.root).get("/admin/")


def test_no_template_has_inline_script():
    """Everything a page runs comes from static/js (the policy above would block it anyway)."""
    inline = []
    for template in (ROOT / "templates").rglob("*.html"):
        for tag in re.findall(r"<script\b[^>]*>", template.read_text()):
            if "src=" not in tag and 'type="application/json"' not in tag:
                inline.append(f"{template.relative_to(ROOT)}: {tag}")
        if re.search(r"\son[a-z]+=", template.read_text()):
            inline.append(f"{template.relative_to(ROOT)}: an on...= handler attribute")
    assert inline == []
