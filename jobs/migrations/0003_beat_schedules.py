"""The periodic housekeeping schedules. Created here so every deployment has them; editable in the admin."""

from django.db import migrations

SCHEDULES = [
    # (task, every, period, description)
    ("jobs.tasks.sweep_queued_jobs", 30, "seconds", "Publish queued jobs that never reached the broker"),
    ("jobs.tasks.reap_stuck_jobs", 5, "minutes", "Re-queue or fail jobs whose worker died or that ran too long"),
    ("jobs.tasks.cleanup_expired_jobs", 1, "hours", "Delete finished jobs past their expiry and their files"),
    ("jobs.tasks.remove_orphaned_uploads", 6, "hours", "Remove upload folders that belong to no job"),
]


def create(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for task, every, period, description in SCHEDULES:
        interval, _ = IntervalSchedule.objects.get_or_create(every=every, period=period)
        PeriodicTask.objects.update_or_create(
            name=description,
            defaults={"task": task, "interval": interval, "enabled": True, "queue": "high",
                      "description": description},
        )


def remove(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(task__in=[task for task, *_ in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0002_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
