"""Waiting for a state, never for a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable


def eventually(check: Callable[[], object], timeout: float = 30, what: str = "", every: float = 0.1) -> None:
    """Until ``check()`` is true; fails with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what or f"{check} never held within {timeout} s"
        time.sleep(every)
