"""What the bench loads: the bare aiohttp app, or `python webhook.py` (1 or 2 processes) on a fresh
SQLite file or a fresh PostgreSQL database, each started for one measurement and thrown away.
`pg-split` runs one PROCESS_ROLE=webhook process, which gets all the load, and one
PROCESS_ROLE=worker process, which processes what the first one stored.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url
from webhook_load import ROOT, free_port, service_env, wait_ready

# The server on this machine over its Unix socket when there is one: a statement's round trip
# costs ~35 µs there against ~110 µs over TCP on 127.0.0.1 (docs/deploy.md says the same for a
# deployment with PostgreSQL on the service's host).
PG_SOCKET_DIR = "/var/run/postgresql"
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL") or (
    f"postgresql://postgres@/postgres?host={PG_SOCKET_DIR}"
    if Path(PG_SOCKET_DIR, ".s.PGSQL.5432").exists()
    else "postgresql://postgres@127.0.0.1:5432/postgres"
)
STOP_SECONDS = 1.0  # then SIGKILL: the databases are thrown away, no backlog needs draining


@dataclass(frozen=True)
class Target:
    """One thing to load: the bare app (database None) or the service."""

    name: str
    database: str | None = None  # "sqlite" | "postgresql"
    processes: int = 1
    roles: tuple[str, ...] = ()  # PROCESS_ROLE per process; empty: every process is "all"

    @property
    def is_bare(self) -> bool:
        return self.database is None

    def role(self, index: int) -> str:
        """PROCESS_ROLE of process `index` (0-based)."""
        return self.roles[index] if self.roles else "all"


ALL_TARGETS = {
    t.name: t
    for t in (
        Target("bare"),
        Target("sqlite-1", "sqlite", 1),
        Target("sqlite-2", "sqlite", 2),
        Target("pg-1", "postgresql", 1),
        Target("pg-2", "postgresql", 2),
        Target("pg-split", "postgresql", 2, ("webhook", "worker")),
    )
}


def postgres_available() -> str | None:
    """None when a server answers at BENCH_PG_URL, else why not."""
    try:
        import psycopg

        psycopg.connect(PG_ADMIN_URL, connect_timeout=3).close()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".strip()
    return None


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


@contextmanager
def fresh_database(kind: str, tmp: Path) -> Iterator[str]:
    """A new, empty database; yields its DATABASE_URL and drops it afterwards."""
    name = f"zb_bench_{uuid.uuid4().hex[:10]}"
    if kind == "sqlite":
        path = tmp / f"{name}.db"
        try:
            yield f"sqlite:///{path}"
        finally:
            for leftover in tmp.glob(f"{name}.db*"):
                leftover.unlink()
        return
    _pg_admin(f"CREATE DATABASE {name}")
    # What the previous runs left in the server's buffers is written out now, not by the
    # checkpointer in the middle of this run (pg-split's lag p99 at 500 events/s: 33-57 ms
    # run alone, 112 ms once inside the full run). Needs a superuser; skipped otherwise.
    with suppress(Exception):
        _pg_admin("CHECKPOINT")
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _start(command: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)


def _stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every process, then SIGKILL what is still running after STOP_SECONDS."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + STOP_SECONDS
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def serve(
    target: Target, tmp: Path, *, log_level: str = "INFO", extra: dict[str, str] | None = None
) -> Iterator[tuple[list[str], str | None]]:
    """Start the target; yields (base URLs, DATABASE_URL or None), then stops it.

    The URLs are those of the processes that take the load: a `worker` process is started and
    waited for, but gets no URL in the list (wrk sends it nothing).
    """
    with ExitStack() as stack:
        database_url = None
        if target.database:
            database_url = stack.enter_context(fresh_database(target.database, tmp))
        procs: list[subprocess.Popen[bytes]] = []
        stack.callback(_stop_all, procs)
        urls = []
        log_path = tmp / f"{target.name}.log"
        for index in range(target.processes):  # one at a time: the first one migrates
            port = free_port()
            if target.is_bare:
                command = [sys.executable, str(ROOT / "bench" / "bare_app.py"), str(port)]
                env = dict(os.environ)
            else:
                command = [sys.executable, "webhook.py"]
                # Local mode, every setting at its default but WEBHOOK_RATE_LIMIT (raised).
                env = service_env(tmp / "unused.db", port, log_level)
                env.update(DATABASE_URL=str(database_url), **(extra or {}))
                env["PROCESS_ROLE"] = target.role(index)
            procs.append(_start(command, env, log_path))
            url = f"http://127.0.0.1:{port}"
            wait_ready(url, procs[-1], log_path)
            if target.role(index) != "worker":
                urls.append(url)
        yield urls, database_url


def inbox_pending(url: str, *, outbox: bool = False) -> int:
    """The backlog GET /healthz reports (the whole database's, whichever process answers):
    events to process, plus messages to send with `outbox`."""
    with urllib.request.urlopen(f"{url}/healthz", timeout=10) as response:
        report = json.load(response)
    return int(report.get("inbox_pending", 0)) + (
        int(report.get("outbox_pending", 0)) if outbox else 0
    )


def wait_drained(url: str, limit: float, *, outbox: bool = False) -> float | None:
    """Seconds until the inbox (and with `outbox` the outbox too) is empty, polled every 50 ms;
    None when `limit` passes first."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        try:
            if inbox_pending(url, outbox=outbox) == 0:
                return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.05)
    return None
