"""Reads about surveys for the agent's and manager's screens."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone

from surveys.models import FINAL_OUTCOMES, FollowUpCall, SurveyInvitation, SurveyResponse
from surveys.services import answers_for_display, start_of_today
from tickets.access import tickets_for_user
from tickets.models import RESOLVED_STATUSES, Ticket

if TYPE_CHECKING:
    from config.types import Viewer


def survey_panel(*, ticket: Ticket, user: Viewer) -> tuple[str, dict]:
    """The survey panel on the ticket's page: its state, the answers, the follow-ups."""
    invitation = SurveyInvitation.objects.filter(ticket=ticket).select_related("template").first()
    response = SurveyResponse.objects.filter(ticket=ticket).select_related("follow_up", "taken_by").first()
    calls = list(FollowUpCall.objects.filter(ticket=ticket).select_related("agent"))
    return (
        "surveys/_partials/ticket_panel.html",
        {
            "invitation": invitation,
            "response": response,
            "answers": answers_for_display(response) if response else [],
            "no_email": not ticket.customer.email,
            "follow_up_of": SurveyResponse.objects.filter(follow_up=ticket).select_related("ticket").first(),
            "calls": calls,
            "callable": response is None and calls_due(user).filter(pk=ticket.pk).exists(),  # as the call queue says
            "earlier": list(
                SurveyResponse.objects.filter(ticket__customer_id=ticket.customer_id, ticket__in=tickets_for_user(user))
                .exclude(ticket=ticket)
                .select_related("ticket")
                .order_by("-submitted_at")[:3]
            ),
        },
    )


def calls_due(user: Viewer) -> QuerySet[Ticket]:
    """The follow-up call queue (回访队列): resolved tickets of the user's teams, resolved within
    ``FOLLOW_UP_CALL_DAYS``, not answered, whose customer has no e-mail address or (by the setting)
    let the e-mailed survey expire; not a merged duplicate (its customer is asked about the ticket it
    was merged into); tried fewer than ``FOLLOW_UP_CALL_ATTEMPTS`` times, never refused
    or a wrong number, and not yet called today. The oldest resolution first."""
    now = timezone.now()
    reachable = Q(survey__isnull=True, customer__email="")
    if settings.FOLLOW_UP_CALL_AFTER_EXPIRY:
        reachable |= Q(survey__expires_at__lte=now, survey__answered_at__isnull=True)
    return (
        tickets_for_user(user)
        .filter(
            reachable, status__in=RESOLVED_STATUSES, resolved_at__gte=now - timedelta(days=settings.FOLLOW_UP_CALL_DAYS)
        )
        .filter(survey_responses__isnull=True, follow_up_for__isnull=True, merged_into__isnull=True)
        .exclude(follow_up_calls__outcome__in=FINAL_OUTCOMES)
        .annotate(attempts=Count("follow_up_calls"), last_call=Max("follow_up_calls__at"))
        .filter(attempts__lt=settings.FOLLOW_UP_CALL_ATTEMPTS)
        .filter(Q(last_call__isnull=True) | Q(last_call__lt=start_of_today(now)))
        .select_related("customer", "team", "assignee")
        .order_by("resolved_at", "id")
    )
