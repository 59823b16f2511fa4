"""The inbox: every verified webhook event is stored before the webhook answers, then processed
off the request path, in batches of events that commit together (a failing batch is rolled back
and its events are processed one by one, so each event has all its effects or none). An event
acknowledged and then interrupted by a crash is still pending after a restart; a redelivered
event finds its key taken and is skipped.

Storing is a group commit: the events that arrive while one INSERT is under way go into the
next one, one statement and one commit for all of them, and each webhook call answers only
after the commit that holds its row. On SQLite, where every transaction takes the one write
lock, the inserts and the worker's transactions take turns on an asyncio lock, the inserts
first, instead of polling for SQLite's lock with sleeps of up to 100 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, NamedTuple

import aiosqlite
import psycopg
from sqlalchemy import JSON, bindparam, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.audience import alert_heads, ids_with_role
from bot.core.context import EventTooSlow
from bot.core.dispatch import Deps, process_event
from bot.core.metrics import Metrics
from bot.core.outbox import enqueue
from bot.core.worker import run_forever, stop_after_pass
from bot.zalo.events import EventError, ZaloEvent, clean_text, load_body, parse_event
from storage import db as storage_db
from storage import hot, repo, sqlite_driver
from storage.db import SessionFactory
from storage.models import InboxEvent
from storage.types import UTCDateTime

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3  # an event that fails (raises, or runs over EVENT_TIME_BUDGET) this often
# is set aside as "failed", reported once to the admins, and the events behind it go on.
# Events claimed by one transaction: about what a batch gets through in BATCH_SECONDS. A claim
# locks and reads every row it takes; with 50, a batch cut short released most of them again
# and processing under a backlog was ~30 % slower (PostgreSQL, 2 cores).
BATCH_ROWS = 20
# A batch stops taking its claimed events after this much work and commits: the first event of
# a batch waits for the whole batch, so this bounds the processing lag a batch adds.
BATCH_SECONDS = 0.025
LINGER_SECONDS = 0.01  # see Inbox._lingering_pass
CHANNEL = "inbox_events"  # PostgreSQL LISTEN/NOTIFY channel: "an event was stored"
RELISTEN_SECONDS = 5.0
# On SQLite a batch holds the write lock the webhook's inserts need (this process's, and any
# other's on the same file): it commits after this long plus the event under way, so an
# acknowledgement waits a few ms at most for processing. Shorter batches process less per
# second (3 ms: one process fell behind at 500 events/s on the bench); longer ones made the
# acknowledgements of two processes at 1,000/s wait over 25 ms (p99, 5 ms).
SQLITE_YIELD_SECONDS = 0.004
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
GIVE_WAY_SECONDS = 0.5
GIVE_WAY_POLL_SECONDS = 0.005
# A group commit that has not finished after this long is given up (its connection closed, a
# new one opened for the next): the webhook answered 503 long before, at its own deadline.
STORE_SECONDS = 10.0
# The webhook counts as unable to store (/healthz "degraded") while its last group commit
# failed, or one has been under way this long.
STUCK_SECONDS = 2.0

Queued = tuple[dict[str, Any], "asyncio.Future[bool]"]


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

_SQLITE_CLAIM = (
    select(*_CLAIMED)
    .where(InboxEvent.status == "pending")
    .order_by(col(InboxEvent.id))
    .limit(bindparam("limit"))
)
_SQLITE_DONE = text(
    "UPDATE inbox_events SET status = 'done', processed_at = :now"
    " WHERE id IN (SELECT value FROM json_each(:ids))"
).bindparams(bindparam("now", type_=UTCDateTime()), bindparam("ids", type_=JSON()))

_PG_DONE = text(
    "UPDATE inbox_events SET status = 'done', processed_at = :now WHERE id = ANY(:ids)"
).bindparams(bindparam("now", type_=UTCDateTime()))

# PostgreSQL, one round trip: lock the oldest pending rows nobody holds, and keep those with no
# earlier pending event of their conversation outside the batch (one that is pending and not in
# the batch is held by another process: this one waits, so each group stays in order).
_PG_CLAIM = text("""
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


# The database is out of reach (through SQLAlchemy or, for the inbox's inserts, the driver).
_UNREACHABLE = (
    OperationalError,
    InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    sqlite3.OperationalError,
)


def _pg_conninfo(sessions: SessionFactory) -> str | None:
    """The sessions' PostgreSQL database as a libpq URL, for psycopg connections of our own;
    None on SQLite."""
    bind = sessions.kw.get("bind")
    if bind is None or bind.dialect.name != "postgresql":
        return None
    return str(bind.url.set(drivername="postgresql").render_as_string(hide_password=False))


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
        # transaction), driven by psycopg directly: a single-row batch costs ~100 µs of CPU
        # this way against ~380 µs through the engine's pool and SQLAlchemy, and at a few
        # hundred events a second most batches are single rows.
        self._conninfo = _pg_conninfo(sessions)
        self._connection: psycopg.AsyncConnection[Any] | None = None
        # SQLite: the same idea, a sqlite3 connection of its own on its own aiosqlite thread,
        # where a whole group commit (BEGIN IMMEDIATE, INSERT, COMMIT) is one trip: through a
        # session it was three, and the SQLAlchemy work around them.
        self._sqlite_path = _sqlite_path(sessions)
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
                cursor = await self._connection.execute(_PG_INSERT, _pg_rows(rows))
                return {row[0] for row in await cursor.fetchall()}
            except BaseException:
                await self.close()  # a broken or interrupted connection is not used again
                raise
        async with self.turns:
            try:
                lite = self._sqlite_connection
                if lite is None:
                    lite = self._sqlite_connection = await _open_sqlite(self._sqlite_path)
                # aiosqlite 0.22's private _execute/_conn: one trip to its thread (pinned in
                # pyproject; tests/test_sqlite_driver.py fails if they change)
                new: set[str] = await lite._execute(  # type: ignore[no-untyped-call]
                    _sqlite_insert, lite._conn, _sqlite_rows(rows)
                )
                return new
            except BaseException:
                await self.close()  # as for PostgreSQL: a fresh connection next time
                raise


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
_INBOX = InboxEvent.__table__  # type: ignore[attr-defined]
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
_SQLITE_RECEIVED_AT = _INBOX.c.received_at.type.dialect_impl(_LITE).bind_processor(_LITE)


def _sqlite_path(sessions: SessionFactory) -> str | None:
    bind = sessions.kw.get("bind")
    if bind is None or bind.dialect.name != "sqlite":
        return None
    database: str | None = bind.url.database
    return database


async def _open_sqlite(path: str | None) -> aiosqlite.Connection:
    connection = await aiosqlite.connect(path or ":memory:")
    # the engine's connection settings (WAL, busy_timeout, …), looked up now: tests change them
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


class Inbox:
    def __init__(
        self,
        sessions: SessionFactory,
        deps: Deps,
        on_processed: Callable[[], None] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.sessions, self.deps = sessions, deps
        self.metrics = metrics or Metrics()
        self.on_processed = on_processed or (lambda: None)
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._lock = asyncio.Lock()
        bind = sessions.kw.get("bind")
        self._sqlite = bind is not None and bind.dialect.name == "sqlite"
        # PostgreSQL locks rows, not the database: nothing to take turns on there.
        turns = asyncio.Lock() if self._sqlite else contextlib.nullcontext()
        self._turns: AbstractAsyncContextManager[Any] = turns
        self._writer = GroupCommit(sessions, self._wake.set, turns)
        self._budget = deps.settings.duration("event_time_budget").total_seconds()
        self._oa_id = deps.settings.zalo_oa_id
        # Right after a start the oldest pending events may be the ones that were under way
        # when the process died (a kill, or an event that froze it): they are processed one
        # at a time with the attempt counted first, so one that kills the process every time
        # is set aside after MAX_ATTEMPTS starts instead of stopping the service for good.
        self._recovering = True
        self._started = deps.clock.now()

    async def close(self) -> None:
        await self._writer.close()

    def wake(self) -> None:
        """Look for pending events now (one was put back in line)."""
        self._wake.set()

    @property
    def storing(self) -> bool:
        """Whether this process's webhook can store events now (see GroupCommit.storing)."""
        return self._writer.storing

    async def store(
        self,
        *,
        key: str,
        event_name: str,
        body: bytes,
        now: datetime,
        conversation: str | None = None,
    ) -> bool:
        """Insert the raw event unless its key is already there; True when it is new."""
        values = {
            "dedupe_key": key,
            "conversation": conversation,
            "event_name": clean_text(event_name)[:100],
            "body": body.decode("utf-8"),
            "received_at": now,
            "status": "pending",
            "attempts": 0,
        }
        return await self._writer.store(values)

    @contextlib.asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        """The worker's turn at the database; on SQLite the webhook's queued inserts go first."""
        if self._sqlite:
            await self._writer.flushed()
        async with self._turns:
            yield

    async def run(self, poll_seconds: float = 2.0) -> None:
        """Process pending events until cancelled; on PostgreSQL, woken by any process's
        webhook as soon as it stores an event, polling only as the fallback."""
        conninfo = _pg_conninfo(self.sessions)
        listener = None
        if conninfo is not None:
            listener = asyncio.create_task(self._listen(conninfo), name="inbox-listen")
        try:
            await run_forever(self._lingering_pass, self._wake, poll_seconds, "inbox", self._stop)
        finally:
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener

    async def _lingering_pass(self) -> int:
        """Wait a moment for more events before a pass: woken at every event, a worker would
        pay a batch's fixed cost (claim, mark, commit) for each one alone."""
        await asyncio.sleep(LINGER_SECONDS)
        return await self.process_pending()

    async def _listen(self, conninfo: str) -> None:
        """LISTEN on a connection of its own and set the wake-up event at every notification."""
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    conninfo, autocommit=True, **storage_db.PG_CONNECT_ARGS
                ) as connection:
                    await connection.execute(f"LISTEN {CHANNEL}")
                    self._wake.set()  # events stored while nobody listened
                    async for _ in connection.notifies():
                        self._wake.set()
            except psycopg.Error as exc:
                log.warning("inbox: no LISTEN connection (%s); polling meanwhile", exc)
            await asyncio.sleep(RELISTEN_SECONDS)

    async def shutdown(self, task: asyncio.Task[None]) -> None:
        """Stop after the event under way; a pending event waits for the next start."""
        await stop_after_pass(task, self._stop, self._wake)

    async def process_pending(self) -> int:
        """Process every pending event in arrival order; returns how many were handled."""
        # One batch at a time: on the bench's 2 cores, several batches at once (one connection
        # each) took CPU from the webhook's answers and processed no faster; more processes
        # are the way to more cores.
        done, more = 0, True
        async with self._lock:
            if self._recovering:
                done += await self._recover()
            # Events stored while a batch ran (the wake-up is set) go next, at once: lingering
            # is for a worker woken from idle.
            while (more or self._wake.is_set()) and not self._stop.is_set():
                await self._give_way()
                self._wake.clear()
                handled, more = await self._process_batch()
                if handled:
                    self.on_processed()  # their answers go out now, not after the backlog
                done += handled
        return done

    async def _give_way(self) -> None:
        """Wait while this process's webhook is busy storing events (see GIVE_WAY_ROWS), at
        most GIVE_WAY_SECONDS."""
        if not self._writer.pressed:
            return
        deadline = time.monotonic() + GIVE_WAY_SECONDS
        while self._writer.pressed and time.monotonic() < deadline and not self._stop.is_set():
            await asyncio.sleep(GIVE_WAY_POLL_SECONDS)

    async def _process_batch(self) -> tuple[int, bool]:
        """Claim pending events and process them in one transaction: (how many were handled,
        whether more may be waiting).

        One commit for many events instead of one each: processing is several times faster
        under load, and each event still has all its effects or none, because a batch that
        fails anywhere is rolled back whole and its events are then processed one by one.
        A claim that was not full found every event there was to take: unless more were stored
        meanwhile, the pass ends there instead of paying a transaction for an empty claim; what
        arrives later wakes the worker again (the webhook here, NOTIFY from other processes,
        else the poll).
        """
        tried: list[Claimed] = []
        outcomes: list[tuple[Claimed, str, str | None, str | None]] = []
        try:
            async with self._turn(), self.sessions() as db:
                claimed = await self._claim(db)
                if not claimed:
                    return 0, False
                started = time.monotonic()
                for row in claimed:
                    if tried:
                        # Let the webhook read what arrived meanwhile (on SQLite nothing else
                        # in a batch gives the loop a turn), then see if it is time to commit.
                        await asyncio.sleep(0)
                        if self._batch_over(time.monotonic() - started):
                            break  # the rest stay pending for the next batch
                    tried.append(row)
                    outcomes.append((row, *await self._apply(db, row)))
                await self._mark(db, outcomes)
                await db.commit()
        except Exception:
            if not tried:
                raise
            log.debug("inbox batch of %d failed; one by one", len(tried), exc_info=True)
            return sum([await self._process_one(row.id) for row in tried]), True
        for row, status, msg_id, error in outcomes:
            self._processed(row.id, row.event_name, msg_id, status, error)
        return len(outcomes), len(claimed) == BATCH_ROWS or len(outcomes) < len(claimed)

    def _batch_over(self, seconds: float) -> bool:
        """Time to commit: the batch has run long enough to delay its first event, or, on
        SQLite, where it holds the one write lock, long enough to delay the webhook's inserts
        (this process's, or another's that it cannot see waiting)."""
        if seconds > BATCH_SECONDS or self._writer.pressed:
            return True
        return self._sqlite and seconds > SQLITE_YIELD_SECONDS

    async def _claim(self, db: AsyncSession) -> list[Claimed]:
        """The oldest pending events no other process holds, minus any that must wait for an
        earlier event of their conversation still under way in another process."""
        # SQLite: one writer, so nobody else holds a row and every pending event is free.
        claim = _SQLITE_CLAIM if self._sqlite else _PG_CLAIM
        return [Claimed(*row) for row in await hot.execute(db, claim, {"limit": BATCH_ROWS})]

    async def _apply(self, db: AsyncSession, row: Claimed) -> tuple[str, str | None, str | None]:
        """(status, msg_id, error) of one claimed event, its effects added to the session."""
        try:
            event = parse_event(load_body(row.body.encode("utf-8")), self._oa_id)
        except EventError as exc:
            return "invalid", None, str(exc)
        await self._within_budget(db, event, row.id)
        return "done", event.msg_id, None

    async def _within_budget(self, db: AsyncSession, event: ZaloEvent, inbox_id: int) -> None:
        """process_event, given up after EVENT_TIME_BUDGET: checked between its steps, and a
        watchdog (a timeout) cancels a step that waits longer than that."""
        deadline = time.monotonic() + self._budget
        try:
            async with asyncio.timeout(self._budget):
                await process_event(db, event, self.deps, inbox_id=inbox_id, deadline=deadline)
        except TimeoutError as exc:
            raise EventTooSlow(f"over EVENT_TIME_BUDGET ({self._budget:g} s)") from exc

    async def _recover(self) -> int:
        """After a start: the oldest events left pending before it, one at a time, each attempt
        counted before it runs (see _recovering)."""
        async with self.sessions() as db:
            query = select(col(InboxEvent.id)).where(
                InboxEvent.status == "pending", col(InboxEvent.received_at) < self._started
            )
            ids = (await db.exec(query.order_by(col(InboxEvent.id)).limit(BATCH_ROWS))).all()
        done = 0
        for inbox_id in ids:
            if self._stop.is_set() or inbox_id is None:
                break
            done += await self._process_one(inbox_id, count_first=True)
        self._recovering = False
        return done

    async def _count_start(self, inbox_id: int) -> bool:
        """Count one more attempt of a pending event before it runs; False (and the event set
        aside as failed) when it has had MAX_ATTEMPTS already."""
        async with self._turn(), self.sessions() as db:
            row = await db.get(InboxEvent, inbox_id)
            if row is None or row.status != "pending":
                return True  # done meanwhile: the claim finds nothing
            if row.attempts >= MAX_ATTEMPTS:
                error = row.error or "the process stopped while processing it"
                await self._set_aside(db, row, error)
                await db.commit()
                return False
            row.attempts += 1
            db.add(row)
            await db.commit()
            return True

    async def _mark(
        self, db: AsyncSession, outcomes: list[tuple[Claimed, str, str | None, str | None]]
    ) -> None:
        # Core statements, not ORM-enabled UPDATEs, which would first look for the rows among
        # the session's loaded objects; the common one, the done-mark, is a hot statement.
        now = self.deps.clock.now()
        done = [row.id for row, status, _, _ in outcomes if status == "done"]
        if done:  # one statement text whatever the count: compiled (prepared) once
            await hot.execute(
                db, _SQLITE_DONE if self._sqlite else _PG_DONE, {"ids": done, "now": now}
            )
        table = _INBOX
        for row, status, _, error in outcomes:
            if status != "done":
                refused = update(table).where(table.c.id == row.id)
                connection = await db.connection()
                await connection.execute(
                    refused.values(status=status, error=error, processed_at=now)
                )

    async def _process_one(self, inbox_id: int, *, count_first: bool = False) -> bool:
        """Process one event; False when another process has it or it must wait its turn.

        `count_first`: its attempt is counted (and committed) before it runs (_recover)."""
        if count_first and not await self._count_start(inbox_id):
            self._processed(inbox_id, None, None, "failed", "too many attempts")
            return True
        name: str | None = None
        msg_id: str | None = None
        status, error = "done", None
        try:
            async with self._turn(), self.sessions() as db:
                # Another process may hold it (PostgreSQL: skip it; SQLite: BEGIN IMMEDIATE waits).
                claim = (
                    select(InboxEvent)
                    .where(
                        InboxEvent.id == inbox_id,
                        InboxEvent.status == "pending",
                        ~_EARLIER_PENDING,
                    )
                    .with_for_update(skip_locked=True)
                )
                row = (await db.exec(claim)).first()
                if row is None:
                    return False
                name = row.event_name
                try:
                    event = parse_event(load_body(row.body.encode("utf-8")), self._oa_id)
                except EventError as exc:
                    status, error = "invalid", str(exc)
                    row.status, row.error = status, error
                else:
                    msg_id = event.msg_id  # known to the failure's log line too
                    await self._within_budget(db, event, inbox_id)
                    row.status = "done"
                row.processed_at = self.deps.clock.now()
                db.add(row)
                await db.commit()
        except Exception as exc:
            log.exception("inbox %s failed", inbox_id)
            outcome = await self._record_failure(inbox_id, exc, counted=count_first)
            self._processed(inbox_id, name, msg_id, outcome, type(exc).__name__)
            return True
        self._processed(inbox_id, name, msg_id, status, error)
        return True

    def _processed(
        self,
        inbox_id: int,
        name: str | None,
        msg_id: str | None,
        outcome: str,
        error: str | None = None,
    ) -> None:
        """One key=value line per processed event (ids only, never the text) and its counter."""
        if outcome in ("done", "invalid", "failed"):
            self.metrics.inc("zalo_bot_events_processed_total", outcome)
        line = f"event processed inbox_id={inbox_id} event={name} msg_id={msg_id} outcome={outcome}"
        if error:
            line += f" error={error!r}"
        if outcome == "done":
            log.info("%s", line)
        else:
            log.warning("%s", line)

    async def _record_failure(self, inbox_id: int, exc: Exception, *, counted: bool) -> str:
        """Count the attempt (unless `counted` before it ran); "failed" once MAX_ATTEMPTS is
        reached, else "retry"."""
        async with self._turn(), self.sessions() as db:
            row = await db.get(InboxEvent, inbox_id)
            if row is None:
                return "retry"
            row.attempts += 0 if counted else 1
            row.error = f"{type(exc).__name__}: {exc}"[:1000]
            if row.attempts >= MAX_ATTEMPTS:
                await self._set_aside(db, row, row.error)
            db.add(row)
            await db.commit()
            return "failed" if row.status == "failed" else "retry"

    async def _set_aside(self, db: AsyncSession, row: InboxEvent, error: str) -> None:
        """Mark the event failed and tell the admins once (alert group, else 1:1), in the
        caller's transaction; the dashboard lists it with a retry button."""
        now = self.deps.clock.now()
        row.status, row.error, row.processed_at = "failed", error[:1000], now
        db.add(row)
        await repo.audit(
            db, at=now, actor_id="bot", action="inbox.failed", inbox_id=row.id, error=error[:300]
        )
        admins = await ids_with_role(db, "admin") or await ids_with_role(db, "sales_head")
        context = {"inbox_id": row.id, "event_name": row.event_name, "error": error[:200]}
        notices = alert_heads(self.deps.settings, admins, "event_failed", context)
        renderer, locale = self.deps.renderer, self.deps.settings.locale
        await enqueue(db, notices, renderer=renderer, locale=locale, now=now)


# An earlier event of the same conversation still pending goes first: with several processes
# it may be under way in another one (locked, pending until that commits), and answering this
# one now could answer out of order. Part of the claim, so it costs no extra round trip.
_EARLIER = aliased(InboxEvent)
_EARLIER_PENDING = (
    select(_EARLIER.id)
    .where(
        col(_EARLIER.conversation) == col(InboxEvent.conversation),
        col(_EARLIER.id) < col(InboxEvent.id),
        col(_EARLIER.status) == "pending",
    )
    .exists()
)
