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


def sla_calendar(ticket: Ticket, policy: SLAPolicy | None = None) -> Calendar:
    """The clock the ticket's SLA runs on: its team's service calendar, or round the clock when
    its policy counts calendar time (a 7×24 urgent line)."""
    policy = policy or sla_policy_for(priority=ticket.priority, category_id=ticket.category_id)
    if policy is not None and not policy.working_time:
        return ROUND_THE_CLOCK
    return calendar_for(ticket)
