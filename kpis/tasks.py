"""Celery tasks of the KPI engine: thin; a second concurrent run waits for the first."""

from celery import shared_task

from kpis import engine


@shared_task(ignore_result=True)
def refresh_kpis() -> int:
    """Every minute: the days touched since the previous run, and today."""
    return engine.refresh_kpis().rows


@shared_task(ignore_result=True)
def rebuild_kpis() -> int:
    """Nightly: every period from the first ticket, from scratch."""
    return engine.refresh_kpis(full=True).rows
