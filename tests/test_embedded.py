"""With no DATABASE_URL / REDIS_URL, the launcher brings up embedded PostgreSQL and Redis."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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
