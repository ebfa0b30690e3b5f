from django.apps import AppConfig


class MarkSchemesConfig(AppConfig):
    name = "markschemes"
    verbose_name = "Mark schemes (per organization)"
