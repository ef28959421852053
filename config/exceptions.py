"""The one exception type that services raise when a request cannot be carried out."""

from __future__ import annotations

from django.core.exceptions import NON_FIELD_ERRORS


class ApplicationError(Exception):
    """A domain rule refused the request. ``field`` names the input at fault, if any.

    HTML views show ``message`` on the form (on ``field`` when given); the API
    answers 400 with ``{field or "non_field_errors": [message]}``.
    """

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    @property
    def form_field(self) -> str:
        return self.field or NON_FIELD_ERRORS

    def as_dict(self) -> dict[str, list[str]] | dict[str, str]:
        """A bad input names its field (400); a refusal of who asks or of when is a ``detail``."""
        if self.status_code != 400:
            return {"detail": str(self.message)}
        return {self.field or "non_field_errors": [str(self.message)]}


class NotAllowed(ApplicationError):
    """The user may see the object but not do this to it (not its handler, say): 403 in the API."""

    status_code = 403


class Conflict(ApplicationError):
    """The request collides with a change made meanwhile (a stale form, a reused key): 409 in the API."""

    status_code = 409


class PreconditionFailed(Conflict):
    """The client's ``If-Match`` names a version that is no longer current: 412 in the API."""

    status_code = 412
