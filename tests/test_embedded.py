"""With no DATABASE_URL / REDIS_URL, the launcher brings up embedded PostgreSQL and Redis."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.embedded import _answers

BASE_DIR = Path(__file__).resolve().parent.parent

CHECK = """
import os
import django
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
django.setup()
from django.core.cache import cache
from django.db import connection
from kombu import Connection
with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE IF NOT EXISTS probe (n int)")
    cursor.execute("INSERT INTO probe VALUES (1)")
    cursor.execute("SELECT current_setting('data_directory'), (SELECT count(*) FROM probe)")
    data_directory, rows = cursor.fetchone()
    print("postgres", data_directory, rows)
print("redis", cache.incr("probe") if cache.get("probe") else cache.add("probe", 1, None) and 1)
with Connection(os.environ["CELERY_BROKER_URL"]) as broker:
    broker.ensure_connection(max_retries=1)
    print("broker ok")
"""


@pytest.mark.slow
def test_the_launcher_starts_a_working_database_and_broker_in_a_folder_and_keeps_the_data(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")}
    command = [
        sys.executable,
        "-m",
        "config.embedded",
        "--data-dir",
        str(tmp_path),
        "exec",
        "--",
        sys.executable,
        "-c",
        CHECK,
    ]
    first = subprocess.run(command, cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=180)
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"postgres {tmp_path / 'postgres'}" in first.stdout and " 1\n" in first.stdout
    assert "redis 1" in first.stdout and "broker ok" in first.stdout
    assert (tmp_path / "postgres").is_dir() and (tmp_path / "secret_key").is_file()

    second = subprocess.run(command, cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=180)
    assert second.returncode == 0, second.stdout + second.stderr
    assert " 2\n" in second.stdout and "redis 2" in second.stdout  # the data survived a restart


HOLDER = (
    """
import sys
print("up", flush=True)
sys.stdin.readline()  # the second command runs meanwhile
"""
    + CHECK
)


@pytest.mark.slow
def test_a_second_command_attaches_to_the_running_servers_and_leaves_them_running(tmp_path):
    """`make run` in one terminal, `manage.py createsuperuser` (or any command) in another: when the
    second exits, the first still has its database and broker; only the first stops them."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")}
    launcher = [sys.executable, "-m", "config.embedded", "--data-dir", str(tmp_path), "exec", "--", sys.executable]
    desk = subprocess.Popen([*launcher, "-c", HOLDER], cwd=BASE_DIR, env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        started = ""
        while "up" not in started:
            line = desk.stdout.readline()
            assert line, "the first command ended early"
            started += line
        assert "started PostgreSQL" in started and "started Redis" in started

        second = subprocess.run([*launcher, "-c", CHECK], cwd=BASE_DIR, env=env, capture_output=True, text=True,
                                timeout=180)  # fmt: skip
        assert second.returncode == 0, second.stdout + second.stderr
        assert "already running" in second.stdout and "started" not in second.stdout
        assert "broker ok" in second.stdout

        out, _ = desk.communicate("go\n", timeout=180)  # the first command, after the second has exited
        assert desk.returncode == 0, out
        assert "postgres" in out and "broker ok" in out
    finally:
        if desk.poll() is None:
            desk.kill()
    # The first one started the servers, so it stopped them when it ended.
    assert not (tmp_path / "postgres" / "postmaster.pid").exists()
    assert not (tmp_path / "valkey.sock").exists() or not _answers(tmp_path / "valkey.sock")
