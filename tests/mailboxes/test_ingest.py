"""One mail in, one decision: the real .eml fixtures through ``mailboxes.services.ingest``."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from mailboxes import services
from mailboxes.models import InboundMessage, Outcome
from outbox.models import OutgoingEmail
from tests.mail_fixtures import eml
from tickets import services as tickets
from tickets.models import EventKind, Status, Ticket

pytestmark = pytest.mark.django_db

DESK_REPLY_ID = "<desk-reply-1@servicedesk.test>"


@pytest.fixture
def answered(mailbox, agent):
    """Li Ming's e-mailed ticket, answered by the desk with the message the fixtures reply to."""
    services.ingest(mailbox, eml("outlook_gb18030_photo.eml"))
    ticket = Ticket.objects.get()
    tickets.add_reply(ticket=ticket, by=agent, body="A technician will visit you tomorrow morning.")
    OutgoingEmail.objects.filter(ticket=ticket, kind="ticket_reply").update(message_id=DESK_REPLY_ID)
    return ticket


def test_a_reply_joins_its_ticket_without_the_quoted_history_and_ends_the_wait(answered, mailbox, agent):
    tickets.mark_pending(ticket=answered, by=agent)

    record = services.ingest(mailbox, eml("gmail_reply_quoted.eml"))

    assert record.outcome == Outcome.MESSAGE and record.ticket == answered
    answered.refresh_from_db()
    assert answered.status == Status.OPEN and Ticket.objects.count() == 1
    message = answered.events.get(kind=EventKind.RECEIVED)
    assert message.body.startswith("The technician came this morning")
    assert "wrote:" not in message.body and "tomorrow morning between" not in message.body
    assert message.actor is None and message.after["from"] == "li.ming@example.cn"
    assert record.event == message


def test_the_desk_answers_the_customer_threaded_under_their_last_mail(answered, mailbox, agent):
    services.ingest(mailbox, eml("gmail_reply_quoted.eml"))
    tickets.add_reply(ticket=answered, by=agent, body="We will come again on Friday.")

    latest = OutgoingEmail.objects.filter(kind="ticket_reply").order_by("-id").first()
    assert latest.from_email == "service@servicedesk.test"
    assert latest.in_reply_to == "<CAF7aH2xYq+d1pZ=kT0u3-3nE1kQ@mail.gmail.com>"
    ack = OutgoingEmail.objects.get(kind="ticket_received").message_id
    assert latest.references == [  # the whole conversation, oldest first
        "<000001db43a1$6c2f1e30$448d5a90$@example.cn>", ack, DESK_REPLY_ID,
        "<CAF7aH2xYq+d1pZ=kT0u3-3nE1kQ@mail.gmail.com>",
    ]  # fmt: skip


def test_a_reply_reopens_a_recently_resolved_ticket(answered, mailbox, agent):
    tickets.resolve_ticket(ticket=answered, by=agent, note="Drum bearing replaced.")

    services.ingest(mailbox, eml("gmail_reply_quoted.eml"))

    answered.refresh_from_db()
    assert answered.status == Status.OPEN and answered.reopen_count == 1 and answered.resolved_at is None


def test_a_reply_after_the_reopening_window_opens_a_new_ticket_that_follows_the_old_one(answered, mailbox, agent):
    tickets.resolve_ticket(ticket=answered, by=agent, note="Drum bearing replaced.")
    Ticket.objects.filter(pk=answered.pk).update(resolved_at=timezone.now() - timedelta(days=mailbox.reopen_days + 1))

    record = services.ingest(mailbox, eml("gmail_reply_quoted.eml"))

    answered.refresh_from_db()
    assert answered.status == Status.RESOLVED and answered.reopen_count == 0
    follower = record.ticket
    assert record.outcome == Outcome.TICKET and follower != answered and follower.follows == answered
    assert follower.customer == answered.customer
    assert follower.events.get(kind=EventKind.CREATED).after["follows"] == answered.reference


def test_the_reference_in_the_subject_finds_the_ticket_only_for_its_customer(answered, mailbox):
    raw = eml("gmail_reply_quoted.eml").replace(b"In-Reply-To: <desk-reply-1@servicedesk.test>\r\n", b"")
    raw = raw.replace(b"References: <000001db43a1$6c2f1e30$448d5a90$@example.cn> <desk-reply-1@servicedesk.test>\r\n",
                      b"")  # fmt: skip
    raw = raw.replace(b"[SR-2026-000001]", f"[{answered.reference}]".encode())

    assert services.ingest(mailbox, raw).ticket == answered

    stranger = raw.replace(b"From: Li Ming <li.ming@example.cn>", b"From: Zhao <zhao@example.org>")
    stranger = stranger.replace(b"<CAF7aH2x", b"<other-CAF7aH2x")
    record = services.ingest(mailbox, stranger)
    assert record.outcome == Outcome.TICKET and record.ticket != answered  # a new request, not Li Ming's ticket


def test_a_forged_reply_is_held_never_posted_as_the_customer(answered, mailbox, agent_client):
    record = services.ingest(mailbox, eml("forged_reply.eml"))

    assert record.outcome == Outcome.HELD and record.ticket == answered
    assert not answered.events.filter(kind=EventKind.RECEIVED).exists()
    page = agent_client.get(reverse("tickets:detail", args=[answered.pk]))
    assert b"li.ming.support@example.net" in page.content  # the panel tells the agent

    response = agent_client.post(reverse("mailboxes:accept", args=[record.pk]))

    assert response.status_code == 302
    message = answered.events.get(kind=EventKind.RECEIVED)
    assert "bank account" in message.body and message.after["accepted_by"] == "alice"
    record.refresh_from_db()
    assert record.outcome == Outcome.MESSAGE and record.decided_by.username == "alice"
    page = agent_client.get(reverse("tickets:detail", args=[answered.pk]))
    assert "非客户本人地址；由 alice 放行" in page.content.decode()


def test_a_held_mail_can_be_rejected_and_then_nothing_else(answered, mailbox, agent_client):
    record = services.ingest(mailbox, eml("forged_reply.eml"))

    agent_client.post(reverse("mailboxes:reject", args=[record.pk]))
    again = agent_client.post(reverse("mailboxes:accept", args=[record.pk]))

    record.refresh_from_db()
    assert record.outcome == Outcome.REJECTED
    assert again.status_code == 302 and not answered.events.filter(kind=EventKind.RECEIVED).exists()


def test_another_teams_agent_cannot_see_or_decide_a_held_mail(answered, mailbox, client, outsider):
    record = services.ingest(mailbox, eml("forged_reply.eml"))
    client.force_login(outsider)

    assert client.get(reverse("mailboxes:message", args=[record.pk])).status_code == 404
    assert client.post(reverse("mailboxes:accept", args=[record.pk])).status_code == 404
    record.refresh_from_db()
    assert record.outcome == Outcome.HELD


@pytest.mark.parametrize(
    ("fixture", "outcome"), [("auto_reply.eml", Outcome.AUTO_REPLY), ("bounce.eml", Outcome.BOUNCE)]
)
def test_auto_replies_and_bounces_open_nothing_and_get_no_answer(answered, mailbox, fixture, outcome):
    sent = OutgoingEmail.objects.count()
    events = answered.events.count()

    record = services.ingest(mailbox, eml(fixture))

    assert record.outcome == outcome and record.ticket is None
    assert Ticket.objects.count() == 1 and answered.events.count() == events
    assert OutgoingEmail.objects.count() == sent


def test_the_desks_own_mail_coming_back_is_ignored(mailbox):
    raw = eml("forged_reply.eml").replace(b'"Li Ming" <li.ming.support@example.net>', b"<service@servicedesk.test>")
    assert services.ingest(mailbox, raw).outcome == Outcome.LOOP
    assert not Ticket.objects.exists()


def test_the_same_mail_twice_is_taken_once(mailbox):
    first = services.ingest(mailbox, eml("outlook_gb18030_photo.eml"))
    second = services.ingest(mailbox, eml("outlook_gb18030_photo.eml"))
    assert first == second and Ticket.objects.count() == 1 and InboundMessage.objects.count() == 1


def test_a_sender_opening_too_many_tickets_is_throttled_for_an_admin(mailbox, client, manager):
    mailbox.hourly_ticket_limit = 2
    mailbox.save()
    raw = eml("html_attachment_script.eml")
    for n in range(3):
        services.ingest(mailbox, raw.replace(b"<html-attachment-1@", f"<html-attachment-{n}-x@".encode()))

    assert Ticket.objects.count() == 2
    throttled = InboundMessage.objects.get(outcome=Outcome.THROTTLED)
    assert OutgoingEmail.objects.filter(kind="ticket_received").count() == 2  # no acknowledgement either
    client.force_login(manager)
    held = client.get(reverse("mailboxes:held")).content.decode()
    assert "chen@example.com.tw" in held

    client.post(reverse("mailboxes:accept", args=[throttled.pk]))
    assert Ticket.objects.count() == 3


def test_big5_text_and_an_html_or_svg_attachment_are_kept_as_downloads_only(mailbox, manager, client):
    record = services.ingest(mailbox, eml("html_attachment_script.eml"))
    ticket = record.ticket
    assert ticket.subject == "發票與保固卡" and "保固卡號 WC-889102" in ticket.description
    assert ticket.customer.name == "陳小姐"
    html, svg = ticket.attachments.order_by("id")
    assert (html.name, html.content_type, html.is_image) == ("invoice.html", "text/plain", False)
    assert (svg.name, svg.content_type, svg.is_image) == ("warranty.svg", "text/plain", False)

    client.force_login(manager)
    for attached in (html, svg):
        response = client.get(reverse("tickets:attachment", args=[ticket.pk, attached.pk]))
        assert response.status_code == 200
        assert response["Content-Type"] == "text/plain"
        assert response["Content-Disposition"].startswith("attachment")
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in response["Content-Security-Policy"]
        assert client.get(reverse("tickets:thumbnail", args=[ticket.pk, attached.pk])).status_code == 404


def test_an_html_mail_is_shown_sanitised_with_remote_pictures_held_back(mailbox, manager, client):
    record = services.ingest(mailbox, eml("outlook_gb18030_photo.eml"))
    client.force_login(manager)
    url = reverse("mailboxes:message", args=[record.pk])

    plain = client.get(url).content.decode()
    assert "型号 XQG100" in plain and "tracker.example.net" not in plain

    html = client.get(url + "?html=1")
    body = html.content.decode()
    assert "<style>" not in body and "color:red" not in body and "tracker.example.net" not in body
    assert "http:" not in html["Content-Security-Policy"]

    with_pictures = client.get(url + "?html=1&images=1")
    assert "http://tracker.example.net/open.gif" in with_pictures.content.decode()
    assert "http:" in with_pictures["Content-Security-Policy"]
