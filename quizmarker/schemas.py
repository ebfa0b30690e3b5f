"""Entering an organization's schema: the one way our code does it (``in_schema``), so that entering the schema the
connection is already on costs nothing.

django-tenants forgets the search_path it set on every ``set_schema``/``set_tenant``, so each entry into and exit
from ``schema_context`` makes the connection's next statement a ``SET search_path``, even to the schema it was
already on (``TENANT_LIMIT_SET_CALLS`` only spares the SETs between two switches). A worker's task already runs in
its organization's schema (tenant-schemas-celery switches to the schema its message was sent from), and a request
in its organization's: there, entering that schema again is a no-op.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

from django.db import connection
from django_tenants.utils import schema_context


def in_schema(schema_name: str) -> AbstractContextManager:
    """``schema_context(schema_name)``, or nothing to do when the connection is on that schema already (with the
    public schema on its search_path, as ``schema_context`` would leave it)."""
    if connection.schema_name == schema_name and connection.include_public_schema:
        return nullcontext()
    return schema_context(schema_name)
