"""Reads for the complaints board and pages: access, and the three taboo flags of seed 003."""

from __future__ import annotations

from django.db.models import Avg, BooleanField, Case, Count, F, IntegerField, Q, QuerySet, Value, When
from django.http import Http404
from django.utils import timezone
from django.utils.translation import get_language

from complaints.models import Complaint, ComplaintStatus, Severity, policy_for
from tickets.models import RESOLVED_STATUSES
from tickets.selectors import tickets_for_user

#: 推卸责任 passing the buck: the ticket went from hand to hand this often.
BUCK_REASSIGNMENTS = 3


def buck_q() -> Q:
    return Q(ticket__reassign_count__gte=BUCK_REASSIGNMENTS)


def perfunctory_q() -> Q:
    """敷衍了事: resolved or closed without a single public reply to the customer."""
    return Q(ticket__status__in=RESOLVED_STATUSES, ticket__public_reply_count=0)


def delay_q(now=None) -> Q:
    """拖延处理: still open and neither it nor its ticket updated for longer than its severity allows."""
    now = now or timezone.now()
    q = Q(pk__in=[])
    for severity in Severity.values:
        window = policy_for(severity)[2]
        q |= Q(severity=severity, updated_at__lt=now - window, ticket__updated_at__lt=now - window)
    return q & ~Q(status=ComplaintStatus.CLOSED)


FLAGS = {"buck": buck_q, "perfunctory": perfunctory_q, "delay": delay_q}


def _flag(q: Q):
    return Case(When(q, then=Value(True)), default=Value(False), output_field=BooleanField())


def complaints_for_user(user) -> QuerySet[Complaint]:
    """The complaints on tickets the user may see (their teams'; all for a manager), with the flags."""
    return (
        Complaint.objects.filter(ticket__in=tickets_for_user(user))
        .select_related("ticket", "ticket__team", "ticket__customer", "handler", "root_cause")
        .annotate(flag_buck=_flag(buck_q()), flag_perfunctory=_flag(perfunctory_q()), flag_delay=_flag(delay_q()))
    )


def get_complaint_for_user(user, pk) -> Complaint:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404 from None
    complaint = complaints_for_user(user).filter(pk=pk).first()
    if complaint is None:
        raise Http404
    return complaint


def board_for_user(user) -> QuerySet[Complaint]:
    """Open complaints, the most severe and the oldest first."""
    severity_rank = Case(
        When(severity=Severity.CRITICAL, then=Value(0)),
        When(severity=Severity.MAJOR, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    return complaints_for_user(user).exclude(status=ComplaintStatus.CLOSED).order_by(severity_rank, "opened_at")


def root_cause_summary(user) -> list[dict]:
    """Per root cause, over every complaint the user may see: how many, closed in time, the
    average time to close, and how many carry each taboo flag. One grouped query."""
    now = timezone.now()
    rows = (
        Complaint.objects.filter(ticket__in=tickets_for_user(user))
        .values("root_cause", "root_cause__name_zh", "root_cause__name_en")
        .annotate(
            total=Count("pk"),
            open=Count("pk", filter=~Q(status=ComplaintStatus.CLOSED)),
            closed=Count("pk", filter=Q(status=ComplaintStatus.CLOSED)),
            closed_in_time=Count("pk", filter=Q(status=ComplaintStatus.CLOSED, closed_at__lte=F("due_at"))),
            time_to_close=Avg(F("closed_at") - F("opened_at"), filter=Q(status=ComplaintStatus.CLOSED)),
            buck=Count("pk", filter=buck_q()),
            perfunctory=Count("pk", filter=perfunctory_q()),
            delay=Count("pk", filter=delay_q(now)),
        )
        .order_by("-total")
    )
    summary = []
    for row in rows:
        zh, en = row.pop("root_cause__name_zh"), row.pop("root_cause__name_en")
        row["label"] = (zh if (get_language() or "").startswith("zh") else en) if row["root_cause"] else None
        row["closed_in_time_pct"] = 100 * row["closed_in_time"] / row["closed"] if row["closed"] else None
        row["hours_to_close"] = row["time_to_close"].total_seconds() / 3600 if row["time_to_close"] else None
        summary.append(row)
    return summary
