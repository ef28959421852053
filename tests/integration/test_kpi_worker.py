"""The KPI job through real parts: a Celery worker on the broker computes and stores the figures."""

from __future__ import annotations

import time

import pytest
from django_celery_beat.models import PeriodicTask

from kpis.models import KPIRun, KPIValue
from kpis.tasks import refresh_kpis
from tests.factories import make_ticket
from tickets import services

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.slow]


def test_a_worker_runs_the_kpi_task_and_the_dashboard_figures_appear(team, agent, celery_worker):
    worker = celery_worker()
    ticket = make_ticket(team=team, by=agent)
    services.resolve_ticket(ticket=ticket, by=agent, note="done")

    refresh_kpis.delay()

    deadline = time.monotonic() + 60
    while not KPIRun.objects.filter(finished_at__isnull=False).exists():
        assert time.monotonic() < deadline, worker.output()[-3000:]
        time.sleep(0.2)
    row = KPIValue.objects.get(kpi="resolution_rate", granularity="day", dimension="all")
    assert (row.numerator, row.denominator, row.value) == (1, 1, 100.0)
    assert "kpis.tasks.refresh_kpis" in worker.output()


def test_the_beat_schedule_has_the_kpi_outbox_and_reminder_jobs():
    tasks = dict(PeriodicTask.objects.values_list("task", "enabled"))
    for name in ("kpis.tasks.refresh_kpis", "kpis.tasks.refresh_recent_kpis", "outbox.tasks.sweep_outbox",
                 "surveys.tasks.send_survey_reminders"):  # fmt: skip
        assert tasks.get(name) is True, name
    every = PeriodicTask.objects.get(task="kpis.tasks.refresh_kpis").interval
    assert (every.every, every.period) == (5, "minutes")
    nightly = PeriodicTask.objects.get(task="kpis.tasks.refresh_recent_kpis").crontab
    assert (nightly.minute, nightly.hour) == ("30", "2")
