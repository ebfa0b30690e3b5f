"""Webhook events: what happened, turned into one ``WebhookDelivery`` row per URL that wants it (the organization's
endpoints subscribed to the event, and a job's own ``callback_url``), committed before anything is sent
(``integrations.delivery`` sends them).

The job and grading events come from the other apps' signals (``jobs.events``, ``grading.events``), connected in
``integrations.apps``. Payloads carry ids, statuses and scores only — never a student's name, answers or feedback.
Nothing here ever raises into the job or request that caused the event.
"""

from __future__ import annotations

import logging
import uuid

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from integrations.addresses import validate_url
from integrations.delivery import publish
from integrations.endpoints import callback_secret
from integrations.models import TEST_EVENT, WebhookDelivery, WebhookEndpoint, WebhookEvent

logger = logging.getLogger(__name__)


def emit(
    event: str, organization, data: dict, *, job_id=None, callback_url: str | None = None, endpoints=None
) -> list[WebhookDelivery]:
    """Record one delivery per URL that wants ``event`` and send them once committed. Never raises."""
    try:
        return _emit(event, organization, data, job_id=job_id, callback_url=callback_url, endpoints=endpoints)
    except Exception:
        logger.exception("Could not record the %s webhook for organization %s", event, getattr(organization, "pk", ""))
        return []


def _emit(event, organization, data, *, job_id, callback_url, endpoints) -> list[WebhookDelivery]:
    if endpoints is None:
        endpoints = _subscribed(organization.pk, event)
    targets: list[tuple[WebhookEndpoint | None, str]] = [(e, e.url) for e in endpoints]
    if callback_url:
        try:
            targets.append((None, validate_url(callback_url)))
        except ValidationError:
            logger.warning("Job %s has an unusable callback_url; not delivering to it.", job_id)
    if not targets:
        return []
    event_id = uuid.uuid4()
    created = timezone.now()
    payload = {
        "id": str(event_id),
        "event": event,
        "created_at": created.isoformat().replace("+00:00", "Z"),
        "organization": organization.slug,
        "data": data,
    }
    with transaction.atomic():
        if any(endpoint is None for endpoint, _ in targets):
            callback_secret(organization)  # created on first use; an admin reveals it by rotating
        deliveries = [
            WebhookDelivery.objects.create(
                organization=organization,
                endpoint=endpoint,
                url=url,
                event=event,
                event_id=event_id,
                payload=payload,
                job_id=job_id,
                created_at=created,
                next_attempt_at=created,
            )
            for endpoint, url in targets
        ]
        for delivery in deliveries:
            transaction.on_commit(lambda pk=delivery.pk: publish(pk), robust=True)
    return deliveries


def send_test_event(endpoint: WebhookEndpoint) -> WebhookDelivery:
    deliveries = emit(
        TEST_EVENT,
        endpoint.organization,
        {"message": "A test event from QuizMarker. Verify its signature with this endpoint's secret."},
        endpoints=[endpoint],
    )
    if not deliveries:
        raise RuntimeError("The test event could not be recorded.")
    return deliveries[0]


def _subscribed(organization_id, event: str) -> list[WebhookEndpoint]:
    """The organization's active endpoints that want ``event``, each with its organization."""
    active = WebhookEndpoint.objects.filter(organization_id=organization_id, is_active=True)
    return [e for e in active.select_related("organization") if event in e.events]


def job_finished(sender, *, job_id, **kwargs) -> None:
    """On ``jobs.events.job_finished``: job.completed / job.failed for an extraction or grading job (emails are
    internal). Never raises."""
    from jobs.models import BackgroundJob, JobStatus, JobType

    try:
        job = BackgroundJob.objects.select_related("organization").filter(pk=job_id).first()
        if job is None or job.job_type not in (JobType.EXTRACTION, JobType.GRADING):
            return
        if job.status not in (JobStatus.COMPLETED, JobStatus.FAILED):
            return
        event = WebhookEvent.JOB_COMPLETED if job.status == JobStatus.COMPLETED else WebhookEvent.JOB_FAILED
        data = {
            "job_id": str(job.pk),
            "job_type": job.job_type,
            "status": job.status,
            "session_id": str(job.session_id) if job.session_id else None,
            "job_url": job.organization.url(f"/api/v1/jobs/{job.pk}"),
        }
        if job.status == JobStatus.COMPLETED:
            data["result"] = job.result
        else:
            data["error"] = job.error_message
            data["error_code"] = job.error_code
        emit(event, job.organization, data, job_id=job.pk, callback_url=(job.input or {}).get("callback_url"))
    except Exception:
        logger.exception("Could not emit the webhook for job %s", job_id)


def submissions_graded(sender, *, organization_id, job_id, result: dict, **kwargs) -> None:
    """On ``grading.events.submissions_graded``: submission.graded for every script the job graded (ids and scores
    only). Never raises."""
    try:
        endpoints = _subscribed(organization_id, WebhookEvent.SUBMISSION_GRADED)
        if not endpoints:  # nobody wants it (a job's callback_url hears only job events)
            return
        organization = endpoints[0].organization
        for summary in result.get("submissions", []):
            emit(
                WebhookEvent.SUBMISSION_GRADED,
                organization,
                {
                    "submission_id": summary["id"],
                    "grading_job_id": str(job_id),
                    "standard_id": result.get("standard_id"),
                    "status": "needs_review" if summary.get("needs_review") else "graded",
                    "total_score": summary.get("total_score"),
                    "max_score": summary.get("max_score"),
                    "percentage": summary.get("percentage"),
                    "questions_needing_review": summary.get("needs_review", 0),
                },
                job_id=job_id,
                endpoints=endpoints,
            )
    except Exception:
        logger.exception("Could not emit submission.graded for job %s", job_id)


def submission_reviewed(sender, *, schema_name: str, submission_id, question_number: int, **kwargs) -> None:
    """On ``grading.events.submission_reviewed``: submission.reviewed when a person sets a score or feedback. Never
    raises."""
    from grading.models import Submission
    from organizations.models import Organization
    from quizmarker.schemas import in_schema

    try:
        organization = Organization.objects.filter(schema_name=schema_name).first()
        if organization is None:
            return
        with in_schema(schema_name):
            submission = Submission.objects.filter(pk=submission_id).first()
            if submission is None:
                return
            data = {
                "submission_id": str(submission.pk),
                "question_number": question_number,
                "standard_id": submission.standard,
                "status": submission.status,
                "total_score": _text(submission.total_score),
                "max_score": _text(submission.max_score),
                "percentage": _text(submission.percentage),
                "needs_review": submission.needs_review,
            }
        emit(WebhookEvent.SUBMISSION_REVIEWED, organization, data)
    except Exception:
        logger.exception("Could not emit submission.reviewed for %s", submission_id)


def _text(value) -> str | None:
    return str(value) if value is not None else None
