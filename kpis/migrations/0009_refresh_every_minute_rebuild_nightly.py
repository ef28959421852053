"""The dashboard live within a minute: the incremental run every minute; the nightly run a full
rebuild (editable in admin: Periodic tasks)."""

from django.db import migrations

INCREMENTAL = "kpis.tasks.refresh_kpis"
NIGHTLY_BEFORE, NIGHTLY = "kpis.tasks.refresh_recent_kpis", "kpis.tasks.rebuild_kpis"


def add_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    minute, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    PeriodicTask.objects.filter(task=INCREMENTAL, interval__every=5, interval__period="minutes").update(interval=minute)
    if PeriodicTask.objects.filter(task=NIGHTLY).exists():  # idempotent: the tests load it again
        PeriodicTask.objects.filter(task=NIGHTLY_BEFORE).delete()
    else:
        PeriodicTask.objects.filter(task=NIGHTLY_BEFORE).update(task=NIGHTLY, name="Rebuild every KPI from scratch")


def every_five_minutes(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    five, _ = IntervalSchedule.objects.get_or_create(every=5, period="minutes")
    PeriodicTask.objects.filter(task=INCREMENTAL, interval__every=60, interval__period="seconds").update(interval=five)
    PeriodicTask.objects.filter(task=NIGHTLY).update(task=NIGHTLY_BEFORE, name="Recompute the KPIs of the last 31 days")


class Migration(migrations.Migration):
    dependencies = [
        ("kpis", "0008_kpivalue_histograms"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(add_schedule, every_five_minutes)]
