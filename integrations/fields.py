"""Serializer fields other apps use for integrations."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from rest_framework import serializers


class CallbackUrlField(serializers.URLField):
    """A job's own webhook address: receives that job's job.completed or job.failed, signed with the organization's
    callback secret. https (http and loopback hosts only in development)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 500)
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault(
            "help_text",
            "Receives this job's job.completed or job.failed webhook, signed with the organization's callback "
            "secret (https; http and loopback only in development).",
        )
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        from integrations.addresses import validate_url

        value = super().to_internal_value(data)
        if not value:
            return ""
        try:
            return validate_url(value)
        except ValidationError as exc:
            raise serializers.ValidationError(exc.messages)
