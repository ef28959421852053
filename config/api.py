"""API plumbing shared by every app: domain errors become 400 with field errors."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, JsonResponse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django_ratelimit.decorators import ratelimit
from django_ratelimit.exceptions import Ratelimited
from rest_framework import exceptions
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.exceptions import ApplicationError


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApplicationError):
        return Response(exc.as_dict(), status=400)
    if isinstance(exc, Ratelimited):
        return Response({"detail": _("Too many attempts. Please wait a few minutes and try again.")}, status=429)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    return drf_exception_handler(exc, context)


@method_decorator(ratelimit(key="ip", rate="20/m", method="POST", block=True), name="post")
class TokenObtainApi(ObtainAuthToken):
    """``POST /api/auth/token/``: a token for a user name and password. Failed attempts count
    toward the login lock-out (django-axes); every address is also held to 20 tries a minute."""

    def get_serializer_context(self) -> dict[str, Any]:
        # django-axes marks a lock-out on the request it is given; its middleware reads the Django request.
        return {**super().get_serializer_context(), "request": self.request._request}


@csrf_exempt  # it changes nothing, whatever the method
def api_not_found(request: HttpRequest) -> JsonResponse:
    """Any other address under /api/: the API's own 404, in JSON."""
    return JsonResponse({"detail": str(exceptions.NotFound.default_detail)}, status=404)
