"""Housekeeping of the desk as a whole."""

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from config.models import IdempotencyKey

#: How long a client may retry a request with the same Idempotency-Key and get the first answer.
KEEP_KEYS = timedelta(hours=24)


@shared_task(ignore_result=True)
def forget_idempotency_keys() -> int:
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - KEEP_KEYS).delete()
    return deleted
