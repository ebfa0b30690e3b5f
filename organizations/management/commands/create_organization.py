from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from organizations.models import Plan
from organizations.services import provision_organization


class Command(BaseCommand):
    help = (
        "Create an organization with its schema and domain, make EMAIL its owner (creating the user if needed) and "
        "email them an invitation link. Same result as adding an organization in the admin console."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner", required=True, help="Owner's email address")
        parser.add_argument("--plan", choices=Plan.values, default=Plan.FREE)

    def handle(self, *args, slug, name, owner, plan, **options):
        try:
            organization, user, invitation = provision_organization(name=name, slug=slug, owner_email=owner, plan=plan)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(
            self.style.SUCCESS(f"Created {organization.name} at {organization.url()} owned by {user.email}")
        )
        self.stdout.write(f"Invitation emailed to {user.email}: {invitation.accept_url}")
        if not user.has_usable_password():
            self.stdout.write("The owner has no password yet: the invitation link lets them choose one.")
