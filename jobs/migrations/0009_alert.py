"""Alerts for ops (jobs/alerts.py) and their check, every minute on beat."""

from django.db import migrations, models

TASK = ("jobs.tasks.check_alerts", "Open and resolve alerts for ops, emailing super admins")


def create(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    interval, _ = IntervalSchedule.objects.get_or_create(every=1, period="minutes")
    PeriodicTask.objects.update_or_create(
        name=TASK[1],
        defaults={"task": TASK[0], "interval": interval, "enabled": True, "queue": "high", "description": TASK[1]},
    )


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(task=TASK[0]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0008_alter_backgroundjob_job_type"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.CreateModel(
            name="Alert",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "key",
                    models.CharField(
                        help_text="What it is about: stuck_jobs, queue_age, budget:<slug>...", max_length=100
                    ),
                ),
                ("title", models.CharField(max_length=200)),
                ("detail", models.TextField()),
                ("opened_at", models.DateTimeField()),
                ("checked_at", models.DateTimeField(help_text="When the check last saw it.")),
                ("resolved_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "ordering": ["-opened_at"],
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("resolved_at__isnull", True)), fields=("key",), name="alert_one_open"
                    )
                ],
            },
        ),
        migrations.RunPython(create, remove),
    ]
