"""/khongcan and /cantraloi: a head corrects which customer message needed an answer.

Typed as a reply to the customer's message. /khongcan: it needed no answer: the clock it
started (or whose burst it is in) is withdrawn, its breach and violation too; the SLA event log
keeps a "withdrawn" line (append-only) and the reports show the clock as withdrawn.
/cantraloi: it needed one and the bot missed it: a clock starts from that message's time.
Each correction is stored (sla_corrections) and audited; the weekly digest counts them and
bench/classifier.py replays them as extra cases.
"""

from __future__ import annotations

from sqlalchemy import delete
from sqlmodel import col, or_, select

from bot.core.commands import HEADS, UsageError, command
from bot.core.context import Context
from bot.core.intents import Intent
from bot.features.sla import rule as sla
from storage import repo
from storage.models import Message, SlaClock, SlaCorrection, SlaEvent, Violation


async def _quoted(ctx: Context) -> Message:
    """The customer's message the command replies to; UsageError otherwise."""
    assert ctx.group is not None
    if not ctx.event.quote_msg_id:
        raise UsageError("correction_needs_reply")
    message = await repo.find_message(ctx.db, msg_id=ctx.event.quote_msg_id)
    if message is None or message.group_id != ctx.group.group_id:
        raise UsageError("correction_needs_reply")
    if message.sender_kind != "customer":
        raise UsageError("correction_not_customer")
    return message


async def _record(ctx: Context, message: Message, needs_reply: bool) -> None:
    ctx.db.add(
        SlaCorrection(
            group_id=message.group_id or "",
            msg_id=message.msg_id,
            needs_reply=needs_reply,
            text=message.text,
            by=ctx.sender_id,
            at=ctx.now,
        )
    )
    await repo.audit(
        ctx.db,
        at=ctx.now,
        actor_id=ctx.sender_id,
        action="sla.corrected",
        group_id=message.group_id,
        msg_id=message.msg_id,
        needs_reply=needs_reply,
    )


async def _clock_of(ctx: Context, message: Message) -> SlaClock | None:
    """The clock that message started, or whose burst it is in."""
    assert message.sent_at is not None
    query = (
        select(SlaClock)
        .where(
            SlaClock.group_id == message.group_id,
            col(SlaClock.withdrawn_at).is_(None),
            or_(col(SlaClock.msg_id) == message.msg_id, col(SlaClock.opened_at) <= message.sent_at),
            or_(col(SlaClock.closed_at).is_(None), col(SlaClock.closed_at) >= message.sent_at),
        )
        .order_by(col(SlaClock.opened_at).desc())
        .limit(1)
    )
    return (await ctx.db.exec(query)).first()


@command("notrequest", aliases=("khongcan",), roles=HEADS)
async def not_request(ctx: Context, args: None) -> list[Intent]:
    """The quoted message needed no answer: withdraw its clock, breach and violation."""
    message = await _quoted(ctx)
    await _record(ctx, message, needs_reply=False)
    clock = await _clock_of(ctx, message)
    if clock is None:
        return [ctx.reply("sla_corrected", needs_reply=False, withdrawn=False, breached=False)]
    breached = clock.breached_at is not None
    clock.withdrawn_at, clock.withdrawn_by = ctx.now, ctx.sender_id
    if clock.closed_at is None:
        clock.closed_at, clock.next_due_at = ctx.now, None
    ctx.db.add(clock)
    ctx.db.add(
        SlaEvent(
            clock_id=clock.id,
            group_id=clock.group_id,
            kind="withdrawn",
            at=ctx.now,
            staff_id=ctx.sender_id,
            detail={"msg_id": message.msg_id, "breached": breached},
        )
    )
    violations = select(Violation.id).where(
        Violation.kind == "sla_breach", Violation.group_id == clock.group_id
    )
    for violation_id in (await ctx.db.exec(violations)).all():
        row = await ctx.db.get(Violation, violation_id)
        if row is not None and row.detail.get("clock_id") == clock.id:
            await repo.audit(
                ctx.db, at=ctx.now, actor_id=ctx.sender_id, action="violation.withdrawn",
                group_id=clock.group_id, violation_id=row.id, clock_id=clock.id,
            )  # fmt: skip
            await ctx.db.exec(delete(Violation).where(col(Violation.id) == row.id))
    return [ctx.reply("sla_corrected", needs_reply=False, withdrawn=True, breached=breached)]


@command("needsreply", aliases=("cantraloi",), roles=HEADS)
async def needs_reply(ctx: Context, args: None) -> list[Intent]:
    """The quoted message needed an answer the bot missed: a clock starts from its time."""
    message = await _quoted(ctx)
    await _record(ctx, message, needs_reply=True)
    assert ctx.group is not None
    started = await sla.start_from(ctx, ctx.group, message)
    return [ctx.reply("sla_corrected", needs_reply=True, started=started, deadline=started)]
