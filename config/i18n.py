"""The one rule for reference data kept in both languages (names, survey wording)."""

from __future__ import annotations

from django.utils.translation import get_language


def in_language(zh: str, en: str) -> str:
    """The Chinese text under any Chinese language, the English text under any other."""
    return zh if (get_language() or "").startswith("zh") else en
