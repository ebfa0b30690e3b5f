"""Organizations and their members in API v1 (see shared api-contract).

Routes (on any organization host; organizations are addressed by id, and a user who is not a member of one gets 404):

- ``GET /api/v1/organizations`` — the organizations I belong to, with my role.
- ``GET /api/v1/organizations/<id>/members`` — members (and, for owners and admins, pending invitations).
- ``POST /api/v1/organizations/<id>/members`` ``{"email", "role"}`` — invite (owners and admins): 201 invitation.
- ``PATCH /api/v1/organizations/<id>/members/<user_id>`` ``{"role"}`` — change a role.
- ``DELETE /api/v1/organizations/<id>/members/<user_id>`` — remove a member (or leave).
- ``DELETE /api/v1/organizations/<id>`` — owners only. Deleting deactivates the organization and sets ``deleted_at``;
  its data is kept (support can restore it or erase it on request).

Role rules refused answer 403 ``PERMISSION_DENIED`` with a sentence saying why.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.views import APIView

from organizations import permissions
from organizations.models import Invitation, Membership, Organization, Role
from organizations.services import (
    RuleRefused,
    audit_outsider_access,
    change_role,
    delete_organization,
    invite_member,
    membership_for,
    remove_member,
)
from quizmarker.api import DEACTIVATED, ApiError, denied, ok


class IsSignedIn(BasePermission):
    """Any signed-in user; what they may see is decided per organization below (membership, else 404)."""

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated)


def membership_json(membership: Membership) -> dict:
    user = membership.user
    return {
        "user_id": user.pk,
        "email": user.email,
        "full_name": user.full_name,
        "role": membership.role,
        "joined_at": membership.created_at,
    }


def invitation_json(invitation: Invitation) -> dict:
    return {
        "id": invitation.pk,
        "email": invitation.email,
        "role": invitation.role,
        "created_at": invitation.created_at,
        "expires_at": invitation.expires_at,
    }


def organization_json(organization: Organization, membership: Membership | None) -> dict:
    return {
        "id": organization.pk,
        "name": organization.name,
        "slug": organization.slug,
        "url": organization.url(),
        "plan": organization.plan,
        "role": membership.role if membership else None,
        "is_active": organization.is_active,
    }


def refused(exc: RuleRefused) -> ApiError:
    return denied(str(exc))


def invalid(exc: DjangoValidationError, field: str) -> ApiError:
    return ApiError(" ".join(exc.messages), code="VALIDATION_ERROR", status_code=400, details={field: exc.messages})


# --- Response shapes, for the OpenAPI schema ---------------------------------------------------------


class OrganizationDoc(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.CharField()
    url = serializers.URLField()
    plan = serializers.ChoiceField(choices=["free", "pro", "enterprise"])
    role = serializers.ChoiceField(choices=Role.values, allow_null=True, help_text="Mine; null for a super admin.")
    is_active = serializers.BooleanField()


class MemberDoc(serializers.Serializer):
    user_id = serializers.IntegerField()
    email = serializers.EmailField()
    full_name = serializers.CharField()
    role = serializers.ChoiceField(choices=Role.values)
    joined_at = serializers.DateTimeField()


class InvitationDoc(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Role.values)
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()


class MemberListDoc(serializers.Serializer):
    members = MemberDoc(many=True)
    invitations = InvitationDoc(many=True, required=False, help_text="Pending; only for owners and admins.")


class InvitedDoc(serializers.Serializer):
    invitation = InvitationDoc()


class RemovedDoc(serializers.Serializer):
    removed = serializers.BooleanField()
    user_id = serializers.IntegerField()


class DeletedDoc(serializers.Serializer):
    id = serializers.IntegerField()
    is_active = serializers.BooleanField()
    deleted_at = serializers.DateTimeField()


class OrganizationAccessMixin:
    permission_classes = [IsSignedIn]

    def organization_for(self, request, organization_id: int) -> tuple[Organization, Membership | None]:
        organization = Organization.objects.filter(pk=organization_id, deleted_at__isnull=True).first()
        membership = membership_for(request.user, organization) if organization else None
        if organization is None or (membership is None and not request.user.is_superuser):
            raise ApiError("No organization with that id among yours.", code="NOT_FOUND", status_code=404)
        if not organization.is_active and not request.user.is_superuser:
            raise denied(DEACTIVATED)
        audit_outsider_access(request, organization, "its API", membership)
        return organization, membership

    def member_of(self, organization: Organization, user_id: int) -> Membership:
        membership = (
            Membership.objects.select_related("user", "organization")
            .filter(organization=organization, user_id=user_id)
            .first()
        )
        if membership is None:
            raise ApiError("No member with that user id in this organization.", code="NOT_FOUND", status_code=404)
        return membership


class OrganizationListView(APIView):
    permission_classes = [IsSignedIn]

    @extend_schema(
        summary="My organizations",
        operation_id="organizations_mine",
        responses={200: OrganizationDoc(many=True)},
        tags=["organizations"],
    )
    def get(self, request):
        memberships = (
            Membership.objects.select_related("organization")
            .filter(user=request.user, organization__is_active=True)
            .order_by("organization__name")
        )
        return ok([organization_json(m.organization, m) for m in memberships])


class OrganizationDetailView(OrganizationAccessMixin, APIView):
    @extend_schema(summary="Get an organization", responses={200: OrganizationDoc}, tags=["organizations"])
    def get(self, request, organization_id: int):
        organization, membership = self.organization_for(request, organization_id)
        return ok(organization_json(organization, membership))

    @extend_schema(
        summary="Delete an organization (owners)",
        description="Deactivates it and sets `deleted_at`; the data is kept.",
        responses={200: DeletedDoc},
        tags=["organizations"],
    )
    def delete(self, request, organization_id: int):
        organization, _ = self.organization_for(request, organization_id)
        try:
            delete_organization(organization=organization, by=request.user)
        except RuleRefused as exc:
            raise refused(exc)
        return ok({"id": organization.pk, "is_active": False, "deleted_at": organization.deleted_at})


class InviteSerializer(serializers.Serializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Role.values, default=Role.MEMBER)


class RoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.values)


class MemberListView(OrganizationAccessMixin, APIView):
    @extend_schema(
        summary="List members",
        operation_id="organizations_members_list",
        responses={200: MemberListDoc},
        tags=["organizations"],
    )
    def get(self, request, organization_id: int):
        organization, membership = self.organization_for(request, organization_id)
        members = Membership.objects.select_related("user").filter(organization=organization).order_by("user__email")
        data = {"members": [membership_json(m) for m in members]}
        if permissions.manages(request.user, membership):
            pending = organization.invitations.filter(accepted_at__isnull=True).order_by("email")
            data["invitations"] = [invitation_json(i) for i in pending if i.is_pending]
        return ok(data)

    @extend_schema(
        summary="Invite a member (owners and admins)",
        request=InviteSerializer,
        responses={201: InvitedDoc},
        tags=["organizations"],
    )
    def post(self, request, organization_id: int):
        organization, _ = self.organization_for(request, organization_id)
        body = InviteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            invitation = invite_member(organization=organization, by=request.user, **body.validated_data)
        except RuleRefused as exc:
            raise refused(exc)
        except DjangoValidationError as exc:
            raise invalid(exc, "email")
        return ok({"invitation": invitation_json(invitation)}, status.HTTP_201_CREATED)


class MemberDetailView(OrganizationAccessMixin, APIView):
    @extend_schema(
        summary="Get a member",
        operation_id="organizations_member_get",
        responses={200: MemberDoc},
        tags=["organizations"],
    )
    def get(self, request, organization_id: int, user_id: int):
        organization, _ = self.organization_for(request, organization_id)
        return ok(membership_json(self.member_of(organization, user_id)))

    @extend_schema(
        summary="Change a member's role", request=RoleSerializer, responses={200: MemberDoc}, tags=["organizations"]
    )
    def patch(self, request, organization_id: int, user_id: int):
        organization, _ = self.organization_for(request, organization_id)
        body = RoleSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        target = self.member_of(organization, user_id)
        try:
            change_role(membership=target, role=body.validated_data["role"], by=request.user)
        except RuleRefused as exc:
            raise refused(exc)
        except DjangoValidationError as exc:
            raise invalid(exc, "role")
        return ok(membership_json(target))

    @extend_schema(summary="Remove a member (or leave)", responses={200: RemovedDoc}, tags=["organizations"])
    def delete(self, request, organization_id: int, user_id: int):
        organization, _ = self.organization_for(request, organization_id)
        target = self.member_of(organization, user_id)
        try:
            remove_member(membership=target, by=request.user)
        except RuleRefused as exc:
            raise refused(exc)
        return ok({"removed": True, "user_id": user_id})
