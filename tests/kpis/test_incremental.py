"""Incremental runs add the deltas of the rows that changed; after any sequence of changes, the
store they leave is exactly — every part, every histogram bucket — what a full rebuild gives."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from complaints.models import Complaint
from kpis.engine import refresh_kpis
from kpis.engine.periods import period_start
from kpis.models import KPIValue, TicketContribution
from kpis.registry import BY_KEY
from surveys.models import SurveyInvitation, SurveyResponse, SurveyTemplate
from tests.factories import make_ticket
from tickets.models import Category, Tag, Ticket

pytestmark = pytest.mark.django_db


def stored() -> dict:
    """Every stored value, but the backlog of past periods: a level at each period's end, which
    incremental runs refresh for the running periods only (full and nightly runs for the past)."""
    today = timezone.localdate()
    running = {"day": today, "week": period_start(today, "week"), "month": period_start(today, "month")}
    return {
        (v.kpi, v.granularity, v.period_start, v.dimension, v.dimension_value): (
            v.numerator, v.negative, v.denominator, v.source_rows, v.value, v.hist_keys, v.hist_counts,
        )
        for v in KPIValue.objects.all()
        if not (BY_KEY[v.kpi].at_period_end and v.period_start != running[v.granularity])
    }  # fmt: skip


class Desk:
    """Random but plausible changes to a desk: new tickets over the last 90 days, answers,
    resolutions, reassignments and transfers, cost lines, survey links and answers, complaints
    escalated and closed."""

    def __init__(self, rng: random.Random, teams, people):
        self.rng, self.teams, self.people = rng, teams, people
        self.template = SurveyTemplate.objects.get(is_active=True)
        self.tags = [Tag.objects.create(name=name) for name in ("批次A", "批次B", "VIP")]
        self.categories = list(Category.objects.all())

    def ticket(self) -> Ticket | None:
        return Ticket.objects.order_by("?").first()

    def new_ticket(self, now):
        rng = self.rng
        requested = now - timedelta(days=rng.randint(0, 90), minutes=rng.randint(0, 1440))
        team = rng.choice(self.teams)
        ticket = make_ticket(
            team=team,
            category=rng.choice(self.categories).slug,
            requested_at=requested,
            channel=rng.choice(["phone", "email", "web"]),
            priority=rng.choice(["low", "normal"]),
        )
        Ticket.objects.filter(pk=ticket.pk).update(assignee=rng.choice(self.people))  # as it was then

    def answer(self, now):
        ticket = self.ticket()
        seconds = self.rng.choice([0, 0.4, 59, 3_600, 7_200.5, 86_400 * 3])
        Ticket.objects.filter(pk=ticket.pk).update(
            first_response_at=ticket.requested_at + timedelta(seconds=seconds), updated_at=now,
            first_response_working_seconds=int(seconds), public_reply_count=self.rng.randint(1, 3),
        )  # fmt: skip

    def resolve(self, now):
        ticket = self.ticket()
        seconds = self.rng.choice([600, 36_000, 86_400 * 2, 86_400 * 20])
        Ticket.objects.filter(pk=ticket.pk).update(
            status=self.rng.choice(["resolved", "closed"]), resolution_working_seconds=seconds, updated_at=now,
            resolved_at=ticket.requested_at + timedelta(seconds=seconds), reopen_count=self.rng.choice([0, 0, 1]),
        )  # fmt: skip

    def reopen(self, now):
        Ticket.objects.filter(pk=self.ticket().pk).update(status="open", resolved_at=None,
                                                          resolution_working_seconds=None, updated_at=now)  # fmt: skip

    def move(self, now):
        Ticket.objects.filter(pk=self.ticket().pk).update(
            team=self.rng.choice(self.teams), assignee=self.rng.choice([*self.people, None]),
            priority=self.rng.choice(["low", "urgent"]), category=self.rng.choice(self.categories), updated_at=now,
        )  # fmt: skip

    def cost(self, now):
        Ticket.objects.filter(pk=self.ticket().pk).update(
            labour_cost=Decimal(self.rng.randint(0, 50_000)) / 100, other_cost=Decimal("0.10"), updated_at=now
        )

    def survey(self, now):
        ticket = Ticket.objects.filter(status__in=["resolved", "closed"], survey__isnull=True).order_by("?").first()
        if ticket is None:
            return
        invitation = SurveyInvitation.objects.create(
            ticket=ticket, template=self.template, nonce=f"n{ticket.pk}", token_hash=f"h{ticket.pk}-{now.timestamp()}",
            email="amy@example.com", language="zh-hans", created_at=now, expires_at=now + timedelta(days=14),
        )  # fmt: skip
        if self.rng.random() < 0.6:
            SurveyResponse.objects.create(
                invitation=invitation,
                ticket=ticket,
                template=self.template,
                submitted_at=now,
                overall=self.rng.choice([None, 1, 4, 5]),
                nps=self.rng.choice([None, 3, 7, 10]),
                channel=self.rng.choice(["email", "phone"]),
            )
            SurveyInvitation.objects.filter(pk=invitation.pk).update(answered_at=now)

    def complaint(self, now):
        complaint = Complaint.objects.order_by("?").first()
        if complaint is None:
            return
        if self.rng.random() < 0.5:
            Complaint.objects.filter(pk=complaint.pk).update(level=min(3, complaint.level + 1), updated_at=now)
        else:
            Complaint.objects.filter(pk=complaint.pk).update(status="closed", closed_at=now, updated_at=now,
                                                             first_handled_at=now)  # fmt: skip

    def merge(self, now):
        """A duplicate merged into another open ticket (as ``tickets.services.merge_tickets`` leaves
        it): closed, pointing there, its survey moved along."""
        candidates = list(Ticket.objects.filter(merged_into__isnull=True, status__in=["new", "open"]).order_by("?")[:2])
        if len(candidates) < 2:
            return
        duplicate, into = candidates
        if not SurveyInvitation.objects.filter(ticket=into).exists():
            SurveyInvitation.objects.filter(ticket=duplicate).update(ticket=into)
            SurveyResponse.objects.filter(ticket=duplicate).update(ticket=into)
        Ticket.objects.filter(pk=into.pk).update(updated_at=now)
        Ticket.objects.filter(pk=duplicate.pk).update(
            merged_into=into, status="closed", resolved_at=now, closed_at=now, updated_at=now
        )

    def tag(self, now):
        """Tags set on a ticket, as ``tickets.services.set_tags`` does (the ticket marked changed)."""
        ticket = self.ticket()
        ticket.tags.set(self.rng.sample(self.tags, self.rng.randint(0, 2)))
        Ticket.objects.filter(pk=ticket.pk).update(updated_at=now)

    def change(self, now):
        steps = [self.new_ticket, self.answer, self.resolve, self.reopen, self.move, self.cost, self.survey,
                 self.complaint, self.merge, self.tag, self.tag]  # fmt: skip
        self.rng.choice(steps)(now)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_any_sequence_of_changes_and_incremental_runs_equals_a_full_rebuild(seed, team, other_team, agent,
                                                                           colleague, outsider):  # fmt: skip
    rng = random.Random(seed)
    desk = Desk(rng, [team, other_team], [agent, colleague, outsider])
    moment = timezone.now()
    with time_machine.travel(moment, tick=False):
        for _ in range(12):
            desk.new_ticket(moment)
        desk.answer(moment)
        refresh_kpis(full=True)
    for round_ in range(6):
        moment += timedelta(minutes=7)  # past the previous run's overlap window now and then
        with time_machine.travel(moment, tick=False):
            for _ in range(rng.randint(1, 6)):
                desk.change(moment)
            if round_ == 5:  # whatever the changes hit: an answered, tagged ticket in the last run
                desk.new_ticket(moment)
                fresh = Ticket.objects.latest("id")
                Ticket.objects.filter(pk=fresh.pk).update(
                    first_response_at=fresh.requested_at + timedelta(minutes=30), first_response_working_seconds=1800,
                    updated_at=moment,
                )  # fmt: skip
                fresh.tags.set(desk.tags[:2])
            result = refresh_kpis()
        assert not result.run.full, round_
    incremental = stored()
    assert any(key[0] == "first_response_time" and value[5] for key, value in incremental.items())
    assert any(key[3] == "tag" for key in incremental)
    with time_machine.travel(moment + timedelta(seconds=1), tick=False):
        refresh_kpis(full=True)
    rebuilt = stored()
    assert incremental.keys() == rebuilt.keys()
    assert incremental == rebuilt


def test_an_incremental_run_reads_only_the_changed_rows(team, agent):
    """A changed ticket's stored contribution is replaced; the others are not rewritten."""
    made = [make_ticket(team=team, by=agent, assignee=agent) for _ in range(3)]
    refresh_kpis(full=True)
    before = {c.row_id: c.day for c in TicketContribution.objects.all()}
    with time_machine.travel(timezone.now() + timedelta(minutes=10)):
        now = timezone.now()
        Ticket.objects.filter(pk=made[0].pk).update(status="resolved", resolved_at=now,
                                                    resolution_working_seconds=600, updated_at=now)  # fmt: skip
        result = refresh_kpis()
    assert result.days == 1 and set(before) == {t.pk for t in made}
    resolved = KPIValue.objects.get(kpi="resolution_rate", granularity="day", dimension="all")
    assert (resolved.numerator, resolved.denominator) == (1, 3)


def test_a_full_rebuild_keeps_a_week_of_run_records(team, agent):
    from kpis.models import KPIRun

    make_ticket(team=team, by=agent)
    with time_machine.travel(timezone.now() - timedelta(days=8)):
        refresh_kpis(full=True)
        refresh_kpis()
    refresh_kpis()
    assert KPIRun.objects.count() == 3
    refresh_kpis(full=True)
    assert KPIRun.objects.count() == 2  # the two of the last week


def test_after_a_crash_emptied_the_contributions_the_next_run_rebuilds_everything(team, agent):
    """The contributions are unlogged: PostgreSQL empties them after a crash."""
    from django.db import connection

    make_ticket(team=team, by=agent)
    refresh_kpis(full=True)
    before = stored()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE kpis_contribution_tickets, kpis_contribution_responses")
    result = refresh_kpis()
    assert result.run.full
    assert stored() == before and TicketContribution.objects.count() == 1
