"""Webhook signatures: ``X-QuizMarker-Signature: t=<unix>,v1=<hex>`` where ``v1 = HMAC-SHA256(secret, f"{t}.{body}")``;
the secrets that sign them."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

SIGNATURE_HEADER = "X-QuizMarker-Signature"


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
