"""Public holidays and make-up workdays, behind one small adapter.

Mainland China's statutory holidays and adjusted working days (调休) come from the
``chinese-calendar`` package, which follows the State Council's yearly notice; it knows
the years up to ``known_until()`` (a new year's days arrive with a new release, usually in
December). Beyond that, only the weekdays and the calendar's own exceptions apply.
"""

from __future__ import annotations

from datetime import date
from functools import cache

#: The source of mainland China's holidays (the value stored on a service calendar).
CHINA = "cn"


@cache
def _china() -> tuple[frozenset[date], frozenset[date]]:
    import chinese_calendar

    days_off = frozenset(day for day in chinese_calendar.constants.holidays if day.weekday() < 5)
    workdays = frozenset(day for day in chinese_calendar.constants.workdays if day.weekday() >= 5)
    return days_off, workdays


def days_off_and_workdays(source: str) -> tuple[frozenset[date], frozenset[date]]:
    """Weekdays that are holidays, and weekend days that are working days, for ``source``."""
    if source == CHINA:
        return _china()
    return frozenset(), frozenset()


def known_until(source: str) -> date | None:
    """The last day whose holidays ``source`` knows (None: it has none)."""
    if source == CHINA:
        import chinese_calendar

        return date(max(chinese_calendar.constants.holidays).year, 12, 31)
    return None
