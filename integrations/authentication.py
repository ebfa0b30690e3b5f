"""``Authorization: Token qm_...`` for self-service API tokens. Other keys (DRF authtoken keys made with
``manage.py drf_create_token``) are left to the next authentication class."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from integrations.tokens import KEY_START, check_key


def token_key(request, keyword: str = "Token") -> str | None:
    """The key of an ``Authorization: Token <key>`` header, or None when there is no such header."""
    parts = get_authorization_header(request).split()
    if len(parts) != 2 or parts[0].lower() != keyword.lower().encode():
        return None
    try:
        return parts[1].decode()
    except UnicodeError:
        return None


class ApiTokenAuthentication(BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        key = token_key(request, self.keyword)
        if key is None:
            return None
        if not key.startswith(KEY_START):
            return None  # a DRF authtoken key: TokenAuthentication decides
        token = check_key(key)
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("The API token is invalid or has been revoked.")
        return token.user, token

    def authenticate_header(self, request) -> str:
        return self.keyword


TOKEN_SCHEME = {
    "type": "apiKey",
    "in": "header",
    "name": "Authorization",
    "description": (
        "`Authorization: Token <key>`. Create keys under Account → API tokens (they start with `qm_` and are "
        "shown once), or ask an operator for one made with `python manage.py drf_create_token <email>`. A "
        "token acts as its user: only in organizations the user belongs to, with the user's role."
    ),
}


class TokenScheme(OpenApiAuthenticationExtension):
    """Both token classes read the same header; the schema shows them as one scheme (SPECTACULAR_SETTINGS lists
    only DRF's class in AUTHENTICATION_WHITELIST), described here."""

    target_class = "rest_framework.authentication.TokenAuthentication"
    name = "tokenAuth"
    priority = 1

    def get_security_definition(self, auto_schema):
        return TOKEN_SCHEME
