"""Error pages shared by every app."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _


def rate_limited(request: HttpRequest, exception: Exception) -> HttpResponse:
    return render(request, "429.html", status=429)


def locked_out(request: HttpRequest, response: HttpResponse | None, credentials: dict | None = None) -> HttpResponse:
    """django-axes' answer once a user name and address are locked out: 429, a page or JSON."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    if request.path.startswith("/api/"):
        message = _("Too many failed logins. Please wait %(minutes)s minutes and try again.") % {"minutes": minutes}
        return JsonResponse({"detail": message}, status=429)
    return render(request, "registration/locked_out.html", {"cooloff_minutes": minutes}, status=429)
