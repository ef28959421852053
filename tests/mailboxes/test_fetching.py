"""Reading a real IMAP server (Dovecot over TLS, on loopback): each mail taken once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connections

from mailboxes import fetching
from mailboxes.models import InboundMessage, Outcome
from outbox.models import OutgoingEmail
from tests.mail_fixtures import eml
from tickets.models import Channel, Ticket

pytestmark = pytest.mark.django_db

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def test_a_chinese_outlook_mail_opens_a_ticket_with_its_photo_and_is_acknowledged(imap_mailbox, imap_account):
    arrived = dt.datetime(2026, 12, 1, 9, 12, 30, tzinfo=SHANGHAI)
    imap_account.deliver(eml("outlook_gb18030_photo.eml"), at=arrived)

    result = fetching.fetch(imap_mailbox)

    assert result.taken == 1 and result.outcomes == {Outcome.TICKET: 1}
    ticket = Ticket.objects.get()
    assert ticket.subject == "洗衣机脱水时震动严重，请上门维修"
    assert ticket.channel == Channel.EMAIL and ticket.team == imap_mailbox.team
    assert ticket.requested_at == arrived  # the mail's arrival, not the time it was read
    assert "型号 XQG100" in ticket.description and "\ufffd" not in ticket.description
    assert ticket.customer.name == "李明" and ticket.customer.email == "li.ming@example.cn"
    assert ticket.customer.preferred_language == "zh-hans"
    assert ticket.reply_address == "service@servicedesk.test"
    (photo,) = ticket.attachments.all()
    assert photo.name == "故障照片.jpg" and photo.content_type == "image/jpeg" and photo.is_image
    (ack,) = OutgoingEmail.objects.filter(kind="ticket_received")
    assert ack.to == "li.ming@example.cn" and ticket.reference in ack.subject
    assert ack.from_email == "service@servicedesk.test" and ack.language == "zh-hans"
    assert ack.in_reply_to == "<000001db43a1$6c2f1e30$448d5a90$@example.cn>"
    assert imap_account.seen() == [1]  # marked on the server as taken


def test_a_mail_read_twice_after_a_crash_or_by_two_workers_is_taken_once(imap_mailbox, imap_account):
    imap_account.deliver(eml("outlook_gb18030_photo.eml"))
    imap_account.deliver(eml("html_attachment_script.eml"))
    assert fetching.fetch(imap_mailbox).taken == 2

    # A crash after the tickets committed but before the mailbox remembered how far it read.
    type(imap_mailbox).objects.filter(pk=imap_mailbox.pk).update(last_uid=0)
    again = fetching.fetch(imap_mailbox)

    assert again.taken == 2  # read again from the server …
    assert Ticket.objects.count() == 2 and InboundMessage.objects.count() == 2  # … and nothing doubled
    assert OutgoingEmail.objects.filter(kind="ticket_received").count() == 2


def test_a_mailbox_being_read_by_another_worker_is_skipped(imap_mailbox, imap_account):
    imap_account.deliver(eml("outlook_gb18030_photo.eml"))
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [fetching.LOCK_KEY, imap_mailbox.pk])
        assert fetching.fetch(imap_mailbox).skipped
        assert not Ticket.objects.exists()
    finally:
        other.close()
    assert fetching.fetch(imap_mailbox).taken == 1


def test_a_30_mb_attachment_is_not_kept_but_the_ticket_opens_and_says_so(imap_mailbox, imap_account, settings):
    from email import message_from_bytes, policy

    message = message_from_bytes(eml("outlook_gb18030_photo.eml"), policy=policy.default)
    message.add_attachment(b"\x50\x4b\x03\x04" + b"\x00" * (30 * 1024 * 1024), maintype="application",
                           subtype="zip", filename="整机日志.zip")  # fmt: skip
    imap_account.deliver(message.as_bytes())

    assert fetching.fetch(imap_mailbox).outcomes == {Outcome.TICKET: 1}

    ticket = Ticket.objects.get()
    assert [a.name for a in ticket.attachments.all()] == ["故障照片.jpg"]
    note = ticket.events.get(kind="note")
    assert "整机日志.zip" in note.body and "30.0 MB" in note.body


def test_a_failing_server_is_recorded_on_the_mailbox_and_the_others_are_read(imap_mailbox, mailbox, imap_account):
    imap_mailbox.password = "wrong"
    imap_mailbox.save()
    assert fetching.fetch_all() == {}
    imap_mailbox.refresh_from_db()
    assert "LoginError" in imap_mailbox.last_error or "authentication" in imap_mailbox.last_error.lower()
    assert "wrong" not in imap_mailbox.last_error


def test_the_command_reads_the_mailboxes_and_sums_up(imap_mailbox, imap_account):
    from io import StringIO

    from django.core.management import call_command

    imap_account.deliver(eml("outlook_gb18030_photo.eml"))
    imap_account.deliver(eml("auto_reply.eml"))
    out = StringIO()
    call_command("fetch_mail", stdout=out)
    printed = out.getvalue()
    assert "2/2 mails taken" in printed and "2 taken (auto 1, ticket 1)" in printed and "2 mails in" in printed


def test_a_mailbox_without_tls_is_read_only_on_this_machine(mailbox):
    from django.core.exceptions import ValidationError

    from mailboxes.models import Security

    mailbox.security, mailbox.host = Security.NONE, "imap.example.com"
    with pytest.raises(ValidationError):
        fetching.connect(mailbox)
