"""One mail in, one decision: a new ticket, a message on its ticket, held, or ignored.

``ingest`` is the only way a mail enters the desk (the IMAP fetch calls it for each message, the
tests and the benchmark too). It records the mail once per mailbox and Message-ID, whatever
happens around it, and acts through the ticket services:

- the desk's own mail coming back, a bounce, an auto-reply or list mail: recorded, nothing else;
- a mail answering the desk (``In-Reply-To``/``References`` naming a message of a ticket's
  conversation, or the ticket's reference in the subject from its customer): the customer's
  message on that ticket (``tickets.services.receive_message``: pending → open, a recent
  resolution reopened, an old one followed by a new ticket), if the sender is the customer or
  someone they copied in; any other sender's mail is held for an agent;
- anything else opens a ticket for the sender, unless they opened too many in the last hour.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from config.exceptions import ApplicationError
from mailboxes import parsing
from mailboxes.models import WAITING, InboundMessage, Mailbox, Outcome
from outbox.models import OutgoingEmail
from tickets import attachments as files
from tickets import services as tickets
from tickets.models import Channel, Ticket

if TYPE_CHECKING:
    from config.types import Actor

logger = logging.getLogger(__name__)

_CJK = re.compile(r"[\u3400-\u9fff]")
#: How many times a ticket's "followed by" chain is walked to find the one now in use.
FOLLOW_DEPTH = 10


def own_addresses() -> set[str]:
    """The desk's sending addresses: mail from them is the desk's own, coming back."""
    addresses = {address.lower() for address in Mailbox.objects.values_list("address", flat=True)}
    addresses.add(settings.DEFAULT_FROM_EMAIL.lower())
    return addresses


def _loop(mail: parsing.ParsedMail) -> bool:
    return mail.sender in own_addresses() or OutgoingEmail.objects.filter(message_id=mail.message_id).exists()


def _latest(ticket: Ticket) -> Ticket:
    """The ticket that took the conversation over when this one was too old to reopen."""
    for _step in range(FOLLOW_DEPTH):
        follower = Ticket.objects.filter(follows=ticket).order_by("-id").first()
        if follower is None:
            return ticket
        ticket = follower
    return ticket


def move_mail_on_merge(*, duplicate: Ticket, into: Ticket, by: Actor) -> None:
    """``tickets.hooks.ticket_merged``: the duplicate's mails go with its conversation — those held
    for an agent included, which are then let through onto the ticket it was merged into."""
    InboundMessage.objects.filter(ticket=duplicate).update(ticket=into)


def thread_ticket(mail: parsing.ParsedMail) -> Ticket | None:
    """The ticket this mail answers: found by the Message-IDs it names (a message the desk sent, or
    one it received), else by the reference in its subject when the sender may write on it."""
    ids = mail.thread_ids[:50]
    if ids:
        rank = {message_id: position for position, message_id in enumerate(ids)}
        candidates = [
            *OutgoingEmail.objects.filter(message_id__in=ids, ticket__isnull=False).values_list("message_id", "ticket"),
            *InboundMessage.objects.filter(message_id__in=ids, ticket__isnull=False).values_list(
                "message_id", "ticket"
            ),
        ]
        if candidates:
            _message_id, ticket_id = min(candidates, key=lambda pair: rank[pair[0]])
            ticket = Ticket.objects.select_related("customer").get(pk=ticket_id)
            return _latest(ticket)
    reference = parsing.ticket_reference(mail.subject)
    if reference:
        named = Ticket.objects.select_related("customer").filter(reference=reference).first()
        if named is not None and mail.sender in tickets.known_correspondents(named):
            return _latest(named)
    return None


def _uploads(mail: parsing.ParsedMail) -> tuple[list[files.Upload], list[str]]:
    """The attachments the desk keeps (within the limits, in order), and why others were not kept."""
    kept: list[files.Upload] = []
    dropped = []
    for part in mail.attachments:
        upload = files.Upload.from_bytes(part.name, part.data)
        reasons = files.too_large([*kept, upload])
        if reasons:
            dropped.append(" ".join(reasons))
        else:
            kept.append(upload)
    return kept, dropped


def _language(mail: parsing.ParsedMail) -> str:
    return "zh-hans" if _CJK.search(mail.subject + mail.text[:2000]) else "en"


def _note_dropped(ticket: Ticket, dropped: Sequence[str]) -> None:
    if dropped:
        with translation.override(settings.LANGUAGE_CODE):
            body = _("Attachments of the customer's e-mail that were not kept:") + "\n" + "\n".join(dropped)
        tickets.add_note(ticket=ticket, by=None, body=body)


def _cc(mailbox: Mailbox, mail: parsing.ParsedMail) -> list[str]:
    """Others the sender wrote to alongside the desk: they may answer on the ticket too."""
    own = own_addresses() | {mailbox.address.lower()}
    return [address for address in dict.fromkeys([*mail.to, *mail.cc]) if address not in own][:20]


def open_ticket(
    mailbox: Mailbox, mail: parsing.ParsedMail, received_at: datetime, follows: Ticket | None = None
) -> Ticket:
    """A ticket for the sender's mail: the customer found or created by address, requested when
    the mail arrived, its text and attachments; acknowledged when the mailbox says so."""
    customer = tickets.find_or_create_customer(
        name=mail.sender_name or mail.sender.split("@", 1)[0], email=mail.sender, language=_language(mail)
    )
    kept, dropped = _uploads(mail)
    subject = " ".join(mail.subject.split())[:200] or _("(no subject)")
    ticket = tickets.create_ticket(
        by=None,
        subject=subject,
        customer=customer,
        category=mailbox.category,
        channel=Channel.EMAIL,
        team=mailbox.team,
        priority=mailbox.priority,
        description=mail.text[:20000],
        requested_at=received_at,
        attachments=kept,
        reply_address=mailbox.address,
        follows=follows,
        message_id=mail.message_id,
        cc=_cc(mailbox, mail),
    )
    _note_dropped(ticket, dropped)
    if mailbox.acknowledge:
        tickets.acknowledge_request(ticket)
    return ticket


def post_to_ticket(
    mailbox: Mailbox,
    mail: parsing.ParsedMail,
    ticket: Ticket,
    received_at: datetime,
    accepted_by: Actor = None,
) -> tuple[Ticket, Outcome]:
    """The customer's answer on its ticket; on a new ticket following it when that one is too old to reopen."""
    kept, dropped = _uploads(mail)
    posted = tickets.receive_message(
        ticket=ticket,
        body=parsing.new_text(mail.text),
        at=received_at,
        message_id=mail.message_id,
        sender=mail.sender,
        cc=_cc(mailbox, mail),
        reopen_days=mailbox.reopen_days,
        attachments=kept,
        accepted_by=accepted_by,
    )
    if posted is None:
        return open_ticket(mailbox, mail, received_at, follows=ticket), Outcome.TICKET
    _note_dropped(posted, dropped)
    return posted, Outcome.MESSAGE


def _throttled(mailbox: Mailbox, sender: str, now: datetime) -> bool:
    opened = InboundMessage.objects.filter(
        sender=sender, outcome=Outcome.TICKET, created_at__gte=now - timedelta(hours=1)
    ).count()
    return opened >= mailbox.hourly_ticket_limit


def _decide(
    mailbox: Mailbox, mail: parsing.ParsedMail, received_at: datetime, now: datetime
) -> tuple[Outcome, str, Ticket | None]:
    if not mail.sender:
        return Outcome.AUTO_REPLY, "no sender address", None
    if _loop(mail):
        return Outcome.LOOP, "", None
    if mail.bounce:
        return Outcome.BOUNCE, "", None
    if mail.automatic:
        return Outcome.AUTO_REPLY, mail.automatic, None
    ticket = thread_ticket(mail)
    if ticket is not None:
        if mail.sender not in tickets.known_correspondents(ticket):
            return Outcome.HELD, f"{mail.sender} ≠ {ticket.customer.email or '—'}", ticket
        posted, outcome = post_to_ticket(mailbox, mail, ticket, received_at)
        return outcome, "", posted
    if _throttled(mailbox, mail.sender, now):
        return Outcome.THROTTLED, f"> {mailbox.hourly_ticket_limit}/h", None
    return Outcome.TICKET, "", open_ticket(mailbox, mail, received_at)


def ingest(
    mailbox: Mailbox, raw: bytes, *, uid: int | None = None, arrived_at: datetime | None = None
) -> InboundMessage:
    """Take one raw mail from ``mailbox`` (IMAP ``uid``, arrival time ``arrived_at``). A mail already
    taken (same Message-ID in this mailbox) is returned as it was recorded, changing nothing."""
    mail = parsing.parse(raw)
    existing = InboundMessage.objects.filter(mailbox=mailbox, message_id=mail.message_id).first()
    if existing is not None:
        return existing
    now = timezone.now()
    received_at = min(arrived_at or mail.date or now, now)
    try:
        with transaction.atomic():
            record = InboundMessage.objects.create(
                mailbox=mailbox, message_id=mail.message_id, uid=uid, sender=mail.sender[:254],
                sender_name=mail.sender_name, subject=mail.subject, received_at=received_at,
                body_text=mail.text, body_html=mail.html, outcome=Outcome.LOOP,
            )  # fmt: skip
            outcome, reason, ticket = _decide(mailbox, mail, received_at, now)
            record.outcome, record.reason, record.ticket = outcome, reason[:300], ticket
            if ticket is not None and outcome in (Outcome.TICKET, Outcome.MESSAGE):
                record.event = ticket.events.filter(after__message_id=mail.message_id).order_by("-id").first()
            if outcome in WAITING:  # kept whole, to be let through later
                record.raw.save("message.eml", ContentFile(raw), save=False)
            record.save()
    except IntegrityError:  # another worker took the same mail a moment ago
        existing = InboundMessage.objects.filter(mailbox=mailbox, message_id=mail.message_id).first()
        if existing is None:
            raise
        return existing
    logger.info("Mail %s from %s: %s %s", mail.message_id, mail.sender, record.outcome, reason)
    return record


def _raw(message: InboundMessage) -> bytes:
    with default_storage.open(str(message.raw.name), "rb") as stored:
        return stored.read()


@transaction.atomic
def accept(*, message: InboundMessage | int, by: Actor) -> InboundMessage:
    """Let a held mail through: another sender's answer goes on the ticket (marked as accepted by
    ``by``), a throttled sender's mail opens its ticket."""
    pk = message.pk if isinstance(message, InboundMessage) else message
    message = InboundMessage.objects.select_for_update().select_related("mailbox").get(pk=pk)
    if message.outcome not in WAITING:
        raise ApplicationError(_("This e-mail was already dealt with."))
    mail = parsing.parse(_raw(message))
    if message.outcome == Outcome.HELD and message.ticket is not None:
        ticket, outcome = post_to_ticket(message.mailbox, mail, message.ticket, message.received_at, accepted_by=by)
    else:
        ticket, outcome = open_ticket(message.mailbox, mail, message.received_at), Outcome.TICKET
    message.outcome, message.ticket, message.decided_by = outcome, ticket, by
    message.event = ticket.events.filter(after__message_id=mail.message_id).order_by("-id").first()
    message.save(update_fields=["outcome", "ticket", "decided_by", "event"])
    return message


@transaction.atomic
def reject(*, message: InboundMessage | int, by: Actor) -> InboundMessage:
    """Keep a held mail out of the desk for good."""
    pk = message.pk if isinstance(message, InboundMessage) else message
    message = InboundMessage.objects.select_for_update().get(pk=pk)
    if message.outcome not in WAITING:
        raise ApplicationError(_("This e-mail was already dealt with."))
    message.outcome, message.decided_by = Outcome.REJECTED, by
    message.save(update_fields=["outcome", "decided_by"])
    return message
