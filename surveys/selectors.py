"""Reads about surveys for the agent's and manager's screens."""

from __future__ import annotations

from django.db.models import QuerySet

from surveys.models import SurveyInvitation, SurveyResponse
from surveys.services import answers_for_display
from tickets.models import Ticket
from tickets.selectors import tickets_for_user


def responses_for_user(user) -> QuerySet[SurveyResponse]:
    """The answers about tickets the user may see, newest first."""
    return (
        SurveyResponse.objects.filter(ticket__in=tickets_for_user(user))
        .select_related("ticket", "ticket__team", "ticket__customer", "follow_up")
        .order_by("-submitted_at", "-id")
    )


def survey_panel(ticket: Ticket) -> dict:
    """What the ticket page shows about the survey: its state, the answers, the follow-ups."""
    invitation = SurveyInvitation.objects.filter(ticket=ticket).select_related("template").first()
    response = (
        SurveyResponse.objects.filter(invitation=invitation).select_related("follow_up").first() if invitation else None
    )
    return {
        "invitation": invitation,
        "response": response,
        "answers": answers_for_display(response) if response else [],
        "no_email": not ticket.customer.email,
        "follow_up_of": SurveyResponse.objects.filter(follow_up=ticket).select_related("ticket").first(),
    }
