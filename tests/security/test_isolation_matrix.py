"""Tenant isolation, generated from the URL configuration so a new route is covered automatically: every page and
API route of an organization's host × {anonymous, member, member of another organization, admin, super admin}."""

import uuid
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context
from rest_framework.test import APIClient

from grading.models import QuestionResult, Student, Submission
from jobs.models import BackgroundJob, GradingSession
from markschemes.models import MarkScheme
from tests.helpers import url_routes

pytestmark = pytest.mark.django_db

# Routes anyone may open (sign-in pages, health, the API's own documentation, invitation links).
OPEN = ("accounts/", "health", "invitations/", "api/v1/schema", "api/v1/docs")
# Routes about the caller, not the addressed organization: an outsider may call them but sees only their own data.
OWN = ("api/v1/organizations",)


def routes() -> list[str]:
    # allauth's own routes (sign-in, sign-up, password reset) are open by design and parameterised by its tokens.
    found = sorted({r for r in url_routes() if not r.startswith(("^", "accounts/"))})
    assert len(found) > 50, "the URL configuration was not walked"
    return found


def _objects(organization, owner, schema):
    session = GradingSession.objects.create(organization=organization, user=owner)
    job = BackgroundJob.objects.create(
        organization=organization,
        user=owner,
        session=session,
        job_type="extraction",
        status="completed",
        input={"files": []},
        result={},
    )
    with schema_context(schema):
        student = Student.objects.create(full_name=f"Learner of {schema}")
        submission = Submission.objects.create(upload_job_id=job.pk, student=student, session_id=session.pk)
        QuestionResult.objects.create(
            submission=submission, number=1, question_text="Q?", answer_text="A.", max_score=Decimal(2)
        )
        scheme_id = MarkScheme.objects.order_by("pk").values_list("pk", flat=True).first()
    return {
        "submission_id": submission.pk,
        "student_id": student.pk,
        "session_id": session.pk,
        "job_id": job.pk,
        "scheme_id": scheme_id,
    }


def fill(route: str, ids: dict, personas) -> str:
    values = {
        **ids,
        "number": 1,
        "standard": 3,
        "user_id": personas.bob.pk,
        "organization_id": personas.alpha.pk,
        "invitation_id": 999999,
        "token_id": 999999,
        "token": "no-such-invitation",
        "endpoint_id": uuid.uuid4(),
        "delivery_id": uuid.uuid4(),
    }
    path = route
    while "<" in path:
        start, end = path.index("<"), path.index(">")
        name = path[start + 1 : end].split(":")[-1]
        path = path[:start] + str(values[name]) + path[end + 1 :]
    return "/" + path


def client_for(organization, user) -> APIClient:
    client = APIClient(HTTP_HOST=organization.host)
    if user is not None:
        client.force_login(user)
    return client


def _is_open(route: str) -> bool:
    return route.startswith(OPEN)


def test_every_route_answers_each_persona_only_as_allowed(personas):
    ids = _objects(personas.alpha, personas.bob, "alpha")
    problems = []
    for route in routes():
        url = fill(route, ids, personas)
        api = route.startswith("api/")
        for who, user in (
            ("anonymous", None),
            ("outsider", personas.charlie),
            ("member", personas.bob),
            ("admin", personas.dana),
            ("super admin", personas.root),
        ):
            response = client_for(personas.alpha, user).get(url)
            status = response.status_code
            if status >= 500 and not (route.startswith("health") and status == 503):  # 503: no worker runs here
                problems.append(f"{who} GET {url} → {status}")
            elif route in OWN and who == "outsider":
                if status == 200 and personas.alpha.name.encode() in response.content:
                    problems.append(f"outsider GET {url} shows the addressed organization")
            elif _is_open(route):
                continue
            elif who == "anonymous" and status not in ((401,) if api else (302, 401)):
                problems.append(f"anonymous GET {url} → {status} (expected {'401' if api else 'a sign-in redirect'})")
            elif who == "outsider" and status not in ((404,) if api else (403, 404)):
                problems.append(f"outsider GET {url} → {status}")
            elif who in ("member", "admin", "super admin") and status == 403 and b"not a member" in response.content:
                problems.append(f"{who} GET {url} was refused as a non-member")
        for who, user in (("anonymous", None), ("outsider", personas.charlie)):
            if _is_open(route):
                continue
            status = client_for(personas.alpha, user).post(url, {}).status_code
            if status < 400 and status != 302 or status >= 500 or (status == 302 and who == "outsider"):
                problems.append(f"{who} POST {url} → {status}")
    assert not problems, "\n".join(problems)


def test_another_organizations_object_ids_never_resolve(personas):
    _objects(personas.alpha, personas.bob, "alpha")
    foreign = _objects(personas.beta, personas.charlie, "beta")
    problems = []
    for route in routes():
        if not any(f":{name}>" in route for name in ("submission_id", "session_id", "job_id", "student_id")):
            continue
        url = fill(route, foreign, personas)
        for who, user in (("member", personas.bob), ("admin", personas.alice)):
            status = client_for(personas.alpha, user).get(url).status_code
            if status not in (404, 405):
                problems.append(f"{who} GET {url} (beta's ids on alpha's host) → {status}")
    assert not problems, "\n".join(problems)


def test_cache_keys_task_headers_and_file_paths_carry_the_organization(personas, settings):
    import json

    import redis
    from django.core.cache import cache

    from jobs.services import publish

    with schema_context("alpha"):
        alpha_key = cache.make_key("throttle_upload_1")
    with schema_context("beta"):
        beta_key = cache.make_key("throttle_upload_1")
    assert alpha_key != beta_key and alpha_key.startswith("alpha:") and beta_key.startswith("beta:")

    job = BackgroundJob.objects.create(
        organization=personas.beta,
        user=personas.charlie,
        job_type="email",
        input={"kind": "grading_complete", "submission_ids": []},
    )
    client = redis.Redis.from_url(settings.REDIS_URL)
    queue = f"{settings.REDIS_KEY_PREFIX}:low"
    client.delete(queue)
    try:
        assert publish(job.pk)
        (raw,) = client.lrange(queue, 0, -1)
        message = json.loads(raw)
        assert message["headers"]["_schema_name"] == "beta", "the worker runs it in beta's schema"
        assert message["headers"]["id"] == BackgroundJob.objects.get(pk=job.pk).celery_task_id
    finally:
        client.delete(queue)

    from grading.storage import job_folder

    assert job_folder("beta", job.pk) == f"uploads/beta/{job.pk}"
