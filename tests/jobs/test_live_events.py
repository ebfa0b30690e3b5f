"""Live job updates over server-sent events, read from the ASGI web server (as `make run` starts it) while a real
Celery worker runs the job: progress arrives as it happens, in order, and the stream ends at the terminal status."""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests
from django.test import Client

from jobs.models import BackgroundJob
from tests.helpers import api_key, sheet, upload, wait_for_job

pytestmark = [pytest.mark.worker]

STATUS_ORDER = {"queued": 0, "processing": 1, "completed": 2, "failed": 2, "cancelled": 2}


def read_events(response, timeout: float = 60) -> list[dict]:
    """Every `data:` event until the server ends the stream (fails if it has not ended by ``timeout``)."""
    events, ended = [], threading.Event()
    timer = threading.Timer(timeout, response.close)
    timer.start()
    try:
        for line in response.iter_lines(decode_unicode=True):
            if line and line.startswith("data: "):
                events.append(json.loads(line[len("data: ") :]))
        ended.set()
    finally:
        timer.cancel()
    assert ended.is_set()
    return events


def stream(web_server, organization, path: str, token: str | None = None, cookie: str | None = None):
    headers = {"Host": organization.host, "Accept": "text/event-stream"}
    if token:
        headers["Authorization"] = f"Token {token}"
    if cookie:
        headers["Cookie"] = f"sessionid={cookie}"
    return requests.get(f"{web_server.url}{path}", headers=headers, stream=True, timeout=30)


@pytest.fixture
def alpha_api(api, personas, live_db):
    return api(personas.alpha, personas.dana)


def test_a_watcher_sees_each_progress_step_in_order_then_the_terminal_status_and_the_stream_ends(
    web_server, celery_worker, alpha_api, personas, openai_server
):
    openai_server.configure(latency=0.4)
    openai_server.hold()  # the pages' AI calls wait until the watcher is connected: no race with a fast worker
    try:
        accepted = upload(
            alpha_api, sheet("s05_std05_dkg_p1.png"), sheet("s05_std05_dkg_p2.png"), sheet("s09_std09_kristi_p1.png")
        )
        started = time.monotonic()
        token = api_key(personas.dana, personas.alpha)
        with stream(web_server, personas.alpha, f"/api/v1/jobs/{accepted['job_id']}/events", token) as response:
            assert response.status_code == 200
            assert response.headers["Content-Type"].startswith("text/event-stream")
            openai_server.release()
            events = read_events(response)
    finally:
        openai_server.release()
    took = time.monotonic() - started

    job = BackgroundJob.objects.get(pk=accepted["job_id"])
    assert {event["id"] for event in events} == {accepted["job_id"]}
    statuses = [event["status"] for event in events]
    percents = [event["progress"] for event in events]
    assert [STATUS_ORDER[s] for s in statuses] == sorted(STATUS_ORDER[s] for s in statuses), statuses
    assert percents == sorted(percents), f"progress went backwards: {percents}"
    assert statuses.count("completed") == 1 and statuses[-1] == "completed"
    # Progress arrived while the job ran, page by page, not only at the end.
    running = [e for e in events if e["status"] == "processing" and 0 < e["progress"] < 100]
    assert len(running) >= 3, events
    assert {"Read page 1 of 3", "Read page 2 of 3"} <= {e["current_step"] for e in running}, events
    # The last event is the job as the API shows it, result included; the stream ended with the job.
    assert events[-1]["progress"] == 100
    assert events[-1]["result"]["submission_ids"] == job.result["submission_ids"]
    assert took < 30


def test_a_finished_jobs_stream_sends_it_once_and_ends(web_server, celery_worker, alpha_api, personas):
    job_id = upload(alpha_api, sheet("s11_std11_typed.pdf"))["job_id"]
    wait_for_job(job_id)
    with stream(
        web_server, personas.alpha, f"/api/v1/jobs/{job_id}/events", api_key(personas.dana, personas.alpha)
    ) as response:
        events = read_events(response, timeout=10)
    assert [(e["id"], e["status"], e["progress"]) for e in events] == [(job_id, "completed", 100)]


def test_another_organizations_user_and_a_member_who_may_not_see_the_job_get_404(
    web_server, alpha_api, personas, live_db
):
    job_id = upload(alpha_api, sheet("s11_std11_typed.pdf"))["job_id"]  # Dana's job
    # Charlie, in Beta, asks for Alpha's job: not there. Bob, an assessor of Alpha, sees only his own jobs.
    for user, organization in ((personas.charlie, personas.beta), (personas.bob, personas.alpha)):
        with stream(web_server, organization, f"/api/v1/jobs/{job_id}/events", api_key(user, organization)) as r:
            assert r.status_code == 404, user
            assert r.json()["success"] is False and r.json()["code"] == "NOT_FOUND"
    # Charlie's token on Alpha's host: it works only in Beta.
    with stream(
        web_server, personas.alpha, f"/api/v1/jobs/{job_id}/events", api_key(personas.charlie, personas.beta)
    ) as r:
        assert r.status_code == 401
        assert r.json()["code"] == "NOT_AUTHENTICATED"


def test_an_unauthenticated_api_client_gets_401_in_the_envelope(web_server, alpha_api, personas):
    job_id = upload(alpha_api, sheet("s11_std11_typed.pdf"))["job_id"]
    with stream(web_server, personas.alpha, f"/api/v1/jobs/{job_id}/events") as response:
        assert response.status_code == 401
        assert response.json() == {
            "success": False,
            "error": response.json()["error"],
            "code": "NOT_AUTHENTICATED",
            "details": {},
        }
        assert response.json()["error"]


def test_the_page_stream_follows_a_session_until_every_job_has_finished(
    web_server, celery_worker, alpha_api, personas, openai_server
):
    openai_server.configure(latency=0.3)
    accepted = upload(alpha_api, sheet("s05_std05_dkg_p1.png"), grade="true", session_label="live")
    browser = Client(HTTP_HOST=personas.alpha.host)
    browser.force_login(personas.dana)
    cookie = browser.cookies["sessionid"].value
    with stream(web_server, personas.alpha, f"/sessions/{accepted['session_id']}/events", cookie=cookie) as response:
        assert response.status_code == 200
        events = read_events(response)
    # Reading, then the grading it started, then the assessor's summary email: the stream ends when all are done.
    last = {e["job_type"]: e["status"] for e in events}
    assert last == {"extraction": "completed", "grading": "completed", "email": "completed"}, events
    assert not BackgroundJob.objects.filter(session_id=accepted["session_id"], status__in=["queued", "processing"])
    grading = [e for e in events if e["job_type"] == "grading"]
    assert grading[-1]["progress"] == 100
    # An outsider signed in on Alpha's host is not a member: the page answers 403 before any stream.
    outsider = Client(HTTP_HOST=personas.alpha.host)
    outsider.force_login(personas.charlie)
    with stream(
        web_server, personas.alpha, f"/jobs/{accepted['job_id']}/events", cookie=outsider.cookies["sessionid"].value
    ) as response:
        assert response.status_code == 403
