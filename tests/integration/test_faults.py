"""Faults injected for real, into the desk's own processes (gunicorn and a Celery worker).

PostgreSQL is a private server for the test (the embedded one, so that it can be stopped and
started without touching anything else); it goes down under a running web server and worker and
comes back, and neither process is restarted.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psycopg
import pytest
import requests

from config.embedded import processes
from tests.integration.conftest import BASE_DIR, Process
from tests.smtp import free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.slow]

SETUP = """
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
user = get_user_model().objects.create_user("fault", password="correct horse battery staple")
print("TOKEN", Token.objects.create(user=user).key)
"""


@pytest.fixture
def private_postgres(tmp_path):
    """A PostgreSQL server of the test's own (pgserver), with the desk's schema and one user."""
    import pgserver

    server = pgserver.get_server(tmp_path / "pg", cleanup_mode="delete")
    server.psql("CREATE DATABASE desk;")
    socket_dir = server.get_uri().split("host=", 1)[1]
    url = f"postgres://postgres@/desk?host={socket_dir}"
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DATABASE_URL": url, "DEBUG": "false", "SECURE_SSL_REDIRECT": "false", "SECURE_HSTS_SECONDS": "0",
        "ALLOWED_HOSTS": "127.0.0.1", "PYTHONUNBUFFERED": "1", "CONN_MAX_AGE": "60",
    }  # fmt: skip
    for command in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
        subprocess.run([sys.executable, "manage.py", *command, "-v", "0"], cwd=BASE_DIR, env=env, check=True)
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c", SETUP], cwd=BASE_DIR, env=env, check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    yield {"server": server, "url": url, "env": env, "token": out.split("TOKEN", 1)[1].strip()}
    server.cleanup()


def _stop(server) -> None:
    from pgserver._commands import pg_ctl

    pg_ctl(["-m", "fast", "-w", "stop"], pgdata=server.pgdata, user=server.system_user)


def _start(server) -> None:
    with server._lock:
        server.ensure_postgres_running()


def _kpi_runs(url: str) -> int:
    with psycopg.connect(url) as connection:
        return connection.execute("SELECT count(*) FROM kpis_kpirun WHERE finished_at IS NOT NULL").fetchone()[0]


def _eventually(check, timeout: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.3)


def test_postgresql_restarted_under_the_web_server_and_the_worker(private_postgres, tmp_path):
    from kpis.tasks import refresh_kpis

    env, url, token = private_postgres["env"], private_postgres["url"], private_postgres["token"]
    port = free_port()
    commands = processes(port)
    web = Process(commands["web"].split(), env, tmp_path / "web.log")
    worker = Process(commands["worker"].split(), env, tmp_path / "worker.log")
    try:
        worker.wait_for_output("ready.")
        base = f"http://127.0.0.1:{port}"
        _eventually(lambda: _get(base + "/healthz") is not None, what=web.output()[-2000:])
        api = {"Authorization": f"Token {token}"}
        # The desk's cookies are Secure; over plain HTTP on loopback the test hands them back itself.
        csrf = requests.get(base + "/accounts/login/").cookies["csrftoken"]
        form = {"username": "fault", "password": "correct horse battery staple", "csrfmiddlewaretoken": csrf}
        login = requests.post(base + "/accounts/login/", form, cookies={"csrftoken": csrf}, allow_redirects=False)
        browser = requests.Session()
        browser.cookies.set("sessionid", login.cookies.get("sessionid"))
        assert login.status_code == 302
        assert requests.get(base + "/api/tickets/", headers=api).status_code == 200
        assert browser.get(base + "/tickets/", allow_redirects=False).status_code == 200
        refresh_kpis.delay()
        _eventually(lambda: _kpi_runs(url) == 1, what=worker.output()[-2000:])

        _stop(private_postgres["server"])

        health = requests.get(base + "/healthz")
        assert health.status_code == 503 and health.json()["database"] != "ok"
        page = browser.get(base + "/tickets/", allow_redirects=False)
        assert page.status_code == 503 and page.headers["Retry-After"] == "30"
        assert "Temporarily unavailable" in page.text and "Traceback" not in page.text
        answer = requests.get(base + "/api/tickets/", headers=api)
        assert answer.status_code == 503 and "detail" in answer.json()

        _start(private_postgres["server"])

        # Neither process is restarted: their next connections simply work again.
        _eventually(lambda: requests.get(base + "/healthz").status_code == 200, what=web.output()[-2000:])
        assert browser.get(base + "/tickets/", allow_redirects=False).status_code == 200
        assert requests.get(base + "/api/tickets/", headers=api).status_code == 200
        refresh_kpis.delay()
        _eventually(lambda: _kpi_runs(url) == 2, what=worker.output()[-3000:])
        assert web.popen.poll() is None and worker.popen.poll() is None
    finally:
        web.stop()
        worker.stop()


def _get(url: str):
    try:
        return requests.get(url, timeout=2)
    except requests.ConnectionError:
        return None
