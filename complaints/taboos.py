"""The three taboos of seed 003 (三忌), as rules a query can apply: each written once, read by the
complaints board, the flags in the API, the automatic delay marking and the KPI engine."""

from __future__ import annotations

from django.db.models import BooleanField, Case, Q, Value, When

from complaints.models import ComplaintStatus
from config.db import CurrentTime
from tickets.models import RESOLVED_STATUSES

#: 推卸责任 passing the buck: the ticket went from hand to hand this often.
BUCK_REASSIGNMENTS = 3


def buck_q() -> Q:
    return Q(ticket__reassign_count__gte=BUCK_REASSIGNMENTS)


def perfunctory_q() -> Q:
    """敷衍了事: resolved or closed without a single contact with the customer — no reply, no logged call,
    and no confirmation of the fix taken from them."""
    return Q(ticket__status__in=RESOLVED_STATUSES, ticket__public_reply_count=0, confirmed_at__isnull=True)


def delay_q() -> Q:
    """拖延处理: left without handling (a contact with the customer, a remedy, an appointment, the
    confirmation) for longer than its severity allows — from that moment on, for good. Escalations
    and automatic changes are not handling. The present is taken as each query runs: the board's flag,
    its filter and the KPI count the same complaints at any moment."""
    return Q(delayed_at__isnull=False) | (Q(delay_due_at__lt=CurrentTime()) & ~Q(status=ComplaintStatus.CLOSED))


FLAGS = {"buck": buck_q, "perfunctory": perfunctory_q, "delay": delay_q}


def flag(q: Q) -> Case:
    """True where ``q`` holds, as an annotation."""
    return Case(When(q, then=Value(True)), default=Value(False), output_field=BooleanField())
