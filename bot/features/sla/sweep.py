"""The SLA clocks' deadlines: reminder, breach, escalation, each taken once by a conditional
UPDATE, and the warning to the heads at SLA_REPEAT_LIMIT breaches."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from bot.core.audience import alert_heads, any_row, ids_with_role
from bot.core.intents import Intent, SendUser
from bot.features.sla.policy import STAGES
from storage import repo
from storage.models import Group, Message, SlaClock, SlaEvent, Violation

if TYPE_CHECKING:
    from bot.core.dispatch import Deps


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


STEP_COLUMNS = {"reminder": "reminded_at", "breach": "breached_at", "escalation": "escalated_at"}


async def _claim(db: AsyncSession, clock: SlaClock, stage: str, now: datetime) -> bool:
    column = {"reminder": "reminded_at", "breach": "breached_at", "escalation": "escalated_at"}[
        stage
    ]
    still = (col(getattr(SlaClock, column)).is_(None), col(SlaClock.closed_at).is_(None))
    return await repo.claim_step(db, SlaClock, clock.id, {column: now}, *still)


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
