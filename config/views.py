"""Error pages shared by every app."""

import sys

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views import defaults


def rate_limited(request: HttpRequest, exception: Exception) -> HttpResponse:
    return render(request, "429.html", status=429)


def locked_out(request: HttpRequest, response: HttpResponse | None, credentials: dict | None = None) -> HttpResponse:
    """django-axes' answer once a user name and address are locked out: 429, a page or JSON."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    if request.path.startswith("/api/"):
        message = _("Too many failed logins. Please wait %(minutes)s minutes and try again.") % {"minutes": minutes}
        return JsonResponse({"detail": message}, status=429)
    return render(request, "registration/locked_out.html", {"cooloff_minutes": minutes}, status=429)


#: What a lost database connection raises; the desk answers 503 instead of 500 while it lasts.
DATABASE_DOWN = (OperationalError, InterfaceError)


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: a clean 503 (with Retry-After) when the database is out of reach, else the 500 page.
    It renders without the request context: the context processors would need the database too."""
    error = sys.exc_info()[1]
    if isinstance(error, DATABASE_DOWN):
        if request.path.startswith("/api/"):
            response: HttpResponse = JsonResponse({"detail": _("The service is temporarily unavailable.")}, status=503)
        else:
            response = HttpResponse(render_to_string("503.html"), status=503)
        response["Retry-After"] = "30"
        return response
    return defaults.server_error(request)
