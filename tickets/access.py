"""Who may see and act on which tickets: the one place the rule is written.

Views, the API, exports, drill-downs and tasks all call these; another app's access
rules build on ``tickets_for_user``. Anything a user may not see is a 404, never a 403.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _

from config.exceptions import ApplicationError
from tickets.models import CannedReply, SavedView, Team, Ticket

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from rest_framework.request import Request

    from config.types import Viewer

#: Members of this group (and superusers) see every team's tickets.
MANAGERS_GROUP = "managers"


def is_manager(user: Viewer) -> bool:
    """A member of the managers group, or a superuser (asked once per request's user object)."""
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    cached = getattr(user, "_desk_is_manager", None)
    if cached is None:
        cached = user.groups.filter(name=MANAGERS_GROUP).exists()
        setattr(user, "_desk_is_manager", cached)  # noqa: B010 (an attribute of our own on Django's user)
    return bool(cached)


def teams_for_user(user: Viewer) -> QuerySet[Team]:
    """The teams whose tickets ``user`` works on: all of them for a manager."""
    if is_manager(user):
        return Team.objects.all()
    return Team.objects.filter(Q(members=user) | Q(supervisor=user)).distinct()


def tickets_for_user(user: Viewer) -> QuerySet[Ticket]:
    """The tickets of the user's teams (every ticket for a manager); none for a visitor."""
    if not user.is_authenticated:
        return Ticket.objects.none()
    if is_manager(user):
        return Ticket.objects.all()
    # The ids themselves, not a subquery: with constants the planner can read the queue's
    # (team, status, requested) index instead of joining a million tickets against the teams.
    team_ids = list(Team.objects.filter(Q(members=user) | Q(supervisor=user)).values_list("id", flat=True).distinct())
    return Ticket.objects.filter(team_id__in=team_ids)


def get_ticket_for_user(user: Viewer, pk: Any, *, write: bool = False) -> Ticket:
    """The ticket ``pk`` if ``user`` may see it, else 404 (never 403: no existence leak).

    Every ticket a user may read they may also act on; ``write`` is kept so
    callers state their intent and a stricter rule has one place to live.
    """
    pk = parse_pk(pk)
    ticket = (
        tickets_for_user(user)
        .select_related("customer", "category", "team", "assignee", "team__supervisor")
        .filter(pk=pk)
        .first()
    )
    if ticket is None:
        raise Http404
    return ticket


def ticket_by_reference_for_user(user: Viewer, reference: str, *, field: str = "reference") -> Ticket:
    """The ticket of the user's teams named by ``reference`` as typed (any case, spaces around), or
    an ``ApplicationError`` on ``field`` saying there is none."""
    ticket = tickets_for_user(user).filter(reference=(reference or "").strip().upper()).first()
    if ticket is None:
        raise ApplicationError(_("No ticket %s in your teams.") % reference, field=field)
    return ticket


def _own_or_shared(queryset: QuerySet, user: Viewer) -> QuerySet:
    """What the user wrote (``owner``) and what was shared with one of their teams (``team``)."""
    if not user.is_authenticated:
        return queryset.none()
    teams = Team.objects.filter(Q(members=user) | Q(supervisor=user)).values("pk")
    return queryset.filter(Q(owner=user) | Q(team__in=teams))


def saved_views_for_user(user: Viewer) -> QuerySet[SavedView]:
    """The user's own saved views and those shared with their teams."""
    return _own_or_shared(SavedView.objects.all(), user)


def canned_replies_for_user(user: Viewer) -> QuerySet[CannedReply]:
    """The user's own canned replies and those shared with their teams."""
    return _own_or_shared(CannedReply.objects.all(), user)


def may_share_with(user: Viewer, team: Team) -> bool:
    """A saved view or a canned reply is shared with a team by its supervisor, or by a manager."""
    return is_manager(user) or team.supervisor_id == user.pk


def shareable_teams(user: Viewer) -> QuerySet[Team]:
    """The teams ``user`` may share a saved view or a canned reply with (``may_share_with``)."""
    if is_manager(user):
        return Team.objects.all()
    return Team.objects.filter(supervisor_id=getattr(user, "pk", None))


def acting_user(request: HttpRequest | Request) -> User:
    """The signed-in user a view acts for (views and API operations require a login first)."""
    user = request.user
    if not user.is_authenticated:
        raise PermissionDenied
    return cast("User", user)


def parse_pk(pk: Any) -> int:
    """A primary key from a URL or a form, or 404."""
    try:
        return int(pk)
    except (TypeError, ValueError):
        raise Http404 from None
