"""Deal stages, who is in the group, and follow-ups (regulation 3.1 and 3.4).

Policy:
- Stages go new -> quoting -> won (contract closed) -> fulfilled -> after_sales, or lost with a
  reason. Anyone allowed may move a deal forward; only a head moves it back or reopens a lost
  one (`transition`, pure).
- When a group first appears, the sales heads are invited if the bot has not seen them in it.
- On won, accounting, warehouse and shipping staff are invited (departments join only after the
  contract is closed); when staff join, the bot tells the group who they are and why they came.
- Follow-up reminders (after a handover) are rows in `reminders`; the sweep sends each once.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.audience import (
    any_row,
    ids_with_role,
    invite_missing,
    is_customer_group,
    role_and_missing,
)
from bot.core.context import Context
from bot.core.intents import Intent, Invite, SendGroup, SendUser, SyncGroup
from bot.zalo.events import Kind
from storage import repo
from storage.models import Message, Reminder

if TYPE_CHECKING:
    from bot.core.dispatch import Deps

STAGES = ("new", "quoting", "won", "fulfilled", "after_sales", "lost")
_ORDER = {stage: index for index, stage in enumerate(STAGES[:-1])}
DEPARTMENTS = ("accountant", "warehouse", "shipping")
HEAD_ROLES = frozenset({"sales_head", "admin"})


def transition(current: str, target: str, role: str | None) -> str | None:
    """Why the move is refused (a reason code), or None when it is allowed."""
    if target not in STAGES:
        return "unknown_stage"
    if target == current:
        return "same_stage"
    if current == "lost":
        return None if role in HEAD_ROLES else "reopen_needs_head"
    if target == "lost":
        return None
    if _ORDER[target] < _ORDER[current] and role not in HEAD_ROLES:
        return "backward_needs_head"
    return None


async def on_event(ctx: Context) -> list[Intent]:
    group = ctx.group
    if group is None or not is_customer_group(ctx.settings, group.group_id):
        return []
    intents: list[Intent] = []
    if ctx.group_is_new or ctx.event.kind is Kind.GROUP_CREATED:
        # First, who is in the group on Zalo (the outbox reads it before the invite goes out,
        # and invites only heads who are not members there).
        intents.append(SyncGroup(group.group_id))
        heads, missing = await role_and_missing(ctx.db, "sales_head", group_id=group.group_id)
        if missing:  # as invite_missing(user_ids=heads, also_notify=heads) would
            invite = Invite(group.group_id, tuple(missing), "group_opened", None, tuple(heads))
            intents.append(invite)
    if ctx.event.kind is Kind.MEMBER_JOINED:
        intents += await _introduce(ctx, list(ctx.event.member_ids))
    return intents


async def _introduce(ctx: Context, user_ids: list[str]) -> list[Intent]:
    """Tell the group who of the newcomers is staff, and why they are here."""
    assert ctx.group is not None
    people = []
    for user_id in user_ids:
        staff = await repo.get_staff(ctx.db, user_id=user_id)
        if staff and staff.active:
            people.append({"user_id": staff.zalo_user_id, "name": staff.name, "role": staff.role})
    if not people:
        return []
    return [SendGroup(ctx.group.group_id, "staff_joined", {"people": people})]


async def invite_departments(ctx: Context) -> tuple[list[dict[str, str]], list[Intent]]:
    """Invite accounting, warehouse and shipping into the group once the deal is won."""
    assert ctx.group is not None
    wanted = await ids_with_role(ctx.db, *DEPARTMENTS)
    heads = await ids_with_role(ctx.db, "sales_head")
    missing, intents = await invite_missing(
        ctx.db,
        group_id=ctx.group.group_id,
        user_ids=wanted,
        reason="deal_won",
        notify=ctx.group.assigned_sales_id or ctx.sender_id,
        also_notify=tuple(heads),
    )
    invited = []
    for user_id in missing:
        staff = await repo.get_staff(ctx.db, user_id=user_id)
        if staff:
            invited.append({"user_id": user_id, "name": staff.name, "role": staff.role})
    return invited, intents


def _due_reminders(now: datetime) -> tuple[Any, ...]:
    """Unsent reminders whose time has come (ix_reminders_due_at)."""
    return (col(Reminder.sent_at).is_(None), col(Reminder.due_at) <= now)


async def due(db: AsyncSession, now: datetime, deps: Deps) -> bool:
    """Whether `sweep` has a reminder to send at `now` (read-only: runtime's probe)."""
    return await any_row(db, select(Reminder.id).where(*_due_reminders(now)))


async def _answered_since(db: AsyncSession, reminder: Reminder) -> bool:
    """A reminder that stands only while nobody on staff wrote in its group since a moment
    (the SLA's follow-up after a promised answer): whether somebody did."""
    since = reminder.context.get("unless_staff_after")
    if not since or not reminder.group_id:
        return False
    later = select(Message.id).where(
        Message.group_id == reminder.group_id,
        Message.sender_kind == "staff",
        col(Message.sent_at) > datetime.fromisoformat(since),
    )
    return await any_row(db, later)


async def sweep(db: AsyncSession, now: datetime, deps: Deps) -> list[Intent]:
    """Send the follow-up reminders that are due, each once."""
    reminders = await db.exec(select(Reminder).where(*_due_reminders(now)).limit(200))
    intents: list[Intent] = []
    for reminder in reminders.all():
        claimed = await db.exec(
            update(Reminder)
            .where(col(Reminder.id) == reminder.id, col(Reminder.sent_at).is_(None))
            .values(sent_at=now)
        )
        if claimed.rowcount and not await _answered_since(db, reminder):
            intents.append(SendUser(reminder.user_id, reminder.template, reminder.context))
    return intents
