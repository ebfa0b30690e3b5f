"""Invitations end to end: the email, its link on the organization's host, joining (signing up if new)."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from organizations.models import Invitation, Membership, Role, User
from organizations.services import invite_member

pytestmark = pytest.mark.django_db


def link_in(message) -> str:
    match = re.search(r"http://alpha\.localhost(?::\d+)?(/invitations/[^/\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


def test_a_new_person_joins_from_the_emailed_link(web, personas):
    web(personas.alpha, personas.dana).post("/members/invite/", {"email": "erin@new.test", "role": "member"})
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["erin@new.test"]
    assert "Alpha Care Training" in message.subject
    path = link_in(message)

    visitor = web(personas.alpha)
    page = visitor.get(path)
    assert page.status_code == 200
    assert b"Choose your name and a password" in page.content
    response = visitor.post(
        path, {"full_name": "Erin Newcomer", "password1": "plum-kettle-orbit-93", "password2": "plum-kettle-orbit-93"}
    )
    assert response.status_code == 302 and response["Location"] == "/"
    erin = User.objects.get(email="erin@new.test")
    assert erin.full_name == "Erin Newcomer" and erin.check_password("plum-kettle-orbit-93")
    assert Membership.objects.get(user=erin, organization=personas.alpha).role == Role.MEMBER
    assert Invitation.objects.get(email="erin@new.test").accepted_by == erin
    assert visitor.get("/members/").status_code == 200, "signed in and a member now"
    assert visitor.get(path).status_code == 404, "the link works once"


def test_a_weak_or_mismatched_password_is_refused(web, personas):
    invitation = invite_member(organization=personas.alpha, email="weak@new.test", by=personas.alice)
    response = web(personas.alpha).post(
        f"/invitations/{invitation.token}/", {"full_name": "W", "password1": "123", "password2": "124"}
    )
    assert response.status_code == 200
    assert b"do not match" in response.content
    assert not User.objects.filter(email="weak@new.test").exists()


def test_someone_with_an_account_signs_in_then_accepts(web, personas):
    invitation = invite_member(organization=personas.alpha, email="charlie@beta.test", role="admin", by=personas.alice)
    path = f"/invitations/{invitation.token}/"
    page = web(personas.alpha).get(path)
    assert b"Sign in to accept" in page.content
    assert b"/accounts/login/?next=" in page.content
    client = web(personas.alpha, personas.charlie)
    assert client.get(path).status_code == 200
    response = client.post(path)
    assert response.status_code == 302
    assert Membership.objects.get(user=personas.charlie, organization=personas.alpha).role == Role.ADMIN


def test_the_link_is_only_for_the_invited_address(web, personas):
    invitation = invite_member(organization=personas.alpha, email="charlie@beta.test", by=personas.alice)
    response = web(personas.alpha, personas.bob).post(f"/invitations/{invitation.token}/")
    assert response.status_code == 403
    assert not Membership.objects.filter(user=personas.charlie, organization=personas.alpha).exists()


def test_expired_unknown_or_other_hosts_links_do_not_work(web, personas):
    invitation = invite_member(organization=personas.alpha, email="late@new.test", by=personas.alice)
    assert web(personas.beta).get(f"/invitations/{invitation.token}/").status_code == 404
    assert web(personas.alpha).get("/invitations/not-a-token/").status_code == 404
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert web(personas.alpha).get(f"/invitations/{invitation.token}/").status_code == 404


def test_withdrawn_invitations_stop_working(web, personas):
    invitation = invite_member(organization=personas.alpha, email="gone@new.test", by=personas.alice)
    assert web(personas.alpha, personas.bob).post(f"/members/invitations/{invitation.pk}/revoke/").status_code == 403
    assert web(personas.alpha, personas.dana).post(f"/members/invitations/{invitation.pk}/revoke/").status_code == 302
    assert web(personas.alpha).get(f"/invitations/{invitation.token}/").status_code == 404


def test_signup_stays_closed_on_the_organizations_host(web, personas):
    response = web(personas.alpha).get("/accounts/signup/")
    assert response.status_code == 200 and b"Sign Up Closed" in response.content
