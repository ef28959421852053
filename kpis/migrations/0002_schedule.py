"""The KPI jobs on the beat schedule (editable in admin: Periodic tasks)."""

from django.conf import settings
from django.db import migrations


def add_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_5_minutes, _ = IntervalSchedule.objects.get_or_create(every=5, period="minutes")
    nightly, _ = CrontabSchedule.objects.get_or_create(
        minute="30", hour="2", day_of_week="*", day_of_month="*", month_of_year="*", timezone=settings.TIME_ZONE
    )
    PeriodicTask.objects.get_or_create(
        name="Recompute KPIs touched since the last run", defaults={"task": "kpis.tasks.refresh_kpis",
                                                                     "interval": every_5_minutes},
    )  # fmt: skip
    PeriodicTask.objects.get_or_create(
        name="Recompute the KPIs of the last 31 days", defaults={"task": "kpis.tasks.refresh_recent_kpis",
                                                                 "crontab": nightly},
    )  # fmt: skip


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(task__startswith="kpis.tasks.").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("kpis", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(add_schedule, remove_schedule)]
