"""Default severity rules for complaints from unhappy survey answers (overall 1 or recommendation
0–3: major), the appointment reminders on the beat schedule, and the handling times of existing
complaints: the customer contacts (replies, calls) on their tickets since they were opened."""

from django.db import migrations

RULES = [(1, None, "major"), (None, 3, "major")]
TASK = "complaints.tasks.remind_appointments"

HANDLING = """
WITH contacts AS (
    SELECT c.id, min(e.at) AS first_at, max(e.at) AS last_at
      FROM complaints_complaint c
      JOIN tickets_ticketevent e ON e.ticket_id = c.ticket_id AND e.kind IN ('reply', 'call') AND e.at >= c.opened_at
     GROUP BY c.id
)
UPDATE complaints_complaint c
   SET first_handled_at = contacts.first_at, handled_at = contacts.last_at
  FROM contacts
 WHERE contacts.id = c.id
"""
DELAY_DUE = """
UPDATE complaints_complaint c
   SET delay_due_at = coalesce(c.handled_at, c.opened_at) + make_interval(hours => coalesce(p.update_hours, 24))
  FROM complaints_complaint c2
  LEFT JOIN complaints_escalationpolicy p ON p.severity = c2.severity
 WHERE c2.id = c.id
"""


def add_defaults(apps, schema_editor):
    SeverityRule = apps.get_model("complaints", "SeverityRule")
    if not SeverityRule.objects.exists():
        for position, (overall, nps, severity) in enumerate(RULES):
            SeverityRule.objects.create(position=position, overall_at_most=overall, nps_at_most=nps, severity=severity)
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_5_minutes, _ = IntervalSchedule.objects.get_or_create(every=5, period="minutes")
    PeriodicTask.objects.get_or_create(
        name="Remind complaint handlers of their appointments", defaults={"task": TASK, "interval": every_5_minutes}
    )


def backfill(apps, schema_editor):
    add_defaults(apps, schema_editor)
    schema_editor.execute(HANDLING)
    schema_editor.execute(DELAY_DUE)


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(task=TASK).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("complaints", "0008_handling_appointments_severity_rules"),
        ("tickets", "0012_ticket_contacts"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(backfill, remove_schedule)]
