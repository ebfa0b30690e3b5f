"""Signing up on the bare domain creates a user, their organization (schema and domain) and their ownership."""

import pytest
from django.conf import settings
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
    assert Domain.objects.get(tenant=organization).domain == f"newcareskills.{settings.BASE_DOMAIN}"
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
    assert response.status_code == 200 and b"Sign Up Closed" in response.content
    assert b'name="password1"' not in response.content, "no sign-up form"
    web(personas.alpha).post(
        "/accounts/signup/",
        {
            "full_name": "Sam Sideways",
            "email": "sideways@newcare.test",
            "organization_name": "Sideways Care",
            "password1": "a-long-and-unusual-password",
            "password2": "a-long-and-unusual-password",
        },
    )
    assert not User.objects.filter(email="sideways@newcare.test").exists()
    assert not Organization.objects.filter(name="Sideways Care").exists()


def test_a_second_organization_with_the_same_name_gets_its_own_address(web):
    # An organization already holds the address "newcareskills" (saved without its schema: only its slug matters).
    Organization.objects.bulk_create(
        [Organization(name="New Care Skills", slug="newcareskills", schema_name="newcareskills")]
    )
    response = web().post(
        "/accounts/signup/",
        {
            "full_name": "Sam Second",
            "email": "sam2@newcare.test",
            "organization_name": "New Care Skills",
            "password1": "a-long-and-unusual-password",
            "password2": "a-long-and-unusual-password",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    second = Membership.objects.get(user__email="sam2@newcare.test").organization
    assert second.name == "New Care Skills"
    assert (second.slug, second.schema_name) == ("newcareskills2", "newcareskills2")
    assert Domain.objects.get(tenant=second).domain == f"newcareskills2.{settings.BASE_DOMAIN}"
    assert Organization.objects.filter(name="New Care Skills").count() == 2
