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
from datetime import date, timedelta
from time import perf_counter

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from kpis.engine.aggregation import roll_up
from kpis.engine.backlog import compute_backlog, prepare_backlog_events, prepare_backlog_now
from kpis.engine.contributions import (
    compute_changed,
    compute_days,
    compute_delta,
    contributions_kept,
    delta_days,
    layout,
    replace_changed,
    select_changed,
    write_all,
)
from kpis.engine.periods import GRANULARITIES, period_start, tz
from kpis.engine.publish import apply_deltas, create_deltas, create_stage, publish
from kpis.models import Granularity, KPIRun
from kpis.registry import KPI, KPIS

LOCK_KEY = 7_204_551  # pg_advisory_xact_lock key of the KPI refresh
#: How long the records of runs are kept (a full run removes older ones).
RUNS_KEPT = timedelta(days=7)


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

    ``full``: every row's contribution and every period, from scratch. ``since``: the rows of that
    local day and later, and the backlog of the periods from it. Otherwise incremental: the rows
    changed since the previous run (a first run, or one after the registry changed, is full).
    Returns what was done; writes one ``KPIRun``."""
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
            # The rows a run reads are in memory or on SSD: a few changed rows reach their
            # tickets and stored values by index, not by hashing whole tables.
            cursor.execute("SET LOCAL random_page_cost = 1.1")
        now = timezone.now()
        today = timezone.localtime(now, tz()).date()
        by_source: dict[str, list[KPI]] = {}
        for kpi in KPIS:
            by_source.setdefault(kpi.source, []).append(kpi)
        backlog_kpis = by_source.pop("backlog")
        plans = {source_key: layout(source_key, kpis) for source_key, kpis in by_source.items()}
        previous = KPIRun.objects.filter(finished_at__isnull=False).order_by("-started_at").first()
        keys = [kpi.key for kpi in KPIS]
        if previous is not None and previous.kpis != keys:
            previous = None  # a KPI added, removed or moved since: every row's contribution again, once
        if previous is not None and not contributions_kept():
            previous = None  # emptied (unlogged tables after a crash): every row's contribution again
        is_full = since is None and (full or previous is None)
        first = (first_day() or today) if is_full else (since or today)
        run = KPIRun.objects.create(started_at=now, full=is_full, first_day=min(first, today), kpis=keys)
        rows = 0
        create_stage()
        days: set[date] = set()
        replaced: list[tuple[str, list[date], list[str]]] = []
        if is_full or since:  # every row's contribution (from ``since``) and every period, from scratch
            for source_key, plan in plans.items():
                write_all(plan, since)
                say(f"{source_key}: the rows' contributions")
                rows += compute_days(plan, now, since)
                say(f"{source_key}: day values")
            days = {first + timedelta(days=n) for n in range((today - first).days + 1)}
            for granularity in GRANULARITIES:
                starts = {period_start(day, granularity) for day in days}
                for kpis in by_source.values():
                    if granularity != Granularity.DAY:  # from this run's days and the stored ones before
                        rows += roll_up(kpis, granularity, starts, days, now)
                    replaced.append((granularity, sorted(starts), [kpi.key for kpi in kpis]))
                say(f"{granularity}: {len(starts)} period(s)")
        else:
            # Changes committed up to KPI_RUN_OVERLAP_SECONDS after the previous run started are read too.
            moment = previous.started_at - timedelta(seconds=settings.KPI_RUN_OVERLAP_SECONDS)
            create_deltas()
            for source_key, plan in plans.items():  # the tickets first: the other sources follow them
                changed = select_changed(plan, since=moment)
                compute_changed(plan)
                compute_delta(plan)
                replace_changed(plan)
                say(f"{source_key}: {changed:,} changed row(s)")
            days = delta_days()
            rows += apply_deltas([kpi for plan in plans.values() for kpi in plan.kpis], now)
            say("deltas added to the days, weeks and months")
        # The backlog is a level at each period's end, not a sum of rows: the running periods' from
        # the tickets open now; past periods' (full and --since runs) from one pass over the tickets.
        prepare_backlog_now(backlog_kpis, now)
        if is_full or since:
            prepare_backlog_events(period_start(first, Granularity.MONTH), now)
        for granularity in GRANULARITIES:
            if is_full or since:
                every = {first + timedelta(days=n) for n in range((today - first).days + 1)}
                backlog_starts = {period_start(day, granularity) for day in every}
            else:
                backlog_starts = {period_start(today, granularity)}
            rows += compute_backlog(backlog_kpis, granularity, backlog_starts, now)
            replaced.append((granularity, sorted(backlog_starts), [kpi.key for kpi in backlog_kpis]))
        say("backlog")
        publish(replaced, everything=is_full)
        say(f"{rows:,} values written")
        run.finished_at = timezone.now()
        run.periods, run.rows = len(days), rows
        run.save(update_fields=["finished_at", "periods", "rows"])
        if is_full:  # a run a minute: the nightly rebuild keeps a week of their records
            KPIRun.objects.filter(started_at__lt=now - RUNS_KEPT).delete()
    return RefreshResult(run=run, days=len(days), rows=rows, seconds=(timezone.now() - started).total_seconds())
