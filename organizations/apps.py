from django.apps import AppConfig


class OrganizationsConfig(AppConfig):
    name = "organizations"
    verbose_name = "Organizations and users"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from organizations.models import Domain, Organization
        from quizmarker.middleware import forget_tenants

        for model in (Organization, Domain):
            post_save.connect(forget_tenants, sender=model, dispatch_uid=f"forget-tenants-save-{model.__name__}")
            post_delete.connect(forget_tenants, sender=model, dispatch_uid=f"forget-tenants-delete-{model.__name__}")
