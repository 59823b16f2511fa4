"""The durable outbox: intents become rows in the event's transaction; a worker delivers them.

Delivery keeps the order within each group or user, retries with backoff on -32, network errors
and 5xx, and records permanent errors (telling the staff member concerned) instead of retrying
forever. Each row is claimed with a short lease, so a second process or a crash mid-send never
loses it. The Zalo message id of every bot message is kept, so replies to it can be recognised.

Each group (or user) is delivered on its own: a send that hangs holds up its own group only,
never the others (at most CONCURRENT_TARGETS groups at a time). A lease is renewed while its
process works, so it can be short (LEASE): a process that dies leaves its rows for another
after LEASE at most, and one that restarts takes its own back at once (`take_back`).

Delivery is at least once, honestly: when Zalo took a message and the process died (or the
database failed) before "sent" was saved, the message is sent again: by another process after
LEASE, or by the same one right after its restart. Saving "sent" is retried a few times first,
so a database blip alone rarely causes it. At most one message per group can be doubled so.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import col, select

from bot.core import membership
from bot.core.clock import Clock
from bot.core.enqueue import enqueue
from bot.core.intents import SendUser
from bot.core.logsafe import loggable
from bot.core.membership import GroupState
from bot.core.metrics import Metrics
from bot.core.render import Renderer
from bot.core.senders import Sender
from bot.core.undelivered import report_failure, reroute
from bot.core.worker import run_forever, stop_after_pass
from bot.zalo.errors import ZaloAPIError, ZaloAuthError, ZaloError
from config.settings import Settings
from storage import repo
from storage.db import SessionFactory
from storage.models import Message, OutboxMessage

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
LEASE = timedelta(seconds=15)  # renewed every LEASE/3 while the process holds the row
CONCURRENT_TARGETS = 8
SAVE_TRIES = (0.2, 0.5, 1.0)  # seconds between tries to save "sent" after Zalo took a message


def _retryable(exc: ZaloError) -> bool:
    # An auth error that survived a refresh needs a person to fix the credentials: keep the
    # message and try again later, it is not the message's fault.
    return isinstance(exc, ZaloAuthError) or bool(getattr(exc, "retryable", False))


def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s … capped at 10 minutes."""
    return timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), 600))


class Outbox:
    """Delivers due outbox rows; `deliver_due` is one pass, `run` loops until cancelled."""

    def __init__(
        self,
        sessions: SessionFactory,
        sender: Sender,
        clock: Clock,
        renderer: Renderer,
        locale: str,
        metrics: Metrics | None = None,
        read_sessions: SessionFactory | None = None,
        holder: str = "local",
        settings: Settings | None = None,
    ) -> None:
        self.sessions, self.sender, self.clock = sessions, sender, clock
        # The pass looks for due rows without the write lock (storage.db.make_read_sessions):
        # on SQLite an idle outbox then never holds up the webhook's inserts.
        self.read_sessions = read_sessions or sessions
        self.metrics = metrics or Metrics()
        self.renderer, self.locale = renderer, locale
        self.holder = holder  # this process, as its leases name it
        self.settings = settings  # where alerts go (ZALO_ALERT_GROUP_ID)
        self.alert_group_id = settings.zalo_alert_group_id if settings else ""
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._gate = asyncio.Semaphore(CONCURRENT_TARGETS)
        self._busy: dict[str, asyncio.Task[int]] = {}  # target -> its delivery under way
        self._held: set[int] = set()  # rows this process has claimed and not settled

    def wake(self) -> None:
        self._wake.set()

    async def run(self, poll_seconds: float = 1.0) -> None:
        """Deliver until stopped; a pass starts each due group's delivery and returns."""
        renewing = asyncio.create_task(self._renew_leases(), name="outbox-leases")
        try:
            await run_forever(
                lambda: self.deliver_due(wait=False), self._wake, poll_seconds, "outbox", self._stop
            )
        finally:
            renewing.cancel()
            await asyncio.gather(renewing, return_exceptions=True)

    async def shutdown(self, task: asyncio.Task[None], grace_seconds: float = 10.0) -> None:
        """Stop after the sends under way, so no message is left half-sent at exit."""
        await stop_after_pass(task, self._stop, self._wake)
        busy = list(self._busy.values())
        if busy:
            _, late = await asyncio.wait(busy, timeout=grace_seconds)
            for straggler in late:
                straggler.cancel()
            await asyncio.gather(*busy, return_exceptions=True)

    async def take_back(self) -> int:
        """At start: the rows this process (same host and port) was sending when it stopped
        are due again now, not after their lease."""
        async with self.sessions() as db:
            result = await db.exec(
                update(OutboxMessage)
                .where(
                    col(OutboxMessage.status) == "sending",
                    col(OutboxMessage.leased_by) == self.holder,
                )
                .values(status="pending", next_attempt_at=self.clock.now(), leased_by=None)
            )
            await db.commit()
        if result.rowcount:
            log.warning("outbox: took back %d sends cut short by the last stop", result.rowcount)
        return int(result.rowcount or 0)

    async def _renew_leases(self) -> None:
        """Every LEASE/3, push the lease of each row this process holds a LEASE ahead."""
        while True:
            await asyncio.sleep(LEASE.total_seconds() / 3)
            held = sorted(self._held)
            if not held:
                continue
            try:
                async with self.sessions() as db:
                    await db.exec(
                        update(OutboxMessage)
                        .where(
                            col(OutboxMessage.id).in_(held),
                            col(OutboxMessage.status) == "sending",
                            col(OutboxMessage.leased_by) == self.holder,
                        )
                        .values(next_attempt_at=self.clock.now() + LEASE)
                    )
                    await db.commit()
            except Exception as exc:  # the next renewal tries again; the lease is the backstop
                log.warning("outbox: could not renew leases: %s", loggable(exc))

    async def deliver_due(self, limit: int = 200, *, wait: bool = True) -> int:
        """Start delivering what is due now, in order per target, each target on its own;
        with `wait`, return once those deliveries end, with how many rows were tried, else at
        once, with how many targets were started.

        Only a row that is due is claimed (a conditional UPDATE in its own transaction), so a
        pass with nothing due writes nothing. A target whose delivery is still under way (a
        slow Zalo call) is left to it: the others go on.
        """
        now = self.clock.now()
        async with self.read_sessions() as db:
            rows = (
                await db.exec(
                    select(OutboxMessage)
                    .where(col(OutboxMessage.status).in_(("pending", "sending")))
                    .order_by(col(OutboxMessage.id))
                    .limit(limit)
                )
            ).all()
        chains: dict[str, list[OutboxMessage]] = {}
        for row in rows:
            if row.target_id not in self._busy:
                chains.setdefault(row.target_id, []).append(row)
        started = [
            self._start(target, chain, now)
            for target, chain in chains.items()
            if chain[0].next_attempt_at <= now
        ]
        if not wait:
            return len(started)
        return sum(await asyncio.gather(*started))

    def _start(self, target: str, chain: list[OutboxMessage], now: datetime) -> asyncio.Task[int]:
        task = asyncio.create_task(self._chain(chain, now, self._gate), name=f"outbox:{target}")
        self._busy[target] = task
        task.add_done_callback(lambda done: self._ended(target, done))
        return task

    def _ended(self, target: str, task: asyncio.Task[int]) -> None:
        """A target's delivery ended: look again if it sent something (more may be queued)."""
        self._busy.pop(target, None)
        if task.cancelled():
            return
        if (exc := task.exception()) is not None:
            log.warning("outbox %s: delivery stopped: %s", loggable(target), loggable(exc))
        elif task.result():
            self._wake.set()

    async def _chain(
        self, chain: list[OutboxMessage], now: datetime, gate: asyncio.Semaphore
    ) -> int:
        """Deliver one target's rows in order, stopping at the first that is not done."""
        tried = 0
        async with gate:
            for row in chain:
                if row.next_attempt_at > now or not await self._claim(row, now):
                    break
                tried += 1
                if not await self._attempt(row, now):
                    break
        return tried

    async def _claim(self, row: OutboxMessage, now: datetime) -> bool:
        async with self.sessions() as db:
            result = await db.exec(
                update(OutboxMessage)
                .where(
                    col(OutboxMessage.id) == row.id,
                    col(OutboxMessage.status) == row.status,
                    col(OutboxMessage.next_attempt_at) == row.next_attempt_at,
                )
                .values(
                    status="sending",
                    next_attempt_at=self.clock.now() + LEASE,
                    leased_by=self.holder,
                )
            )
            await db.commit()
        if result.rowcount:
            assert row.id is not None
            self._held.add(row.id)
        return bool(result.rowcount)

    async def _attempt(self, row: OutboxMessage, now: datetime) -> bool:
        assert row.id is not None
        try:
            try:
                message_id = await self._deliver(row, now)
            except ZaloError as exc:
                await self._failed(row, exc, now)
                return False
            await self._saved_as_sent(row, message_id, now)
            return True
        finally:
            self._held.discard(row.id)

    async def _deliver(self, row: OutboxMessage, now: datetime) -> str | None:
        """Send one row. A reading of the group ("sync") asks Zalo for its members and state
        and reconciles; an invite asks first too, and invites only those not in the group."""
        if row.target_kind not in ("sync", "invite"):
            return await self.sender.deliver(row)
        try:
            state = await self.sender.group_state(row.target_id)
        except Exception as exc:  # a reading that fails never holds up the group's messages
            log.warning("outbox: could not read group %s from Zalo: %s", row.id, loggable(exc))
            await self._unreadable(row, exc, now)
            state = None
        if state is not None:
            await self._reconciled(row, state, now)
        if row.target_kind == "sync":
            return None
        wanted = [str(u) for u in row.payload.get("user_ids", [])]
        if state is not None:
            wanted = [u for u in wanted if u not in state.members]
            if not wanted:
                log.info("outbox %s: everyone is in group %s already", row.id, row.target_id)
                return None
        row.payload = {**row.payload, "user_ids": wanted}
        return await self.sender.deliver(row)

    async def _reconciled(self, row: OutboxMessage, state: GroupState, now: datetime) -> None:
        """Store what Zalo says of the group; report a disabled or expiring group once; tell
        who asked (/sync) what came of it."""
        async with self.sessions() as db:
            counts = await membership.reconcile(db, row.target_id, state, now)
            notices = []
            if self.settings is not None:
                notices = await membership.report(db, self.settings, row.target_id, state, now)
            if row.target_kind == "sync" and row.notify_user_id:
                context = {"group_id": row.target_id, "name": state.name, **counts}
                context["problem"] = state.problem(now)
                notices.append(SendUser(row.notify_user_id, "sync_done", context))
            await enqueue(db, notices, renderer=self.renderer, locale=self.locale, now=now)
            await db.commit()

    async def _unreadable(self, row: OutboxMessage, exc: Exception, now: datetime) -> None:
        """Tell who asked (/sync) that Zalo could not be read; the daily reading tries again."""
        if row.target_kind != "sync" or not row.notify_user_id:
            return
        code = exc.code if isinstance(exc, ZaloAPIError) else getattr(exc, "status", None)
        notice = SendUser(
            row.notify_user_id, "sync_done", {"group_id": row.target_id, "error": code or "?"}
        )
        async with self.sessions() as db:
            await enqueue(db, [notice], renderer=self.renderer, locale=self.locale, now=now)
            await db.commit()

    async def _saved_as_sent(
        self, row: OutboxMessage, message_id: str | None, now: datetime
    ) -> None:
        """Zalo took the message: save that, trying again a few times (a database that fails
        now would have the message sent again once the lease runs out)."""
        for pause in (*SAVE_TRIES, None):
            try:
                await self._sent(row, message_id, now)
                return
            except Exception as exc:
                if pause is None:
                    raise
                log.warning("outbox %s: saving 'sent' failed (%s), again", row.id, loggable(exc))
                await asyncio.sleep(pause)

    async def _sent(self, row: OutboxMessage, message_id: str | None, now: datetime) -> None:
        async with self.sessions() as db:
            stored = await db.get(OutboxMessage, row.id)
            assert stored is not None
            stored.status, stored.zalo_message_id, stored.sent_at = "sent", message_id, now
            stored.attempts += 1
            db.add(stored)
            if message_id and row.target_kind in ("group", "user"):
                await repo.record_message(
                    db,
                    message=Message(
                        msg_id=message_id,
                        group_id=row.target_id if row.target_kind == "group" else None,
                        user_id="oa",
                        direction="out",
                        sender_kind="oa",
                        event_name="outbox",
                        text=row.text,
                        quote_msg_id=row.quote_msg_id,
                        sent_at=now,
                    ),
                )
            await db.commit()
        self.metrics.inc("zalo_bot_outbox_deliveries_total", "sent")

    async def _failed(self, row: OutboxMessage, exc: ZaloError, now: datetime) -> None:
        async with self.sessions() as db:
            stored = await db.get(OutboxMessage, row.id)
            assert stored is not None
            stored.attempts += 1
            stored.last_error = str(exc)[:500]
            stored.error_code = (
                exc.code if isinstance(exc, ZaloAPIError) else getattr(exc, "status", None)
            )
            if _retryable(exc) and stored.attempts < MAX_ATTEMPTS:
                stored.status, stored.next_attempt_at = "pending", now + backoff(stored.attempts)
                log.warning("outbox %s: retry %s after %s", row.id, stored.attempts, exc)
                self.metrics.inc("zalo_bot_outbox_deliveries_total", "retry")
            else:
                stored.status = "failed"
                log.error("outbox %s: failed for good: %s", row.id, exc)
                self.metrics.inc("zalo_bot_outbox_deliveries_total", "failed")
                await report_failure(db, stored, now, self.renderer, self.locale)
                if stored.target_kind == "user":
                    await reroute(db, stored, now, self.alert_group_id, self.renderer, self.locale)
            db.add(stored)
            await db.commit()
