"""Abuse: per-user throttles hold under a concurrent burst, allauth refuses repeated failed sign-ins, every page form
refuses a POST without a CSRF token, and secrets (the provider key, API tokens) never reach a log.

(`check --deploy` in production settings is tested in tests/quizmarker/test_settings.py.)
"""

from __future__ import annotations

import io
import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.test import Client
from rest_framework.test import APIClient

from organizations.models import Membership, User
from tests.helpers import api_key, sheet, upload, url_routes, wait_for_job
from tests.reliability.support import PrivateRedis, broker_at, forget_broker

# --- Throttles under a burst ----------------------------------------------------------------------


@pytest.fixture
def burst_user(live_db, personas):
    user = User.objects.create_user(f"burst-{uuid.uuid4().hex[:8]}@alpha.test", "not-used-here")
    Membership.objects.create(user=user, organization=personas.alpha, role="member")
    yield user, api_key(user, personas.alpha)
    user.delete()


def burst(host: str, token: str, path: str, requests: int, **kwargs) -> list[int]:
    barrier = threading.Barrier(requests)

    def one(_):
        from django.db import connection

        client = APIClient(HTTP_HOST=host)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        barrier.wait()
        try:
            return client.post(path, **kwargs).status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=requests) as pool:
        return list(pool.map(one, range(requests)))


@pytest.mark.parametrize(
    ("path", "limit", "kwargs"),
    [
        ("/api/v1/upload", 20, {"data": {}, "format": "multipart"}),
        ("/api/v1/grade", 15, {"data": {}, "format": "json"}),
    ],
    ids=["upload-20-an-hour", "grade-15-an-hour"],
)
def test_a_concurrent_burst_gets_no_more_than_the_hourly_limit(burst_user, personas, path, limit, kwargs):
    _, token = burst_user
    statuses = burst(personas.alpha.host, token, path, requests=limit + 15, **kwargs)
    passed = [s for s in statuses if s != 429]
    assert all(s in (400, 429) for s in statuses), statuses  # empty requests: refused by validation or throttle
    assert len(passed) <= limit, f"{len(passed)} of a burst of {len(statuses)} got past a limit of {limit}"
    assert statuses.count(429) >= 15


# --- Sign-in rate limiting --------------------------------------------------------------------------


@pytest.mark.django_db
def test_repeated_failed_sign_ins_are_refused_even_with_the_right_password(personas):
    email = f"guess-{uuid.uuid4().hex[:8]}@alpha.test"
    User.objects.create_user(email, "the-right-password-123")
    client = Client(HTTP_HOST=personas.alpha.host)
    for _ in range(5):
        response = client.post("/accounts/login/", {"login": email, "password": "wrong-password"})
        assert response.status_code in (200, 400, 429) and "_auth_user_id" not in client.session

    response = client.post("/accounts/login/", {"login": email, "password": "the-right-password-123"})
    assert "_auth_user_id" not in client.session, "the sixth attempt within minutes is refused"
    assert response.status_code == 429 or b"Too many failed login attempts" in response.content


# --- CSRF on every page form ----------------------------------------------------------------------


def page_routes() -> list[str]:
    found = {r for r in url_routes() if not r.startswith(("^", "api/"))}
    found |= {
        "accounts/login/",
        "accounts/signup/",
        "accounts/logout/",
        "accounts/password/reset/",
        "accounts/password/change/",
        "accounts/email/",
    }
    return sorted(r for r in found if "^" not in r and "(?P" not in r)


def _fill(route: str) -> str:
    values = {"int": "1", "uuid": str(uuid.uuid4()), "str": "token", "slug": "x", "path": "x"}
    path = route
    while "<" in path:
        start, end = path.index("<"), path.index(">")
        kind = path[start + 1 : end].split(":")[0] if ":" in path[start:end] else "str"
        path = path[:start] + values.get(kind, "1") + path[end + 1 :]
    return "/" + path


@pytest.mark.django_db
def test_every_page_refuses_a_post_without_a_csrf_token(personas):
    client = Client(HTTP_HOST=personas.alpha.host, enforce_csrf_checks=True)
    client.force_login(personas.alice)
    routes = page_routes()
    assert len(routes) > 25
    accepted = {}
    for route in routes:
        response = client.post(_fill(route), {"name": "x", "email": "x@example.test"})
        if response.status_code != 403:
            accepted[route] = response.status_code
    assert not accepted, f"POST without a CSRF token was not refused: {accepted}"
    public = Client(enforce_csrf_checks=True)
    for path in ("/accounts/login/", "/accounts/signup/", "/"):
        assert public.post(path, {"login": "a@b.test", "password": "x"}).status_code == 403, path


# --- Secrets never logged -------------------------------------------------------------------------

CANARY_KEY = "sk-canary-" + uuid.uuid4().hex


@pytest.fixture
def canary_worker(celery_worker, tmp_path, live_db):
    """A worker of its own (on a private Redis) whose provider key is a recognisable canary."""
    server = PrivateRedis(tmp_path)
    server.start()
    env = dict(celery_worker.env, REDIS_URL=server.url, CELERY_BROKER_URL=server.url, OPENAI_API_KEY=CANARY_KEY)
    worker = type(celery_worker)(env, name=f"{celery_worker.name}-canary", concurrency=1)
    worker.log_path.unlink(missing_ok=True)
    try:
        with broker_at(server.url):
            worker.start()
            yield worker
    finally:
        worker.stop()
        server.stop()
        forget_broker(server.url)


def test_the_provider_key_and_api_tokens_never_reach_the_logs(canary_worker, api, personas, openai_server):
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    token = api_key(personas.dana, personas.alpha)
    client = APIClient(HTTP_HOST=personas.alpha.host, HTTP_AUTHORIZATION=f"Token {token}")
    try:
        extraction = wait_for_job(upload(client, sheet("s05_std05_dkg_p1.png"))["job_id"], timeout=60)
        assert extraction.status == "completed", extraction.error_message
        response = client.post("/api/v1/grade", {"upload_job_id": str(extraction.pk), "standard_id": 5}, format="json")
        assert response.status_code == 202
        grading = wait_for_job(response.json()["data"]["job_id"], timeout=60)
        assert grading.status == "completed", grading.error_message
        client.get("/api/v1/jobs/not-a-job")  # an error path too
        APIClient(HTTP_HOST=personas.alpha.host, HTTP_AUTHORIZATION=f"Token {token}x").get("/api/v1/jobs")
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)

    requests = [r for r in openai_server.requests() if r["kind"] in ("PageExtraction", "ScriptGrading")]
    assert requests, "the worker really called the provider with the canary key"
    worker_log = canary_worker.log_path.read_text(errors="replace")
    assert "Task jobs.tasks.run_grading" in worker_log, "the worker's log was captured"
    for text, where in ((worker_log, "the worker's log"), (captured.getvalue(), "this process's logs")):
        assert CANARY_KEY not in text and CANARY_KEY[-12:] not in text, f"the provider key appears in {where}"
        assert token not in text and token[:12] not in text, f"an API token appears in {where}"
    for job in (extraction, grading):
        job.refresh_from_db()
        stored = f"{job.input} {job.result} {list(job.events.values_list('message', flat=True))}"
        assert CANARY_KEY not in stored and token not in stored
