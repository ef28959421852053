"""Celery tasks of the complaints: the automatic escalation sweep, the appointment reminders."""

from celery import shared_task

from complaints import services


@shared_task(ignore_result=True)
def escalate_overdue_complaints() -> int:
    return services.escalate_overdue()


@shared_task(ignore_result=True)
def remind_appointments() -> int:
    return services.remind_appointments()
