"""Super admins (issue 19, item 5): /admin/login/ goes through allauth's rate-limited sign-in, and staff and super
admins must enrol an authenticator app (TOTP, with recovery codes) and give a code at every sign-in.

The second factor is passed the way a person does: a real TOTP code computed from the enrolled secret."""

from __future__ import annotations

import uuid

import pytest
from allauth.mfa.models import Authenticator
from django.test import Client

from organizations.models import User
from tests.conftest import PASSWORD
from tests.helpers import enrol_totp, totp_code

pytestmark = pytest.mark.django_db


def _staff(superuser: bool = True) -> User:
    user = User.objects.create_user(f"staff-{uuid.uuid4().hex[:8]}@quizmarker.test", PASSWORD)
    User.objects.filter(pk=user.pk).update(is_staff=True, is_superuser=superuser)
    return User.objects.get(pk=user.pk)


def _browser() -> Client:
    # An address of its own, so allauth's per-address sign-in limits do not mix with other tests'.
    return Client(HTTP_HOST="localhost", REMOTE_ADDR=f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.9")


def test_the_admin_login_page_checks_no_password_and_sends_people_to_the_rate_limited_sign_in(personas):
    browser = _browser()
    response = browser.post("/admin/login/?next=/admin/", {"username": personas.root.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")
    assert "_auth_user_id" not in browser.session, "the admin's own form never signs anyone in"

    user = _staff()
    for _ in range(5):
        browser.post("/accounts/login/", {"login": user.email, "password": "wrong-password"})
    refused = browser.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert "_auth_user_id" not in browser.session, "the sixth attempt within minutes is refused"
    assert refused.status_code == 429 or b"Too many failed login attempts" in refused.content


def test_a_super_admin_without_a_second_factor_must_enrol_and_gets_recovery_codes():
    user = _staff()
    browser = _browser()
    signed_in = browser.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert signed_in.status_code == 302
    for path in ("/admin/", "/admin/organizations/organization/", "/"):
        sent = browser.get(path)
        assert sent.status_code == 302 and sent["Location"] == "/accounts/2fa/totp/activate/", path

    # allauth asks for the password again before a second factor is added, then comes back here.
    again = browser.get("/accounts/2fa/totp/activate/")
    assert again["Location"].startswith("/accounts/reauthenticate/")
    assert browser.post(again["Location"], {"password": PASSWORD}).status_code == 302
    page = browser.get("/accounts/2fa/totp/activate/")
    assert page.status_code == 200
    secret = browser.session["mfa.totp.secret"]  # shown on the page as text and as a QR code
    assert secret in page.content.decode()
    activated = browser.post("/accounts/2fa/totp/activate/", {"code": totp_code(secret)})
    assert activated.status_code == 302
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.RECOVERY_CODES).exists()
    codes_page = browser.get("/accounts/2fa/recovery-codes/")
    codes = list(codes_page.context["unused_codes"])
    assert len(codes) == 10 and all(code in codes_page.content.decode() for code in codes)
    assert browser.get("/admin/").status_code == 200

    # Signing in again asks for the second factor; a recovery code is accepted in place of the app's code.
    browser.post("/accounts/logout/")
    second = browser.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert second["Location"] == "/accounts/2fa/authenticate/"
    assert "_auth_user_id" not in browser.session
    assert browser.post("/accounts/2fa/authenticate/", {"code": codes[0]}).status_code == 302
    assert browser.get("/admin/").status_code == 200


def test_an_enrolled_super_admin_signs_in_with_a_code_from_the_app():
    user = _staff()
    secret = enrol_totp(user)
    browser = _browser()
    sent = browser.get("/admin/")
    assert sent.status_code == 302 and "/admin/login/" in sent["Location"]
    to_sign_in = browser.get(sent["Location"])
    assert to_sign_in["Location"].startswith("/accounts/login/")
    stage = browser.post(to_sign_in["Location"], {"login": user.email, "password": PASSWORD})
    assert stage["Location"] == "/accounts/2fa/authenticate/"

    wrong = browser.post("/accounts/2fa/authenticate/", {"code": "000000" if totp_code(secret) != "000000" else "1"})
    assert wrong.status_code == 200 and "_auth_user_id" not in browser.session
    done = browser.post("/accounts/2fa/authenticate/", {"code": totp_code(secret)})
    assert done.status_code == 302 and done["Location"] == "/admin/"
    assert browser.get("/admin/").status_code == 200


def test_staff_without_a_second_factor_get_403_from_the_api(personas):
    from rest_framework.test import APIClient

    user = _staff()
    client = APIClient(HTTP_HOST=personas.alpha.host)
    client.force_login(user)
    response = client.get("/api/v1/jobs")
    assert response.status_code == 403
    assert "two-factor" in response.json()["error"]


def test_people_who_are_not_staff_need_no_second_factor(web, personas):
    assert web(personas.alpha, personas.bob).get("/").status_code == 200
