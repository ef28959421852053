"""Stored values from aggregated parts: each KPI's numerator, negative and denominator from the
summed parts of a slice (``contributions.aggregate_sql``, the backlog's counts), its figure by its
kind's formula (``registry.Kind``), its histogram attached; and weeks and months summed from their
days — counts, sums and histogram buckets all add up exactly.
"""

from __future__ import annotations

from datetime import date, datetime

from django.db import connection

from kpis.engine.periods import merged_ranges
from kpis.engine.publish import CENTS, COLUMNS, STAGE
from kpis.registry import KPI, Kind


def raw_parts(kpi: KPI, row: str = "a") -> tuple[str, str, str]:
    """SQL of a KPI's (numerator, negative, denominator) over a row of summed parts (``<key>__den``,
    ``<key>__num``, ``<key>__neg``, ``<key>__sum``), a cost's numerator in cents."""
    den = f'{row}."{kpi.key}__den"'
    if kpi.kind.links_numerator:
        num = f'{row}."{kpi.key}__num"'
    elif kpi.kind in (Kind.DURATION, Kind.SUM):
        num = f'COALESCE({row}."{kpi.key}__sum", 0)'
    else:
        num = den
    neg = f'{row}."{kpi.key}__neg"' if kpi.kind is Kind.NPS else "0"
    return num, neg, den


def stored_parts(kpi: KPI, row: str = "a") -> tuple[str, str, str]:
    """``raw_parts`` as stored: a cost in yuan."""
    num, neg, den = raw_parts(kpi, row)
    if kpi.kind is Kind.SUM:
        num = f"(({num})::float8 / {CENTS}.0)"
    return num, neg, den


def _value_row(kpi: KPI) -> str:
    """The (kpi, numerator, negative, denominator, value) tuple of one KPI, in SQL over ``a``."""
    num, neg, den = stored_parts(kpi)
    return f"('{kpi.key}', ({num})::float, ({neg})::float, ({den})::float, {kpi.kind.figure_sql(num, den, neg)})"


#: The column of a summed aggregate that counts the source's rows of the slice.
ROWS = "__rows"


def dimension_cases(names: list[str], row: str = "a") -> tuple[str, str]:
    """SQL naming the dimension and the slice of a row from its GROUPING() bits: the set that
    groups by dimension ``i`` alone has every bit but ``i``'s set (leftmost = first)."""

    def bits(index: int) -> int:
        return (1 << len(names)) - 1 - (1 << (len(names) - 1 - index))

    whens = " ".join(f"WHEN {bits(i)} THEN '{n}'" for i, n in enumerate(names))
    dimension = f"CASE {row}.g {whens} ELSE 'all' END"
    values = " ".join(f"WHEN {bits(i)} THEN COALESCE({row}.\"d_{n}\"::text, 'none')" for i, n in enumerate(names))
    return dimension, f"CASE {row}.g {values} ELSE '' END"


def materialize(name: str, sql: str, params) -> None:
    """The result of an aggregate query as a temporary table: ``CREATE TABLE … AS`` may scan and
    aggregate in parallel, where an ``INSERT … SELECT`` or ``UPDATE … FROM`` runs on one core."""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {name}")
        cursor.execute(f"CREATE TEMP TABLE {name} ON COMMIT DROP AS {sql}", params)


def insert_values(aggregate_sql: str, params, kpis: list[KPI], granularity: str, computed_at: datetime,
                  names: list[str], histograms: str | None = None, rows: str = f'a."{ROWS}"') -> int:  # fmt: skip
    """The stage rows of every KPI from an aggregate query (``GROUPING`` bits in ``g``, slices in
    ``d_<dimension>``, parts named as ``raw_parts`` reads them); ``histograms``: a table of
    (kpi, period, dimension, dimension_value, keys, counts) to attach; ``rows``: SQL of the source's
    rows in the slice."""
    materialize("kpi_aggregate", aggregate_sql, params)
    values = ",\n        ".join(_value_row(kpi) for kpi in kpis)
    dimension_case, value_case = dimension_cases(names)
    attached = "h.keys, h.counts" if histograms else "NULL::smallint[], NULL::int[]"
    joined = (
        f"LEFT JOIN {histograms} h ON h.kpi = x.kpi AND h.period = x.period AND h.dimension = x.dimension "
        "AND h.dimension_value = x.dimension_value"
        if histograms
        else ""
    )
    sql = f"""
        INSERT INTO {STAGE} ({COLUMNS})
        SELECT x.kpi, %s, x.period, x.dimension, x.dimension_value,
               x.numerator, x.negative, x.denominator, x.source_rows, x.value, {attached}, %s
        FROM (
            SELECT v.kpi, a.period, {dimension_case} AS dimension, {value_case} AS dimension_value,
                   v.numerator, v.negative, v.denominator, ({rows})::int AS source_rows, v.value
            FROM kpi_aggregate a
            CROSS JOIN LATERAL (VALUES
            {values}
            ) AS v(kpi, numerator, negative, denominator, value)
        ) x
        {joined}
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, (granularity, computed_at))
        return cursor.rowcount


def roll_up(kpis: list[KPI], granularity: str, starts: set[date], days: set[date], now: datetime) -> int:
    """Week or month rows summed from the day rows, histograms merged bucket by bucket (exact for
    every part): this run's for the ``days`` it recomputed, the stored ones for the other days of
    those weeks and months."""
    ranges = merged_ranges(starts, granularity)
    if not ranges:
        return 0
    keys = [kpi.key for kpi in kpis]
    values = " ".join(
        f"WHEN '{kpi.key}' THEN {kpi.kind.figure_sql('s.numerator', 's.denominator', 's.negative')}" for kpi in kpis
    )
    where = " OR ".join(["(period_start >= %s AND period_start < %s)"] * len(ranges))
    columns = (
        "kpi, period_start, dimension, dimension_value, numerator, negative, denominator, source_rows, "
        "hist_keys, hist_counts"
    )
    sql = f"""
        WITH d AS MATERIALIZED (
            SELECT kpi, date_trunc(%s, period_start)::date AS period, dimension, dimension_value,
                   numerator, negative, denominator, source_rows, hist_keys, hist_counts
            FROM (
                SELECT {columns} FROM {STAGE} WHERE granularity = 'day'
                UNION ALL
                SELECT {columns} FROM kpis_kpivalue WHERE granularity = 'day' AND NOT (period_start = ANY(%s))
            ) days
            WHERE kpi = ANY(%s) AND ({where})
        ), s AS (
            SELECT kpi, period, dimension, dimension_value,
                   CASE WHEN kpi = ANY(%s) THEN SUM(round(numerator * {CENTS})::bigint)::float8 / {CENTS}.0
                        ELSE SUM(numerator) END AS numerator,
                   SUM(negative) AS negative, SUM(denominator) AS denominator,
                   SUM(source_rows) AS source_rows
            FROM d GROUP BY 1, 2, 3, 4
        ), h AS (
            SELECT kpi, period, dimension, dimension_value,
                   array_agg(bucket ORDER BY bucket)::smallint[] AS keys, array_agg(n ORDER BY bucket)::int[] AS counts
            FROM (
                SELECT kpi, period, dimension, dimension_value, u.bucket, SUM(u.n) AS n
                FROM d CROSS JOIN LATERAL unnest(d.hist_keys, d.hist_counts) AS u(bucket, n)
                GROUP BY 1, 2, 3, 4, 5
            ) b
            GROUP BY 1, 2, 3, 4
        )
        INSERT INTO {STAGE} ({COLUMNS})
        SELECT s.kpi, %s, s.period, s.dimension, s.dimension_value, s.numerator, s.negative, s.denominator,
               s.source_rows, CASE s.kpi {values} END, h.keys, h.counts, %s
        FROM s LEFT JOIN h USING (kpi, period, dimension, dimension_value)
    """
    costs = [kpi.key for kpi in kpis if kpi.kind is Kind.SUM]  # summed in whole cents, as the deltas are
    params = [granularity, sorted(days), keys, *[day for window in ranges for day in window], costs, granularity, now]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
