"""Engine, sessions and migrations. SQLite by default, PostgreSQL by DATABASE_URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.fast import sqlite_driver

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

SessionFactory = async_sessionmaker[AsyncSession]

# Every PostgreSQL connection (the pool's and the inbox's own): a server that stops answering
# fails a connection attempt in seconds; TCP keepalives and tcp_user_timeout end a half-open
# connection (a failover, a NAT that dropped its state) in about 15 s instead of the kernel's
# 15 minutes or more, so it is dropped and a new one opened; the server ends a statement
# running past STATEMENT_TIMEOUT_MS and a transaction left idle past IDLE_TIMEOUT_MS.
STATEMENT_TIMEOUT_MS = 60_000
IDLE_TIMEOUT_MS = 120_000
PG_CONNECT_ARGS: dict[str, Any] = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 3,
    "keepalives_count": 3,
    "tcp_user_timeout": 15_000,
    "options": (
        f"-c statement_timeout={STATEMENT_TIMEOUT_MS}"
        f" -c idle_in_transaction_session_timeout={IDLE_TIMEOUT_MS}"
    ),
}


def async_url(url: str) -> str:
    """The URL with the async driver this project uses: storage/fast/sqlite_driver.py or psycopg."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    backend = parsed.get_backend_name()
    driver = sqlite_driver.DRIVER if backend == "sqlite" else "psycopg"
    return parsed.set(drivername=f"{backend}+{driver}").render_as_string(hide_password=False)


def sync_url(url: str) -> str:
    """The URL with a blocking driver, for Alembic."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    backend = parsed.get_backend_name()
    driver = "pysqlite" if backend == "sqlite" else "psycopg"
    return parsed.set(drivername=f"{backend}+{driver}").render_as_string(hide_password=False)


def _ensure_sqlite_dir(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, begin transactions, so SAVEPOINTs work (SQLAlchemy's
    # documented recipe for pysqlite/aiosqlite).
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={sqlite_driver.BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


READ_ONLY = "zb_read_only"  # execution option of the engine behind make_read_sessions


def _sqlite_begin(conn: Any) -> None:
    # IMMEDIATE takes the write lock up front: a transaction that reads and then writes can
    # never hit SQLite's lock-upgrade deadlock, it waits on busy_timeout instead. A read-only
    # session (the dashboard's pages) needs no write lock: under WAL it never blocks a writer.
    read_only = conn.get_execution_options().get(READ_ONLY)
    conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def make_engine(url: str) -> AsyncEngine:
    """An async engine; SQLite gets WAL and a busy timeout so several tasks can share it."""
    _ensure_sqlite_dir(url)
    sqlite = make_url(url).get_backend_name() == "sqlite"
    # No ping before each use (a round trip per transaction, a third of a webhook batch's
    # cost): a connection the server dropped fails its statement, SQLAlchemy then discards
    # the pool's connections, the webhook answers 503 (Zalo redelivers), a worker retries.
    # A PostgreSQL server that stops answering must fail a connection attempt in seconds, not
    # hang it: the webhook has to answer Zalo within 2 s (it answers 503 at its deadline).
    connect_args = {} if sqlite else dict(PG_CONNECT_ARGS)
    engine = create_async_engine(async_url(url), connect_args=connect_args)
    if sqlite:
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
    return engine


def make_sessions(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


def make_read_sessions(engine: AsyncEngine) -> SessionFactory:
    """Sessions for pages that only read: on SQLite they do not take the write lock."""
    readers = engine.execution_options(**{READ_ONLY: True})
    return async_sessionmaker(readers, class_=AsyncSession, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Apply the migrations (blocking; run it before the event loop or in a thread)."""
    _ensure_sqlite_dir(url)
    command.upgrade(alembic_config(url), revision)
