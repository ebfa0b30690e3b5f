"""Emails about grading, rendered in the organization's schema by the email job."""

from __future__ import annotations

from django.core.mail import EmailMultiAlternatives

from grading.models import Submission
from quizmarker.mail import templated_email


def render_grading_complete(job) -> EmailMultiAlternatives | None:
    """'Your quizzes are graded': a score summary and links to the results, to the person who started grading."""
    user = job.user
    if user is None or not user.email:
        return None
    submissions = list(
        Submission.objects.filter(pk__in=job.input.get("submission_ids") or [])
        .select_related("student")
        .order_by("created_at")
    )
    if not submissions:
        return None
    organization = job.organization
    context = {
        "user": user,
        "organization": organization,
        "submissions": submissions,
        "needs_review": sum(1 for s in submissions if s.status == "needs_review"),
        "results_url": organization.url("/submissions/"),
        "links": {s.pk: organization.url(f"/submissions/{s.pk}/") for s in submissions},
    }
    return templated_email(
        "emails/grading_complete",
        context,
        subject=f"{len(submissions)} quiz{'zes' if len(submissions) != 1 else ''} graded — {organization.name}",
        to=[user.email],
    )


def queue_grading_complete_email(job, result: dict) -> None:
    """Queue the 'grading complete' email (a low-priority email job) for the person who started grading ``job``, if
    their organization wants it. Called by marking inside the transaction that completes the grading job, so the
    email job exists exactly when the grades do: once, never for a rolled-back grading, and before anyone watching
    the session (its live stream, the job API) can see the grading finished with nothing left to run.

    Grading's own follow-up, so not an event: other apps (webhooks) learn of the grades from
    ``grading.events.submissions_graded`` after the commit."""
    from jobs.models import JobType
    from jobs.starting import start_job

    if not job.organization.notify_on_grading_complete or job.user is None or not job.user.email:
        return
    start_job(
        organization=job.organization,
        user=job.user,
        job_type=JobType.EMAIL,
        session=job.session,
        input={"kind": "grading_complete", "grading_job_id": str(job.pk), "submission_ids": result["submission_ids"]},
        check_limits=False,
    )
