"""An organization's own pages about its people and settings (on <slug>.<BASE_DOMAIN>)."""

from django.urls import path

from organizations import views_members

app_name = "organizations"

urlpatterns = [
    path("members/", views_members.member_list, name="members"),
    path("members/invite/", views_members.member_invite, name="member-invite"),
    path("members/<int:user_id>/role/", views_members.member_role, name="member-role"),
    path("members/<int:user_id>/remove/", views_members.member_remove, name="member-remove"),
    path("members/invitations/<int:invitation_id>/revoke/", views_members.invitation_revoke, name="invitation-revoke"),
    path("settings/", views_members.organization_settings, name="settings"),
    path("settings/transfer/", views_members.organization_transfer, name="transfer"),
    path("settings/delete/", views_members.organization_delete, name="delete"),
    path("invitations/<str:token>/", views_members.invitation_accept, name="invitation-accept"),
]
