"""The three taboos of seed 003 (三忌), as rules a query can apply: each written once, read by the
complaints board, the flags in the API, the automatic delay marking and the KPI engine."""

from __future__ import annotations

from datetime import datetime

from django.db.models import BooleanField, Case, Q, Value, When
from django.utils import timezone

from complaints.models import ComplaintStatus, Severity, policy_for
from tickets.models import RESOLVED_STATUSES

#: 推卸责任 passing the buck: the ticket went from hand to hand this often.
BUCK_REASSIGNMENTS = 3


def buck_q() -> Q:
    return Q(ticket__reassign_count__gte=BUCK_REASSIGNMENTS)


def perfunctory_q() -> Q:
    """敷衍了事: resolved or closed without a single public reply to the customer."""
    return Q(ticket__status__in=RESOLVED_STATUSES, ticket__public_reply_count=0)


def delay_q(now: datetime | None = None) -> Q:
    """拖延处理: still open and neither it nor its ticket updated for longer than its severity allows."""
    now = now or timezone.now()
    q = Q(pk__in=[])
    for severity in Severity.values:
        window = policy_for(severity)[2]
        q |= Q(severity=severity, updated_at__lt=now - window, ticket__updated_at__lt=now - window)
    return q & ~Q(status=ComplaintStatus.CLOSED)


FLAGS = {"buck": buck_q, "perfunctory": perfunctory_q, "delay": delay_q}


def flag(q: Q) -> Case:
    """True where ``q`` holds, as an annotation."""
    return Case(When(q, then=Value(True)), default=Value(False), output_field=BooleanField())
