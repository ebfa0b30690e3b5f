"""Business actions on organizations and their people."""

from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from organizations.models import RESERVED_SLUGS, SLUG_VALIDATOR, Domain, Membership, Organization, Role, User


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
    it fails, the half-made organization and its schema are removed again.
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
