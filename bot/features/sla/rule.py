"""Response SLA (regulation 3.2 and 5): every customer message gets a staff reply in time.

Policy:
- A clock starts on the first unanswered customer message in a customer group (every group but
  ZALO_ALERT_GROUP_ID). A burst of messages is one clock. Pleasantries alone ("ok", "cảm ơn",
  "dạ", a sticker) start nothing. Time counts in working time only (WORKING_HOURS, HOLIDAYS,
  or the group's own hours), so a message at night starts counting at the next opening.
- Any staff message in the group stops it (a /log is a staff message too).
- At two thirds of SLA_FIRST_RESPONSE the assigned sales gets a reminder; at the limit the
  heads get a breach alert (never in the customer's group) and the breach is a minor violation
  of the assigned sales; at twice the limit a second escalation. SLA_REPEAT_LIMIT breaches
  (3 in 30 days) by one person raise a warning to the heads.
- Clocks are rows; each step is taken once by a conditional UPDATE, so a restart or a second
  process never sends an alert twice. Every start, stop, reminder and breach is an SlaEvent.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, update
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.audience import is_customer_group
from bot.core.context import Context
from bot.core.intents import Intent, SendGroup
from bot.features.satisfaction import rule as satisfaction
from bot.features.sla import requests
from bot.features.sla.policy import first_response
from bot.features.sla.sweep import due as due
from bot.features.sla.sweep import sweep as sweep
from bot.zalo.events import Kind
from storage import repo
from storage.fast import hot
from storage.fast.hot import dialect_of
from storage.fast.sla import CLOSE_CLOCK, INSERT_EVENT, close_clock_pg, insert_clock, open_clock_pg
from storage.models import Customer, Group, Message, Reminder, SlaClock, SlaEvent
from storage.types import UTCDateTime


async def customer_group_of(db: AsyncSession, group: Group) -> str | None:
    """The group's customer's group (vip, wholesale, retail), when targets depend on it."""
    if group.customer_id is None:
        return None
    customer = await db.get(Customer, group.customer_id)
    return customer.customer_group if customer else None


async def open_clock(db: AsyncSession, *, group_id: str) -> SlaClock | None:
    query = select(SlaClock).where(SlaClock.group_id == group_id, col(SlaClock.closed_at).is_(None))
    return (await db.exec(query)).first()


async def on_event(ctx: Context) -> list[Intent]:
    event, group = ctx.event, ctx.group
    if event.kind is not Kind.GROUP_MESSAGE or group is None:
        return []
    if not is_customer_group(ctx.settings, group.group_id):
        return []
    clock = ctx.sla_clock  # read with the group (UNREAD when it was not)
    if ctx.is_staff:
        stopped = await _stop(ctx, group, clock)
        if stopped and requests.promises_later(event.text):
            _follow_up(ctx, group)
        return []
    verdict = requests.classify(event.text, tuple(a.type for a in event.attachments))
    if not verdict.needs_reply or (clock is not None and clock is not repo.UNREAD):
        return []  # no answer needed, or the group's clock runs already (a burst)
    by_customer = bool(ctx.settings.sla_by_customer_group)
    customer_group = await customer_group_of(ctx.db, group) if by_customer else None
    limit = first_response(ctx.settings, group, customer_group)
    if limit is None or await satisfaction.is_rating_answer(ctx):  # "5 sao" answers the bot
        return []
    opened = await _start(ctx, group, limit, verdict.reason, customer_group)
    if opened is None:
        return []
    return _out_of_hours(ctx, group, customer_group, *opened)


def _out_of_hours(
    ctx: Context, group: Group, customer_group: str | None, at: datetime, deadline: datetime
) -> list[Intent]:
    """A request outside working time gets, once per burst (when its clock opens), a polite
    acknowledgement naming when the answer will come. The clock keeps running."""
    if ctx.settings.out_of_hours_reply == "off" or group.out_of_hours_reply is False:
        return []
    if ctx.calendars.for_group(group, customer_group).is_working(at):
        return []
    local = deadline.astimezone(ctx.settings.tz)
    return [
        SendGroup(
            group.group_id,
            "out_of_hours",
            {"due": local, "weekday": local.weekday(), "hour": local.hour},
            quote_msg_id=ctx.event.msg_id,
        )
    ]


async def start_from(ctx: Context, group: Group, message: Message) -> datetime | None:
    """/cantraloi: a clock from `message`'s time (the bot missed it); its deadline, or None
    when the group's clock runs already or the group's SLA is off."""
    customer_group = await customer_group_of(ctx.db, group)
    limit = first_response(ctx.settings, group, customer_group)
    if limit is None or message.sent_at is None:
        return None
    calendar = ctx.calendars.for_group(group, customer_group)
    opened = message.sent_at
    deadline = calendar.add(opened, limit)
    clock = SlaClock(
        group_id=group.group_id,
        customer_id=message.user_id,
        msg_id=message.msg_id,
        owner_id=group.assigned_sales_id,
        opened_at=opened,
        remind_at=calendar.add(opened, limit * 2 / 3),
        deadline=deadline,
        escalate_at=calendar.add(opened, limit * 2),
        next_due_at=calendar.add(opened, limit * 2 / 3),
    )
    if await open_clock(ctx.db, group_id=group.group_id) is not None:
        return None
    ctx.db.add(clock)
    await ctx.db.flush()
    ctx.db.add(
        SlaEvent(
            clock_id=clock.id,
            group_id=group.group_id,
            kind="start",
            at=ctx.now,
            staff_id=group.assigned_sales_id,
            detail={"deadline": deadline.isoformat(), "reason": "correction"},
        )
    )
    return deadline


async def _burst_start(ctx: Context, group: Group, at: datetime) -> datetime:
    """When this message's burst began: the customer's earliest message in the group within
    SLA_BURST before it, with no staff message between (one request, one clock)."""
    if ctx.group_is_new:
        return at  # the group's first message: nothing before it
    since = at - ctx.settings.duration("sla_burst")
    params = {"group_id": group.group_id, "user_id": ctx.sender_id, "since": since, "at": at}
    # one statement, on ix_messages_group_sent; built once, bound per message
    first = (await ctx.db.exec(_earliest_in_burst(), params=params)).one()
    return min(first, at) if first is not None else at


@functools.cache
def _earliest_in_burst() -> Any:
    """The earliest message of :user_id in :group_id after :since up to :at with no staff
    message after it (up to :at)."""
    staff = aliased(Message)
    at = bindparam("at", type_=UTCDateTime())
    answered = (
        select(staff.id)
        .where(
            staff.group_id == bindparam("group_id"),
            staff.sender_kind == "staff",
            col(staff.sent_at) >= col(Message.sent_at),
            col(staff.sent_at) <= at,
        )
        .exists()
    )
    return select(func.min(Message.sent_at)).where(
        Message.group_id == bindparam("group_id"),
        Message.user_id == bindparam("user_id"),
        col(Message.sent_at) > bindparam("since", type_=UTCDateTime()),
        col(Message.sent_at) <= at,
        ~answered,
    )


async def _start(
    ctx: Context, group: Group, limit: timedelta, reason: str, customer_group: str | None = None
) -> tuple[datetime, datetime] | None:
    """Open the group's clock on this message (from the start of its burst), unless one is
    open already; (opened at, deadline) when it opened."""
    calendar = ctx.calendars.for_group(group, customer_group)
    opened = await _burst_start(ctx, group, min(ctx.event.at, ctx.now))
    remind_at, deadline = calendar.add(opened, limit * 2 / 3), calendar.add(opened, limit)
    clock = {
        "group_id": group.group_id,
        "customer_id": ctx.sender_id,
        "msg_id": ctx.event.msg_id or "",
        "owner_id": group.assigned_sales_id,
        "opened_at": opened,
        "remind_at": remind_at,
        "deadline": deadline,
        "escalate_at": calendar.add(opened, limit * 2),
        "next_due_at": remind_at,
    }
    detail = {"deadline": deadline.isoformat(), "reason": reason}  # why the message needs a reply
    await ctx.db.flush()  # a clock closed earlier in this transaction is closed in the table
    dialect = dialect_of(ctx.db)
    if dialect == "postgresql":  # one round trip
        opened_rows = await hot.execute(
            ctx.db, open_clock_pg(), {**clock, "at": ctx.now, "detail": detail}
        )
        return (opened, deadline) if opened_rows else None
    inserted = await hot.execute(ctx.db, insert_clock(dialect), clock)
    if not inserted:
        return None  # the group's clock is running already
    [(clock_id,)] = inserted
    await hot.execute(
        ctx.db,
        INSERT_EVENT,
        {
            "clock_id": clock_id,
            "group_id": group.group_id,
            "kind": "start",
            "at": ctx.now,
            "staff_id": group.assigned_sales_id,
            "detail": detail,
        },
    )
    return opened, deadline


def _follow_up(ctx: Context, group: Group) -> None:
    """The answer promised a later one: remind its author after SLA_FOLLOW_UP of working
    time, unless staff write in the group again before (nobody else is alerted)."""
    calendar = ctx.calendars.for_group(group)
    ctx.db.add(
        Reminder(
            due_at=calendar.add(ctx.now, ctx.settings.duration("sla_follow_up")),
            group_id=group.group_id,
            user_id=ctx.sender_id,
            template="sla_follow_up",
            context={
                "group_id": group.group_id,
                "group_name": group.name,
                "promised": (ctx.event.text or "")[:300],
                "since": ctx.now.isoformat(),
                "unless_staff_after": ctx.now.isoformat(),
            },
        )
    )


async def _stop(ctx: Context, group: Group, clock: SlaClock | None = repo.UNREAD) -> bool:
    """Close the group's open clock (`clock`, when the caller has read it); whether one was."""
    if clock is repo.UNREAD:
        clock = await open_clock(ctx.db, group_id=group.group_id)
    if clock is None:
        return False
    waited = ctx.calendars.for_group(group).between(clock.opened_at, ctx.now)
    closed = {
        "closed_at": ctx.now,
        "closed_by": ctx.sender_id,
        "response_seconds": int(waited.total_seconds()),
    }
    detail = {
        "response_seconds": closed["response_seconds"],
        "breached": clock.breached_at is not None,
    }
    # Core statements, not the ORM's flush; the loaded clock is kept equal to its row.
    await ctx.db.flush()
    if dialect_of(ctx.db) == "postgresql":  # one round trip
        await hot.execute(
            ctx.db, close_clock_pg(), {"clock_id": clock.id, **closed, "detail": detail}
        )
    else:
        await hot.execute(ctx.db, CLOSE_CLOCK, {"clock_id": clock.id, **closed})
        await hot.execute(
            ctx.db,
            INSERT_EVENT,
            {
                "clock_id": clock.id,
                "group_id": group.group_id,
                "kind": "stop",
                "at": ctx.now,
                "staff_id": ctx.sender_id,
                "detail": detail,
            },
        )
    for key, value in {**closed, "next_due_at": None}.items():
        set_committed_value(clock, key, value)
    return True


async def reassign(db: AsyncSession, *, group_id: str, owner_id: str) -> None:
    """Move the open clock's ownership (handover)."""
    await db.exec(
        update(SlaClock)
        .where(col(SlaClock.group_id) == group_id, col(SlaClock.closed_at).is_(None))
        .values(owner_id=owner_id)
    )


# --- the clock side ------------------------------------------------------------------------


async def api_section(db: AsyncSession, group: Group) -> dict[str, Any]:
    """The group's SLA state for GET /api/groups/{id}: the open clock and breaches so far."""
    clock = await open_clock(db, group_id=group.group_id)
    breaches = (
        await db.exec(
            select(func.count())
            .select_from(SlaClock)
            .where(SlaClock.group_id == group.group_id, col(SlaClock.breached_at).is_not(None))
        )
    ).one()
    return {
        "sla": {
            "open": None
            if clock is None
            else {
                "opened_at": clock.opened_at.isoformat(),
                "deadline": clock.deadline.isoformat(),
                "remind_at": clock.remind_at.isoformat(),
                "escalate_at": clock.escalate_at.isoformat(),
                "owner_id": clock.owner_id,
                "msg_id": clock.msg_id,
                "breached": clock.breached_at is not None,
            },
            "breaches": int(breaches),
            "first_response": group.sla_first_response or None,
            "working_hours": group.working_hours or None,
        }
    }
