"""What every page's header needs: the desk's name and what the viewer may open."""

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _

from kpis.access import dashboard_teams
from notifications.services import unread_count
from tickets.access import is_manager


def desk(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"desk_name": settings.DESK_NAME or _("After-sales Service Desk"), "viewer_is_manager": False,
                "dev_outbox": False, "viewer_sees_dashboard": False, "unread_notifications": 0}  # fmt: skip
    return {
        "desk_name": settings.DESK_NAME or _("After-sales Service Desk"),
        "viewer_is_manager": is_manager(user),
        "dev_outbox": settings.DEBUG and user.is_staff,
        "viewer_sees_dashboard": dashboard_teams(user) is not None,
        "unread_notifications": unread_count(user),
    }
