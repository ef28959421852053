"""Reads about surveys for the agent's and manager's screens."""

from __future__ import annotations

from typing import TYPE_CHECKING

from surveys.models import SurveyInvitation, SurveyResponse
from surveys.services import answers_for_display
from tickets.models import Ticket

if TYPE_CHECKING:
    from config.types import Viewer


def survey_panel(*, ticket: Ticket, user: Viewer) -> tuple[str, dict]:
    """The survey panel on the ticket's page: its state, the answers, the follow-ups."""
    invitation = SurveyInvitation.objects.filter(ticket=ticket).select_related("template").first()
    response = (
        SurveyResponse.objects.filter(invitation=invitation).select_related("follow_up").first() if invitation else None
    )
    return "surveys/_partials/ticket_panel.html", {
        "invitation": invitation,
        "response": response,
        "answers": answers_for_display(response) if response else [],
        "no_email": not ticket.customer.email,
        "follow_up_of": SurveyResponse.objects.filter(follow_up=ticket).select_related("ticket").first(),
    }
