"""Default root causes and escalation policies, the escalation sweep on the beat schedule,
and a complaint record for every existing ticket of a complaint category (the unhappy-survey
follow-up tickets among them keep "survey" as their source)."""

from datetime import timedelta

from django.db import migrations

ROOT_CAUSES = [
    ("产品质量", "Product quality"),
    ("服务态度", "Service attitude"),
    ("响应或处理太慢", "Slow response or handling"),
    ("维修质量", "Repair quality"),
    ("配件与物流", "Parts and logistics"),
    ("价格与收费", "Prices and charges"),
    ("沟通不到位", "Poor communication"),
    ("其他", "Other"),
]
# severity: (close within, escalate after at one level, update at least every), hours
POLICIES = {"minor": (72, 24, 24), "major": (48, 8, 8), "critical": (24, 2, 4)}
TASK = "complaints.tasks.escalate_overdue_complaints"


def add_defaults(apps, schema_editor):
    RootCause = apps.get_model("complaints", "RootCause")
    EscalationPolicy = apps.get_model("complaints", "EscalationPolicy")
    for position, (zh, en) in enumerate(ROOT_CAUSES):
        RootCause.objects.get_or_create(name_en=en, defaults={"name_zh": zh, "position": position})
    for severity, (resolve, level, update) in POLICIES.items():
        EscalationPolicy.objects.get_or_create(
            severity=severity, defaults={"resolve_hours": resolve, "level_hours": level, "update_hours": update}
        )
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_5_minutes, _ = IntervalSchedule.objects.get_or_create(every=5, period="minutes")
    PeriodicTask.objects.get_or_create(
        name="Escalate complaints past their deadline", defaults={"task": TASK, "interval": every_5_minutes}
    )
    backfill(apps)


def backfill(apps):
    Ticket = apps.get_model("tickets", "Ticket")
    Complaint = apps.get_model("complaints", "Complaint")
    SurveyResponse = apps.get_model("surveys", "SurveyResponse")
    follow_ups = set(SurveyResponse.objects.filter(follow_up__isnull=False).values_list("follow_up_id", flat=True))
    missing = Ticket.objects.filter(category__is_complaint=True, complaint__isnull=True)
    complaints = []
    for ticket in missing.iterator():
        closed = ticket.status == "closed"
        complaints.append(Complaint(
            ticket_id=ticket.pk, source="survey" if ticket.pk in follow_ups else "category", severity="minor",
            level=1, handler_id=ticket.assignee_id, opened_at=ticket.created_at, level_since=ticket.created_at,
            updated_at=ticket.updated_at, due_at=ticket.created_at + timedelta(hours=POLICIES["minor"][0]),
            status="closed" if closed else "open", closed_at=ticket.closed_at if closed else None,
        ))
    Complaint.objects.bulk_create(complaints, batch_size=1000)


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(task=TASK).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("complaints", "0001_initial"),
        ("tickets", "0003_add_ticket_repeat_count"),
        ("surveys", "0002_default_template_and_schedule"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(add_defaults, remove_schedule)]
