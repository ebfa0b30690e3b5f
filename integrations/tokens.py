"""Personal API tokens: create (the key is returned once), check, revoke. Only a SHA-256 hash is stored.

A token works in the organization it was created in, and nowhere else; a super admin's token works in every
organization, and only while its user is a super admin. Changing or resetting a password revokes every token of the
user (``revoke_all``, connected to allauth's signals in ``integrations.apps``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from integrations.models import ApiToken

KEY_START = "qm_"
# Keys DRF's retired authtoken app issued: 40 hex characters, moved here hashed (migration 0003).
LEGACY_PREFIX = "drf"
LEGACY_KEY_LENGTH = 40
# last_used_at is written at most this often per token, so authenticating costs one indexed read.
LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_ACTIVE_TOKENS_PER_USER = 50


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_token(user, name: str, organization) -> tuple[ApiToken, str]:
    """A new token for ``user`` that works in ``organization`` (a super admin's works in every organization);
    returns it and its key, which is not stored and cannot be shown again."""
    name = (name or "").strip()[:100] or "API token"
    while True:
        prefix = secrets.token_hex(4)  # 8 characters
        if not ApiToken.objects.filter(prefix=prefix).exists():
            break
    key = f"{KEY_START}{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(
        user=user,
        organization=None if user.is_superuser else organization,
        name=name,
        prefix=prefix,
        key_hash=hash_key(key),
    )
    return token, key


def too_many_tokens(user) -> bool:
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).count() >= MAX_ACTIVE_TOKENS_PER_USER


def legacy_prefix(key: str) -> str | None:
    """The row prefix of a key DRF's authtoken app issued, or None when ``key`` is not such a key."""
    if len(key) != LEGACY_KEY_LENGTH or any(c not in "0123456789abcdef" for c in key):
        return None
    return f"{LEGACY_PREFIX}{key[:10]}"


def parse_prefix(key: str) -> str | None:
    if not key.startswith(KEY_START):
        return legacy_prefix(key)
    prefix, sep, secret = key[len(KEY_START) :].partition("_")
    if not sep or not prefix or not secret:
        return None
    return prefix


def find_token(key: str) -> ApiToken | None:
    """The token row this key names by its prefix (its user loaded), or None; ``key_matches`` says if it is its key."""
    prefix = parse_prefix(key)
    if prefix is None:
        return None
    return ApiToken.objects.select_related("user").filter(prefix=prefix).first()


def key_matches(token: ApiToken, key: str) -> bool:
    """Whether ``key`` is this token's and the token is not revoked. Records the use (at most once a minute)."""
    if token.revoked_at is not None or not hmac.compare_digest(token.key_hash, hash_key(key)):
        return False
    record_use(token)
    return True


def works_in(token: ApiToken, organization) -> bool:
    """Whether the token may act in ``organization``: the one it was created in, or any for a super admin's."""
    if token.organization_id is None:
        return token.user.is_superuser
    return organization is not None and token.organization_id == organization.pk


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


def revoke_all(user) -> int:
    """Revoke every active token of ``user`` (their password changed: whoever held a key must sign in again)."""
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())


def tokens_of(user):
    return (
        ApiToken.objects.filter(user=user, revoked_at__isnull=True)
        .select_related("organization")
        .order_by("-created_at")
    )
