"""Issue an API token from the command line (the name DRF's own command had, and the same output)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from integrations.tokens import create_token
from organizations.models import Membership, Organization, User


class Command(BaseCommand):
    help = (
        "Create an API token for a user and print it: 'Generated token <key> for user <email> ...'. It works in the "
        "user's organization (--org when they belong to several); a super admin's works in every organization. "
        "Only a hash is stored, so the key is printed once."
    )

    def add_arguments(self, parser):
        parser.add_argument("email", help="The user's email address.")
        parser.add_argument("--org", help="Slug of the organization the token works in.")
        parser.add_argument("--name", default="Made by drf_create_token", help="What the token is for.")

    def handle(self, *args, email: str, org: str | None, name: str, **options):
        user = User.objects.filter(email__iexact=email.strip()).first()
        if user is None or not user.is_active:
            raise CommandError(f"No active user with the email address {email}.")
        organization = self._organization(user, org)
        token, key = create_token(user, name, organization)
        where = f"in {organization.slug}" if token.organization_id else "in every organization (super admin)"
        self.stdout.write(f"Generated token {key} for user {user.email} {where}")

    def _organization(self, user, slug: str | None) -> Organization | None:
        if slug:
            organization = Organization.objects.filter(slug=slug).first()
            if organization is None:
                raise CommandError(f"No organization with the slug {slug}.")
            if not user.is_superuser and not Membership.objects.filter(user=user, organization=organization).exists():
                raise CommandError(f"{user.email} is not a member of {slug}.")
            return organization
        if user.is_superuser:
            return None
        slugs = list(Membership.objects.filter(user=user).values_list("organization__slug", flat=True))
        if len(slugs) != 1:
            raise CommandError(
                f"{user.email} belongs to {len(slugs)} organizations ({', '.join(sorted(slugs)) or 'none'}); "
                "choose one with --org SLUG."
            )
        return Organization.objects.get(slug=slugs[0])
