"""Logging filters: what the desk's logs must never hold, and what is not worth a traceback.

Survey links and password-reset links carry a secret in their path; whoever reads the
logs (or a backup of them) must not be able to open them. ``mask_path`` is also what
gunicorn's access log uses (``config.gunicorn``).
"""

from __future__ import annotations

import logging
import re

#: The secret part of the paths that carry one: /s/<token>/ and /accounts/reset/<uid>/<token>/.
SECRET_PATHS = re.compile(r"(/s/|/accounts/reset/)[^/\s?\"']+(/[^/\s?\"']+)?")


def mask_path(text: str) -> str:
    """``text`` with every survey or reset token replaced by ``***``."""
    return SECRET_PATHS.sub(lambda m: m.group(1) + "***" + ("/***" if m.group(2) else ""), text)


class MaskSecretPaths(logging.Filter):
    """Masks tokens in a record's message (Django's "Not Found: /s/…" warnings, for one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_path(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


class OneLineSecurityWarnings(logging.Filter):
    """A refused Host header or an oversized body is the client's mistake, not the desk's:
    one warning line, no traceback (Django logs them as errors with the exception attached)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("django.security"):
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True
