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
       'bench@example.com', 'zh-hans', LEAST(t.resolved_at + interval '5 minutes', now()),
       t.resolved_at + interval '14 days',
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


#: 30 tags (product batches and the like); a fifth of the tickets carry one, a tenth of those two.
LOAD_TAGS = """
INSERT INTO tickets_tag (name) SELECT '批次 ' || lpad(g::text, 2, '0') FROM generate_series(1, 30) g;
WITH tags AS (SELECT array_agg(id ORDER BY id) AS ids FROM tickets_tag)
INSERT INTO tickets_ticket_tags (ticket_id, tag_id)
SELECT t.id, tags.ids[1 + (t.id * 7) % 30] FROM tickets_ticket t, tags WHERE t.id % 5 = 0
UNION ALL
SELECT t.id, tags.ids[1 + (t.id * 7 + 11) % 30] FROM tickets_ticket t, tags WHERE t.id % 50 = 0;
"""


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


#: The same-scope floor: for each source, the least work that touches every row the engine reads
#: once — its rows and joins grouped at the finest grain of the slices (day × every dimension);
#: the backlog is a second pass over the tickets, by the day they leave it.
FLOOR_SQL = {
    "tickets": """
        SELECT (t.requested_at AT TIME ZONE 'Asia/Shanghai')::date AS day, t.team_id, t.assignee_id, t.category_id,
               t.channel, t.priority, count(*)
        FROM tickets_ticket t GROUP BY 1, 2, 3, 4, 5, 6""",
    "responses": """
        SELECT (r.submitted_at AT TIME ZONE 'Asia/Shanghai')::date AS day, t.team_id, t.assignee_id, t.category_id,
               t.channel, t.priority, r.channel AS via, count(*)
        FROM surveys_surveyresponse r JOIN tickets_ticket t ON t.id = r.ticket_id GROUP BY 1, 2, 3, 4, 5, 6, 7""",
    "invitations": """
        SELECT (i.created_at AT TIME ZONE 'Asia/Shanghai')::date AS day, t.team_id, t.assignee_id, t.category_id,
               t.channel, t.priority, count(*)
        FROM surveys_surveyinvitation i JOIN tickets_ticket t ON t.id = i.ticket_id GROUP BY 1, 2, 3, 4, 5, 6""",
    "backlog": """
        SELECT (t.resolved_at AT TIME ZONE 'Asia/Shanghai')::date AS day, t.team_id, t.assignee_id, t.category_id,
               t.channel, t.priority, count(*)
        FROM tickets_ticket t GROUP BY 1, 2, 3, 4, 5, 6""",
    "complaints": """
        SELECT (c.opened_at AT TIME ZONE 'Asia/Shanghai')::date AS day, t.team_id, t.assignee_id, t.category_id,
               t.channel, t.priority, c.root_cause_id, count(*)
        FROM complaints_complaint c JOIN tickets_ticket t ON t.id = c.ticket_id GROUP BY 1, 2, 3, 4, 5, 6, 7""",
}


def floor_seconds() -> float:
    """The floor of a full rebuild, each source's statement in the engine's transaction settings."""
    from django.db import connection, transaction

    def run():
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL work_mem = '128MB'")
            cursor.execute("SET LOCAL jit = off")
            for name, sql in FLOOR_SQL.items():
                cursor.execute(f"CREATE TEMP TABLE floor_{name} ON COMMIT DROP AS {sql}")

    return timed(run, repeat=3)


def change_tickets(count: int) -> None:
    """``count`` tickets of the last 90 days change, as late answers and resolutions do: half of
    them resolved now, half answered now (a quarter of those reassigned to another agent)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE tickets_ticket SET status = 'resolved', resolved_at = now(), updated_at = now(),
                   resolution_working_seconds = 3600 + (random() * 86400)::int
            WHERE id IN (SELECT id FROM tickets_ticket TABLESAMPLE SYSTEM (5)
                         WHERE resolved_at IS NULL AND requested_at > now() - interval '90 days'
                         ORDER BY random() LIMIT %s)
            """,
            [count // 2],
        )
        cursor.execute(
            """
            UPDATE tickets_ticket SET first_response_at = requested_at + interval '1 hour', updated_at = now(),
                   first_response_working_seconds = 3600,
                   assignee_id = CASE WHEN random() < 0.25 THEN (SELECT user_id FROM tickets_team_members
                                                                ORDER BY random() LIMIT 1) ELSE assignee_id END
            WHERE id IN (SELECT id FROM tickets_ticket TABLESAMPLE SYSTEM (1)
                         WHERE requested_at > now() - interval '90 days' ORDER BY random() LIMIT %s)
            """,
            [count - count // 2],
        )


def store_size() -> tuple[int, int, float]:
    """Rows of the store, rows with a histogram, and its size in MB (table, indexes and TOAST)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), count(hist_keys), pg_total_relation_size('kpis_kpivalue') / 1048576.0 FROM kpis_kpivalue"
        )
        return cursor.fetchone()


def breakdown_medians_seconds() -> float:
    """Every breakdown table of the dashboard, medians included, for the last 365 days."""
    from datetime import timedelta

    from django.utils import timezone

    from kpis.selectors import breakdowns
    from kpis.views import BREAKDOWNS

    end = timezone.localdate() + timedelta(days=1)
    stored = [dimension for dimension in BREAKDOWNS if dimension != "tag"]  # the tag table: ``tag_seconds``
    return timed(lambda: breakdowns(stored, end - timedelta(days=365), end), repeat=5)


def tag_seconds(days: int, requests: int = 20) -> list[float]:
    """The dashboard's breakdown by tag over the last ``days``, medians included, from the stored values."""
    from datetime import timedelta

    from django.utils import timezone

    from kpis.selectors import breakdowns

    end = timezone.localdate() + timedelta(days=1)
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        assert breakdowns(["tag"], end - timedelta(days=days), end)["tag"]
        times.append(time.perf_counter() - started)
    return times


DASHBOARD_45_DAYS = "/dashboard/?period=custom&start={start}&end={end}"


def dashboard_times(requests: int = 50, *, rendered: bool, path: str = "/dashboard/?period=30d") -> list[float]:
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
        client.get(path)  # warm up
        for _ in range(requests):
            if rendered:
                caches["dashboards"].clear()
            started = time.perf_counter()
            response = client.get(path)
            times.append(time.perf_counter() - started)
            assert response.status_code == 200
    return times


def worker_peak_memory_mb(env: dict[str, str]) -> float:
    """A fresh process does a full recompute, as a worker would; its peak resident memory."""
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent across exec.
    script = (
        "import django; django.setup();"
        "from kpis.engine import refresh_kpis; refresh_kpis(full=True);"
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

    from kpis.engine import refresh_kpis
    from kpis.registry import KPIS

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
        cursor.execute("SELECT EXISTS (SELECT 1 FROM tickets_tag)")
        if not cursor.fetchone()[0]:  # (a database loaded before tags)
            step("tagging a fifth of the tickets (30 tags, a tenth of those with two)")
            cursor.execute(LOAD_TAGS)
            cursor.execute("ANALYZE tickets_ticket_tags")
        cursor.execute("SELECT count(*) FROM tickets_ticket")
        tickets = cursor.fetchone()[0]
        # Survey links are never sent in the future (databases loaded by earlier versions of this
        # benchmark had some, which every incremental run would read as changed).
        cursor.execute("UPDATE surveys_surveyinvitation SET created_at = now() WHERE created_at > now()")
        if args.reuse:  # the dead rows of earlier runs gone, as autovacuum leaves a live desk
            step("vacuuming")
            cursor.execute("VACUUM ANALYZE")

    step("timing the reference query and the floor")
    reference = reference_seconds()
    floor = floor_seconds()
    step("full rebuild")
    full = timed(lambda: refresh_kpis(full=True, progress=indented))
    rows, histograms, megabytes = store_size()
    incremental = {}
    from django.test.utils import override_settings

    # The measured runs read exactly the rows of the batch: a desk's run also re-reads the changes of
    # the KPI_RUN_OVERLAP_SECONDS before the previous run started, here the batch before.
    with override_settings(KPI_RUN_OVERLAP_SECONDS=0):
        for count in (100, 1000):
            step(f"incremental run after {count:,} changed tickets of the last 90 days")
            refresh_kpis()  # what changed before is counted; only these changes are new
            change_tickets(count)
            incremental[count] = timed(lambda: refresh_kpis(progress=indented))
    step("dashboard, 50 requests each")
    call_command("collectstatic", interactive=False, verbosity=0)
    from datetime import timedelta

    from django.utils import timezone

    today = timezone.localdate()
    custom = DASHBOARD_45_DAYS.format(start=today - timedelta(days=44), end=today)
    times = dashboard_times(rendered=True, path=custom)
    again = dashboard_times(rendered=False, path=custom)
    month = dashboard_times(rendered=True)
    step("medians of every breakdown table for a year")
    year = breakdown_medians_seconds()
    step("the breakdown by tag, 45 days and a year")
    tags_45, tags_year = tag_seconds(45), tag_seconds(365, requests=5)
    step("worker memory")
    memory = worker_peak_memory_mb(env)

    def p95(samples: list[float]) -> float:
        return statistics.quantiles(samples, n=20)[18] * 1000

    def times_line(samples: list[float]) -> str:
        return f"median {statistics.median(samples) * 1000:.0f} ms, p95 {p95(samples):.0f} ms over {len(samples)}"

    print()
    print(f"KPI benchmark — {tickets:,} tickets, PostgreSQL {connection.pg_version // 10000}, {os.cpu_count()} cores")
    print(f"  floor (each source grouped at the finest grain, CREATE TABLE AS)  {floor:8.2f} s")
    print(f"  old reference SQL (day; day × agent, GROUPING SETS, percentiles) {reference:8.2f} s")
    print(f"  full rebuild ({len(KPIS)} KPIs × 3 granularities × every slice)     {full:8.2f} s   "
          f"= {full / floor:.1f}× the floor (target ≤ 3×), {full / reference:.1f}× the old reference")  # fmt: skip
    print(f"  incremental run after 100 changed tickets                       {incremental[100]:8.2f} s   "
          "(target ≤ 0.2 s)")  # fmt: skip
    print(f"  incremental run after 1,000 changed tickets                     {incremental[1000]:8.2f} s   "
          f"= {incremental[1000] / incremental[100]:.1f}× the 100 (target ≤ 10×)")  # fmt: skip
    print(f"  dashboard, 45-day custom range with medians, first view after a run: {times_line(times)} "
          "(target p95 ≤ 100 ms)")  # fmt: skip
    print(f"  dashboard, 45-day custom range, seen again before the next run:       {times_line(again)}")
    print(f"  dashboard, last 30 days, first view after a run:                      {times_line(month)}")
    print(f"  medians of every breakdown table for a year's range   {year * 1000:8.0f} ms  (target ≤ 100 ms)")
    print(f"  breakdown by tag (30 tags, a fifth of the tickets), 45 days:  {times_line(tags_45)}")
    print(f"  breakdown by tag, a year:                                      {times_line(tags_year)}")
    print(f"  store: {rows:,} values, {histograms:,} of them with a histogram, {megabytes:.1f} MB")
    print(f"  worker peak memory for a full rebuild                           {memory:8.0f} MB")


if __name__ == "__main__":
    main()
