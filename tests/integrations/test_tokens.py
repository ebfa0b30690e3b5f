"""Self-service API tokens: created on the account page and shown once, stored hashed, usable as
`Authorization: Token`, with the user's role and organizations only, revocable (also by super admins)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from integrations.models import ApiToken
from integrations.tokens import create_token, hash_key

pytestmark = pytest.mark.django_db


def _client(organization, key: str) -> APIClient:
    client = APIClient(HTTP_HOST=organization.host)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_a_token_created_on_the_account_page_is_shown_once_and_stored_hashed(personas, web):
    page = web(personas.alpha, personas.bob)
    response = page.post("/account/tokens/", {"name": "LMS sync"})
    assert response.status_code == 201
    token = ApiToken.objects.get(user=personas.bob, name="LMS sync")
    html = response.content.decode()
    key = html.split('data-role="key">', 1)[1].split("<", 1)[0]
    assert key.startswith(f"qm_{token.prefix}_")
    assert token.key_hash == hash_key(key) and key not in token.key_hash
    assert not ApiToken.objects.filter(key_hash=key).exists()

    listing = page.get("/account/tokens/").content.decode()
    assert "LMS sync" in listing and token.prefix in listing
    assert key not in listing, "the key is shown only once"

    assert _client(personas.alpha, key).get("/api/v1/standards").status_code == 200


def test_a_person_may_hold_several_tokens_and_revoking_one_stops_only_that_one(personas, web):
    _, first = create_token(personas.bob, "first", personas.alpha)
    second_token, second = create_token(personas.bob, "second", personas.alpha)
    page = web(personas.alpha, personas.bob)
    assert page.post(f"/account/tokens/{second_token.pk}/revoke/").status_code == 302
    assert _client(personas.alpha, first).get("/api/v1/jobs").status_code == 200
    refused = _client(personas.alpha, second).get("/api/v1/jobs")
    assert refused.status_code == 401
    assert refused.json()["code"] == "NOT_AUTHENTICATED"
    assert _client(personas.alpha, first[:-2] + "xx").get("/api/v1/jobs").status_code == 401
    # Someone else's token cannot be revoked through my page.
    _, _ = create_token(personas.alice, "alice's", personas.alpha)
    alices = ApiToken.objects.get(user=personas.alice, name="alice's")
    assert page.post(f"/account/tokens/{alices.pk}/revoke/").status_code == 404
    assert alices.revoked_at is None


def test_the_api_creates_lists_and_revokes_tokens_for_a_signed_in_person(personas, web):
    from rest_framework.test import APIClient

    client = APIClient(HTTP_HOST=personas.alpha.host)
    client.force_login(personas.dana)
    created = client.post("/api/v1/tokens", {"name": "CI"}, format="json")
    assert created.status_code == 201
    key, token_id = created.json()["data"]["key"], created.json()["data"]["id"]
    listed = client.get("/api/v1/tokens").json()["data"]
    assert [(t["name"], t["organization"]) for t in listed] == [("CI", "alpha")] and "key" not in listed[0]
    assert client.delete(f"/api/v1/tokens/{token_id}").status_code == 200
    assert _client(personas.alpha, key).get("/api/v1/jobs").status_code == 401


def test_last_use_is_recorded_at_most_once_a_minute(personas):
    token, key = create_token(personas.bob, "poller", personas.alpha)
    client = _client(personas.alpha, key)
    client.get("/api/v1/jobs")
    token.refresh_from_db()
    first_use = token.last_used_at
    assert first_use is not None
    client.get("/api/v1/jobs")
    token.refresh_from_db()
    assert token.last_used_at == first_use
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now() - timedelta(minutes=2))
    client.get("/api/v1/jobs")
    token.refresh_from_db()
    assert token.last_used_at > first_use - timedelta(seconds=1)
    assert timezone.now() - token.last_used_at < timedelta(seconds=30)


def test_a_token_acts_with_its_users_role_and_only_in_their_organizations(personas, make_job_for):
    _, bobs = create_token(personas.bob, "bob", personas.alpha)
    _, danas = create_token(personas.dana, "dana", personas.alpha)
    _, charlies = create_token(personas.charlie, "charlie", personas.beta)
    alices_job = make_job_for(personas.alice)

    # An assessor sees their own jobs only and may not manage webhooks.
    assert _client(personas.alpha, bobs).get(f"/api/v1/jobs/{alices_job.pk}").status_code == 404
    denied = _client(personas.alpha, bobs).get("/api/v1/webhooks")
    assert denied.status_code == 403 and denied.json()["code"] == "PERMISSION_DENIED"
    # An admin sees the organization's.
    assert _client(personas.alpha, danas).get(f"/api/v1/jobs/{alices_job.pk}").status_code == 200
    assert _client(personas.alpha, danas).get("/api/v1/webhooks").status_code == 200
    # An outsider's token, made in their own organization, does not work in another one: never its data.
    outsider = _client(personas.alpha, charlies)
    assert outsider.get(f"/api/v1/jobs/{alices_job.pk}").status_code == 401
    assert outsider.get("/api/v1/jobs").json()["code"] == "NOT_AUTHENTICATED"
    assert _client(personas.beta, charlies).get("/api/v1/jobs").status_code == 200


def test_a_super_admin_revokes_any_token_in_the_admin(personas, web):
    token, key = create_token(personas.bob, "to revoke", personas.alpha)
    admin = web(None, personas.root)
    response = admin.post(
        "/admin/integrations/apitoken/", {"action": "revoke", "_selected_action": [token.pk]}, follow=True
    )
    assert response.status_code == 200
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert _client(personas.alpha, key).get("/api/v1/jobs").status_code == 401


@pytest.fixture
def make_job_for(personas):
    from jobs.models import BackgroundJob

    def _make(user):
        return BackgroundJob.objects.create(organization=personas.alpha, user=user, job_type="extraction")

    return _make
