"""Escaped HTML for pages that print thousands of small fragments."""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from django.utils.safestring import SafeData, SafeString, mark_safe


def _escaped(value) -> str:
    return str(value) if isinstance(value, SafeData) else escape(str(value))


def escaped_join(template: str, rows: Iterable[Iterable]) -> SafeString:
    """``format_html_join("", template, rows)`` at a fraction of its cost: every value goes through
    the standard library's ``html.escape`` (what Django's ``escape`` calls) unless it is already
    safe HTML, without the lazy-string machinery per value."""
    return mark_safe("".join(template.format(*map(_escaped, row)) for row in rows))  # noqa: S308 (escaped above)
