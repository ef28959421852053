"""Who may read which survey answers: the one place the rule is written. A customer reaches
their own survey by its link's token alone (``surveys.services.find_invitation``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet

from surveys.models import SurveyResponse
from tickets.access import tickets_for_user

if TYPE_CHECKING:
    from config.types import Viewer


def responses_for_user(user: Viewer) -> QuerySet[SurveyResponse]:
    """The answers about tickets the user may see, newest first."""
    return (
        SurveyResponse.objects.filter(ticket__in=tickets_for_user(user))
        .select_related("ticket", "ticket__team", "ticket__customer", "follow_up")
        .order_by("-submitted_at", "-id")
    )
