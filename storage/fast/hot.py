"""The hot statements: the few that every processed event sends, with the least work per call.

Such a statement goes straight to the driver connection under the session's transaction:
compiled once, then each call is the driver's execute and little else. Through the session,
SQLAlchemy adds to every execution a cache-key lookup, parameter processing, result metadata
and a greenlet hop, about as much CPU again as the driver itself, with two to four such
statements per event (the figures: bench/RESULTS.md, "Measurements behind the design").

- PostgreSQL: psycopg's AsyncConnection. Values go as they are (timezone-aware datetimes,
  which UTCDateTime columns hold anyway; lists for `= ANY(...)`); JSON values are wrapped.
- SQLite: the sqlite3 connection, at once on the event loop's thread, which is where
  storage/fast/sqlite_driver.py runs any statement of a write transaction; values go through the
  column types' own bind processing (UTC datetimes as SQLAlchemy stores them, JSON as text).
  Outside a write transaction (where a statement may wait for the lock) it goes through the
  session instead.

Nothing here flushes the session: a caller whose statement depends on pending ORM changes
flushes first, as it would before any Core statement.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Mapping
from typing import Any, cast

from psycopg.types.json import Json
from sqlalchemy import JSON
from sqlalchemy.dialects.postgresql import psycopg as pg_psycopg
from sqlalchemy.dialects.sqlite import aiosqlite as sqlite_aiosqlite
from sqlalchemy.sql import ClauseElement, Executable
from sqlmodel.ext.asyncio.session import AsyncSession


def dialect_of(db: AsyncSession) -> str:
    """'sqlite' or 'postgresql': the database a session talks to (sessions are always bound)."""
    bind = db.bind
    assert bind is not None, "a session made by storage.db.make_sessions is bound"
    return bind.dialect.name


_PG = pg_psycopg.dialect()  # type: ignore[no-untyped-call]
_SQLITE = sqlite_aiosqlite.dialect()
_DRIVER = "hot_driver_connection"  # session.info key: (root transaction, driver connection)


class _Compiled:
    """A statement as the driver runs it: SQL text and how to build its parameters."""

    def __init__(self, statement: Executable, dialect: Any, keys: tuple[str, ...]) -> None:
        # as SQLAlchemy compiles for an execution: an INSERT or UPDATE without explicit
        # values takes its columns from the parameters' keys
        # SQLCompiler's attributes (insert_prefetch, bind_names, positiontup): SQLAlchemy 2.1,
        # pinned in pyproject; tests/storage/test_hot.py fails if they change
        compiled = cast(
            Any, cast(ClauseElement, statement).compile(dialect=dialect, column_keys=list(keys))
        )
        if compiled.insert_prefetch or compiled.update_prefetch:
            raise ValueError("a hot statement cannot use Python-side column defaults")
        self.sql = str(compiled)
        binds = {name: bind for bind, name in compiled.bind_names.items()}
        # literal()s, .values(x=None) and the like; a bindparam() without a value is the
        # caller's to give (the driver refuses the statement when one is missing)
        self.constants = {
            name: compiled.params[name] for name, bind in binds.items() if not bind.required
        }
        self.json = frozenset(name for name, bind in binds.items() if isinstance(bind.type, JSON))
        # SQLite's qmark style: the values in order, each through its type's processing
        self.order = tuple(compiled.positiontup or ())
        self.processors: dict[str, Callable[[Any], Any] | None] = {
            name: binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in self.order
        }

    def pg_parameters(self, values: Mapping[str, Any]) -> dict[str, Any]:
        params = {**self.constants, **values}
        for name in self.json & params.keys():
            if params[name] is not None:
                params[name] = Json(params[name])
        return params

    def sqlite_parameters(self, values: Mapping[str, Any]) -> list[Any]:
        params = {**self.constants, **values}
        out = []
        for name in self.order:
            value, process = params[name], self.processors[name]
            out.append(process(value) if process is not None else value)
        return out


@functools.cache
def _compiled(statement: Executable, dialect_name: str, keys: tuple[str, ...]) -> _Compiled:
    return _Compiled(statement, _PG if dialect_name == "postgresql" else _SQLITE, keys)


async def execute(
    db: AsyncSession, statement: Executable, params: Mapping[str, Any]
) -> list[tuple[Any, ...]]:
    """Run `statement` (a module-level constant: it is compiled once per set of parameter
    names) in the session's transaction; the rows it returns, if any, as tuples."""
    dialect = dialect_of(db)
    if dialect == "postgresql":
        driver = await _driver_connection(db)
        compiled = _compiled(statement, dialect, tuple(sorted(params)))
        cursor = await driver.execute(compiled.sql, compiled.pg_parameters(params))
        # rownumber is None when there is no result set (reading description would build it)
        return await cursor.fetchall() if cursor.rownumber is not None else []
    if dialect == "sqlite":
        adapted = await _driver_connection(db)
        # SQLAlchemy 2.1's adapter keeps the aiosqlite connection in _connection, aiosqlite 0.22
        # the sqlite3 one in _conn (tests/storage/test_private_apis.py fails if they move)
        connection: sqlite3.Connection = adapted._connection._conn
        if adapted._immediate and connection.in_transaction:
            compiled = _compiled(statement, dialect, tuple(sorted(params)))
            cursor = connection.execute(compiled.sql, compiled.sqlite_parameters(params))
            try:
                return cursor.fetchall() if cursor.description is not None else []
            finally:
                cursor.close()
    result = await (await db.connection()).execute(statement, dict(params))
    return [tuple(row) for row in result] if result.returns_rows else []


async def _driver_connection(db: AsyncSession) -> Any:
    """The session's current transaction's DBAPI connection: psycopg's AsyncConnection on
    PostgreSQL, storage/fast/sqlite_driver.py's adapter on SQLite."""
    transaction = db.sync_session.get_transaction()
    cached = db.info.get(_DRIVER)
    if cached is not None and cached[0] is transaction:
        return cached[1]
    connection = await db.connection()
    proxied = await connection.get_raw_connection()
    postgresql = dialect_of(db) == "postgresql"
    driver = proxied.driver_connection if postgresql else proxied.dbapi_connection
    db.info[_DRIVER] = (db.sync_session.get_transaction(), driver)
    return driver
