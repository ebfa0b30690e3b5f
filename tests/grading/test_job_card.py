"""GET /jobs/<id>/card/: one job's card drawn by the server, the only drawing of it (the pages include the same
template, and static/js/app.js fetches this to redraw a running job's card in place), and the Retry form that answers
with the new job's card when htmx sends it."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from jobs.models import BackgroundJob

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


class _Card(HTMLParser):
    """What a person sees on a card: its parts by data-role, the progress bar, and the actions in order."""

    def __init__(self):
        super().__init__()
        self.parts: dict = {"actions": []}
        self.open: list[tuple[str, str | None]] = []  # (tag, what its text is collected into)
        self.texts: dict[str, list[str]] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        key = None
        if tag == "article":
            self.parts["article"] = {k: v for k, v in attrs.items() if k.startswith("data-") or k == "class"}
        elif attrs.get("role") == "progressbar":
            self.parts["bar"] = (attrs["aria-valuenow"], attrs["aria-valuetext"])
        elif attrs.get("data-role"):
            key = attrs["data-role"]
            if key == "link":
                self.parts["link_href"] = attrs["href"]
            if key == "error" and "hidden" in attrs:
                key = "hidden-error"
        elif self.open and any(k == "actions" for _, k in self.open) and tag in ("a", "span", "form"):
            target = attrs.get("href") or attrs.get("action") or ""
            self.parts["actions"].append([tag, target, ""])
            key = "action"
        elif tag == "input" and attrs.get("type") == "hidden" and attrs["name"] != "csrfmiddlewaretoken":
            self.parts["actions"][-1].append((attrs["name"], attrs["value"]))
        if tag != "input":
            self.open.append((tag, key))

    def handle_endtag(self, tag):
        while self.open:
            if self.open.pop()[0] == tag:
                break

    def handle_data(self, data):
        for _, key in reversed(self.open):
            if key == "action":
                self.parts["actions"][-1][2] += data
                return
            if key:
                self.texts.setdefault(key, []).append(data)
                return


def card(response) -> dict:
    parser = _Card()
    parser.feed(response.content.decode())
    parts = parser.parts
    for key, texts in parser.texts.items():
        if key != "actions":  # (its entries are in the list)
            parts[key] = " ".join("".join(texts).split())
    parts["actions"] = [tuple(" ".join(v.split()) if isinstance(v, str) else v for v in a) for a in parts["actions"]]
    return parts


@pytest.fixture
def member(web, personas):
    """Bob, a member (not an admin) of Alpha, who sees his own jobs."""
    return web(personas.alpha, personas.bob)


def make_job(personas, **fields) -> BackgroundJob:
    fields = {"job_type": "extraction", "input": {"files": [{"path": "a"}, {"path": "b"}]}} | fields
    return BackgroundJob.objects.create(organization=personas.alpha, user=personas.bob, **fields)


def test_a_queued_jobs_card(member, personas):
    job = make_job(personas, current_step="Waiting for a worker")
    response = member.get(f"/jobs/{job.pk}/card/")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    assert card(response) == {
        "article": {
            "class": "job-card is-active",
            "data-job": str(job.pk),
            "data-status": "queued",
            "data-card": f"/jobs/{job.pk}/card/",
            "data-events": f"/jobs/{job.pk}/events",
        },
        "status": "Queued",
        "link": "Extraction: reading 2 files",
        "link_href": f"/jobs/{job.pk}/",
        "bar": ("0", "0 %: Waiting for a worker"),
        "step": "Waiting for a worker",
        "percent": "0 %",
        "hidden-error": "The job failed.",
        "actions": [],
    }


def test_a_processing_jobs_card_asks_to_reload_its_page_when_told_to(member, personas):
    job = make_job(personas, status="processing", progress=40, current_step="Read page 2 of 5")
    parts = card(member.get(f"/jobs/{job.pk}/card/?reload=1"))
    assert parts["article"] == {
        "class": "job-card is-active",
        "data-job": str(job.pk),
        "data-status": "processing",
        "data-card": f"/jobs/{job.pk}/card/?reload=1",
        "data-events": f"/jobs/{job.pk}/events",
        "data-reload-on-complete": None,
    }
    assert (parts["status"], parts["bar"], parts["step"], parts["percent"], parts["actions"]) == (
        "Processing",
        ("40", "40 %: Read page 2 of 5"),
        "Read page 2 of 5",
        "40 %",
        [],
    )


def test_a_completed_jobs_card_links_to_each_script(member, personas):
    first, second = "8d7f1c2e-0000-4000-8000-000000000001", "8d7f1c2e-0000-4000-8000-000000000002"
    job = make_job(
        personas, status="completed", progress=100, current_step="Done", result={"submission_ids": [first, second]}
    )
    parts = card(member.get(f"/jobs/{job.pk}/card/"))
    assert parts["article"]["class"] == "job-card" and parts["article"]["data-status"] == "completed"
    assert (parts["status"], parts["bar"], parts["percent"]) == ("Completed", ("100", "100 %: Done"), "100 %")
    assert parts["actions"] == [
        ("a", f"/submissions/{first}/review/", "Review script 1"),
        ("a", f"/submissions/{second}/review/", "Review script 2"),
    ]
    assert "error" not in parts

    grading = make_job(
        personas, job_type="grading", status="completed", input={"quiz_count": 1}, result={"submission_ids": [first]}
    )
    parts = card(member.get(f"/jobs/{grading.pk}/card/"))
    assert parts["link"] == "Grading: 1 script"
    assert parts["actions"] == [("a", f"/submissions/{first}/", "See the results")]

    nothing = make_job(personas, status="completed", result={"submission_ids": []})
    assert card(member.get(f"/jobs/{nothing.pk}/card/"))["actions"] == [
        ("span", "", "No answers were found on these pages.")
    ]


def test_a_failed_jobs_card_shows_its_error_and_a_retry_form(member, personas):
    job = make_job(personas, status="failed", progress=50, error_message="The AI service kept failing.")
    parts = card(member.get(f"/jobs/{job.pk}/card/"))
    assert parts["article"]["class"] == "job-card" and parts["status"] == "Failed"
    assert parts["error"] == "The AI service kept failing." and "hidden-error" not in parts
    assert parts["actions"] == [
        ("form", f"/jobs/{job.pk}/retry/", "Retry"),
        ("a", f"/jobs/{job.pk}/", "See what happened"),
    ]


def test_another_organizations_job_and_another_members_job_are_not_found(web, member, personas):
    beta_job = BackgroundJob.objects.create(organization=personas.beta, user=personas.charlie, job_type="extraction")
    alices = BackgroundJob.objects.create(organization=personas.alpha, user=personas.alice, job_type="extraction")
    assert web(personas.beta, personas.charlie).get(f"/jobs/{beta_job.pk}/card/").status_code == 200
    assert web(personas.alpha, personas.alice).get(f"/jobs/{beta_job.pk}/card/").status_code == 404
    assert member.get(f"/jobs/{alices.pk}/card/").status_code == 404  # a member sees their own jobs only
    assert web(personas.alpha).get(f"/jobs/{alices.pk}/card/").status_code == 302  # signed out: to sign in


def test_retry_through_htmx_answers_with_the_new_jobs_card(member, personas):
    job = make_job(personas, status="failed", error_message="Boom.")
    response = member.post(f"/jobs/{job.pk}/retry/", {"reload": "1"}, **HTMX)
    assert response.status_code == 200
    parts = card(response)
    new_job = BackgroundJob.objects.get(pk=parts["article"]["data-job"])
    assert new_job.pk != job.pk and (new_job.status, new_job.user) == ("queued", personas.bob)
    assert parts["status"] == "Queued"
    assert parts["article"]["data-card"] == f"/jobs/{new_job.pk}/card/?reload=1"

    refused = member.post(f"/jobs/{new_job.pk}/retry/", **HTMX)  # a queued job cannot be retried
    assert refused.status_code == 409
    parts = card(refused)
    assert parts["article"]["data-job"] == str(new_job.pk)
    assert parts["error"] == "Only a failed or cancelled job can be retried."
