"""Who sees which jobs: members their own, owners/admins their organization's, super admins any addressed
organization's, and outsiders nothing — not even that a job exists."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("only_this_tests_jobs")]


@pytest.fixture
def alpha_jobs(personas, make_job):
    return {
        "alice": make_job(user=personas.alice),
        "bob": make_job(user=personas.bob, job_type="grading"),
        "dana": make_job(user=personas.dana, status="completed", result={"ok": True}),
    }


@pytest.fixture
def beta_job(personas, make_job):
    return make_job(organization=personas.beta, user=personas.charlie)


def listed_ids(client, **query) -> set[str]:
    response = client.get("/api/v1/jobs", query)
    assert response.status_code == 200, response.json()
    return {job["id"] for job in response.json()["data"]["jobs"]}


def ids(*jobs) -> set[str]:
    return {str(job.pk) for job in jobs}


def assert_not_found(response):
    assert response.status_code == 404, response.content
    body = response.json()
    assert body["success"] is False and body["code"] == "NOT_FOUND"
    assert "data" not in body


def test_a_member_sees_only_their_own_jobs(api, personas, alpha_jobs, beta_job):
    client = api(personas.alpha, personas.bob)

    assert listed_ids(client) == ids(alpha_jobs["bob"])
    assert client.get(f"/api/v1/jobs/{alpha_jobs['bob'].pk}").status_code == 200
    assert_not_found(client.get(f"/api/v1/jobs/{alpha_jobs['alice'].pk}"))
    assert_not_found(client.get(f"/api/v1/jobs/{alpha_jobs['dana'].pk}/result"))


@pytest.mark.parametrize("who", ["alice", "dana"])
def test_an_owner_or_admin_sees_all_of_the_organizations_jobs(api, personas, alpha_jobs, beta_job, who):
    client = api(personas.alpha, getattr(personas, who))

    assert listed_ids(client) == ids(*alpha_jobs.values())
    assert listed_ids(client, job_type="grading") == ids(alpha_jobs["bob"])
    for job in alpha_jobs.values():
        assert client.get(f"/api/v1/jobs/{job.pk}").status_code == 200
    assert client.get(f"/api/v1/jobs/{alpha_jobs['dana'].pk}/result").json()["data"] == {"ok": True}


def test_an_admin_may_cancel_a_members_job(api, personas, alpha_jobs):
    response = api(personas.alpha, personas.dana).delete(f"/api/v1/jobs/{alpha_jobs['bob'].pk}")

    assert response.status_code == 200
    assert response.json()["data"]["status"] == "cancelled"


def test_a_super_admin_sees_all_of_the_addressed_organizations_jobs_and_no_other(api, personas, alpha_jobs, beta_job):
    on_alpha = api(personas.alpha, personas.root)
    on_beta = api(personas.beta, personas.root)

    assert listed_ids(on_alpha) == ids(*alpha_jobs.values())
    assert listed_ids(on_beta) == ids(beta_job)
    assert on_alpha.get(f"/api/v1/jobs/{alpha_jobs['bob'].pk}").status_code == 200
    assert_not_found(on_alpha.get(f"/api/v1/jobs/{beta_job.pk}"))
    assert_not_found(on_beta.get(f"/api/v1/jobs/{alpha_jobs['bob'].pk}"))
    assert on_beta.get("/api/v1/jobs/stats").json()["data"]["total"] == 1


def test_an_outsider_gets_404_for_another_organizations_job_on_their_own_host(api, personas, alpha_jobs, beta_job):
    client = api(personas.beta, personas.charlie)
    job = alpha_jobs["alice"]

    assert listed_ids(client) == ids(beta_job)
    assert_not_found(client.get(f"/api/v1/jobs/{job.pk}"))
    assert_not_found(client.get(f"/api/v1/jobs/{job.pk}/result"))
    assert_not_found(client.delete(f"/api/v1/jobs/{job.pk}"))
    job.refresh_from_db()
    assert job.status == "queued"


def test_an_outsider_gets_404_on_the_other_organizations_host(api, personas, alpha_jobs):
    client = api(personas.alpha, personas.charlie)
    job = alpha_jobs["alice"]

    assert_not_found(client.get("/api/v1/jobs"))
    assert_not_found(client.get("/api/v1/jobs/stats"))
    assert_not_found(client.get(f"/api/v1/jobs/{job.pk}"))
    assert_not_found(client.get(f"/api/v1/jobs/{job.pk}/result"))
    assert_not_found(client.delete(f"/api/v1/jobs/{job.pk}"))
    job.refresh_from_db()
    assert job.status == "queued"


@pytest.mark.parametrize(
    "method, suffix", [("get", ""), ("get", "/stats"), ("get", "/{id}"), ("get", "/{id}/result"), ("delete", "/{id}")]
)
def test_an_anonymous_client_is_a_401_not_authenticated(api, personas, alpha_jobs, method, suffix):
    path = "/api/v1/jobs" + suffix.format(id=alpha_jobs["alice"].pk)

    response = getattr(api(personas.alpha), method)(path)

    assert response.status_code == 401
    body = response.json()
    assert body["success"] is False and body["code"] == "NOT_AUTHENTICATED"
    assert body["error"]


def test_a_wrong_token_is_a_401_not_authenticated(personas):
    client = APIClient(HTTP_HOST=personas.alpha.host)
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    response = client.get("/api/v1/jobs")

    assert response.status_code == 401
    assert response.json()["code"] == "NOT_AUTHENTICATED"


@pytest.mark.parametrize("path", ["/api/v1/jobs", "/api/v1/jobs/stats", "/api/v1/jobs/{id}"])
def test_the_api_on_the_bare_host_is_a_404_envelope(api, personas, alpha_jobs, path):
    from tests.helpers import api_key

    client = APIClient(HTTP_HOST="localhost")
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key(personas.alice, personas.alpha)}")

    assert_not_found(client.get(path.format(id=alpha_jobs["alice"].pk)))
    assert_not_found(APIClient(HTTP_HOST="localhost").get(path.format(id=alpha_jobs["alice"].pk)))
