"""Sending webhook deliveries, with retries.

A Celery task on the ``low`` queue makes each attempt; a failed attempt (connection error, timeout or non-2xx answer)
is retried with exponential backoff until a day after the event. A receiver that is down therefore loses nothing.

Every delivery is the JSON body ``{"id", "event", "created_at", "organization", "data"}`` with headers
``X-QuizMarker-Event``, ``X-QuizMarker-Delivery`` and the signature (``integrations.signing``).
"""

from __future__ import annotations

import json
import logging
import random
import time
from datetime import timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from integrations import transport
from integrations.models import CallbackSecret, DeliveryStatus, WebhookDelivery
from integrations.signing import SIGNATURE_HEADER, sign
from quizmarker import queues

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10
RETRY_BASE_SECONDS = 30  # then 60, 120, ... doubling
RETRY_MAX_SECONDS = 3 * 3600
RETRY_FOR = timedelta(days=1)
# Short waits go to the broker as a countdown (well under its visibility timeout); longer ones and lost messages are
# picked up by the periodic send_due_webhooks task.
COUNTDOWN_LIMIT_SECONDS = 600
LOCK_SECONDS = TIMEOUT_SECONDS * 3


def publish(delivery_id, countdown: float | None = None) -> bool:
    """Hand a delivery to the low queue. False (the periodic sweep sends it later) when the broker is down."""
    from integrations.tasks import send_webhook

    try:
        send_webhook.apply_async(
            args=[str(delivery_id)], countdown=countdown, queue=queues.LOW, headers={"_schema_name": "public"}
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
