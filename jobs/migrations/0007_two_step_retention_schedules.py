"""Retention in two steps: the hourly clean-up now removes only expired jobs' files and input/result, and a daily
schedule deletes job rows, logs and sessions older than JOB_HISTORY_DAYS. Both are editable in the admin."""

from django.db import migrations

FILES = ("jobs.tasks.cleanup_expired_jobs", "Remove expired jobs' files and input/result (rows and logs stay)")
OLD_FILES_NAME = "Delete finished jobs past their expiry and their files"
HISTORY = ("jobs.tasks.remove_old_job_history", "Delete job rows, logs and sessions older than JOB_HISTORY_DAYS")
HISTORY_INTERVAL = (1, "days")  # (every, period)


def create(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    task, description = FILES
    PeriodicTask.objects.filter(task=task, name=OLD_FILES_NAME).update(name=description, description=description)
    every, period = HISTORY_INTERVAL
    daily, _ = IntervalSchedule.objects.get_or_create(every=every, period=period)
    task, description = HISTORY
    PeriodicTask.objects.update_or_create(
        name=description,
        defaults={"task": task, "interval": daily, "enabled": True, "queue": "high", "description": description},
    )


def remove(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(task=HISTORY[0]).delete()
    PeriodicTask.objects.filter(task=FILES[0], name=FILES[1]).update(name=OLD_FILES_NAME, description=OLD_FILES_NAME)


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0006_job_history"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
