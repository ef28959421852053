"""/healthz: 200 with the database and broker named, 503 when either is down."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db

BASE_DIR = Path(__file__).resolve().parent.parent


def test_healthy_desk_answers_200_naming_database_and_broker(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_an_unreachable_broker_makes_it_503(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "ok" and body["broker"].startswith("error")


def test_an_unreachable_database_makes_it_503():
    script = (
        "import django; django.setup();"
        "from django.test import Client;"
        "r = Client().get('/healthz', SERVER_NAME='localhost');"
        "print(r.status_code, r.content.decode())"
    )
    env = {
        **os.environ,
        "DATABASE_URL": "postgres://postgres@127.0.0.1:1/none",
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "localhost",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_CONNECT_TIMEOUT": "2",
    }
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=BASE_DIR, capture_output=True, text=True, timeout=60
    )
    status, body = out.stdout.strip().split(" ", 1)
    assert status == "503", out.stderr[-2000:]
    assert json.loads(body)["database"].startswith("error")
