"""Signing up on the bare domain creates a user, their organization (schema and domain) and their ownership."""

import pytest
from django.db import connection

from organizations.models import Domain, Membership, Organization, Role, User

pytestmark = pytest.mark.django_db


def test_signup_creates_an_organization_owned_by_the_new_user(web):
    response = web().post(
        "/accounts/signup/",
        {
            "full_name": "Sam Newcomer",
            "email": "sam@newcare.test",
            "organization_name": "New Care Skills",
            "password1": "a-long-and-unusual-password",
            "password2": "a-long-and-unusual-password",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    user = User.objects.get(email="sam@newcare.test")
    organization = Organization.objects.get(name="New Care Skills")
    assert organization.slug == "newcareskills"
    assert organization.plan == "free"
    assert Domain.objects.get(tenant=organization).domain == "newcareskills.localhost"
    assert Membership.objects.get(user=user, organization=organization).role == Role.OWNER
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
            ["newcareskills", "grading_submission"],
        )
        assert cursor.fetchone(), "the organization's schema holds the student tables"
        cursor.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = 'public' AND "
            "table_name = 'grading_submission'"
        )
        assert cursor.fetchone() is None, "student data never lives in the public schema"


def test_signup_is_closed_on_an_organizations_host(web, personas):
    response = web(personas.alpha).get("/accounts/signup/")
    assert b"Sign Up Closed" in response.content or response.status_code in (403, 404)


def test_a_second_organization_with_the_same_name_gets_its_own_address(web):
    from organizations.services import slug_from_name

    assert slug_from_name("Alpha Care Training") == "alphacaretraining"
    Organization(name="x", slug="alphacaretraining", schema_name="alphacaretraining")  # not saved: no schema needed
    assert slug_from_name("Alpha") != "alpha"
