"""Accounts and tokens (issue 19, item 4): a confirmed address before tokens and invitations, a new password ends
tokens and sessions, a token works only in its organization, tokens cannot manage tokens, and DRF's clear keys are
gone (moved, hashed)."""

from __future__ import annotations

import hashlib
import io
import re
import uuid
from urllib.parse import urlsplit

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection
from rest_framework.test import APIClient

from integrations.models import ApiToken
from integrations.tokens import create_token
from organizations.models import Invitation, Membership, Role, User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _client(organization, key: str) -> APIClient:
    return APIClient(HTTP_HOST=organization.host, HTTP_AUTHORIZATION=f"Token {key}")


@pytest.fixture
def unverified(personas):
    """Someone who signed up under an address they have not confirmed, and is an admin of Alpha."""
    user = User.objects.create_user(f"claimed-{uuid.uuid4().hex[:6]}@alpha.test", PASSWORD)
    Membership.objects.create(user=user, organization=personas.alpha, role=Role.ADMIN)
    EmailAddress.objects.create(user=user, email=user.email, verified=False, primary=True)
    return user


def test_an_unconfirmed_address_cannot_create_tokens_on_the_page_or_the_api(personas, web, unverified):
    page = web(personas.alpha, unverified).post("/account/tokens/", {"name": "mine"})
    assert page.status_code == 403
    assert "Confirm your email address" in page.content.decode()
    api = APIClient(HTTP_HOST=personas.alpha.host)
    api.force_login(unverified)
    refused = api.post("/api/v1/tokens", {"name": "mine"}, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "PERMISSION_DENIED"
    assert "Confirm your email address" in refused.json()["error"]
    assert not ApiToken.objects.filter(user=unverified).exists()

    EmailAddress.objects.filter(user=unverified).update(verified=True)
    assert api.post("/api/v1/tokens", {"name": "mine"}, format="json").status_code == 201


def test_an_unconfirmed_address_cannot_invite(personas, web, unverified):
    page = web(personas.alpha, unverified).post("/members/invite/", {"email": "new@alpha.test", "role": "member"})
    assert page.status_code == 302
    api = APIClient(HTTP_HOST=personas.alpha.host)
    api.force_login(unverified)
    refused = api.post(f"/api/v1/organizations/{personas.alpha.pk}/members", {"email": "new@alpha.test"}, format="json")
    assert refused.status_code == 403 and "Confirm your email address" in refused.json()["error"]
    assert not Invitation.objects.filter(email="new@alpha.test").exists()
    assert not mail.outbox


def test_an_unconfirmed_address_cannot_accept_an_invitation(personas, web):
    """Someone registered the victim's address first; the organization then invites the victim."""
    squatter = User.objects.create_user("victim@elsewhere.test", PASSWORD)
    EmailAddress.objects.create(user=squatter, email=squatter.email, verified=False, primary=True)
    invitation = Invitation.objects.create(organization=personas.alpha, email=squatter.email, invited_by=personas.alice)
    page = web(personas.alpha, squatter).post(f"/invitations/{invitation.token}/")
    assert page.status_code == 403
    assert "Confirm your email address" in page.content.decode()
    assert not Membership.objects.filter(user=squatter).exists()


def test_changing_the_password_revokes_tokens_and_other_sessions(personas, web):
    user = User.objects.create_user(f"changer-{uuid.uuid4().hex[:6]}@alpha.test", PASSWORD)
    Membership.objects.create(user=user, organization=personas.alpha, role=Role.MEMBER)
    _, key = create_token(user, "sync", personas.alpha)
    here, elsewhere = web(personas.alpha, user), web(personas.alpha, user)
    assert _client(personas.alpha, key).get("/api/v1/jobs").status_code == 200
    assert elsewhere.get("/jobs/").status_code == 200

    new = "a-brand-new-passphrase-42"
    changed = here.post("/accounts/password/change/", {"oldpassword": PASSWORD, "password1": new, "password2": new})
    assert changed.status_code == 302, changed.content.decode()[:500]

    assert _client(personas.alpha, key).get("/api/v1/jobs").status_code == 401
    assert ApiToken.objects.get(user=user).revoked_at is not None
    assert elsewhere.get("/jobs/").status_code == 302, "the other browser's session ended"
    assert here.get("/jobs/").status_code == 200, "the one that changed it stays signed in"


def test_resetting_the_password_revokes_tokens_and_every_session(personas, web):
    user = User.objects.create_user(f"resetter-{uuid.uuid4().hex[:6]}@alpha.test", PASSWORD)
    Membership.objects.create(user=user, organization=personas.alpha, role=Role.MEMBER)
    _, key = create_token(user, "sync", personas.alpha)
    signed_in = web(personas.alpha, user)
    assert signed_in.get("/jobs/").status_code == 200

    anonymous = web(personas.alpha)
    assert anonymous.post("/accounts/password/reset/", {"email": user.email}).status_code == 302
    link = re.search(r"https?://\S+/accounts/password/reset/key/\S+", mail.outbox[-1].body).group(0)
    form_url = anonymous.get(urlsplit(link).path).url
    new = "a-brand-new-passphrase-43"
    done = anonymous.post(form_url, {"password1": new, "password2": new})
    assert done.status_code == 302, done.content.decode()[:500]

    assert _client(personas.alpha, key).get("/api/v1/jobs").status_code == 401
    assert signed_in.get("/jobs/").status_code == 302


def test_a_token_works_only_in_the_organization_it_was_made_in(personas):
    both = User.objects.create_user(f"both-{uuid.uuid4().hex[:6]}@alpha.test", PASSWORD)
    Membership.objects.create(user=both, organization=personas.alpha, role=Role.MEMBER)
    Membership.objects.create(user=both, organization=personas.beta, role=Role.MEMBER)
    _, key = create_token(both, "alpha only", personas.alpha)
    assert _client(personas.alpha, key).get("/api/v1/jobs").status_code == 200
    elsewhere = _client(personas.beta, key).get("/api/v1/jobs")
    assert elsewhere.status_code == 401
    assert "another organization" in elsewhere.json()["error"]
    assert _client(personas.beta, key).get(f"/api/v1/jobs/{uuid.uuid4()}").status_code == 401  # the fast poll too


def test_a_super_admins_token_works_everywhere_and_is_marked(personas, web):
    page = web(personas.alpha, personas.root)
    created = page.post("/account/tokens/", {"name": "ops"})
    assert created.status_code == 201
    token = ApiToken.objects.get(user=personas.root, name="ops")
    assert token.organization_id is None
    assert 'data-role="all-organizations"' in page.get("/account/tokens/").content.decode()
    key = created.content.decode().split('data-role="key">', 1)[1].split("<", 1)[0]
    assert _client(personas.beta, key).get("/api/v1/jobs").status_code == 200
    # It stops working once its user is no longer a super admin.
    User.objects.filter(pk=personas.root.pk).update(is_superuser=False)
    try:
        assert _client(personas.beta, key).get("/api/v1/jobs").status_code == 401
    finally:
        User.objects.filter(pk=personas.root.pk).update(is_superuser=True)


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_a_token_cannot_manage_tokens(personas, method):
    token, key = create_token(personas.dana, "leaked", personas.alpha)
    path = "/api/v1/tokens" if method != "delete" else f"/api/v1/tokens/{token.pk}"
    response = getattr(_client(personas.alpha, key), method)(path, {"name": "more"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "PERMISSION_DENIED"
    assert ApiToken.objects.filter(user=personas.dana, revoked_at__isnull=True).count() == 1


def test_drf_create_token_prints_a_hashed_key_that_works_in_the_users_organization(personas):
    out = io.StringIO()
    call_command("drf_create_token", personas.bob.email, stdout=out)
    words = out.getvalue().split()
    assert words[:2] == ["Generated", "token"] and words[3:6] == ["for", "user", personas.bob.email]
    key = words[2]  # the README reads it with awk '{print $3}'
    token = ApiToken.objects.get(user=personas.bob, key_hash=hashlib.sha256(key.encode()).hexdigest())
    assert token.organization_id == personas.alpha.pk
    assert _client(personas.alpha, key).get("/api/v1/jobs").status_code == 200

    both = User.objects.create_user(f"two-{uuid.uuid4().hex[:6]}@alpha.test", PASSWORD)
    Membership.objects.create(user=both, organization=personas.alpha, role=Role.MEMBER)
    Membership.objects.create(user=both, organization=personas.beta, role=Role.MEMBER)
    with pytest.raises(CommandError, match="--org"):
        call_command("drf_create_token", both.email, stdout=io.StringIO())
    call_command("drf_create_token", both.email, "--org", "beta", stdout=out)
    assert ApiToken.objects.get(user=both).organization_id == personas.beta.pk


def test_drf_authtoken_keys_move_into_the_hashed_table_and_theirs_is_dropped(personas):
    """What migration integrations 0003 does to an existing deployment's DRF keys."""
    from importlib import import_module

    from django.apps import apps

    migration = import_module("integrations.migrations.0003_api_token_organization")
    both = User.objects.create_user(f"legacy-{uuid.uuid4().hex[:6]}@alpha.test", PASSWORD)
    Membership.objects.create(user=both, organization=personas.alpha, role=Role.MEMBER)
    Membership.objects.create(user=both, organization=personas.beta, role=Role.MEMBER)
    keys = {user: uuid.uuid4().hex + uuid.uuid4().hex[:8] for user in (personas.bob, personas.root, both)}
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created timestamptz NOT NULL, user_id bigint)"
        )
        for user, key in keys.items():
            cursor.execute("INSERT INTO authtoken_token VALUES (%s, now(), %s)", [key, user.pk])
    with connection.schema_editor() as editor:
        migration.scope_and_move(apps, editor)

    assert "authtoken_token" not in connection.introspection.table_names()
    assert not ApiToken.objects.filter(key_hash__in=list(keys.values())).exists(), "no key is stored in clear"
    assert _client(personas.alpha, keys[personas.bob]).get("/api/v1/jobs").status_code == 200
    assert _client(personas.beta, keys[personas.bob]).get("/api/v1/jobs").status_code == 401
    assert _client(personas.beta, keys[personas.root]).get("/api/v1/jobs").status_code == 200
    assert _client(personas.alpha, keys[both]).get("/api/v1/jobs").status_code == 401, "which one? revoked"
