"""Signed webhooks: endpoints, events, deliveries with retries.

An event becomes one ``WebhookDelivery`` row per URL that wants it (the organization's endpoints subscribed to it,
and a job's own ``callback_url``), committed before anything is sent. A Celery task on the ``low`` queue makes each
attempt; a failed attempt (connection error, timeout or non-2xx answer) is retried with exponential backoff until a
day after the event. A receiver that is down therefore loses nothing, and nothing here ever raises into the job or
request that caused the event.

Every delivery is the JSON body ``{"id", "event", "created_at", "organization", "data"}`` with headers
``X-QuizMarker-Event``, ``X-QuizMarker-Delivery`` and ``X-QuizMarker-Signature: t=<unix>,v1=<hex>`` where
``v1 = HMAC-SHA256(secret, f"{t}.{body}")``. Payloads carry ids, statuses and scores only — never a student's
name, answers or feedback.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import random
import secrets
import time
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from integrations import transport
from integrations.models import (
    TEST_EVENT,
    CallbackSecret,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10
RETRY_BASE_SECONDS = 30  # then 60, 120, ... doubling
RETRY_MAX_SECONDS = 3 * 3600
RETRY_FOR = timedelta(days=1)
# Short waits go to the broker as a countdown (well under its visibility timeout); longer ones and lost messages are
# picked up by the periodic send_due_webhooks task.
COUNTDOWN_LIMIT_SECONDS = 600
LOCK_SECONDS = TIMEOUT_SECONDS * 3
SIGNATURE_HEADER = "X-QuizMarker-Signature"
EVENTS = WebhookEvent.values


# --- Secrets and signatures -------------------------------------------------------------------------


def new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


def sign(secret: str, timestamp: int, body: str | bytes) -> str:
    """The signature header's value for a body sent at ``timestamp``."""
    if isinstance(body, bytes):
        body = body.decode()
    digest = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: str | bytes, tolerance_seconds: int = 300) -> bool:
    """What a receiver does: recompute the HMAC over ``t.body`` and compare; reject old timestamps (replays)."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance_seconds:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


# --- Endpoints ---------------------------------------------------------------------------------------

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


def validate_url(url: str) -> str:
    """An address we may send to: https (http too in development), no credentials, and no literal address we would
    refuse to connect to. Host names are checked again, resolved, at every send (``transport.checked_address``)."""
    url = (url or "").strip()
    URLValidator(schemes=["http", "https"], message="Enter a full web address starting with https://.")(url)
    parts = urlsplit(url)
    if parts.username or parts.password:
        raise ValidationError("Put credentials in your receiver's configuration, not in the address.")
    host = (parts.hostname or "").strip("[]").lower()
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        host = "127.0.0.1"
    try:
        literal = bool(ipaddress.ip_address(host))
    except ValueError:
        literal = False
    if literal and not transport.address_allowed(host):
        raise ValidationError("Private, loopback and other non-public network addresses cannot receive webhooks.")
    if literal and ipaddress.ip_address(host).is_loopback:
        return url  # the test suite's own receivers (WEBHOOKS_ALLOW_LOOPBACK), on plain http
    if parts.scheme != "https" and not settings.DEBUG:
        raise ValidationError("Webhook addresses must use https://.")
    return url


def validate_events(events) -> list[str]:
    events = list(dict.fromkeys(events or []))
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        raise ValidationError(f"Unknown event(s): {', '.join(map(str, unknown))}. Choose from {', '.join(EVENTS)}.")
    if not events:
        raise ValidationError("Choose at least one event.")
    return events


def create_endpoint(
    *, organization, url: str, events, description: str = "", user=None, is_active: bool = True
) -> WebhookEndpoint:
    """Register an endpoint; its secret is on the returned object (show it once)."""
    return WebhookEndpoint.objects.create(
        organization=organization,
        is_active=is_active,
        url=validate_url(url),
        events=validate_events(events),
        description=(description or "").strip()[:200],
        secret=new_secret(),
        created_by=user if user is not None and user.is_authenticated else None,
    )


def rotate_secret(endpoint: WebhookEndpoint) -> str:
    endpoint.secret = new_secret()
    endpoint.secret_rotated_at = timezone.now()
    endpoint.save(update_fields=["secret", "secret_rotated_at"])
    return endpoint.secret


def callback_secret(organization) -> CallbackSecret:
    secret, _ = CallbackSecret.objects.get_or_create(organization=organization, defaults={"secret": new_secret()})
    return secret


def rotate_callback_secret(organization) -> str:
    secret = callback_secret(organization)
    secret.secret = new_secret()
    secret.rotated_at = timezone.now()
    secret.save(update_fields=["secret", "rotated_at"])
    return secret.secret


# --- Events ------------------------------------------------------------------------------------------


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
        endpoints = [
            e for e in WebhookEndpoint.objects.filter(organization=organization, is_active=True) if event in e.events
        ]
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


def _organization(organization_id):
    from organizations.models import Organization

    return Organization.objects.filter(pk=organization_id).first()


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
        organization = _organization(organization_id)
        if organization is None:
            return
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
            )
    except Exception:
        logger.exception("Could not emit submission.graded for job %s", job_id)


def submission_reviewed(sender, *, schema_name: str, submission_id, question_number: int, **kwargs) -> None:
    """On ``grading.events.submission_reviewed``: submission.reviewed when a person sets a score or feedback. Never
    raises."""
    from django_tenants.utils import schema_context

    from grading.models import Submission
    from organizations.models import Organization

    try:
        organization = Organization.objects.filter(schema_name=schema_name).first()
        if organization is None:
            return
        with schema_context(schema_name):
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


# --- Sending -----------------------------------------------------------------------------------------


def publish(delivery_id, countdown: float | None = None) -> bool:
    """Hand a delivery to the low queue. False (the periodic sweep sends it later) when the broker is down."""
    from integrations.tasks import send_webhook

    try:
        send_webhook.apply_async(
            args=[str(delivery_id)], countdown=countdown, queue="low", headers={"_schema_name": "public"}
        )
    except Exception as exc:  # kombu, redis or socket errors: the row stays pending for the sweep
        logger.warning("Broker unavailable; webhook delivery %s waits for the sweep: %s", delivery_id, exc)
        return False
    return True


def retry_delay(attempts: int) -> float:
    """Exponential backoff with jitter: about 30 s, 1 min, 2 min ... capped at 3 h."""
    ceiling = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * (2 ** max(0, attempts - 1)))
    return round(random.uniform(ceiling * 0.8, ceiling), 1)


def _secret_for(delivery: WebhookDelivery) -> str | None:
    if delivery.endpoint_id:
        return delivery.endpoint.secret
    secret = CallbackSecret.objects.filter(organization_id=delivery.organization_id).first()
    return secret.secret if secret else None


def deliver(delivery_id) -> str:
    """Make one attempt if the delivery is due and not already in flight; record the outcome and the next retry."""
    now = timezone.now()
    claimed = (
        WebhookDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .update(locked_until=now + timedelta(seconds=LOCK_SECONDS), attempts=F("attempts") + 1, last_attempt_at=now)
    )
    if not claimed:
        return "skipped"
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    if delivery.endpoint_id and not delivery.endpoint.is_active:
        _finish(delivery, DeliveryStatus.FAILED, error="The endpoint was disabled.")
        return "failed"
    secret = _secret_for(delivery)
    if not secret:
        _finish(delivery, DeliveryStatus.FAILED, error="No signing secret.")
        return "failed"
    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "QuizMarker-Webhooks/1",
        "X-QuizMarker-Event": delivery.event,
        "X-QuizMarker-Delivery": str(delivery.pk),
        SIGNATURE_HEADER: sign(secret, int(time.time()), body),
    }
    started = time.monotonic()
    code, error = None, ""
    try:
        code = transport.post(delivery.url, body.encode(), headers, timeout=TIMEOUT_SECONDS)
        if not 200 <= code < 300:
            error = f"The receiver answered {code}."
    except transport.DeliveryError as exc:  # shown by category: an exception's text can carry internal detail
        error = f"{exc.category}: {transport.CATEGORIES[exc.category]}"
        if exc.permanent:
            _finish(delivery, DeliveryStatus.FAILED, error=error)
            return "failed"
    except Exception:  # anything else is worth another try too, and its text is for the log only
        logger.exception("Webhook delivery %s failed unexpectedly", delivery.pk)
        error = "connection failed: The delivery failed; we will try again."
    latency = int((time.monotonic() - started) * 1000)
    if not error:
        _finish(delivery, DeliveryStatus.DELIVERED, code=code, latency=latency)
        return "delivered"
    delay = retry_delay(delivery.attempts)
    next_at = timezone.now() + timedelta(seconds=delay)
    if next_at > delivery.created_at + RETRY_FOR:
        _finish(delivery, DeliveryStatus.FAILED, code=code, latency=latency, error=f"{error} Gave up after a day.")
        return "failed"
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        response_code=code, latency_ms=latency, last_error=error, next_attempt_at=next_at, locked_until=None
    )
    if delay <= COUNTDOWN_LIMIT_SECONDS:
        publish(delivery.pk, countdown=delay)
    return "retrying"


def _finish(delivery, status: str, *, code=None, latency=None, error: str = "") -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=status,
        response_code=code,
        latency_ms=latency,
        last_error=error[:300],
        next_attempt_at=None,
        locked_until=None,
        delivered_at=timezone.now() if status == DeliveryStatus.DELIVERED else None,
    )


def send_due() -> int:
    """Publish deliveries that are due and not in flight (long backoffs, and messages the broker lost)."""
    now = timezone.now()
    due = (
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now - timedelta(seconds=15))
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:500]
    )
    return sum(1 for pk in due if publish(pk))


def redeliver(delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again now (also one that gave up): the same event id and body."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.PENDING, next_attempt_at=timezone.now(), locked_until=None
    )
    transaction.on_commit(lambda: publish(delivery.pk), robust=True)
    delivery.refresh_from_db()
    return delivery


def attach_callback(job, callback_url: str | None) -> None:
    """Store a job's own callback_url in its input (call it in the transaction that created the job)."""
    if not callback_url:
        return
    from jobs.models import BackgroundJob

    job.input = {**(job.input or {}), "callback_url": callback_url}
    BackgroundJob.objects.filter(pk=job.pk).update(input=job.input)
