from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from organizations.models import Plan, User
from organizations.services import create_organization


class Command(BaseCommand):
    help = "Create an organization with its schema and domain, and make EMAIL its owner (creating the user if needed)."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner", required=True, help="Owner's email address")
        parser.add_argument("--plan", choices=Plan.values, default=Plan.FREE)

    def handle(self, *args, slug, name, owner, plan, **options):
        user = User.objects.filter(email__iexact=owner).first()
        created_user = user is None
        if created_user:
            user = User.objects.create_user(owner, None)
        try:
            organization = create_organization(name=name, slug=slug, owner=user, plan=plan)
        except ValidationError as exc:
            if created_user:
                user.delete()
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(
            self.style.SUCCESS(f"Created {organization.name} at {organization.url()} owned by {user.email}")
        )
        if created_user:
            self.stdout.write(
                "The owner has no password yet: they can set one with 'Forgot password' on the sign-in page."
            )
