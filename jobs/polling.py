"""The job status poll in one statement, deciding nothing itself.

Clients poll ``GET /api/v1/jobs/<id>`` every 2 s while a job runs, so it is the busiest request we serve. The ordinary
path reads the token (``integrations.tokens``) and then the job with the caller's membership
(``jobs.visibility.visible_job``): two statements. Here one statement loads the same rows by their keys only — the
token by its prefix, its user, the job by id in this organization and the user's membership there — and the decisions
are made by the functions the ordinary path calls: ``integrations.authentication.user_for_token`` (the key, an active
user, the organization the token works in) and ``organizations.permissions.sees_work_of`` (who sees a job).

When anything is missing or refused, the view takes the ordinary path, which answers with the right 401 or 404: the
fast path never decides an error, so it cannot answer differently from the rest of the API.
"""

from __future__ import annotations

from functools import cache

from django.db import connection
from rest_framework.exceptions import AuthenticationFailed

from integrations.authentication import token_key, user_for_token
from integrations.models import ApiToken
from integrations.tokens import parse_prefix
from jobs.models import BackgroundJob
from organizations.models import Membership, User
from organizations.permissions import sees_work_of

_MODELS = (BackgroundJob, User, ApiToken)  # the order the statement selects their columns in


def _instance(model, values):
    """A model instance from its columns, with the fields' own conversions (JSON, for one) applied."""
    converted = [
        field.from_db_value(value, None, connection) if hasattr(field, "from_db_value") else value
        for field, value in zip(model._meta.concrete_fields, values, strict=True)
    ]
    return model.from_db(connection.alias, [f.attname for f in model._meta.concrete_fields], converted)


@cache
def _statement() -> str:
    """The job's, the user's and the token's columns, then the user's role in the job's organization (or NULL)."""
    selected = [
        f'{alias}."{field.column}"'
        for model, alias in zip(_MODELS, ("j", "u", "t"), strict=True)
        for field in model._meta.concrete_fields
    ]
    return f"""
        SELECT {", ".join(selected)}, m."role"
        FROM {ApiToken._meta.db_table} t
        JOIN {User._meta.db_table} u ON u."id" = t."user_id"
        JOIN {BackgroundJob._meta.db_table} j ON j."id" = %s AND j."organization_id" = %s
        LEFT JOIN {Membership._meta.db_table} m ON m."user_id" = u."id" AND m."organization_id" = j."organization_id"
        WHERE t."prefix" = %s
    """


def poll(request, organization, job_id) -> tuple[BackgroundJob, User, ApiToken] | None:
    """(job, user, token) when the request's token may see this job, in one query; None in every other case."""
    key = token_key(request)
    if key is None or organization is None:
        return None
    prefix = parse_prefix(key)
    if prefix is None:
        return None  # a malformed token: the ordinary path refuses it
    with connection.cursor() as cursor:
        cursor.execute(_statement(), [job_id, organization.pk, prefix])
        row = cursor.fetchone()
    if row is None:
        return None
    instances, start = [], 0
    for model in _MODELS:
        end = start + len(model._meta.concrete_fields)
        instances.append(_instance(model, row[start:end]))
        start = end
    job, user, token = instances
    role = row[-1]
    token.user = user
    try:
        user_for_token(token, key, organization)
    except AuthenticationFailed:
        return None
    membership = Membership(user=user, organization=organization, role=role) if role else None
    if not sees_work_of(user, membership, job.user_id):
        return None
    return job, user, token
