"""What every page's header needs: the desk's name and what the viewer may open."""

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _

from kpis.access import dashboard_teams
from tickets.access import is_manager


def desk(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    signed_in = bool(user and user.is_authenticated)
    return {
        "desk_name": settings.DESK_NAME or _("After-sales Service Desk"),
        "viewer_is_manager": bool(signed_in and is_manager(user)),
        "dev_outbox": settings.DEBUG and signed_in and user.is_staff,
        "viewer_sees_dashboard": bool(signed_in and dashboard_teams(user) is not None),
    }
