from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.db import connection
from django_tenants.utils import get_public_schema_name


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        # Signing up creates a new organization, so it happens on the bare domain only; people join an existing
        # organization by invitation.
        return connection.schema_name == get_public_schema_name()
