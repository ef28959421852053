"""The transactional e-mail outbox: every outgoing message is a row first."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class EmailStatus(models.TextChoices):
    PENDING = "pending", _("waiting to be sent")
    SENDING = "sending", _("being sent")
    SENT = "sent", _("sent")
    FAILED = "failed", _("gave up")


def _message_id() -> str:
    return f"<{uuid.uuid4().hex}@servicedesk>"


class OutgoingEmail(models.Model):
    """One message, written in the same transaction as the change that causes it.

    A worker sends it after commit; the sweeper re-sends what is still due. A
    message is claimed by a conditional UPDATE (pending → sending, with a lease)
    so that two senders never send the same row.
    """

    kind = models.CharField(_("kind"), max_length=40)
    to = models.EmailField(_("to"), max_length=254)
    subject = models.CharField(_("subject"), max_length=998)
    body_text = models.TextField(_("text"))
    body_html = models.TextField(_("HTML"), blank=True)
    language = models.CharField(_("language"), max_length=10)
    message_id = models.CharField(max_length=200, default=_message_id, unique=True, editable=False)
    # Sent from this address (a mailbox's, so that the customer's answer reaches it); blank: DEFAULT_FROM_EMAIL.
    from_email = models.EmailField(_("from"), max_length=254, blank=True, default="", db_default="")
    # Threading: the message this one answers, and the conversation before it (Message-IDs, oldest first).
    in_reply_to = models.CharField(max_length=998, blank=True, default="", db_default="")
    references = models.JSONField(default=list, blank=True, db_default=[])
    # Files sent with it, read from storage as it is sent: [{"path", "name", "content_type"}].
    attachments = models.JSONField(default=list, blank=True, db_default=[])
    ticket = models.ForeignKey(
        "tickets.Ticket", verbose_name=_("ticket"), on_delete=models.CASCADE, null=True, blank=True,
        related_name="emails",
    )  # fmt: skip

    status = models.CharField(_("status"), max_length=10, choices=EmailStatus.choices, default=EmailStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    locked_until = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("outgoing e-mail")
        verbose_name_plural = _("outgoing e-mails")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="outbox_due_idx",
                condition=models.Q(status__in=["pending", "sending"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.to}: {self.subject}"
