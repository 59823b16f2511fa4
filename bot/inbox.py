"""The inbox: every verified webhook event is stored before the webhook answers, then processed
off the request path, one transaction per event. An event acknowledged and then interrupted by
a crash is still pending after a restart; a redelivered event finds its key taken and is skipped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from sqlmodel import col, select

from bot.dispatch import Deps, process_event
from bot.events import EventError, clean_text, load_body, parse_event
from bot.metrics import Metrics
from bot.worker import run_forever, stop_after_pass
from storage import repo
from storage.db import SessionFactory
from storage.models import InboxEvent

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3


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

    async def store(self, *, key: str, event_name: str, body: bytes, now: datetime) -> bool:
        """Insert the raw event unless its key is already there; True when it is new."""
        values = {
            "dedupe_key": key,
            "event_name": clean_text(event_name)[:100],
            "body": body.decode("utf-8"),
            "received_at": now,
            "status": "pending",
            "attempts": 0,
        }
        async with self.sessions() as db:
            new = await repo.insert_once(db, InboxEvent, unique=["dedupe_key"], **values)
            await db.commit()
        self._wake.set()
        return new

    async def run(self, poll_seconds: float = 2.0) -> None:
        """Process pending events until cancelled."""
        await run_forever(self.process_pending, self._wake, poll_seconds, "inbox", self._stop)

    async def shutdown(self, task: asyncio.Task[None]) -> None:
        """Stop after the event under way; a pending event waits for the next start."""
        await stop_after_pass(task, self._stop, self._wake)

    async def process_pending(self, batch: int = 100) -> int:
        """Process every pending event in arrival order; returns how many were handled."""
        done = 0
        async with self._lock:
            while ids := await self._pending_ids(batch):
                for inbox_id in ids:
                    await self._process_one(inbox_id)
                    done += 1
        if done:
            self.on_processed()
        return done

    async def _pending_ids(self, batch: int) -> list[int]:
        async with self.sessions() as db:
            query = (
                select(InboxEvent.id)
                .where(InboxEvent.status == "pending")
                .order_by(col(InboxEvent.id))
                .limit(batch)
            )
            return [i for i in (await db.exec(query)).all() if i is not None]

    async def _process_one(self, inbox_id: int) -> None:
        name: str | None = None
        msg_id: str | None = None
        status, error = "done", None
        try:
            async with self.sessions() as db:
                # Another process may hold it (PostgreSQL: skip it; SQLite: BEGIN IMMEDIATE waits).
                claim = (
                    select(InboxEvent)
                    .where(InboxEvent.id == inbox_id, InboxEvent.status == "pending")
                    .with_for_update(skip_locked=True)
                )
                row = (await db.exec(claim)).first()
                if row is None:
                    return
                name = row.event_name
                try:
                    event = parse_event(load_body(row.body.encode("utf-8")))
                except EventError as exc:
                    status, error = "invalid", str(exc)
                    row.status, row.error = status, error
                else:
                    msg_id = event.msg_id
                    await process_event(db, event, self.deps, inbox_id=inbox_id)
                    row.status = "done"
                row.processed_at = self.deps.clock.now()
                db.add(row)
                await db.commit()
        except Exception as exc:
            log.exception("inbox %s failed", inbox_id)
            outcome = await self._record_failure(inbox_id, exc)
            self._processed(inbox_id, name, msg_id, outcome, type(exc).__name__)
            return
        self._processed(inbox_id, name, msg_id, status, error)

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

    async def _record_failure(self, inbox_id: int, exc: Exception) -> str:
        """Count the attempt; "failed" once MAX_ATTEMPTS is reached, else "retry"."""
        async with self.sessions() as db:
            row = await db.get(InboxEvent, inbox_id)
            if row is None:
                return "retry"
            row.attempts += 1
            row.error = f"{type(exc).__name__}: {exc}"[:1000]
            if row.attempts >= MAX_ATTEMPTS:
                row.status = "failed"
            db.add(row)
            await db.commit()
            return "failed" if row.status == "failed" else "retry"
