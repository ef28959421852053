"""The OpenAPI document: every operation also documents the errors the desk answers with."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema

_FIELD_ERRORS = {
    "type": "object",
    "description": 'Field name (or "non_field_errors") → messages; a nested object (the customer) nests them; '
    'a body that is not JSON at all gets {"detail": message}.',
    "additionalProperties": {
        "oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "object"}, {"type": "string"}]
    },
}
_DETAIL = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}

ERRORS = {
    "400": ("Bad input: nothing was changed.", _FIELD_ERRORS),
    "401": ("No or wrong credentials.", _DETAIL),
    "403": ("Not allowed for this user.", _DETAIL),
    "404": ("No such object, or not one of yours.", _DETAIL),
    "405": ("Method not allowed.", _DETAIL),
    "409": ("Collides with a change made meanwhile, or an Idempotency-Key reused for another request.", _DETAIL),
    "412": ("If-Match names a version of the object that is no longer current: read it again.", _DETAIL),
    "415": ("Unsupported media type.", _DETAIL),
    "429": ("Too many attempts: wait and try again.", _DETAIL),
    "503": ("Busy (another change holds the object) or unavailable: retry after Retry-After seconds.", _DETAIL),
}


class DeskAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, (description, schema) in ERRORS.items():
            body = {"description": description, "content": {"application/json": {"schema": schema}}}
            responses.setdefault(code, body)
        return responses
