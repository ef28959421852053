"""Reads of the stored KPI values, and the drill-down from a figure to its tickets.

The dashboard reads ``kpis_kpivalue`` only (a bounded number of queries whatever the
number of tickets). A figure over any range is re-derived from the numerators and
denominators of the fewest stored periods covering it, and a duration's median and p90
from the sum of their histograms (within ``RELATIVE_ERROR`` of the exact figures); a
backlog figure is the one stored at the range's end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import NamedTuple

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from kpis.engine.periods import local_midnight, next_period, period_start
from kpis.engine.quantiles import RELATIVE_ERROR, Histogram
from kpis.forms import DrilldownForm
from kpis.models import Dimension, Granularity, KPIRun, KPITarget, KPIValue
from kpis.registry import (
    BY_KEY,
    DIMENSION_FIELDS,
    EXTRA_DIMENSION_TICKET_FIELDS,
    KPI,
    KPIS,
    SOURCES,
    Kind,
    counted_q,
    part_q,
    reroot,
)

PARTS = ("num", "neg", "den")
#: The KPIs taken at a period's end (the backlog): read from the range's last day, never summed.
AT_PERIOD_END = [kpi.key for kpi in KPIS if kpi.at_period_end]
DURATIONS = [kpi.key for kpi in KPIS if kpi.kind is Kind.DURATION]


def median_and_p90(histogram: Histogram) -> tuple[float | None, float | None]:
    """A duration's median and p90 in hours, from its histogram (None when it counts nothing)."""
    median, p90 = histogram.quantiles(0.5, 0.9)
    return (None if median is None else median / 3600.0), (None if p90 is None else p90 / 3600.0)


def dimension_q(dimension: str, value: str) -> Q:
    if dimension in ("", "all"):
        return Q()
    if dimension == Dimension.TAG:
        return Q(tags=int(value)) if value.isdigit() else Q(pk__in=[])
    field_name = DIMENSION_FIELDS.get(dimension) or EXTRA_DIMENSION_TICKET_FIELDS[dimension]
    if value == "none":
        return Q(**{f"{field_name}__isnull": True})
    return Q(**{field_name: value})


def drilldown_q(
    kpi: KPI, part: str, start: date, end: date, dimension: str = "all", value: str = "", now: datetime | None = None
) -> Q:
    """The tickets a figure counts, for the local days [start, end): the same ``Q`` as the SQL.

    For a survey KPI these are the tickets whose answer (or invitation) is counted. A merged
    duplicate counts in none (``registry.counted_q``)."""
    source = SOURCES[kpi.source]
    counted = counted_q("tickets")
    if kpi.source == "backlog":
        moment = min(local_midnight(end), now) if now else local_midnight(end)
        return counted & part_q(kpi, part, end=moment) & dimension_q(dimension, value)
    prefix = source.from_ticket
    anchor = prefix + source.anchor
    when = Q(**{f"{anchor}__gte": local_midnight(start), f"{anchor}__lt": local_midnight(end)})
    return counted & when & reroot(part_q(kpi, part), prefix) & dimension_q(dimension, value)


@dataclass
class Figure:
    """A KPI over a date range, re-derived from stored periods."""

    kpi: KPI
    numerator: float = 0.0
    denominator: float = 0.0
    #: NPS: the detractors (``numerator`` holds the promoters)
    negative: float = 0.0
    value: float | None = None
    #: a duration's median and p90 (hours), from histograms: within ``relative_error`` of the exact figures
    median: float | None = None
    p90: float | None = None
    relative_error: float = RELATIVE_ERROR
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
            figure.value = row.get("value", kpi.figure(figure.numerator, figure.denominator, figure.negative))
            if "histogram" in row:
                figure.median, figure.p90 = median_and_p90(row["histogram"])
            figure.computed_at = row.get("computed_at")
        before = previous.get(kpi.key)
        if before:
            figure.previous = before.get(
                "value", kpi.figure(before["numerator"], before["denominator"], before.get("negative") or 0.0)
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
    """Per KPI: numerator and denominator summed over the stored periods covering [start, end), and
    a duration's histogram merged over them; backlog at the last day."""
    found: dict[str, dict] = {}
    rows = (
        KPIValue.objects.filter(_periods_q(covering_periods(start, end)), dimension=dimension, dimension_value=value)
        .exclude(kpi__in=AT_PERIOD_END)
        .values_list("kpi", "numerator", "negative", "denominator", "computed_at", "hist_keys", "hist_counts")
    )
    for kpi, numerator, negative, denominator, computed_at, keys, counts in rows:
        row = found.setdefault(kpi, {"numerator": 0.0, "negative": 0.0, "denominator": 0.0, "computed_at": None})
        row["numerator"] += numerator
        row["negative"] += negative
        row["denominator"] += denominator
        row["computed_at"] = max(filter(None, (row["computed_at"], computed_at)), default=None)
        if kpi in DURATIONS:
            row.setdefault("histogram", Histogram()).add(keys, counts)
    last_day = KPIValue.objects.filter(
        kpi__in=AT_PERIOD_END,
        granularity=Granularity.DAY,
        period_start=end - timedelta(days=1),
        dimension=dimension,
        dimension_value=value,
    ).values("kpi", "numerator", "denominator", "value", "computed_at")
    for row in last_day:
        found[row.pop("kpi")] = row
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


class Cell(NamedTuple):
    """One KPI in one row of a breakdown table."""

    numerator: float
    denominator: float
    value: float | None
    median: float | None = None
    p90: float | None = None


EMPTY_CELL = Cell(0.0, 0.0, None)


def breakdowns(dimensions: list[str], start: date, end: date) -> dict[str, dict[str, dict[str, Cell]]]:
    """dimension → dimension value → kpi → ``Cell`` over [start, end), for several dimensions in
    three queries: the summed parts, the durations' histograms (merged here), the backlog's last day."""
    tables: dict[str, dict[str, dict[str, Cell]]] = {d: {} for d in dimensions}
    periods = _periods_q(covering_periods(start, end))
    rows = (
        KPIValue.objects.filter(periods, dimension__in=dimensions)
        .exclude(kpi__in=AT_PERIOD_END)
        .values("dimension", "dimension_value", "kpi")
        .annotate(numerator=Sum("numerator"), negative=Sum("negative"), denominator=Sum("denominator"))
        .order_by()
    )
    for row in rows:
        kpi = BY_KEY.get(row["kpi"])
        if kpi is not None:
            tables[row["dimension"]].setdefault(row["dimension_value"], {})[kpi.key] = Cell(
                row["numerator"], row["denominator"], kpi.figure(row["numerator"], row["denominator"], row["negative"])
            )
    histograms: dict[tuple[str, str, str], Histogram] = {}
    for dimension, value, kpi_key, keys, counts in KPIValue.objects.filter(
        periods, dimension__in=dimensions, kpi__in=DURATIONS, hist_keys__isnull=False
    ).values_list("dimension", "dimension_value", "kpi", "hist_keys", "hist_counts"):
        histograms.setdefault((dimension, value, kpi_key), Histogram()).add(keys, counts)
    for (dimension, value, kpi_key), histogram in histograms.items():
        cell = tables[dimension].get(value, {}).get(kpi_key)
        if cell is not None:
            median, p90 = median_and_p90(histogram)
            tables[dimension][value][kpi_key] = cell._replace(median=median, p90=p90)
    for row in KPIValue.objects.filter(
        kpi__in=AT_PERIOD_END,
        granularity=Granularity.DAY,
        dimension__in=dimensions,
        period_start=end - timedelta(days=1),
    ).values_list("kpi", "dimension", "dimension_value", "numerator", "denominator", "value"):
        kpi_key, dimension, value, numerator, denominator, figure = row
        tables[dimension].setdefault(value, {})[kpi_key] = Cell(numerator, denominator, figure)
    return tables


def breakdown(dimension: str, start: date, end: date) -> dict[str, dict[str, Cell]]:
    """dimension value → kpi → ``Cell`` over [start, end)."""
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
