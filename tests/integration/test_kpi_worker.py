"""The KPI job through real parts: a Celery worker on the broker computes and stores the figures."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from kpis.models import KPIRun, KPIValue
from kpis.tasks import refresh_kpis
from tests.factories import make_ticket
from tickets import services

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.worker,
    pytest.mark.slow,
    pytest.mark.xdist_group("servers"),
]


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
    for name in ("kpis.tasks.refresh_kpis", "kpis.tasks.rebuild_kpis", "outbox.tasks.sweep_outbox",
                 "surveys.tasks.send_survey_reminders"):  # fmt: skip
        assert tasks.get(name) is True, name
    every = PeriodicTask.objects.get(task="kpis.tasks.refresh_kpis").interval
    assert (every.every, every.period) == (60, "seconds")  # a resolve shows on the dashboard within a minute
    nightly = PeriodicTask.objects.get(task="kpis.tasks.rebuild_kpis").crontab
    assert (nightly.minute, nightly.hour) == ("30", "2")


#: The KPI lock's holders and waiters in this database (another desk on the server has its own).
KPI_LOCKS = (
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


def test_a_worker_killed_in_the_middle_of_a_run_leaves_the_figures_and_the_next_run_completes(
    team, agent, celery_worker
):
    """The worker is killed (SIGKILL) while its run holds the KPI lock inside its transaction."""
    from django.db import connection

    from kpis.engine import LOCK_KEY
    from kpis.engine import refresh_kpis as refresh_now

    when = timezone.now() - timedelta(hours=2)
    ticket = make_ticket(team=team, by=agent, requested_at=when)
    services.resolve_ticket(ticket=ticket, by=agent, note="done")
    refresh_now(full=True)
    before = sorted(KPIValue.objects.values_list("kpi", "granularity", "period_start", "dimension",
                                                "dimension_value", "value"))  # fmt: skip
    runs_before = KPIRun.objects.count()
    make_ticket(team=team, by=agent, requested_at=when)  # a change the killed run would have counted

    worker = celery_worker()
    with connection.cursor() as cursor:
        # Hold the run in its first pass over the tickets, after it took the KPI lock and wrote
        # its KPIRun row: the pass joins the categories, which this lock keeps it from reading.
        cursor.execute("BEGIN")
        cursor.execute("LOCK TABLE tickets_category IN ACCESS EXCLUSIVE MODE")
        refresh_kpis.delay()
        deadline = time.monotonic() + 60
        while True:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE relation = 'tickets_category'::regclass "
                           "AND NOT granted")  # fmt: skip
            if cursor.fetchone()[0]:
                break
            assert time.monotonic() < deadline, worker.output()[-3000:]
            time.sleep(0.1)
        cursor.execute(KPI_LOCKS, [LOCK_KEY])
        assert cursor.fetchone()[0] == 1  # the waiting run holds the KPI lock
        worker.popen.kill()  # SIGKILL: no clean-up of any kind
        worker.popen.wait(timeout=20)
        cursor.execute("ROLLBACK")

    # The server notices the dead client and rolls its transaction back, lock and all.
    deadline = time.monotonic() + 30
    with connection.cursor() as cursor:
        while True:
            cursor.execute(KPI_LOCKS, [LOCK_KEY])
            if not cursor.fetchone()[0]:
                break
            assert time.monotonic() < deadline, "the killed run's lock was never released"
            time.sleep(0.2)
    after = sorted(KPIValue.objects.values_list("kpi", "granularity", "period_start", "dimension",
                                               "dimension_value", "value"))  # fmt: skip
    assert after == before
    assert KPIRun.objects.count() == runs_before

    refresh_now()  # the next run completes and counts the new ticket once
    assert sum(KPIValue.objects.filter(kpi="workload", granularity="day", dimension="all").values_list(
        "value", flat=True)) == 2  # fmt: skip
    keys = KPIValue.objects.values_list("kpi", "granularity", "period_start", "dimension", "dimension_value")
    assert len(keys) == len(set(keys))
