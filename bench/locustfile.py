"""Load for ``bench/load_bench.py`` (locust): agents in the browser, systems on the API, customers
answering surveys. Endpoints are named by route, so the figures group by what was asked.

The desk's cookies are Secure; on plain HTTP over loopback the users hand them back themselves.
"""

from __future__ import annotations

import os
import random
import re
from itertools import count

import gevent
from answers import SURVEY
from locust import HttpUser, between, constant_pacing, task
from locust.exception import StopUser

SESSIONS = os.environ["BENCH_SESSIONS"].split(",")
API_TOKENS = os.environ["BENCH_API_TOKENS"].split(",")
TOKENS: list[str] = []  # the survey links of the phase that answers them
if os.environ.get("BENCH_TOKENS"):
    with open(os.environ["BENCH_TOKENS"], encoding="utf-8") as _file:
        TOKENS = [line.strip() for line in _file if line.strip()]
_next_token = count()


class Agent(HttpUser):
    """Browses the queue (pages, filters, search) and opens tickets."""

    fixed_count = 50
    wait_time = between(2, 8)

    def on_start(self):
        self.client.cookies.set("sessionid", random.choice(SESSIONS))
        self.ids: list[str] = []

    @task(4)
    def queue(self):
        query = random.choice(
            [
                "",
                "",
                "?status=open",
                "?priority=high",
                "?overdue=1",
                "?page=2",
                f"?q=SR-B-{random.randrange(1, 10**6):08d}",
            ]
        )  # a reference read out on the phone
        page = self.client.get("/tickets/" + query, name="/tickets/")
        self.ids = re.findall(r'href="/tickets/(\d+)/"', page.text)[:25] or self.ids

    @task(3)
    def ticket(self):
        if self.ids:
            self.client.get(f"/tickets/{random.choice(self.ids)}/", name="/tickets/<id>/")


class System(HttpUser):
    """A CRM or phone system: creates tickets through the API and resolves them."""

    fixed_count = 10
    wait_time = between(1, 3)

    def on_start(self):
        self.client.headers["Authorization"] = f"Token {random.choice(API_TOKENS)}"
        self.team = self.client.get("/api/tickets/?page_size=1", name="/api/tickets/").json()["results"][0]["team"]

    @task
    def create_and_resolve(self):
        created = self.client.post("/api/tickets/", json={
            "subject": "压测工单 洗衣机漏水", "category": "repair", "channel": "phone", "priority": "normal",
            "team": self.team, "customer": {"name": "压测客户", "email": f"load{random.randrange(10**6)}@example.com"},
        }, name="/api/tickets/")  # fmt: skip
        if created.status_code == 201:
            pk = created.json()["id"]
            self.client.post(f"/api/tickets/{pk}/resolve/", json={"note": "已处理"}, name="/api/tickets/<id>/resolve/")


class Customer(HttpUser):
    """The survey burst, all at once (a phase of its own in load_bench.py): each customer opens
    their own link and submits it once, the next one as soon as the previous answer is back."""

    wait_time = between(0, 0.05)

    @task
    def answer(self):
        index = next(_next_token)
        if index >= len(TOKENS):
            # later, and not from inside a user: the others finish the answer they are giving
            if index == len(TOKENS):
                gevent.spawn_later(5, self.environment.runner.quit)
            raise StopUser
        path = f"/s/{TOKENS[index]}/"
        self.client.get(path, name="/s/<token>/ GET")
        self.client.post(path, SURVEY, name="/s/<token>/ POST")


class ArrivingCustomer(Customer):
    """The survey burst as it reaches a desk after a mass mailing: the same 1,000 answers, arriving
    17 a second over about a minute. Each locust user answers one link after another, one every
    ``BENCH_PACING`` seconds (3 s for the default 50 users; they start 1/17 s apart)."""

    wait_time = constant_pacing(float(os.environ.get("BENCH_PACING", "3")))


class Probe(HttpUser):
    """The load generator's own latency: ``/healthz`` (a few milliseconds of work) at the rate and
    concurrency of phase 2, one request every ``BENCH_PACING`` seconds per user."""

    wait_time = constant_pacing(float(os.environ.get("BENCH_PACING", "1")))

    @task
    def probe(self):
        self.client.get("/healthz", name="/healthz")
