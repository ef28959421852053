"""The tickets REST API as another system (CRM, phone system) uses it."""

from __future__ import annotations

from datetime import timedelta

import pytest
import yaml
from django.utils import timezone
from openapi_spec_validator import validate
from rest_framework.test import APIClient

from tests.factories import CustomerFactory, make_ticket
from tickets.calendars import calendar_for
from tickets.models import Customer, EventKind, Ticket
from tickets.worktime import add_working_time

pytestmark = pytest.mark.django_db

TICKET_FIELDS = {
    "id", "reference", "subject", "description", "customer", "product", "serial_number", "category", "channel",
    "priority", "status", "team", "assignee", "requested_at", "first_response_at", "resolved_at", "closed_at",
    "response_due_at", "resolution_due_at", "reopen_count", "reassign_count", "created_at", "updated_at",
}  # fmt: skip


def _new(for_team, **overrides):
    body = {
        "subject": "洗衣机漏水",
        "description": "来自 CRM",
        "customer": {"name": "韩梅梅", "email": "han@example.com", "phone": "13700000000"},
        "category": "repair",
        "channel": "web",
        "priority": "high",
        "team": for_team.pk,
        "requested_at": (timezone.now() - timedelta(hours=1)).isoformat(),
    }
    body.update(overrides)
    return body


def test_the_whole_flow_token_create_list_read_reply_assign_resolve_close_reopen(agent, colleague, team):
    client = APIClient()
    response = client.post("/api/auth/token/", {"username": "alice", "password": "correct horse battery staple"})
    assert response.status_code == 200
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")

    created = client.post("/api/tickets/", _new(team), format="json")
    assert created.status_code == 201, created.json()
    ticket = created.json()
    assert set(ticket) >= TICKET_FIELDS
    assert ticket["customer"] == {"name": "韩梅梅", "email": "han@example.com", "phone": "13700000000"}
    assert ticket["status"] == "new" and ticket["category"] == "repair" and ticket["team"] == team.pk
    assert ticket["reference"].startswith("SR-")
    assert "+" in ticket["requested_at"] or ticket["requested_at"].endswith("Z")  # ISO 8601 with offset
    pk = ticket["id"]

    listed = client.get("/api/tickets/", {"priority": "high", "q": "韩梅梅"}).json()
    assert [t["id"] for t in listed["results"]] == [pk] and "next" in listed
    assert client.get("/api/tickets/", {"priority": "low"}).json()["results"] == []

    assert client.get(f"/api/tickets/{pk}/").json()["subject"] == "洗衣机漏水"

    replied = client.post(f"/api/tickets/{pk}/replies/", {"body": "已安排师傅"}, format="json").json()
    assert replied["first_response_at"] and replied["status"] == "open"
    noted = client.post(f"/api/tickets/{pk}/replies/", {"body": "内部备注", "internal": True}, format="json")
    assert noted.status_code == 200

    assigned = client.post(f"/api/tickets/{pk}/assign/", {"assignee": "bob"}, format="json").json()
    assert assigned["assignee"] == "bob"
    resolved = client.post(f"/api/tickets/{pk}/resolve/", {"note": "更换进水阀"}, format="json").json()
    assert resolved["status"] == "resolved" and resolved["resolved_at"]
    closed = client.post(f"/api/tickets/{pk}/close/", {}, format="json").json()
    assert closed["status"] == "closed" and closed["closed_at"]
    reopened = client.post(f"/api/tickets/{pk}/reopen/", {"reason": "又漏水"}, format="json").json()
    assert reopened["status"] == "open" and reopened["reopen_count"] == 1

    kinds = list(Ticket.objects.get(pk=pk).events.values_list("kind", flat=True))
    # the agent's reply took the unassigned ticket; then it went to bob
    assert kinds == ["created", "assigned", "reply", "note", "assigned", "resolved", "closed", "reopened"]


def test_a_create_retried_with_the_same_idempotency_key_makes_one_ticket(api, team, outsider, other_team):
    body = _new(team)
    first = api.post("/api/tickets/", body, format="json", HTTP_IDEMPOTENCY_KEY="crm-42")
    second = api.post("/api/tickets/", body, format="json", HTTP_IDEMPOTENCY_KEY="crm-42")
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"] and Ticket.objects.count() == 1
    # Keys belong to their user: another user's same key is a new ticket, never theirs.
    other = APIClient()
    other.force_authenticate(outsider)
    response = other.post("/api/tickets/", _new(other_team), format="json", HTTP_IDEMPOTENCY_KEY="crm-42")
    assert response.status_code == 201 and response.json()["id"] != first.json()["id"]


def test_a_customer_is_matched_by_email(api, team):
    known = CustomerFactory(email="han@example.com")
    api.post("/api/tickets/", _new(team), format="json")
    assert Ticket.objects.get().customer == known
    assert Customer.objects.count() == 1


def test_patch_updates_fields_and_recomputes_sla(api, ticket):
    response = api.patch(f"/api/tickets/{ticket.pk}/", {"priority": "urgent", "labour_cost": "120.50"}, format="json")
    assert response.status_code == 200, response.json()
    ticket.refresh_from_db()
    assert ticket.resolution_due_at == add_working_time(ticket.requested_at, timedelta(hours=8), calendar_for(ticket))
    assert str(ticket.labour_cost) == "120.50"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"subject": ""}, "subject"),
        ({"subject": "x" * 100_000}, "subject"),
        ({"customer": {"name": "x", "email": "not-an-email"}}, "customer"),
        ({"customer": {"name": "x"}}, "customer"),
        ({"category": "unknown"}, "category"),
        ({"team": 999999}, "team"),
        ({"assignee": "nobody"}, "assignee"),
        ({"category": "repair\x00"}, "category"),  # PostgreSQL cannot compare a NUL: a 400, not a 500
        ({"assignee": "alice\x00"}, "assignee"),
        ({"subject": "空调\x00不制冷"}, "subject"),
        ({"channel": "pigeon"}, "channel"),
        ({"priority": "whenever"}, "priority"),
        ({"requested_at": "2999-01-01T00:00:00+08:00"}, "requested_at"),
        ({"requested_at": "yesterday"}, "requested_at"),
    ],
)
def test_bad_input_gets_400_with_field_errors_and_creates_nothing(api, team, overrides, field):
    response = api.post("/api/tickets/", _new(team, **overrides), format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert Ticket.objects.count() == 0 and Customer.objects.count() == 0


def test_an_assignee_outside_the_team_is_a_field_error(api, team, outsider):
    response = api.post("/api/tickets/", _new(team, assignee=outsider.username), format="json")
    assert response.status_code == 400 and "assignee" in response.json()


@pytest.mark.parametrize(
    ("action", "body"),
    [("close", {}), ("reopen", {"reason": "x"})],
)
def test_illegal_transitions_are_400_and_change_nothing(api, ticket, action, body):
    response = api.post(f"/api/tickets/{ticket.pk}/{action}/", body, format="json")
    assert response.status_code == 400
    assert "non_field_errors" in response.json()
    ticket.refresh_from_db()
    assert ticket.status == "new" and ticket.events.count() == 1


def test_resolving_twice_is_400(api, ticket):
    assert api.post(f"/api/tickets/{ticket.pk}/resolve/", {"note": "ok"}, format="json").status_code == 200
    assert api.post(f"/api/tickets/{ticket.pk}/resolve/", {"note": "ok"}, format="json").status_code == 400


def test_a_client_retry_with_the_same_idempotency_key_replies_once(api, ticket):
    for _ in range(2):
        response = api.post(
            f"/api/tickets/{ticket.pk}/replies/", {"body": "retry"}, format="json", HTTP_IDEMPOTENCY_KEY="r-1"
        )
        assert response.status_code == 200
    assert ticket.events.filter(kind=EventKind.REPLY).count() == 1


ENDPOINTS = [
    ("get", "/api/tickets/{pk}/", None),
    ("patch", "/api/tickets/{pk}/", {"subject": "stolen"}),
    ("post", "/api/tickets/{pk}/replies/", {"body": "x"}),
    ("post", "/api/tickets/{pk}/assign/", {"assignee": "mallory"}),
    ("post", "/api/tickets/{pk}/pending/", {}),
    ("post", "/api/tickets/{pk}/resolve/", {"note": "x"}),
    ("post", "/api/tickets/{pk}/close/", {}),
    ("post", "/api/tickets/{pk}/reopen/", {"reason": "x"}),
]


@pytest.mark.parametrize(("method", "url", "body"), ENDPOINTS)
def test_another_teams_agent_gets_404_on_every_endpoint(outsider, ticket, method, url, body):
    client = APIClient()
    client.force_authenticate(outsider)
    response = getattr(client, method)(url.format(pk=ticket.pk), body, format="json")
    assert response.status_code == 404
    ticket.refresh_from_db()
    assert ticket.subject != "stolen" and ticket.events.count() == 1


@pytest.mark.parametrize(("method", "url", "body"), [*ENDPOINTS, ("get", "/api/tickets/", None)])
def test_anonymous_clients_get_401(ticket, method, url, body):
    response = getattr(APIClient(), method)(url.format(pk=ticket.pk), body, format="json")
    assert response.status_code == 401


def test_the_list_does_not_show_other_teams_tickets(api, ticket, other_ticket):
    ids = [t["id"] for t in api.get("/api/tickets/").json()["results"]]
    assert ids == [ticket.pk]


def test_a_wrong_password_gets_no_token(agent):
    response = APIClient().post("/api/auth/token/", {"username": "alice", "password": "wrong"})
    assert response.status_code == 400 and "token" not in response.json()


def test_the_openapi_schema_is_served_to_a_signed_in_user_and_valid(client, agent):
    assert client.get("/api/schema/").status_code in (401, 403)  # nothing for an anonymous visitor
    client.force_login(agent)
    response = client.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    validate(schema)
    assert schema["openapi"].startswith("3.")
    for path in ("/api/tickets/", "/api/tickets/{id}/", "/api/tickets/{id}/replies/", "/api/auth/token/"):
        assert path in schema["paths"], path


class TestStrictInput:
    """What the API cannot take is refused with the field named, and nothing is stored."""

    @pytest.fixture
    def api(self, api):
        api.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
        return api

    def test_unknown_keys_are_refused_by_name(self, api, team):
        body = _new(team, **{f"extra{i}": "x" for i in range(5000)})
        response = api.post("/api/tickets/", body, format="json")
        assert response.status_code == 400
        errors = response.json()
        assert errors["extra0"] == ["Unknown field."] and "4980 more unknown fields." in errors["non_field_errors"][0]
        assert not Ticket.objects.exists() and not Customer.objects.exists()

    def test_a_misspelt_nested_customer_key_is_refused(self, api, team):
        body = _new(team, customer={"name": "韩梅梅", "emial": "han@example.com", "phone": "137"})
        response = api.post("/api/tickets/", body, format="json")
        assert response.status_code == 400 and response.json()["customer"]["emial"] == ["Unknown field."]
        assert not Ticket.objects.exists()

    def test_a_time_without_its_offset_is_refused(self, api, team):
        response = api.post("/api/tickets/", _new(team, requested_at="2026-01-02T10:00:00"), format="json")
        assert response.status_code == 400 and "offset" in response.json()["requested_at"][0]
        assert not Ticket.objects.exists()

    @pytest.mark.parametrize("field", ["status", "reference", "resolved_at", "reopen_count"])
    def test_a_read_only_field_in_an_update_is_refused_and_nothing_changes(self, api, ticket, field):
        before = Ticket.objects.filter(pk=ticket.pk).values().get()
        response = api.patch(f"/api/tickets/{ticket.pk}/", {"subject": "新标题", field: "closed"}, format="json")
        assert response.status_code == 400 and response.json()[field] == ["This field is read-only."]
        assert Ticket.objects.filter(pk=ticket.pk).values().get() == before

    def test_an_action_takes_only_its_own_fields(self, api, ticket):
        response = api.post(f"/api/tickets/{ticket.pk}/resolve/", {"note": "修好了", "status": "closed"}, format="json")
        assert response.status_code == 400 and response.json()["status"] == ["This field is read-only."]
        ticket.refresh_from_db()
        assert ticket.status == "new"


class TestIdempotencyKeys:
    """A key is the client's own and names one request (payment APIs work this way)."""

    def test_a_retry_gets_the_first_answer_and_acts_once(self, api, ticket):
        first = api.post(
            f"/api/tickets/{ticket.pk}/replies/", {"body": "已派工"}, format="json", HTTP_IDEMPOTENCY_KEY="r1"
        )
        again = api.post(
            f"/api/tickets/{ticket.pk}/replies/", {"body": "已派工"}, format="json", HTTP_IDEMPOTENCY_KEY="r1"
        )
        assert first.status_code == again.status_code == 200 and first.json() == again.json()
        assert ticket.events.filter(kind=EventKind.REPLY).count() == 1

    def test_the_same_key_for_another_action_is_a_conflict_and_does_nothing(self, api, ticket):
        resolved = api.post(f"/api/tickets/{ticket.pk}/resolve/", {"note": "修好了"}, format="json",
                            HTTP_IDEMPOTENCY_KEY="k")  # fmt: skip
        assert resolved.status_code == 200
        closed = api.post(f"/api/tickets/{ticket.pk}/close/", {"note": ""}, format="json", HTTP_IDEMPOTENCY_KEY="k")
        assert closed.status_code == 409 and "resolve" in closed.json()["detail"]
        ticket.refresh_from_db()
        assert ticket.status == "resolved"
        # A fresh key closes it.
        assert (
            api.post(f"/api/tickets/{ticket.pk}/close/", {}, format="json", HTTP_IDEMPOTENCY_KEY="k2").json()["status"]
            == "closed"
        )

    def test_the_same_key_with_another_body_or_ticket_is_a_conflict(self, api, ticket, team, agent):
        other = make_ticket(team=team, by=agent)
        api.post(f"/api/tickets/{ticket.pk}/replies/", {"body": "一"}, format="json", HTTP_IDEMPOTENCY_KEY="same")
        changed = api.post(
            f"/api/tickets/{ticket.pk}/replies/", {"body": "二"}, format="json", HTTP_IDEMPOTENCY_KEY="same"
        )
        elsewhere = api.post(f"/api/tickets/{other.pk}/replies/", {"body": "一"}, format="json",
                             HTTP_IDEMPOTENCY_KEY="same")  # fmt: skip
        assert changed.status_code == elsewhere.status_code == 409
        assert ticket.events.filter(kind=EventKind.REPLY).count() == 1
        assert not other.events.filter(kind=EventKind.REPLY).exists()

    def test_keys_are_per_client(self, api, ticket, colleague):
        api.post(f"/api/tickets/{ticket.pk}/replies/", {"body": "一"}, format="json", HTTP_IDEMPOTENCY_KEY="mine")
        theirs = APIClient()
        theirs.force_authenticate(colleague)
        response = theirs.post(f"/api/tickets/{ticket.pk}/replies/", {"body": "二"}, format="json",
                               HTTP_IDEMPOTENCY_KEY="mine")  # fmt: skip
        assert response.status_code == 200
        assert ticket.events.filter(kind=EventKind.REPLY).count() == 2

    def test_a_refused_request_is_not_remembered(self, api, ticket):
        refused = api.post(f"/api/tickets/{ticket.pk}/close/", {}, format="json", HTTP_IDEMPOTENCY_KEY="early")
        assert refused.status_code == 400  # not resolved yet
        api.post(f"/api/tickets/{ticket.pk}/resolve/", {"note": "好了"}, format="json")
        assert (
            api.post(f"/api/tickets/{ticket.pk}/close/", {}, format="json", HTTP_IDEMPOTENCY_KEY="early").status_code
            == 200
        )


def test_an_update_from_a_stale_read_is_refused_with_412_and_nothing_changes(api, ticket, agent):
    from tickets import services

    read = api.get(f"/api/tickets/{ticket.pk}/")
    etag = read["ETag"]
    services.update_ticket(ticket=ticket, by=agent, subject="另一位客服改的标题")  # meanwhile
    stale = api.patch(f"/api/tickets/{ticket.pk}/", {"subject": "我的标题"}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412 and stale.json()["detail"]
    ticket.refresh_from_db()
    assert ticket.subject == "另一位客服改的标题"
    fresh = api.get(f"/api/tickets/{ticket.pk}/")["ETag"]
    assert fresh != etag
    done = api.patch(f"/api/tickets/{ticket.pk}/", {"subject": "我的标题"}, format="json", HTTP_IF_MATCH=fresh)
    assert done.status_code == 200 and done.json()["subject"] == "我的标题" and done["ETag"] != fresh
    assert (
        api.patch(f"/api/tickets/{ticket.pk}/", {"priority": "high"}, format="json").status_code == 200
    )  # no If-Match


def test_the_list_pages_by_cursor_by_default_and_by_number_when_asked(api, team, agent):
    made = [make_ticket(team=team, by=agent, subject=f"第 {n} 张") for n in range(55)]
    first = api.get("/api/tickets/").json()
    assert len(first["results"]) == 50 and "count" not in first and "cursor=" in first["next"]
    second = api.get(first["next"]).json()
    seen = [t["id"] for t in first["results"] + second["results"]]
    assert sorted(seen) == sorted(t.pk for t in made) and second["next"] is None  # each once, none left out

    numbered = api.get("/api/tickets/", {"page": 2}).json()
    assert numbered["count"] == 55 and len(numbered["results"]) == 5
    assert api.get("/api/tickets/", {"cursor": "not-a-cursor"}).status_code == 404
