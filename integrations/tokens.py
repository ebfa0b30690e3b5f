"""Personal API tokens: create (the key is returned once), check, revoke. Only a SHA-256 hash is stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from integrations.models import ApiToken

KEY_START = "qm_"
# last_used_at is written at most this often per token, so authenticating costs one indexed read.
LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_ACTIVE_TOKENS_PER_USER = 50


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_token(user, name: str) -> tuple[ApiToken, str]:
    """A new token for ``user``; returns it and its key, which is not stored and cannot be shown again."""
    name = (name or "").strip()[:100] or "API token"
    while True:
        prefix = secrets.token_hex(4)  # 8 characters
        if not ApiToken.objects.filter(prefix=prefix).exists():
            break
    key = f"{KEY_START}{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(user=user, name=name, prefix=prefix, key_hash=hash_key(key))
    return token, key


def too_many_tokens(user) -> bool:
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).count() >= MAX_ACTIVE_TOKENS_PER_USER


def parse_prefix(key: str) -> str | None:
    if not key.startswith(KEY_START):
        return None
    prefix, sep, secret = key[len(KEY_START) :].partition("_")
    if not sep or not prefix or not secret:
        return None
    return prefix


def check_key(key: str) -> ApiToken | None:
    """The active token with this key (its user loaded), or None. Records the use (at most once a minute)."""
    prefix = parse_prefix(key)
    if prefix is None:
        return None
    token = ApiToken.objects.select_related("user").filter(prefix=prefix, revoked_at__isnull=True).first()
    if token is None or not hmac.compare_digest(token.key_hash, hash_key(key)):
        return None
    record_use(token)
    return token


def record_use(token: ApiToken) -> None:
    """Note that the token was used now, writing at most once a minute per token."""
    now = timezone.now()
    if token.last_used_at is None or token.last_used_at < now - LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
        ).update(last_used_at=now)
        token.last_used_at = now


def revoke_token(token: ApiToken) -> bool:
    """Revoke a token at once; False if it already was."""
    done = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    token.refresh_from_db()
    return bool(done)


def tokens_of(user):
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).order_by("-created_at")
