"""Business actions on organizations and their people."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from markschemes.defaults import install_default_schemes
from organizations import permissions
from organizations.models import (
    RESERVED_SLUGS,
    SLUG_VALIDATOR,
    AdminAccessLog,
    Domain,
    Invitation,
    Membership,
    Organization,
    Role,
    User,
)
from quizmarker.mail import templated_email

logger = logging.getLogger(__name__)


def validate_slug(slug: str) -> str:
    slug = slug.strip().lower()
    SLUG_VALIDATOR(slug)
    if slug in RESERVED_SLUGS:
        raise ValidationError(f"“{slug}” is reserved; choose another address.")
    if Organization.objects.filter(slug=slug).exists():
        raise ValidationError(f"The address “{slug}” is already taken.")
    return slug


def slug_from_name(name: str) -> str:
    """A free slug derived from an organization's name ("Acme Care Ltd" → "acmecareltd", then "acmecareltd2"...)."""
    base = re.sub(r"[^a-z0-9]", "", name.lower())
    base = re.sub(r"^[0-9]+", "", base)[:32] or "org"
    if len(base) < 2:
        base = f"org{base}"
    candidate, counter = base, 1
    while candidate in RESERVED_SLUGS or Organization.objects.filter(slug=candidate).exists():
        counter += 1
        candidate = f"{base}{counter}"
    return candidate


def create_organization(
    *, name: str, slug: str | None = None, owner: User | None = None, plan: str = "free"
) -> Organization:
    """Create an organization with its schema, its domain ``<slug>.<BASE_DOMAIN>`` and its owner's membership.

    Creating the schema runs the tenant migrations, which cannot share a transaction with the rest; if anything after
    it fails, the half-made organization and its schema are removed again. The organization starts with the
    default mark scheme of every standard (installed by its migrations; installed here too, idempotently, in case
    its schema was made another way).
    """
    slug = validate_slug(slug) if slug else slug_from_name(name)
    if plan not in settings.PLAN_QUIZ_LIMITS:
        raise ValidationError(f"Unknown plan “{plan}”.")
    organization = Organization(name=name.strip(), slug=slug, schema_name=slug, plan=plan)
    organization.full_clean(exclude=["schema_name"])
    organization.save()
    try:
        with transaction.atomic():
            Domain.objects.create(domain=organization.host, tenant=organization, is_primary=True)
            if owner is not None:
                Membership.objects.create(user=owner, organization=organization, role=Role.OWNER)
        with schema_context(organization.schema_name):
            install_default_schemes()
    except Exception:
        organization.delete(force_drop=True)
        raise
    return organization


def membership_for(user, organization: Organization) -> Membership | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(user=user, organization=organization).select_related("organization").first()


def organizations_of(user) -> list[Organization]:
    if not user.is_authenticated:
        return []
    return list(Organization.objects.filter(memberships__user=user, is_active=True).order_by("name"))


# --- Provisioning (admin console and the create_organization command share this) ------------------------------


def provision_organization(
    *,
    name: str,
    owner_email: str,
    slug: str | None = None,
    plan: str = "free",
    invited_by: User | None = None,
    quiz_limit_override: int | None = None,
    monthly_budget_usd=None,
) -> tuple[Organization, User, Invitation]:
    """Create an organization for an owner given by email: the user (created without a password if new), the
    schema, domain and ownership (:func:`create_organization`), and an emailed owner invitation whose link lets a
    new owner choose a password and sign in."""
    email = User.objects.normalize_email(owner_email.strip()).lower()
    owner = User.objects.filter(email__iexact=email).first()
    created_user = owner is None
    if created_user:
        owner = User.objects.create_user(email, None)
    try:
        organization = create_organization(name=name, slug=slug, owner=owner, plan=plan)
    except Exception:
        if created_user:
            owner.delete()
        raise
    changed = []
    if quiz_limit_override is not None:
        organization.quiz_limit_override = quiz_limit_override
        changed.append("quiz_limit_override")
    if monthly_budget_usd is not None:
        organization.monthly_budget_usd = monthly_budget_usd
        changed.append("monthly_budget_usd")
    if changed:
        organization.save(update_fields=changed)
    invitation = Invitation.objects.create(
        organization=organization, email=email, role=Role.OWNER, invited_by=invited_by
    )
    send_invitation_email(invitation)
    return organization, owner, invitation


# --- Members and their roles --------------------------------------------------------------------------------


class RuleRefused(PermissionDenied):
    """A role rule refused the action; the message is a sentence for the person who tried."""


class EmailNotVerified(RuleRefused):
    """The action needs an email address its user has proved they own."""


def has_verified_email(user) -> bool:
    """Whether ``user`` has confirmed their address (super admins, made by operators, need not)."""
    from allauth.account.models import EmailAddress

    if user.is_superuser:
        return True
    return EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=True).exists()


def require_verified_email(user, action: str) -> None:
    """Creating API tokens, inviting and accepting invitations need a confirmed address: otherwise whoever signed up
    first under someone else's address could act as them."""
    if not has_verified_email(user):
        raise EmailNotVerified(
            f"Confirm your email address ({user.email}) before you {action}: follow the link we emailed you, or "
            "send a new one from your account's email page (/accounts/email/)."
        )


def _acting_membership(organization: Organization, by) -> Membership | None:
    return None if by is None or by.is_superuser else membership_for(by, organization)


def _is_owner(organization: Organization, by) -> bool:
    return by is None or permissions.owns(by, _acting_membership(organization, by))


def require_manager(organization: Organization, by) -> None:
    if by is not None and not permissions.manages(by, _acting_membership(organization, by)):
        raise RuleRefused("Only the organization's owners and admins may manage its members.")


def _owner_count(organization: Organization) -> int:
    return Membership.objects.filter(organization=organization, role=Role.OWNER).count()


def invite_member(*, organization: Organization, email: str, role: str = Role.MEMBER, by) -> Invitation:
    """Invite an email address (owners and admins; only an owner may invite another owner). Inviting the same
    address again replaces its pending invitation with a fresh link."""
    require_manager(organization, by)
    require_verified_email(by, "invite people")
    if role not in Role.values:
        raise ValidationError(f"Unknown role “{role}”.")
    if role == Role.OWNER and not _is_owner(organization, by):
        raise RuleRefused("Only an owner may invite another owner.")
    email = User.objects.normalize_email(email.strip()).lower()
    if Membership.objects.filter(organization=organization, user__email__iexact=email).exists():
        raise ValidationError(f"{email} is already a member of {organization.name}.")
    with transaction.atomic():
        Invitation.objects.filter(organization=organization, email__iexact=email, accepted_at__isnull=True).delete()
        invitation = Invitation.objects.create(organization=organization, email=email, role=role, invited_by=by)
    send_invitation_email(invitation)
    return invitation


def send_invitation_email(invitation: Invitation) -> None:
    context = {
        "invitation": invitation,
        "organization": invitation.organization,
        "inviter": invitation.invited_by,
        "accept_url": invitation.accept_url,
    }
    subject = f"You're invited to {invitation.organization.name} on QuizMarker"
    message = templated_email("organizations/emails/invitation", context, subject=subject, to=[invitation.email])
    message.send(fail_silently=False)


def pending_invitation(token: str) -> Invitation | None:
    return (
        Invitation.objects.select_related("organization", "invited_by")
        .filter(token=token, accepted_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )


def accept_invitation(invitation: Invitation, user: User) -> Membership:
    """The invited person (signed in with the invited address) joins with the invitation's role."""
    if user.email.lower() != invitation.email.lower():
        raise RuleRefused(
            f"This invitation is for {invitation.email}; sign in with that address to accept it (you are signed "
            f"in as {user.email})."
        )
    if not invitation.is_pending:
        raise RuleRefused("This invitation has expired or was already used; ask for a new one.")
    require_verified_email(user, "accept an invitation")
    with transaction.atomic():
        membership, created = Membership.objects.get_or_create(
            user=user, organization=invitation.organization, defaults={"role": invitation.role}
        )
        Invitation.objects.filter(pk=invitation.pk).update(accepted_at=timezone.now(), accepted_by=user)
    return membership


def change_role(*, membership: Membership, role: str, by) -> Membership:
    """Owners and admins change roles; only an owner makes or unmakes owners; the last owner stays an owner."""
    organization = membership.organization
    require_manager(organization, by)
    if role not in Role.values:
        raise ValidationError(f"Unknown role “{role}”.")
    if role == membership.role:
        return membership
    if Role.OWNER in (role, membership.role) and not _is_owner(organization, by):
        raise RuleRefused("Only an owner may make someone an owner or change an owner's role.")
    with transaction.atomic():
        list(Membership.objects.select_for_update().filter(organization=organization, role=Role.OWNER))
        if membership.role == Role.OWNER and _owner_count(organization) <= 1:
            raise RuleRefused(
                "An organization needs at least one owner: make someone else an owner before changing this role."
            )
        membership.role = role
        membership.save(update_fields=["role"])
    return membership


def remove_member(*, membership: Membership, by) -> None:
    """Owners and admins remove members (anyone may leave); only an owner removes an owner; never the last owner."""
    organization = membership.organization
    leaving = by is not None and by.pk == membership.user_id
    if not leaving:
        require_manager(organization, by)
        if membership.role == Role.OWNER and not _is_owner(organization, by):
            raise RuleRefused("Only an owner may remove another owner.")
    with transaction.atomic():
        list(Membership.objects.select_for_update().filter(organization=organization, role=Role.OWNER))
        if membership.role == Role.OWNER and _owner_count(organization) <= 1:
            raise RuleRefused("The last owner cannot be removed: transfer ownership first, or delete the organization.")
        membership.delete()


def transfer_ownership(*, organization: Organization, to: Membership, by) -> Membership:
    """An owner makes another member the owner and becomes an admin."""
    if not _is_owner(organization, by):
        raise RuleRefused("Only an owner may transfer ownership.")
    if to.organization_id != organization.pk:
        raise ValidationError("That person is not a member of this organization.")
    with transaction.atomic():
        to.role = Role.OWNER
        to.save(update_fields=["role"])
        if not by.is_superuser and by.pk != to.user_id:
            Membership.objects.filter(organization=organization, user=by).update(role=Role.ADMIN)
    return to


def delete_organization(*, organization: Organization, by) -> Organization:
    """Only an owner deletes an organization. Deleting deactivates it and records when: nobody can use it any more,
    and its data is kept (support can restore it, or erase it on request)."""
    if not _is_owner(organization, by):
        raise RuleRefused("Only an owner may delete the organization.")
    organization.is_active = False
    organization.deleted_at = timezone.now()
    organization.save(update_fields=["is_active", "deleted_at"])
    Invitation.objects.filter(organization=organization, accepted_at__isnull=True).delete()
    return organization


def set_active(organizations, active: bool) -> int:
    """The console's deactivate / reactivate: members lose (or regain) access, data is kept."""
    updates = {"is_active": active}
    if active:
        updates["deleted_at"] = None
    return Organization.objects.filter(pk__in=[o.pk for o in organizations]).update(**updates)


# A super admin's repeated reads of the same address within this many seconds are one entry in the audit trail: a
# page that polls, or a client that polls a job, would otherwise add a row every 2 s. Changes are always recorded.
OUTSIDER_AUDIT_REPEAT_SECONDS = 600
_NOT_LOOKED_UP = object()


def audit_outsider_access(request, organization: Organization, what: str, membership=_NOT_LOOKED_UP) -> None:
    """Record a super admin who is not a member opening an organization's site or API (members need no entry).

    ``membership`` is the user's, when the caller already has it; otherwise it is looked up only when an entry may
    be written, so a super admin's repeated polls stay one SQL statement."""
    is_member = membership is not None and membership is not _NOT_LOOKED_UP
    if is_member or not request.user.is_superuser:
        return
    key = None
    if request.method in ("GET", "HEAD"):
        path = request.get_full_path()[:500]
        digest = hashlib.sha256(f"{request.method} {path}".encode()).hexdigest()[:32]
        key = f"outsider-audit:{request.user.pk}:{organization.pk}:{digest}"
        try:
            if not cache.add(key, 1, OUTSIDER_AUDIT_REPEAT_SECONDS):
                return
        except Exception:  # noqa: BLE001 - without the cache, record every read rather than none
            logger.warning("Cache unavailable; recording this admin access without de-duplication", exc_info=True)
            key = None
    try:
        if membership is _NOT_LOOKED_UP:
            membership = membership_for(request.user, organization)
        if membership is None:
            log_admin_access(request, organization, f"{what} ({request.method})")
    except Exception:
        if key is not None:  # not recorded: the next read of this address must try again
            with contextlib.suppress(Exception):
                cache.delete(key)
        raise


def log_admin_access(request, organization: Organization, what: str) -> AdminAccessLog:
    return AdminAccessLog.objects.create(
        user=request.user,
        user_email=request.user.email,
        organization=organization,
        what=what[:200],
        path=request.get_full_path()[:500],
        ip_address=request.META.get("REMOTE_ADDR") or None,
    )
