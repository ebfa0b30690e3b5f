"""Tenant isolation, generated from the URL configuration so a new route is covered automatically: every page and
API route of an organization's host × {anonymous, a signed-in user of no organization, a member of another
organization} × {GET, POST, PATCH, PUT, DELETE}, with bodies that are valid for the route (an owner's identical
request succeeds), and nothing of the addressed organization changes. Objects of the two organizations share the
same integer ids on purpose, and the tenant cache is on, as in production."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail
from django.db import transaction
from django_tenants.utils import schema_context
from rest_framework.test import APIClient

from grading.models import Page, QuestionResult, ScoreChange, Student, Submission
from integrations.endpoints import create_endpoint, rotate_callback_secret
from integrations.models import ApiToken, CallbackSecret, WebhookDelivery, WebhookEndpoint
from integrations.tokens import create_token
from jobs.models import BackgroundJob, GradingSession
from markschemes.models import MarkScheme, SchemeQuestion, Subject
from organizations.models import Invitation, Membership, Organization, Role, User
from quizmarker.middleware import forget_tenants
from tests.helpers import sheet, url_routes

pytestmark = pytest.mark.django_db

# Routes anyone may open (sign-in pages, health, the API's own documentation, invitation links).
OPEN = ("accounts/", "health", "invitations/", "api/v1/schema", "api/v1/docs")
# Routes about the caller, not the addressed organization: an outsider may call them but sees only their own data.
OWN = ("api/v1/organizations",)
WRITES = ("post", "patch", "put", "delete")
ALPHA_ONLY_IDS = (  # ids that name an object of Alpha's only (a user's id or SAME_ID exists in Beta too)
    "organization_id",
    "submission_id",
    "session_id",
    "job_id",
    "endpoint_id",
    "delivery_id",
    "invitation_id",
    "token_id",
)
SAME_ID = 987_654  # a student id that exists in both organizations' schemas (far above either sequence)


def routes() -> list[str]:
    # allauth's own routes (sign-in, sign-up, password reset) are open by design and parameterised by its tokens.
    found = sorted({r for r in url_routes() if not r.startswith(("^", "accounts/"))})
    assert len(found) > 50, "the URL configuration was not walked"
    return found


@pytest.fixture
def tenant_cache(settings):
    """The tenant cache on, as in production (tests run with it off by default)."""
    settings.TENANT_CACHE_SECONDS = 60
    forget_tenants()
    yield
    forget_tenants()


def _objects(organization, owner, schema) -> dict:
    """One of everything an organization owns; the student's id is SAME_ID in every organization."""
    session = GradingSession.objects.create(organization=organization, user=owner)
    job, failed, queued = (
        BackgroundJob.objects.create(
            organization=organization,
            user=owner,
            session=session,
            job_type="extraction",
            status=status,
            input={"files": []},
            result={} if status == "completed" else None,
            error_message="Failed for the test." if status == "failed" else "",
        )
        for status in ("completed", "failed", "queued")
    )
    endpoint = create_endpoint(organization=organization, url="http://127.0.0.1:9/hook", events=["job.completed"])
    delivery = WebhookDelivery.objects.create(
        organization=organization, endpoint=endpoint, url=endpoint.url, event="job.completed", payload={}
    )
    rotate_callback_secret(organization)
    invitation = Invitation.objects.create(organization=organization, email=f"invited@{schema}.test", invited_by=owner)
    token, _ = create_token(owner, f"{schema} token", organization)
    with schema_context(schema):
        student = Student.objects.create(id=SAME_ID, full_name=f"Learner of {schema}")
        submission = Submission.objects.create(
            upload_job_id=job.pk, student=student, session_id=session.pk, standard=3, status="graded"
        )
        question = QuestionResult.objects.create(
            submission=submission,
            number=1,
            question_text="Q?",
            answer_text="A.",
            max_score=Decimal(2),
            ai_score=Decimal(1),
            ai_feedback="Fine.",
        )
        Page.objects.create(submission=submission, number=1, file="pages/none.png", text="Q? A.")
        scheme_id = MarkScheme.objects.order_by("pk").values_list("pk", flat=True).first()  # the same in both
        subject = Subject.objects.create(
            id=SAME_ID,
            name=f"Subject of {schema}",
            reference_file=f"subjects/{schema}/none.pdf",
            reference_name="reference.pdf",
            reference_sha256="0" * 64,
            reference_text=f"Reference of {schema}.",
            pages=1,
        )
    return {
        "submission_id": submission.pk,
        "student_id": student.pk,
        "session_id": session.pk,
        "job_id": job.pk,
        "failed_job_id": failed.pk,
        "queued_job_id": queued.pk,
        "endpoint_id": endpoint.pk,
        "delivery_id": delivery.pk,
        "invitation_id": invitation.pk,
        "token_id": token.pk,
        "organization_id": organization.pk,
        "question_pk": question.pk,
        "scheme_id": scheme_id,
        "subject_id": subject.pk,
    }


@pytest.fixture
def world(personas):
    """Alpha and Beta with the same kinds of objects, a student of the same id in each, and a person who is a member
    of both (so a member's user id addresses a membership in each)."""
    both = User.objects.create_user("both@alpha-and-beta.test", "pw-not-used-here", full_name="In Both")
    Membership.objects.create(user=both, organization=personas.alpha, role=Role.MEMBER)
    Membership.objects.create(user=both, organization=personas.beta, role=Role.MEMBER)
    nobody = User.objects.create_user("nobody@nowhere.test", "pw-not-used-here", full_name="Of No Organization")
    alpha = _objects(personas.alpha, personas.alice, "alpha") | {"user_id": both.pk, "slug": "alpha"}
    beta = _objects(personas.beta, personas.charlie, "beta") | {"user_id": both.pk, "slug": "beta"}
    assert alpha["student_id"] == beta["student_id"] == SAME_ID
    return {"alpha": alpha, "beta": beta, "both": both, "nobody": nobody}


JOB_IN_STATE = {
    "api/v1/jobs/<uuid:job_id>": "queued_job_id",
    "jobs/<uuid:job_id>/cancel/": "queued_job_id",
    "jobs/<uuid:job_id>/retry/": "failed_job_id",
}


def url_of(route: str, ids: dict) -> str:
    """The route's URL for a write: the job it needs in the right state."""
    if route in JOB_IN_STATE:
        ids = ids | {"job_id": ids[JOB_IN_STATE[route]]}
    return fill(route, ids)


def fill(route: str, ids: dict) -> str:
    values = {**ids, "number": 1, "standard": 3, "token": "no-such-invitation"}
    path = route
    while "<" in path:
        start, end = path.index("<"), path.index(">")
        name = path[start + 1 : end].split(":")[-1]
        path = path[:start] + str(values[name]) + path[end + 1 :]
    return "/" + path


def bodies(ids: dict) -> dict[str, tuple[str, dict, str]]:
    """For each route that changes something: (the method a member uses, a valid body, its format). A route about a
    job that must be running (cancel) or failed (retry) is sent that job's id instead (see `url_of`)."""
    hook = {"url": "http://127.0.0.1:9/other", "events": ["job.failed"], "description": "Changed"}
    return {
        "api/v1/grade": ("post", {"upload_job_id": str(ids["job_id"]), "standard_id": 3}, "json"),
        "api/v1/upload": ("post", {"files": [sheet("s05_std05_dkg_p1.png")], "standard_id": 3}, "multipart"),
        "api/v1/jobs/<uuid:job_id>": ("delete", {}, "json"),
        "api/v1/organizations/<int:organization_id>": ("delete", {}, "json"),
        "api/v1/organizations/<int:organization_id>/members": (
            "post",
            {"email": "intruder@evil.test", "role": "admin"},
            "json",
        ),
        "api/v1/organizations/<int:organization_id>/members/<int:user_id>": ("patch", {"role": "admin"}, "json"),
        "api/v1/submissions/<uuid:submission_id>/questions/<int:number>": (
            "patch",
            {"score": 2, "feedback": "Changed by someone.", "reason": "Because."},
            "json",
        ),
        "api/v1/tokens": ("post", {"name": "intruder"}, "json"),
        "api/v1/tokens/<int:token_id>": ("delete", {}, "json"),
        "api/v1/webhooks": ("post", hook, "json"),
        "api/v1/webhooks/<uuid:endpoint_id>": ("patch", hook, "json"),
        "api/v1/webhooks/<uuid:endpoint_id>/rotate-secret": ("post", {}, "json"),
        "api/v1/webhooks/<uuid:endpoint_id>/test": ("post", {}, "json"),
        "api/v1/webhooks/callback-secret": ("post", {}, "json"),
        "api/v1/webhooks/deliveries/<uuid:delivery_id>/redeliver": ("post", {}, "json"),
        "upload/": ("post", {"files": [sheet("s05_std05_dkg_p1.png")], "standard": "3"}, "multipart"),
        "members/invite/": ("post", {"email": "intruder@evil.test", "role": "admin"}, "form"),
        "members/<int:user_id>/role/": ("post", {"role": "admin"}, "form"),
        "members/<int:user_id>/remove/": ("post", {}, "form"),
        "members/invitations/<int:invitation_id>/revoke/": ("post", {}, "form"),
        "settings/": ("post", {"name": "Taken Over", "pass_mark": "10"}, "form"),
        "settings/transfer/": ("post", {"user_id": str(ids["user_id"])}, "form"),
        "settings/delete/": ("post", {"confirm_slug": ids["slug"]}, "form"),
        "account/tokens/": ("post", {"name": "intruder"}, "form"),
        "account/tokens/<int:token_id>/revoke/": ("post", {}, "form"),
        "settings/webhooks/": ("post", {**hook, "is_active": "on"}, "form"),
        "settings/webhooks/<uuid:endpoint_id>/": ("post", {**hook, "is_active": "on"}, "form"),
        "settings/webhooks/<uuid:endpoint_id>/rotate/": ("post", {}, "form"),
        "settings/webhooks/<uuid:endpoint_id>/test/": ("post", {}, "form"),
        "settings/webhooks/<uuid:endpoint_id>/delete/": ("post", {}, "form"),
        "settings/webhooks/callback-secret/": ("post", {}, "form"),
        "settings/webhooks/deliveries/<uuid:delivery_id>/redeliver/": ("post", {}, "form"),
        "submissions/<uuid:submission_id>/review/": (
            "post",
            {
                "student": str(ids["student_id"]),
                "standard": "4",
                "q-TOTAL_FORMS": "1",
                "q-INITIAL_FORMS": "1",
                "q-MIN_NUM_FORMS": "0",
                "q-MAX_NUM_FORMS": "1000",
                "q-0-id": str(ids["question_pk"]),
                "q-0-question_text": "Changed?",
                "q-0-answer_text": "Changed.",
                "q-0-max_score": "3",
            },
            "form",
        ),
        "submissions/<uuid:submission_id>/questions/<int:number>/override/": (
            "post",
            {"score": "2", "feedback": "Changed by someone.", "reason": "Because."},
            "form",
        ),
        "jobs/<uuid:job_id>/cancel/": ("post", {}, "form"),
        "jobs/<uuid:job_id>/retry/": ("post", {}, "form"),
    }


def by_token(route: str) -> bool:
    """API routes are called with an API token, except those that manage tokens (a signed-in person only)."""
    return route.startswith("api/") and not route.startswith("api/v1/tokens")


def client_for(organization, user, *, token: bool = False) -> APIClient:
    """A browser session, or the user's API token made in their own organization (the addressed one for its members,
    their own for a member of another organization; a user of no organization has a session only)."""
    client = APIClient(HTTP_HOST=organization.host)
    home = user.memberships.order_by("organization__slug").first() if user is not None else None
    if user is not None and token and (home is not None or user.is_superuser):
        mine = user.memberships.filter(organization=organization).first()
        _, key = create_token(user, "isolation matrix", (mine or home).organization if home else organization)
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    elif user is not None:
        client.force_login(user)
    return client


def send(client, method: str, url: str, body: dict, fmt: str):
    if method == "get":
        return client.get(url)
    if fmt == "form":
        from urllib.parse import urlencode

        return client.generic(
            method.upper(), url, urlencode(body, doseq=True), content_type="application/x-www-form-urlencoded"
        )
    for value in body.values():  # an uploaded file is read once per request
        for item in value if isinstance(value, list) else [value]:
            if hasattr(item, "seek"):
                item.seek(0)
    return getattr(client, method)(url, body, format=fmt)


def state(organization) -> dict:
    """Everything of an organization that a request could change, as plain values."""
    with schema_context(organization.schema_name):
        tenant = {
            "students": sorted(Student.objects.values_list("id", "full_name", "reference")),
            "submissions": sorted(
                (str(s[0]), *s[1:])
                for s in Submission.objects.values_list("id", "student_id", "standard", "status", "total_score")
            ),
            "questions": sorted(
                QuestionResult.objects.values_list(
                    "id", "question_text", "answer_text", "max_score", "ai_score", "final_score", "final_feedback"
                )
            ),
            "score_changes": ScoreChange.objects.count(),
            "mark_schemes": sorted(
                (s[0], str(s[1]), *s[2:])
                for s in MarkScheme.objects.values_list("id", "key", "version", "state", "title")
            ),
            "scheme_questions": sorted(SchemeQuestion.objects.values_list("id", "text", "max_marks")),
            "subjects": sorted(Subject.objects.values_list("id", "name", "reference_file")),
        }
    org = Organization.objects.get(pk=organization.pk)
    return tenant | {
        "organization": (org.name, org.slug, org.is_active, org.pass_mark, org.notify_on_grading_complete),
        "members": sorted(Membership.objects.filter(organization=org).values_list("user_id", "role")),
        "invitations": sorted(Invitation.objects.filter(organization=org).values_list("id", "email", "role")),
        "jobs": sorted(
            (str(j[0]), j[1], j[2])
            for j in BackgroundJob.objects.filter(organization=org).values_list("id", "status", "retry_count")
        ),
        "sessions": GradingSession.objects.filter(organization=org).count(),
        "endpoints": sorted(
            (str(e[0]), *e[1:])
            for e in WebhookEndpoint.objects.filter(organization=org).values_list(
                "id", "url", "description", "is_active", "secret"
            )
        ),
        "callback_secret": list(CallbackSecret.objects.filter(organization=org).values_list("secret", flat=True)),
        "deliveries": sorted(
            (str(d[0]), d[1], d[2])
            for d in WebhookDelivery.objects.filter(organization=org).values_list("id", "status", "attempts")
        ),
        "tokens": sorted(ApiToken.objects.filter(organization=org).values_list("id", "name", "revoked_at")),
    }


def _is_open(route: str) -> bool:
    return route.startswith(OPEN)


def test_every_route_answers_each_persona_only_as_allowed(personas, world, tenant_cache):
    ids = world["alpha"]
    writes = bodies(ids)
    problems = []
    for route in routes():
        url = fill(route, ids)
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
        if _is_open(route):
            continue
        _, body, fmt = writes.get(route, ("post", {}, "json" if api else "form"))
        for who, user in (
            ("anonymous", None),
            ("user of no organization", world["nobody"]),
            ("member of Beta", personas.charlie),
        ):
            client = client_for(personas.alpha, user, token=by_token(route) and user is not None)
            for method in WRITES:
                status = send(client, method, url, body, fmt).status_code
                if who == "anonymous":
                    expected = (401,) if api else (302,)
                elif by_token(route) and who == "member of Beta":  # their token works in Beta only
                    expected = (401,)
                elif route.startswith(OWN):  # the caller's own organizations: refused, or no such method
                    expected = (403, 404, 405)
                else:
                    expected = (404,) if api else (403,)
                if status not in expected:
                    problems.append(f"{who} {method.upper()} {url} → {status} (expected {expected})")
    assert not problems, "\n".join(problems)


def test_no_write_of_an_outsider_changes_anything_of_the_addressed_organization(personas, world, tenant_cache):
    """Each write route, each method, with a body that works for the owner: from anonymous, a user of no
    organization and Beta's owner (on Alpha's host, and on Beta's own host with Alpha's ids) — Alpha is unchanged.
    Requests alternate between the two hosts, so a tenant cached for the wrong host would show."""
    ids = world["alpha"]
    writes = bodies(ids)
    before = state(personas.alpha)
    beta_before = state(personas.beta)
    refused = []
    for route, (_, body, fmt) in writes.items():
        url = url_of(route, ids)
        personas_here = [(personas.alpha, None), (personas.alpha, world["nobody"]), (personas.alpha, personas.charlie)]
        if any(f":{name}>" in route for name in ALPHA_ONLY_IDS):
            personas_here.append((personas.beta, personas.charlie))  # at home, naming Alpha's objects
        for organization, user in personas_here:
            client = client_for(organization, user, token=by_token(route) and user is not None)
            for method in WRITES:
                status = send(client, method, url, body, fmt).status_code
                if status < 400 and not (status == 302 and user is None):
                    refused.append(f"{user or 'anonymous'} {method.upper()} {organization.host}{url} → {status}")
    assert not refused, "\n".join(refused)
    assert state(personas.alpha) == before
    assert mail.outbox == [], "no invitation or notice went out"
    # Beta's owner at home, naming Alpha's objects, touched nothing of Beta's either (the student and member ids
    # exist in Beta too) — apart from the tokens these clients made to sign in.
    after = state(personas.beta)
    assert {k: v for k, v in after.items() if k != "tokens"} == {k: v for k, v in beta_before.items() if k != "tokens"}


def test_every_write_body_of_the_matrix_is_valid_for_the_owner(personas, world, tenant_cache):
    """The bodies above are what a member sends: the owner's identical request is accepted (each rolled back)."""
    ids = world["alpha"]
    problems = []
    for route, (method, body, fmt) in bodies(ids).items():
        url = url_of(route, ids)
        client = client_for(personas.alpha, personas.alice, token=by_token(route))
        savepoint = transaction.savepoint()
        try:
            response = send(client, method, url, body, fmt)
        finally:
            transaction.savepoint_rollback(savepoint)
            forget_tenants()
        if response.status_code >= 400:
            problems.append(f"owner {method.upper()} {url} → {response.status_code}: {response.content[:300]!r}")
    assert not problems, "\n".join(problems)


def test_the_same_integer_ids_in_two_organizations_reach_only_the_addressed_organizations_object(
    personas, world, tenant_cache
):
    both = world["both"]
    alpha_owner = client_for(personas.alpha, personas.alice, token=True)
    beta_owner = client_for(personas.beta, personas.charlie, token=True)
    for _ in range(2):  # alternate hosts, cached and not
        assert alpha_owner.get(f"/api/v1/students/{SAME_ID}").json()["data"]["full_name"] == "Learner of alpha"
        assert beta_owner.get(f"/api/v1/students/{SAME_ID}").json()["data"]["full_name"] == "Learner of beta"
        assert beta_owner.get(f"/api/v1/submissions/{world['alpha']['submission_id']}").status_code == 404

    # Beta's owner changes the role of the person in both organizations: in Beta only.
    response = beta_owner.patch(
        f"/api/v1/organizations/{personas.beta.pk}/members/{both.pk}", {"role": "admin"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert Membership.objects.get(user=both, organization=personas.beta).role == Role.ADMIN
    assert Membership.objects.get(user=both, organization=personas.alpha).role == Role.MEMBER
    # The same through the page, and removing them: Beta's membership goes, Alpha's stays.
    beta_pages = client_for(personas.beta, personas.charlie)
    assert beta_pages.post(f"/members/{both.pk}/role/", {"role": "member"}).status_code == 302
    assert beta_pages.post(f"/members/{both.pk}/remove/").status_code == 302
    assert not Membership.objects.filter(user=both, organization=personas.beta).exists()
    assert Membership.objects.get(user=both, organization=personas.alpha).role == Role.MEMBER
    # And Beta's owner cannot reach Alpha's membership of the same person from Beta's host.
    assert beta_owner.delete(f"/api/v1/organizations/{personas.alpha.pk}/members/{both.pk}").status_code in (403, 404)
    assert Membership.objects.filter(user=both, organization=personas.alpha).exists()


def test_another_organizations_object_ids_never_resolve(personas, world, tenant_cache):
    foreign = world["beta"]
    problems = []
    for route in routes():
        if not any(f":{name}>" in route for name in ("submission_id", "session_id", "job_id", "endpoint_id")):
            continue
        url = fill(route, foreign)
        for who, user in (("member", personas.bob), ("admin", personas.alice)):
            for method in ("get", *WRITES):
                status = send(client_for(personas.alpha, user), method, url, {}, "json").status_code
                if status not in (403, 404, 405) or (who == "admin" and status == 403):
                    problems.append(f"{who} {method.upper()} {url} (Beta's ids on Alpha's host) → {status}")
    assert not problems, "\n".join(problems)


def test_cache_keys_task_headers_and_file_paths_carry_the_organization(personas, settings):
    import json

    import redis
    from django.core.cache import cache

    from jobs.starting import publish

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
