"""Celery tasks of the complaints: the automatic escalation sweep."""

from celery import shared_task

from complaints import services


@shared_task(ignore_result=True)
def escalate_overdue_complaints() -> int:
    return services.escalate_overdue()
