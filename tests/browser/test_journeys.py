"""The three journeys, in Chromium, against the processes ``make run`` starts (gunicorn, a Celery
worker and Celery beat) on the test database and the broker, with e-mail going to a real SMTP
server on loopback. Each journey runs in both languages.

1. An agent logs a phone ticket, replies and resolves it; the customer's e-mails arrive by SMTP.
2. The customer follows the survey link from that e-mail on a phone, answers unhappily and is
   thanked; the complaint it opens is on the supervisor's board.
3. After the next scheduled KPI run the manager sees the figure on the dashboard, drills into it,
   finds a ticket list of the same count, and exports the table as CSV.
"""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.auth.models import Group
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from config.embedded import processes
from kpis.models import KPIRun
from tests.factories import TeamFactory, UserFactory
from tests.integration.conftest import test_database_url as database_url_for_tests
from tests.smtp import SMTPServer, free_port
from tickets.access import MANAGERS_GROUP
from tickets.models import Category, Ticket

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.xdist_group("servers"),
]

BASE_DIR = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery staple"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
WORDS = {
    "zh-hans": {"accept": "zh-CN,zh;q=0.9", "thanks": "感谢您的反馈", "submit": "提交"},
    "en": {"accept": "en-US,en;q=0.9", "thanks": "Thank you for your feedback", "submit": "Submit"},
}


@pytest.fixture
def desk(tmp_path):
    """web, worker and beat as ``make run`` starts them, on a free port; e-mail to an SMTP server."""
    smtp = SMTPServer()
    smtp.start()
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_tests(),
        "DEBUG": "true",
        "SITE_URL": f"http://localhost:{port}",
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp.port}",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    started = []
    for name, command in processes(port).items():
        log = (tmp_path / f"{name}.log").open("w")
        started.append((name, subprocess.Popen(command.split(), cwd=BASE_DIR, env=env, stdout=log,
                                               stderr=subprocess.STDOUT), tmp_path / f"{name}.log"))  # fmt: skip
    _wait_for_port(port, started)
    yield {"url": f"http://localhost:{port}", "smtp": smtp, "logs": [log for _n, _p, log in started]}
    for _name, process, _log in started:
        process.terminate()
    for _name, process, _log in started:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
    smtp.stop()


def _wait_for_port(port: int, started, timeout: float = 60) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, process, log in started:
            assert process.poll() is None, f"{name} exited:\n{log.read_text()[-3000:]}"
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError("the web process did not start")


@pytest.fixture
def people():
    agent = UserFactory(username="lilei", first_name="李雷", password=PASSWORD)
    supervisor = UserFactory(username="hanmeimei", first_name="韩梅梅", password=PASSWORD)
    manager = UserFactory(username="wanglaoshi", first_name="王老师", password=PASSWORD)
    manager.groups.add(Group.objects.get_or_create(name=MANAGERS_GROUP)[0])
    # The test process hashes with MD5 for speed; the desk's own processes know only the real hashers.
    for user in (agent, supervisor, manager):
        user.password = PBKDF2PasswordHasher().encode(PASSWORD, "journeysalt", iterations=1000)
        user.save(update_fields=["password"])
    team = TeamFactory(name="热线服务组", supervisor=supervisor)
    team.members.add(agent)
    # The KPI job every few seconds instead of every five minutes: beat itself runs it.
    every, _ = IntervalSchedule.objects.get_or_create(every=3, period=IntervalSchedule.SECONDS)
    job = PeriodicTask.objects.get(task="kpis.tasks.refresh_kpis")
    job.interval = every
    job.save()
    return {"agent": agent, "supervisor": supervisor, "manager": manager, "team": team}


def _log_in(page, url: str, username: str) -> None:
    page.goto(url + "/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/tickets/"))


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_three_journeys(desk, people, page_factory, language):
    url, smtp, words = desk["url"], desk["smtp"], WORDS[language]

    # 1. The agent logs a phone ticket, replies and resolves it.
    agent_page = page_factory(locale="zh-CN" if language == "zh-hans" else "en-US",
                              extra_http_headers={"Accept-Language": words["accept"]})  # fmt: skip
    _log_in(agent_page, url, "lilei")
    agent_page.goto(url + "/tickets/new/")
    agent_page.fill("input[name=customer_name]", "张三")
    agent_page.fill("input[name=customer_email]", "zhangsan@example.com")
    agent_page.select_option("select[name=customer_language]", language)
    agent_page.fill("input[name=subject]", "冰箱不制冷 <b>急</b>")
    agent_page.select_option("select[name=category]", str(Category.objects.get(slug="repair").pk))
    agent_page.select_option("select[name=channel]", "phone")
    agent_page.select_option("select[name=team]", str(people["team"].pk))
    agent_page.locator("main form button[value=open]").click()
    agent_page.wait_for_url(re.compile(r"/tickets/\d+/$"))
    ticket = Ticket.objects.get()
    agent_page.fill("form[action$='/reply/'] textarea[name=body]", "师傅明天上午上门。")
    agent_page.locator("form[action$='/reply/'] button").click()
    agent_page.wait_for_selector("form[action$='/resolve/']")
    agent_page.fill("form[action$='/resolve/'] textarea[name=note]", "已更换温控器")
    agent_page.locator("form[action$='/resolve/'] button").click()
    agent_page.wait_for_load_state()
    ticket.refresh_from_db()
    assert ticket.status == "resolved"
    messages = smtp.wait_for(2, timeout=60)  # the reply and the survey invitation, sent by the worker
    assert {m["To"] for m in messages} == {"zhangsan@example.com"}
    invitation = next(m for m in messages if "/s/" in smtp.text_of(m))

    # 2. The customer answers on a phone, unhappily; the complaint reaches the supervisor's board.
    link = re.search(r"http://\S+/s/[\w-]+/", smtp.text_of(invitation)).group(0)
    customer = page_factory(**PHONE)
    customer.goto(link)
    assert "冰箱不制冷 <b>急</b>" in customer.locator(".ticket-ref").inner_text()
    for key in ("attitude", "speed", "professionalism", "problem_solving", "helpfulness", "overall"):
        customer.locator(f"#q-{key} label.option").last.click()  # the worst answer
    customer.locator("#q-nps label.option").nth(2).click()
    customer.get_by_role("button", name=words["submit"]).click()
    customer.wait_for_selector(".notice h1")
    assert words["thanks"] in customer.locator(".notice h1").inner_text()
    answered = timezone.now()  # the answer and its follow-up ticket are committed by now
    supervisor = page_factory(extra_http_headers={"Accept-Language": words["accept"]})
    _log_in(supervisor, url, "hanmeimei")
    supervisor.goto(url + "/complaints/")
    assert ticket.reference in supervisor.locator("table.queue").inner_text()  # the follow-up complaint

    # 3. After the next scheduled KPI run, the manager drills into a figure and exports the table.
    deadline = time.monotonic() + 60
    while not KPIRun.objects.filter(finished_at__isnull=False, started_at__gt=answered).exists():
        assert time.monotonic() < deadline, desk["logs"][2].read_text()[-3000:]  # beat's log
        time.sleep(0.5)
    manager = page_factory(extra_http_headers={"Accept-Language": words["accept"]}, accept_downloads=True)
    _log_in(manager, url, "wanglaoshi")
    manager.goto(url + "/dashboard/?period=today")
    tile = manager.locator("#kpi-workload .tile-value a")
    figure = int(tile.inner_text().replace(",", ""))
    assert figure == Ticket.objects.count() == 2  # the ticket and the complaint's follow-up ticket
    tile.click()
    manager.wait_for_url(re.compile(r"/tickets/\?kpi=workload"))
    count = int(re.search(r"\d+", manager.locator("p.count").inner_text()).group(0))
    assert count == figure
    manager.goto(url + "/dashboard/?period=today")
    with manager.expect_download() as download:
        manager.locator("a[href*='/dashboard/export/summary.csv']").click()
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    workload_column = next(i for i, name in enumerate(rows[0]) if name.startswith(("工作量", "Workload")))
    assert float(rows[1][workload_column]) == figure
