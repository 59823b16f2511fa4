"""SQLAlchemy's aiosqlite dialect, with at most one trip through aiosqlite's thread per statement.

The stock adapter awaits cursor creation, execute, fetchall and close separately: four
hand-offs to aiosqlite's worker thread (queue put, thread wake-up, event-loop wake-up) for
one statement, and those hand-offs, not SQLite, were most of the time an event took. Here
a statement is one function, which executes it on a plain sqlite3 cursor and brings back
everything the caller may read: description, rowcount, lastrowid and the rows. Inside a
write transaction it runs at once on the event loop's thread; elsewhere on aiosqlite's
thread (OneHopCursor._run says why).

That function is queued with ``aiosqlite.Connection._execute``, an internal API, so
pyproject.toml pins aiosqlite to the minor version this was tested with. The classes
extended are SQLAlchemy 2.1's (2.0's aiosqlite cursor is laid out differently).

Server-side cursors (``stream()``, ``yield_per``) keep SQLAlchemy's own behaviour.
"""

from __future__ import annotations

import collections
import sqlite3
import time
from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.util import EMPTY_DICT

DRIVER = "aiosqlite_onehop"  # the URL is sqlite+aiosqlite_onehop:///path

_Result = tuple[Any, int, Any, list[Any] | None]


# How long a statement waits for a lock before "database is locked" (storage/db.py sets it).
BUSY_TIMEOUT_MS = 10_000
# Between two tries at the write lock. SQLite's own busy handler sleeps longer and longer
# between tries (1 ms up to 100 ms), so a writer in another process (several processes on one
# file) often waited several times as long as the lock was held. Trying every half millisecond,
# it waits about as long as the lock is held (bench/RESULTS.md, "Measurements behind the
# design").
BEGIN_RETRY_SECONDS = 0.0005


def begin_immediate(conn: sqlite3.Connection) -> None:
    """BEGIN IMMEDIATE, retried every BEGIN_RETRY_SECONDS while another connection holds the
    write lock, for up to the connection's busy_timeout (then SQLite's "database is locked",
    as before). Blocks: run it on the connection's own thread."""
    (waited_ms,) = conn.execute("PRAGMA busy_timeout").fetchone()
    deadline = time.monotonic() + waited_ms / 1000
    conn.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                    raise
            time.sleep(BEGIN_RETRY_SECONDS)
    finally:
        conn.execute(f"PRAGMA busy_timeout={int(waited_ms)}")


def _run(conn: sqlite3.Connection, operation: Any, parameters: Any, many: bool) -> _Result:
    """Runs on aiosqlite's thread: the whole statement, start to finish."""
    if operation == "BEGIN IMMEDIATE":
        begin_immediate(conn)
        return None, -1, None, None
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else None
        # Read after fetchall: a RETURNING statement's rowcount is final only once stepped.
        return description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A buffered cursor holding one statement's results; nothing on it awaits but execute."""

    __slots__ = ("_description", "_rowcount", "_lastrowid", "_arraysize")

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        # Deliberately not super().__init__: that opens an aiosqlite cursor (a thread hop).
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: Any = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _run(self, operation: Any, parameters: Any, many: bool) -> None:
        # No _execute_mutex: the statement is a single item on aiosqlite's queue, or runs
        # right here, so nothing can interleave with it.
        #
        # Where it runs: inside a write transaction (BEGIN IMMEDIATE: it holds SQLite's write
        # lock, and under WAL nothing else blocks it), right here on the event loop's thread,
        # a few microseconds of SQLite instead of a trip to the thread and back (a quarter of
        # the CPU an event's processing took). Anything else may wait for the lock
        # (busy_timeout) or, in a read-only session, be a long report query: on aiosqlite's
        # thread, where SQLite runs without the GIL and the loop goes on meanwhile.
        aio = self._connection
        connection = self._adapt_connection
        # _immediate: our own attribute on SQLAlchemy's adapted connection (set below)
        if connection._immediate and aio._conn.in_transaction:  # type: ignore[attr-defined]
            result = _run(aio._conn, operation, parameters, many)
        else:
            result = await aio._execute(_run, aio._conn, operation, parameters, many)
            if operation[:5].upper() == "BEGIN":
                connection._immediate = "IMMEDIATE" in operation.upper()  # type: ignore[attr-defined]
        description, rowcount, lastrowid, rows = result
        self._description = description
        self._rowcount = rowcount
        self._lastrowid = lastrowid
        self._rows = collections.deque(rows) if rows else collections.deque()

    async def _execute_async(self, operation: Any, parameters: Any) -> None:
        await self._run(operation, parameters, False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> None:
        await self._run(operation, seq_of_parameters, True)

    async def _async_soft_close(self) -> None:
        pass  # the sqlite3 cursor is closed already, and description is kept

    def close(self) -> None:
        self._rows.clear()

    def nextset(self) -> None:
        return None  # sqlite3 has a single result set per statement

    def setinputsizes(self, *inputsizes: Any) -> None:
        return None


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    # Whether the last BEGIN on this connection was BEGIN IMMEDIATE (the write lock is held
    # while the sqlite3 connection is in that transaction).
    __slots__ = ("_immediate",)
    _immediate: bool

    _cursor_cls = OneHopCursor  # type: ignore[assignment]  # a subclass of aiosqlite's cursor


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        # SQLAlchemy's connect (creator hook, daemon thread), rewrapped in our adapter.
        # The sqlite3 connection is used from the event loop's thread too (see OneHopCursor._run),
        # never from two threads at once: each statement is awaited before the next.
        kw.setdefault("check_same_thread", False)
        stock = super().connect(*arg, **kw)
        connection = OneHopConnection(self, stock._connection)
        connection._immediate = False
        return connection


class SQLiteDialect_aiosqlite_onehop(SQLiteDialect_aiosqlite):
    driver = DRIVER
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> OneHopDBAPI:
        return OneHopDBAPI(__import__("aiosqlite"), __import__("sqlite3"))


dialect = SQLiteDialect_aiosqlite_onehop

registry.register(
    f"sqlite.{DRIVER}", "storage.fast.sqlite_driver", "SQLiteDialect_aiosqlite_onehop"
)
