"""The inbox's hand-written SQL (bot/core/inbox.py runs it): the group commit's multi-row insert,
on PostgreSQL with psycopg and on SQLite on an aiosqlite connection's own thread, and the
worker's claim and completion statements."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import Callable
from typing import Any, NamedTuple

import aiosqlite
import psycopg
from sqlalchemy import JSON, bindparam, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from storage import db as storage_db
from storage.db import SessionFactory
from storage.fast import sqlite_driver
from storage.models import InboxEvent
from storage.types import UTCDateTime

log = logging.getLogger("bot.core.inbox")  # the name these lines always had

CHANNEL = "inbox_events"  # PostgreSQL LISTEN/NOTIFY channel: "an event was stored"


class Claimed(NamedTuple):
    """What processing needs of a claimed inbox row."""

    id: int
    conversation: str | None
    event_name: str
    body: str


_CLAIMED = (
    col(InboxEvent.id),
    col(InboxEvent.conversation),
    col(InboxEvent.event_name),
    col(InboxEvent.body),
)


SQLITE_CLAIM = (
    select(*_CLAIMED)
    .where(InboxEvent.status == "pending")
    .order_by(col(InboxEvent.id))
    .limit(bindparam("limit"))
)


SQLITE_DONE = text(
    "UPDATE inbox_events SET status = 'done', processed_at = :now"
    " WHERE id IN (SELECT value FROM json_each(:ids))"
).bindparams(bindparam("now", type_=UTCDateTime()), bindparam("ids", type_=JSON()))


PG_DONE = text(
    "UPDATE inbox_events SET status = 'done', processed_at = :now WHERE id = ANY(:ids)"
).bindparams(bindparam("now", type_=UTCDateTime()))


# PostgreSQL, one round trip: lock the oldest pending rows nobody holds, and keep those with no
# earlier pending event of their conversation outside the batch (one that is pending and not in
# the batch is held by another process: this one waits, so each group stays in order).
PG_CLAIM = text("""
WITH claimed AS MATERIALIZED (
    SELECT id, conversation, event_name, body FROM inbox_events
    WHERE status = 'pending'
    ORDER BY id
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
)
SELECT c.id, c.conversation, c.event_name, c.body FROM claimed AS c
WHERE NOT EXISTS (
    SELECT 1 FROM inbox_events AS e
    WHERE e.conversation = c.conversation AND e.id < c.id AND e.status = 'pending'
      AND e.id NOT IN (SELECT id FROM claimed)
)
ORDER BY c.id
""")


def pg_conninfo(sessions: SessionFactory) -> str | None:
    """The sessions' PostgreSQL database as a libpq URL, for psycopg connections of our own;
    None on SQLite."""
    bind = sessions.kw.get("bind")
    if bind is None or bind.dialect.name != "postgresql":
        return None
    return str(bind.url.set(drivername="postgresql").render_as_string(hide_password=False))


# PostgreSQL: one fixed statement whatever the batch size, the rows as one JSON parameter, so
# the driver prepares it once and encoding is json.dumps (a multi-row VALUES is new text for
# each batch size, parsed anew; arrays of text go through the driver's escaping in Python).
# pg_notify wakes the worker of every process (Inbox.run listens) when the rows commit; the
# same notification sent many times in one transaction is delivered once.
_PG_INSERT = f"""
WITH new AS (
    INSERT INTO inbox_events
        (dedupe_key, conversation, event_name, body, received_at, status, attempts)
    SELECT k, c, e, b, r, 'pending', 0
    FROM json_to_recordset(%(rows)s::json)
        AS u(k varchar, c varchar, e varchar, b text, r timestamptz)
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING dedupe_key
)
SELECT dedupe_key, pg_notify('{CHANNEL}', '') FROM new
"""


def _pg_rows(rows: list[dict[str, Any]]) -> dict[str, str]:
    """The parameter of _PG_INSERT."""
    return {
        "rows": json.dumps(
            [
                {
                    "k": row["dedupe_key"],
                    "c": row.get("conversation"),
                    "e": row["event_name"],
                    "b": row["body"],
                    "r": row["received_at"].isoformat(),
                }
                for row in rows
            ]
        )
    }


# SQLite: one multi-row INSERT … ON CONFLICT DO NOTHING RETURNING dedupe_key, on the inbox's
# own connection (sqlite3, on its aiosqlite thread), in a transaction of its own.
INBOX = InboxEvent.__table__  # type: ignore[attr-defined]


_SQLITE_ROW = "(?, ?, ?, ?, ?, 'pending', 0)"


_SQLITE_INSERT = """
INSERT INTO inbox_events
    (dedupe_key, conversation, event_name, body, received_at, status, attempts)
VALUES {rows}
ON CONFLICT (dedupe_key) DO NOTHING
RETURNING dedupe_key
"""


# received_at as SQLAlchemy stores it on SQLite (naive UTC text), so the ORM reads it back
_LITE = sqlite.dialect()


_SQLITE_RECEIVED_AT = INBOX.c.received_at.type.dialect_impl(_LITE).bind_processor(_LITE)


def sqlite_path(sessions: SessionFactory) -> str | None:
    bind = sessions.kw.get("bind")
    if bind is None or bind.dialect.name != "sqlite":
        return None
    database: str | None = bind.url.database
    return database


async def open_sqlite(path: str | None) -> aiosqlite.Connection:
    connection = await aiosqlite.connect(path or ":memory:")
    # the engine's connection settings (WAL, busy_timeout, …), looked up now: tests change them;
    # aiosqlite 0.22's private _execute/_conn (tests/storage/test_private_apis.py)
    await connection._execute(storage_db._sqlite_pragmas, connection._conn, None)  # type: ignore[no-untyped-call]
    return connection


def _sqlite_rows(rows: list[dict[str, Any]]) -> list[Any]:
    """The parameters of _SQLITE_INSERT for `rows`, row after row."""
    values: list[Any] = []
    for row in rows:
        values += (row["dedupe_key"], row.get("conversation"), row["event_name"], row["body"])
        values.append(_SQLITE_RECEIVED_AT(row["received_at"]))
    return values


def _sqlite_insert(conn: sqlite3.Connection, values: list[Any]) -> set[str]:
    """Runs on the connection's thread: the group commit's whole transaction."""
    statement = _SQLITE_INSERT.format(rows=", ".join([_SQLITE_ROW] * (len(values) // 5)))
    sqlite_driver.begin_immediate(conn)
    try:
        new = {row[0] for row in conn.execute(statement, values).fetchall()}
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return new


# An earlier event of the same conversation still pending goes first: with several processes
# it may be under way in another one (locked, pending until that commits), and answering this
# one now could answer out of order. Part of the claim, so it costs no extra round trip.
_EARLIER = aliased(InboxEvent)


EARLIER_PENDING = (
    select(_EARLIER.id)
    .where(
        col(_EARLIER.conversation) == col(InboxEvent.conversation),
        col(_EARLIER.id) < col(InboxEvent.id),
        col(_EARLIER.status) == "pending",
    )
    .exists()
)


async def pg_insert(
    connection: psycopg.AsyncConnection[Any], rows: list[dict[str, Any]]
) -> set[str]:
    """Insert `rows` (autocommit: one statement, one commit); the dedupe keys that were new."""
    cursor = await connection.execute(_PG_INSERT, _pg_rows(rows))
    return {row[0] for row in await cursor.fetchall()}


async def sqlite_insert(lite: aiosqlite.Connection, rows: list[dict[str, Any]]) -> set[str]:
    """Insert `rows` in a transaction of their own; the dedupe keys that were new."""
    # aiosqlite 0.22's private _execute/_conn: one trip to its thread (pinned in pyproject;
    # tests/storage/test_sqlite_driver.py fails if they change)
    new: set[str] = await lite._execute(  # type: ignore[no-untyped-call]
        _sqlite_insert, lite._conn, _sqlite_rows(rows)
    )
    return new


RELISTEN_SECONDS = 5.0


async def listen(conninfo: str, wake: Callable[[], None]) -> None:
    """PostgreSQL: LISTEN on a connection of its own and call `wake` at every notification (and
    once connected: events stored while nobody listened). Runs until cancelled."""
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(
                conninfo, autocommit=True, **storage_db.PG_CONNECT_ARGS
            ) as connection:
                await connection.execute(f"LISTEN {CHANNEL}")
                wake()
                async for _ in connection.notifies():
                    wake()
        except psycopg.Error as exc:
            log.warning("inbox: no LISTEN connection (%s); polling meanwhile", exc)
        await asyncio.sleep(RELISTEN_SECONDS)
