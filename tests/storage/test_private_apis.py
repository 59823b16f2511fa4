"""The private attributes of third-party libraries the speed layer (storage/fast) relies on,
checked against the installed versions: if an upgrade moves one, this fails before anything
slows down or breaks in production."""

from __future__ import annotations

import inspect
import sqlite3
from pathlib import Path

import aiosqlite
from sqlalchemy import text

from storage.db import make_engine, make_sessions
from storage.fast import hot


async def test_aiosqlite_runs_a_function_on_its_thread_with_the_sqlite3_connection(
    tmp_path: Path,
) -> None:
    connection = await aiosqlite.connect(str(tmp_path / "a.db"))
    try:
        assert inspect.iscoroutinefunction(connection._execute)
        assert isinstance(connection._conn, sqlite3.Connection)
        answer = await connection._execute(
            lambda conn: conn.execute("SELECT 41 + 1").fetchone(), connection._conn
        )
        assert answer == (42,)
    finally:
        await connection.close()


async def test_sqlalchemys_adapter_holds_the_aiosqlite_connection(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'b.db'}")
    try:
        async with make_sessions(engine)() as db:
            await db.exec(text("SELECT 1"))  # type: ignore[call-overload]
            adapted = await hot._driver_connection(db)
            assert isinstance(adapted._connection, aiosqlite.Connection)
            assert isinstance(adapted._connection._conn, sqlite3.Connection)
            assert hasattr(adapted, "_immediate")  # the one-hop driver's own flag
    finally:
        await engine.dispose()
