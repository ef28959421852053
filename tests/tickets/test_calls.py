"""A phone-first desk: a call answered as it is logged is the first response, a problem solved on the
line is resolved in one step, a logged call is a public contact, and the agent who acts takes the ticket."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from rest_framework.test import APIClient

from complaints.access import complaints_for_user
from complaints.models import Complaint
from config.exceptions import ApplicationError
from kpis.registry import BY_KEY
from tests.factories import CustomerFactory, make_ticket
from tickets import services
from tickets.models import Category, EventKind, Status, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(agent_client):
    agent_client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    with translation.override("en"):
        yield


def _form(team, **overrides):
    data = {
        "customer_name": "李雷", "customer_phone": "13800000001", "customer_language": "zh-hans",
        "subject": "热水器打不着火", "category": Category.objects.get(slug="repair").pk, "channel": "phone",
        "priority": "normal", "team": team.pk, "answered": "on",
        "requested_at": timezone.localtime(timezone.now() - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"),
    }  # fmt: skip
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def _counts(kpi_key: str, ticket: Ticket) -> tuple[bool, bool]:
    """(in the denominator, in the numerator) of a ticket KPI, by its registry definition."""
    kpi = BY_KEY[kpi_key]
    rows = Ticket.objects.filter(pk=ticket.pk)
    return rows.filter(kpi.denominator).exists(), rows.filter(kpi.denominator & kpi.numerator).exists()


def test_a_call_answered_as_it_is_logged_is_the_first_response_at_the_call_time(agent_client, agent, team):
    response = agent_client.post("/tickets/new/", _form(team))
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert ticket.first_response_at == ticket.requested_at
    assert ticket.status == Status.OPEN and ticket.public_reply_count == 1
    assert ticket.first_response_working_seconds == 0
    assert ticket.assignee == agent  # the agent on the line took it
    assert list(ticket.events.values_list("kind", flat=True)) == ["created", "call"]
    assert _counts("response_sla", ticket) == (True, True)
    page = agent_client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert "spoke with the customer" in page and "the customer called" in page


def test_resolved_during_the_call_is_one_step_and_counts_as_first_contact_resolution(agent_client, agent, team):
    response = agent_client.post("/tickets/new/", _form(team, resolution="指导客户更换电池, 已能点火"))
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert ticket.status == Status.RESOLVED and ticket.resolved_at is not None
    assert ticket.events.get(kind=EventKind.RESOLVED).body == "指导客户更换电池, 已能点火"
    assert _counts("first_contact_resolution", ticket) == (True, True)
    assert _counts("response_sla", ticket) == (True, True)
    assert "logged and resolved" in agent_client.get(response.url).content.decode()


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"channel": "email"}, "answered", "Only a call, a visit or a chat is answered"),
        ({"answered": None, "resolution": "已解决"}, "resolution", "only when you are speaking with the customer"),
    ],
)
def test_a_contradictory_new_ticket_is_refused_and_keeps_what_was_typed(agent_client, team, overrides, field, message):
    response = agent_client.post("/tickets/new/", _form(team, **overrides))
    assert response.status_code == 400
    assert message in response.context["form"].errors[field][0]
    assert "热水器打不着火" in response.content.decode()
    assert not Ticket.objects.exists()


def test_a_logged_outbound_call_is_a_public_contact_at_the_call_time(agent, manager, team):
    ticket = make_ticket(team=team, by=agent, channel="web", requested_at=timezone.now() - timedelta(hours=2))
    called = timezone.now() - timedelta(minutes=30)
    services.log_call(ticket=ticket, by=agent, summary="约好明天上门", at=called)
    ticket.refresh_from_db()
    assert ticket.first_response_at == called and ticket.status == Status.OPEN
    assert ticket.public_reply_count == 1
    event = ticket.events.get(kind=EventKind.CALL)
    assert event.is_public and event.after["direction"] == "outbound" and event.body == "约好明天上门"
    services.resolve_ticket(ticket=ticket, by=agent, note="已修复")
    complaint = Complaint.objects.create(ticket=ticket)
    assert not complaints_for_user(manager).get(pk=complaint.pk).flag_perfunctory  # a call is a contact


def test_a_ticket_resolved_without_any_contact_is_still_perfunctory(agent, manager, team):
    ticket = make_ticket(team=team, by=agent, channel="web")
    services.resolve_ticket(ticket=ticket, by=agent, note="已修复")
    complaint = Complaint.objects.create(ticket=ticket)
    assert complaints_for_user(manager).get(pk=complaint.pk).flag_perfunctory
    # the handler then talks to the customer and logs their confirmation of the fix: a contact after all
    Complaint.objects.filter(pk=complaint.pk).update(confirmed_at=timezone.now(), confirmation_channel="phone")
    assert not complaints_for_user(manager).get(pk=complaint.pk).flag_perfunctory


def test_a_call_typed_to_the_minute_of_the_request_is_taken_at_the_request(agent, team):
    requested = timezone.now().replace(second=40, microsecond=0) - timedelta(minutes=10)
    ticket = make_ticket(team=team, by=agent, channel="web", requested_at=requested)
    services.log_call(ticket=ticket, by=agent, summary="回电", at=requested.replace(second=0))
    ticket.refresh_from_db()
    assert ticket.first_response_at == requested and ticket.first_response_working_seconds == 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"summary": "  "}, "summary"),
        ({"summary": "x", "at": timezone.now() + timedelta(hours=1)}, "at"),
        ({"summary": "x", "at": timezone.now() - timedelta(days=30)}, "at"),
        ({"summary": "x", "direction": "sideways"}, "direction"),
    ],
)
def test_a_call_that_cannot_be_is_refused_and_changes_nothing(agent, team, kwargs, field):
    ticket = make_ticket(team=team, by=agent)
    with pytest.raises(ApplicationError) as refused:
        services.log_call(ticket=ticket, by=agent, **kwargs)
    assert refused.value.field == field
    ticket.refresh_from_db()
    assert ticket.first_response_at is None and ticket.events.count() == 1


def test_a_call_after_resolution_belongs_to_the_follow_up_queue(agent, team):
    ticket = make_ticket(team=team, by=agent, assignee=agent)
    services.resolve_ticket(ticket=ticket, by=agent, note="已修复")
    with pytest.raises(ApplicationError, match="follow-up"):
        services.log_call(ticket=ticket, by=agent, summary="回访")


def test_the_first_agent_who_acts_on_an_unassigned_ticket_takes_it(agent, colleague, team):
    ticket = make_ticket(team=team, by=agent, channel="web")
    services.add_note(ticket=ticket, by=colleague, body="看一下型号")  # a note helps; it does not take the ticket
    services.add_reply(ticket=ticket, by=agent, body="您好, 已收到")
    services.resolve_ticket(ticket=ticket, by=colleague, note="已修复")
    ticket.refresh_from_db()
    assert ticket.assignee == agent and ticket.reassign_count == 0
    taken = ticket.events.get(kind=EventKind.ASSIGNED)
    assert taken.actor == agent and taken.after == {"assignee": agent.username, "taken": True}


def test_a_manager_outside_the_team_leaves_the_ticket_to_the_team(agent, manager, team):
    ticket = make_ticket(team=team, by=agent, channel="web")
    services.add_reply(ticket=ticket, by=manager, body="您好")
    ticket.refresh_from_db()
    assert ticket.assignee is None and not ticket.events.filter(kind=EventKind.ASSIGNED).exists()


def test_the_api_logs_a_call_and_a_ticket_solved_on_the_line(agent, team):
    client = APIClient()
    client.force_authenticate(agent)
    body = {
        "subject": "遥控器失灵", "customer": {"name": "王五", "phone": "13900000009"}, "category": "inquiry",
        "channel": "phone", "team": team.pk, "answered": True, "resolution": "重新配对",
    }  # fmt: skip
    created = client.post("/api/tickets/", body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["status"] == "resolved" and created.json()["assignee"] == agent.username
    other = make_ticket(team=team, by=agent, customer=CustomerFactory(), channel="web")
    called = client.post(f"/api/tickets/{other.pk}/calls/", {"summary": "已电话联系"}, format="json")
    assert called.status_code == 200 and called.json()["first_response_at"]
    refused = client.post(f"/api/tickets/{other.pk}/calls/", {"summary": ""}, format="json")
    assert refused.status_code == 400 and "summary" in refused.json()
    email = client.post("/api/tickets/", {**body, "channel": "email"}, format="json")
    assert email.status_code == 400 and "answered" in email.json()


def test_seed_002s_hotline_requests_are_categories_in_both_languages(agent_client, team):
    names = {
        c.slug: (c.name_zh, c.name_en) for c in Category.objects.filter(slug__in=["report", "information", "opinion"])
    }
    assert names == {"report": ("举报", "Report of misconduct"), "information": ("信息查询", "Information request"),
                     "opinion": ("意见", "Opinion")}  # fmt: skip
    page = agent_client.get("/tickets/new/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert all(zh in page for zh, _en in names.values())  # offered when a ticket is logged


def test_the_two_buttons_log_and_keep_open_or_log_as_solved(agent_client, team):
    kept = agent_client.post(reverse("tickets:create"), _form(team, subject="保持打开", after="open"))
    assert kept.status_code == 302 and Ticket.objects.get(subject="保持打开").status == "open"

    solved = _form(team, subject="当场解决", after="solved", resolution="指导客户重启后恢复")
    assert agent_client.post(reverse("tickets:create"), solved).status_code == 302
    assert Ticket.objects.get(subject="当场解决").status == "resolved"

    unexplained = agent_client.post(reverse("tickets:create"), _form(team, subject="没写方案", after="solved"))
    contradicted = agent_client.post(
        reverse("tickets:create"), _form(team, subject="写了方案", after="open", resolution="已解决")
    )
    assert unexplained.status_code == contradicted.status_code == 400
    assert not Ticket.objects.filter(subject__in=["没写方案", "写了方案"]).exists()
    assert "写了方案" in contradicted.content.decode()  # what was typed stays
