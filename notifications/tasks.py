"""Celery tasks of the notifications: the SLA sweep and the digests, safe to run twice."""

from celery import shared_task

from notifications import services


@shared_task(ignore_result=True)
def sweep_sla() -> int:
    result = services.sweep_sla()
    services.send_digests()
    return result.warnings + result.breaches
