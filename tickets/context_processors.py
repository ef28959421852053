from django.conf import settings
from django.utils.translation import gettext as _

from tickets.selectors import is_manager


def _sees_dashboard(user) -> bool:
    from kpis.views import dashboard_teams

    return dashboard_teams(user) is not None


def desk(request):
    """The desk's name and the viewer's role, for the page header."""
    user = getattr(request, "user", None)
    return {
        "desk_name": settings.DESK_NAME or _("After-sales Service Desk"),
        "viewer_is_manager": bool(user and is_manager(user)),
        "dev_outbox": settings.DEBUG,
        "viewer_sees_dashboard": bool(user and user.is_authenticated and _sees_dashboard(user)),
    }
