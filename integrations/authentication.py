"""``Authorization: Token <key>``: self-service API tokens (``qm_...``, also made by ``manage.py drf_create_token``)
and the keys DRF's retired authtoken app issued, moved into the same table hashed. A token works only in the
organization it was created in (a super admin's in every one)."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from integrations.models import ApiToken
from integrations.tokens import find_token, key_matches, works_in


def token_key(request, keyword: str = "Token") -> str | None:
    """The key of an ``Authorization: Token <key>`` header, or None when there is no such header."""
    parts = get_authorization_header(request).split()
    if len(parts) != 2 or parts[0].lower() != keyword.lower().encode():
        return None
    try:
        return parts[1].decode()
    except UnicodeError:
        return None


def user_for_token(token: ApiToken | None, key: str, organization):
    """The user ``key`` acts as in ``organization`` (``token``: the row its prefix names), or AuthenticationFailed
    saying why. The API's authentication, and the job-status poll's (jobs.polling), which loads the row its own way."""
    if token is None or not key_matches(token, key) or not token.user.is_active:
        raise exceptions.AuthenticationFailed("The API token is invalid or has been revoked.")
    if not works_in(token, organization):
        raise exceptions.AuthenticationFailed(
            "This API token was created in another organization and works only there; create a token in this "
            "organization (Account → API tokens on its site)."
        )
    return token.user


class ApiTokenAuthentication(BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        key = token_key(request, self.keyword)
        if key is None:
            return None
        token = find_token(key)
        return user_for_token(token, key, getattr(request, "organization", None)), token

    def authenticate_header(self, request) -> str:
        return self.keyword


TOKEN_SCHEME = {
    "type": "apiKey",
    "in": "header",
    "name": "Authorization",
    "description": (
        "`Authorization: Token <key>`. Create keys under Account → API tokens (they start with `qm_` and are "
        "shown once), or ask an operator for one made with `python manage.py drf_create_token <email>`. A "
        "token acts as its user, with the user's role, and only in the organization it was created in (a super "
        "admin's token in every organization). Changing or resetting the password revokes all of the user's tokens."
    ),
}


class TokenScheme(OpenApiAuthenticationExtension):
    """The token scheme as the schema shows it, tokenAuth."""

    target_class = "integrations.authentication.ApiTokenAuthentication"
    name = "tokenAuth"
    priority = 1

    def get_security_definition(self, auto_schema):
        return TOKEN_SCHEME
