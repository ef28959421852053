"""The e-mail channel: the support mailboxes the desk reads, and every message it took from them."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tickets.models import Category, Priority, Team, Ticket, TicketEvent


class Security(models.TextChoices):
    TLS = "tls", _("TLS from the start (IMAPS, port 993)")
    STARTTLS = "starttls", _("STARTTLS (port 143)")
    NONE = "none", _("None: a test server on this machine only")


LOOPBACK = ("localhost", "127.0.0.1", "::1")


class Mailbox(models.Model):
    """A support address read over IMAP: new mail opens tickets in ``team`` and ``category``;
    answers to the desk join their tickets. Replies to its tickets go out from ``address``."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    address = models.EmailField(_("address"), max_length=254, unique=True,
                                help_text=_("The address customers write to; replies go out from it."))  # fmt: skip
    host = models.CharField(_("IMAP server"), max_length=255)
    port = models.PositiveIntegerField(_("port"), default=993)
    security = models.CharField(_("security"), max_length=10, choices=Security.choices, default=Security.TLS)
    username = models.CharField(_("user name"), max_length=255)
    password = models.CharField(_("password or app token"), max_length=255)
    folder = models.CharField(_("folder"), max_length=255, default="INBOX")
    team = models.ForeignKey(Team, verbose_name=_("team for new tickets"), on_delete=models.PROTECT,
                             related_name="+")  # fmt: skip
    category = models.ForeignKey(Category, verbose_name=_("category for new tickets"), on_delete=models.PROTECT,
                                 related_name="+")  # fmt: skip
    priority = models.CharField(_("priority for new tickets"), max_length=10, choices=Priority.choices,
                                default=Priority.NORMAL)  # fmt: skip
    acknowledge = models.BooleanField(
        _("acknowledge new requests"), default=True,
        help_text=_("E-mail the customer the reference of the ticket their mail opened (never to an auto-reply)."),
    )  # fmt: skip
    reopen_days = models.PositiveSmallIntegerField(
        _("reopening window (days)"), default=14,
        help_text=_("A customer's answer reopens a ticket resolved at most this many days ago; "
                    "after that it opens a new ticket that follows the old one."),
    )  # fmt: skip
    hourly_ticket_limit = models.PositiveSmallIntegerField(
        _("new tickets per sender and hour"), default=5,
        help_text=_("Mail beyond this from one sender is held as throttled for an administrator."),
    )  # fmt: skip
    active = models.BooleanField(_("active"), default=True)

    # Where reading stopped: the folder's UIDVALIDITY and the highest UID taken.
    uid_validity = models.BigIntegerField(null=True, blank=True, editable=False)
    last_uid = models.BigIntegerField(default=0, editable=False)
    last_fetch_at = models.DateTimeField(_("last read"), null=True, blank=True, editable=False)
    last_error = models.TextField(_("last error"), blank=True, editable=False)

    class Meta:
        verbose_name = _("mailbox")
        verbose_name_plural = _("mailboxes")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} <{self.address}>"

    def clean(self) -> None:
        if self.security == Security.NONE and self.host not in LOOPBACK:
            raise ValidationError(
                {"security": _("Without TLS the password would cross the network in the clear: only a server "
                               "on this machine (localhost) may be read without it.")}
            )  # fmt: skip


class Outcome(models.TextChoices):
    TICKET = "ticket", _("opened a ticket")
    MESSAGE = "message", _("added to its ticket")
    HELD = "held", _("held: another sender on a ticket")
    THROTTLED = "throttled", _("held: too many new tickets from the sender")
    AUTO_REPLY = "auto", _("ignored: an automatic reply or a mailing list")
    BOUNCE = "bounce", _("ignored: a delivery failure report")
    LOOP = "loop", _("ignored: the desk's own mail")
    REJECTED = "rejected", _("rejected by an agent")


#: Outcomes an agent still has to decide on.
WAITING = (Outcome.HELD, Outcome.THROTTLED)


def _raw_path(message: InboundMessage, filename: str) -> str:
    return f"mail/{timezone.now():%Y/%m}/{message.mailbox_id}-{message.uid}-{timezone.now():%H%M%S%f}.eml"


class InboundMessage(models.Model):
    """One mail taken from a mailbox, once: (mailbox, Message-ID) is unique, so a mail fetched twice
    (two workers, a crash before the server was told) is recognised and skipped."""

    mailbox = models.ForeignKey(Mailbox, verbose_name=_("mailbox"), on_delete=models.CASCADE, related_name="messages")
    message_id = models.CharField(_("Message-ID"), max_length=998)
    uid = models.BigIntegerField(_("IMAP UID"), null=True, blank=True)
    sender = models.EmailField(_("from"), max_length=254)
    sender_name = models.CharField(_("sender's name"), max_length=200, blank=True)
    subject = models.CharField(_("subject"), max_length=998, blank=True)
    received_at = models.DateTimeField(_("received"))
    body_text = models.TextField(_("text"), blank=True)
    body_html = models.TextField(_("HTML"), blank=True)
    raw = models.FileField(_("original message"), upload_to=_raw_path, max_length=200, blank=True)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    ticket = models.ForeignKey(Ticket, verbose_name=_("ticket"), on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="+")  # fmt: skip
    event = models.ForeignKey(TicketEvent, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")  # fmt: skip
    created_at = models.DateTimeField(_("taken"), default=timezone.now)

    class Meta:
        verbose_name = _("incoming e-mail")
        verbose_name_plural = _("incoming e-mails")
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["mailbox", "message_id"], name="inbound_once_per_mailbox"),
        ]
        indexes = [
            models.Index(fields=["message_id"], name="inbound_message_id_idx"),
            models.Index(fields=["sender", "created_at"], name="inbound_sender_idx"),
            models.Index(fields=["outcome", "-received_at"], name="inbound_waiting_idx",
                         condition=models.Q(outcome__in=["held", "throttled"])),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.sender}: {self.subject}"
