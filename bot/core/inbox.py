"""The inbox: every verified webhook event is stored before the webhook answers, then processed
off the request path, in batches of events that commit together (a failing batch is rolled back
and its events are processed one by one, so each event has all its effects or none). An event
acknowledged and then interrupted by a crash is still pending after a restart; a redelivered
event finds its key taken and is skipped.
Storing is a group commit (bot/core/group_commit.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.context import EventTooSlow
from bot.core.dispatch import Deps, process_event
from bot.core.failed_events import set_aside
from bot.core.group_commit import GroupCommit
from bot.core.metrics import Metrics
from bot.core.worker import run_forever, stop_after_pass
from bot.zalo.events import EventError, ZaloEvent, clean_text, load_body, parse_event
from storage.db import SessionFactory
from storage.fast import hot
from storage.fast.inbox import (
    EARLIER_PENDING,
    INBOX,
    PG_CLAIM,
    PG_DONE,
    SQLITE_CLAIM,
    SQLITE_DONE,
    Claimed,
    listen,
    pg_conninfo,
)
from storage.models import InboxEvent

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3  # an event that fails (raises, or runs over EVENT_TIME_BUDGET) this often
# is set aside as "failed", reported once to the admins, and the events behind it go on.
# Events claimed by one transaction: about what a batch gets through in BATCH_SECONDS. A claim
# locks and reads every row it takes; with many more, a batch cut short released most of them
# again and processing under a backlog was slower (bench/RESULTS.md, "Measurements behind the
# design").
BATCH_ROWS = 20
# A batch stops taking its claimed events after this much work and commits: the first event of
# a batch waits for the whole batch, so this bounds the processing lag a batch adds.
BATCH_SECONDS = 0.025
LINGER_SECONDS = 0.01  # see Inbox._lingering_pass
# On SQLite a batch holds the write lock the webhook's inserts need (this process's, and any
# other's on the same file): it commits after this long plus the event under way, so an
# acknowledgement waits a few ms at most for processing. Shorter batches process less per
# second and longer ones make the acknowledgements of several processes wait (bench/RESULTS.md,
# "Measurements behind the design").
SQLITE_YIELD_SECONDS = 0.004
GIVE_WAY_SECONDS = 0.5
GIVE_WAY_POLL_SECONDS = 0.005


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
        conninfo = pg_conninfo(self.sessions)
        listener = None
        if conninfo is not None:
            listener = asyncio.create_task(listen(conninfo, self._wake.set), name="inbox-listen")
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
        """Wait while this process's webhook is busy storing events (group_commit.GIVE_WAY_ROWS),
        at most GIVE_WAY_SECONDS."""
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
        claim = SQLITE_CLAIM if self._sqlite else PG_CLAIM
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
                await set_aside(db, row, error, self.deps)
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
                db, SQLITE_DONE if self._sqlite else PG_DONE, {"ids": done, "now": now}
            )
        table = INBOX
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
                        ~EARLIER_PENDING,
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
                await set_aside(db, row, row.error, self.deps)
            db.add(row)
            await db.commit()
            return "failed" if row.status == "failed" else "retry"
