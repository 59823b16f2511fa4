"""The durable outbox: intents become rows in the event's transaction; a worker delivers them.

Delivery keeps the order within each group or user, retries with backoff on -32, network errors
and 5xx, and records permanent errors (telling the staff member concerned) instead of retrying
forever. Each row is claimed with a short lease, so a second process or a crash mid-send never
loses it. The Zalo message id of every bot message is kept, so replies to it can be recognised.
"""

from __future__ import annotations

import asyncio
import logging
import unicodedata
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock
from bot.intents import Intent, Invite, SendGroup, SendUser
from bot.metrics import Metrics
from bot.render import Renderer
from bot.worker import run_forever, stop_after_pass
from bot.zalo_client import MAX_TEXT, ZaloAPIError, ZaloAuthError, ZaloClient, ZaloError
from storage import repo
from storage.db import SessionFactory
from storage.models import Message, OutboxMessage

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
LEASE = timedelta(seconds=60)
CONCURRENT_TARGETS = 8
MAX_PIECES = 3  # Zalo messages one reply may take; a longer text is cut, ending with "…"


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Cut a text into pieces Zalo accepts: at a line break or space, never inside a mention."""
    text = unicodedata.normalize("NFC", text)
    pieces: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit + 1)
        cut = cut if cut > limit // 2 else text.rfind(" ", 0, limit + 1)
        cut = cut if cut > limit // 2 else limit
        marker = text.rfind("[@", 0, cut)
        if marker != -1 and text.find("]", marker) >= cut and marker > 0:
            cut = marker
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return [*pieces, text] if text else pieces


async def enqueue(
    db: AsyncSession,
    intents: Sequence[Intent],
    *,
    renderer: Renderer,
    locale: str,
    now: datetime,
    source_event_id: int | None = None,
) -> list[OutboxMessage]:
    """Render each intent and add its outbox rows to the session (the caller commits)."""
    rows: list[OutboxMessage] = []
    for intent in intents:
        common = {
            "created_at": now,
            "next_attempt_at": now,
            "source_event_id": source_event_id,
            "notify_user_id": intent.notify_user_id,
        }
        if isinstance(intent, Invite):
            rows.append(
                OutboxMessage(
                    target_kind="invite",
                    target_id=intent.group_id,
                    text="",
                    purpose=intent.reason,
                    payload={
                        "user_ids": list(intent.user_ids),
                        "also_notify": list(intent.also_notify),
                    },
                    **common,
                )
            )
            continue
        kind, target = (
            ("group", intent.group_id)
            if isinstance(intent, SendGroup)
            else ("user", intent.user_id)
        )
        text = renderer.render(intent.template, locale, **intent.context)
        pieces = split_text(text)
        if len(pieces) > MAX_PIECES:
            pieces = [*pieces[: MAX_PIECES - 1], pieces[MAX_PIECES - 1][: MAX_TEXT - 1] + "…"]
        for index, piece in enumerate(pieces):
            rows.append(
                OutboxMessage(
                    target_kind=kind,
                    target_id=target,
                    text=piece,
                    purpose=intent.template,
                    quote_msg_id=intent.quote_msg_id if index == 0 else None,
                    payload=dict(intent.ref),
                    **common,
                )
            )
    db.add_all(rows)
    return rows


class Sender(Protocol):
    async def deliver(self, row: OutboxMessage) -> str | None:
        """Send one row; return the Zalo message id (None for an invite)."""
        ...


class ZaloSender:
    """Delivers through the real Zalo OA API."""

    def __init__(self, client: ZaloClient) -> None:
        self.client = client

    async def deliver(self, row: OutboxMessage) -> str | None:
        if row.target_kind == "group":
            return await self.client.send_group_text(row.target_id, row.text, row.quote_msg_id)
        if row.target_kind == "user":
            return await self.client.send_user_text(row.target_id, row.text, row.quote_msg_id)
        await self.client.invite(row.target_id, list(row.payload.get("user_ids", [])))
        return None


class LocalSender:
    """Local mode: nothing leaves the machine; each message is printed and marked sent."""

    async def deliver(self, row: OutboxMessage) -> str | None:
        if row.target_kind == "invite":
            print(
                f"[local] invite {row.payload.get('user_ids')} -> group {row.target_id}", flush=True
            )
            return None
        print(f"[local] -> {row.target_kind} {row.target_id}:\n{row.text}\n", flush=True)
        return f"local-{row.id}"


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
    ) -> None:
        self.sessions, self.sender, self.clock = sessions, sender, clock
        # The pass looks for due rows without the write lock (storage.db.make_read_sessions):
        # on SQLite an idle outbox then never holds up the webhook's inserts.
        self.read_sessions = read_sessions or sessions
        self.metrics = metrics or Metrics()
        self.renderer, self.locale = renderer, locale
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self, poll_seconds: float = 1.0) -> None:
        await run_forever(self.deliver_due, self._wake, poll_seconds, "outbox", self._stop)

    async def shutdown(self, task: asyncio.Task[None]) -> None:
        """Stop after the send under way, so no message is left half-sent at exit."""
        await stop_after_pass(task, self._stop, self._wake)

    async def deliver_due(self, limit: int = 200) -> int:
        """Deliver what is due now, in order per target; returns how many rows were tried.

        Only a row that is due is claimed (a conditional UPDATE in its own transaction), so a
        pass with nothing due writes nothing.
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
            chains.setdefault(row.target_id, []).append(row)
        gate = asyncio.Semaphore(CONCURRENT_TARGETS)
        tried = await asyncio.gather(*(self._chain(chain, now, gate) for chain in chains.values()))
        return sum(tried)

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
            result = await db.exec(  # type: ignore[call-overload]
                update(OutboxMessage)
                .where(
                    col(OutboxMessage.id) == row.id,
                    col(OutboxMessage.status) == row.status,
                    col(OutboxMessage.next_attempt_at) == row.next_attempt_at,
                )
                .values(status="sending", next_attempt_at=self.clock.now() + LEASE)
            )
            await db.commit()
            return bool(result.rowcount)

    async def _attempt(self, row: OutboxMessage, now: datetime) -> bool:
        try:
            message_id = await self.sender.deliver(row)
        except ZaloError as exc:
            await self._failed(row, exc, now)
            return False
        await self._sent(row, message_id, now)
        return True

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
                await self._report_failure(db, stored, now)
            db.add(stored)
            await db.commit()

    async def _report_failure(self, db: AsyncSession, row: OutboxMessage, now: datetime) -> None:
        await repo.audit(
            db,
            at=now,
            actor_id="bot",
            action="outbox.failed",
            group_id=row.target_id if row.target_kind != "user" else None,
            outbox_id=row.id,
            code=row.error_code,
            error=row.last_error,
        )
        if row.purpose == "delivery_failed":
            return  # never a notice about a notice
        people = [row.notify_user_id, *row.payload.get("also_notify", [])]
        told = [
            p
            for p in dict.fromkeys(people)
            if p and not (row.target_kind == "user" and row.target_id == p)
        ]
        context = {
            "target_kind": row.target_kind,
            "target_id": row.target_id,
            "reason": row.last_error,
            "code": row.error_code,
            "excerpt": row.text[:200],
            "user_ids": row.payload.get("user_ids", []),
        }
        template = "invite_failed" if row.target_kind == "invite" else "delivery_failed"
        notices = [SendUser(person, template, context) for person in told]
        await enqueue(db, notices, renderer=self.renderer, locale=self.locale, now=now)
