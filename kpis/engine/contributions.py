"""What each counted row contributes to the stored values, kept between runs.

Per source, a contribution row holds a row's local day, its slices, a bit per KPI part it counts
in (``flags``: the denominator, the numerator, NPS's detractors, from the registry's ``Q``
objects), its durations in whole seconds and its costs in cents (``sums``), and the histogram
bucket of each duration (``buckets``). Counts, sums and buckets all add up, so:

- a full run writes every row's contribution and aggregates them (day × every slice at once);
- an incremental run reads the rows changed since the previous run, computes their new
  contributions, and aggregates the *signed* difference — the new ones counted +1, their stored
  ones −1 — into deltas that it adds to the stored values (``apply``). Its cost follows the number
  of changed rows, not the days they touch nor the size of the tables. Integer parts make the sum
  of the deltas exactly the full run's figure (``tests/kpis/test_engine.py`` holds it to that).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.apps import apps
from django.db import connection
from django.db.models import BigIntegerField, Case, CharField, F, FloatField, Func, IntegerField, Q, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast

from kpis.engine.aggregation import ROWS, dimension_cases, insert_values, materialize, raw_parts
from kpis.engine.periods import LocalDay, local_midnight
from kpis.engine.publish import CENTS
from kpis.engine.quantiles import key_sql
from kpis.models import (
    ComplaintContribution,
    Granularity,
    InvitationContribution,
    ResponseContribution,
    TicketContribution,
)
from kpis.registry import KPI, SOURCES, Kind, counted_q, part_q, source_dimensions

TABLES = {
    "tickets": TicketContribution._meta.db_table,
    "responses": ResponseContribution._meta.db_table,
    "invitations": InvitationContribution._meta.db_table,
    "complaints": ComplaintContribution._meta.db_table,
}
COLUMNS = "row_id, day, d_team, d_agent, d_category, d_channel, d_priority, d_extra, flags, sums, buckets, tags"
#: The dimensions every source has (its ticket's); a source's own one is kept in ``d_extra``.
TICKET_DIMENSIONS = ("team", "agent", "category", "channel", "priority")


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


def duration_seconds(kpi: KPI):
    """A duration KPI's seconds: a stored field (working time), or the difference of two timestamps."""
    if len(kpi.measure) == 1:
        return Cast(F(kpi.measure[0]), FloatField())
    end, start = kpi.measure
    return Epoch(F(end) - F(start))


@dataclass(frozen=True)
class Layout:
    """Where each KPI of a source keeps its parts in a contribution row."""

    source_key: str
    kpis: tuple[KPI, ...]
    #: (kpi key, part) → bit of ``flags``
    bits: dict[tuple[str, str], int]
    #: the KPIs with a sum (durations, costs), in the order of ``sums``
    measured: tuple[KPI, ...]
    #: the duration KPIs, in the order of ``buckets``
    durations: tuple[KPI, ...]

    @property
    def dimensions(self) -> list[str]:
        return list(source_dimensions(self.source_key))

    @property
    def table(self) -> str:
        return TABLES[self.source_key]

    def sum_index(self, kpi: KPI) -> int:
        return self.measured.index(kpi) + 1  # SQL arrays count from 1

    def bucket_index(self, kpi: KPI) -> int:
        return self.durations.index(kpi) + 1


def layout(source_key: str, kpis: list[KPI]) -> Layout:
    bits: dict[tuple[str, str], int] = {}
    for kpi in kpis:
        parts = ["den"] + (["num"] if kpi.kind.links_numerator else []) + (["neg"] if kpi.kind is Kind.NPS else [])
        for part in parts:
            bits[(kpi.key, part)] = len(bits)
    assert len(bits) <= 63, "a source's KPI parts must fit in one bigint"
    measured = tuple(kpi for kpi in kpis if kpi.kind in (Kind.DURATION, Kind.SUM))
    durations = tuple(kpi for kpi in kpis if kpi.kind is Kind.DURATION)
    return Layout(source_key, tuple(kpis), bits, measured, durations)


class Array(Func):
    """``ARRAY[a, b, …]`` of the given type."""

    def __init__(self, *expressions, element: str):
        super().__init__(*expressions, template=f"ARRAY[%(expressions)s]::{element}[]")


class Whole(Func):
    """A float rounded to a whole number (``round(double precision)``, not numeric's slower one)."""

    template = "round(%(expressions)s)::bigint"
    output_field = BigIntegerField()


def _measure(kpi: KPI):
    """A row's whole seconds (a duration) or cents (a cost)."""
    if kpi.kind is Kind.SUM:
        total = sum((F(name) for name in kpi.measure[1:]), F(kpi.measure[0]))
        return Whole(Cast(total, FloatField()) * CENTS)
    return Whole(duration_seconds(kpi))


def _when(q: Q, then):
    return then if not q else Case(When(q, then=then), default=None)


#: The tags of each ticket, for a pass over many rows (hashed once, rather than looked up row by row).
_ALL_TAGS = (
    "LEFT JOIN (SELECT ticket_id, array_agg(tag_id ORDER BY tag_id) AS tags FROM tickets_ticket_tags "
    "GROUP BY ticket_id) tg ON tg.ticket_id = s.c_ticket"
)
#: …and for a few rows, each ticket's looked up by the index.
_EACH_TAGS = (
    "LEFT JOIN LATERAL (SELECT array_agg(tag_id ORDER BY tag_id) AS tags FROM tickets_ticket_tags "
    "WHERE ticket_id = s.c_ticket) tg ON true"
)


def _contributions_sql(plan: Layout, where: Q, *, many: bool = True) -> tuple[str, tuple]:
    """SELECT of the contribution rows of a source's rows matching ``where``, in ``COLUMNS`` order
    (a merged duplicate's have none: ``registry.counted_q``), with their ticket's tags (``many``:
    most of the rows, else a few)."""
    source = SOURCES[plan.source_key]
    model = apps.get_model(source.model)
    flags = Value(0, output_field=BigIntegerField())
    by_key = {kpi.key: kpi for kpi in plan.kpis}
    for (key, part), bit in plan.bits.items():
        q = part_q(by_key[key], part)
        flag = Value(1 << bit, output_field=BigIntegerField())
        flags = flags + (Case(When(q, then=flag), default=Value(0), output_field=BigIntegerField()) if q else flag)
    paths = source_dimensions(plan.source_key)
    extra = [path for name, path in paths.items() if name not in TICKET_DIMENSIONS]
    annotations = {
        "c_row": F("pk"),
        "c_day": LocalDay(source.anchor),
        **{f"c_{name}": F(paths[name]) for name in TICKET_DIMENSIONS},
        "c_extra": Cast(F(extra[0]), CharField()) if extra else Value(None, output_field=CharField()),
        "c_flags": flags,
        "c_sums": Array(*[_when(part_q(kpi, "den"), _measure(kpi)) for kpi in plan.measured], element="bigint")
        if plan.measured
        else RawSQL("NULL::bigint[]", ()),
        "c_buckets": Array(
            *[_when(part_q(kpi, "den"), Bucket(duration_seconds(kpi))) for kpi in plan.durations], element="smallint"
        )
        if plan.durations
        else RawSQL("NULL::smallint[]", ()),
    }
    counted = model.objects.filter(where & counted_q(plan.source_key))
    ticket = F(f"{source.ticket_path}id") if source.ticket_path else F("pk")
    queryset = counted.annotate(**annotations, c_ticket=ticket).values(*annotations, "c_ticket").order_by()
    sql, params = queryset.query.sql_with_params()
    named = ", ".join(
        f's."{alias}" AS {column.strip()}' for alias, column in zip(annotations, COLUMNS.split(",")[:-1], strict=True)
    )
    return f"SELECT {named}, tg.tags AS tags FROM ({sql}) s {_ALL_TAGS if many else _EACH_TAGS}", params


def write_all(plan: Layout, from_day: date | None = None) -> None:
    """Every row's contribution from scratch (a full run), or every one of the rows of ``from_day``
    and later (``refresh_kpis --since``)."""
    if from_day is None:
        sql, params = _contributions_sql(plan, Q())
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {plan.table}")
            cursor.execute(f"INSERT INTO {plan.table} ({COLUMNS}) {sql}", params)
            cursor.execute(f"ANALYZE {plan.table}")  # the aggregates' plans need its new size
        return
    anchor = SOURCES[plan.source_key].anchor
    sql, params = _contributions_sql(plan, Q(**{f"{anchor}__gte": local_midnight(from_day)}))
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {plan.table} WHERE day >= %s", [from_day])
        cursor.execute(f"INSERT INTO {plan.table} ({COLUMNS}) {sql} ON CONFLICT (row_id) DO UPDATE SET "
                       + ", ".join(f"{c.strip()} = EXCLUDED.{c.strip()}" for c in COLUMNS.split(",")[1:]),
                       params)  # fmt: skip


#: Per source, the rows whose contribution may have changed since a moment: the row itself changed,
#: or its ticket did (its slices and the ticket fields its KPIs read move with it), or — for a
#: ticket — its survey link went out or its answer came in. Each branch reads an index.
CHANGED_SQL = {
    "tickets": """
        SELECT id FROM tickets_ticket WHERE updated_at >= %(since)s
        UNION SELECT ticket_id FROM surveys_surveyinvitation WHERE created_at >= %(since)s
        UNION SELECT ticket_id FROM surveys_surveyresponse WHERE submitted_at >= %(since)s""",
    "responses": """
        SELECT id FROM surveys_surveyresponse WHERE submitted_at >= %(since)s
        UNION SELECT r.id FROM surveys_surveyresponse r JOIN kpi_changed_tickets c ON c.row_id = r.ticket_id""",
    "invitations": """
        SELECT id FROM surveys_surveyinvitation WHERE created_at >= %(since)s OR answered_at >= %(since)s
        UNION SELECT i.id FROM surveys_surveyinvitation i JOIN kpi_changed_tickets c ON c.row_id = i.ticket_id""",
    "complaints": """
        SELECT id FROM complaints_complaint WHERE updated_at >= %(since)s
        UNION SELECT m.id FROM complaints_complaint m JOIN kpi_changed_tickets c ON c.row_id = m.ticket_id""",
}


def select_changed(plan: Layout, *, since: datetime) -> int:
    """``kpi_changed_<source>``: the ids of the rows changed since ``since``. The tickets' go
    first: the other sources follow their tickets."""
    materialize(f"kpi_changed_{plan.source_key}", f"SELECT id AS row_id FROM ({CHANGED_SQL[plan.source_key]}) c(id)",
                {"since": since})  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM kpi_changed_{plan.source_key}")
        return cursor.fetchone()[0]


def compute_changed(plan: Layout) -> None:
    """``kpi_new_<source>``: the new contributions of the changed rows (rows deleted since have none)."""
    changed = RawSQL(f"SELECT row_id FROM kpi_changed_{plan.source_key}", ())  # noqa: S611 (no user input)
    sql, params = _contributions_sql(plan, Q(pk__in=changed), many=False)
    materialize(f"kpi_new_{plan.source_key}", sql, params)


def replace_changed(plan: Layout) -> None:
    """The stored contributions of the changed rows become their new ones."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {plan.table} WHERE row_id IN (SELECT row_id FROM kpi_changed_{plan.source_key})")
        cursor.execute(f"INSERT INTO {plan.table} ({COLUMNS}) SELECT {COLUMNS} FROM kpi_new_{plan.source_key}")


def signed_sql(plan: Layout, *, delta: bool, from_day: date | None = None) -> str:
    """The contribution rows to aggregate, each with its sign: every stored one (of ``from_day``
    and later), or the changed rows' new ones (+1) and stored ones (−1)."""
    if not delta:
        since = f" WHERE day >= '{from_day.isoformat()}'::date" if from_day else ""
        return f"SELECT 1 AS sign, {COLUMNS} FROM {plan.table}{since}"
    return (
        f"SELECT 1 AS sign, {COLUMNS} FROM kpi_new_{plan.source_key} "
        f"UNION ALL SELECT -1, {', '.join('o.' + c.strip() for c in COLUMNS.split(','))} FROM {plan.table} o "
        f"JOIN kpi_changed_{plan.source_key} c ON c.row_id = o.row_id"
    )


def _dimension_columns(plan: Layout, row: str) -> list[str]:
    """The contribution columns of the source's dimensions, named ``d_<dimension>``."""
    columns = []
    for name in plan.dimensions:
        column = f"d_{name}" if name in TICKET_DIMENSIONS else "d_extra"
        columns.append(f'{row}.{column} AS "d_{name}"')
    return columns


def part_columns(plan: Layout) -> dict[str, str]:
    """Column name → its signed sum over the contribution rows ``r``: ``<key>__den`` etc., and a
    measured KPI's ``<key>__sum`` (seconds or cents)."""
    # Integers summed as int (a bigint total) and whole seconds or cents as float8: both far cheaper
    # to add up than numeric, and exact — every partial sum is a whole number below 2^53.
    columns: dict[str, str] = {ROWS: "SUM(r.sign)"}
    for (key, part), bit in plan.bits.items():
        columns[f"{key}__{part}"] = f"SUM(r.sign * ((r.flags >> {bit}) & 1)::int)"
    for kpi in plan.measured:
        columns[f"{kpi.key}__sum"] = f"SUM((r.sign * r.sums[{plan.sum_index(kpi)}])::float8)"
    return columns


def aggregate_sql(plan: Layout, *, delta: bool, from_day: date | None = None) -> str:
    """The signed parts by day and slice: finest grain first (day × every dimension), then the
    slices (``GROUPING SETS``), as ``aggregation.insert_values`` reads them."""
    columns = part_columns(plan)
    dims = [f'"d_{name}"' for name in plan.dimensions]
    finest = (
        f"SELECT r.day AS period, {', '.join(_dimension_columns(plan, 'r'))}, "
        + ", ".join(f'{expr} AS "{name}"' for name, expr in columns.items())
        + f" FROM ({signed_sql(plan, delta=delta, from_day=from_day)}) r "
        + f"GROUP BY r.day, {', '.join(str(i + 2) for i in range(len(dims)))}"
    )
    sets = ", ".join(["()"] + [f"(f.{d})" for d in dims])
    summed = ", ".join(f'SUM(f."{name}") AS "{name}"' for name in columns)
    return (
        f"SELECT f.period, {', '.join('f.' + d for d in dims)}, GROUPING({', '.join('f.' + d for d in dims)}) AS g, "
        f"{summed} FROM ({finest}) f GROUP BY f.period, GROUPING SETS ({sets})"
    )


def histogram_sql(plan: Layout, *, delta: bool, from_day: date | None = None) -> str:
    """The signed bucket counts of the durations by KPI, day, slice and bucket (zero sums left out)."""
    dims = [f'"d_{name}"' for name in plan.dimensions]
    unpivot = ", ".join(f"('{kpi.key}', r.buckets[{plan.bucket_index(kpi)}])" for kpi in plan.durations)
    cells = (
        f"SELECT u.kpi, r.day AS period, {', '.join(_dimension_columns(plan, 'r'))}, u.bucket, SUM(r.sign)::int AS n "
        f"FROM ({signed_sql(plan, delta=delta, from_day=from_day)}) r "
        f"CROSS JOIN LATERAL (VALUES {unpivot}) AS u(kpi, bucket) "
        f"WHERE u.bucket IS NOT NULL GROUP BY u.kpi, r.day, {', '.join(str(i + 3) for i in range(len(dims)))}, u.bucket"
    )
    sets = ", ".join(["()"] + [f"(f.{d})" for d in dims])
    dimension_case, value_case = dimension_cases(plan.dimensions)
    return (
        f"SELECT a.kpi, a.period, {dimension_case} AS dimension, {value_case} AS dimension_value, a.bucket, a.n "
        f"FROM (SELECT f.kpi, f.period, f.bucket, {', '.join('f.' + d for d in dims)}, "
        f"GROUPING({', '.join('f.' + d for d in dims)}) AS g, SUM(f.n)::bigint AS n "
        f"FROM ({cells}) f GROUP BY f.kpi, f.period, f.bucket, GROUPING SETS ({sets})) a WHERE a.n <> 0"
    )


def tag_aggregate_sql(plan: Layout, *, delta: bool, from_day: date | None = None) -> str:
    """The signed parts by day and tag (``aggregate_sql``'s columns, the slice in ``d_tag``): a row
    counts under each of its ticket's tags."""
    columns = part_columns(plan)
    return (
        'SELECT r.day AS period, u.tag AS "d_tag", 0 AS g, '
        + ", ".join(f'{expr} AS "{name}"' for name, expr in columns.items())
        + f" FROM ({signed_sql(plan, delta=delta, from_day=from_day)}) r "
        + "CROSS JOIN LATERAL unnest(r.tags) AS u(tag) GROUP BY r.day, u.tag"
    )


def tag_histogram_sql(plan: Layout, *, delta: bool, from_day: date | None = None) -> str:
    """The signed bucket counts of the durations by KPI, day, tag and bucket (``histogram_sql``'s columns)."""
    unpivot = ", ".join(f"('{kpi.key}', r.buckets[{plan.bucket_index(kpi)}])" for kpi in plan.durations)
    return (
        "SELECT h.kpi, h.period, 'tag' AS dimension, h.tag::text AS dimension_value, h.bucket, h.n FROM ("
        "SELECT u.kpi, r.day AS period, t.tag, u.bucket, SUM(r.sign)::bigint AS n "
        f"FROM ({signed_sql(plan, delta=delta, from_day=from_day)}) r "
        "CROSS JOIN LATERAL unnest(r.tags) AS t(tag) "
        f"CROSS JOIN LATERAL (VALUES {unpivot}) AS u(kpi, bucket) "
        "WHERE u.bucket IS NOT NULL GROUP BY 1, 2, 3, 4) h WHERE h.n <> 0"
    )


def histogram_arrays(name: str, cells_sql: str) -> str:
    """``name``: the histograms of a full run's bucket counts (``histogram_sql``, ``tag_histogram_sql``)
    by KPI, day and slice, as sorted arrays."""
    materialize(
        name,
        "SELECT kpi, period, dimension, dimension_value, array_agg(bucket ORDER BY bucket)::smallint[] AS keys, "
        f"array_agg(n ORDER BY bucket)::int[] AS counts FROM ({cells_sql}) h GROUP BY 1, 2, 3, 4",
        (),
    )
    return name


def compute_days(plan: Layout, now: datetime, from_day: date | None = None) -> int:
    """The stage's day rows of a source's KPIs from the stored contributions (of ``from_day`` and
    later): by day and every slice, then by day and tag."""
    histograms = tag_histograms = None
    if plan.durations:
        histograms = histogram_arrays("kpi_histograms", histogram_sql(plan, delta=False, from_day=from_day))
        tag_histograms = histogram_arrays("kpi_tag_histograms", tag_histogram_sql(plan, delta=False, from_day=from_day))
    rows = insert_values(aggregate_sql(plan, delta=False, from_day=from_day), (), list(plan.kpis), Granularity.DAY,
                         now, plan.dimensions, histograms)  # fmt: skip
    return rows + insert_values(tag_aggregate_sql(plan, delta=False, from_day=from_day), (), list(plan.kpis),
                                Granularity.DAY, now, ["tag"], tag_histograms)  # fmt: skip


def compute_delta(plan: Layout) -> None:
    """Add to the run's deltas (``publish.create_deltas``) those of a source's changed rows: their
    new contributions less their stored ones — parts by KPI, day and slice (a cost in cents), and
    bucket counts; by every slice, then by tag."""
    rows = ", ".join(f"('{kpi.key}', {', '.join(raw_parts(kpi))})" for kpi in plan.kpis)
    for aggregate, dimensions in ((aggregate_sql(plan, delta=True), plan.dimensions),
                                  (tag_aggregate_sql(plan, delta=True), ["tag"])):  # fmt: skip
        materialize("kpi_delta_aggregate", aggregate, ())
        dimension_case, value_case = dimension_cases(dimensions)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO kpi_delta SELECT v.kpi, a.period, {dimension_case}, {value_case}, "
                f'v.num, v.neg, v.den, a."{ROWS}" '
                f"FROM kpi_delta_aggregate a CROSS JOIN LATERAL (VALUES {rows}) AS v(kpi, num, neg, den) "
                f'WHERE v.num <> 0 OR v.neg <> 0 OR v.den <> 0 OR a."{ROWS}" <> 0'
            )
    if plan.durations:
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO kpi_hist_delta {histogram_sql(plan, delta=True)}")
            cursor.execute(f"INSERT INTO kpi_hist_delta {tag_histogram_sql(plan, delta=True)}")


def delta_days() -> set[date]:
    """The days the current deltas change."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT period FROM kpi_delta UNION SELECT DISTINCT period FROM kpi_hist_delta")
        return {row[0] for row in cursor.fetchall()}


def contributions_kept() -> bool:
    """Whether the stored contributions are there to add deltas to: the tables are unlogged, and
    PostgreSQL empties them after a crash."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {TABLES['tickets']}) OR NOT EXISTS (SELECT 1 FROM tickets_ticket)"
        )
        return cursor.fetchone()[0]
