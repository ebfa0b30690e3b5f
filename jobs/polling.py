"""The job status poll in one SQL statement.

Clients poll ``GET /api/v1/jobs/<id>`` every 2 s while a job runs, so it is the busiest request we serve. Through
DRF's usual path it took a statement to find the token's user and another to read the job with the caller's
membership checked. Here one statement does all of it: the token (a personal ``qm_`` token by its prefix, not
revoked, or a DRF authtoken key), its user (active), the job (in this organization) and the visibility rule of
``jobs.services.visible_job`` (a super admin, the job's owner if a member, or an owner/admin of the organization).

When it finds nothing — no token, a bad or revoked one, a job that is not there or not the caller's to see — the
view falls back to the ordinary path, which answers with the right 401 or 404: the fast path never decides an
error, so it cannot answer differently from the rest of the API.
"""

from __future__ import annotations

import hmac
from functools import cache

from django.db import connection
from rest_framework.authtoken.models import Token

from integrations.authentication import token_key
from integrations.models import ApiToken
from integrations.tokens import KEY_START, hash_key, parse_prefix, record_use
from jobs.models import BackgroundJob
from organizations.models import Membership, Role, User


def _instance(model, values):
    """A model instance from its columns, with the fields' own conversions (JSON, for one) applied."""
    converted = [
        field.from_db_value(value, None, connection) if hasattr(field, "from_db_value") else value
        for field, value in zip(model._meta.concrete_fields, values, strict=True)
    ]
    return model.from_db(connection.alias, [f.attname for f in model._meta.concrete_fields], converted)


@cache
def _statement(token_model) -> str:
    """The SQL for one kind of token: the job's, the user's and the token's columns, in their models' order."""
    selected = [
        f'{alias}."{field.column}"'
        for model, alias in ((BackgroundJob, "j"), (User, "u"), (token_model, "t"))
        for field in model._meta.concrete_fields
    ]
    if token_model is ApiToken:
        token_match = 't."prefix" = %s AND t."revoked_at" IS NULL'
    else:
        token_match = 't."key" = %s'
    return f"""
        SELECT {", ".join(selected)}
        FROM {BackgroundJob._meta.db_table} j
        JOIN {token_model._meta.db_table} t ON {token_match}
        JOIN {User._meta.db_table} u ON u."id" = t."user_id" AND u."is_active"
        WHERE j."id" = %s AND j."organization_id" = %s
          AND (u."is_superuser" OR EXISTS (
                SELECT 1 FROM {Membership._meta.db_table} m
                WHERE m."user_id" = u."id" AND m."organization_id" = j."organization_id"
                  AND (j."user_id" = u."id" OR m."role" IN ('{Role.OWNER.value}', '{Role.ADMIN.value}'))))
    """


def poll(request, organization, job_id) -> tuple[BackgroundJob, User, object] | None:
    """(job, user, token) when the request's token may see this job, in one query; None in every other case."""
    key = token_key(request)
    if key is None or organization is None:
        return None
    prefix = parse_prefix(key)
    if prefix is None and key.startswith(KEY_START):
        return None  # a malformed personal token: the ordinary path refuses it
    token_model = ApiToken if prefix is not None else Token
    sql = _statement(token_model)
    with connection.cursor() as cursor:
        cursor.execute(sql, [prefix if prefix is not None else key, job_id, organization.pk])
        row = cursor.fetchone()
    if row is None:
        return None
    instances, start = [], 0
    for model in (BackgroundJob, User, token_model):  # the order _statement selects them in
        end = start + len(model._meta.concrete_fields)
        instances.append(_instance(model, row[start:end]))
        start = end
    job, user, token = instances
    token.user = user
    if token_model is ApiToken:
        if not hmac.compare_digest(token.key_hash, hash_key(key)):
            return None  # the right prefix with the wrong secret: the ordinary path refuses it
        record_use(token)
    return job, user, token
