"""A request that gives up waiting on the database answers "busy, try again", keeping what was typed."""

from __future__ import annotations

from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from psycopg import errors

#: PostgreSQL's lock_timeout and statement_timeout (settings.DATABASES OPTIONS).
GAVE_UP = (errors.LockNotAvailable, errors.QueryCanceled)

#: Seconds a client is asked to wait before trying again.
RETRY_AFTER = "5"


def gave_up_waiting(error: BaseException) -> bool:
    return isinstance(error, OperationalError) and isinstance(error.__cause__, GAVE_UP)


class BusyMiddleware:
    """Someone else holds the ticket (or the query ran too long): 503 with Retry-After.

    The API answers JSON; a form gets a page that shows every field as it was typed, with
    a button that sends the same form again. Nothing was stored: the service's transaction
    rolled back."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not gave_up_waiting(exception):
            return None
        if request.path.startswith("/api/"):
            response: HttpResponse = JsonResponse(
                {"detail": _("Someone else is changing this just now. Nothing was saved; try again in a moment.")},
                status=503,
            )
        else:
            typed = [
                (name, value)
                for name in request.POST
                if name != "csrfmiddlewaretoken"
                for value in request.POST.getlist(name)
            ]
            response = render(request, "busy.html", {"typed": typed, "action": request.path}, status=503)
        response["Retry-After"] = RETRY_AFTER
        return response
