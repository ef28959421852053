"""Reads of the e-mail channel that feed other screens."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailboxes.models import InboundMessage, Outcome

if TYPE_CHECKING:
    from config.types import Viewer
    from tickets.models import Ticket


def held_panel(*, ticket: Ticket, user: Viewer) -> tuple[str, dict] | None:
    """On a ticket's page (which its reader may see): mails about it from other senders, waiting for an agent."""
    waiting = list(InboundMessage.objects.filter(ticket=ticket, outcome=Outcome.HELD).order_by("received_at"))
    return ("mailboxes/_partials/ticket_panel.html", {"held_mails": waiting}) if waiting else None
