"""Celery tasks of the KPI engine: thin; a second concurrent run waits for the first."""

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from kpis import services


@shared_task(ignore_result=True)
def refresh_kpis() -> int:
    """Every few minutes: the periods touched since the previous run, and today."""
    return services.refresh_kpis().rows


@shared_task(ignore_result=True)
def refresh_recent_kpis(days: int = 31) -> int:
    """Nightly: recompute the last ``days`` days (and their weeks and months) in full."""
    since = timezone.localdate() - timedelta(days=days)
    return services.refresh_kpis(since=since).rows
