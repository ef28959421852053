"""Who may see and decide on which incoming mails: the one place the rule is written.

A mail on a ticket is seen by whoever may see the ticket (``tickets.access``); a mail with no
ticket (a throttled sender's, an ignored one) only by managers. Anything else is a 404.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet
from django.http import Http404

from mailboxes.models import WAITING, InboundMessage
from tickets.access import is_manager, parse_pk, tickets_for_user

if TYPE_CHECKING:
    from config.types import Viewer


def messages_for_user(user: Viewer) -> QuerySet[InboundMessage]:
    if not user.is_authenticated:
        return InboundMessage.objects.none()
    if is_manager(user):
        return InboundMessage.objects.all()
    return InboundMessage.objects.filter(ticket__in=tickets_for_user(user))


def waiting_for_user(user: Viewer) -> QuerySet[InboundMessage]:
    """Held mails the user may let through or reject."""
    return messages_for_user(user).filter(outcome__in=WAITING)


def get_message_for_user(user: Viewer, pk: Any) -> InboundMessage:
    message = messages_for_user(user).select_related("mailbox", "ticket").filter(pk=parse_pk(pk)).first()
    if message is None:
        raise Http404
    return message
