"""Working time: the arithmetic on its own (worked examples and properties), then the desk's clocks."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from hypothesis import given, settings
from hypothesis import strategies as st

from tickets import services
from tickets.calendars import calendar_for
from tickets.holidays import days_off_and_workdays, known_until
from tickets.models import EventKind, ServiceCalendar, SLAPolicy, Status
from tickets.worktime import Calendar, add_working_time, is_working, working_time_between

SH = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = ((8 * 60 + 30, 12 * 60), (13 * 60 + 30, 18 * 60))  # 08:30–12:00, 13:30–18:00
CHINA_OFF, CHINA_WORK = days_off_and_workdays("cn")


def office(tz=SH, **kwargs) -> Calendar:
    return Calendar(tz=tz, week=(OFFICE,) * 5 + ((), ()), **kwargs)


def china() -> Calendar:
    return office(days_off=CHINA_OFF, extra_workdays=CHINA_WORK)


def h(hours: float) -> timedelta:
    return timedelta(hours=hours)


class TestWorkedExamples:
    def test_a_call_at_17_50_on_a_friday_is_due_at_10_20_on_monday(self):
        friday = datetime(2026, 12, 4, 17, 50, tzinfo=SH)  # 10 minutes on Friday, 1 h 50 from 08:30 on Monday
        assert add_working_time(friday, h(2), office()) == datetime(2026, 12, 7, 10, 20, tzinfo=SH)

    def test_the_lunch_break_does_not_count(self):
        morning = datetime(2026, 12, 2, 11, 30, tzinfo=SH)
        assert add_working_time(morning, h(1), office()) == datetime(2026, 12, 2, 14, 0, tzinfo=SH)
        assert working_time_between(morning, datetime(2026, 12, 2, 14, 0, tzinfo=SH), office()) == h(1)

    def test_the_spring_festival_week_is_skipped(self):
        # The eve: Friday 2026-02-13 (a working day), then the holiday from the 15th to the 23rd and
        # Saturday the 14th, a make-up working day.
        eve = datetime(2026, 2, 13, 17, 0, tzinfo=SH)
        due = add_working_time(eve, h(2), china())
        assert due == datetime(2026, 2, 14, 9, 30, tzinfo=SH)  # the make-up Saturday counts
        after = add_working_time(datetime(2026, 2, 14, 17, 0, tzinfo=SH), h(2), china())
        assert after == datetime(2026, 2, 24, 9, 30, tzinfo=SH)  # nothing from the 15th to the 23rd

    def test_national_day_week_is_skipped_and_its_make_up_saturday_counts(self):
        assert date(2026, 10, 1) in CHINA_OFF and date(2026, 10, 10) in CHINA_WORK
        before = datetime(2026, 9, 30, 17, 0, tzinfo=SH)
        assert add_working_time(before, h(2), china()) == datetime(2026, 10, 8, 9, 30, tzinfo=SH)

    def test_a_company_day_off_and_an_extra_working_saturday(self):
        calendar = office(days_off=frozenset({date(2026, 12, 7)}), extra_workdays=frozenset({date(2026, 12, 5)}))
        friday = datetime(2026, 12, 4, 17, 0, tzinfo=SH)
        assert add_working_time(friday, h(2), calendar) == datetime(2026, 12, 5, 9, 30, tzinfo=SH)
        saturday_evening = datetime(2026, 12, 5, 17, 0, tzinfo=SH)
        assert add_working_time(saturday_evening, h(2), calendar) == datetime(2026, 12, 8, 9, 30, tzinfo=SH)

    def test_a_berlin_calendar_keeps_its_hours_across_the_dst_change(self):
        # Clocks go forward on Sunday 2026-03-29: Friday 17:00 + 2 h is Monday 09:30 local, CEST.
        friday = datetime(2026, 3, 27, 17, 0, tzinfo=BERLIN)
        due = add_working_time(friday, h(2), office(BERLIN))
        assert due == datetime(2026, 3, 30, 9, 30, tzinfo=BERLIN) and due.utcoffset() == h(2)
        assert working_time_between(friday, due, office(BERLIN)) == h(2)

    def test_a_round_the_clock_calendar_is_the_wall_clock(self):
        start = datetime(2026, 12, 5, 23, 0, tzinfo=SH)
        always = Calendar(tz=SH, always_open=True)
        assert add_working_time(start, h(30), always) == start + h(30)
        assert working_time_between(start, start + h(30), always) == h(30)
        hotline = Calendar(tz=SH, week=(((0, 1440),),) * 7)  # 24 h a day, every day: the same
        assert add_working_time(start, h(30), hotline) == start + h(30)

    def test_the_china_holidays_are_known_this_year(self):
        assert known_until("cn") >= date(2026, 12, 31)


instants = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31),
                        timezones=st.just(SH))  # fmt: skip
durations = st.integers(min_value=0, max_value=200 * 3600).map(lambda s: timedelta(seconds=s))
calendars = st.sampled_from([office(), china(), office(BERLIN), Calendar(tz=SH, always_open=True)])


class TestProperties:
    @settings(max_examples=300, deadline=None)
    @given(start=instants, duration=durations, calendar=calendars)
    def test_adding_then_measuring_gives_the_duration_back(self, start, duration, calendar):
        due = add_working_time(start, duration, calendar)
        assert due >= start
        assert working_time_between(start, due, calendar) == duration

    @settings(max_examples=200, deadline=None)
    @given(start=instants, a=durations, b=durations, calendar=calendars)
    def test_more_time_never_ends_earlier(self, start, a, b, calendar):
        shorter, longer = sorted((a, b))
        assert add_working_time(start, shorter, calendar) <= add_working_time(start, longer, calendar)

    @settings(max_examples=200, deadline=None)
    @given(start=instants, duration=durations.filter(bool), calendar=calendars)
    def test_a_due_time_never_lands_in_a_closed_span(self, start, duration, calendar):
        due = add_working_time(start, duration, calendar)
        # The instant just before it is working time (the target is reached while open).
        assert is_working(due - timedelta(seconds=1), calendar)


@pytest.mark.office_hours
@pytest.mark.django_db
class TestTheDesksClocks:
    def test_the_desk_has_a_calendar_with_lunch_breaks_and_chinas_holidays(self, ticket):
        calendar = ServiceCalendar.objects.get(is_default=True)
        assert calendar.holidays == "cn" and calendar.hours.count() == 10
        assert calendar_for(ticket).days_off >= {date(2026, 10, 1)}

    @time_machine.travel(datetime(2026, 12, 4, 17, 50, tzinfo=SH), tick=False)
    def test_a_friday_evening_call_is_due_on_monday_and_an_urgent_7x24_one_tonight(self, team, agent):
        from tests.factories import make_ticket

        now = datetime(2026, 12, 4, 17, 50, tzinfo=SH)
        normal = make_ticket(team=team, by=agent, priority="normal", requested_at=now)
        assert normal.response_due_at == datetime(2026, 12, 7, 10, 20, tzinfo=SH)
        SLAPolicy.objects.filter(priority="urgent", category__isnull=True).update(working_time=False)
        urgent = make_ticket(team=team, by=agent, priority="urgent", requested_at=now)
        assert urgent.response_due_at == datetime(2026, 12, 4, 18, 20, tzinfo=SH)  # 30 minutes, calendar time

    def test_waiting_for_the_customer_pauses_the_resolution_clock_not_the_response_clock(self, team, agent):
        from tests.factories import make_ticket

        with time_machine.travel(datetime(2026, 12, 4, 10, 0, tzinfo=SH), tick=False):  # Friday
            ticket = make_ticket(team=team, by=agent, requested_at=datetime(2026, 12, 4, 10, 0, tzinfo=SH))
            response_due, resolution_due = ticket.response_due_at, ticket.resolution_due_at
            services.mark_pending(ticket=ticket, by=agent, note="等客户发照片")
        with time_machine.travel(datetime(2026, 12, 8, 10, 0, tzinfo=SH), tick=False):  # Tuesday, across a weekend
            services.resume_ticket(ticket=ticket, by=agent, note="客户发来照片")
        ticket.refresh_from_db()
        paused = h(6.5) + h(8) + h(1.5)  # Friday from 10:00, all of Monday, Tuesday until 10:00
        assert ticket.status == Status.OPEN and ticket.paused_since is None
        assert ticket.paused_seconds == paused.total_seconds()
        assert ticket.response_due_at == response_due  # the response clock never stops
        assert ticket.resolution_due_at == add_working_time(resolution_due, paused, calendar_for(ticket))
        resumed = ticket.events.get(kind=EventKind.RESUMED)
        assert resumed.after["paused_minutes"] == paused.total_seconds() // 60

        with time_machine.travel(datetime(2026, 12, 8, 11, 0, tzinfo=SH), tick=False):
            services.add_reply(ticket=ticket, by=agent, body="已安排上门")
            services.resolve_ticket(ticket=ticket, by=agent, note="修好了")
        ticket.refresh_from_db()
        # Working time from Friday 10:00 to Tuesday 11:00 is 6.5 + 8 + 2.5 = 17 h, 16 of them paused.
        assert ticket.resolution_working_seconds == h(1).total_seconds()
        assert ticket.first_response_working_seconds == h(17).total_seconds()

    def test_a_wait_longer_than_the_cap_stops_pausing_and_says_so(self, team, agent, settings):
        from tests.factories import make_ticket

        settings.TICKET_PAUSE_CAP_DAYS = 3
        with time_machine.travel(datetime(2026, 12, 7, 9, 0, tzinfo=SH), tick=False):  # Monday
            ticket = make_ticket(team=team, by=agent, requested_at=datetime(2026, 12, 7, 9, 0, tzinfo=SH))
            services.mark_pending(ticket=ticket, by=agent)
        with time_machine.travel(datetime(2026, 12, 14, 9, 0, tzinfo=SH), tick=False):
            services.resume_ticket(ticket=ticket, by=agent)
        ticket.refresh_from_db()
        assert ticket.paused_seconds == (h(7.5) + h(8) + h(8) + h(0.5)).total_seconds()  # Monday to Thursday 09:00
        assert ticket.events.get(kind=EventKind.RESUMED).after["pause_capped_days"] == 3


@pytest.mark.office_hours
@pytest.mark.django_db
def test_a_calendar_change_is_applied_to_logged_tickets_by_the_recompute_command(team, agent):
    from io import StringIO

    from django.core.management import call_command

    from tests.factories import make_ticket
    from tickets.models import Ticket

    with time_machine.travel(datetime(2026, 12, 4, 17, 50, tzinfo=SH), tick=False):  # Friday
        ticket = make_ticket(team=team, by=agent, requested_at=datetime(2026, 12, 4, 17, 50, tzinfo=SH))
        services.add_reply(ticket=ticket, by=agent, body="收到")
    ticket.refresh_from_db()
    assert ticket.response_due_at == datetime(2026, 12, 7, 10, 20, tzinfo=SH)
    calendar = ServiceCalendar.objects.get(is_default=True)
    calendar.always_open = True  # the desk becomes a 7×24 hotline
    calendar.save()
    out = StringIO()
    call_command("recompute_working_time", stdout=out)
    ticket = Ticket.objects.get(pk=ticket.pk)
    assert ticket.response_due_at == datetime(2026, 12, 4, 19, 50, tzinfo=SH)
    assert ticket.first_response_working_seconds == 0
    assert "1/1 (100 %)" in out.getvalue() and "changed: 1" in out.getvalue()


@pytest.mark.office_hours
@pytest.mark.django_db
@time_machine.travel(datetime(2026, 12, 4, 16, 30, tzinfo=SH), tick=False)  # Friday afternoon
def test_the_queue_finds_what_is_due_soon_in_working_time_and_sorts_by_the_next_target(team, agent, agent_client):
    from tests.factories import make_ticket

    # Normal priority: first response within 2 working hours.
    soon = make_ticket(team=team, by=agent, subject="soon", requested_at=datetime(2026, 12, 4, 15, 0, tzinfo=SH))
    later = make_ticket(team=team, by=agent, subject="later", requested_at=datetime(2026, 12, 4, 16, 20, tzinfo=SH))
    waiting = make_ticket(team=team, by=agent, subject="waiting", requested_at=datetime(2026, 11, 16, 9, 0, tzinfo=SH))
    services.add_reply(ticket=waiting, by=agent, body="请提供照片")
    services.mark_pending(ticket=waiting, by=agent)
    # "later" is due at 08:50 on Monday, a weekend away but 1 h 50 of working time (1 h 30 today and
    # 20 minutes on Monday): due soon too, after "soon" (due at 17:00 today).
    html = agent_client.get("/tickets/", {"due_soon": "true"}).content.decode()
    assert soon.reference in html and later.reference in html and waiting.reference not in html
    ordered = agent_client.get("/tickets/", {"sort": "due"}).content.decode()
    assert ordered.index(soon.reference) < ordered.index(later.reference)
    # A ticket waiting for the customer is not overdue, though its resolution target (48 working hours
    # from November 16) has passed: that clock is stopped.
    waiting.refresh_from_db()
    assert waiting.resolution_due_at < datetime(2026, 12, 4, tzinfo=SH)
    assert waiting.reference not in agent_client.get("/tickets/", {"overdue": "true"}).content.decode()


@pytest.mark.office_hours
@pytest.mark.django_db
def test_the_other_clocks_follow_the_calendar_complaints_and_the_survey_mail(team, agent, smtp_server):
    from outbox import services as outbox_services
    from outbox.models import OutgoingEmail
    from tests.factories import make_ticket

    saturday_night = datetime(2026, 12, 5, 3, 0, tzinfo=SH)
    with time_machine.travel(saturday_night, tick=False):
        ticket = make_ticket(team=team, by=agent, category="complaint", requested_at=saturday_night)
        complaint = ticket.complaint
        # A minor complaint closes within 72 working hours and climbs a level after 24 of them.
        assert complaint.level_due_at == add_working_time(datetime(2026, 12, 7, 8, 30, tzinfo=SH), h(24), china())
        assert complaint.due_at == add_working_time(datetime(2026, 12, 7, 8, 30, tzinfo=SH), h(72), china())
        services.add_reply(ticket=ticket, by=agent, body="非常抱歉")
        services.resolve_ticket(ticket=ticket, by=agent, note="已处理")
        invitation = OutgoingEmail.objects.get(kind="survey_invitation")
        # Not at 03:00 on a Saturday: on Monday when the desk opens.
        assert invitation.next_attempt_at == datetime(2026, 12, 7, 8, 30, tzinfo=SH)
        assert outbox_services.sweep() == 1  # the reply to the customer goes at once
    assert not any(m["Subject"] and "满意度" in m["Subject"] for m in smtp_server.messages)
    with time_machine.travel(datetime(2026, 12, 7, 8, 31, tzinfo=SH), tick=False):
        assert outbox_services.sweep() == 1
    invitation.refresh_from_db()
    assert invitation.status == "sent"


@pytest.mark.office_hours
@pytest.mark.django_db
@time_machine.travel(datetime(2026, 12, 4, 16, 30, tzinfo=SH), tick=False)  # Friday afternoon
def test_the_queue_and_the_ticket_page_show_the_working_time_left(team, agent, agent_client):
    from tests.factories import make_ticket

    ticket = make_ticket(team=team, by=agent, requested_at=datetime(2026, 12, 4, 16, 20, tzinfo=SH))
    queue = agent_client.get("/tickets/?view=all", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "剩余 1 小时 50 分（工作时间）" in queue  # 1 h 30 today and 20 minutes on Monday, not 65 hours
    page = agent_client.get(f"/tickets/{ticket.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "1 h 50 min left (working time)" in page
