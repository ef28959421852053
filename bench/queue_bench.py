"""Workbench benchmark: the queue's views, the customer search and a bulk action, server time.

    make bench-queue            # on the 1,000,000 tickets of make bench-kpis (load them first)

Runs on the KPI benchmark's database (``<name>_bench``), in process: each figure is the time
Django takes to answer the request (no network, no load generator), median and p95 of 30
requests after 3 to warm up, for an agent of the largest team and for a manager. Printed beside
them, measured in the same run: ``/healthz`` (the floor of any page) and the queue as it was
before the views (all tickets, newest first).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
sys.path.insert(0, str(BASE_DIR / "bench"))

REPEAT, WARM = 30, 3


def timed(call) -> list[float]:
    for _ in range(WARM):
        call()
    times = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        response = call()
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code in (200, 302), response.status_code
    return times


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.95) - 1)]


def main() -> None:
    from kpis_bench import bench_database_url

    os.environ["DATABASE_URL"] = bench_database_url()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["ALLOWED_HOSTS"] = "testserver"
    os.environ["SECURE_SSL_REDIRECT"] = "false"
    os.environ["RATELIMIT_ENABLE"] = "false"
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Count
    from django.test import Client

    from tickets.access import MANAGERS_GROUP
    from tickets.models import Customer, Team, Ticket

    call_command("migrate", verbosity=0)
    tickets = Ticket.objects.count()
    if tickets < 1000:
        raise SystemExit("Load the tickets first: make bench-kpis (it leaves its database for this benchmark).")
    team = Team.objects.annotate(n=Count("tickets")).order_by("-n").first()
    busiest = (
        Ticket.objects.filter(team=team, status__in=["new", "open", "pending"], assignee__isnull=False)
        .values("assignee").annotate(n=Count("id")).order_by("-n").first()
    )  # fmt: skip
    agent = get_user_model().objects.get(pk=busiest["assignee"]) if busiest else team.members.first()
    manager = Group.objects.get_or_create(name=MANAGERS_GROUP)[0].user_set.first() or team.supervisor
    if manager is None or not manager.groups.filter(name=MANAGERS_GROUP).exists():
        manager = team.supervisor
        manager.groups.add(Group.objects.get(name=MANAGERS_GROUP))
    phone = Customer.objects.exclude(phone="").values_list("phone", flat=True).first()
    as_agent, as_manager = Client(), Client()
    as_agent.force_login(agent)
    as_manager.force_login(manager)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tickets_customer")

    rows = []

    def measure(label: str, client, path: str, **headers) -> None:
        times = timed(lambda: client.get(path, **headers))
        rows.append((label, path, statistics.median(times), p95(times)))
        print(f"[bench] {label}: median {rows[-1][2]:.1f} ms, p95 {rows[-1][3]:.1f} ms", flush=True)

    measure("reference: /healthz", as_agent, "/healthz")
    measure("reference: the queue before the views (all, newest first)", as_agent, "/tickets/?view=all")
    measure("agent: default view (my open tickets, next due first)", as_agent, "/tickets/")
    measure("agent: a saved view (unassigned repairs, next due first)", as_agent,
            "/tickets/?view=unassigned&category=repair&sort=due")  # fmt: skip
    measure("agent: overdue, most urgent first", as_agent, "/tickets/?view=overdue&sort=priority")
    measure("manager: ?status=open&priority=high", as_manager, "/tickets/?view=all&status=open&priority=high")
    measure("manager: API ticket list", as_manager, "/api/tickets/")
    measure("manager: API list ?status=open&priority=high", as_manager, "/api/tickets/?status=open&priority=high")
    measure("agent: customer search by phone prefix (5 digits)", as_agent, f"/tickets/customers/?q={phone[:5]}",
            HTTP_HX_REQUEST="true")  # fmt: skip
    measure("agent: customer search by name", as_agent, "/tickets/customers/?q=%E5%BC%A0%E4%BC%9F",
            HTTP_HX_REQUEST="true")  # fmt: skip

    member = team.members.order_by("id").first()
    unassigned = list(
        Ticket.objects.filter(team=team, status__in=["new", "open"]).exclude(assignee=member)
        .values_list("pk", flat=True)[:100]
    )  # fmt: skip
    started = time.perf_counter()
    response = as_manager.post("/tickets/bulk/", {"action": "assign", "assignee": member.username,
                                                  "tickets": unassigned})  # fmt: skip
    bulk_ms = (time.perf_counter() - started) * 1000
    assert response.status_code == 302
    moved = Ticket.objects.filter(pk__in=unassigned, assignee=member).count()

    print()
    print(f"Workbench at {tickets:,} tickets, server time in process (median / p95 of {REPEAT}), this machine")
    for label, _path, median, high in rows:
        print(f"  {label:<62} {median:>7.1f} ms {high:>7.1f} ms")
    print(f"  bulk: assign {len(unassigned)} tickets ({moved} done), each through its service    {bulk_ms:>7.0f} ms")


if __name__ == "__main__":
    main()
