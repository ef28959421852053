"""The ticket state machine: every legal and illegal transition, its timestamps and counters."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone, translation

from config.exceptions import ApplicationError
from tests.factories import CustomerFactory, UserFactory, make_ticket
from tickets import services
from tickets.calendars import calendar_for
from tickets.models import Category, Customer, EventKind, SLAPolicy, Status, TicketEvent
from tickets.worktime import add_working_time

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def _to(ticket, status, by):
    """Walk a new ticket to ``status`` through the services."""
    if status == Status.NEW:
        return ticket
    services.add_reply(ticket=ticket, by=by, body="您好")
    if status == Status.PENDING:
        return services.mark_pending(ticket=ticket, by=by)
    if status in (Status.RESOLVED, Status.CLOSED):
        services.resolve_ticket(ticket=ticket, by=by, note="fixed")
    if status == Status.CLOSED:
        services.close_ticket(ticket=ticket, by=by)
    ticket.refresh_from_db()
    return ticket


ACTIONS = {
    "pending": lambda t, by: services.mark_pending(ticket=t, by=by),
    "resolve": lambda t, by: services.resolve_ticket(ticket=t, by=by, note="done"),
    "close": lambda t, by: services.close_ticket(ticket=t, by=by),
    "reopen": lambda t, by: services.reopen_ticket(ticket=t, by=by, reason="again"),
    "reply": lambda t, by: services.add_reply(ticket=t, by=by, body="hello"),
}
LEGAL = {
    (Status.NEW, "pending"): Status.PENDING,
    (Status.OPEN, "pending"): Status.PENDING,
    (Status.NEW, "resolve"): Status.RESOLVED,
    (Status.OPEN, "resolve"): Status.RESOLVED,
    (Status.PENDING, "resolve"): Status.RESOLVED,
    (Status.RESOLVED, "close"): Status.CLOSED,
    (Status.RESOLVED, "reopen"): Status.OPEN,
    (Status.CLOSED, "reopen"): Status.OPEN,
    (Status.NEW, "reply"): Status.OPEN,
    (Status.OPEN, "reply"): Status.OPEN,
    (Status.PENDING, "reply"): Status.PENDING,
}
ALL = [(s, a) for s in Status.values for a in ACTIONS]


@pytest.mark.parametrize(("start", "action"), ALL, ids=[f"{s}-{a}" for s, a in ALL])
def test_each_action_is_allowed_exactly_from_the_statuses_in_the_table(team, agent, start, action):
    ticket = _to(make_ticket(team=team, by=agent, assignee=agent), start, agent)
    events_before = ticket.events.count()
    expected = LEGAL.get((start, action))
    if expected is None:
        with pytest.raises(ApplicationError):
            ACTIONS[action](ticket, agent)
        ticket.refresh_from_db()
        assert ticket.status == start
        assert ticket.events.count() == events_before
    else:
        ACTIONS[action](ticket, agent)
        ticket.refresh_from_db()
        assert ticket.status == expected
        assert ticket.events.count() == events_before + 1


def test_closing_a_new_ticket_is_refused_with_a_message(ticket, agent):
    with pytest.raises(ApplicationError, match="Only a resolved ticket can be closed"):
        services.close_ticket(ticket=ticket, by=agent)


@pytest.mark.office_hours
@time_machine.travel("2026-12-02 09:00:00+08:00", tick=False)  # a Wednesday
def test_a_new_ticket_gets_a_reference_and_sla_due_times_from_its_priority(team, agent):
    requested = timezone.now() - timedelta(minutes=20)  # 08:40
    ticket = make_ticket(team=team, by=agent, priority="urgent", requested_at=requested)
    assert re.fullmatch(rf"SR-{timezone.localtime().year}-\d{{6}}", ticket.reference)
    assert ticket.status == Status.NEW
    shanghai = ZoneInfo("Asia/Shanghai")
    assert ticket.response_due_at == datetime(2026, 12, 2, 9, 10, tzinfo=shanghai)  # 30 working minutes
    # 8 working hours: 08:40–12:00 and 13:30–18:00 make 7 h 50 min, then 10 minutes on Thursday morning.
    assert ticket.resolution_due_at == datetime(2026, 12, 3, 8, 40, tzinfo=shanghai)
    created = ticket.events.get()
    assert (created.kind, created.actor) == (EventKind.CREATED, agent)


def test_a_category_specific_sla_policy_wins_over_the_general_one(team, agent):
    complaint = Category.objects.get(slug="complaint")
    SLAPolicy.objects.create(priority="normal", category=complaint, response_minutes=15, resolution_minutes=600)
    ticket = make_ticket(team=team, by=agent, category="complaint")
    assert ticket.response_due_at - ticket.requested_at == timedelta(minutes=15)
    general = make_ticket(team=team, by=agent)
    assert general.response_due_at - general.requested_at == timedelta(hours=2)


def test_references_are_unique_and_increasing(team, agent):
    first, second = make_ticket(team=team, by=agent), make_ticket(team=team, by=agent)
    assert second.reference > first.reference


def test_a_request_time_in_the_future_is_refused(team, agent):
    with pytest.raises(ApplicationError) as error:
        make_ticket(team=team, by=agent, requested_at=timezone.now() + timedelta(hours=1))
    assert error.value.field == "requested_at"


def test_the_first_public_reply_sets_first_response_once_and_opens_the_ticket(ticket, agent):
    services.add_reply(ticket=ticket, by=agent, body="我们马上处理")
    ticket.refresh_from_db()
    first = ticket.first_response_at
    assert first is not None and ticket.status == Status.OPEN
    services.add_reply(ticket=ticket, by=agent, body="师傅明天上门")
    ticket.refresh_from_db()
    assert ticket.first_response_at == first
    assert ticket.public_reply_count == 2


def test_an_internal_note_never_counts_as_a_response(ticket, agent):
    services.add_note(ticket=ticket, by=agent, body="客户脾气急")
    ticket.refresh_from_db()
    assert ticket.first_response_at is None
    assert ticket.status == Status.NEW
    assert ticket.events.filter(kind=EventKind.NOTE, body="客户脾气急").exists()


def test_an_empty_reply_is_refused(ticket, agent):
    with pytest.raises(ApplicationError):
        services.add_reply(ticket=ticket, by=agent, body="   ")
    assert ticket.events.count() == 1


def test_resolving_sets_resolved_at_and_needs_a_note(ticket, agent):
    with pytest.raises(ApplicationError):
        services.resolve_ticket(ticket=ticket, by=agent, note="")
    services.resolve_ticket(ticket=ticket, by=agent, note="更换压缩机")
    ticket.refresh_from_db()
    assert ticket.resolved_at is not None
    assert ticket.events.get(kind=EventKind.RESOLVED).body == "更换压缩机"


def test_resolving_twice_is_refused(ticket, agent):
    services.resolve_ticket(ticket=ticket, by=agent, note="done")
    with pytest.raises(ApplicationError, match="already resolved"):
        services.resolve_ticket(ticket=ticket, by=agent, note="done again")
    assert ticket.events.filter(kind=EventKind.RESOLVED).count() == 1


def test_closing_sets_closed_at(ticket, agent):
    _to(ticket, Status.CLOSED, agent)
    assert ticket.closed_at is not None and ticket.resolved_at is not None


def test_reopening_counts_a_reopen_and_clears_resolution_times(ticket, agent):
    ticket = _to(ticket, Status.CLOSED, agent)
    resolved_at = ticket.resolved_at
    services.reopen_ticket(ticket=ticket, by=agent, reason="问题再次出现")
    ticket.refresh_from_db()
    assert (ticket.status, ticket.reopen_count, ticket.resolved_at, ticket.closed_at) == (Status.OPEN, 1, None, None)
    event = ticket.events.get(kind=EventKind.REOPENED)
    assert event.before["resolved_at"] == resolved_at.isoformat()
    services.resolve_ticket(ticket=ticket, by=agent, note="fixed for good")
    services.reopen_ticket(ticket=ticket, by=agent, reason="and again")
    ticket.refresh_from_db()
    assert ticket.reopen_count == 2


def test_reopening_an_open_ticket_is_refused(ticket, agent):
    _to(ticket, Status.OPEN, agent)
    with pytest.raises(ApplicationError):
        services.reopen_ticket(ticket=ticket, by=agent, reason="?")
    ticket.refresh_from_db()
    assert ticket.reopen_count == 0


def test_assigning_counts_a_reassignment_only_from_one_agent_to_another(team, agent, colleague, supervisor):
    ticket = make_ticket(team=team, by=agent)
    services.assign_ticket(ticket=ticket, by=agent, assignee=agent)
    ticket.refresh_from_db()
    assert (ticket.assignee, ticket.reassign_count) == (agent, 0)
    services.assign_ticket(ticket=ticket, by=agent, assignee=colleague)
    services.assign_ticket(ticket=ticket, by=colleague, assignee=supervisor)
    ticket.refresh_from_db()
    assert (ticket.assignee, ticket.reassign_count) == (supervisor, 2)
    moves = list(ticket.events.filter(kind=EventKind.ASSIGNED).values_list("before__assignee", "after__assignee"))
    assert moves == [(None, "alice"), ("alice", "bob"), ("bob", "carol")]


def test_assigning_to_someone_outside_the_team_is_refused(ticket, agent, outsider):
    with pytest.raises(ApplicationError) as error:
        services.assign_ticket(ticket=ticket, by=agent, assignee=outsider)
    assert error.value.field == "assignee"
    ticket.refresh_from_db()
    assert ticket.assignee == agent


def test_the_same_request_key_is_recorded_once(ticket, agent):
    for _ in range(3):
        services.add_reply(ticket=ticket, by=agent, body="double click", request_key="k1")
    ticket.refresh_from_db()
    assert ticket.public_reply_count == 1
    assert TicketEvent.objects.filter(ticket=ticket, kind=EventKind.REPLY).count() == 1
    services.resolve_ticket(ticket=ticket, by=agent, note="done", request_key="k2")
    services.resolve_ticket(ticket=ticket, by=agent, note="done", request_key="k2")  # a retry: no error
    assert ticket.events.filter(kind=EventKind.RESOLVED).count() == 1


def test_updating_priority_recomputes_sla_and_records_before_and_after(ticket, agent):
    services.update_ticket(ticket=ticket, by=agent, priority="urgent", subject="新的标题")
    ticket.refresh_from_db()
    assert ticket.resolution_due_at == add_working_time(ticket.requested_at, timedelta(hours=8), calendar_for(ticket))
    event = ticket.events.get(kind=EventKind.UPDATED)
    assert event.before["priority"] == "normal" and event.after["priority"] == "urgent"
    assert event.after["subject"] == "新的标题"


def test_moving_to_another_team_unassigns_an_agent_outside_it(ticket, agent, other_team):
    services.update_ticket(ticket=ticket, by=agent, team=other_team)
    ticket.refresh_from_db()
    assert ticket.team == other_team and ticket.assignee is None


class TestCustomerMatching:
    def test_an_existing_customer_is_found_again_by_email_in_any_case(self):
        known = CustomerFactory(email="li.lei@example.com", phone="")
        found = services.find_or_create_customer(name="Li Lei", email="LI.LEI@example.com", phone="13900000000")
        assert found == known
        known.refresh_from_db()
        assert known.phone == "13900000000"  # what was missing is filled in

    def test_an_existing_customer_is_found_again_by_phone(self):
        known = CustomerFactory(email="", phone="13712345678")
        assert services.find_or_create_customer(name="x", phone="13712345678") == known

    def test_a_new_customer_needs_a_name(self):
        with pytest.raises(ApplicationError):
            services.find_or_create_customer(name="", email="new@example.com")
        assert not Customer.objects.filter(email="new@example.com").exists()


def test_an_assignee_given_at_creation_must_be_in_the_team(team, agent):
    stranger = UserFactory(username="stranger")
    with pytest.raises(ApplicationError):
        make_ticket(team=team, by=agent, assignee=stranger)
