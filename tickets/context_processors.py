from django.conf import settings
from django.utils.translation import gettext as _

from tickets.selectors import is_manager


def desk(request):
    """The desk's name and the viewer's role, for the page header."""
    user = getattr(request, "user", None)
    return {
        "desk_name": settings.DESK_NAME or _("After-sales Service Desk"),
        "viewer_is_manager": bool(user and is_manager(user)),
        "dev_outbox": settings.DEBUG,
    }
