"""What integrators configure: personal API tokens, webhook endpoints and the log of webhook deliveries.

All of it lives in the public schema. None of it holds student data: tokens belong to users, and a delivery's payload
carries ids, statuses and scores only — never a student's name, answers or feedback.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiToken(models.Model):
    """A personal API token. Only a SHA-256 hash of the secret is stored; the key is shown once, at creation.

    A key looks like ``qm_<prefix>_<secret>``: the prefix finds the row, the hash of the whole key proves it. Keys
    that DRF's retired authtoken app issued (40 hex characters) were moved here by migration 0003, hashed, with the
    prefix ``drf<first 10 characters>``.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    # The organization the token was created in: it works there only. Empty for a super admin's token, which
    # works in every organization while its user is a super admin.
    organization = models.ForeignKey(
        "organizations.Organization",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="api_tokens",
        help_text="Where the token works. Empty: every organization (super admins' tokens only).",
    )
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. “LMS sync”.")
    prefix = models.CharField(max_length=16, unique=True, help_text="The public start of the key, to recognise it.")
    key_hash = models.CharField(max_length=64, help_text="SHA-256 of the key (hex); the key itself is not stored.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, help_text="Updated at most once a minute.")
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…) of {self.user}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def all_organizations(self) -> bool:
        """A super admin's token, not tied to one organization."""
        return self.organization_id is None


class WebhookEvent(models.TextChoices):
    JOB_COMPLETED = "job.completed", "A job completed"
    JOB_FAILED = "job.failed", "A job failed"
    SUBMISSION_GRADED = "submission.graded", "A submission was graded"
    SUBMISSION_REVIEWED = "submission.reviewed", "A person changed a submission's score"


TEST_EVENT = "webhook.test"


class WebhookEndpoint(models.Model):
    """A URL of an integrator's that receives an organization's events, signed with the endpoint's secret."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list, help_text="Event names this endpoint receives.")
    # Needed in clear to sign each delivery (HMAC); shown to people once, when created or rotated.
    secret = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    secret_rotated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.url} ({self.organization_id})"


class CallbackSecret(models.Model):
    """The secret that signs deliveries to a job's own ``callback_url`` (one per organization, rotatable)."""

    organization = models.OneToOneField(
        "organizations.Organization", on_delete=models.CASCADE, related_name="callback_secret"
    )
    secret = models.CharField(max_length=100)
    rotated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Callback secret of {self.organization_id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Gave up"


class WebhookDelivery(models.Model):
    """One event to one URL, with every attempt's outcome. Rows persist, so a receiver that is down loses nothing."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.CASCADE, related_name="webhook_deliveries"
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    url = models.URLField(max_length=500, help_text="Where it goes (the endpoint's URL, or a job's callback_url).")
    event = models.CharField(max_length=40, db_index=True)
    event_id = models.UUIDField(default=uuid.uuid4, help_text="The event's id (the same for every URL it goes to).")
    payload = models.JSONField(help_text="The exact JSON body (ids, statuses and scores only).")
    job_id = models.UUIDField(null=True, blank=True, db_index=True)
    status = models.CharField(
        max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING, db_index=True
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, default=timezone.now, db_index=True)
    locked_until = models.DateTimeField(null=True, blank=True, help_text="An attempt in flight holds the row.")
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_status_due")]

    def __str__(self) -> str:
        return f"{self.event} to {self.url} ({self.status})"
