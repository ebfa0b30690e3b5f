"""The job status poll in one SQL statement.

Clients poll ``GET /api/v1/jobs/<id>`` every 2 s while a job runs, so it is the busiest request we serve. Through
DRF's usual path it took a statement to find the token's user and another to read the job with the caller's
membership checked. Here one statement does all of it: the token (by its prefix, not revoked, working in this
organization as ``integrations.tokens.works_in`` says), its user (active), the job (in this organization) and the
visibility rule of ``jobs.visibility.visible_job`` (a super admin, the job's owner if a member, or an owner/admin of
the organization).

When it finds nothing — no token, a bad or revoked one, a job that is not there or not the caller's to see — the
view falls back to the ordinary path, which answers with the right 401 or 404: the fast path never decides an
error, so it cannot answer differently from the rest of the API.
"""

from __future__ import annotations

import hmac
from functools import cache

from django.db import connection

from integrations.authentication import token_key
from integrations.models import ApiToken
from integrations.tokens import hash_key, parse_prefix, record_use
from jobs.models import BackgroundJob
from organizations.models import Membership, User
from organizations.permissions import MANAGING_ROLES


def _instance(model, values):
    """A model instance from its columns, with the fields' own conversions (JSON, for one) applied."""
    converted = [
        field.from_db_value(value, None, connection) if hasattr(field, "from_db_value") else value
        for field, value in zip(model._meta.concrete_fields, values, strict=True)
    ]
    return model.from_db(connection.alias, [f.attname for f in model._meta.concrete_fields], converted)


@cache
def _statement() -> str:
    """The SQL: the job's, the user's and the token's columns, in their models' order."""
    selected = [
        f'{alias}."{field.column}"'
        for model, alias in ((BackgroundJob, "j"), (User, "u"), (ApiToken, "t"))
        for field in model._meta.concrete_fields
    ]
    managing_roles = ", ".join(f"'{role.value}'" for role in MANAGING_ROLES)
    return f"""
        SELECT {", ".join(selected)}
        FROM {BackgroundJob._meta.db_table} j
        JOIN {ApiToken._meta.db_table} t ON t."prefix" = %s AND t."revoked_at" IS NULL
        JOIN {User._meta.db_table} u ON u."id" = t."user_id" AND u."is_active"
        WHERE j."id" = %s AND j."organization_id" = %s
          AND (t."organization_id" = j."organization_id" OR (t."organization_id" IS NULL AND u."is_superuser"))
          AND (u."is_superuser" OR EXISTS (
                SELECT 1 FROM {Membership._meta.db_table} m
                WHERE m."user_id" = u."id" AND m."organization_id" = j."organization_id"
                  AND (j."user_id" = u."id" OR m."role" IN ({managing_roles}))))
    """


def poll(request, organization, job_id) -> tuple[BackgroundJob, User, object] | None:
    """(job, user, token) when the request's token may see this job, in one query; None in every other case."""
    key = token_key(request)
    if key is None or organization is None:
        return None
    prefix = parse_prefix(key)
    if prefix is None:
        return None  # a malformed token: the ordinary path refuses it
    with connection.cursor() as cursor:
        cursor.execute(_statement(), [prefix, job_id, organization.pk])
        row = cursor.fetchone()
    if row is None:
        return None
    instances, start = [], 0
    for model in (BackgroundJob, User, ApiToken):  # the order _statement selects them in
        end = start + len(model._meta.concrete_fields)
        instances.append(_instance(model, row[start:end]))
        start = end
    job, user, token = instances
    token.user = user
    if not hmac.compare_digest(token.key_hash, hash_key(key)):
        return None  # the right prefix with the wrong secret: the ordinary path refuses it
    record_use(token)
    return job, user, token
