"""Every KPI against a small hand-built dataset whose answers are worked out here.

Day D is 2026-03-10 in Asia/Shanghai. Tickets requested on D:

    T1  09:00  responded 10:00 (1 h)   resolved 19:00 (10 h)  closed   1 reply   repair   team A  cost 100+20+5
    T2  23:50  responded 00:10 (20 m)  resolved D+1 00:10      resolved 1 reply   repair   team B  cost 50
    T3  12:00  urgent, never answered, still open (resolution due 20:00: overdue at D's end)
    T4  08:00  responded 13:00 (5 h, late)  resolved D+3 08:00 (72 h, late)  reopened once, 3 replies, complaint

T5 (D−1, resolved D−1) has an answer without an overall score; T6 (D+5) is T1's customer
and category again, so T1 counts as a repeat problem. Survey answers on D+1:
T1 overall 5 / NPS 10, T2 overall 2 / NPS 3, T5 no overall / NPS 8; T4's invitation is unanswered.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db.models import F
from django.utils import timezone

from kpis.engine import refresh_kpis
from kpis.engine.periods import next_period
from kpis.engine.quantiles import RELATIVE_ERROR, Histogram
from kpis.models import KPIRun, KPIValue
from kpis.registry import KPIS, Kind
from kpis.selectors import covering_periods, drilldown_q, figures, median_and_p90
from surveys.models import SurveyInvitation, SurveyResponse, SurveyTemplate
from tests.factories import CustomerFactory, make_ticket
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
D = date(2026, 3, 10)


def at(day_offset: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, 10, hour, minute, tzinfo=SH) + timedelta(days=day_offset)


def _ticket(team, by, *, requested, responded=None, resolved=None, status="new", replies=0, reopens=0,
            customer=None, category="repair", priority="normal", costs=(0, 0, 0)):  # fmt: skip
    ticket = make_ticket(team=team, by=by, requested_at=requested, customer=customer, category=category,
                         priority=priority, assignee=by)  # fmt: skip
    working = {  # the desk is open round the clock in these tests: working time is wall-clock time
        "first_response_working_seconds": int((responded - requested).total_seconds()) if responded else None,
        "resolution_working_seconds": int((resolved - requested).total_seconds()) if resolved else None,
    }
    Ticket.objects.filter(pk=ticket.pk).update(
        **working, first_response_at=responded, resolved_at=resolved, status=status, public_reply_count=replies,
        reopen_count=reopens, labour_cost=Decimal(costs[0]), logistics_cost=Decimal(costs[1]),
        other_cost=Decimal(costs[2]),
    )  # fmt: skip
    ticket.refresh_from_db()
    return ticket


def _survey(ticket, *, sent, answered=None, overall=None, nps=None):
    template = SurveyTemplate.objects.get(is_active=True)
    invitation = SurveyInvitation.objects.create(
        ticket=ticket, template=template, nonce=f"n{ticket.pk}", token_hash=f"h{ticket.pk}", email="x@example.com",
        language="zh-hans", created_at=sent, expires_at=sent + timedelta(days=14), answered_at=answered,
    )  # fmt: skip
    if answered:
        SurveyResponse.objects.create(invitation=invitation, ticket=ticket, template=template, submitted_at=answered,
                                      overall=overall, nps=nps, answers={})  # fmt: skip


@pytest.fixture
def dataset(team, other_team, agent, outsider):
    with time_machine.travel(at(6, 12), tick=True):  # "today" is D+6: runs cover days, not years
        yield _build(team, other_team, agent, outsider)


def _build(team, other_team, agent, outsider):
    customer = CustomerFactory()
    t1 = _ticket(team, agent, requested=at(0, 9), responded=at(0, 10), resolved=at(0, 19), status="closed",
                 replies=1, customer=customer, costs=(100, 20, 5))  # fmt: skip
    t2 = _ticket(other_team, outsider, requested=at(0, 23, 50), responded=at(1, 0, 10), resolved=at(1, 0, 10),
                 status="resolved", replies=1, costs=(50, 0, 0))  # fmt: skip
    t3 = _ticket(team, agent, requested=at(0, 12), priority="urgent")
    t4 = _ticket(team, agent, requested=at(0, 8), responded=at(0, 13), resolved=at(3, 8), status="resolved",
                 replies=3, reopens=1, category="complaint")  # fmt: skip
    t5 = _ticket(team, agent, requested=at(-1, 9), responded=at(-1, 9, 30), resolved=at(-1, 10), status="resolved",
                 replies=1)  # fmt: skip
    _ticket(team, agent, requested=at(5, 9), customer=customer)  # T6: T1's customer comes back
    for ticket, answer in ((t1, (5, 10)), (t2, (2, 3)), (t5, (None, 8))):
        _survey(ticket, sent=at(1, 8), answered=at(1, 20), overall=answer[0], nps=answer[1])
    _survey(t4, sent=at(3, 9))
    from complaints.models import RootCause

    t4.complaint.root_cause = RootCause.objects.get(name_en="Repair quality")
    t4.complaint.save()
    refresh_kpis(full=True)
    return {"t1": t1, "t2": t2, "t3": t3, "t4": t4}


def value(kpi, day=D, granularity="day", dimension="all", dimension_value=""):
    """A stored value; a duration's with the median and p90 (hours) its histogram gives."""
    row = KPIValue.objects.get(kpi=kpi, granularity=granularity, period_start=day, dimension=dimension,
                               dimension_value=dimension_value)  # fmt: skip
    histogram = Histogram()
    histogram.add(row.hist_keys, row.hist_counts)
    row.median, row.p90 = median_and_p90(histogram)
    return row


def approx(hours: float):
    """Medians and p90 are within the stated bound of the exact figure."""
    return pytest.approx(hours, rel=RELATIVE_ERROR)


HOURS = {"t1": 1.0, "t2": 20 / 60, "t4": 5.0}


@pytest.mark.parametrize(
    ("kpi", "expected", "numerator", "denominator"),
    [
        ("workload", 4, 4, 4),
        ("resolution_rate", 75.0, 3, 4),
        ("response_sla", 200 / 3, 2, 3),
        ("resolution_sla", 200 / 3, 2, 3),
        ("first_contact_resolution", 200 / 3, 2, 3),
        ("repeat_rate", 200 / 3, 2, 3),
        ("complaint_rate", 25.0, 1, 4),
        ("follow_up_rate", 100.0, 3, 3),
        ("service_cost", 175.0, 175, 4),
        ("backlog_rate", 100 / 3, 1, 3),
    ],
)
def test_ticket_kpis_of_day_d(dataset, kpi, expected, numerator, denominator):
    row = value(kpi)
    assert (row.numerator, row.denominator) == (numerator, denominator)
    assert row.value == pytest.approx(expected)


def test_first_response_time_average_median_and_p90_in_hours(dataset):
    row = value("first_response_time")
    assert row.denominator == 3
    assert row.value == pytest.approx(sum(HOURS.values()) / 3)
    assert row.median == approx(1.0) and row.median != 1.0  # approximate, within 1 %
    assert row.p90 == approx(1.0 + 0.8 * (5.0 - 1.0))  # percentile_cont between the 2nd and 3rd value


def test_completion_time_counts_the_ticket_resolved_after_midnight_on_its_request_day(dataset):
    row = value("completion_time")
    assert row.denominator == 3
    assert row.value == pytest.approx((10 + 20 / 60 + 72) / 3)
    assert row.median == approx(10.0)
    assert not KPIValue.objects.filter(kpi="completion_time", granularity="day", period_start=D + timedelta(days=1),
                                       dimension="all").exists()  # fmt: skip


def test_survey_kpis_count_answers_on_their_day_and_skip_missing_scores(dataset):
    csat = value("csat", D + timedelta(days=1))
    assert (csat.numerator, csat.denominator, csat.value) == (1, 2, 50.0)  # T5 gave no overall score
    nps = value("nps", D + timedelta(days=1))
    # one promoter, one detractor, one passive: each part stored, the figure their difference
    assert (nps.numerator, nps.negative, nps.denominator, nps.value) == (1, 1, 3, 0.0)
    assert value("survey_response_rate", D + timedelta(days=1)).value == 100.0
    pending = value("survey_response_rate", D + timedelta(days=3))
    assert (pending.numerator, pending.denominator, pending.value) == (0, 1, 0.0)


def test_dimensions_slice_the_same_figures(dataset, team, other_team):
    assert value("workload", dimension="team", dimension_value=str(team.pk)).value == 3
    assert value("workload", dimension="team", dimension_value=str(other_team.pk)).value == 1
    assert value("workload", dimension="priority", dimension_value="urgent").value == 1
    assert value("complaint_rate", dimension="category", dimension_value=str(dataset["t4"].category_id)).value == 100


def test_weeks_and_months_are_computed_too(dataset):
    month = value("workload", date(2026, 3, 1), "month")
    assert month.value == 6
    week = value("workload", date(2026, 3, 9), "week")  # Monday D−1 to Sunday D+5
    assert week.value == 6


def test_a_range_is_read_from_whole_months_then_whole_weeks_then_days():
    # Thursday 2026-02-26 to Sunday 2026-04-12: three days, March, five days, the week from Monday April 6
    assert covering_periods(date(2026, 2, 26), date(2026, 4, 13)) == [
        ("day", date(2026, 2, 26)), ("day", date(2026, 2, 27)), ("day", date(2026, 2, 28)),
        ("month", date(2026, 3, 1)), ("day", date(2026, 4, 1)), ("day", date(2026, 4, 2)),
        ("day", date(2026, 4, 3)), ("day", date(2026, 4, 4)), ("day", date(2026, 4, 5)),
        ("week", date(2026, 4, 6)),
    ]  # fmt: skip
    assert covering_periods(date(2026, 3, 9), date(2026, 3, 12)) == [("day", date(2026, 3, d)) for d in (9, 10, 11)]


@pytest.mark.parametrize(
    "start, end",
    [
        (date(2026, 3, 9), date(2026, 3, 12)),
        (date(2026, 3, 8), date(2026, 3, 16)),
        (date(2026, 2, 26), date(2026, 4, 13)),
    ],
    ids=["days", "a week and days", "a month, days and a week"],
)
def test_a_range_sums_to_the_tickets_it_lists(dataset, start, end):
    """Whatever mix of stored months, weeks and days a range is read from, each figure's parts are
    the counts of its drill-down lists over the whole range."""
    for figure in figures(start, end):
        kpi = figure.kpi
        if kpi.source == "backlog":
            continue

        def count(part, kpi=kpi):
            return Ticket.objects.filter(drilldown_q(kpi, part, start, end)).count()

        if kpi.kind == "ratio":
            assert count("num") == figure.numerator, (kpi.key, start)
        if kpi.kind in ("ratio", "duration", "count"):
            assert count("den") == figure.denominator, (kpi.key, start)
    assert next(f for f in figures(start, end) if f.kpi.key == "workload").value == (
        Ticket.objects.filter(requested_at__gte=at((start - D).days, 0), requested_at__lt=at((end - D).days, 0)).count()
    )


def test_a_tile_shows_the_median_and_p90_of_any_range(dataset):
    def first_response(start, end):
        return next(f for f in figures(start, end) if f.kpi.key == "first_response_time")

    day = first_response(D, D + timedelta(days=1))
    assert (day.median, day.p90) == (approx(1.0), approx(4.2))  # day D: 20 min, 1 h, 5 h
    month = next(f for f in figures(date(2026, 3, 1), date(2026, 4, 1)) if f.kpi.key == "completion_time")
    assert month.median == approx((1 + 10) / 2)  # the stored month row
    three_days = first_response(D - timedelta(days=1), D + timedelta(days=2))  # three day rows, summed
    assert three_days.denominator == 4  # T5 ½ h on D−1, T2 20 min, T1 1 h, T4 5 h
    assert (three_days.median, three_days.p90) == (approx(0.75), approx(1 + 0.7 * 4))
    assert three_days.relative_error == RELATIVE_ERROR


@pytest.mark.parametrize("kpi", KPIS, ids=[k.key for k in KPIS])
def test_the_drill_down_list_has_exactly_the_figures_count(dataset, kpi):
    """For every KPI and every stored figure, the ticket list behind it has its count."""
    rows = KPIValue.objects.filter(kpi=kpi.key, granularity="day")
    assert rows.exists()
    for row in rows:

        def count(part, row=row):
            start, end = row.period_start, row.period_start + timedelta(days=1)
            q = drilldown_q(kpi, part, start, end, row.dimension, row.dimension_value, now=row.computed_at)
            return Ticket.objects.filter(q).count()

        if kpi.kind == "nps":
            assert (count("num"), count("neg")) == (row.numerator, row.negative), row
        elif kpi.kind == "ratio":
            assert count("num") == row.numerator, row
        assert count("den") == row.denominator, row


def test_the_backlog_of_every_week_and_month_has_its_lists_count(dataset):
    """Past periods come from running sums of events, the running one from a count: both match the list."""
    kpi = next(k for k in KPIS if k.key == "backlog_rate")
    rows = KPIValue.objects.filter(kpi=kpi.key).exclude(granularity="day")
    assert {row.granularity for row in rows} == {"week", "month"}
    for row in rows:
        end = next_period(row.period_start, row.granularity)
        for part, expected in (("num", row.numerator), ("den", row.denominator)):
            q = drilldown_q(kpi, part, row.period_start, end, row.dimension, row.dimension_value, now=row.computed_at)
            assert Ticket.objects.filter(q).count() == expected, (row, part)


def test_no_tickets_no_figures_and_no_error():
    result = refresh_kpis(full=True)
    assert result.rows == 0 and not KPIValue.objects.exists()
    assert result.run.finished_at is not None


def test_an_incremental_run_recomputes_the_old_period_of_a_ticket_resolved_today(dataset, agent):
    from tickets import services as ticket_services

    before = value("resolution_rate").value
    ticket_services.resolve_ticket(ticket=dataset["t3"], by=agent, note="finally")
    Ticket.objects.filter(pk=dataset["t3"].pk).update(updated_at=F("updated_at"))
    result = refresh_kpis()
    assert not result.run.full
    assert value("resolution_rate").value == 100.0 != before


def test_an_old_ticket_sent_its_survey_later_counts_as_followed_up_on_its_own_day(dataset, team, agent):
    t7 = _ticket(team, agent, requested=at(-2, 9), resolved=at(-2, 11), status="resolved", replies=1)
    with time_machine.travel(at(6, 13)):
        refresh_kpis()
    row = value("follow_up_rate", D - timedelta(days=2))
    assert (row.numerator, row.denominator) == (0, 1)
    with time_machine.travel(at(6, 14)):  # the link goes out later; the ticket itself is not touched
        _survey(t7, sent=at(6, 14))
        refresh_kpis()
    row = value("follow_up_rate", D - timedelta(days=2))
    assert (row.numerator, row.denominator) == (1, 1)


def test_a_kpi_added_to_the_registry_gets_its_history_on_the_next_run(dataset):
    with time_machine.travel(at(6, 13)):
        assert not refresh_kpis().run.full  # nothing new in the registry: the changed days only
        last = KPIRun.objects.latest("started_at")
        last.kpis = [key for key in last.kpis if key != "csat_served"]  # as before that KPI existed
        last.save(update_fields=["kpis"])
        KPIValue.objects.filter(kpi="csat_served").delete()
        run = refresh_kpis().run
    assert run.full and "csat_served" in run.kpis
    assert KPIValue.objects.filter(kpi="csat_served", period_start=D).exists()  # its old days too


def test_an_old_ticket_answered_later_by_phone_counts_on_its_own_day(dataset, team, agent):
    t7 = _ticket(team, agent, requested=at(-2, 9), resolved=at(-2, 11), status="resolved", replies=1,
                 customer=CustomerFactory(email=""))  # fmt: skip
    with time_machine.travel(at(6, 13)):
        refresh_kpis()
    assert (value("follow_up_rate", D - timedelta(days=2)).numerator, value("csat_served", D - timedelta(days=2))
            .numerator) == (0, 0)  # fmt: skip
    with time_machine.travel(at(6, 14)):  # a follow-up call; the ticket itself is not touched
        template = SurveyTemplate.objects.get(is_active=True)
        SurveyResponse.objects.create(ticket=t7, template=template, overall=5, nps=9, answers={}, channel="phone",
                                      taken_by=agent, submitted_at=at(6, 14))  # fmt: skip
        refresh_kpis()
    for kpi in ("follow_up_rate", "csat_served"):
        row = value(kpi, D - timedelta(days=2))
        assert (row.numerator, row.denominator) == (1, 1), kpi


def test_a_ticket_moved_to_another_team_takes_its_survey_answers_along(dataset, other_team):

    answered = D + timedelta(days=1)
    row = value("csat", answered, dimension="team", dimension_value=str(other_team.pk))
    assert (row.numerator, row.denominator) == (0, 1)  # T2's 2 of 5
    Ticket.objects.filter(pk=dataset["t1"].pk).update(team=other_team, updated_at=timezone.now())
    refresh_kpis()
    row = value("csat", answered, dimension="team", dimension_value=str(other_team.pk))
    assert (row.numerator, row.denominator) == (1, 2)  # and T1's 5


def test_a_week_across_two_months_gets_its_median_from_both_when_one_day_changes(team, agent):
    def hour(month, day, h):
        return datetime(2026, month, day, h, tzinfo=SH)

    with time_machine.travel(hour(4, 10, 12), tick=True):  # the week from Monday March 30 to Sunday April 5
        _ticket(team, agent, requested=hour(3, 30, 9), responded=hour(3, 30, 10))  # 1 h
        april = _ticket(team, agent, requested=hour(4, 2, 9), responded=hour(4, 2, 12))  # 3 h
        refresh_kpis(full=True)
        assert value("first_response_time", date(2026, 3, 30), "week").median == approx(2.0)
        with time_machine.travel(hour(4, 10, 13)):
            refresh_kpis()  # after this run, only what changes next counts as changed
        with time_machine.travel(hour(4, 10, 14)):
            Ticket.objects.filter(pk=april.pk).update(first_response_at=hour(4, 2, 14), updated_at=hour(4, 10, 14),
                                                      first_response_working_seconds=5 * 3600)  # fmt: skip
            refresh_kpis()  # only April 2 changed: the week's median still reads March 30 too
    week = value("first_response_time", date(2026, 3, 30), "week")
    assert week.median == approx(3.0)  # 1 h and 5 h
    assert value("first_response_time", date(2026, 4, 1), "month").median == approx(5.0)


def _stored() -> dict:
    return {
        (v.kpi, v.granularity, v.period_start, v.dimension, v.dimension_value):
            (v.numerator, v.denominator, v.value, v.hist_keys, v.hist_counts)
        for v in KPIValue.objects.all()
    }  # fmt: skip


def test_an_incremental_run_stores_what_a_full_run_would(dataset, agent, outsider):
    """Two hours after the last run, old tickets are answered and resolved, another moves to a
    colleague and a new one comes in: the incremental run leaves every value — medians of every
    day, week and month included — as a recompute from scratch has it."""
    with time_machine.travel(at(6, 13)):
        refresh_kpis()  # after this run, only what changes next counts as changed
    with time_machine.travel(at(6, 14), tick=True):
        t3_requested, t2_requested = dataset["t3"].requested_at, dataset["t2"].requested_at
        Ticket.objects.filter(pk=dataset["t3"].pk).update(
            first_response_at=at(6, 11), resolved_at=at(6, 13), status="resolved", updated_at=at(6, 14),
            first_response_working_seconds=(at(6, 11) - t3_requested).total_seconds(),
            resolution_working_seconds=(at(6, 13) - t3_requested).total_seconds(),
        )  # fmt: skip
        Ticket.objects.filter(pk=dataset["t2"].pk).update(
            first_response_at=at(0, 23, 55), updated_at=at(6, 14),
            first_response_working_seconds=(at(0, 23, 55) - t2_requested).total_seconds(),
        )  # fmt: skip
        Ticket.objects.filter(pk=dataset["t1"].pk).update(assignee=outsider, updated_at=at(6, 14))
        _ticket(dataset["t1"].team, agent, requested=at(6, 9), responded=at(6, 9, 30))
        result = refresh_kpis()
        assert not result.run.full and result.days == 3  # D (T1–T3), D+1 (T2's survey answer), D+6
        incremental = _stored()
        refresh_kpis(full=True)
        assert incremental == _stored()
    month = value("first_response_time", date(2026, 3, 1), "month", "agent", str(agent.pk))
    assert month.median == approx((0.5 + 5) / 2)  # T5 ½ h, the new one ½ h, T4 5 h, T3 143 h (T1 left)


def test_a_run_that_fails_half_way_leaves_the_previous_values(dataset, monkeypatch):
    from kpis.engine import run

    before = {(v.kpi, v.period_start, v.dimension, v.dimension_value): v.value for v in KPIValue.objects.all()}

    def killed(*args, **kwargs):  # after every day row was rewritten, before the weeks
        raise RuntimeError("worker killed")

    monkeypatch.setattr(run, "roll_up", killed)
    with pytest.raises(RuntimeError):
        refresh_kpis(full=True)
    after = {(v.kpi, v.period_start, v.dimension, v.dimension_value): v.value for v in KPIValue.objects.all()}
    assert after == before
    assert KPIRun.objects.filter(finished_at__isnull=False).count() == 1


def test_medians_are_kept_for_every_slice(dataset, team):
    by_team = value("first_response_time", dimension="team", dimension_value=str(team.pk))
    assert by_team.denominator == 2 and by_team.median == approx(3.0)  # T1 1 h, T4 5 h
    month = value("completion_time", granularity="month", day=date(2026, 3, 1))
    assert month.median == approx((1 + 10) / 2)  # T2 20 min, T5 1 h, T1 10 h, T4 72 h
    normal = value("first_response_time", dimension="priority", dimension_value="normal")  # T1, T2, T4
    assert normal.median == approx(1.0) and normal.p90 == approx(4.2)


def test_complaint_kpis_are_sliced_by_root_cause_too(dataset):
    from complaints.models import RootCause

    cause = RootCause.objects.get(name_en="Repair quality")
    opened = D + timedelta(days=6)  # complaints count on the day they were opened: "today" here
    row = value("complaints_escalated", opened, dimension="root_cause", dimension_value=str(cause.pk))
    assert (row.numerator, row.denominator) == (0, 1)
    assert not KPIValue.objects.filter(kpi="workload", dimension="root_cause").exists()  # complaints only


def test_the_command_recomputes_with_progress_and_a_summary(dataset):
    from io import StringIO

    from django.core.management import call_command

    KPIValue.objects.all().delete()
    out = StringIO()
    call_command("refresh_kpis", "--since", "2026-03-01", stdout=out)
    text = out.getvalue()
    for step in ("day: 16 period(s)", "week: 4 period(s)", "month: 1 period(s)", "values written"):
        assert step in text
    assert "mode: since 2026-03-01" in text and "KPIs computed." in text
    assert value("workload").value == 4


@pytest.mark.parametrize("since", ["2026-13-01", "yesterday"])
def test_the_command_refuses_a_date_it_cannot_read_and_changes_nothing(dataset, since):
    from django.core.management import CommandError, call_command

    runs = KPIRun.objects.count()
    with pytest.raises(CommandError, match="--since must be a date like 2026-01-31"):
        call_command("refresh_kpis", "--since", since)
    assert KPIRun.objects.count() == runs


@pytest.mark.parametrize("kind", list(Kind))
@pytest.mark.parametrize("parts", [(3.0, 4.0, 1.0), (0.0, 0.0, 0.0), (7200.0, 2.0, 0.0)])
def test_each_kind_has_one_formula_in_python_and_sql(kind, parts):
    """What a run stores (SQL) is what the dashboard derives for a range (Python)."""
    from django.db import connection

    numerator, denominator, negative = parts
    with connection.cursor() as cursor:
        literals = (f"{part!r}::float" for part in (numerator, denominator, negative))
        cursor.execute(f"SELECT {kind.figure_sql(*literals)}")
        stored = cursor.fetchone()[0]
    derived = kind.figure(numerator, denominator, negative)
    assert stored == (None if derived is None else pytest.approx(derived))
