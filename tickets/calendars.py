"""Service calendars as ``tickets.worktime.Calendar`` objects, loaded once per process and version.

A team's calendar, or the desk's default one; with none configured, every hour counts
(the wall clock, as before calendars existed). A calendar changed in admin is reloaded at
the next use (its ``updated_at`` is part of the key): one small query per use, none per row.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from django.conf import settings

from tickets.holidays import days_off_and_workdays
from tickets.models import ServiceCalendar, Team, Ticket
from tickets.worktime import Calendar, Span

#: Every hour counts: tickets of a desk with no calendar, and SLA policies on calendar time.
ROUND_THE_CLOCK = Calendar(tz=ZoneInfo(settings.TIME_ZONE), always_open=True)


@lru_cache(maxsize=64)
def _built(pk: int, updated_at: datetime) -> Calendar:
    calendar = ServiceCalendar.objects.prefetch_related("hours", "exceptions").get(pk=pk)
    week: list[list[Span]] = [[] for _ in range(7)]
    for hours in calendar.hours.all():
        end = hours.end.hour * 60 + hours.end.minute or 1440
        week[hours.weekday].append((hours.start.hour * 60 + hours.start.minute, end))
    days_off, workdays = days_off_and_workdays(calendar.holidays)
    own_off = {e.day for e in calendar.exceptions.all() if not e.working}
    own_work = {e.day for e in calendar.exceptions.all() if e.working}
    return Calendar(
        tz=ZoneInfo(calendar.time_zone),
        week=tuple(tuple(sorted(spans)) for spans in week),
        days_off=frozenset((days_off - own_work) | own_off),
        extra_workdays=frozenset((workdays - own_off) | own_work),
        always_open=calendar.always_open,
    )


def calendar_by_id(pk: int | None) -> Calendar:
    """The calendar ``pk``, or the desk's default when None; round the clock without any."""
    rows = ServiceCalendar.objects.filter(pk=pk) if pk else ServiceCalendar.objects.filter(is_default=True)
    found = rows.values_list("pk", "updated_at").first()
    return _built(*found) if found else ROUND_THE_CLOCK


def calendar_for_team(team: Team) -> Calendar:
    return calendar_by_id(team.calendar_id)


def calendar_for(ticket: Ticket) -> Calendar:
    return calendar_for_team(ticket.team)


def calendars_by_team(teams: list[int]) -> dict[int, Calendar]:
    """Each team's calendar: one query for the teams and one per distinct calendar, none per ticket."""
    pairs = Team.objects.filter(pk__in=teams).values_list("pk", "calendar_id")
    return {team: calendar_by_id(calendar) for team, calendar in pairs}
