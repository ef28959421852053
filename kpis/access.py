"""Who may see which KPI figures: the one place the rule is written. The dashboard, the
drill-down, the CSV/XLSX export, the scorecards and the KPI API all call it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet

from tickets.access import is_manager
from tickets.models import Team

if TYPE_CHECKING:
    from config.types import Viewer


def dashboard_teams(user: Viewer) -> QuerySet[Team] | None:
    """The teams whose figures ``user`` may see (all for a manager, their own for a supervisor); None: none."""
    if is_manager(user):
        return Team.objects.all()
    supervised = Team.objects.filter(supervisor_id=user.pk)
    return supervised if supervised.exists() else None
