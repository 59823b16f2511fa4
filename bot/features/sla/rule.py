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
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, func, insert, literal, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from bot.core.audience import alert_heads, any_row, ids_with_role, is_customer_group
from bot.core.context import Context
from bot.core.intents import Intent, SendGroup, SendUser
from bot.core.worktime import parse_duration
from bot.features.satisfaction import rule as satisfaction
from bot.features.sla import requests
from bot.zalo.events import Kind
from config.settings import Settings
from storage import repo
from storage.fast import hot
from storage.fast.hot import dialect_of
from storage.models import Customer, Group, Message, Reminder, SlaClock, SlaEvent, Violation
from storage.types import UTCDateTime

if TYPE_CHECKING:
    from bot.core.dispatch import Deps

STAGES = ("reminder", "breach", "escalation")


def is_pleasantry(text: str | None, attachment_types: tuple[str, ...] = ()) -> bool:
    """True for messages that need no answer ('ok', 'cảm ơn', 'dạ vâng ạ', a sticker, "hàng
    về đủ rồi nha em, thanks"): the request classifier's verdict (bot/features/sla/requests.py)."""
    return not requests.classify(text, attachment_types).needs_reply


# How /khachhang's customer groups can be named in SLA_BY_CUSTOMER_GROUP.
GROUP_ALIASES = {"vip": "vip", "si": "wholesale", "wholesale": "wholesale", "le": "retail",
                 "retail": "retail", "buonsi": "wholesale", "khachle": "retail"}  # fmt: skip


def customer_target(
    settings: Settings, customer_group: str | None
) -> tuple[str | None, str | None]:
    """(limit, working hours) SLA_BY_CUSTOMER_GROUP gives the customer's group, if any."""
    if not customer_group:
        return None, None
    for name, target in settings.customer_group_targets.items():
        if GROUP_ALIASES.get(name, name) == customer_group:
            return target
    return None, None


def first_response(
    settings: Any, group: Group | None, customer_group: str | None = None
) -> timedelta | None:
    """The group's SLA: its own override (/sla), else its customer group's
    (SLA_BY_CUSTOMER_GROUP), else SLA_FIRST_RESPONSE; None when switched off."""
    value = group.sla_first_response if group and group.sla_first_response else None
    if value == "off":
        return None
    value = value or customer_target(settings, customer_group)[0]
    return parse_duration(value) if value else settings.duration("sla_first_response")


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


@functools.cache
def _insert_clock(dialect_name: str) -> Any:
    """INSERT a clock unless the group has an open one (the partial unique index
    ux_sla_clocks_open_group), RETURNING its id: one statement instead of a SELECT and an
    INSERT, and two processes cannot both open one."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    table = SlaClock.__table__  # type: ignore[attr-defined]
    open_only = table.c.closed_at.is_(None)
    return (
        dialect.insert(table)
        .on_conflict_do_nothing(index_elements=["group_id"], index_where=open_only)
        .returning(table.c.id)
    )


_INSERT_EVENT = insert(SlaEvent.__table__)  # type: ignore[attr-defined]
_CLOCK_COLUMNS = (
    "group_id",
    "customer_id",
    "msg_id",
    "owner_id",
    "opened_at",
    "remind_at",
    "deadline",
    "escalate_at",
    "next_due_at",
)


@functools.cache
def _open_clock_pg() -> Any:
    """PostgreSQL: _insert_clock and the clock's "start" SlaEvent in one statement (a
    data-modifying CTE); neither is written when the group's clock is open already."""
    clocks, events = SlaClock.__table__, SlaEvent.__table__  # type: ignore[attr-defined]
    opened = (
        _insert_clock("postgresql")  # a CTE's INSERT names its values; it RETURNs the id too
        .values({key: bindparam(key, type_=clocks.c[key].type) for key in _CLOCK_COLUMNS})
        .returning(clocks.c.group_id, clocks.c.owner_id)
        .cte("opened")
    )
    row = {
        "clock_id": opened.c.id,
        "group_id": opened.c.group_id,
        "kind": literal("start", events.c.kind.type),
        "staff_id": opened.c.owner_id,
        "at": bindparam("at", type_=events.c.at.type),
        "detail": bindparam("detail", type_=events.c.detail.type),
    }
    # RETURNING: an empty result says the group's clock was running already
    return (
        postgresql.insert(events)
        .from_select(list(row), select(*row.values()))
        .returning(events.c.id)
    )


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
    staff = aliased(Message)
    answered = (
        select(staff.id)
        .where(
            staff.group_id == group.group_id,
            staff.sender_kind == "staff",
            col(staff.sent_at) >= col(Message.sent_at),
            col(staff.sent_at) <= at,
        )
        .exists()
    )
    earliest = select(func.min(Message.sent_at)).where(
        Message.group_id == group.group_id,
        Message.user_id == ctx.sender_id,
        col(Message.sent_at) > since,
        col(Message.sent_at) <= at,
        ~answered,
    )
    first = (await ctx.db.exec(earliest)).one()  # one statement, on ix_messages_group_sent
    return min(first, at) if first is not None else at


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
            ctx.db, _open_clock_pg(), {**clock, "at": ctx.now, "detail": detail}
        )
        return (opened, deadline) if opened_rows else None
    inserted = await hot.execute(ctx.db, _insert_clock(dialect), clock)
    if not inserted:
        return None  # the group's clock is running already
    [(clock_id,)] = inserted
    await hot.execute(
        ctx.db,
        _INSERT_EVENT,
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


_CLOSE = (
    update(SlaClock.__table__)  # type: ignore[attr-defined]
    .where(SlaClock.__table__.c.id == bindparam("clock_id"))  # type: ignore[attr-defined]
    .values(
        closed_at=bindparam("closed_at", type_=UTCDateTime()),
        closed_by=bindparam("closed_by"),
        response_seconds=bindparam("response_seconds"),
        next_due_at=None,
    )
)


@functools.cache
def _close_clock_pg() -> Any:
    """PostgreSQL: _CLOSE and the clock's "stop" SlaEvent in one statement."""
    events = SlaEvent.__table__  # type: ignore[attr-defined]
    clocks = SlaClock.__table__  # type: ignore[attr-defined]
    closed = _CLOSE.returning(clocks.c.id, clocks.c.group_id, clocks.c.closed_at).cte("closed")
    row = {
        "clock_id": closed.c.id,
        "group_id": closed.c.group_id,
        "kind": literal("stop", events.c.kind.type),
        "staff_id": bindparam("closed_by"),
        "at": closed.c.closed_at,
        "detail": bindparam("detail", type_=events.c.detail.type),
    }
    return postgresql.insert(events).from_select(list(row), select(*row.values()))


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
            ctx.db, _close_clock_pg(), {"clock_id": clock.id, **closed, "detail": detail}
        )
    else:
        await hot.execute(ctx.db, _CLOSE, {"clock_id": clock.id, **closed})
        await hot.execute(
            ctx.db,
            _INSERT_EVENT,
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


def due_clocks(now: datetime) -> SelectOfScalar[SlaClock]:
    """Open clocks with a step due at `now`, soonest first: a range scan of ix_sla_clocks_due,
    so a sweep costs the same over 20 open clocks as over 20,000 that are not due."""
    return (
        select(SlaClock)
        .where(col(SlaClock.next_due_at) <= now, col(SlaClock.closed_at).is_(None))
        .order_by(col(SlaClock.next_due_at))
        .limit(500)
    )


async def due(db: AsyncSession, now: datetime, deps: Deps) -> bool:
    """Whether `sweep` has a step to take at `now` (read-only: runtime's probe)."""
    return await any_row(db, due_clocks(now))


async def sweep(db: AsyncSession, now: datetime, deps: Deps) -> list[Intent]:
    """Take every reminder, breach and escalation that is due; each exactly once."""
    intents: list[Intent] = []
    for clock in (await db.exec(due_clocks(now))).all():
        intents += await _advance(db, clock, now, deps)
    return intents


async def _advance(db: AsyncSession, clock: SlaClock, now: datetime, deps: Deps) -> list[Intent]:
    due = {"reminder": clock.remind_at, "breach": clock.deadline, "escalation": clock.escalate_at}
    done = {
        "reminder": clock.reminded_at,
        "breach": clock.breached_at,
        "escalation": clock.escalated_at,
    }
    intents: list[Intent] = []
    for stage in STAGES:
        if done[stage] is None and due[stage] <= now and await _claim(db, clock, stage, now):
            late = stage == "reminder" and clock.deadline <= now  # down too long: skip it
            intents += [] if late else await _act(db, clock, stage, now, deps)
    pending = [due[s] for s in STAGES if done[s] is None and due[s] > now]
    await db.exec(
        update(SlaClock)
        .where(col(SlaClock.id) == clock.id)
        .values(next_due_at=min(pending) if pending else None)
    )
    return intents


async def _claim(db: AsyncSession, clock: SlaClock, stage: str, now: datetime) -> bool:
    column = {
        "reminder": SlaClock.reminded_at,
        "breach": SlaClock.breached_at,
        "escalation": SlaClock.escalated_at,
    }[stage]
    result = await db.exec(
        update(SlaClock)
        .where(
            col(SlaClock.id) == clock.id, col(column).is_(None), col(SlaClock.closed_at).is_(None)
        )
        .values({column: now})
    )
    return bool(result.rowcount)


async def _act(
    db: AsyncSession, clock: SlaClock, stage: str, now: datetime, deps: Deps
) -> list[Intent]:
    db.add(
        SlaEvent(
            clock_id=clock.id, group_id=clock.group_id, kind=stage, at=now, staff_id=clock.owner_id
        )
    )
    context = await _alert_context(db, clock, now)
    heads = await ids_with_role(db, "sales_head")
    if stage == "reminder":
        people = [clock.owner_id] if clock.owner_id else heads
        return [SendUser(person, "sla_reminder", context) for person in people]
    if stage == "escalation":
        admins = await ids_with_role(db, "admin")
        return alert_heads(
            deps.settings, list(dict.fromkeys(heads + admins)), "sla_escalation", context
        )
    db.add(
        Violation(
            group_id=clock.group_id,
            staff_id=clock.owner_id,
            kind="sla_breach",
            at=now,
            detail={"clock_id": clock.id, "deadline": clock.deadline.isoformat()},
        )
    )
    await repo.audit(
        db,
        at=now,
        actor_id="bot",
        action="sla.breach",
        group_id=clock.group_id,
        clock_id=clock.id,
        owner_id=clock.owner_id,
    )
    intents = alert_heads(deps.settings, heads, "sla_breach", context)
    return intents + await _repeat_warning(db, clock, now, deps, heads, context)


async def _repeat_warning(
    db: AsyncSession,
    clock: SlaClock,
    now: datetime,
    deps: Deps,
    heads: list[str],
    context: dict[str, Any],
) -> list[Intent]:
    if not clock.owner_id:
        return []
    limit, window = deps.settings.repeat_limit
    await db.flush()
    count = (
        await db.exec(
            select(func.count())
            .select_from(Violation)
            .where(
                Violation.staff_id == clock.owner_id,
                Violation.kind == "sla_breach",
                col(Violation.at) > now - window,
            )
        )
    ).one()
    if count < limit:
        return []
    db.add(
        SlaEvent(
            clock_id=clock.id,
            group_id=clock.group_id,
            kind="warning",
            at=now,
            staff_id=clock.owner_id,
            detail={"breaches": count},
        )
    )
    return alert_heads(
        deps.settings, heads, "sla_warning", {**context, "breaches": count, "days": window.days}
    )


async def _alert_context(db: AsyncSession, clock: SlaClock, now: datetime) -> dict[str, Any]:
    group = await db.get(Group, clock.group_id)
    customer = await repo.get_customer(db, customer_id=group.customer_id if group else None)
    owner = await repo.get_staff(db, user_id=clock.owner_id) if clock.owner_id else None
    message = (await db.exec(select(Message).where(Message.msg_id == clock.msg_id))).first()
    return {
        "group_id": clock.group_id,
        "customer": customer.name if customer else None,
        "owner_id": clock.owner_id,
        "owner": owner.name if owner else None,
        "opened_at": clock.opened_at,
        "deadline": clock.deadline,
        "waited_minutes": max(int((now - clock.opened_at).total_seconds() // 60), 0),
        "text": (message.text or "")[:300] if message else "",
    }


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
