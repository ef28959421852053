"""The points where other apps take part in a ticket's life, without ``tickets`` importing them.

``tickets`` is the base app: it imports no other domain app. What happens elsewhere when a
ticket changes (a survey after resolution, a complaint for a complaint category) or what
other apps add to the ticket screens (the survey panel, the drill-down from a KPI figure)
is subscribed here, all of it in one module: ``config/reactions.py``.

Reactions to a change run synchronously inside the service's transaction, so their rows
(an invitation, its e-mail in the outbox, a complaint) commit or roll back with the change
itself; anything that talks to the network goes through the outbox after commit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Hook:
    """A named point with an ordered list of receivers, each called with keyword arguments."""

    def __init__(self, name: str, doc: str):
        self.name = name
        self.__doc__ = doc
        self.receivers: list[Callable[..., Any]] = []

    def connect(self, receiver: Callable[..., Any]) -> Callable[..., Any]:
        if receiver not in self.receivers:
            self.receivers.append(receiver)
        return receiver

    def send(self, **kwargs: Any) -> list[Any]:
        """Call each receiver in order; a receiver's exception rolls the caller's transaction back."""
        return [receiver(**kwargs) for receiver in self.receivers]

    def __repr__(self) -> str:
        return f"<Hook {self.name}: {[r.__module__ + '.' + r.__qualname__ for r in self.receivers]}>"


ticket_created = Hook("ticket_created", "ticket, by, source: a ticket was logged (in its transaction).")
ticket_category_changed = Hook("ticket_category_changed", "ticket, by: its category was changed (in its transaction).")
customer_contacted = Hook(
    "customer_contacted", "ticket, by, at: the desk wrote to or spoke with the customer (in its transaction)."
)
ticket_resolved = Hook("ticket_resolved", "ticket, by: the ticket was resolved (in its transaction).")
ticket_merged = Hook(
    "ticket_merged",
    "duplicate, into, by: a duplicate is being merged into another ticket (in its transaction; an "
    "ApplicationError refuses the merge).",
)
event_recorded = Hook("event_recorded", "event: a change was written to a ticket's timeline (in its transaction).")
ticket_panels = Hook("ticket_panels", "ticket, user → (template name, context) or None: a panel on the ticket's page.")
queue_narrowing = Hook(
    "queue_narrowing",
    "data, queryset → (queryset, form) or None: narrows the queue to what a link asks for (a KPI drill-down).",
)
