"""Requests reach the right organization's schema, and only its members get in."""

import pytest
from django.core import mail
from django.db import connection

pytestmark = pytest.mark.django_db


def test_a_member_opens_their_organizations_dashboard(web, personas):
    response = web(personas.alpha, personas.bob).get("/")
    assert response.status_code == 200
    assert b"Alpha Care Training" in response.content
    assert response.wsgi_request.tenant.schema_name == "alpha"


def test_an_outsider_gets_a_clear_403_page_not_the_data(web, personas):
    response = web(personas.alpha, personas.charlie).get("/")
    assert response.status_code == 403
    assert b"not a member of this organization" in response.content
    assert b"Dashboard" not in response.content, "not even the organization's navigation"
    assert b"Jobs in progress" not in response.content


def test_an_anonymous_visitor_is_sent_to_sign_in(web, personas):
    response = web(personas.alpha).get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_super_admin_may_open_any_organization(web, personas):
    assert web(personas.beta, personas.root).get("/").status_code == 200


def test_the_bare_domain_serves_the_landing_page_in_the_public_schema(web, personas):
    response = web().get("/")
    assert response.status_code == 200
    assert b"Create your organization" in response.content
    assert connection.schema_name == "public"


def test_the_bare_domain_lists_the_signed_in_users_organizations(web, personas):
    response = web(None, personas.alice).get("/")
    assert b"Alpha Care Training" in response.content
    assert b"Beta Care Academy" not in response.content


def test_an_unknown_subdomain_is_a_clear_404(client, personas):
    response = client.get("/", HTTP_HOST="nosuch.localhost")
    assert response.status_code == 404
    assert b"No organization at this address" in response.content


def test_an_inactive_organization_locks_its_members_out(web, personas):
    from organizations.models import Organization

    Organization.objects.filter(pk=personas.alpha.pk).update(is_active=False)
    response = web(personas.alpha, personas.bob).get("/")
    assert response.status_code == 403
    assert b"deactivated" in response.content


def test_the_handoff_signs_a_member_in_on_the_organizations_host(web, personas):
    response = web(None, personas.bob).get("/go/alpha/")
    assert response.status_code == 302
    url = response["Location"]
    assert url.startswith("http://alpha.localhost")
    path = url.split("alpha.localhost", 1)[1].lstrip(":0123456789")
    fresh = web(personas.alpha)
    landed = fresh.get(path)
    assert landed.status_code == 302 and landed["Location"] == "/"
    assert fresh.get("/").status_code == 200
    # The link works once only.
    assert web(personas.alpha).get(path)["Location"].startswith("/accounts/login/")


def test_the_handoff_refuses_an_organization_the_user_is_not_in(web, personas):
    response = web(None, personas.charlie).get("/go/alpha/")
    assert response.status_code == 302 and response["Location"] == "/"


def test_password_reset_sends_an_email_with_a_link(web, personas):
    response = web(personas.alpha).post("/accounts/password/reset/", {"email": "bob@alpha.test"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["bob@alpha.test"]
    assert "alpha.localhost" in mail.outbox[0].body
    assert "/accounts/password/reset/key/" in mail.outbox[0].body


@pytest.mark.parametrize("host_cache_seconds", [0, 60])
def test_alternating_organizations_on_one_connection_each_read_their_own_schema(
    api, personas, settings, host_cache_seconds
):
    # The routing middleware keeps a connection's search_path between requests when it is already right
    # (quizmarker/middleware.py). Requests that alternate between organizations, the public host and a cached
    # or uncached host lookup must still each read their own schema.
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django_tenants.utils import schema_context

    from grading.models import Student
    from quizmarker.middleware import forget_tenants

    settings.TENANT_CACHE_SECONDS = host_cache_seconds
    forget_tenants()
    for organization, name in [(personas.alpha, "Only In Alpha"), (personas.beta, "Only In Beta")]:
        with schema_context(organization.schema_name):
            Student.objects.create(full_name=name)
    alpha, beta = api(personas.alpha, personas.alice), api(personas.beta, personas.charlie)
    public = Client()

    def names(client) -> set[str]:
        response = client.get("/api/v1/students?per_page=100")
        assert response.status_code == 200, response.json()
        return {s["full_name"] for s in response.json()["data"]["students"]}

    try:
        for client, mine, theirs in [
            (alpha, "Only In Alpha", "Only In Beta"),
            (beta, "Only In Beta", "Only In Alpha"),
        ] * 3:
            seen = names(client)
            assert mine in seen and theirs not in seen
            assert public.get("/").status_code == 200 and connection.schema_name == "public"
        # The same host twice in a row: the second request does not set the path again (with the host cached).
        names(alpha)
        with CaptureQueriesContext(connection) as captured:
            assert "Only In Alpha" in names(alpha)
        sets = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("SET search_path")]
        assert len(sets) == (0 if host_cache_seconds else 2), sets  # uncached: `public` to look up the host, then alpha
    finally:
        forget_tenants()
