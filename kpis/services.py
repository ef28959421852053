"""Computing the KPIs: set-based SQL in PostgreSQL, written in one transaction.

For each source, one query scans the affected days once and aggregates every KPI
of that source, with each KPI's numerator and denominator as ``FILTER (WHERE …)``
clauses compiled from the registry's ``Q`` objects, by local day (``TIME_ZONE``)
and every dimension at the finest grain, then rolls that up into all the
dimensions at once (``GROUPING SETS``). Weeks and months are summed from the day
rows (numerators and denominators add up exactly). Medians and p90 — which do not
add up — get one ``percentile_cont`` pass per source for its days, weeks and months
at once. The backlog of a running period is a count of the tickets open now; past
periods' backlog is a running sum of +1/−1 events (requested, resolved, due) from
one pass over the tickets. Each aggregate lands in a temporary table (``CREATE TABLE
… AS``, which PostgreSQL runs on every core it may use) and its rows then go into the
run's stage: no ticket is loaded into Python.

A run holds a transaction-level advisory lock (two runs never overlap), replaces
the affected periods' rows (and removes the slices it no longer finds), and commits
at the end: a run killed half-way leaves the previous values in place. An incremental
run recomputes, source by source, every period whose rows changed since the previous
run (``changed_days``: the request day of every ticket touched — old tickets get
answered and resolved later —, the days of new survey answers and invitations, …)
and today.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from time import perf_counter
from typing import Any
from zoneinfo import ZoneInfo

from django.apps import apps
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Aggregate, Count, DateField, F, FloatField, Func, Q, Sum, Value
from django.db.models.functions import Cast
from django.utils import timezone

from kpis.models import Granularity, KPIRun
from kpis.registry import DIMENSION_FIELDS, KPI, KPIS, SOURCES, part_q, source_dimensions

LOCK_KEY = 7_204_551  # pg_advisory_xact_lock key of the KPI refresh
#: Changes committed up to this long after a run started are picked up by the next run.
OVERLAP = timedelta(minutes=5)
GRANULARITIES = [Granularity.DAY, Granularity.WEEK, Granularity.MONTH]
#: Medians and p90 are kept for the whole desk, each team and each agent: they cannot be
#: summed from finer rows, so each slice costs a sort of its own.
PERCENTILE_DIMENSIONS = ("team", "agent")
DIMENSIONS = list(DIMENSION_FIELDS)  # the order of the GROUPING() bits, leftmost = highest bit
#: A run writes its rows here, then swaps them into ``kpis_kpivalue`` at the end (``_publish``).
STAGE = "kpi_stage"
COLUMNS = (
    "kpi, granularity, period_start, dimension, dimension_value, "
    "numerator, negative, denominator, value, median, p90, computed_at"
)


class Epoch(Func):
    """Seconds as a float (``EXTRACT`` gives a numeric, far slower to sum and sort)."""

    template = "date_part('epoch', %(expressions)s)"
    output_field = FloatField()


class LocalPeriod(Func):
    """The local date (``TIME_ZONE``) a time falls on, truncated to its period's first day. A day is a
    plain cast: ``date_trunc`` on a timestamp costs a third more on a pass over every ticket."""

    output_field = DateField()

    def __init__(self, field: str, granularity: str):
        expressions = [F(field), Value(settings.TIME_ZONE)]
        if granularity == Granularity.DAY:
            super().__init__(*expressions, template="(%(expressions)s)::date", arg_joiner=" AT TIME ZONE ")
        else:
            super().__init__(Value(str(granularity)), Func(*expressions, template="(%(expressions)s)",
                             arg_joiner=" AT TIME ZONE "), template="date_trunc(%(expressions)s)::date")  # fmt: skip


class Percentiles(Aggregate):
    """Median and p90 in one pass: ``percentile_cont(ARRAY[0.5, 0.9])``."""

    function = "percentile_cont"
    template = "percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()  # an array; only ever read by the INSERT … SELECT


class Grouping(Aggregate):
    """``GROUPING(a, b, …)``: which grouping set a row belongs to (not itself grouped by)."""

    function = "GROUPING"
    template = "GROUPING(%(expressions)s)"
    output_field = FloatField()


def tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def period_start(day: date, granularity: str) -> date:
    if granularity == Granularity.WEEK:
        return day - timedelta(days=day.weekday())
    if granularity == Granularity.MONTH:
        return day.replace(day=1)
    return day


def next_period(start: date, granularity: str) -> date:
    if granularity == Granularity.DAY:
        return start + timedelta(days=1)
    if granularity == Granularity.WEEK:
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def local_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz())


def merged_ranges(starts: Iterable[date], granularity: str) -> list[tuple[date, date]]:
    """Contiguous [start, end) date ranges covering the given periods."""
    ranges: list[tuple[date, date]] = []
    for start in sorted(set(starts)):
        end = next_period(start, granularity)
        if ranges and ranges[-1][1] == start:
            ranges[-1] = (ranges[-1][0], end)
        else:
            ranges.append((start, end))
    return ranges


def _ranges_q(field: str, ranges: list[tuple[date, date]]) -> Q:
    q = Q()
    for start, end in ranges:
        q |= Q(**{f"{field}__gte": local_midnight(start), f"{field}__lt": local_midnight(end)})
    return q


def _count(q: Q):
    return Count("pk", filter=q) if q else Count("pk")


def duration_seconds(kpi: KPI) -> Any:
    """A duration KPI's seconds: a stored field (working time), or the difference of two timestamps."""
    if len(kpi.measure) == 1:
        return Cast(F(kpi.measure[0]), FloatField())
    end, start = kpi.measure
    return Epoch(F(end) - F(start))


def _aggregates(kpi: KPI) -> dict[str, Aggregate]:
    """The aggregate columns a KPI needs, named ``<key>__den`` etc."""
    den = part_q(kpi, "den")
    columns: dict[str, Aggregate] = {f"{kpi.key}__den": _count(den)}
    if kpi.kind in ("ratio", "nps"):
        columns[f"{kpi.key}__num"] = _count(part_q(kpi, "num"))
    if kpi.kind == "nps":
        columns[f"{kpi.key}__neg"] = _count(part_q(kpi, "neg"))
    if kpi.kind == "duration":
        seconds = duration_seconds(kpi)
        columns[f"{kpi.key}__sum"] = Sum(seconds, filter=den or None)
        columns[f"{kpi.key}__pct"] = Percentiles(seconds, filter=den or None)
    if kpi.kind == "sum":
        total = sum((F(name) for name in kpi.measure[1:]), F(kpi.measure[0]))
        columns[f"{kpi.key}__sum"] = Sum(Cast(total, FloatField()), filter=den or None)
    return columns


def _value_row(kpi: KPI) -> str:
    """The (kpi, numerator, negative, denominator, value, median, p90) tuple of one KPI, in SQL over ``a``."""
    k = kpi.key
    den = f'a."{k}__den"'
    if kpi.kind == "ratio":
        num = f'a."{k}__num"'
        value = f"CASE WHEN {den} > 0 THEN 100.0 * {num} / {den} END"
        return f"('{k}', {num}::float, 0::float, {den}::float, {value}, NULL::float, NULL::float)"
    if kpi.kind == "nps":  # promoters and detractors stored apart: each is a list the dashboard links to
        num, neg = f'a."{k}__num"', f'a."{k}__neg"'
        value = _value_sql(kpi, num, den, neg)
        return f"('{k}', {num}::float, {neg}::float, {den}::float, {value}, NULL, NULL)"
    if kpi.kind == "duration":  # median and p90 come from _compute_percentiles
        total = f'COALESCE(a."{k}__sum", 0)'
        value = f"CASE WHEN {den} > 0 THEN {total} / {den} / 3600.0 END"
        return f"('{k}', {total}::float, 0::float, {den}::float, {value}, NULL::float, NULL::float)"
    if kpi.kind == "sum":
        total = f'COALESCE(a."{k}__sum", 0)'
        return f"('{k}', {total}::float, 0::float, {den}::float, {total}::float, NULL, NULL)"
    return f"('{k}', {den}::float, 0::float, {den}::float, {den}::float, NULL, NULL)"  # count


def _dimension_cases(names: list[str]) -> tuple[str, str]:
    """SQL naming the dimension and the slice of a row from its GROUPING() bits: the set that
    groups by dimension ``i`` alone has every bit but ``i``'s set (leftmost = first)."""

    def bits(index: int) -> int:
        return (1 << len(names)) - 1 - (1 << (len(names) - 1 - index))

    dimension = "CASE a.g " + " ".join(f"WHEN {bits(i)} THEN '{n}'" for i, n in enumerate(names)) + " ELSE 'all' END"
    value = (
        "CASE a.g "
        + " ".join(f"WHEN {bits(i)} THEN COALESCE(a.\"d_{n}\"::text, 'none')" for i, n in enumerate(names))
        + " ELSE '' END"
    )
    return dimension, value


def _materialize(name: str, sql: str, params) -> None:
    """The result of an aggregate query as a temporary table: ``CREATE TABLE … AS`` may scan and
    aggregate in parallel, where an ``INSERT … SELECT`` or ``UPDATE … FROM`` runs on one core."""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {name}")
        cursor.execute(f"CREATE TEMP TABLE {name} ON COMMIT DROP AS {sql}", params)


def _insert(aggregate_sql: str, params: tuple, kpis: list[KPI], granularity: str, computed_at: datetime,
            names: list[str] = DIMENSIONS) -> int:  # fmt: skip
    _materialize("kpi_aggregate", aggregate_sql, params)
    values = ",\n        ".join(_value_row(kpi) for kpi in kpis)
    dimension_case, value_case = _dimension_cases(names)
    sql = f"""
        INSERT INTO {STAGE} ({COLUMNS})
        SELECT v.kpi, %s, a.period, {dimension_case}, {value_case},
               v.numerator, v.negative, v.denominator, v.value, v.median, v.p90, %s
        FROM kpi_aggregate a
        CROSS JOIN LATERAL (VALUES
        {values}
        ) AS v(kpi, numerator, negative, denominator, value, median, p90)
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, (granularity, computed_at))
        return cursor.rowcount


def _source_queryset(source_key: str, where: Q, period):
    source = SOURCES[source_key]
    model = apps.get_model(source.model)
    paths = source_dimensions(source_key)
    dims = {f"d_{name}": F(path) for name, path in paths.items()}
    return (
        model.objects.filter(where)
        .annotate(period=period, **dims)
        .values("period", *dims)
        .annotate(g=Grouping(*[F(path) for path in paths.values()]))
        .order_by()
    )


def _finest_then_rollup_sql(queryset, columns: list[str], names: list[str]) -> tuple[str, tuple]:
    """Aggregate at the finest grain (period × every dimension, hashed, one state per row),
    then roll the small result up into the grouping sets: far cheaper than feeding every
    ticket to every grouping set."""
    sql, params = queryset.query.sql_with_params()
    dims = [f'f."d_{name}"' for name in names]
    sums = ", ".join(f'SUM(f."{column}") AS "{column}"' for column in columns)
    sets = ", ".join(["()"] + [f"({d})" for d in dims])
    rolled = (
        f"SELECT f.period, {', '.join(dims)}, GROUPING({', '.join(dims)}) AS g, {sums} "
        f"FROM ({sql}) f GROUP BY f.period, GROUPING SETS ({sets})"
    )
    return rolled, params


def _compute_days(source_key: str, kpis: list[KPI], starts: set[date], now: datetime) -> int:
    """The day rows of a source's KPIs, without medians (``_compute_percentiles`` adds them)."""
    source = SOURCES[source_key]
    period = LocalPeriod(source.anchor, Granularity.DAY)
    where = _ranges_q(source.anchor, merged_ranges(starts, Granularity.DAY))
    names = list(source_dimensions(source_key))
    queryset = _source_queryset(source_key, where, period).values("period", *[f"d_{d}" for d in names])
    columns = []
    for kpi in kpis:
        additive = {name: agg for name, agg in _aggregates(kpi).items() if not name.endswith("__pct")}
        queryset = queryset.annotate(**additive)
        columns += list(additive)
    sql, params = _finest_then_rollup_sql(queryset, columns, names)
    return _insert(sql, params, kpis, Granularity.DAY, now, names)


def _value_sql(kpi: KPI, numerator: str, denominator: str, negative: str = "0") -> str:
    """A figure from summed parts, in SQL (``selectors.derive`` in Python)."""
    if kpi.kind == "count":
        return denominator
    if kpi.kind == "sum":
        return numerator
    if kpi.kind == "nps":
        return f"CASE WHEN {denominator} > 0 THEN ({numerator} - {negative})::float / {denominator} * 100.0 END"
    scale = "/ 3600.0" if kpi.kind == "duration" else "* 100.0"
    return f"CASE WHEN {denominator} > 0 THEN {numerator}::float / {denominator} {scale} END"


def _roll_up(kpis: list[KPI], granularity: str, starts: set[date], days: set[date], now: datetime) -> int:
    """Week and month rows summed from the day rows (exact for every additive part): this run's
    for the ``days`` it recomputed, the stored ones for the other days of those weeks and months."""
    ranges = merged_ranges(starts, granularity)
    keys = [kpi.key for kpi in kpis]
    values = " ".join(
        f"WHEN '{kpi.key}' THEN {_value_sql(kpi, 'SUM(numerator)', 'SUM(denominator)', 'SUM(negative)')}"
        for kpi in kpis
    )
    where = " OR ".join(["(period_start >= %s AND period_start < %s)"] * len(ranges))
    sql = f"""
        INSERT INTO {STAGE} ({COLUMNS})
        SELECT kpi, %s, date_trunc(%s, period_start)::date, dimension, dimension_value,
               SUM(numerator), SUM(negative), SUM(denominator), CASE kpi {values} END, NULL, NULL, %s
        FROM (
            SELECT kpi, period_start, dimension, dimension_value, numerator, negative, denominator FROM {STAGE}
            WHERE granularity = 'day'
            UNION ALL
            SELECT kpi, period_start, dimension, dimension_value, numerator, negative, denominator FROM kpis_kpivalue
            WHERE granularity = 'day' AND NOT (period_start = ANY(%s))
        ) d
        WHERE kpi = ANY(%s) AND ({where})
        GROUP BY kpi, 3, dimension, dimension_value
    """
    params = [granularity, granularity, now, sorted(days), keys] + [day for window in ranges for day in window]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def covering_ranges(starts_by_granularity: dict[str, set[date]]) -> list[tuple[date, date]]:
    """Contiguous [start, end) date ranges covering every given period of every granularity."""
    windows = sorted(window for granularity, starts in starts_by_granularity.items()
                     for window in merged_ranges(starts, granularity))  # fmt: skip
    ranges: list[tuple[date, date]] = []
    for start, end in windows:
        if ranges and start <= ranges[-1][1]:
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], end))
        else:
            ranges.append((start, end))
    return ranges


def _compute_percentiles(source_key: str, kpis: list[KPI], granularities: list[str],
                         ranges: list[tuple[date, date]]) -> None:  # fmt: skip
    """Median and p90 of the duration KPIs (exact: they do not add up, so a pass of their own) for
    the desk, each team and each agent, of the given granularities at once: one scan of the rows in
    ``ranges``, grouped by their days, weeks and months. Groups of periods this run does not
    recompute (a week the range only partly covers) find no row of the run to update."""
    durations = [kpi for kpi in kpis if kpi.kind == "duration"]
    if not durations:
        return
    source = SOURCES[source_key]
    team, agent = (F(source.ticket_path + DIMENSION_FIELDS[name]) for name in PERCENTILE_DIMENSIONS)
    periods = {f"p_{granularity}": LocalPeriod(source.anchor, granularity) for granularity in granularities}
    queryset = (
        apps.get_model(source.model)
        .objects.filter(_ranges_q(source.anchor, ranges))
        .annotate(**periods, d_team=team, d_agent=agent)
        .values(*periods, "d_team", "d_agent")
        .annotate(g=Grouping(*periods.values(), team, agent))
        .order_by()
    )
    for kpi in durations:
        queryset = queryset.annotate(
            **{f"{kpi.key}__pct": Percentiles(duration_seconds(kpi), filter=part_q(kpi, "den") or None)}
        )
    sql, params = queryset.query.sql_with_params()
    head, group_by = re.split(r"\sGROUP BY\s", sql, maxsplit=1)
    *period_columns, team_column, agent_column = (c.strip() for c in group_by.split(","))
    sets = ", ".join(f"({p}), ({p}, {team_column}), ({p}, {agent_column})" for p in period_columns)
    _materialize("kpi_percentiles", f"{head} GROUP BY GROUPING SETS ({sets})", params)
    # GROUPING(periods…, team, agent): the two lowest bits say the slice (1 = by team, 2 = by agent,
    # 3 = the whole desk); the bit of the period grouped by is the one clear above them.
    granularity = " ".join(f"WHEN a.g & {1 << (len(period_columns) - i + 1)} = 0 THEN '{g}'"
                           for i, g in enumerate(granularities))  # fmt: skip
    period = "COALESCE(" + ", ".join(f"a.p_{g}" for g in granularities) + ")"
    unpivot = ", ".join(f"('{kpi.key}', a.\"{kpi.key}__pct\")" for kpi in durations)
    sql = f"""
        UPDATE {STAGE} v SET median = x.pct[1] / 3600.0, p90 = x.pct[2] / 3600.0
        FROM (
            SELECT CASE {granularity} END AS granularity, {period} AS period, u.kpi, u.pct,
                   CASE a.g & 3 WHEN 1 THEN 'team' WHEN 2 THEN 'agent' ELSE 'all' END AS dimension,
                   CASE a.g & 3 WHEN 1 THEN COALESCE(a.d_team::text, 'none')
                                WHEN 2 THEN COALESCE(a.d_agent::text, 'none') ELSE '' END AS dimension_value
            FROM kpi_percentiles a CROSS JOIN LATERAL (VALUES {unpivot}) AS u(kpi, pct)
        ) x
        WHERE v.kpi = x.kpi AND v.granularity = x.granularity AND v.period_start = x.period
          AND v.dimension = x.dimension AND v.dimension_value = x.dimension_value
    """
    with connection.cursor() as cursor:
        cursor.execute(sql)


def percentile_passes(starts_by_granularity: dict[str, set[date]], *, whole: bool) -> list[tuple[list[str], list]]:
    """The scans of the median pass: over a whole history (``whole``), one scan for every granularity
    (their ranges nearly coincide); otherwise one per granularity over its own periods only, so that
    the days of a few changed tickets are not sorted again for the weeks and months around them."""
    if whole:
        return [(list(starts_by_granularity), covering_ranges(starts_by_granularity))]
    return [([granularity], merged_ranges(starts, granularity))
            for granularity, starts in starts_by_granularity.items() if starts]  # fmt: skip


def backlog_end(start: date, granularity: str, now: datetime) -> datetime:
    """A backlog figure is taken at its period's end, or now for the running period."""
    return min(local_midnight(next_period(start, granularity)), now)


_DIMENSION_COLUMNS = (
    "t.team_id AS d_team, t.assignee_id AS d_agent, t.category_id AS d_category, "
    "t.channel AS d_channel, t.priority AS d_priority"
)
_GROUPING_SETS = "GROUPING SETS ((), (d_team), (d_agent), (d_category), (d_channel), (d_priority))"
_D = "d_team, d_agent, d_category, d_channel, d_priority"
_S_D = "s.d_team, s.d_agent, s.d_category, s.d_channel, s.d_priority"

#: Tickets open now, and those of them past due: the running periods' backlog (their end is now),
#: the same for the running day, week and month.
_BACKLOG_NOW_SQL = f"""
    SELECT {_D}, GROUPING({_D}) AS g,
           COUNT(*) AS "{{key}}__den", COUNT(*) FILTER (WHERE due < %s) AS "{{key}}__num"
    FROM (SELECT {_DIMENSION_COLUMNS}, t.resolution_due_at AS due FROM tickets_ticket t
          WHERE t.requested_at < %s AND (t.resolved_at IS NULL OR t.resolved_at >= %s)) t
    GROUP BY {_GROUPING_SETS} HAVING COUNT(*) > 0
"""

#: A ticket enters the backlog when requested and leaves it when resolved; it enters the overdue
#: part when both requested and due, and leaves it when resolved. Each ticket gives those moments
#: as +1/−1 events; the backlog at a period's end is the sum of the events before it. A resolution
#: or due time before the request counts at the request, so such a ticket cancels out exactly as
#: ``registry.backlog_denominator`` / ``backlog_numerator`` say.
_BACKLOG_EVENTS_SQL = f"""
    CREATE TEMP TABLE kpi_backlog_events ON COMMIT DROP AS
    SELECT GREATEST((e.at AT TIME ZONE %(tz)s)::date, %(first)s::date) AS day, {_DIMENSION_COLUMNS},
           SUM(e.den)::bigint AS den, SUM(e.num)::bigint AS num
    FROM tickets_ticket t
    CROSS JOIN LATERAL (VALUES
        (t.requested_at, 1, 0),
        (CASE WHEN t.resolved_at IS NOT NULL THEN GREATEST(t.resolved_at, t.requested_at) END, -1, 0),
        (CASE WHEN t.resolution_due_at IS NOT NULL THEN GREATEST(t.resolution_due_at, t.requested_at) END, 0, 1),
        (CASE WHEN t.resolution_due_at IS NOT NULL AND t.resolved_at IS NOT NULL
              THEN GREATEST(t.resolution_due_at, t.requested_at, t.resolved_at) END, 0, -1)
    ) AS e(at, den, num)
    WHERE e.at < %(now)s
    GROUP BY 1, 2, 3, 4, 5, 6
"""

#: Period × slice running sums of the events, carried through periods without events of their own.
_BACKLOG_PAST_SQL = f"""
    WITH sliced AS (
        SELECT GREATEST(date_trunc(%s, day)::date, %s::date) AS period, {_D},
               GROUPING({_D}) AS g, SUM(den) AS den, SUM(num) AS num
        FROM kpi_backlog_events GROUP BY 1, {_GROUPING_SETS}
    ), keyed AS (
        SELECT sliced.*, {{slice}} AS slice FROM sliced
    ), slices AS (
        SELECT DISTINCT ON (g, slice) g, slice, {_D} FROM keyed
    ), running AS (
        SELECT p::date AS period, s.g, s.slice, {_S_D},
               SUM(COALESCE(k.den, 0)) OVER w AS den, SUM(COALESCE(k.num, 0)) OVER w AS num
        FROM generate_series(%s::date, %s::date, %s::interval) AS p
        CROSS JOIN slices s
        LEFT JOIN keyed k ON k.period = p::date AND k.g = s.g AND k.slice = s.slice
        WINDOW w AS (PARTITION BY s.g, s.slice ORDER BY p)
    )
    SELECT period, {_D}, g, den AS "{{key}}__den", num AS "{{key}}__num"
    FROM running WHERE den > 0 AND period = ANY(%s)
"""


def _compute_backlog(kpis: list[KPI], granularity: str, starts: set[date], now: datetime) -> int:
    """Tickets open at each period's end (``registry.backlog_denominator``) and those of them past
    due (``backlog_numerator``). The running period ends now: a count of the open tickets. Past
    periods: running sums of the events of ``_prepare_backlog_events`` (one pass over the tickets
    for every granularity). The drill-down test holds both to the registry's Q."""
    (kpi,) = kpis
    running = period_start(timezone.localtime(now, tz()).date(), granularity)
    rows = 0
    if running in starts:  # from _prepare_backlog_now
        rows += _insert("SELECT %s::date AS period, n.* FROM kpi_backlog_now n", (running,), kpis, granularity, now)
    past = sorted(start for start in starts if start != running)
    if past:
        _, slice_case = _dimension_cases(DIMENSIONS)
        sql = _BACKLOG_PAST_SQL.format(key=kpi.key, slice=slice_case.replace("a.", "sliced."))
        params = (granularity, past[0], past[0], past[-1], f"1 {granularity}", past)
        rows += _insert(sql, params, kpis, granularity, now)
    return rows


def _prepare_backlog_now(kpis: list[KPI], now: datetime) -> None:
    """The tickets open now by slice: the backlog of the running day, week and month alike."""
    (kpi,) = kpis
    _materialize("kpi_backlog_now", _BACKLOG_NOW_SQL.format(key=kpi.key), (now, now, now))


def _prepare_backlog_events(first: date, now: datetime) -> None:
    """The day-level backlog events that the past periods of every granularity are summed from."""
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS kpi_backlog_events")
        cursor.execute(_BACKLOG_EVENTS_SQL, {"tz": settings.TIME_ZONE, "first": first, "now": now})


def _create_stage() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
        cursor.execute(f"CREATE TEMP TABLE {STAGE} ON COMMIT DROP AS SELECT {COLUMNS} FROM kpis_kpivalue WITH NO DATA")


def _publish(replaced: list[tuple[str, list[date], list[str]]]) -> None:
    """Swap the run's rows in: every stored row of the periods it recomputed goes (slices that had
    figures and now have none, such as a team a ticket moved away from, go with them), and the
    run's rows come in. A plain delete and insert: far cheaper than an upsert row by row."""
    with connection.cursor() as cursor:
        for granularity, starts, keys in replaced:
            if starts:
                cursor.execute(
                    "DELETE FROM kpis_kpivalue WHERE granularity = %s AND period_start = ANY(%s) AND kpi = ANY(%s)",
                    [granularity, starts, keys],
                )
        cursor.execute(f"INSERT INTO kpis_kpivalue ({COLUMNS}) SELECT {COLUMNS} FROM {STAGE}")


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
        _create_stage()
        _prepare_backlog_now(backlog_kpis, now)
        if run.full or since:  # past periods' backlog: from one pass over the tickets
            _prepare_backlog_events(period_start(min(days), Granularity.MONTH), now)
        say("days to recompute, tickets open now" + (", backlog events" if run.full or since else ""))
        replaced: list[tuple[str, list[date], list[str]]] = []
        recomputed: dict[str, dict[str, set[date]]] = {}
        for granularity in GRANULARITIES:
            # A past period's backlog does not move when an old ticket is answered or resolved
            # later (it was open at that end either way): incremental runs refresh the running
            # period's; full, --since and the nightly runs recompute the past ones.
            if run.full or since:
                backlog_starts = {period_start(day, granularity) for day in days}
            else:
                backlog_starts = {period_start(today, granularity)}
            rows += _compute_backlog(backlog_kpis, granularity, backlog_starts, now)
            replaced.append((granularity, sorted(backlog_starts), [kpi.key for kpi in backlog_kpis]))
            for source_key, kpis in by_source.items():
                source_days = days_by_source[source_key]
                starts = {period_start(day, granularity) for day in source_days}
                if granularity == Granularity.DAY:
                    rows += _compute_days(source_key, kpis, starts, now)
                else:  # from the day rows computed above and the stored ones of unchanged days
                    rows += _roll_up(kpis, granularity, starts, source_days, now)
                recomputed.setdefault(source_key, {})[granularity] = starts
                replaced.append((granularity, sorted(starts), [kpi.key for kpi in kpis]))
            say(f"{granularity}: {len({period_start(day, granularity) for day in days})} period(s)")
        for source_key, starts_by_granularity in recomputed.items():
            for granularities, ranges in percentile_passes(starts_by_granularity, whole=run.full or bool(since)):
                _compute_percentiles(source_key, by_source[source_key], granularities, ranges)
        say("medians and p90")
        _publish(replaced)
        say(f"{rows:,} values written")
        run.finished_at = timezone.now()
        run.periods, run.rows = len(days), rows
        run.save(update_fields=["finished_at", "periods", "rows"])
    return RefreshResult(run=run, days=len(days), rows=rows, seconds=(timezone.now() - started).total_seconds())
