"""Every route that names an object, walked as everyone who must not reach it.

The routes come from the URL configuration itself: a new route with an object in its
path fails ``test_every_route_with_an_object_is_walked`` until it is given its object
here, so none can be forgotten. For each one, an agent of another team, a visitor who is
not logged in and a customer holding a survey link for another ticket get exactly what
they would get for an object that does not exist — 404 for the agent, the login page
(HTML) or 401 (API) for the others — never a 403 that confirms the object is there.
"""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from surveys import services as survey_services
from tests.factories import CustomerFactory, make_ticket
from tickets import services as ticket_services

pytestmark = pytest.mark.django_db

#: Namespaces with an access model of their own: the admin lets staff in through its own
#: login page, and set_language names no object.
NOT_WALKED = {"admin", "i18n"}
#: Routes whose object is named by a secret of their own, not by an id a user could try:
#: Django's password-reset link (tests/test_accounts.py).
NOT_WALKED_ROUTES = {"password_reset_confirm"}
MISSING = 987_654_321


def _routes(patterns=None, prefix="", namespace=""):
    """(path template, full name, converters) of every route, depth first."""
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            space = ":".join(filter(None, [namespace, entry.namespace]))
            if (entry.namespace or "") in NOT_WALKED or str(entry.pattern).startswith("admin/"):
                continue
            if str(entry.pattern) == "i18n/":
                continue
            yield from _routes(entry.url_patterns, route, space)
        elif isinstance(entry, URLPattern):
            name = ":".join(filter(None, [namespace, entry.name]))
            yield route, name, dict(entry.pattern.converters)


OBJECT_ROUTES = [(route, name) for route, name, converters in _routes() if converters and name not in NOT_WALKED_ROUTES]


def _kind(name: str, parameter: str) -> str:
    """Which object a route's parameter names."""
    if parameter in ("table", "fmt"):
        return parameter
    if parameter == "username":
        return "agent"
    if parameter == "token":
        return "token"
    if parameter == "attachment_pk":
        return "attachment"
    if parameter == "event_pk":
        return "event"
    if name.startswith("mailboxes:"):
        return "mail"
    if parameter == "ticket_pk" or name.startswith(("tickets:", "api-ticket", "survey_results:call")):
        return "ticket"
    if name.startswith(("complaints:", "api-complaint")):
        return "complaint"
    if name.startswith("outbox:"):
        return "outbox"
    raise LookupError(f"{name}: no object is known for <{parameter}>; add the route to the authorization walk")


@pytest.fixture
def objects(team, agent, other_team, outsider):
    """Team A's ticket, complaint, survey link and e-mail; the walkers belong elsewhere."""
    customer = CustomerFactory(email="li.lei@example.com")
    ticket = make_ticket(team=team, by=agent, assignee=agent, customer=customer, category="complaint")
    ticket_services.add_reply(ticket=ticket, by=agent, body="我们马上处理")
    ticket = ticket_services.resolve_ticket(ticket=ticket, by=agent, note="已修复")
    invitation = ticket.survey
    from django.utils import timezone

    from mailboxes.models import InboundMessage, Mailbox, Outcome
    from outbox.models import OutgoingEmail
    from tickets.attachments import Upload

    ticket_services.add_note(ticket=ticket, by=agent, body="发票", attachments=[Upload.from_bytes("a.pdf", b"%PDF-1")])
    mailbox = Mailbox.objects.create(name="Support", address="service@example.com", host="imap.example.com",
                                     username="u", password="p", team=team, category=ticket.category)  # fmt: skip
    event = ticket.events.order_by("id").first()
    mail = InboundMessage.objects.create(
        mailbox=mailbox, message_id="<x@example.com>", sender="li.lei@example.com", received_at=timezone.now(),
        outcome=Outcome.HELD, ticket=ticket, event=event,
    )  # fmt: skip
    other_customer = CustomerFactory(email="han.meimei@example.com")
    other = make_ticket(team=other_team, by=outsider, customer=other_customer)
    other = ticket_services.resolve_ticket(ticket=other, by=outsider, note="ok")
    return {
        "ticket": ticket.pk,
        "complaint": ticket.complaint.pk,
        "agent": agent.username,
        "outbox": OutgoingEmail.objects.order_by("pk").first().pk,
        "attachment": ticket.attachments.get().pk,
        "mail": mail.pk,
        "event": event.pk,
        "token": survey_services.token_for(invitation.nonce),
        "other_token": survey_services.token_for(other.survey.nonce),
        "table": "summary",
        "fmt": "csv",
    }


def _path(route: str, values: dict) -> str:
    path = route
    for parameter, value in values.items():
        for converter in ("int", "str", "slug", "path", "uuid"):
            path = path.replace(f"<{converter}:{parameter}>", str(value))
        path = path.replace(f"<{parameter}>", str(value))
    return "/" + path


def _paths(route: str, name: str, objects: dict) -> tuple[str, str]:
    """The route for team A's object, and for one that does not exist."""
    real, missing = {}, {}
    for parameter in get_converters(route):
        kind = _kind(name, parameter)
        real[parameter] = objects[kind]
        missing[parameter] = {"agent": "nobody-here", "token": objects["token"][:-4] + "AAAA"}.get(
            kind, objects[kind] if kind in ("table", "fmt") else MISSING
        )
    return _path(route, real), _path(route, missing)


def get_converters(route: str) -> list[str]:
    import re

    return [match.split(":")[-1] for match in re.findall(r"<([^>]+)>", route)]


def test_every_route_with_an_object_is_walked(objects):
    assert len(OBJECT_ROUTES) >= 25, OBJECT_ROUTES  # tickets, complaints, scorecards, exports, surveys, API
    for route, name in OBJECT_ROUTES:
        for parameter in get_converters(route):
            assert _kind(name, parameter)


def _is_api(route: str) -> bool:
    return route.startswith("api/")


@pytest.mark.parametrize("method", ["get", "post", "patch"])
def test_an_agent_of_another_team_gets_what_a_missing_object_gets(objects, outsider, client, method):
    api = APIClient()
    api.force_authenticate(outsider)
    client.force_login(outsider)
    walked = 0
    for route, name in OBJECT_ROUTES:
        if name == "surveys:answer":
            continue  # a survey link needs no login; see the token walk
        real, missing = _paths(route, name, objects)
        caller = api if _is_api(route) else client
        send = getattr(caller, method)
        answer, control = send(real), send(missing)
        assert answer.status_code == control.status_code, (method, real, answer.status_code, control.status_code)
        assert answer.status_code in (404, 405), (method, real, answer.status_code)
        walked += answer.status_code == 404
    assert walked >= {"get": 7, "post": 20, "patch": 1}[method]  # PATCH: the ticket API


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_visitor_who_is_not_logged_in_is_sent_to_log_in_whatever_the_object(objects, client, method):
    api = APIClient()
    for route, name in OBJECT_ROUTES:
        if name == "surveys:answer":
            continue
        real, missing = _paths(route, name, objects)
        if _is_api(route):
            answer, control = getattr(api, method)(real), getattr(api, method)(missing)
            assert answer.status_code == control.status_code == 401, (method, real, answer.status_code)
        else:
            answer, control = getattr(client, method)(real), getattr(client, method)(missing)
            assert answer.status_code == control.status_code, (method, real)
            if answer.status_code == 302:
                assert answer.url.startswith("/accounts/login/"), (real, answer.url)
            else:
                assert answer.status_code in (404, 405), (method, real, answer.status_code)


def test_a_survey_link_opens_its_own_survey_and_nothing_else(objects, client):
    own = client.get(f"/s/{objects['other_token']}/")
    assert own.status_code == 200  # the customer of team B's ticket, with their own link
    for route, name in OBJECT_ROUTES:
        if name == "surveys:answer":
            continue
        real, _missing = _paths(route, name, objects)
        answer = (APIClient() if _is_api(route) else client).get(real)
        assert answer.status_code in (302, 401, 404, 405), (real, answer.status_code)  # 405: POST-only routes
        if answer.status_code == 302:
            assert answer.url.startswith("/accounts/login/")
    forged = objects["token"][:-4] + ("AAAA" if not objects["token"].endswith("AAAA") else "BBBB")
    assert client.get(f"/s/{forged}/").status_code == 404
