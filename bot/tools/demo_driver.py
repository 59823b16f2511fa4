"""The demo's Driver: plays timed steps (a message, a join, a decision, a job) through the real
pipeline at their moments on a frozen clock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import func
from sqlmodel import col, select

from bot.app.runtime import Runtime
from bot.core.clock import FrozenClock
from bot.zalo.payloads import group_message, lifecycle, signed, user_message
from storage.models import (
    Incident,
    OutboxMessage,
    Payment,
    Reminder,
    SlaClock,
)

Step = Callable[["Driver"], Awaitable[None]]


class Driver:
    """Posts signed events to the app and moves its clock, acting on deadlines on the way."""

    def __init__(self, client: TestClient[Any, Any], runtime: Runtime, clock: FrozenClock) -> None:
        self.client, self.runtime, self.clock = client, runtime, clock
        self.app_id = runtime.settings.signing_app_id

    async def post(self, body: dict[str, Any]) -> None:
        """POST one signed event and let the app process it and send its answers."""
        secret = self.runtime.settings.signing_secret
        if "oa_id" in body:  # events for this OA (ZALO_OA_ID), not another one
            body["oa_id"] = self.runtime.settings.signing_oa_id
        raw, headers = signed(body, app_id=self.app_id, secret=secret)
        response = await self.client.post("/zalo/webhook", data=raw, headers=headers)
        if response.status != 200:
            raise RuntimeError(f"webhook answered {response.status}: {await response.text()}")
        await self.runtime.drain()

    async def say(self, group: str, sender: str, text: str | None, **kw: Any) -> None:
        """A member writes in the group."""
        at = self.clock.now()
        await self.post(group_message(group_id=group, sender_id=sender, text=text, at=at,
                                      app_id=self.app_id, **kw))  # fmt: skip

    async def dm(self, sender: str, text: str) -> None:
        """Someone writes to the OA 1:1."""
        at = self.clock.now()
        await self.post(user_message(user_id=sender, text=text, at=at, app_id=self.app_id))

    async def members(self, event: str, group: str, members: list[str]) -> None:
        """A group lifecycle event (create_group, user_join_group) naming `members`."""
        at = self.clock.now()
        await self.post(lifecycle(event_name=event, group_id=group, at=at, app_id=self.app_id,
                                  member_ids=members))  # fmt: skip

    async def advance_to(self, moment: datetime) -> None:
        """Move the clock to `moment`, stopping at every deadline due on the way."""
        while (due := await self._next_due()) is not None and self.clock.now() < due <= moment:
            self.clock.set(due)
            await self.runtime.drain()
        if moment > self.clock.now():
            self.clock.set(moment)

    async def _next_due(self) -> datetime | None:
        queries = [
            select(func.min(SlaClock.next_due_at)).where(col(SlaClock.closed_at).is_(None)),
            select(func.min(Incident.next_due_at)).where(col(Incident.resolved_at).is_(None)),
            select(func.min(Reminder.due_at)).where(col(Reminder.sent_at).is_(None)),
        ]
        async with self.runtime.sessions() as db:
            found = [(await db.exec(query)).one() for query in queries]  # type: ignore[call-overload]
        moments = [m if m.tzinfo else m.replace(tzinfo=UTC) for m in found if m is not None]
        return min(moments, default=None)

    async def run_job(self, name: str) -> None:
        """A scheduled job (care reminders, digests), as the service's scheduler runs it."""
        await self.runtime.run_job(name)
        await self.runtime.drain()

    async def pending_payment(self, group: str) -> Payment | None:
        """The group's newest request still waiting for a decision."""
        query = select(Payment).where(Payment.group_id == group, Payment.status == "pending")
        async with self.runtime.sessions() as db:
            return (await db.exec(query.order_by(col(Payment.id).desc()))).first()

    async def request_message(self, payment_id: int) -> str | None:
        """The Zalo message id of the bot's request for `payment_id`, to reply to it."""
        query = select(OutboxMessage).where(
            OutboxMessage.purpose == "payment_request",
            col(OutboxMessage.zalo_message_id).is_not(None),
        )
        async with self.runtime.sessions() as db:
            rows = (await db.exec(query.order_by(col(OutboxMessage.id).desc()))).all()
        found = (r.zalo_message_id for r in rows if r.payload.get("payment_id") == payment_id)
        return next(found, None)

    async def open_incident(self, group: str) -> int | None:
        """The id of the group's newest incident not resolved yet."""
        query = select(Incident.id).where(Incident.group_id == group, Incident.status != "resolved")
        async with self.runtime.sessions() as db:
            return (await db.exec(query.order_by(col(Incident.id).desc()))).first()


def says(group: str, sender: str, text: str | None, **kw: Any) -> Step:
    """`sender` writes `text` in the group."""
    return lambda d: d.say(group, sender, text, **kw)


def joins(group: str, members: list[str], event: str = "user_join_group") -> Step:
    """People join the group (they accepted the bot's invite)."""
    return lambda d: d.members(event, group, members)


def decides(group: str, by: str, *, reply: bool, reject: str | None = None) -> Step:
    """Accounting approves (or rejects) the group's newest pending request."""

    async def step(d: Driver) -> None:
        payment = await d.pending_payment(group)
        if payment is None or payment.id is None:
            return
        quoted = await d.request_message(payment.id) if reply else None
        if quoted:
            await d.say(group, by, f"từ chối {reject}" if reject else "duyệt", quote_msg_id=quoted)
        else:
            command = f"/tuchoi {payment.id} {reject}" if reject else f"/duyet {payment.id}"
            await d.say(group, by, command)

    return step


def handles(group: str, by: str, command: str, note: str) -> Step:
    """Someone moves the group's newest open incident on: /dangxuly or /xuly."""

    async def step(d: Driver) -> None:
        if (incident := await d.open_incident(group)) is not None:
            await d.say(group, by, f"/{command} {incident} {note}")

    return step


def job(name: str) -> Step:
    """The scheduler fires job `name`."""
    return lambda d: d.run_job(name)
