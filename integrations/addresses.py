"""Which addresses may receive webhooks (checked when an address is saved; ``transport`` checks the resolved address
again at every send)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from integrations import transport

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
