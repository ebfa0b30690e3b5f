"""Tokens work in one organization; DRF's authtoken keys (stored in clear) move here, hashed, and their table goes.

Existing tokens, personal ones and DRF's alike:
- a super admin's keeps working everywhere (organization empty, shown as "all organizations");
- a token of someone who belongs to exactly one organization keeps working, in that organization;
- a token of someone who belongs to several organizations, or to none, is revoked: which one it was meant for cannot
  be known, so its owner creates a new one in the organization they want.
"""

import hashlib

import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone

LEGACY_TABLE = "authtoken_token"


def _scope_of(user_id, superusers, memberships):
    if user_id in superusers:
        return None, False
    organizations = memberships.get(user_id, [])
    if len(organizations) == 1:
        return organizations[0], False
    return None, True  # revoke


def scope_and_move(apps, schema_editor):
    ApiToken = apps.get_model("integrations", "ApiToken")
    User = apps.get_model("organizations", "User")
    Membership = apps.get_model("organizations", "Membership")
    superusers = set(User.objects.filter(is_superuser=True).values_list("pk", flat=True))
    memberships: dict[int, list[int]] = {}
    for user_id, organization_id in Membership.objects.values_list("user_id", "organization_id"):
        memberships.setdefault(user_id, []).append(organization_id)
    now = timezone.now()
    for token in ApiToken.objects.filter(revoked_at__isnull=True, organization__isnull=True):
        token.organization_id, revoke = _scope_of(token.user_id, superusers, memberships)
        token.revoked_at = now if revoke else None
        token.save(update_fields=["organization", "revoked_at"])

    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if LEGACY_TABLE not in connection.introspection.table_names(cursor):
            return
        cursor.execute(f"SELECT key, user_id, created FROM {LEGACY_TABLE}")
        for key, user_id, created in cursor.fetchall():
            organization_id, revoke = _scope_of(user_id, superusers, memberships)
            ApiToken.objects.create(
                user_id=user_id,
                organization_id=organization_id,
                name="Key made by drf_create_token (before tokens were hashed)",
                prefix=f"drf{key[:10]}",
                key_hash=hashlib.sha256(key.encode()).hexdigest(),
                created_at=created,
                revoked_at=now if revoke else None,
            )
        cursor.execute(f"DROP TABLE {LEGACY_TABLE}")


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0002_beat_schedule"),
        ("organizations", "0002_organization_deleted_at_adminaccesslog_invitation"),
    ]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="organization",
            field=models.ForeignKey(
                blank=True,
                help_text="Where the token works. Empty: every organization (super admins' tokens only).",
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="api_tokens",
                to="organizations.organization",
            ),
        ),
        migrations.RunPython(scope_and_move, migrations.RunPython.noop),
    ]
