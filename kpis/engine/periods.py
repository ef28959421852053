"""Local days, weeks and months: the periods KPI values are stored by (``TIME_ZONE``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import DateField, F, Func, Q, Value

from kpis.models import Granularity

GRANULARITIES = [Granularity.DAY, Granularity.WEEK, Granularity.MONTH]


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


def ranges_q(field: str, ranges: list[tuple[date, date]]) -> Q:
    """Rows whose ``field`` falls on the local days of ``ranges``."""
    q = Q()
    for start, end in ranges:
        q |= Q(**{f"{field}__gte": local_midnight(start), f"{field}__lt": local_midnight(end)})
    return q


class LocalDay(Func):
    """The local date (``TIME_ZONE``) a time falls on: a plain cast, cheaper than ``date_trunc``."""

    output_field = DateField()
    template = "(%(expressions)s)::date"
    arg_joiner = " AT TIME ZONE "

    def __init__(self, field: str):
        super().__init__(F(field), Value(settings.TIME_ZONE))
