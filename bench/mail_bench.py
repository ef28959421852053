"""E-mail channel benchmark: fetch and ingest N mails from a local IMAP server (Dovecot over TLS).

    make bench-mail                          # 10,000 mails, a quarter with a photo attached
    make bench-mail BENCH_ARGS="--mails 2000"

A Dovecot on loopback (Debian's dovecot-imapd) gets N mails written into its mailbox; the desk's
own command (``manage.py fetch_mail``, the code the beat's task runs) then reads them in a
process of its own, whose peak memory is sampled. Printed beside it, measured in the same run:
the IMAP download alone (the same mails fetched the same way and dropped), the floor of any
reader. The run is repeated at a fifth of N to show that memory stays flat. The database is
``<name>_mailbench`` next to DATABASE_URL's, created afresh.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

SUBJECTS = ["洗衣机脱水时震动严重", "空调不制冷，请上门维修", "冰箱异响", "Dishwasher leaks water", "热水器无法点火",
            "Warranty card for my TV", "电视机开机黑屏", "油烟机噪音大"]  # fmt: skip
BODIES = ["您好：\n\n机器还在保修期内，请尽快安排师傅上门，谢谢！\n\n电话 138 0000 1234",
          "Hello,\n\nthe unit stopped working yesterday. Please send a technician.\n\nRegards"]  # fmt: skip


def step(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def bench_database_url() -> str:
    parts = urlsplit(os.environ["DATABASE_URL"])
    name = parts.path.lstrip("/") or "servicedesk"
    return urlunsplit(parts._replace(path=f"/{name}_mailbench"))


def fresh_database(url: str) -> None:
    import psycopg
    from environ import Env

    config = Env.db_url_config(url)
    admin = {"dbname": "postgres", "user": config["USER"] or "postgres", "host": config["HOST"] or None,
             "port": config["PORT"] or None, "password": config["PASSWORD"] or None, "autocommit": True}  # fmt: skip
    admin.update({k: v for k, v in config.get("OPTIONS", {}).items() if k == "host"})
    with psycopg.connect(**{k: v for k, v in admin.items() if v is not None}) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{config["NAME"]}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{config["NAME"]}"')


def photo() -> bytes:
    """A camera-sized JPEG (about 200 KB) of noise, as incompressible as a real photo."""
    from PIL import Image

    image = Image.frombytes("RGB", (480, 360), os.urandom(480 * 360 * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def mails(count: int, attachment_share: float, jpeg: bytes, mailbox_address: str):
    rng = random.Random(7)
    now = time.time()
    for n in range(count):
        message = EmailMessage()
        message["From"] = f"客户{n} <customer{n}@example.cn>"  # one new request per sender: nothing throttled
        message["To"] = mailbox_address
        message["Subject"] = f"{rng.choice(SUBJECTS)} #{n}"
        message["Date"] = format_datetime(_utc(now - rng.randint(0, 3600)))
        message["Message-ID"] = f"<{uuid.uuid4().hex}@example.cn>"
        message.set_content(rng.choice(BODIES), charset="gb18030" if n % 2 else "utf-8")
        if rng.random() < attachment_share:
            message.add_attachment(jpeg, maintype="image", subtype="jpeg", filename=f"故障照片{n}.jpg")
        yield message.as_bytes()


def _utc(seconds: float):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC)


def fill_maildir(server, user: str, password: str, raws) -> int:
    """Write the mails straight into the account's Maildir (as Dovecot's own delivery would)."""
    with server.client_for(user, password) as client:  # creates the Maildir
        client.select_folder("INBOX")
    new = server.root / "home" / user / "Maildir" / "new"
    owner = new.stat()
    size = 0
    for n, raw in enumerate(raws):
        path = new / f"{int(time.time())}.M{n}P{os.getpid()}.bench,S={len(raw)}"
        path.write_bytes(raw)
        os.chown(path, owner.st_uid, owner.st_gid)
        size += len(raw)
    return size


def download_only(server, user: str, password: str) -> float:
    """The floor: every mail fetched in the same batches as the desk fetches them, and dropped."""
    from mailboxes.fetching import _batches

    started = time.perf_counter()
    with server.client_for(user, password) as client:
        client.select_folder("INBOX", readonly=True)
        uids = client.search(["ALL"])
        for chunk in (uids[i : i + 500] for i in range(0, len(uids), 500)):
            sizes = {uid: int(data[b"RFC822.SIZE"]) for uid, data in client.fetch(chunk, ["RFC822.SIZE"]).items()}
            for batch in _batches(sizes):
                client.fetch(batch, ["INTERNALDATE", "BODY.PEEK[]"])
    return time.perf_counter() - started


def run_fetch(env: dict[str, str]) -> tuple[float, float, str]:
    """``manage.py fetch_mail`` in a process of its own: seconds, peak RSS (MB), its last lines."""
    import psutil

    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "manage.py", "fetch_mail"], cwd=BASE_DIR, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    peak = [0]
    watched = psutil.Process(process.pid)

    def sample():
        while process.poll() is None:
            try:
                peak[0] = max(peak[0], watched.memory_info().rss)
            except psutil.NoSuchProcess:
                return
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    lines = []
    for line in process.stdout:
        lines.append(line.rstrip())
        if line.strip().endswith("mails taken"):
            print(f"        {line.strip()}", flush=True)
    process.wait()
    sampler.join()
    seconds = time.perf_counter() - started
    if process.returncode:
        raise SystemExit("\n".join(lines[-20:]))
    return seconds, peak[0] / 1024 / 1024, "\n".join(lines[-2:])


def one_round(server, count: int, share: float, jpeg: bytes, env: dict[str, str]) -> dict:
    import django
    from django.core.management import call_command
    from django.db import connections

    connections.close_all()
    fresh_database(env["DATABASE_URL"])
    django.setup()
    call_command("migrate", verbosity=0)
    from mailboxes.models import Mailbox, Security
    from tickets.models import Category, Team

    user, password = server.add_user()
    team, _ = Team.objects.get_or_create(name="热线服务组")
    Mailbox.objects.all().delete()
    Mailbox.objects.create(name="Bench", address="service@servicedesk.test", host="127.0.0.1", port=server.port,
                           security=Security.TLS, username=user, password=password, team=team,
                           category=Category.objects.get(slug="repair"))  # fmt: skip
    connections.close_all()
    step(f"writing {count:,} mails ({share:.0%} with a photo) into the IMAP server")
    size = fill_maildir(server, user, password, mails(count, share, jpeg, "service@servicedesk.test"))
    with server.client_for(user, password) as client:  # Dovecot indexes the new mail once, before either reader
        client.select_folder("INBOX", readonly=True)
        client.search(["ALL"])
    floor = download_only(server, user, password)
    step(f"IMAP download alone: {floor:.1f} s; now the desk's fetch_mail")
    seconds, peak, summary = run_fetch(env)
    return {"count": count, "mb": size / 1024 / 1024, "floor": floor, "seconds": seconds, "peak": peak,
            "summary": summary}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mails", type=int, default=10_000)
    parser.add_argument("--attachment-share", type=float, default=0.25)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from tests.imap import DovecotServer, missing

    why = missing()
    if why:
        raise SystemExit(why)
    root = Path(tempfile.mkdtemp(prefix="desk-mailbench-"))
    root.chmod(0o755)
    media = Path(tempfile.mkdtemp(prefix="desk-mailbench-media-"))
    server = DovecotServer(root)
    server.start()
    jpeg = photo()
    os.environ["DATABASE_URL"] = bench_database_url()
    env = {**os.environ, "IMAP_CA_FILE": str(server.cert), "MEDIA_ROOT": str(media), "LOG_LEVEL": "WARNING"}
    results = []
    try:
        for count in (max(args.mails // 5, 1), args.mails):
            results.append(one_round(server, count, args.attachment_share, jpeg, env))
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(media, ignore_errors=True)

    print()
    print("E-mail channel: fetch and ingest from a local IMAP server (Dovecot, TLS), this machine")
    header = ("mails", "MB", "download alone", "fetch+ingest", "mails/s", "× floor", "peak RSS")
    print("{:>8} {:>7} {:>15} {:>13} {:>8} {:>8} {:>9}".format(*header))
    for r in results:
        print(f"{r['count']:>8,} {r['mb']:>7.0f} {r['floor']:>13.1f} s {r['seconds']:>11.1f} s "
              f"{r['count'] / r['seconds']:>8.0f} {r['seconds'] / r['floor']:>7.1f}× {r['peak']:>6.0f} MB")  # fmt: skip
    small, large = results[0], results[-1]
    print(
        f"peak memory at {large['count']:,} mails is {large['peak'] / small['peak']:.2f}× that at "
        f"{small['count']:,} (flat means ≈ 1)"
    )
    print(f"last fetch: {large['summary'].splitlines()[-1]}")


if __name__ == "__main__":
    main()
