"""What the desk tells a person about their tickets: an SLA at risk or breached, a ticket given to
them, the customer's answer, a colleague naming them in a note."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Kind(models.TextChoices):
    WARNING = "warning", _("SLA at risk")
    BREACH = "breach", _("SLA breached")
    ASSIGNED = "assigned", _("Assigned to you")
    CUSTOMER = "customer", _("The customer wrote")
    MENTION = "mention", _("Mentioned in a note")


#: Kinds about an SLA target (they have a clock and a due time).
SLA_KINDS = (Kind.WARNING, Kind.BREACH)


class Clock(models.TextChoices):
    RESPONSE = "response", _("first response")
    RESOLUTION = "resolution", _("resolution")


class Notification(models.Model):
    """One thing to tell one person. Unique per person, ticket, kind, clock and due time: a sweep that
    runs twice (or two at once) never tells twice; a due time moved by a pause may warn again."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    clock = models.CharField(_("target"), max_length=10, choices=Clock.choices, blank=True)
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    # What in the ticket's timeline this is about (an assignment, the customer's mail, a note).
    event = models.ForeignKey("tickets.TicketEvent", on_delete=models.CASCADE, null=True, blank=True,
                              related_name="+")  # fmt: skip
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)
    emailed_at = models.DateTimeField(_("e-mailed"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["recipient", "ticket", "kind", "clock", "due_at"],
                                    name="notify_once"),
            models.UniqueConstraint(fields=["recipient", "event"], name="notify_once_per_event",
                                    condition=models.Q(event__isnull=False)),
        ]  # fmt: skip
        indexes = [
            models.Index(fields=["recipient", "created_at"], name="notification_unread_idx",
                         condition=models.Q(read_at__isnull=True)),
            models.Index(fields=["created_at"], name="notification_unmailed_idx",
                         condition=models.Q(emailed_at__isnull=True)),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.ticket_id} → {self.recipient_id}"


class Preference(models.Model):
    """A person's choice: the e-mail digest on or off (the notifications page always lists them)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    email_digest = models.BooleanField(_("e-mail me a digest"), default=True)

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")

    def __str__(self) -> str:
        return f"{self.user_id}: {'digest' if self.email_digest else 'no digest'}"
