"""A message Zalo refused for good: audited, the people it was for told (delivery_failed,
invite_failed), and a 1:1 message to a staff member re-routed so it reaches someone all the
same (the alert group, else the heads and admins who can receive; never a customer's group)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.enqueue import enqueue
from bot.core.intents import PRIVATE_TEMPLATES, Intent, SendGroup, SendUser
from bot.core.render import Renderer
from storage import repo
from storage.models import OutboxMessage, UndeliveredMessage

REROUTED = "undelivered_dm"  # the template of a 1:1 message re-routed after Zalo refused it


# Long for its docstring: the routing policy is written where it is applied.
async def reroute(
    db: AsyncSession,
    row: OutboxMessage,
    now: datetime,
    alert_group_id: str,
    renderer: Renderer,
    locale: str,
) -> None:
    """A 1:1 message to a staff member that Zalo refused for good (-230 no interaction in
    7 days, -213 not a follower, any other permanent error) reaches someone all the same:
    the alert group with a mention of the person when there is one, else 1:1 to the heads
    and admins who can receive; never a customer's group. The person is marked as one who
    cannot receive 1:1 messages (the directory says what to do) and the message waits on
    the dashboard until opened."""
    staff = await repo.get_staff(db, user_id=row.target_id)
    if staff is None:
        return  # a customer: the delivery_failed notice is all
    staff.dm_blocked_code, staff.dm_blocked_at = row.error_code, now
    db.add(staff)
    if row.purpose in PRIVATE_TEMPLATES:
        return  # a sign-in or export link is for that person only: never shown to others
    assert row.id is not None
    await repo.insert_once(
        db,
        UndeliveredMessage,
        unique=["outbox_id"],
        outbox_id=row.id,
        staff_id=staff.zalo_user_id,
        code=row.error_code,
        text=row.text,
        created_at=now,
    )
    if row.purpose == REROUTED:
        return  # a re-routed alert that failed too: never a chain of them
    context = {
        "user_id": staff.zalo_user_id,
        "name": staff.name,
        "code": row.error_code,
        "excerpt": row.text[:500],
    }
    notices: list[Intent]
    if alert_group_id:
        notices = [SendGroup(alert_group_id, REROUTED, context)]
    else:
        receivers = await repo.dm_receivers(db, roles=("sales_head", "admin"))
        notices = [
            SendUser(person, REROUTED, context)
            for person in receivers
            if person != staff.zalo_user_id
        ]
    await enqueue(db, notices, renderer=renderer, locale=locale, now=now)


async def report_failure(
    db: AsyncSession, row: OutboxMessage, now: datetime, renderer: Renderer, locale: str
) -> None:
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
    await enqueue(db, notices, renderer=renderer, locale=locale, now=now)
