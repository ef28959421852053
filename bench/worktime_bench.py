"""Working-time arithmetic benchmark: the cost of SLA clocks on a service calendar.

    .venv/bin/python bench/worktime_bench.py                  # 1,000,000 synthetic tickets
    .venv/bin/python bench/worktime_bench.py --tickets 100000
    make bench-worktime                                       # the arithmetic, then the recompute below

With ``--recompute`` it also times ``manage.py recompute_working_time`` over the KPI
benchmark's database (``make bench-kpis`` loads it; loaded here if missing): once with the
desk's calendar open round the clock (the wall-clock reference: the same reads and writes,
the arithmetic's fast path) and once with office hours and China's holidays.

No database: it times the pure functions of ``tickets.worktime`` on the desk's default
calendar (weekdays 08:30–12:00 and 13:30–18:00, China's holidays and make-up workdays)
for tickets requested at random moments over two years, and prints each figure beside
its wall-clock reference measured in the same run:

- a due time: ``add_working_time`` vs ``requested + timedelta`` (µs per ticket);
- the stored durations of a recompute: two ``working_time_between`` per ticket vs the
  two subtractions of the wall-clock durations (seconds for all tickets, and the ratio;
  the issue's target is ≤ 3× — see docs/benchmarks.md for what the ratio measures).
"""

from __future__ import annotations

import argparse
import random
import sys
from datetime import datetime, timedelta
from pathlib import Path
from time import perf_counter
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tickets.holidays import _china
from tickets.worktime import Calendar, add_working_time, working_time_between

SH = ZoneInfo("Asia/Shanghai")
OFFICE = ((8 * 60 + 30, 12 * 60), (13 * 60 + 30, 18 * 60))


def progress(message: str) -> None:
    print(message, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--recompute", action="store_true", help="also time the recompute over the bench database")
    parser.add_argument("--queue", action="store_true", help="only time the queue page over the bench database")
    args = parser.parse_args()
    if args.queue:
        _bench_database()
        queue_with_and_without_time_left()
        return
    days_off, workdays = _china()
    calendar = Calendar(tz=SH, week=(OFFICE,) * 5 + ((), ()), days_off=days_off, extra_workdays=workdays)
    rng = random.Random(args.seed)
    origin = datetime(2025, 1, 1, tzinfo=SH)
    progress(f"making {args.tickets:,} tickets…")
    requested = [origin + timedelta(seconds=rng.randrange(0, 700 * 86400)) for _ in range(args.tickets)]
    responded = [r + timedelta(minutes=rng.lognormvariate(3.8, 0.9)) for r in requested]
    resolved = [r + timedelta(hours=rng.lognormvariate(3.0, 1.0)) for r in responded]
    target = timedelta(hours=48)

    progress("timing due times…")
    start = perf_counter()
    for r in requested:
        r + target
    wall_due = perf_counter() - start
    start = perf_counter()
    for r in requested:
        add_working_time(r, target, calendar)
    working_due = perf_counter() - start

    progress("timing the stored durations of a recompute…")
    start = perf_counter()
    for r, a, b in zip(requested, responded, resolved, strict=True):
        (a - r).total_seconds()
        (b - r).total_seconds()
    wall_durations = perf_counter() - start
    start = perf_counter()
    for r, a, b in zip(requested, responded, resolved, strict=True):
        working_time_between(r, a, calendar)
        working_time_between(r, b, calendar)
    working_durations = perf_counter() - start

    n = args.tickets
    print(f"\nWorking-time benchmark — {n:,} tickets, calendar with lunch breaks and China's holidays")
    print(
        f"  due time (48 working h)   {1e6 * working_due / n:7.2f} µs/ticket   wall clock {1e6 * wall_due / n:5.2f} µs"
    )
    print(f"  durations of a recompute  {working_durations:7.1f} s in all       wall clock {wall_durations:5.1f} s "
          f"(× {working_durations / wall_durations:.0f})")  # fmt: skip
    print(f"  per ticket                {1e6 * working_durations / n:7.2f} µs")
    if args.recompute:
        recompute(args.tickets)


def _bench_database() -> None:
    """Django on the KPI benchmark's database (``<name>_bench``, created empty if missing)."""
    import os

    from kpis_bench import bench_database_url, ensure_database

    url = bench_database_url()
    ensure_database(url, reuse=True)
    os.environ.update({"DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings", "DESK_BACKGROUND": "true"})
    import django

    django.setup()


def recompute(tickets: int) -> None:
    """Time the recompute command over the KPI benchmark's database, round the clock vs office hours."""
    import io

    from kpis_bench import load

    _bench_database()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from tickets.models import ServiceCalendar, Ticket

    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('tickets_ticket') IS NOT NULL")
        loaded = cursor.fetchone()[0] and Ticket.objects.exists()
    if loaded:
        call_command("migrate", verbosity=0)
    else:
        load(tickets)
    n = Ticket.objects.count()
    timings = {}
    for label, always_open in (("round the clock (wall-clock reference)", True), ("office hours, China", False)):
        ServiceCalendar.objects.filter(is_default=True).update(always_open=always_open, updated_at=timezone.now())
        progress(f"recomputing {n:,} tickets, {label}…")
        start = perf_counter()
        call_command("recompute_working_time", batch=5000, stdout=io.StringIO())
        timings[label] = perf_counter() - start
    wall, office = timings.values()
    print(f"\nRecompute of {n:,} tickets' due times and working-time durations (manage.py recompute_working_time)")
    for label, seconds in timings.items():
        print(f"  {label:40} {seconds:7.1f} s  ({n / seconds:,.0f} tickets/s)")
    print(f"  office hours ÷ round the clock: × {office / wall:.2f} (target ≤ 3)")
    queue_with_and_without_time_left()


def queue_with_and_without_time_left(views: int = 40) -> None:
    """The queue page as a manager sees it (25 newest of every ticket), rendered in this process (the
    server's own time), with the working-time column and without it, alternating."""
    from statistics import median, quantiles

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    import tickets.views

    settings.ALLOWED_HOSTS = ["*"]
    settings.SECURE_SSL_REDIRECT = False
    client = Client()
    client.force_login(get_user_model().objects.get(username="manager"))
    real = tickets.views.label_time_left
    times: dict[str, list[float]] = {"with the working-time column": [], "without it": []}
    client.get("/tickets/")  # warm
    for i in range(2 * views):
        label = "with the working-time column" if i % 2 == 0 else "without it"
        tickets.views.label_time_left = real if i % 2 == 0 else (lambda rows: None)
        start = perf_counter()
        assert client.get("/tickets/").status_code == 200
        times[label].append(1000 * (perf_counter() - start))
    tickets.views.label_time_left = real
    print(f"\nThe queue /tickets/ as a manager, {views} views each, rendered in-process (server time)")
    for label, samples in times.items():
        print(f"  {label:30} median {median(samples):6.1f} ms   p95 {quantiles(samples, n=20)[-1]:6.1f} ms")


if __name__ == "__main__":
    main()
