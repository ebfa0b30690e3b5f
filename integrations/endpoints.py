"""Webhook endpoints and the organization's callback secret: registering, their events, rotating secrets; a job's own
``callback_url``."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils import timezone

from integrations.addresses import validate_url
from integrations.models import CallbackSecret, WebhookEndpoint, WebhookEvent
from integrations.signing import new_secret

EVENTS = WebhookEvent.values


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


def attach_callback(job, callback_url: str | None) -> None:
    """Store a job's own callback_url in its input (call it in the transaction that created the job)."""
    if not callback_url:
        return
    from jobs.models import BackgroundJob

    job.input = {**(job.input or {}), "callback_url": callback_url}
    BackgroundJob.objects.filter(pk=job.pk).update(input=job.input)
