"""KPI engine benchmark: load N tickets, then time the computations and the dashboard.

    make bench-kpis                       # 1,000,000 tickets (about 3 minutes to load here)
    make bench-kpis BENCH_ARGS="--tickets 100000"

It works in its own database (``<name>_bench`` next to DATABASE_URL's), prints the
figures, and leaves the database for a re-run with ``--reuse``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))


def bench_database_url() -> str:
    parts = urlsplit(os.environ["DATABASE_URL"])
    name = parts.path.lstrip("/") or "servicedesk"
    return urlunsplit(parts._replace(path=f"/{name}_bench"))


def step(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def ensure_database(url: str, reuse: bool) -> None:
    import psycopg
    from environ import Env

    config = Env.db_url_config(url)
    admin = dict(dbname="postgres", user=config["USER"] or "postgres", host=config["HOST"] or None,
                 port=config["PORT"] or None, password=config["PASSWORD"] or None, autocommit=True)  # fmt: skip
    admin.update({k: v for k, v in config.get("OPTIONS", {}).items() if k == "host"})
    with psycopg.connect(**{k: v for k, v in admin.items() if v is not None}) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]).fetchone()
        if exists and not reuse:
            conn.execute(f'DROP DATABASE "{config["NAME"]}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{config["NAME"]}"')


LOAD_TICKETS = """
WITH params AS (SELECT %(n)s::int AS n, now() AS now_at),
     cats AS (SELECT array_agg(id ORDER BY id) AS ids FROM tickets_category),
     teams AS (SELECT array_agg(id ORDER BY id) AS ids FROM tickets_team),
     agents AS (SELECT array_agg(user_id ORDER BY team_id, user_id) AS ids, count(*) AS k FROM tickets_team_members),
     base AS (
        SELECT g,
               p.now_at - (random() * interval '365 days') AS requested_at,
               exp(ln(45 * 60) + 0.9 * (sqrt(-2 * ln(random())) * cos(2 * pi() * random()))) AS response_s,
               exp(ln(20 * 3600) + 1.0 * (sqrt(-2 * ln(random())) * cos(2 * pi() * random()))) AS resolution_s,
               random() AS r1, random() AS r2, random() AS r3, random() AS r4
        FROM params p, generate_series(1, (SELECT n FROM params)) AS g
     )
INSERT INTO tickets_ticket (reference, subject, description, customer_id, product, serial_number, category_id,
    channel, priority, status, team_id, assignee_id, requested_at, first_response_at, resolved_at, closed_at,
    response_due_at, resolution_due_at, reopen_count, reassign_count, public_reply_count, repeat_count,
    labour_cost, logistics_cost, other_cost, created_at, updated_at)
SELECT 'SR-B-' || lpad(g::text, 8, '0'), '基准测试工单 ' || g, '', 1 + (g %% %(customers)s),
       '', '', (SELECT ids FROM cats)[1 + (g %% array_length((SELECT ids FROM cats), 1))],
       (ARRAY['phone','email','web','chat','social','walk_in'])[1 + (g %% 6)],
       (ARRAY['low','normal','normal','normal','high','urgent'])[1 + ((g / 7) %% 6)],
       CASE WHEN requested_at + make_interval(secs => response_s + resolution_s) < p.now_at AND r1 < 0.97
            THEN (CASE WHEN r2 < 0.8 THEN 'closed' ELSE 'resolved' END)
            WHEN requested_at + make_interval(secs => response_s) < p.now_at THEN 'open' ELSE 'new' END,
       (SELECT ids FROM teams)[1 + (g %% array_length((SELECT ids FROM teams), 1))],
       (SELECT ids FROM agents)[1 + (g %% (SELECT k FROM agents))],
       requested_at,
       CASE WHEN requested_at + make_interval(secs => response_s) < p.now_at
            THEN requested_at + make_interval(secs => response_s) END,
       CASE WHEN requested_at + make_interval(secs => response_s + resolution_s) < p.now_at AND r1 < 0.97
            THEN requested_at + make_interval(secs => response_s + resolution_s) END,
       NULL, requested_at + interval '2 hours', requested_at + interval '48 hours',
       CASE WHEN r3 < 0.05 THEN 1 ELSE 0 END, CASE WHEN r4 < 0.08 THEN 1 ELSE 0 END,
       1 + (r3 * 2.5)::int, CASE WHEN r4 > 0.97 THEN 1 ELSE 0 END,
       (30 + r2 * 370)::numeric(12, 2), (r3 * 150)::numeric(12, 2), 0, requested_at, requested_at
FROM base, params p
ORDER BY requested_at  -- a desk's table fills in time order
"""

LOAD_SURVEYS = """
INSERT INTO surveys_surveyinvitation (ticket_id, template_id, nonce, token_hash, email, language, created_at,
    expires_at, first_opened_at, open_count, reminder_sent_at, answered_at)
SELECT t.id, (SELECT id FROM surveys_surveytemplate WHERE is_active), md5(t.id::text), md5('h' || t.id::text),
       'bench@example.com', 'zh-hans', t.resolved_at + interval '5 minutes', t.resolved_at + interval '14 days',
       NULL, 0, NULL,
       CASE WHEN random() < 0.36 AND t.resolved_at + interval '10 hours' < now()
            THEN t.resolved_at + interval '10 hours' END
FROM tickets_ticket t WHERE t.resolved_at IS NOT NULL AND random() < 0.9
ORDER BY t.resolved_at;
INSERT INTO surveys_surveyresponse (invitation_id, ticket_id, template_id, answers, overall, nps, contact_name,
    contact_details, submitted_at, channel)
SELECT i.id, i.ticket_id, i.template_id, '{}'::jsonb, o.overall,
       LEAST(10, GREATEST(0, (ARRAY[1, 3, 6, 8, 9])[o.overall] + (random() * 2)::int - 1)), '', '', i.answered_at,
       'email'
FROM surveys_surveyinvitation i
CROSS JOIN LATERAL (SELECT (ARRAY[5,5,5,5,5,5,4,4,4,3,2,1])[1 + (random() * 11)::int] AS overall
                    WHERE i.id > 0) o
WHERE i.answered_at IS NOT NULL
ORDER BY i.answered_at;
"""

#: The best single hand-written aggregate: one scan, GROUPING SETS (day; day × agent), percentiles on float epochs.
REFERENCE_SQL = """
SELECT date_trunc('day', requested_at AT TIME ZONE 'Asia/Shanghai') AS day, assignee_id,
       count(*) AS tickets,
       count(*) FILTER (WHERE status IN ('resolved', 'closed')) AS resolved,
       avg(date_part('epoch', first_response_at - requested_at)) AS avg_response,
       percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY date_part('epoch', first_response_at - requested_at))
FROM tickets_ticket
GROUP BY GROUPING SETS ((1), (1, 2))
"""


def load(n: int) -> None:
    from django.core.management import call_command
    from django.db import connection

    step("migrating and creating teams and people")
    call_command("migrate", verbosity=0)
    with open(os.devnull, "w") as quiet:
        call_command("seed_demo", tickets=0, verbosity=0, stdout=quiet)
    customers = max(1000, n // 3)
    with connection.cursor() as cursor:
        step(f"loading {customers:,} customers")
        cursor.execute(
            "INSERT INTO tickets_customer (name, email, phone, preferred_language, created_at) "
            "SELECT '客户' || g, 'c' || g || '@example.com', '100' || lpad(g::text, 8, '0'), 'zh-hans', now() "
            "FROM generate_series(1, %s) g",
            [customers],
        )
        cursor.execute("SELECT min(id) FROM tickets_customer")
        first_customer = cursor.fetchone()[0]
        started = time.perf_counter()
        step(f"loading {n:,} tickets")
        cursor.execute(LOAD_TICKETS.replace("1 + (g %% %(customers)s)", f"{first_customer} + (g %% {customers})"),
                       {"n": n})  # fmt: skip
        step(f"  … in {time.perf_counter() - started:.1f} s; loading survey invitations and answers")
        cursor.execute(LOAD_SURVEYS)
        cursor.execute("UPDATE tickets_ticket SET closed_at = resolved_at + interval '3 days' WHERE status = 'closed'")
        step("opening the complaints of complaint-category tickets, as the desk does")
        from complaints.services import open_missing_complaints

        open_missing_complaints()
        step("due times and working-time durations on the desk's calendar (recompute_working_time)")
        call_command("recompute_working_time", batch=5000, stdout=open(os.devnull, "w"))  # noqa: SIM115
        step("analysing")
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("SELECT count(*) FROM tickets_ticket")
        step(f"loaded: {cursor.fetchone()[0]:,} tickets in {time.perf_counter() - started:.1f} s")


def indented(message: str) -> None:
    print(f"          {message}", flush=True)


def timed(function, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return best


def reference_seconds() -> float:
    from django.db import connection

    def run():
        with connection.cursor() as cursor:
            cursor.execute("SET work_mem = '128MB'")  # as the engine has it
            cursor.execute(REFERENCE_SQL)
            cursor.fetchall()

    return timed(run, repeat=3)


def touch_100_tickets() -> None:
    """50 tickets of the last month answered and resolved today, 50 of today's tickets answered."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE tickets_ticket SET status = 'resolved', resolved_at = now(), updated_at = now()
            WHERE id IN (SELECT id FROM tickets_ticket
                         WHERE resolved_at IS NULL AND requested_at BETWEEN now() - interval '30 days'
                                                                     AND now() - interval '2 days'
                         ORDER BY random() LIMIT 50)
            """
        )
        cursor.execute(
            """
            UPDATE tickets_ticket SET first_response_at = now(), status = 'open', updated_at = now()
            WHERE id IN (SELECT id FROM tickets_ticket ORDER BY requested_at DESC LIMIT 50)
            """
        )


def dashboard_times(requests: int = 50, *, rendered: bool) -> list[float]:
    """Server time of the dashboard page: each request as the first view after a KPI run (the
    body rendered from the stored values), or as a view seen again before the next run."""
    from django.contrib.auth import get_user_model
    from django.core.cache import caches
    from django.test import Client
    from django.test.utils import override_settings

    client = Client()
    client.force_login(get_user_model().objects.get(username="manager"))
    times = []
    with override_settings(SECURE_SSL_REDIRECT=False, ALLOWED_HOSTS=["testserver"]):
        client.get("/dashboard/?period=30d")  # warm up
        for _ in range(requests):
            if rendered:
                caches["dashboards"].clear()
            started = time.perf_counter()
            response = client.get("/dashboard/?period=30d")
            times.append(time.perf_counter() - started)
            assert response.status_code == 200
    return times


def worker_peak_memory_mb(env: dict[str, str]) -> float:
    """A fresh process does a full recompute, as a worker would; its peak resident memory."""
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent across exec.
    script = (
        "import django; django.setup();"
        "from kpis.services import refresh_kpis; refresh_kpis(full=True);"
        "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])"
    )
    out = subprocess.run([sys.executable, "-c", script], env=env, cwd=BASE_DIR, capture_output=True, text=True,
                         check=True)  # fmt: skip
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true", help="keep the loaded database from a previous run")
    args = parser.parse_args()

    url = bench_database_url()
    ensure_database(url, args.reuse)
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings", "DESK_BACKGROUND": "true"}
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from kpis.registry import KPIS
    from kpis.services import refresh_kpis

    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('tickets_ticket') IS NOT NULL")
        loaded = cursor.fetchone()[0]
        if loaded:
            cursor.execute("SELECT EXISTS (SELECT 1 FROM tickets_ticket)")
            loaded = cursor.fetchone()[0]
    if args.reuse and loaded:
        call_command("migrate", verbosity=0)  # a database kept from an earlier version of the desk
    else:
        load(args.tickets)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tickets_ticket")
        tickets = cursor.fetchone()[0]
        if args.reuse:  # the dead rows of earlier runs gone, as autovacuum leaves a live desk
            step("vacuuming")
            cursor.execute("VACUUM ANALYZE")

    step("timing the reference query")
    reference = reference_seconds()
    step("full recompute")
    full = timed(lambda: refresh_kpis(full=True, progress=indented))
    step("incremental recompute after 100 tickets changed")
    touch_100_tickets()
    incremental = timed(lambda: refresh_kpis(progress=indented))
    step("dashboard, 50 requests")
    call_command("collectstatic", interactive=False, verbosity=0)
    times = dashboard_times(rendered=True)
    again = dashboard_times(rendered=False)
    step("worker memory")
    memory = worker_peak_memory_mb(env)

    def p95(samples: list[float]) -> float:
        return statistics.quantiles(samples, n=20)[18] * 1000

    print()
    print(f"KPI benchmark — {tickets:,} tickets, PostgreSQL {connection.pg_version // 10000}, {os.cpu_count()} cores")
    print(f"  reference SQL (day; day × agent, GROUPING SETS, percentiles)   {reference:8.2f} s")
    print(f"  full recompute ({len(KPIS)} KPIs × 3 granularities × every dimension)  {full:8.2f} s   "
          f"= {full / reference:.1f}× the reference (target ≤ 3×)")  # fmt: skip
    print(f"  incremental recompute after 100 changed tickets (old and new)  {incremental:8.2f} s   (target ≤ 0.5 s)")
    print(f"  dashboard /dashboard/?period=30d, first view after a run: "
          f"median {statistics.median(times) * 1000:.0f} ms, p95 {p95(times):.0f} ms over {len(times)} requests "
          f"(target p95 ≤ 150 ms)")  # fmt: skip
    print(f"  dashboard /dashboard/?period=30d, seen again before the next run: "
          f"median {statistics.median(again) * 1000:.0f} ms, p95 {p95(again):.0f} ms")  # fmt: skip
    print(f"  worker peak memory for a full recompute                        {memory:8.0f} MB")


if __name__ == "__main__":
    main()
