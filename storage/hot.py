"""The hot statements: the few that every processed event sends, with the least work per call.

On PostgreSQL such a statement goes straight to the psycopg connection under the session's
transaction: compiled once, then each call is psycopg's execute and nothing else. Through the
session, SQLAlchemy adds to every execution a cache-key lookup, parameter processing, result
metadata and a greenlet hop, about as much CPU again as psycopg itself (measured in the
inbox: ~0.2 ms per statement on the bench's machine, with two to three such statements per
event). On SQLite it runs on the session's connection as any other statement.

What the statements may use: values psycopg takes as they are (timezone-aware datetimes, which
UTCDateTime columns hold anyway; lists for `= ANY(...)`); JSON columns' values are wrapped here.
Nothing here flushes the session: a caller whose statement depends on pending ORM changes
flushes first, as it would before any Core statement.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from psycopg.types.json import Json
from sqlalchemy import JSON
from sqlalchemy.dialects.postgresql import psycopg as pg_psycopg
from sqlalchemy.sql import Executable
from sqlmodel.ext.asyncio.session import AsyncSession

_DIALECT = pg_psycopg.dialect()
_DRIVER = "hot_driver_connection"  # session.info key: (root transaction, psycopg connection)


class _Compiled:
    """A statement as psycopg runs it: SQL text, constant parameters, JSON parameter names."""

    def __init__(self, statement: Executable) -> None:
        compiled = statement.compile(dialect=_DIALECT)
        self.sql = str(compiled)
        # literal()s, .values(x=None) and the like; a bindparam() without a value is the
        # caller's to give (psycopg refuses the statement when one is missing)
        self.constants = {
            name: compiled.params[name]
            for bind, name in compiled.bind_names.items()
            if not bind.required
        }
        self.json = frozenset(
            name for bind, name in compiled.bind_names.items() if isinstance(bind.type, JSON)
        )

    def parameters(self, values: Mapping[str, Any]) -> dict[str, Any]:
        params = {**self.constants, **values}
        for name in self.json & params.keys():
            if params[name] is not None:
                params[name] = Json(params[name])
        return params


@functools.cache
def _compiled(statement: Executable) -> _Compiled:
    return _Compiled(statement)


async def execute(
    db: AsyncSession, statement: Executable, params: Mapping[str, Any]
) -> list[tuple[Any, ...]]:
    """Run `statement` (a module-level constant: it is compiled once) in the session's
    transaction; the rows it returns, if any, as tuples."""
    if db.bind.dialect.name != "postgresql":
        result = await (await db.connection()).execute(statement, dict(params))
        return [tuple(row) for row in result] if result.returns_rows else []
    driver = await _driver_connection(db)
    compiled = _compiled(statement)
    cursor = await driver.execute(compiled.sql, compiled.parameters(params))
    # rownumber is None when there is no result set (reading description would build it)
    return await cursor.fetchall() if cursor.rownumber is not None else []


async def _driver_connection(db: AsyncSession) -> Any:
    """The psycopg AsyncConnection under the session's current transaction."""
    transaction = db.sync_session.get_transaction()
    cached = db.info.get(_DRIVER)
    if cached is not None and cached[0] is transaction:
        return cached[1]
    connection = await db.connection()
    proxied = await connection.get_raw_connection()
    driver = proxied.driver_connection
    db.info[_DRIVER] = (db.sync_session.get_transaction(), driver)
    return driver
