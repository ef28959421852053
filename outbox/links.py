"""Secret links in e-mail are written into a message only when it is sent.

A survey link or a password-reset link opens something without a login. The stored row
keeps a placeholder (``[[link:survey:42]]``) instead, so the outbox table, its backups and
the admin never hold a working link; ``fill`` asks the app that owns the link for it at
the moment the message goes out. Apps register their kinds in ``config/reactions.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_resolvers: dict[str, Callable[[int], str]] = {}

PLACEHOLDER = re.compile(r"\[\[link:(\w+):(\d+)\]\]")


def register(kind: str, resolver: Callable[[int], str]) -> None:
    """``resolver(pk)`` returns the working URL of the link ``kind`` for object ``pk``."""
    _resolvers[kind] = resolver


def placeholder(kind: str, pk: int) -> str:
    return f"[[link:{kind}:{pk}]]"


def fill(text: str) -> str:
    """``text`` with every placeholder replaced by its working link (raises for an unknown kind)."""
    return PLACEHOLDER.sub(lambda match: _resolvers[match.group(1)](int(match.group(2))), text)
