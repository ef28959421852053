"""Who may see and act on which complaints: the one place the rule is written."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet
from django.http import Http404

from complaints.models import Complaint
from complaints.taboos import buck_q, delay_q, flag, perfunctory_q
from tickets.access import is_manager, parse_pk, tickets_for_user

if TYPE_CHECKING:
    from config.types import Viewer


def complaints_for_user(user: Viewer) -> QuerySet[Complaint]:
    """The complaints on tickets the user may see (their teams'; all for a manager), with the flags."""
    return (
        Complaint.objects.filter(ticket__in=tickets_for_user(user))
        .select_related("ticket", "ticket__team", "ticket__customer", "handler", "root_cause")
        .annotate(flag_buck=flag(buck_q()), flag_perfunctory=flag(perfunctory_q()), flag_delay=flag(delay_q()))
    )


def get_complaint_for_user(user: Viewer, pk: Any) -> Complaint:
    """The complaint ``pk`` if ``user`` may see its ticket, else 404."""
    complaint = complaints_for_user(user).filter(pk=parse_pk(pk)).first()
    if complaint is None:
        raise Http404
    return complaint


def can_act(user: Viewer | None, complaint: Complaint) -> bool:
    """Only the current handler (or a manager) works on and closes a complaint."""
    return user is not None and (complaint.handler_id == user.pk or is_manager(user))


def can_escalate(user: Viewer | None, complaint: Complaint) -> bool:
    """The handler, the team's supervisor or a manager may move it up the ladder."""
    return can_act(user, complaint) or complaint.ticket.team.supervisor_id == getattr(user, "pk", None)
