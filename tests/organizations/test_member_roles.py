"""Who may do what to an organization's people, through the API and the pages.

alice owns Alpha, dana is an admin of it, bob a member (assessor); charlie owns Beta (an outsider to Alpha); root is
a super admin.
"""

import pytest
from django.core import mail

from organizations.models import Invitation, Membership, Organization, Role

pytestmark = pytest.mark.django_db


def members_url(org, user_id=None):
    return f"/api/v1/organizations/{org.pk}/members" + (f"/{user_id}" if user_id else "")


def set_role(client, org, member, role: str):
    """PATCH /api/v1/organizations/<id>/members/<user_id>: give ``member`` the ``role`` in ``org``."""
    return client.patch(members_url(org, member.pk), {"role": role}, format="json")


def role_of(user, org):
    membership = Membership.objects.filter(user=user, organization=org).first()
    return membership.role if membership else None


# --- GET /api/v1/organizations and members ---------------------------------------------------


def test_my_organizations_lists_only_mine_with_my_role(api, personas):
    body = api(personas.alpha, personas.alice).get("/api/v1/organizations").json()
    assert body["success"] is True
    assert [(o["slug"], o["role"]) for o in body["data"]] == [("alpha", "owner")]
    body = api(personas.alpha, personas.charlie).get("/api/v1/organizations").json()
    assert [o["slug"] for o in body["data"]] == ["beta"]


def test_my_organizations_needs_a_signed_in_user(api, personas):
    response = api(personas.alpha).get("/api/v1/organizations")
    assert response.status_code == 401
    assert response.json()["code"] == "NOT_AUTHENTICATED"


def test_a_member_sees_the_members_but_not_the_invitations(api, personas):
    Invitation.objects.create(organization=personas.alpha, email="pending@alpha.test")
    body = api(personas.alpha, personas.bob).get(members_url(personas.alpha)).json()
    assert body["success"] is True
    emails = {m["email"]: m["role"] for m in body["data"]["members"]}
    assert emails == {
        "alice@alpha.test": "owner",
        "bob@alpha.test": "member",
        "dana@alpha.test": "admin",
    }
    assert "invitations" not in body["data"]
    body = api(personas.alpha, personas.dana).get(members_url(personas.alpha)).json()
    assert [i["email"] for i in body["data"]["invitations"]] == ["pending@alpha.test"]


def test_an_outsider_gets_404_for_another_organizations_members(api, personas):
    response = api(personas.alpha, personas.charlie).get(members_url(personas.alpha))
    assert response.status_code == 404
    assert response.json() == {
        "success": False,
        "error": "No organization with that id among yours.",
        "code": "NOT_FOUND",
        "details": {},
    }


def test_a_super_admin_may_address_any_organization(api, personas):
    response = api(personas.alpha, personas.root).get(members_url(personas.beta))
    assert response.status_code == 200
    assert [m["email"] for m in response.json()["data"]["members"]] == ["charlie@beta.test"]


# --- POST members (invite) ----------------------------------------------------------------------


def test_an_admin_invites_by_email(api, personas):
    response = api(personas.alpha, personas.dana).post(
        members_url(personas.alpha), {"email": "Newbie@Alpha.test", "role": "member"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["data"]["invitation"]["email"] == "newbie@alpha.test"
    assert len(mail.outbox) == 1
    invitation = Invitation.objects.get(email="newbie@alpha.test")
    assert invitation.accept_url in mail.outbox[0].body


def test_a_member_cannot_invite(api, personas):
    response = api(personas.alpha, personas.bob).post(
        members_url(personas.alpha), {"email": "x@alpha.test"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "PERMISSION_DENIED"
    assert "owners and admins" in response.json()["error"]
    assert not mail.outbox


def test_only_an_owner_invites_another_owner(api, personas):
    response = api(personas.alpha, personas.dana).post(
        members_url(personas.alpha), {"email": "co@alpha.test", "role": "owner"}, format="json"
    )
    assert response.status_code == 403
    response = api(personas.alpha, personas.alice).post(
        members_url(personas.alpha), {"email": "co@alpha.test", "role": "owner"}, format="json"
    )
    assert response.status_code == 201


def test_inviting_an_existing_member_or_a_bad_address_is_a_validation_error(api, personas):
    client = api(personas.alpha, personas.alice)
    response = client.post(members_url(personas.alpha), {"email": "bob@alpha.test"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert "already a member" in response.json()["error"]
    response = client.post(members_url(personas.alpha), {"email": "not-an-address"}, format="json")
    assert response.status_code == 400
    assert "email" in response.json()["details"]


# --- PATCH members/<user_id> (roles) -------------------------------------------------------------


def test_an_admin_changes_a_members_role(api, personas):
    response = set_role(api(personas.alpha, personas.dana), personas.alpha, personas.bob, "admin")
    assert response.status_code == 200
    assert response.json()["data"]["role"] == "admin"
    assert role_of(personas.bob, personas.alpha) == Role.ADMIN


def test_a_member_cannot_change_roles(api, personas):
    response = set_role(api(personas.alpha, personas.bob), personas.alpha, personas.dana, "member")
    assert response.status_code == 403
    assert role_of(personas.dana, personas.alpha) == Role.ADMIN


def test_an_admin_cannot_demote_the_owner_or_make_owners(api, personas):
    client = api(personas.alpha, personas.dana)
    response = set_role(client, personas.alpha, personas.alice, "member")
    assert response.status_code == 403
    response = set_role(client, personas.alpha, personas.bob, "owner")
    assert response.status_code == 403
    assert "Only an owner" in response.json()["error"]
    assert role_of(personas.alice, personas.alpha) == Role.OWNER


def test_the_last_owner_cannot_be_demoted(api, personas):
    response = set_role(api(personas.alpha, personas.alice), personas.alpha, personas.alice, "admin")
    assert response.status_code == 403
    assert "at least one owner" in response.json()["error"]
    assert role_of(personas.alice, personas.alpha) == Role.OWNER


def test_an_owner_shares_ownership_then_may_step_down(api, personas):
    client = api(personas.alpha, personas.alice)
    response = set_role(client, personas.alpha, personas.dana, "owner")
    assert response.status_code == 200
    response = set_role(client, personas.alpha, personas.alice, "admin")
    assert response.status_code == 200
    assert (role_of(personas.alice, personas.alpha), role_of(personas.dana, personas.alpha)) == ("admin", "owner")


def test_an_unknown_role_or_member_is_refused(api, personas):
    client = api(personas.alpha, personas.alice)
    response = set_role(client, personas.alpha, personas.bob, "king")
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"
    response = set_role(client, personas.alpha, personas.charlie, "admin")
    assert response.status_code == 404


# --- DELETE members/<user_id> ----------------------------------------------------------------------


def test_an_admin_removes_a_member(api, personas):
    response = api(personas.alpha, personas.dana).delete(members_url(personas.alpha, personas.bob.pk))
    assert response.status_code == 200
    assert response.json()["data"] == {"removed": True, "user_id": personas.bob.pk}
    assert role_of(personas.bob, personas.alpha) is None


def test_a_member_cannot_remove_others_but_may_leave(api, personas):
    client = api(personas.alpha, personas.bob)
    assert client.delete(members_url(personas.alpha, personas.dana.pk)).status_code == 403
    assert role_of(personas.dana, personas.alpha) == Role.ADMIN
    assert client.delete(members_url(personas.alpha, personas.bob.pk)).status_code == 200
    assert role_of(personas.bob, personas.alpha) is None


def test_an_admin_cannot_remove_the_owner(api, personas):
    response = api(personas.alpha, personas.dana).delete(members_url(personas.alpha, personas.alice.pk))
    assert response.status_code == 403
    assert role_of(personas.alice, personas.alpha) == Role.OWNER


def test_the_last_owner_cannot_be_removed(api, personas):
    response = api(personas.alpha, personas.alice).delete(members_url(personas.alpha, personas.alice.pk))
    assert response.status_code == 403
    assert "last owner" in response.json()["error"]
    assert role_of(personas.alice, personas.alpha) == Role.OWNER


# --- DELETE organizations/<id> ------------------------------------------------------------------


@pytest.mark.parametrize("who", ["dana", "bob"])
def test_only_the_owner_deletes_the_organization(api, personas, who):
    response = api(personas.alpha, getattr(personas, who)).delete(f"/api/v1/organizations/{personas.alpha.pk}")
    assert response.status_code == 403
    assert response.json()["error"] == "Only an owner may delete the organization."
    assert Organization.objects.get(pk=personas.alpha.pk).is_active


def test_an_outsider_cannot_even_see_the_organization_to_delete_it(api, personas):
    response = api(personas.alpha, personas.charlie).delete(f"/api/v1/organizations/{personas.alpha.pk}")
    assert response.status_code == 404


def test_deleting_deactivates_and_keeps_the_data(api, personas):
    client = api(personas.alpha, personas.alice)
    response = client.delete(f"/api/v1/organizations/{personas.alpha.pk}")
    assert response.status_code == 200
    assert response.json()["data"]["is_active"] is False
    organization = Organization.objects.get(pk=personas.alpha.pk)
    assert not organization.is_active and organization.deleted_at is not None
    assert Membership.objects.filter(organization=organization).count() == 3, "memberships are kept"
    assert client.get(members_url(personas.alpha)).status_code == 404
    assert client.get("/api/v1/organizations").json()["data"] == []


# --- The pages ------------------------------------------------------------------------------------


def test_members_page_shows_management_only_to_managers(web, personas):
    response = web(personas.alpha, personas.bob).get("/members/")
    assert response.status_code == 200
    assert b"dana@alpha.test" in response.content
    assert b"Send invitation" not in response.content
    response = web(personas.alpha, personas.dana).get("/members/")
    assert b"Send invitation" in response.content


def test_members_page_is_for_members_only(web, personas):
    assert web(personas.alpha, personas.charlie).get("/members/").status_code == 403


def test_a_member_cannot_invite_change_or_remove_from_the_pages(web, personas):
    client = web(personas.alpha, personas.bob)
    assert client.post("/members/invite/", {"email": "x@alpha.test", "role": "member"}).status_code == 403
    assert client.post(f"/members/{personas.dana.pk}/role/", {"role": "member"}).status_code == 403
    assert client.post(f"/members/{personas.dana.pk}/remove/").status_code == 403
    assert role_of(personas.dana, personas.alpha) == Role.ADMIN
    assert not mail.outbox


def test_an_admin_invites_and_changes_roles_from_the_page(web, personas):
    client = web(personas.alpha, personas.dana)
    response = client.post("/members/invite/", {"email": "new@alpha.test", "role": "member"}, follow=True)
    assert b"Invitation sent to new@alpha.test" in response.content
    assert len(mail.outbox) == 1
    response = client.post(f"/members/{personas.bob.pk}/role/", {"role": "admin"})
    assert response.status_code == 302
    assert role_of(personas.bob, personas.alpha) == Role.ADMIN
    response = client.post(f"/members/{personas.alice.pk}/remove/", follow=True)
    assert b"Only an owner may remove another owner." in response.content
    assert role_of(personas.alice, personas.alpha) == Role.OWNER


def test_settings_are_changed_by_managers_only(web, personas):
    data = {"name": "Alpha Care", "pass_mark": "75", "notify_on_grading_complete": ""}
    assert web(personas.alpha, personas.bob).get("/settings/").status_code == 200
    assert web(personas.alpha, personas.bob).post("/settings/", data).status_code == 403
    assert web(personas.alpha, personas.dana).post("/settings/", data).status_code == 302
    organization = Organization.objects.get(pk=personas.alpha.pk)
    assert (organization.name, organization.pass_mark, organization.notify_on_grading_complete) == (
        "Alpha Care",
        75,
        False,
    )


def test_only_the_owner_transfers_ownership(web, personas):
    assert (
        web(personas.alpha, personas.dana).post("/settings/transfer/", {"user_id": personas.dana.pk}).status_code == 403
    )
    response = web(personas.alpha, personas.alice).post("/settings/transfer/", {"user_id": personas.dana.pk})
    assert response.status_code == 302
    assert (role_of(personas.dana, personas.alpha), role_of(personas.alice, personas.alpha)) == ("owner", "admin")


def test_only_the_owner_deletes_from_the_settings_page(web, personas):
    assert web(personas.alpha, personas.dana).post("/settings/delete/", {"confirm_slug": "alpha"}).status_code == 403
    response = web(personas.alpha, personas.alice).post("/settings/delete/", {"confirm_slug": "wrong"})
    assert Organization.objects.get(pk=personas.alpha.pk).is_active
    response = web(personas.alpha, personas.alice).post("/settings/delete/", {"confirm_slug": "alpha"})
    assert response.status_code == 200
    assert not Organization.objects.get(pk=personas.alpha.pk).is_active
    assert web(personas.alpha, personas.bob).get("/members/").status_code == 403


def test_the_owner_sees_transfer_and_delete_on_the_settings_page(web, personas):
    page = web(personas.alpha, personas.alice).get("/settings/").content.decode()
    assert "Transfer ownership" in page and "Delete organization" in page and "dana@alpha.test" in page
    page = web(personas.alpha, personas.dana).get("/settings/").content.decode()
    assert "Save settings" in page and "Delete organization" not in page
