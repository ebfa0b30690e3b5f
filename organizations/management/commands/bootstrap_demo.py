"""Create (idempotently) the demo organization with an owner and an assessor, and a super admin."""

from allauth.account.models import EmailAddress
from django.core.management.base import BaseCommand

from organizations.models import Membership, Organization, Role, User
from organizations.services import create_organization

DEMO_PASSWORD = "quizmarker-demo"
PEOPLE = [
    ("admin@quizmarker.local", "Super Admin", None),
    ("owner@demo.local", "Olivia Owner", Role.OWNER),
    ("assessor@demo.local", "Adam Assessor", Role.MEMBER),
]


class Command(BaseCommand):
    help = "Create the demo organization (demo.<BASE_DOMAIN>), its owner and assessor, and a super admin."

    def add_arguments(self, parser):
        parser.add_argument("--password", default=DEMO_PASSWORD, help="Password for newly created demo users.")

    def handle(self, *args, password: str, **options):
        organization = Organization.objects.filter(slug="demo").first()
        if organization is None:
            organization = create_organization(name="Demo Training Ltd", slug="demo", plan="pro")
            self.stdout.write(f"Created organization demo at {organization.host}")
        for email, name, role in PEOPLE:
            user = User.objects.filter(email=email).first()
            if user is None:
                if role is None:
                    user = User.objects.create_superuser(email, password, full_name=name)
                else:
                    user = User.objects.create_user(email, password, full_name=name)
                self.stdout.write(f"Created user {email}")
            # Demo addresses count as confirmed, so the demo people may create API tokens and invite.
            EmailAddress.objects.update_or_create(user=user, email=email, defaults={"verified": True, "primary": True})
            if role is not None:
                Membership.objects.get_or_create(user=user, organization=organization, defaults={"role": role})
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo ready: {organization.url()}\n"
                f"  super admin  admin@quizmarker.local / {password}  (admin console at /admin/ on the bare domain)\n"
                f"  owner        owner@demo.local / {password}\n"
                f"  assessor     assessor@demo.local / {password}"
            )
        )
