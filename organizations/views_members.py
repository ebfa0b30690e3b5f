"""An organization's own people and settings: members, invitations, settings, ownership and deletion.

Everyone in the organization may see the members page; owners and admins manage members; only an owner transfers
ownership or deletes the organization. The rules live in ``organizations.services``; these views show their answers.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from organizations import permissions
from organizations.forms import AcceptInvitationForm, InviteForm, OrganizationSettingsForm, RoleForm
from organizations.models import Invitation, Membership, Role, User
from organizations.services import (
    EmailNotVerified,
    RuleRefused,
    accept_invitation,
    change_role,
    delete_organization,
    invite_member,
    pending_invitation,
    remove_member,
    require_manager,
    transfer_ownership,
)


def _can_manage(request) -> bool:
    return permissions.manages(request.user, request.membership)


def _require_owner(request, to_do: str) -> None:
    if not permissions.owns(request.user, request.membership):
        raise PermissionDenied(f"Only an owner may {to_do}.")


def _member(request, user_id: int) -> Membership:
    return get_object_or_404(
        Membership.objects.select_related("user", "organization"), organization=request.organization, user_id=user_id
    )


@login_required
def member_list(request):
    organization = request.organization
    members = Membership.objects.select_related("user").filter(organization=organization).order_by("user__email")
    can_manage = _can_manage(request)
    invitations = (
        [i for i in organization.invitations.filter(accepted_at__isnull=True).order_by("email") if i.is_pending]
        if can_manage
        else []
    )
    owner_count = sum(1 for m in members if m.role == Role.OWNER)
    for m in members:
        m.may_change_role = permissions.may_change_role(request.user, request.membership, m)
    return render(
        request,
        "organizations/members.html",
        {
            "members": members,
            "invitations": invitations,
            "owner_count": owner_count,
            "invite_form": InviteForm(),
            "roles": Role.choices,
        },
    )


@login_required
@require_POST
def member_invite(request):
    form = InviteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter a valid email address and role to invite someone.")
        return redirect("organizations:members")
    try:
        invitation = invite_member(
            organization=request.organization,
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
            by=request.user,
        )
    except EmailNotVerified as exc:
        messages.error(request, str(exc))
        return redirect("organizations:members")
    except RuleRefused:
        raise
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("organizations:members")
    messages.success(request, f"Invitation sent to {invitation.email}.")
    return redirect("organizations:members")


def _applied(request, action, *, explain: bool) -> bool:
    """Apply one member rule and say whether it went through. Someone who may manage members (or who is leaving) is
    told on the members page why a rule refused; anyone else gets the plain 403 the refusal is."""
    try:
        action()
    except RuleRefused as exc:
        if not explain:
            raise
        messages.error(request, str(exc))
        return False
    return True


@login_required
@require_POST
def member_role(request, user_id: int):
    membership = _member(request, user_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the roles.")
    elif _applied(
        request,
        lambda: change_role(membership=membership, role=form.cleaned_data["role"], by=request.user),
        explain=_can_manage(request),
    ):
        messages.success(request, f"{membership.user.email} is now {membership.get_role_display().lower()}.")
    return redirect("organizations:members")


@login_required
@require_POST
def member_remove(request, user_id: int):
    membership = _member(request, user_id)
    leaving = membership.user_id == request.user.pk
    removed = _applied(
        request,
        lambda: remove_member(membership=membership, by=request.user),
        explain=_can_manage(request) or leaving,
    )
    if removed and leaving:
        messages.success(request, f"You have left {request.organization.name}.")
        return redirect(f"{request.scheme}://{request.get_host().split('.', 1)[-1]}/")
    if removed:
        messages.success(request, f"{membership.user.email} was removed from {request.organization.name}.")
    return redirect("organizations:members")


@login_required
@require_POST
def invitation_revoke(request, invitation_id: int):
    require_manager(request.organization, request.user)
    invitation = get_object_or_404(
        Invitation, pk=invitation_id, organization=request.organization, accepted_at__isnull=True
    )
    invitation.delete()
    messages.success(request, f"The invitation to {invitation.email} was withdrawn.")
    return redirect("organizations:members")


@login_required
def organization_settings(request):
    organization = request.organization
    can_manage = _can_manage(request)
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied("Only the organization's owners and admins may change its settings.")
        form = OrganizationSettingsForm(request.POST, instance=organization)
        if form.is_valid():
            form.save()
            messages.success(request, "Settings saved.")
            return redirect("organizations:settings")
    else:
        form = OrganizationSettingsForm(instance=organization)
    if not can_manage:
        for field in form.fields.values():
            field.disabled = True
    others = (
        Membership.objects.select_related("user")
        .filter(organization=organization)
        .exclude(user=request.user)
        .exclude(role=Role.OWNER)
        .order_by("user__email")
    )
    return render(
        request,
        "organizations/settings.html",
        {"form": form, "transfer_candidates": others},
    )


@login_required
@require_POST
def organization_transfer(request):
    organization = request.organization
    _require_owner(request, "transfer ownership")
    to = _member(request, int(request.POST.get("user_id") or 0))
    transfer_ownership(organization=organization, to=to, by=request.user)
    messages.success(request, f"{to.user.email} is now the owner of {organization.name}.")
    return redirect("organizations:settings")


@login_required
@require_POST
def organization_delete(request):
    organization = request.organization
    _require_owner(request, "delete the organization")
    if request.POST.get("confirm_slug", "").strip().lower() != organization.slug:
        messages.error(request, f"Type “{organization.slug}” to confirm deleting the organization.")
        return redirect("organizations:settings")
    delete_organization(organization=organization, by=request.user)
    return render(request, "organizations/deleted.html", {"deleted": organization})


# --- Accepting an invitation (open path: /invitations/ is not behind the membership check) ----------------------


def invitation_accept(request, token: str):
    """The emailed link. Signed in with the invited address: accept. Otherwise sign in, or — for someone without a
    password yet — choose a name and password here, which also proves they own the address."""
    invitation = pending_invitation(token)
    if invitation is None or invitation.organization_id != getattr(request.organization, "pk", None):
        return render(request, "organizations/invitation_invalid.html", status=404)
    organization = invitation.organization
    if not organization.is_active:
        return render(request, "errors/organization_inactive.html", status=403)
    existing = User.objects.filter(email__iexact=invitation.email).first()
    context = {"invitation": invitation, "existing": existing}

    if request.user.is_authenticated:
        if request.user.email.lower() != invitation.email.lower():
            context["wrong_user"] = True
            return render(request, "organizations/invitation_accept.html", context, status=403)
        if request.method == "POST":
            try:
                accept_invitation(invitation, request.user)
            except EmailNotVerified as exc:
                context["unverified"] = str(exc)
                return render(request, "organizations/invitation_accept.html", context, status=403)
            messages.success(request, f"Welcome to {organization.name}.")
            return redirect("dashboard")
        return render(request, "organizations/invitation_accept.html", context)

    if existing is not None and existing.has_usable_password():
        login_url = f"{reverse('account_login')}?{urlencode({'next': request.path})}"
        context["login_url"] = login_url
        return render(request, "organizations/invitation_accept.html", context)

    form = AcceptInvitationForm(request.POST or None, email=invitation.email)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            user = existing or User.objects.create_user(invitation.email, None)
            user.full_name = form.cleaned_data["full_name"]
            user.set_password(form.cleaned_data["password1"])
            user.save()
            _mark_email_verified(user)
            accept_invitation(invitation, user)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome to {organization.name}.")
        return redirect("dashboard")
    context["form"] = form
    return render(request, "organizations/invitation_accept.html", context)


def _mark_email_verified(user: User) -> None:
    """Following the emailed link proves the address, so allauth need not ask again."""
    from allauth.account.models import EmailAddress

    EmailAddress.objects.update_or_create(user=user, email=user.email, defaults={"verified": True, "primary": True})
