"""The backlog: tickets open at each period's end, and those of them past due.

Not a flow summed over a period but a level taken at its end, so not summed from days: the
running period's is a count of the tickets open now; past periods' are running sums of +1/−1
events (requested, resolved, due) from one pass over the tickets.
"""

from __future__ import annotations

from datetime import date, datetime

from django.conf import settings
from django.db import connection
from django.utils import timezone

from kpis.engine.aggregation import dimension_cases, insert_values, materialize
from kpis.engine.periods import local_midnight, next_period, period_start, tz
from kpis.registry import DIMENSION_FIELDS, KPI

DIMENSIONS = list(DIMENSION_FIELDS)  # the order of the GROUPING() bits, leftmost = highest bit


def backlog_end(start: date, granularity: str, now: datetime) -> datetime:
    """A backlog figure is taken at its period's end, or now for the running period."""
    return min(local_midnight(next_period(start, granularity)), now)


#: The ticket's dimensions (the backlog's slices), from the registry.
_DIMENSION_COLUMNS = ", ".join(f"t.{field} AS d_{name}" for name, field in DIMENSION_FIELDS.items())
_GROUPING_SETS = "GROUPING SETS ((), " + ", ".join(f"(d_{name})" for name in DIMENSION_FIELDS) + ")"
_D = ", ".join(f"d_{name}" for name in DIMENSION_FIELDS)
_S_D = ", ".join(f"s.d_{name}" for name in DIMENSION_FIELDS)

#: Tickets open now, and those of them past due: the running periods' backlog (their end is now),
#: the same for the running day, week and month.
_BACKLOG_NOW_SQL = f"""
    SELECT {_D}, GROUPING({_D}) AS g,
           COUNT(*) AS "{{key}}__den", COUNT(*) FILTER (WHERE due < %s) AS "{{key}}__num"
    FROM (SELECT {_DIMENSION_COLUMNS}, t.resolution_due_at AS due FROM tickets_ticket t
          WHERE t.requested_at < %s AND t.resolved_at IS NULL
          UNION ALL  -- apart: the open ones are read from their index alone (ticket_open_work_idx);
                     -- a merged duplicate is resolved, so only this branch needs to leave it out
          SELECT {_DIMENSION_COLUMNS}, t.resolution_due_at AS due FROM tickets_ticket t
          WHERE t.requested_at < %s AND t.resolved_at >= %s AND t.merged_into_id IS NULL) t
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
    WHERE e.at < %(now)s AND t.merged_into_id IS NULL  -- a merged duplicate counts in no KPI
    GROUP BY 1, {_D}
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


def compute_backlog(kpis: list[KPI], granularity: str, starts: set[date], now: datetime) -> int:
    """Tickets open at each period's end (``registry.backlog_denominator``) and those of them past
    due (``backlog_numerator``). The running period ends now: a count of the open tickets. Past
    periods: running sums of the events of ``prepare_backlog_events`` (one pass over the tickets
    for every granularity). The drill-down test holds both to the registry's Q."""
    (kpi,) = kpis
    running = period_start(timezone.localtime(now, tz()).date(), granularity)
    rows = 0
    if running in starts:  # from prepare_backlog_now
        rows += insert_values(
            "SELECT %s::date AS period, n.* FROM kpi_backlog_now n",
            (running,),
            kpis,
            granularity,
            now,
            DIMENSIONS,
            rows=f'a."{kpi.key}__den"',  # the tickets open at the period's end
        )
    past = sorted(start for start in starts if start != running)
    if past:
        _, slice_case = dimension_cases(DIMENSIONS)
        sql = _BACKLOG_PAST_SQL.format(key=kpi.key, slice=slice_case.replace("a.", "sliced."))
        params = (granularity, past[0], past[0], past[-1], f"1 {granularity}", past)
        rows += insert_values(sql, params, kpis, granularity, now, DIMENSIONS, rows=f'a."{kpi.key}__den"')
    return rows


def prepare_backlog_now(kpis: list[KPI], now: datetime) -> None:
    """The tickets open now by slice: the backlog of the running day, week and month alike."""
    (kpi,) = kpis
    materialize("kpi_backlog_now", _BACKLOG_NOW_SQL.format(key=kpi.key), (now, now, now, now))


def prepare_backlog_events(first: date, now: datetime) -> None:
    """The day-level backlog events that the past periods of every granularity are summed from."""
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS kpi_backlog_events")
        cursor.execute(_BACKLOG_EVENTS_SQL, {"tz": settings.TIME_ZONE, "first": first, "now": now})
