"""Email as a background job, sent at most once.

A job's input names a kind of email and the ids it needs; the renderer for that kind runs in the organization's
schema and returns the message. Before sending, a SentEmail row is committed under the job's id: if the worker dies
after that point the email is not sent again (an email must never arrive twice; the job log says delivery is
uncertain instead).
"""

from __future__ import annotations

from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from jobs.errors import PermanentJobError, TransientJobError
from jobs.models import SentEmail
from jobs.running import JobContext

RENDERERS = {
    "grading_complete": "grading.notifications.render_grading_complete",
}


def run_email_job(context: JobContext) -> dict:
    kind = context.job.input.get("kind")
    if kind not in RENDERERS:
        raise PermanentJobError(f"Unknown kind of email “{kind}”.", code="VALIDATION_ERROR")
    message: EmailMultiAlternatives | None = import_string(RENDERERS[kind])(context.job)
    if message is None:
        return {"sent": False, "reason": "nothing to send"}
    try:
        with transaction.atomic():
            record = SentEmail.objects.create(job=context.job, kind=kind, recipients=", ".join(message.to)[:500])
    except IntegrityError:
        record = SentEmail.objects.get(job=context.job)
        if record.sent_at is None:
            context.log(
                "A previous attempt may have sent this email before its worker stopped; it is not sent again "
                "so nobody gets it twice.",
                "warning",
            )
            return {"sent": None, "reason": "delivery uncertain after a worker stopped; not resent"}
        return {"sent": True, "recipients": record.recipients}
    context.progress(50, "Sending the email")
    try:
        message.send(fail_silently=False)
    except Exception as exc:  # SMTP, ESP API and connection errors alike: the provider did not take the email
        record.delete()  # nothing was sent, so a retry may send it
        raise TransientJobError(f"The email provider did not accept the email ({type(exc).__name__}).") from exc
    SentEmail.objects.filter(pk=record.pk).update(sent_at=timezone.now())
    return {"sent": True, "recipients": record.recipients}
