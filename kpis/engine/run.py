"""A KPI run: which days to recompute, the run itself, and its record.

A run holds a transaction-level advisory lock (two runs never overlap), computes into a stage
(``publish``) and commits at the end: a run killed half-way leaves the previous values in place.
An incremental run recomputes, source by source, every day whose rows changed since the previous
run (``changed_days``: the request day of every ticket touched — old tickets get answered and
resolved later —, the days of new survey answers and invitations, …) and today, and the weeks
and months around them from their days. The package's modules, in the order a run uses them:
``periods``, ``aggregation`` (with ``quantiles``), ``backlog``, ``publish``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from time import perf_counter

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from kpis.engine.aggregation import compute_days, roll_up
from kpis.engine.backlog import compute_backlog, prepare_backlog_events, prepare_backlog_now
from kpis.engine.periods import GRANULARITIES, period_start, tz
from kpis.engine.publish import create_stage, publish
from kpis.models import Granularity, KPIRun
from kpis.registry import KPI, KPIS

LOCK_KEY = 7_204_551  # pg_advisory_xact_lock key of the KPI refresh
#: Changes committed up to this long after a run started are picked up by the next run.
OVERLAP = timedelta(minutes=5)


def changed_days(since: datetime) -> dict[str, set[date]]:
    """Per source, the local days whose figures may have changed since ``since`` — each source's
    rows by their own anchor: a ticket by its request day (also when it gets its survey link or
    its answer, by e-mail or on a follow-up call),
    a survey answer by its answer day, an invitation by its sending day, a complaint by its
    opening day; rows of a changed ticket move with it (its team or agent may have changed).
    Each branch reads an index."""
    sql = """
        WITH changed AS MATERIALIZED (SELECT id, requested_at FROM tickets_ticket WHERE updated_at >= %(since)s)
        SELECT 'tickets', (requested_at AT TIME ZONE %(tz)s)::date FROM changed
        UNION SELECT 'tickets', (t.requested_at AT TIME ZONE %(tz)s)::date FROM surveys_surveyinvitation i
              JOIN tickets_ticket t ON t.id = i.ticket_id WHERE i.created_at >= %(since)s
        UNION SELECT 'tickets', (t.requested_at AT TIME ZONE %(tz)s)::date FROM surveys_surveyresponse r
              JOIN tickets_ticket t ON t.id = r.ticket_id WHERE r.submitted_at >= %(since)s
        UNION SELECT 'responses', (submitted_at AT TIME ZONE %(tz)s)::date FROM surveys_surveyresponse
              WHERE submitted_at >= %(since)s
        UNION SELECT 'responses', (r.submitted_at AT TIME ZONE %(tz)s)::date FROM surveys_surveyresponse r
              JOIN changed c ON r.ticket_id = c.id
        UNION SELECT 'invitations', (created_at AT TIME ZONE %(tz)s)::date FROM surveys_surveyinvitation
              WHERE created_at >= %(since)s
        UNION SELECT 'invitations', (created_at AT TIME ZONE %(tz)s)::date FROM surveys_surveyinvitation
              WHERE answered_at >= %(since)s
        UNION SELECT 'invitations', (i.created_at AT TIME ZONE %(tz)s)::date FROM surveys_surveyinvitation i
              JOIN changed c ON i.ticket_id = c.id
        UNION SELECT 'complaints', (opened_at AT TIME ZONE %(tz)s)::date FROM complaints_complaint
              WHERE updated_at >= %(since)s
        UNION SELECT 'complaints', (m.opened_at AT TIME ZONE %(tz)s)::date FROM complaints_complaint m
              JOIN changed c ON m.ticket_id = c.id
    """
    found: dict[str, set[date]] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, {"tz": settings.TIME_ZONE, "since": since})
        for source_key, day in cursor.fetchall():
            found.setdefault(source_key, set()).add(day)
    return found


def first_day() -> date | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT (min(requested_at) AT TIME ZONE %s)::date FROM tickets_ticket", [settings.TIME_ZONE])
        return cursor.fetchone()[0]


@dataclass
class RefreshResult:
    run: KPIRun
    days: int
    rows: int
    seconds: float


def refresh_kpis(*, since: date | None = None, full: bool = False,
                 progress: Callable[[str], None] | None = None) -> RefreshResult:  # fmt: skip
    """Recompute stored KPI values.

    ``full``: every period from the first ticket. ``since``: every period from that
    local day. Otherwise incremental: the periods touched since the previous run and
    today (a first run is full). Returns what was done; writes one ``KPIRun``."""
    started = timezone.now()
    clock = perf_counter()

    def say(message: str) -> None:  # each step with its own seconds
        nonlocal clock
        if progress:
            progress(f"{message}: {perf_counter() - clock:.1f} s")
        clock = perf_counter()

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
            # Sorting and hashing the grouping sets in memory rather than on disk.
            cursor.execute("SET LOCAL work_mem = '128MB'")
            # Compiling these wide aggregates costs more than it saves on a run's scans.
            cursor.execute("SET LOCAL jit = off")
            # The rows a run reads are in memory or on SSD: a few thousand survey answers or
            # complaints reach their tickets by primary key, not by hashing the whole ticket table.
            cursor.execute("SET LOCAL random_page_cost = 1.1")
        now = timezone.now()
        today = timezone.localtime(now, tz()).date()
        by_source: dict[str, list[KPI]] = {}
        for kpi in KPIS:
            by_source.setdefault(kpi.source, []).append(kpi)
        backlog_kpis = by_source.pop("backlog")
        previous = KPIRun.objects.filter(finished_at__isnull=False).order_by("-started_at").first()
        keys = [kpi.key for kpi in KPIS]
        if previous is not None and set(keys) - set(previous.kpis):
            previous = None  # a KPI added or redefined since: every period again, once
        if since is None and not full and previous is not None:
            changed = changed_days(previous.started_at - OVERLAP)
            days_by_source = {key: changed.get(key, set()) | {today} for key in by_source}
        else:
            first = since or first_day() or today
            every_day = {first + timedelta(days=n) for n in range((today - first).days + 1)}
            days_by_source = {key: every_day for key in by_source}
        days_by_source = {key: {day for day in days if day <= today} for key, days in days_by_source.items()}
        days = set().union(*days_by_source.values())
        run = KPIRun.objects.create(started_at=now, full=since is None and (full or previous is None),
                                    first_day=min(days), kpis=keys)  # fmt: skip
        rows = 0
        create_stage()
        prepare_backlog_now(backlog_kpis, now)
        if run.full or since:  # past periods' backlog: from one pass over the tickets
            prepare_backlog_events(period_start(min(days), Granularity.MONTH), now)
        say("days to recompute, tickets open now" + (", backlog events" if run.full or since else ""))
        replaced: list[tuple[str, list[date], list[str]]] = []
        for granularity in GRANULARITIES:
            # A past period's backlog does not move when an old ticket is answered or resolved
            # later (it was open at that end either way): incremental runs refresh the running
            # period's; full, --since and the nightly runs recompute the past ones.
            if run.full or since:
                backlog_starts = {period_start(day, granularity) for day in days}
            else:
                backlog_starts = {period_start(today, granularity)}
            rows += compute_backlog(backlog_kpis, granularity, backlog_starts, now)
            replaced.append((granularity, sorted(backlog_starts), [kpi.key for kpi in backlog_kpis]))
            for source_key, kpis in by_source.items():
                source_days = days_by_source[source_key]
                starts = {period_start(day, granularity) for day in source_days}
                if granularity == Granularity.DAY:
                    rows += compute_days(source_key, kpis, starts, now)
                else:  # from the day rows computed above and the stored ones of unchanged days
                    rows += roll_up(kpis, granularity, starts, source_days, now)
                replaced.append((granularity, sorted(starts), [kpi.key for kpi in kpis]))
            say(f"{granularity}: {len({period_start(day, granularity) for day in days})} period(s)")
        publish(replaced)
        say(f"{rows:,} values written")
        run.finished_at = timezone.now()
        run.periods, run.rows = len(days), rows
        run.save(update_fields=["finished_at", "periods", "rows"])
    return RefreshResult(run=run, days=len(days), rows=rows, seconds=(timezone.now() - started).total_seconds())
