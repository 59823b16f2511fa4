"""Storing webhook events as a group commit: the events that arrive while one INSERT is under way
go into the next one, one statement and one commit for all of them, and each webhook call
answers only after the commit that holds its row (the SQL is storage/fast/inbox.py).

On SQLite, where every transaction takes the one write lock, the inserts and the worker's
transactions take turns on an asyncio lock, the inserts first, instead of polling for SQLite's
lock with sleeps of up to 100 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import aiosqlite
import psycopg
from sqlalchemy.exc import InterfaceError, OperationalError

from storage import db as storage_db
from storage.db import SessionFactory
from storage.fast.inbox import (
    open_sqlite,
    pg_conninfo,
    pg_insert,
    sqlite_insert,
    sqlite_path,
)

MAX_BATCH = 500  # rows per INSERT: 3,000 bound values, well under SQLite's limit


# Acknowledgements first: while this process's webhook stores events in group commits of
# GIVE_WAY_ROWS or more (a load its inserts barely keep up with; at a few hundred events a
# second a commit holds one or two), and for GIVE_WAY_HOLD_SECONDS after such a commit, its
# worker takes no new batch, for up to GIVE_WAY_SECONDS at a time, so processing never stops
# altogether. Zalo needs its 200 within 2 s; processing catches up once the burst is over.
# A worker-role process stores nothing and never waits. On SQLite the webhook's events queue
# up during each of the worker's turns at the write lock (up to SQLITE_YIELD_SECONDS), so a
# commit of several rows is normal there: the mark is GIVE_WAY_ROWS_SQLITE.
GIVE_WAY_ROWS = 4


GIVE_WAY_ROWS_SQLITE = 16


GIVE_WAY_HOLD_SECONDS = 0.02


# A group commit that has not finished after this long is given up (its connection closed, a
# new one opened for the next): the webhook answered 503 long before, at its own deadline.
STORE_SECONDS = 10.0


# The webhook counts as unable to store (/healthz "degraded") while its last group commit
# failed, or one has been under way this long.
STUCK_SECONDS = 2.0


Queued = tuple[dict[str, Any], "asyncio.Future[bool]"]


# The database is out of reach (through SQLAlchemy or, for the inbox's inserts, the driver).
_UNREACHABLE = (
    OperationalError,
    InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    sqlite3.OperationalError,
)


_OUT_OF_REACH = (*_UNREACHABLE, TimeoutError)  # or it hangs: STORE_SECONDS passed


class StoreError(Exception):
    """The event was not stored; the webhook answers 503 and Zalo delivers it again."""


class GroupCommit:
    """Inserts inbox rows in batches; `store` returns once its row is committed (or raises).

    The writer task lives only while rows are queued, and every caller awaits its own result
    meanwhile, so a shutdown that waits for the webhook calls waits for the writer too.
    """

    def __init__(
        self,
        sessions: SessionFactory,
        on_stored: Callable[[], None],
        turns: AbstractAsyncContextManager[Any],
    ) -> None:
        self.sessions, self.on_stored, self.turns = sessions, on_stored, turns
        self._queue: list[Queued] = []
        self._in_flight: list[Queued] = []
        self._writer: asyncio.Task[None] | None = None
        self._pressed_at: float | None = None  # when a commit last held that many rows
        # PostgreSQL: a connection of its own, in autocommit (one statement is its own
        # transaction), driven by psycopg directly: a single-row batch costs a fraction of the
        # CPU it takes through the engine's pool and SQLAlchemy, and at a few hundred events a
        # second most batches are single rows (bench/RESULTS.md, "Measurements behind the
        # design").
        self._conninfo = pg_conninfo(sessions)
        self._connection: psycopg.AsyncConnection[Any] | None = None
        # SQLite: the same idea, a sqlite3 connection of its own on its own aiosqlite thread,
        # where a whole group commit (BEGIN IMMEDIATE, INSERT, COMMIT) is one trip: through a
        # session it was three, and the SQLAlchemy work around them.
        self.sqlite_path = sqlite_path(sessions)
        self._sqlite_connection: aiosqlite.Connection | None = None
        self.failing = False  # the last group commit failed (the database was out of reach)
        self._writing_since: float | None = None

    @property
    def storing(self) -> bool:
        """Whether the webhook can store events now, as far as its last group commit shows."""
        since = self._writing_since
        stuck = since is not None and time.monotonic() - since > STUCK_SECONDS
        return not self.failing and not stuck

    async def store(self, values: dict[str, Any]) -> bool:
        """Queue one row; True once it is committed as new, False when its key was taken."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append((values, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_queued(), name="inbox-writer")
        return await done

    @property
    def _give_way_rows(self) -> int:
        return GIVE_WAY_ROWS if self._conninfo is not None else GIVE_WAY_ROWS_SQLITE

    @property
    def pressed(self) -> bool:
        """The webhook is busy enough that processing should give way (GIVE_WAY_ROWS)."""
        if len(self._queue) + len(self._in_flight) >= self._give_way_rows:
            return True
        return self._pressed_at is not None and (
            time.monotonic() - self._pressed_at < GIVE_WAY_HOLD_SECONDS
        )

    async def close(self) -> None:
        """Close the connection of the inserts (a new one is made when needed)."""
        connection, self._connection = self._connection, None
        if connection is not None and not connection.closed:
            with contextlib.suppress(Exception):
                await connection.close()
        lite, self._sqlite_connection = self._sqlite_connection, None
        if lite is not None:
            with contextlib.suppress(Exception):
                await lite.close()

    async def flushed(self) -> None:
        """Wait until every row queued so far is committed or refused."""
        waiting = [done for _, done in self._in_flight + self._queue]
        if waiting:
            await asyncio.wait(waiting)

    async def _write_queued(self) -> None:
        try:
            while self._queue:
                self._in_flight = self._queue[:MAX_BATCH]
                if len(self._in_flight) >= self._give_way_rows:
                    self._pressed_at = time.monotonic()
                del self._queue[:MAX_BATCH]
                await self._write(self._in_flight)
                self._in_flight = []
                self.on_stored()
        finally:  # only when cancelled (the loop is closing): nobody may wait forever
            for _, done in self._in_flight + self._queue:
                _settle(done, error=asyncio.CancelledError("the inbox writer stopped"))
            self._in_flight, self._queue = [], []

    async def _write(self, batch: list[Queued]) -> None:
        self._writing_since = time.monotonic()
        try:
            async with asyncio.timeout(STORE_SECONDS):
                new = await self._insert([values for values, _ in batch])
        except Exception as exc:
            self.failing = isinstance(exc, _OUT_OF_REACH)
            if len(batch) > 1 and not isinstance(exc, _OUT_OF_REACH):
                for one in batch:  # one bad row must not refuse the others
                    await self._write([one])
                return
            for _, done in batch:  # the database is unreachable: all of them wait for Zalo
                _settle(done, error=exc)
            return
        finally:
            self._writing_since = None
        self.failing = False
        taken: set[str] = set()
        for values, done in batch:  # the same key twice in one batch: the first one is new
            key = values["dedupe_key"]
            _settle(done, result=key in new and key not in taken)
            taken.add(key)

    async def _insert(self, rows: list[dict[str, Any]]) -> set[str]:
        if self._conninfo is not None:
            try:
                if self._connection is None or self._connection.closed:
                    self._connection = await psycopg.AsyncConnection.connect(
                        self._conninfo, autocommit=True, **storage_db.PG_CONNECT_ARGS
                    )
                return await pg_insert(self._connection, rows)
            except BaseException:
                await self.close()  # a broken or interrupted connection is not used again
                raise
        async with self.turns:
            try:
                lite = self._sqlite_connection
                if lite is None:
                    lite = self._sqlite_connection = await open_sqlite(self.sqlite_path)
                return await sqlite_insert(lite, rows)
            except BaseException:
                await self.close()  # as for PostgreSQL: a fresh connection next time
                raise


def _settle(
    done: asyncio.Future[bool], *, result: bool = False, error: BaseException | None = None
) -> None:
    if done.done():  # the webhook call was cancelled
        return
    if error is None:
        done.set_result(result)
        return
    failure = StoreError(f"{type(error).__name__}: {error}")
    failure.__cause__ = error
    done.set_exception(failure)
