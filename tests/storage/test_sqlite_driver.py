"""storage/fast/sqlite_driver.py: inside a write transaction statements run on the event loop's
thread, elsewhere each is one trip through aiosqlite's thread, and SQLAlchemy sees the same
results and errors as with its stock aiosqlite dialect."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, exc, insert, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import READ_ONLY, async_url, make_engine, make_read_sessions, make_sessions
from storage.fast import sqlite_driver

metadata = MetaData()
items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String, nullable=False, unique=True),
    Column("n", Integer, nullable=False, default=0),
)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'driver.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


def _count_hops(conn: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every function aiosqlite's thread runs for this connection, by name."""
    aio = conn.driver_connection
    hops: list[str] = []
    real = aio._execute

    async def counted(fn: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(fn, "__name__", repr(fn)))
        return await real(fn, *args, **kwargs)

    monkeypatch.setattr(aio, "_execute", counted)
    return hops


def test_sqlite_urls_use_the_one_hop_driver() -> None:
    assert async_url("sqlite:///data/bot.db") == f"sqlite+{sqlite_driver.DRIVER}:///data/bot.db"
    assert async_url("postgres://u:p@h/db") == "postgresql+psycopg://u:p@h/db"


async def test_the_engine_uses_the_one_hop_dialect(engine: AsyncEngine) -> None:
    assert isinstance(engine.dialect, sqlite_driver.SQLiteDialect_aiosqlite_onehop)
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        assert isinstance(raw.dbapi_connection, sqlite_driver.OneHopConnection)
        # The pragmas set on connect are in force.
        assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
        assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1


async def test_a_write_transaction_costs_its_begin_and_commit_hops_only(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BEGIN IMMEDIATE may wait for the write lock: it goes to aiosqlite's thread. Inside the
    transaction nothing can wait, so statements run on the event loop's thread."""
    async with engine.connect() as conn:
        hops = _count_hops(await conn.get_raw_connection(), monkeypatch)
        async with conn.begin():
            await conn.execute(insert(items), [{"key": "a", "n": 1}, {"key": "b", "n": 2}])
            result = await conn.execute(select(items.c.key, items.c.n).order_by(items.c.key))
            assert result.all() == [("a", 1), ("b", 2)]
            await conn.execute(items.update().values(n=3))
            assert hops == ["_run"]  # the BEGIN IMMEDIATE
        assert hops == ["_run", "commit"]
        assert (await conn.execute(select(items.c.n))).scalars().all() == [3, 3]


async def test_outside_a_write_transaction_each_statement_costs_one_hop(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only session begins with a plain BEGIN: a write in it may wait for the lock and
    a read may be a long report, so both run on the thread, where the loop goes on."""
    async with engine.execution_options(**{READ_ONLY: True}).connect() as conn:
        hops = _count_hops(await conn.get_raw_connection(), monkeypatch)
        assert (await conn.execute(select(items))).all() == []
        assert hops == ["_run", "_run"]  # the BEGIN, the SELECT
        await conn.execute(insert(items).values(key="x"))
        assert hops == ["_run", "_run", "_run"]
        await conn.commit()
    async with engine.connect() as conn:
        assert (await conn.execute(select(items.c.key))).scalars().all() == ["x"]


async def test_select_returns_rows_and_description(engine: AsyncEngine) -> None:
    async with make_sessions(engine)() as db:
        conn = await db.connection()
        await conn.execute(insert(items), [{"key": f"k{i}", "n": i} for i in range(5)])
        result = await conn.execute(select(items.c.key, items.c.n).where(items.c.n >= 2))
        assert list(result.keys()) == ["key", "n"]
        assert sorted(result.all()) == [("k2", 2), ("k3", 3), ("k4", 4)]
        assert (await conn.execute(select(items).where(items.c.n > 99))).all() == []
        first = await conn.execute(select(items.c.n).order_by(items.c.n))
        assert first.first() == (0,)
        await db.commit()


async def test_rowcount_of_update_and_delete(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        many = await conn.execute(insert(items), [{"key": k} for k in "abcd"])  # executemany
        assert many.rowcount == 4
        updated = await conn.execute(items.update().where(items.c.key < "c").values(n=7))
        assert updated.rowcount == 2
        deleted = await conn.execute(items.delete().where(items.c.key != "a"))
        assert deleted.rowcount == 3
        assert (await conn.execute(items.delete().where(items.c.key == "zz"))).rowcount == 0


async def test_lastrowid_of_insert(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        first = await conn.execute(insert(items).values(key="a"))
        second = await conn.execute(insert(items).values(key="b"))
        assert first.inserted_primary_key == (1,)
        assert second.lastrowid == 2
        assert second.inserted_primary_key == (2,)


async def test_insert_many_rows_on_conflict_do_nothing_returning(engine: AsyncEngine) -> None:
    # The inbox's batch insert: only the keys that were new come back.
    statement = (
        sqlite.insert(items).on_conflict_do_nothing(index_elements=["key"]).returning(items.c.key)
    )
    async with engine.begin() as conn:
        await conn.execute(insert(items).values(key="old"))
        rows = [{"key": "old"}] + [{"key": f"new{i}"} for i in range(50)]
        new = {row[0] for row in await conn.execute(statement, rows)}
        assert new == {f"new{i}" for i in range(50)}
        again = await conn.execute(statement, rows[:3])
        assert again.all() == []
        assert len((await conn.execute(select(items.c.id))).all()) == 51


async def test_a_duplicate_key_raises_integrity_error(engine: AsyncEngine) -> None:
    async with make_sessions(engine)() as db:
        conn = await db.connection()
        await conn.execute(insert(items).values(key="a"))
        with pytest.raises(exc.IntegrityError, match="UNIQUE constraint failed"):
            await conn.execute(insert(items).values(key="a"))
        await db.rollback()
        # The session is usable afterwards.
        await (await db.connection()).execute(insert(items).values(key="b"))
        await db.commit()
    async with engine.connect() as conn:
        assert (await conn.execute(select(items.c.key))).scalars().all() == ["b"]


async def test_a_sql_error_raises_operational_error(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        with pytest.raises(exc.OperationalError, match="no such table"):
            await conn.exec_driver_sql("SELECT * FROM missing")


async def test_streamed_results_still_work(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(insert(items), [{"key": f"k{i:03}", "n": i} for i in range(120)])
    async with engine.connect() as conn:
        stream = await conn.stream(select(items.c.n).order_by(items.c.n))
        assert [n async for n in stream.scalars()] == list(range(120))
        partitions = await conn.stream(select(items.c.n), execution_options={"yield_per": 50})
        sizes = [len(part) async for part in partitions.partitions()]
        assert sizes == [50, 50, 20]
    async with make_sessions(engine)() as db:
        scalars = await db.stream_scalars(select(items.c.key).where(items.c.n < 3))
        assert sorted([k async for k in scalars]) == ["k000", "k001", "k002"]


async def test_write_sessions_take_the_write_lock_and_read_sessions_do_not(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    def try_to_write() -> None:
        other = sqlite3.connect(tmp_path / "driver.db", timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
        finally:
            other.close()

    async with make_sessions(engine)() as db:
        await (await db.connection()).execute(select(items.c.id))
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            try_to_write()  # BEGIN IMMEDIATE took the write lock
        await db.rollback()
    async with make_read_sessions(engine)() as reader:
        await (await reader.connection()).execute(select(items.c.id))
        try_to_write()  # a reader's deferred BEGIN does not block writers


def _locked_pair(path: Path, busy_ms: int) -> tuple[sqlite3.Connection, sqlite3.Connection]:
    """Two connections to one WAL database: the first holds the write lock."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("CREATE TABLE t (x)")
    waiter = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    waiter.execute(f"PRAGMA busy_timeout={busy_ms}")
    holder.execute("BEGIN IMMEDIATE")
    return holder, waiter


async def test_begin_immediate_waits_for_the_write_lock(tmp_path: Path) -> None:
    holder, waiter = _locked_pair(tmp_path / "lock.db", 10_000)
    try:
        waiting = asyncio.ensure_future(asyncio.to_thread(sqlite_driver.begin_immediate, waiter))
        await asyncio.sleep(0)
        holder.execute("ROLLBACK")
        await waiting
        assert waiter.in_transaction
        assert waiter.execute("PRAGMA busy_timeout").fetchone() == (10_000,)
    finally:
        holder.close()
        waiter.close()


def test_begin_immediate_gives_up_after_the_busy_timeout(tmp_path: Path) -> None:
    holder, waiter = _locked_pair(tmp_path / "lock.db", 20)
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            sqlite_driver.begin_immediate(waiter)
        assert not waiter.in_transaction
        assert waiter.execute("PRAGMA busy_timeout").fetchone() == (20,)
    finally:
        holder.close()
        waiter.close()
