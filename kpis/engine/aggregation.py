"""Day values from the source rows, and weeks and months summed from the day values.

For each source, one query scans the rows of the days to compute once and aggregates every KPI
of that source, with each KPI's numerator and denominator as ``FILTER (WHERE …)`` clauses compiled
from the registry's ``Q`` objects, by local day and every dimension at the finest grain; the small
result is then rolled up into each dimension at once (``GROUPING SETS``). A duration KPI's
histogram (``quantiles``) is built the same way, from the bucket of each row's duration. Weeks and
months are sums of their days: counts, sums and histogram buckets all add up exactly.
"""

from __future__ import annotations

from datetime import date, datetime

from django.apps import apps
from django.db import connection
from django.db.models import Aggregate, Case, Count, F, FloatField, Func, IntegerField, Q, Sum, When
from django.db.models.functions import Cast

from kpis.engine.periods import LocalDay, merged_ranges, ranges_q
from kpis.engine.publish import COLUMNS, STAGE
from kpis.engine.quantiles import key_sql
from kpis.models import Granularity
from kpis.registry import KPI, SOURCES, Kind, part_q, source_dimensions


class Epoch(Func):
    """Seconds as a float (``EXTRACT`` gives a numeric, far slower to sum and sort)."""

    template = "date_part('epoch', %(expressions)s)"
    output_field = FloatField()


class Bucket(Func):
    """The histogram bucket of a duration in seconds (``quantiles.key`` in SQL)."""

    output_field = IntegerField()

    def as_sql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return key_sql(sql), list(params) * 2  # key_sql names the seconds twice


class Grouping(Aggregate):
    """``GROUPING(a, b, …)``: which grouping set a row belongs to (not itself grouped by)."""

    function = "GROUPING"
    template = "GROUPING(%(expressions)s)"
    output_field = FloatField()


def duration_seconds(kpi: KPI):
    """A duration KPI's seconds: a stored field (working time), or the difference of two timestamps."""
    if len(kpi.measure) == 1:
        return Cast(F(kpi.measure[0]), FloatField())
    end, start = kpi.measure
    return Epoch(F(end) - F(start))


def _count(q: Q):
    return Count("pk", filter=q) if q else Count("pk")


def additive_columns(kpi: KPI) -> dict[str, Aggregate]:
    """The aggregate columns of a KPI's parts, named ``<key>__den`` etc."""
    den = part_q(kpi, "den")
    columns: dict[str, Aggregate] = {f"{kpi.key}__den": _count(den)}
    if kpi.kind.links_numerator:
        columns[f"{kpi.key}__num"] = _count(part_q(kpi, "num"))
    if kpi.kind is Kind.NPS:
        columns[f"{kpi.key}__neg"] = _count(part_q(kpi, "neg"))
    if kpi.kind is Kind.DURATION:
        columns[f"{kpi.key}__sum"] = Sum(duration_seconds(kpi), filter=den or None)
    if kpi.kind is Kind.SUM:
        total = sum((F(name) for name in kpi.measure[1:]), F(kpi.measure[0]))
        columns[f"{kpi.key}__sum"] = Sum(Cast(total, FloatField()), filter=den or None)
    return columns


def stored_parts(kpi: KPI, row: str = "a") -> tuple[str, str, str]:
    """SQL of the stored (numerator, negative, denominator) of a KPI over a row of ``additive_columns``."""
    den = f'{row}."{kpi.key}__den"'
    if kpi.kind.links_numerator:
        num = f'{row}."{kpi.key}__num"'
    elif kpi.kind in (Kind.DURATION, Kind.SUM):
        num = f'COALESCE({row}."{kpi.key}__sum", 0)'
    else:
        num = den
    neg = f'{row}."{kpi.key}__neg"' if kpi.kind is Kind.NPS else "0"
    return num, neg, den


def _value_row(kpi: KPI) -> str:
    """The (kpi, numerator, negative, denominator, value) tuple of one KPI, in SQL over ``a``."""
    num, neg, den = stored_parts(kpi)
    return f"('{kpi.key}', ({num})::float, ({neg})::float, ({den})::float, {kpi.kind.figure_sql(num, den, neg)})"


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
                  names: list[str], histograms: str | None = None) -> int:  # fmt: skip
    """The stage rows of every KPI from an aggregate query (``GROUPING`` bits in ``g``, slices in
    ``d_<dimension>``, parts named as ``additive_columns`` names them); ``histograms``: a table of
    (kpi, period, dimension, dimension_value, keys, counts) to attach."""
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
               x.numerator, x.negative, x.denominator, x.value, {attached}, %s
        FROM (
            SELECT v.kpi, a.period, {dimension_case} AS dimension, {value_case} AS dimension_value,
                   v.numerator, v.negative, v.denominator, v.value
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


def _source_queryset(source_key: str, where: Q):
    source = SOURCES[source_key]
    model = apps.get_model(source.model)
    paths = source_dimensions(source_key)
    dims = {f"d_{name}": F(path) for name, path in paths.items()}
    return model.objects.filter(where).annotate(period=LocalDay(source.anchor), **dims).order_by(), list(dims)


def _finest_then_rollup_sql(queryset, sums: list[str], names: list[str]) -> tuple[str, tuple]:
    """Aggregate at the finest grain (period × every dimension, hashed, one state per row), then
    roll the small result up into the grouping sets: far cheaper than feeding every row to every
    grouping set."""
    sql, params = queryset.query.sql_with_params()
    dims = [f'f."d_{name}"' for name in names]
    summed = ", ".join(f'SUM(f."{column}") AS "{column}"' for column in sums)
    sets = ", ".join(["()"] + [f"({d})" for d in dims])
    rolled = (
        f"SELECT f.period, {', '.join(dims)}, GROUPING({', '.join(dims)}) AS g, {summed} "
        f"FROM ({sql}) f GROUP BY f.period, GROUPING SETS ({sets})"
    )
    return rolled, params


def _histograms(source_key: str, kpis: list[KPI], where: Q, names: list[str]) -> str | None:
    """``kpi_histograms``: each duration KPI's histogram by day and slice, as sorted arrays of
    bucket keys and counts. The buckets are counted at the finest grain (day × every dimension),
    then rolled up into the slices, as the other parts are."""
    durations = [kpi for kpi in kpis if kpi.kind is Kind.DURATION]
    if not durations:
        return None
    queryset, dims = _source_queryset(source_key, where)
    buckets = {f"b_{kpi.key}": Case(When(part_q(kpi, "den"), then=Bucket(duration_seconds(kpi)))) for kpi in durations}
    sql, params = queryset.annotate(**buckets).values("period", *dims, *buckets).query.sql_with_params()
    row_dims = ", ".join(f'r."{d}"' for d in dims)
    unpivot = ", ".join(f"('{kpi.key}', r.\"b_{kpi.key}\")" for kpi in durations)
    cells = f"""
        SELECT u.kpi, r.period, {row_dims}, u.bucket, count(*) AS n
        FROM ({sql}) r CROSS JOIN LATERAL (VALUES {unpivot}) AS u(kpi, bucket)
        WHERE u.bucket IS NOT NULL
        GROUP BY u.kpi, r.period, {row_dims}, u.bucket
    """
    cell_dims = [f'f."{d}"' for d in dims]
    sets = ", ".join(["()"] + [f"({d})" for d in cell_dims])
    dimension_case, value_case = dimension_cases(names)
    materialize(
        "kpi_histograms",
        f"""
        SELECT a.kpi, a.period, {dimension_case} AS dimension, {value_case} AS dimension_value,
               array_agg(a.bucket ORDER BY a.bucket)::smallint[] AS keys,
               array_agg(a.n ORDER BY a.bucket)::int[] AS counts
        FROM (
            SELECT f.kpi, f.period, f.bucket, {", ".join(cell_dims)}, GROUPING({", ".join(cell_dims)}) AS g,
                   SUM(f.n) AS n
            FROM ({cells}) f GROUP BY f.kpi, f.period, f.bucket, GROUPING SETS ({sets})
        ) a
        GROUP BY 1, 2, 3, 4
        """,
        params,
    )
    return "kpi_histograms"


def compute_days(source_key: str, kpis: list[KPI], starts: set[date], now: datetime) -> int:
    """The stage's day rows of a source's KPIs for the given days."""
    where = ranges_q(SOURCES[source_key].anchor, merged_ranges(starts, Granularity.DAY))
    names = list(source_dimensions(source_key))
    queryset, dims = _source_queryset(source_key, where)
    queryset = queryset.values("period", *dims)
    columns: list[str] = []
    for kpi in kpis:
        additive = additive_columns(kpi)
        queryset = queryset.annotate(**additive)
        columns += list(additive)
    histograms = _histograms(source_key, kpis, where, names)
    sql, params = _finest_then_rollup_sql(queryset, columns, names)
    return insert_values(sql, params, kpis, Granularity.DAY, now, names, histograms)


def roll_up(kpis: list[KPI], granularity: str, starts: set[date], days: set[date], now: datetime) -> int:
    """Week or month rows summed from the day rows, histograms merged bucket by bucket (exact for
    every part): this run's for the ``days`` it recomputed, the stored ones for the other days of
    those weeks and months."""
    ranges = merged_ranges(starts, granularity)
    keys = [kpi.key for kpi in kpis]
    values = " ".join(
        f"WHEN '{kpi.key}' THEN {kpi.kind.figure_sql('s.numerator', 's.denominator', 's.negative')}" for kpi in kpis
    )
    where = " OR ".join(["(period_start >= %s AND period_start < %s)"] * len(ranges))
    columns = "kpi, period_start, dimension, dimension_value, numerator, negative, denominator, hist_keys, hist_counts"
    sql = f"""
        WITH d AS MATERIALIZED (
            SELECT kpi, date_trunc(%s, period_start)::date AS period, dimension, dimension_value,
                   numerator, negative, denominator, hist_keys, hist_counts
            FROM (
                SELECT {columns} FROM {STAGE} WHERE granularity = 'day'
                UNION ALL
                SELECT {columns} FROM kpis_kpivalue WHERE granularity = 'day' AND NOT (period_start = ANY(%s))
            ) days
            WHERE kpi = ANY(%s) AND ({where})
        ), s AS (
            SELECT kpi, period, dimension, dimension_value,
                   SUM(numerator) AS numerator, SUM(negative) AS negative, SUM(denominator) AS denominator
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
               CASE s.kpi {values} END, h.keys, h.counts, %s
        FROM s LEFT JOIN h USING (kpi, period, dimension, dimension_value)
    """
    params = [granularity, sorted(days), keys, *[day for window in ranges for day in window], granularity, now]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
