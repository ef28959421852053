"""API plumbing shared by every app: strict input, domain errors as 400 with field errors."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django_ratelimit.decorators import ratelimit
from django_ratelimit.exceptions import Ratelimited
from rest_framework import exceptions, serializers
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.exceptions import ApplicationError, Conflict
from config.models import IdempotencyKey


class InputSerializer(serializers.Serializer):
    """What a client sends: every key must be a field this operation takes.

    An unknown key (a typo, a field of another operation) or a read-only one (``status``,
    ``reference``…) is a 400 naming it, and nothing is stored: a client must not believe a
    change was made that was silently dropped. ``read_only_names`` lists the resource's
    fields a client may read but not write here."""

    read_only_names: frozenset[str] = frozenset()
    #: At most this many unexpected keys are named one by one.
    NAMED = 20

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unexpected = sorted(str(key) for key in data if key not in self.fields)
            if unexpected:
                errors = {
                    key: [_("This field is read-only.") if key in self.read_only_names else _("Unknown field.")]
                    for key in unexpected[: self.NAMED]
                }
                if len(unexpected) > self.NAMED:
                    errors["non_field_errors"] = [
                        _("%(count)d more unknown fields.") % {"count": len(unexpected) - self.NAMED}
                    ]
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class AwareDateTimeField(serializers.DateTimeField):
    """A time with its UTC offset: "2026-01-02T10:00:00" alone could be Beijing's or the server's."""

    default_error_messages = {
        "naive": gettext_lazy("Give the time with its UTC offset, e.g. 2026-01-02T10:00:00+08:00."),
    }

    def to_internal_value(self, value: Any) -> Any:
        if isinstance(value, str):
            parsed = parse_datetime(value.strip())
            if parsed is not None and timezone.is_naive(parsed):
                self.fail("naive")
        return super().to_internal_value(value)


IDEMPOTENCY_HEADER = "Idempotency-Key"


def idempotent(request: Request, act: Callable[[], Response]) -> Response:
    """Carry out ``act`` once per ``Idempotency-Key`` of this user.

    The key is scoped to the user and names one request (method, path and body): a retry
    of it gets the first answer again, without acting twice; the same key sent with another
    request (another action, another ticket, another body) is a 409 and does nothing. A
    request that failed stores nothing, so its retry runs afresh."""
    key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    if not key:
        return act()
    if len(key) > 200 or "\x00" in key:
        raise serializers.ValidationError({IDEMPOTENCY_HEADER: [_("Use a key of at most 200 characters.")]})
    user_id = request.user.pk
    assert user_id is not None  # every operation that takes a key needs a login first
    described = f"{request.method} {request.path}"[:300]
    body = json.dumps(request.data, sort_keys=True, default=str, ensure_ascii=False)
    fingerprint = hashlib.sha256(f"{described}\n{body}".encode()).hexdigest()
    with transaction.atomic():
        # Two retries at once: the second insert waits for the first to commit, then finds its row.
        try:
            with transaction.atomic():
                record = IdempotencyKey.objects.create(
                    user_id=user_id,
                    key=key,
                    request=described,
                    fingerprint=fingerprint,
                    status_code=0,
                    response={},
                )
        except IntegrityError:
            record = IdempotencyKey.objects.select_for_update().get(user_id=user_id, key=key)
            if record.fingerprint != fingerprint:
                raise Conflict(
                    _("This Idempotency-Key was already used for another request (%(request)s). Use a new key.")
                    % {"request": record.request}
                ) from None
            return Response(record.response, status=record.status_code)
        response = act()
        record.status_code, record.response = response.status_code, response.data
        record.save(update_fields=["status_code", "response"])
    return response


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApplicationError):
        return Response(exc.as_dict(), status=exc.status_code)
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
