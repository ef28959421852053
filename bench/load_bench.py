"""Load benchmark: gunicorn on loopback, locust as a separate process, on the KPI benchmark's database.

    make bench-load                              # on the 1,000,000 tickets of make bench-kpis
    make bench-load BENCH_ARGS="--seconds 120 --workers 8"

Phase 1: 50 agents browse the queue and open tickets (a page every 2–8 s each, as people read what
they open) while 10 systems create and resolve tickets through the API (every 1–3 s each); users
arrive 5 a second. From 15 s in, while they work, 1,000 customers answer their survey, 17 a second,
sent by a plain client (one thread per customer, no event loop). Then a probe times ``/healthz`` (a
few milliseconds of work) at phase 2's users and rate from locust and from the plain client: what
the load generator adds to what it reports. Phase 2: a burst of 1,000 survey submissions arriving
over about a minute (each customer opens their link and submits it once; ``--survey-users`` locust
users send them, 50 by default), then the plain client sends another 1,000 the same way. Phase 3:
another 1,000, from 50 customers at once (each next one as soon as an answer is back): the server's
saturation. Prints requests per second, median/p95/p99 per endpoint and the errors, and for each
phase the CPU seconds the web server, PostgreSQL and the load generator used (they share the
machine's cores: what locust takes, the desk waits for). Rate limits are switched off for the run
(every request comes from one address); everything else runs as in production (DEBUG off, 4
gunicorn workers).
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
sys.path.insert(0, str(BASE_DIR / "bench"))


def step(message: str) -> None:
    print(f"[load] {message}", flush=True)


def survey_tokens(count: int) -> list[str]:
    """Links of unanswered invitations, as the customers received them. The KPI benchmark loads
    invitations with placeholder hashes (SQL has no SECRET_KEY): the ones used here get the hash of
    their real token first, and — so that runs after runs still find open links — as long to answer
    from now as they had when sent."""
    from django.db import transaction
    from django.db.models import F
    from django.utils import timezone

    from surveys.models import SurveyInvitation
    from surveys.services import hash_token, token_for

    invitations = list(SurveyInvitation.objects.filter(answered_at__isnull=True).order_by("-created_at")
                       .values_list("pk", "nonce")[:count])  # fmt: skip
    if len(invitations) < count:
        raise SystemExit(f"only {len(invitations):,} unanswered survey invitations left: run make bench-kpis again")
    tokens = []
    now = timezone.now()
    with transaction.atomic():
        for pk, nonce in invitations:
            token = token_for(nonce)
            SurveyInvitation.objects.filter(pk=pk).update(
                token_hash=hash_token(token), expires_at=now + (F("expires_at") - F("created_at"))
            )
            tokens.append(token)
    return tokens


def sessions_and_tokens() -> tuple[str, str]:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from rest_framework.authtoken.models import Token

    sessions, tokens = [], []
    for user in get_user_model().objects.filter(username__startswith="agent").order_by("username"):
        client = Client()
        client.force_login(user)
        sessions.append(client.cookies["sessionid"].value)
        tokens.append(Token.objects.get_or_create(user=user)[0].key)
    return ",".join(sessions), ",".join(tokens)


def wait_for(port: int, server: subprocess.Popen, timeout: float = 60) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, "gunicorn exited"
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.3)
    raise SystemExit("gunicorn did not start")


def locust(env: dict, host: str, classes: list[str], users: int, seconds: int, prefix: Path, rate: int) -> list[dict]:
    command = [sys.executable, "-m", "locust", "-f", str(BASE_DIR / "bench" / "locustfile.py"), *classes,
               "--headless", "--host", host, "-u", str(users), "-r", str(rate), "-t", f"{seconds}s",
               "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "5"]  # fmt: skip
    subprocess.run(command, env=env, cwd=BASE_DIR, check=False)
    with open(f"{prefix}_stats.csv", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


class CpuMeter:
    """CPU seconds used during a phase by the web server's processes, PostgreSQL's and the load
    generator's, from their accumulated user + system times, sampled twice a second (a process
    that ends between two samples loses at most its last half second)."""

    def __init__(self, server: subprocess.Popen):
        self.server = psutil.Process(server.pid)
        self.used: dict[int, tuple[str, float]] = {}
        self.started: dict[int, float] = {}
        self.running = False

    def _role(self, process: psutil.Process) -> str | None:
        if process.pid == self.server.pid or process.ppid() == self.server.pid:
            return "web (gunicorn)"
        if process.name().startswith("postgres"):
            return "PostgreSQL"
        if "locust" in " ".join(process.cmdline()):
            return "load generator (locust)"
        return None

    def _sample(self) -> None:
        for process in psutil.process_iter():
            try:
                role = self._role(process)
                if role is not None:
                    times = process.cpu_times()
                    self.started.setdefault(process.pid, times.user + times.system if not self.running else 0.0)
                    self.used[process.pid] = (role, times.user + times.system)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue

    def _loop(self) -> None:
        while self.running:
            self._sample()
            time.sleep(0.5)

    def __enter__(self) -> CpuMeter:
        self._sample()  # the processes already there count from now
        self.running = True
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()
        self.clock = time.monotonic()
        return self

    def __exit__(self, *exc) -> None:
        self.running = False
        self.thread.join()
        self.seconds = time.monotonic() - self.clock

    def summary(self) -> str:
        by_role: dict[str, float] = {}
        for pid, (role, total) in self.used.items():
            by_role[role] = by_role.get(role, 0.0) + total - self.started.get(pid, 0.0)
        shares = ", ".join(f"{role} {seconds:.1f} s" for role, seconds in sorted(by_role.items()))
        cores = os.cpu_count() or 1
        return f"  CPU: {shares} — of {cores} cores × {self.seconds:.0f} s = {cores * self.seconds:.0f} s"


#: Seconds into phase 1 when the survey answers sent meanwhile begin (the agents have all arrived).
MEANWHILE_AFTER = 15
#: gunicorn's access log, one line per request: method, path, time in microseconds
ACCESS_FORMAT = "%(m)s %(U)s %(D)s"
ROUTES = [(re.compile(p), name) for p, name in [
    (r"^/tickets/$", "/tickets/"), (r"^/tickets/\d+/$", "/tickets/<id>/"), (r"^/api/tickets/$", "/api/tickets/"),
    (r"^/api/tickets/\d+/resolve/$", "/api/tickets/<id>/resolve/"), (r"^/s/[^/]+/$", "/s/<token>/"),
    (r"^/healthz$", "/healthz"),
]]  # fmt: skip


def server_times(lines: list[str]) -> dict[str, list[float]]:
    """Milliseconds per endpoint as gunicorn timed them (named as the locustfile names them)."""
    times: dict[str, list[float]] = {}
    for line in lines:
        method, path, micros = line.split()
        for pattern, name in ROUTES:
            if pattern.match(path):
                key = f"{method} {name}" + (f" {method}" if name == "/s/<token>/" else "")
                times.setdefault(key, []).append(int(micros) / 1000)
    return times


class PlainClient:
    """Requests as a plain client sends them — one OS thread per user, no event loop — paced as the
    locust users are: user ``i`` starts ``i / rate`` seconds in and takes jobs ``i``, ``i + users``, …,
    one every ``users / rate`` seconds. Each job's requests are timed per endpoint."""

    def __init__(self, host: str):
        from urllib.parse import urlsplit

        address = urlsplit(host)
        self.hostname, self.port = address.hostname, address.port
        self.waits: dict[str, list[float]] = {}
        self.errors = 0
        self.lock = threading.Lock()

    def request(self, name: str, method: str, path: str, body: str | None = None,
                headers: dict[str, str] | None = None) -> str:  # fmt: skip
        from http.client import HTTPConnection, HTTPException

        started = time.perf_counter()
        connection = HTTPConnection(self.hostname, self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            text, failed = response.read().decode("utf-8", "replace"), response.status >= 400
        except (OSError, HTTPException):  # refused, reset, timed out: an error, as locust counts it
            text, failed = "", True
        finally:
            connection.close()
        with self.lock:
            self.waits.setdefault(name, []).append((time.perf_counter() - started) * 1000)
            self.errors += failed
        return text

    def run(self, jobs: list, work, users: int, rate: float) -> None:
        pacing = users / rate

        def user(index: int) -> None:
            due = time.monotonic() + index / rate
            for job in jobs[index::users]:
                time.sleep(max(0.0, due - time.monotonic()))
                work(job)
                due += pacing

        threads = [threading.Thread(target=user, args=(index,)) for index in range(users)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def answer_survey(client: PlainClient, token: str) -> None:
    """What ``locustfile.Customer.answer`` does: open the link, then submit the answers."""
    from urllib.parse import urlencode

    from answers import SURVEY, SURVEY_FORM

    path = f"/s/{token}/"
    page = client.request("GET /s/<token>/ GET", "GET", path)
    if SURVEY_FORM.search(page) is None:
        with client.lock:
            client.errors += 1
        return
    client.request("POST /s/<token>/ POST", "POST", path, urlencode(SURVEY),
                   {"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip


def quantile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


def show_plain(title: str, client: PlainClient, seconds: float, server: dict[str, list[float]]) -> int:
    """The plain client's waits in the table of ``show``."""
    print(f"\n{title}")
    for key, waits in sorted(client.waits.items()):
        measured = server.get(key, [])
        print(f"  {key:34} {len(waits):>9} {len(waits) / seconds:7.1f} {quantile(waits, 0.5):5.0f}ms "
              f"{quantile(waits, 0.95):5.0f}ms {quantile(waits, 0.99):5.0f}ms {'':>7} "
              f"{quantile(measured, 0.95):9.0f}ms")  # fmt: skip
    print(f"  errors: {client.errors}")
    return client.errors


def show(title: str, rows: list[dict], seconds: float, server: dict[str, list[float]]) -> int:
    """locust's figures per endpoint (what a user waits, the load generator included), and the p95 of
    the same requests in gunicorn's own log (the server's time)."""
    print(f"\n{title}")
    print(f"  {'endpoint':34} {'requests':>9} {'req/s':>7} {'median':>7} {'p95':>7} {'p99':>7} {'errors':>7}"
          f" {'server p95':>11}")  # fmt: skip
    errors = 0
    for row in rows:
        name = row["Name"] if row["Name"] != "Aggregated" else "all"
        errors += int(row["Failure Count"]) if name != "all" else 0
        key = f"{row['Type']} {name}"
        measured = sorted(server.get(key, []))
        p95 = f"{measured[int(len(measured) * 0.95)]:.0f}ms" if measured else "—"
        print(f"  {key if name != 'all' else 'all':34} {row['Request Count']:>9} "
              f"{float(row['Requests/s']):7.1f} {row['50%']:>5}ms {row['95%']:>5}ms {row['99%']:>5}ms "
              f"{row['Failure Count']:>7} {p95:>11}")  # fmt: skip
    return errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=90,
                        help="length of phase 1 (the survey answers sent meanwhile run from 15 s to 75 s)")  # fmt: skip
    parser.add_argument("--surveys", type=int, default=1000)
    parser.add_argument("--survey-users", type=int, default=50,
                        help="locust users sending phase 2's 17 answers a second between them")  # fmt: skip
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()

    from kpis_bench import bench_database_url

    url = bench_database_url()
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "false",
           "SECURE_SSL_REDIRECT": "false", "SECURE_HSTS_SECONDS": "0", "ALLOWED_HOSTS": "127.0.0.1",
           "RATELIMIT_ENABLE": "false", "LOG_LEVEL": "WARNING"}  # fmt: skip
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tickets_ticket")
        tickets = cursor.fetchone()[0]
    if tickets < 1000:
        raise SystemExit("load the tickets first: make bench-kpis (it leaves its database for this benchmark)")
    with open(os.devnull, "w") as quiet:
        call_command("seed_demo", tickets=0, verbosity=0, stdout=quiet)  # the demo logins and passwords
    call_command("collectstatic", interactive=False, verbosity=0)
    work = Path(tempfile.mkdtemp(prefix="desk-load-"))
    tokens = survey_tokens(4 * args.surveys)  # each burst answers links of its own
    meanwhile, arriving, again, at_once = (tokens[i * args.surveys : (i + 1) * args.surveys] for i in range(4))
    (work / "arriving.txt").write_text("\n".join(arriving))
    (work / "at_once.txt").write_text("\n".join(at_once))
    # Agents log in once a day, not in the measured minute: each user starts with a session (and each
    # system with a token) made here, so password hashing does not swamp the figures.
    env["BENCH_SESSIONS"], env["BENCH_API_TOKENS"] = sessions_and_tokens()
    connection.close()

    from tests.smtp import free_port

    port = free_port()
    step(f"{tickets:,} tickets; gunicorn with {args.workers} workers on 127.0.0.1:{port}")
    access = work / "access.log"
    command = [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
               "--workers", str(args.workers), "--log-level", "warning",
               "--access-logfile", str(access), "--access-logformat", ACCESS_FORMAT]  # fmt: skip
    server = subprocess.Popen(command, env=env, cwd=BASE_DIR)
    try:
        wait_for(port, server)
        host = f"http://127.0.0.1:{port}"
        step(f"phase 1: 50 agents and 10 API systems for {args.seconds} s; from {MEANWHILE_AFTER} s in, "
             f"{len(meanwhile):,} survey answers from a plain client")  # fmt: skip
        started = time.monotonic()
        answering = PlainClient(host)

        def answer_meanwhile() -> None:
            time.sleep(MEANWHILE_AFTER)  # the agents all arrived (5 a second)
            answering.run(meanwhile, lambda token: answer_survey(answering, token), args.survey_users, 17)

        answerer = threading.Thread(target=answer_meanwhile)
        with CpuMeter(server) as browse_cpu:
            answerer.start()
            browse = locust(env, host, ["Agent", "System"], 60, args.seconds, work / "browse", rate=5)
            answerer.join()
        browse_seconds = time.monotonic() - started
        logged = [len(access.read_text().splitlines())]
        step(f"the load generator's own latency: {args.survey_users} users, 34 requests a second to /healthz")
        rate, probe_seconds = 34, 20
        pacing = {"BENCH_PACING": str(args.survey_users / rate)}
        probe = locust({**env, **pacing}, host, ["Probe"], args.survey_users, probe_seconds, work / "probe", rate=rate)
        plain = PlainClient(host)
        plain.run(list(range(rate * probe_seconds)), lambda _: plain.request("GET /healthz", "GET", "/healthz"),
                  args.survey_users, rate)  # fmt: skip
        logged.append(len(access.read_text().splitlines()))
        step(
            f"phase 2: a burst of {len(arriving):,} survey submissions arriving over about a minute "
            f"from {args.survey_users} locust users"
        )
        started = time.monotonic()
        with CpuMeter(server) as paced_cpu:
            pacing = {"BENCH_TOKENS": str(work / "arriving.txt"), "BENCH_PACING": str(args.survey_users / 17)}
            paced = locust({**env, **pacing}, host, ["ArrivingCustomer"], args.survey_users, 600, work / "arriving",
                           rate=17)  # fmt: skip
        paced_seconds = time.monotonic() - started
        logged.append(len(access.read_text().splitlines()))
        step(f"phase 2 again: {len(again):,} other links at the same rate from a plain client")
        started = time.monotonic()
        answers = PlainClient(host)
        answers.run(again, lambda token: answer_survey(answers, token), args.survey_users, 17)
        again_seconds = time.monotonic() - started
        logged.append(len(access.read_text().splitlines()))
        step(f"phase 3: {len(at_once):,} survey submissions from 50 customers at once")
        started = time.monotonic()
        with CpuMeter(server) as burst_cpu:
            burst = locust({**env, "BENCH_TOKENS": str(work / "at_once.txt")}, host, ["Customer"], 50, 600,
                           work / "burst", rate=50)  # fmt: skip
        burst_seconds = time.monotonic() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
    lines = access.read_text().splitlines()
    phases = [server_times(lines[: logged[0]]), server_times(lines[logged[1] : logged[2]]),
              server_times(lines[logged[3] :])]  # fmt: skip
    again_server = server_times(lines[logged[2] : logged[3]])
    probe_server = server_times(lines[logged[0] : logged[1]]).get("GET /healthz", [])

    print(f"\nLoad benchmark — {tickets:,} tickets, {os.cpu_count()} cores, gunicorn {args.workers} workers")
    errors = show(f"Phase 1: 50 agents + 10 API systems, {browse_seconds:.0f} s", browse, browse_seconds, phases[0])
    errors += show_plain(f"  … and meanwhile {len(meanwhile):,} survey answers, 17 a second from {MEANWHILE_AFTER} s "
                         f"in, from a plain client ({args.survey_users} threads)", answering, len(meanwhile) / 17,
                         phases[0])  # fmt: skip
    print(browse_cpu.summary())
    (locust_row,) = [row for row in probe if row["Name"] == "/healthz"]
    print(f"\nThe load generator's own latency: GET /healthz (a few ms of work), {args.survey_users} users, "
          f"{rate} requests a second, {probe_seconds} s")  # fmt: skip
    print(f"  locust waits     median {locust_row['50%']:>5}ms  p95 {locust_row['95%']:>5}ms")
    healthz = plain.waits.get("GET /healthz", [])
    print(f"  a plain client   median {quantile(healthz, 0.5):5.0f}ms  p95 {quantile(healthz, 0.95):5.0f}ms   "
          "(one thread per user, same users and rate)")  # fmt: skip
    print(f"  gunicorn's log   median {quantile(probe_server, 0.5):5.0f}ms  p95 {quantile(probe_server, 0.95):5.0f}ms")
    errors += show(f"Phase 2: {len(arriving):,} survey submissions arriving over {paced_seconds:.0f} s "
                   f"({args.survey_users} locust users)", paced, paced_seconds, phases[1])  # fmt: skip
    print(paced_cpu.summary())
    errors += show_plain(f"Phase 2 again: {len(again):,} other survey links over {again_seconds:.0f} s from a plain "
                         f"client ({args.survey_users} threads)", answers, again_seconds, again_server)  # fmt: skip
    errors += show(f"Phase 3: {len(at_once):,} survey submissions, 50 at once, {burst_seconds:.0f} s", burst,
                   burst_seconds, phases[2])  # fmt: skip
    print(burst_cpu.summary())
    print(f"\nerrors: {errors}   (targets: none; p95 ≤ 200 ms for the queue and ticket pages, ≤ 100 ms for a "
          "survey submission)")  # fmt: skip


if __name__ == "__main__":
    main()
