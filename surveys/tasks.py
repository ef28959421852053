"""Celery tasks of the surveys: thin, idempotent."""

from celery import shared_task

from surveys import services


@shared_task(ignore_result=True)
def send_survey_reminders() -> int:
    return services.send_due_reminders()
