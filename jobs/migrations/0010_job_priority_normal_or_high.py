from django.db import migrations, models


def every_job_so_far_was_normal(apps, schema_editor):
    """The field held the job type's queue name (default, low); nobody could ask for a priority before."""
    apps.get_model("jobs", "BackgroundJob").objects.exclude(priority="normal").update(priority="normal")


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0009_alert"),
    ]

    operations = [
        migrations.AlterField(
            model_name="backgroundjob",
            name="priority",
            field=models.CharField(choices=[("normal", "Normal"), ("high", "High")], default="normal", max_length=10),
        ),
        migrations.RunPython(every_job_so_far_was_normal, migrations.RunPython.noop),
    ]
