"""Which SLA applies to a ticket, and on which clock it runs."""

from __future__ import annotations

from django.db.models import F, Q

from tickets.calendars import ROUND_THE_CLOCK, calendar_for
from tickets.models import SLAPolicy, Ticket
from tickets.worktime import Calendar


def sla_policy_for(*, priority: str, category_id: int | None) -> SLAPolicy | None:
    """The policy for a category and priority, falling back to the one for all categories."""
    return (
        SLAPolicy.objects.filter(Q(category_id=category_id) | Q(category__isnull=True), priority=priority)
        .order_by(F("category_id").asc(nulls_last=True))
        .first()
    )


def clock_for(ticket: Ticket, policy: SLAPolicy | None) -> Calendar:
    """The clock of ``policy`` for the ticket: its team's service calendar, or round the clock when the
    policy counts calendar time (a 7×24 urgent line)."""
    if policy is not None and not policy.working_time:
        return ROUND_THE_CLOCK
    return calendar_for(ticket)


def sla_calendar(ticket: Ticket) -> Calendar:
    """The clock the ticket's SLA runs on (its policy looked up)."""
    return clock_for(ticket, sla_policy_for(priority=ticket.priority, category_id=ticket.category_id))


class SlaLookup:
    """Policies and clocks for many tickets (sweeps, recomputes, the demo data): each policy looked up
    once per priority and category, each clock once per team and kind of policy."""

    def __init__(self) -> None:
        self._policies: dict[tuple[str, int | None], SLAPolicy | None] = {}
        self._clocks: dict[tuple[int, bool], Calendar] = {}

    def policy(self, ticket: Ticket) -> SLAPolicy | None:
        key = (ticket.priority, ticket.category_id)
        if key not in self._policies:
            self._policies[key] = sla_policy_for(priority=ticket.priority, category_id=ticket.category_id)
        return self._policies[key]

    def clock(self, ticket: Ticket, policy: SLAPolicy | None = None) -> Calendar:
        policy = policy if policy is not None else self.policy(ticket)
        key = (ticket.team_id, policy.working_time if policy else True)
        if key not in self._clocks:
            self._clocks[key] = clock_for(ticket, policy)
        return self._clocks[key]
