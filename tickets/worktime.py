"""Working-time arithmetic: pure functions over a ``Calendar``, no database.

An SLA of "2 hours" means two hours of the department's working time: a call logged at
17:50 on a Friday, with the office open until 18:00, is due at 09:50 on the next working
day. ``add_working_time`` answers "when is the target reached"; ``working_time_between``
answers "how much working time passed". Both walk the calendar day by day, each day's
working spans turned into instants of its time zone (so a calendar in Europe/Berlin
keeps its hours across a DST change, and Asia/Shanghai has none).

Public holidays and make-up workdays (调休) come from ``tickets.holidays``; the company's
own exceptions are added when the calendar is loaded (``tickets.calendars``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

#: A span of a day in minutes after midnight: (start, end), end up to 1440.
Span = tuple[int, int]

#: The walk gives up after this many days without working time (a calendar with no hours).
MAX_DAYS = 3700


@dataclass(frozen=True)
class Calendar:
    """Working hours per weekday (Monday = 0), the days off and the extra working days.

    An extra working day (a make-up Saturday) keeps the hours of ``workday_spans``, those of
    the first weekday that has any. ``always_open`` makes every instant working time."""

    tz: ZoneInfo
    week: tuple[tuple[Span, ...], ...] = ((),) * 7
    days_off: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()
    always_open: bool = False
    workday_spans: tuple[Span, ...] = field(init=False)

    def __post_init__(self) -> None:
        first = next((spans for spans in self.week if spans), ())
        object.__setattr__(self, "workday_spans", first)

    def spans_on(self, day: date) -> tuple[Span, ...]:
        if day in self.extra_workdays:
            return self.workday_spans
        if day in self.days_off:
            return ()
        return self.week[day.weekday()]

    def instants_on(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The day's working spans as aware instants (in order), remembered per calendar and day."""
        return _instants(self, day)


@lru_cache(maxsize=200_000)
def _instants(calendar: Calendar, day: date) -> tuple[tuple[datetime, datetime], ...]:
    return tuple((_at(day, start, calendar.tz), _at(day, end, calendar.tz)) for start, end in calendar.spans_on(day))


def _at(day: date, minutes: int, tz: ZoneInfo) -> datetime:
    if minutes >= 1440:
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=tz)


def add_working_time(start: datetime, duration: timedelta, calendar: Calendar) -> datetime:
    """The instant when ``duration`` of working time has passed after ``start``.

    A zero duration from a closed time is the next opening; a start inside a span counts
    from ``start``. Raises ``ValueError`` for a calendar that is never open."""
    if calendar.always_open:
        return start + duration
    remaining = duration
    day = start.astimezone(calendar.tz).date() - timedelta(days=1)  # a span may end after local midnight
    for _ in range(MAX_DAYS):
        for opens, closes in calendar.instants_on(day):
            if closes <= start:
                continue
            begin = max(opens, start)
            available = closes - begin
            if remaining <= available:
                return begin + remaining
            remaining -= available
        day += timedelta(days=1)
    raise ValueError("the calendar has no working time")


def working_time_between(a: datetime, b: datetime, calendar: Calendar) -> timedelta:
    """The working time from ``a`` to ``b`` (negative when ``b`` is before ``a``)."""
    if b < a:
        return -working_time_between(b, a, calendar)
    if calendar.always_open:
        return b - a
    total = timedelta(0)
    day = a.astimezone(calendar.tz).date() - timedelta(days=1)
    last = b.astimezone(calendar.tz).date()
    while day <= last:
        for opens, closes in calendar.instants_on(day):
            overlap = min(closes, b) - max(opens, a)
            if overlap > timedelta(0):
                total += overlap
        day += timedelta(days=1)
    return total


def is_working(instant: datetime, calendar: Calendar) -> bool:
    """``instant`` lies inside a working span."""
    if calendar.always_open:
        return True
    day = instant.astimezone(calendar.tz).date()
    return any(opens <= instant < closes for d in (day - timedelta(days=1), day)
               for opens, closes in calendar.instants_on(d))  # fmt: skip


def next_opening(instant: datetime, calendar: Calendar) -> datetime:
    """``instant`` itself when the calendar is open then, else the start of the next working span."""
    return add_working_time(instant, timedelta(0), calendar)
