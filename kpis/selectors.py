"""Reads of the stored KPI values, and the drill-down from a figure to its tickets.

The dashboard reads ``kpis_kpivalue`` only (a bounded number of queries whatever the
number of tickets). A figure over several stored periods is re-derived from their
numerators and denominators; a backlog figure is the one stored at the range's end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import Max, Q, QuerySet, Sum
from django.utils import timezone

from kpis.forms import DrilldownForm
from kpis.models import Granularity, KPIRun, KPITarget, KPIValue
from kpis.registry import BY_KEY, DIMENSION_FIELDS, EXTRA_DIMENSION_TICKET_FIELDS, KPI, KPIS, SOURCES, part_q, reroot
from kpis.services import local_midnight, next_period, period_start

PARTS = ("num", "neg", "den")


def dimension_q(dimension: str, value: str) -> Q:
    if dimension in ("", "all"):
        return Q()
    field_name = DIMENSION_FIELDS.get(dimension) or EXTRA_DIMENSION_TICKET_FIELDS[dimension]
    if value == "none":
        return Q(**{f"{field_name}__isnull": True})
    return Q(**{field_name: value})


def drilldown_q(
    kpi: KPI, part: str, start: date, end: date, dimension: str = "all", value: str = "", now: datetime | None = None
) -> Q:
    """The tickets a figure counts, for the local days [start, end): the same ``Q`` as the SQL.

    For a survey KPI these are the tickets whose answer (or invitation) is counted."""
    source = SOURCES[kpi.source]
    if kpi.source == "backlog":
        moment = min(local_midnight(end), now) if now else local_midnight(end)
        return part_q(kpi, part, end=moment) & dimension_q(dimension, value)
    prefix = source.from_ticket
    anchor = prefix + source.anchor
    when = Q(**{f"{anchor}__gte": local_midnight(start), f"{anchor}__lt": local_midnight(end)})
    return when & reroot(part_q(kpi, part), prefix) & dimension_q(dimension, value)


@dataclass
class Figure:
    """A KPI over a date range, re-derived from stored periods."""

    kpi: KPI
    numerator: float = 0.0
    denominator: float = 0.0
    #: NPS: the detractors (``numerator`` holds the promoters)
    negative: float = 0.0
    value: float | None = None
    median: float | None = None
    p90: float | None = None
    target: float | None = None
    previous: float | None = None
    computed_at: datetime | None = None
    extra: dict = field(default_factory=dict)

    @property
    def on_target(self) -> bool | None:
        if self.value is None or self.target is None or self.kpi.better is None:
            return None
        return self.value >= self.target if self.kpi.better == "higher" else self.value <= self.target

    @property
    def change(self) -> float | None:
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous

    @property
    def per_ticket(self) -> float | None:
        return self.numerator / self.denominator if self.kpi.kind == "sum" and self.denominator else None


def derive(kpi: KPI, numerator: float, denominator: float, negative: float = 0.0) -> float | None:
    """A figure from summed parts, as the SQL derives it."""
    if kpi.kind in ("count",):
        return denominator
    if kpi.kind == "sum":
        return numerator
    if not denominator:
        return None
    if kpi.kind == "duration":
        return numerator / denominator / 3600.0
    if kpi.kind == "nps":
        return 100.0 * (numerator - negative) / denominator
    return 100.0 * numerator / denominator


def granularity_for(start: date, end: date) -> str:
    """Days for up to a month, weeks for up to a quarter, months beyond."""
    days = (end - start).days
    return Granularity.DAY if days <= 31 else Granularity.WEEK if days <= 92 else Granularity.MONTH


def targets(team_id: int | None = None) -> dict[str, float | None]:
    """Each KPI's target: the team's own, else the desk's, else the registry default."""
    found = {kpi.key: kpi.target for kpi in KPIS}
    rows = KPITarget.objects.filter(Q(team__isnull=True) | Q(team_id=team_id)).order_by("team_id")
    for row in sorted(rows, key=lambda r: r.team_id is not None):  # the team's own wins
        found[row.kpi] = row.value
    return found


def figures(
    start: date,
    end: date,
    dimension: str = "all",
    value: str = "",
    team_targets: int | None = None,
    now: datetime | None = None,
) -> list[Figure]:
    """Every KPI over the local days [start, end), with the previous range of the same length."""
    length = end - start
    current = _summed(start, end, dimension, value)
    previous = _summed(start - length, start, dimension, value)
    wanted = targets(team_targets)
    result = []
    for kpi in KPIS:
        row = current.get(kpi.key)
        figure = Figure(kpi=kpi, target=wanted.get(kpi.key))
        if row:
            figure.numerator, figure.denominator = row["numerator"], row["denominator"]
            figure.negative = row.get("negative") or 0.0
            figure.value = row.get("value", derive(kpi, figure.numerator, figure.denominator, figure.negative))
            figure.median, figure.p90 = row.get("median"), row.get("p90")
            figure.computed_at = row.get("computed_at")
        before = previous.get(kpi.key)
        if before:
            figure.previous = before.get(
                "value", derive(kpi, before["numerator"], before["denominator"], before.get("negative") or 0.0)
            )
        result.append(figure)
    return result


def covering_periods(start: date, end: date) -> list[tuple[str, date]]:
    """The local days [start, end) as the fewest stored periods: whole months, then whole weeks,
    then days. Week and month rows are sums of their day rows, so the parts add up the same."""
    pieces, cursor = [], start
    while cursor < end:
        for granularity in (Granularity.MONTH, Granularity.WEEK, Granularity.DAY):
            if period_start(cursor, granularity) == cursor and next_period(cursor, granularity) <= end:
                pieces.append((granularity, cursor))
                cursor = next_period(cursor, granularity)
                break
    return pieces


def _periods_q(pieces: list[tuple[str, date]]) -> Q:
    """The stored rows of ``covering_periods``."""
    by_granularity: dict[str, list[date]] = {}
    for granularity, first in pieces:
        by_granularity.setdefault(granularity, []).append(first)
    q = Q(pk__in=[])
    for granularity, starts in by_granularity.items():
        q |= Q(granularity=granularity, period_start__in=starts)
    return q


def _summed(start: date, end: date, dimension: str, value: str) -> dict[str, dict]:
    """Per KPI: numerator and denominator summed over the stored periods covering [start, end);
    backlog at the last day; median and p90 only when the range is exactly one stored period."""
    pieces = covering_periods(start, end)
    single = len(pieces) == 1
    rows = (
        KPIValue.objects.filter(_periods_q(pieces), dimension=dimension, dimension_value=value)
        .exclude(kpi="backlog_rate")
        .values("kpi")
        .annotate(
            numerator=Sum("numerator"),
            negative=Sum("negative"),
            denominator=Sum("denominator"),
            computed_at=Max("computed_at"),
            median=Max("median"),
            p90=Max("p90"),
        )
    )
    found = {}
    for row in rows:
        if not single or row["median"] is None:
            del row["median"], row["p90"]
        found[row["kpi"]] = row
    last_day = (
        KPIValue.objects.filter(
            kpi="backlog_rate",
            granularity=Granularity.DAY,
            period_start=end - timedelta(days=1),
            dimension=dimension,
            dimension_value=value,
        )
        .values("numerator", "denominator", "value", "computed_at")
        .first()
    )
    if last_day:
        found["backlog_rate"] = last_day
    return found


def trends(
    start: date, end: date, dimension: str = "all", value: str = ""
) -> dict[str, list[tuple[date, float | None]]]:
    """Every KPI's trend in one query."""
    granularity = granularity_for(start, end)
    first = period_start(start, granularity)
    found: dict[str, dict[date, float | None]] = {kpi.key: {} for kpi in KPIS}
    for kpi, day, figure in KPIValue.objects.filter(
        granularity=granularity,
        period_start__gte=first,
        period_start__lt=end,
        dimension=dimension,
        dimension_value=value,
    ).values_list("kpi", "period_start", "value"):
        found.setdefault(kpi, {})[day] = figure
    periods, cursor = [], first
    while cursor < end:
        periods.append(cursor)
        cursor = next_period(cursor, granularity)
    return {key: [(day, values.get(day)) for day in periods] for key, values in found.items()}


def breakdowns(
    dimensions: list[str], start: date, end: date
) -> dict[str, dict[str, dict[str, tuple[float, float, float | None]]]]:
    """dimension → dimension value → kpi → (numerator, denominator, value) over [start, end), for
    several dimensions in two queries."""
    tables: dict[str, dict[str, dict[str, tuple[float, float, float | None]]]] = {d: {} for d in dimensions}
    rows = (
        KPIValue.objects.filter(_periods_q(covering_periods(start, end)), dimension__in=dimensions)
        .exclude(kpi="backlog_rate")
        .values("dimension", "dimension_value", "kpi")
        .annotate(numerator=Sum("numerator"), negative=Sum("negative"), denominator=Sum("denominator"))
        .order_by()
    )
    for row in rows:
        kpi = BY_KEY.get(row["kpi"])
        if kpi is not None:
            tables[row["dimension"]].setdefault(row["dimension_value"], {})[kpi.key] = (
                row["numerator"],
                row["denominator"],
                derive(kpi, row["numerator"], row["denominator"], row["negative"]),
            )
    for row in KPIValue.objects.filter(
        kpi="backlog_rate", granularity=Granularity.DAY, dimension__in=dimensions, period_start=end - timedelta(days=1)
    ).values_list("dimension", "dimension_value", "numerator", "denominator", "value"):
        dimension, value, numerator, denominator, figure = row
        tables[dimension].setdefault(value, {})["backlog_rate"] = (numerator, denominator, figure)
    return tables


def breakdown(dimension: str, start: date, end: date) -> dict[str, dict[str, tuple[float, float, float | None]]]:
    """dimension value → kpi → (numerator, denominator, value) over [start, end)."""
    return breakdowns([dimension], start, end)[dimension]


def latest_run():
    """The KPI run whose values the stored table holds now (None before the first)."""
    return KPIRun.objects.filter(finished_at__isnull=False).order_by("-finished_at").first()


def last_computed() -> datetime | None:
    run = latest_run()
    return run.finished_at if run else None


def narrow_queue_to_figure(*, data, queryset: QuerySet) -> tuple[QuerySet, DrilldownForm] | None:
    """The ticket queue behind a KPI figure (``?kpi=…&part=…&start=…&end=…``), with the form that
    read the link; None when the link asks for no figure. An invalid link lists nothing."""
    if "kpi" not in data:
        return None
    drill = DrilldownForm(data)
    if not drill.is_valid():
        return queryset.none(), drill
    wanted = drill.cleaned_data
    q = drilldown_q(
        BY_KEY[wanted["kpi"]], wanted["part"], wanted["start"], wanted["end"] + timedelta(days=1),
        wanted["dimension"] or "all", wanted["value"], now=timezone.now(),
    )  # fmt: skip
    return queryset.filter(q), drill
