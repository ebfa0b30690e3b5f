"""Drop the single-column index on BackgroundJob.organization: job_org_status_created starts with that column.

Written by hand: the AlterField that makemigrations writes for db_index=False also drops and re-creates the foreign
key constraint, which locks the job table while PostgreSQL checks every row. Only the index goes here, concurrently,
so job polls and workers are not blocked while it is dropped."""

import django.db.models.deletion
from django.db import migrations, models

INDEX = "jobs_backgroundjob_organization_id_9749977d"  # Django's name for the index the FK had


class Migration(migrations.Migration):
    atomic = False  # DROP INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ("jobs", "0004_attempt_started_at"),
        ("organizations", "0002_organization_deleted_at_adminaccesslog_invitation"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="backgroundjob",
                    name="organization",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="jobs",
                        to="organizations.organization",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX CONCURRENTLY IF EXISTS "{INDEX}"',
                    reverse_sql=f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{INDEX}" ON "jobs_backgroundjob" ("organization_id")',
                ),
            ],
        ),
    ]
