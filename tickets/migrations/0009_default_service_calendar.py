"""The desk's calendar: weekdays 08:30–12:00 and 13:30–18:00, mainland China's statutory holidays and
make-up workdays. Admins edit it, or give a team a calendar of its own (admin → Service calendars)."""

from datetime import time

from django.db import migrations

NAME = "工作时间 · Office hours"


def add_defaults(apps, schema_editor):
    ServiceCalendar = apps.get_model("tickets", "ServiceCalendar")
    WorkingHours = apps.get_model("tickets", "WorkingHours")
    if ServiceCalendar.objects.filter(is_default=True).exists():
        return
    calendar, created = ServiceCalendar.objects.get_or_create(
        name=NAME, defaults={"time_zone": "Asia/Shanghai", "holidays": "cn", "is_default": True}
    )
    if created:
        WorkingHours.objects.bulk_create(
            WorkingHours(calendar=calendar, weekday=day, start=start, end=end)
            for day in range(5)
            for start, end in ((time(8, 30), time(12, 0)), (time(13, 30), time(18, 0)))
        )


def remove_defaults(apps, schema_editor):
    apps.get_model("tickets", "ServiceCalendar").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("tickets", "0008_service_calendars_and_working_time")]

    operations = [migrations.RunPython(add_defaults, remove_defaults)]
