from django.apps import AppConfig


class GradingConfig(AppConfig):
    name = "grading"
    verbose_name = "Grading (per organization)"

    def ready(self) -> None:
        from grading.events import submissions_graded
        from grading.notifications import email_when_graded

        submissions_graded.connect(email_when_graded, dispatch_uid="grading-complete-email")
