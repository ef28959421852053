"""Bulk actions from the queue: each ticket through its own service, refusals explained."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import make_ticket
from tickets import services
from tickets.models import Status

pytestmark = pytest.mark.django_db


def _messages(response) -> str:
    return " ".join(str(m) for m in response.context["messages"]) if response.context else ""


def test_ten_tickets_are_assigned_at_once(agent_client, team, agent, colleague):
    tickets = [make_ticket(team=team, by=agent, subject=f"批量 {n}") for n in range(10)]
    response = agent_client.post(
        reverse("tickets:bulk"),
        {"action": "assign", "assignee": colleague.username, "tickets": [t.pk for t in tickets], "query": "view=all"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/tickets/?view=all"
    assert {t.assignee_id for t in type(tickets[0]).objects.filter(pk__in=[t.pk for t in tickets])} == {colleague.pk}
    assert "10" in _messages(response)


def test_what_a_ticket_refuses_is_listed_and_the_others_are_done(agent_client, team, agent, other_ticket):
    open_one = make_ticket(team=team, by=agent, subject="可以解决")
    closed = make_ticket(team=team, by=agent, subject="已经解决")
    services.resolve_ticket(ticket=closed, by=agent, note="ok")

    response = agent_client.post(
        reverse("tickets:bulk"),
        {"action": "resolve", "note": "批量处理：已电话确认", "tickets": [open_one.pk, closed.pk, other_ticket.pk]},
        follow=True,
    )

    open_one.refresh_from_db()
    other_ticket.refresh_from_db()
    assert open_one.status == Status.RESOLVED and other_ticket.status != Status.RESOLVED
    said = _messages(response)
    assert closed.reference in said and f"#{other_ticket.pk}" in said and other_ticket.reference not in said


def test_a_bulk_action_without_what_it_needs_changes_nothing(agent_client, team, agent):
    ticket = make_ticket(team=team, by=agent)
    for data in ({"action": "resolve", "tickets": [ticket.pk]}, {"action": "priority", "tickets": [ticket.pk]},
                 {"action": "assign"}):  # fmt: skip
        response = agent_client.post(reverse("tickets:bulk"), data, follow=True)
        assert response.status_code == 200 and _messages(response)
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW and ticket.priority == "normal"
