"""Install the shipped default mark schemes in organizations that lack one (new standards in the file, or an
organization created before mark schemes existed and not migrated since)."""

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import get_public_schema_name, schema_context

from markschemes.defaults import install_default_schemes
from organizations.models import Organization


class Command(BaseCommand):
    help = "Install the default mark schemes in every organization (or --org SLUG) that does not have them yet."

    def add_arguments(self, parser):
        parser.add_argument("--org", help="only this organization (its slug)")

    def handle(self, *args, org=None, **options):
        organizations = Organization.objects.exclude(schema_name=get_public_schema_name()).order_by("slug")
        if org:
            organizations = organizations.filter(slug=org)
            if not organizations:
                raise CommandError(f"No organization “{org}”.")
        for organization in organizations:
            with schema_context(organization.schema_name):
                installed = install_default_schemes()
            self.stdout.write(f"{organization.slug}: {installed} default mark scheme(s) installed")
