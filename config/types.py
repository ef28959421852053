"""Names for the types the services share (for the type checker; nothing here runs)."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

    #: Who carries out a change: a signed-in user, or None when the desk itself acts
    #: (a beat job escalating a complaint, the follow-up of an unhappy survey answer).
    Actor: TypeAlias = User | None
    #: Who looks: a signed-in user or a visitor.
    Viewer: TypeAlias = User | AnonymousUser
