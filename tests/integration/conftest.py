"""Real processes: a Celery worker (and beat) on the test database and the configured broker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection

BASE_DIR = Path(__file__).resolve().parents[2]


def test_database_url() -> str:
    """DATABASE_URL with the database name swapped for pytest-django's test database."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


class Process:
    def __init__(self, args: list[str], env: dict[str, str], log: Path):
        self.log = log
        self._file = log.open("w")
        self.popen = subprocess.Popen(args, cwd=BASE_DIR, env=env, stdout=self._file, stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log.read_text()

    def wait_for_output(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return
            if self.popen.poll() is not None:
                raise AssertionError(f"process exited early:\n{self.output()[-3000:]}")
            time.sleep(0.2)
        raise AssertionError(f"{text!r} not seen within {timeout} s:\n{self.output()[-3000:]}")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
        self._file.close()


@pytest.fixture
def process_env(tmp_path) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": test_database_url(), "PYTHONUNBUFFERED": "1"}


@pytest.fixture
def celery_worker(process_env, tmp_path, request):
    """A real worker. Tests that use it set EMAIL_URL etc. through ``worker_env`` first."""
    env = {**process_env, **getattr(request, "param", {})}

    def start(**extra_env: str) -> Process:
        worker = Process(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo", "--without-mingle",
             "--without-gossip", "--loglevel", "INFO"],
            {**env, **extra_env},
            tmp_path / "worker.log",
        )  # fmt: skip
        started.append(worker)
        worker.wait_for_output("ready.")
        return worker

    started: list[Process] = []
    yield start
    for worker in started:
        worker.stop()
