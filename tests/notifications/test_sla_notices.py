"""Warnings before an SLA breach, notices at the breach, and one e-mail digest per person."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from notifications import services
from notifications.models import Kind, Notification
from outbox.models import OutgoingEmail
from tests.factories import make_ticket
from tickets import services as ticket_services

pytestmark = [pytest.mark.django_db, pytest.mark.office_hours]

SH = ZoneInfo("Asia/Shanghai")
MONDAY_9 = datetime(2026, 12, 7, 9, 0, tzinfo=SH)


@pytest.fixture(autouse=True)
def _addresses(agent, supervisor):
    agent.email, supervisor.email = "alice@desk.example.com", "carol@desk.example.com"
    agent.save()
    supervisor.save()


def _ticket(team, agent, **fields):
    # Normal priority: a first response within 2 working hours of 09:00, i.e. by 11:00.
    with time_machine.travel(MONDAY_9, tick=False):
        return make_ticket(team=team, by=agent, assignee=agent, requested_at=MONDAY_9, **fields)


def test_the_assignee_is_warned_at_three_quarters_of_the_allowance_once(team, agent):
    ticket = _ticket(team, agent)
    with time_machine.travel(datetime(2026, 12, 7, 10, 20, tzinfo=SH), tick=False):  # 80 min of 120
        assert services.sweep_sla().warnings == 0
    with time_machine.travel(datetime(2026, 12, 7, 10, 31, tzinfo=SH), tick=False):  # 91 of 120
        assert services.sweep_sla().warnings == 1
        assert services.sweep_sla().warnings == 0  # never twice
    (notice,) = Notification.objects.all()
    assert (notice.recipient, notice.ticket, notice.kind, notice.clock) == (agent, ticket, "warning", "response")


def test_at_the_breach_the_assignee_and_the_supervisor_are_told(team, agent, supervisor):
    _ticket(team, agent)
    with time_machine.travel(datetime(2026, 12, 7, 11, 5, tzinfo=SH), tick=False):
        assert services.sweep_sla().breaches == 2
    assert {n.recipient for n in Notification.objects.filter(kind="breach")} == {agent, supervisor}


def test_an_answered_ticket_and_a_paused_one_raise_nothing_about_their_stopped_clocks(team, agent):
    answered = _ticket(team, agent)
    waiting = _ticket(team, agent)
    with time_machine.travel(datetime(2026, 12, 7, 9, 10, tzinfo=SH), tick=False):
        ticket_services.add_reply(ticket=answered, by=agent, body="已收到")
        ticket_services.add_reply(ticket=waiting, by=agent, body="请发照片")
        ticket_services.mark_pending(ticket=waiting, by=agent)
    with time_machine.travel(datetime(2026, 12, 7, 11, 5, tzinfo=SH), tick=False):
        services.sweep_sla()
    assert not Notification.objects.filter(clock="response").exists()
    assert not Notification.objects.filter(ticket=waiting).exists()


def test_one_digest_per_person_whatever_the_number_of_tickets(team, agent, supervisor, client):
    for _ in range(5):
        _ticket(team, agent)
    with time_machine.travel(datetime(2026, 12, 7, 11, 5, tzinfo=SH), tick=False):
        services.sweep_sla()
        assert services.send_digests() == 2  # alice and carol, five tickets each
        assert services.send_digests() == 0
    mails = OutgoingEmail.objects.filter(kind="sla_digest")
    assert sorted(m.to for m in mails) == ["alice@desk.example.com", "carol@desk.example.com"]
    assert all(m.body_text.count("SR-") == 5 for m in mails)


def test_a_person_who_turned_the_digest_off_still_sees_the_page(team, agent, client):
    _ticket(team, agent)
    client.force_login(agent)
    client.post("/notifications/settings/", {})  # the box unticked
    with time_machine.travel(datetime(2026, 12, 7, 11, 5, tzinfo=SH), tick=False):
        services.sweep_sla()
        services.send_digests()
    assert not OutgoingEmail.objects.filter(kind="sla_digest", to="alice@desk.example.com").exists()
    page = client.get("/tickets/").content.decode()
    assert 'href="/notifications/"' in page and '<span class="badge bad">1</span>' in page
    listed = client.get("/notifications/").content.decode()
    assert Notification.objects.get(recipient=agent).ticket.reference in listed
    client.post("/notifications/read/")
    assert '<span class="badge bad">' not in client.get("/tickets/").content.decode().split("</nav>")[0]


def test_nobody_sees_anothers_notifications(team, agent, outsider, client):
    _ticket(team, agent)
    with time_machine.travel(datetime(2026, 12, 7, 11, 5, tzinfo=SH), tick=False):
        services.sweep_sla()
    client.force_login(outsider)
    assert "SR-" not in client.get("/notifications/").content.decode()


class TestNoticesAboutTheTimeline:
    def test_an_agent_is_told_when_a_ticket_is_given_to_them_but_not_when_they_take_it(
        self, team, agent, colleague, supervisor
    ):
        given = make_ticket(team=team, by=supervisor)
        ticket_services.assign_ticket(ticket=given, by=supervisor, assignee=agent)
        taken = make_ticket(team=team, by=colleague)
        ticket_services.add_reply(ticket=taken, by=colleague, body="我来处理")  # takes it: nobody else is told

        notices = list(Notification.objects.values_list("recipient__username", "kind", "ticket"))
        assert notices == [("alice", Kind.ASSIGNED, given.pk)]

    def test_a_customers_mail_tells_the_assignee_else_the_supervisor(self, team, agent, supervisor):
        mine = make_ticket(team=team, by=agent, assignee=agent)
        nobodys = make_ticket(team=team, by=agent)
        for ticket in (mine, nobodys):
            ticket_services.receive_message(
                ticket=ticket, body="还是不行", at=timezone.now(), message_id=f"<{ticket.pk}@x>",
                sender=ticket.customer.email,
            )  # fmt: skip
        told = set(Notification.objects.filter(kind=Kind.CUSTOMER).values_list("recipient__username", "ticket"))
        assert told == {("alice", mine.pk), ("carol", nobodys.pk)}

    def test_a_note_naming_colleagues_tells_them_and_nobody_outside_the_team(
        self, team, agent, colleague, supervisor, outsider, client
    ):
        ticket = make_ticket(team=team, by=agent, assignee=agent)
        body = "@bob 请帮忙看一下，@carol 知悉；@mallory 不在本组；mail@alice.cn"
        ticket_services.add_note(ticket=ticket, by=agent, body=body)
        told = set(Notification.objects.filter(kind=Kind.MENTION).values_list("recipient__username", flat=True))
        assert told == {"bob", "carol"}

        client.force_login(colleague)
        page = client.get("/notifications/").content.decode()
        assert ticket.reference in page and "Alice" in page
