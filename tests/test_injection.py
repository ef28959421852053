"""Hostile text in every field an agent or a customer types: stored as typed, shown inert everywhere.

HTML and script, SQL fragments, spreadsheet formula prefixes and characters outside the Basic
Multilingual Plane go in through the forms; they come back exactly as typed from the database and
escaped in the pages and the e-mails. Text longer than a field allows is refused with a message
and stores nothing.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils.html import escape

from outbox.models import OutgoingEmail
from tickets.models import Customer, Ticket

pytestmark = pytest.mark.django_db

SCRIPT = '<script>alert("x")</script><img src=x onerror=alert(1)>'
SQL = "'; DROP TABLE tickets_ticket; --"
FORMULA = '=HYPERLINK("http://evil.example","点我")'
ASTRAL = "𠮷野家 🧯 ﷽"

FIELDS = {
    "customer_name": f"{SCRIPT} 王{ASTRAL}",
    "customer_phone": "+86 138-0000-0000",
    "subject": f"{FORMULA} {SQL}",
    "description": f"{SCRIPT}\n{SQL}\n{FORMULA}\n{ASTRAL}",
    "product": f"@SUM(A1:A9) {SCRIPT}",
    "serial_number": "-2+3 <b>SN</b>",
}


def _create(client, team, **extra):
    data = {**FIELDS, "customer_email": "wang@example.com", "customer_language": "zh-hans",
            "category": 1, "channel": "phone", "priority": "normal", "team": team.pk, **extra}  # fmt: skip
    from tickets.models import Category

    data["category"] = Category.objects.get(slug="repair").pk
    return client.post(reverse("tickets:create"), data)


def _assert_inert(html: str) -> None:
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>SN</b>" not in html
    assert "&lt;script&gt;alert(" in html


def test_hostile_text_is_stored_as_typed_and_shown_escaped(agent_client, team, agent):
    response = _create(agent_client, team)
    assert response.status_code == 302, response.content.decode()[:2000]
    ticket = Ticket.objects.get()
    assert (ticket.subject, ticket.description, ticket.product, ticket.serial_number) == (
        FIELDS["subject"], FIELDS["description"], FIELDS["product"], FIELDS["serial_number"]
    )  # fmt: skip
    assert Customer.objects.get().name == FIELDS["customer_name"]
    assert Ticket.objects.count() == 1  # the SQL fragment was data, not a statement

    detail = agent_client.get(reverse("tickets:detail", args=[ticket.pk])).content.decode()
    _assert_inert(detail)
    assert ASTRAL in detail and "=HYPERLINK(&quot;" in detail
    _assert_inert(agent_client.get(reverse("tickets:list"), {"view": "all"}).content.decode())  # the customer's name
    assert SCRIPT not in agent_client.get(reverse("tickets:list"), {"q": "王"}).content.decode()


def test_a_hostile_public_reply_reaches_the_customer_inert(agent_client, team, agent):
    _create(agent_client, team)
    ticket = Ticket.objects.get()
    agent_client.post(reverse("tickets:reply", args=[ticket.pk]), {"body": f"{SCRIPT} {FORMULA}", "form_key": "k1"})
    email = OutgoingEmail.objects.get(kind="ticket_reply")
    assert SCRIPT in email.body_text  # plain text carries it as typed
    _assert_inert(email.body_html)
    assert "<script>" not in email.subject


def test_text_longer_than_a_field_is_refused_and_nothing_is_stored(agent_client, team):
    response = _create(agent_client, team, subject="长" * 201, description="x" * 20001)
    assert response.status_code == 400
    page = response.content.decode()
    assert "200" in page and "20000" in page  # each field says its limit
    assert escape(FIELDS["product"]) in page  # what was typed is kept, escaped
    assert not Ticket.objects.exists() and not Customer.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "/dashboard/agents/alice%00/",
        "/tickets/?q=%E7%A9%BA%00%E8%B0%83",
        "/tickets/?category=repair%00",
        "/tickets/?assignee=alice%00",
        "/api/tickets/?q=a%00b",
        "/api/tickets/?category=repair%00",
        "/api/kpis/?kpi=csat%00",
        "/s/token%00/",
    ],
)
def test_a_nul_character_in_an_address_or_a_filter_is_answered_not_a_server_error(client, manager, url):
    """PostgreSQL can neither store nor compare a NUL character: it must never reach a query."""
    client.force_login(manager)
    response = client.get(url)
    assert response.status_code < 500, (url, response.status_code)
