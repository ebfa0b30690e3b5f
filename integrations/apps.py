from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "integrations"
    verbose_name = "Integrations (API tokens and webhooks)"

    def ready(self) -> None:
        from allauth.account.signals import password_changed, password_reset, password_set

        from grading import events as grading_events
        from integrations import webhook_events
        from jobs import events as job_events

        # Webhooks follow the other apps' events; those apps do not know that integrations exists.
        job_events.job_finished.connect(webhook_events.job_finished, dispatch_uid="webhooks-job-finished")
        grading_events.submissions_graded.connect(webhook_events.submissions_graded, dispatch_uid="webhooks-graded")
        grading_events.submission_reviewed.connect(webhook_events.submission_reviewed, dispatch_uid="webhooks-reviewed")

        for signal in (password_changed, password_set, password_reset):
            signal.connect(revoke_tokens_on_new_password, dispatch_uid=f"revoke-tokens-{id(signal)}")


def revoke_tokens_on_new_password(sender, request=None, user=None, **kwargs) -> None:
    """A new password ends every API token of the user. (Their other sessions end too: Django signs each session
    with the password hash, so a session from before the change is refused at its next request.)"""
    from integrations.tokens import revoke_all

    if user is not None:
        revoke_all(user)
