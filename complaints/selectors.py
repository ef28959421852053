"""Reads for the complaints board and pages: access, and the three taboo flags of seed 003."""

from __future__ import annotations

from django.db.models import Avg, Case, Count, F, IntegerField, Q, QuerySet, Value, When

from complaints.access import complaints_for_user
from complaints.models import Complaint, ComplaintStatus, Severity
from complaints.taboos import buck_q, delay_q, perfunctory_q
from config.i18n import in_language
from surveys.models import SurveyResponse
from surveys.services import answers_for_display
from tickets.access import tickets_for_user


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
            delay=Count("pk", filter=delay_q()),
        )
        .order_by("-total")
    )
    summary = []
    for row in rows:
        zh, en = row.pop("root_cause__name_zh"), row.pop("root_cause__name_en")
        row["label"] = in_language(zh, en) if row["root_cause"] else None
        row["closed_in_time_pct"] = 100 * row["closed_in_time"] / row["closed"] if row["closed"] else None
        row["hours_to_close"] = row["time_to_close"].total_seconds() / 3600 if row["time_to_close"] else None
        summary.append(row)
    return summary


def complained_of(complaint: Complaint) -> dict:
    """What the customer complained about: the unhappy survey answers behind a follow-up ticket (and
    the ticket they were about), or the description the agent wrote on the complaint's ticket."""
    response = SurveyResponse.objects.select_related("ticket", "template").filter(follow_up=complaint.ticket_id).first()
    if response is not None:
        return {"original": response.ticket, "answers": answers_for_display(response), "response": response}
    return {"description": complaint.ticket.description}
