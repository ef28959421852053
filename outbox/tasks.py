"""Celery tasks of the outbox: thin wrappers around outbox.services, safe to run twice."""

from celery import shared_task

from outbox import services


@shared_task(ignore_result=True)
def deliver_email(pk: int) -> bool:
    return services.deliver(pk)


@shared_task(ignore_result=True)
def sweep_outbox() -> int:
    return services.sweep()
