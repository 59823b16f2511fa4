"""Erasure: confirming one (start_erasure, in the command's transaction) and running what was
confirmed (run_erasure, off the command's path, resumable). The policy: bot/features/privacy/
__init__.py; the steps: steps.py."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.clock import Clock
from bot.core.render import Renderer
from bot.features.privacy.export import count_rows, rows_per_table
from bot.features.privacy.policy import (
    ERASED,
    is_erased,
)
from bot.features.privacy.scope import customer_texts, notes_of
from bot.features.privacy.steps import LEASE, STEPS, Interrupted, Steps, update_rows
from storage import repo
from storage.db import SessionFactory
from storage.models import (
    AuditEntry,
    Erasure,
    Group,
    Message,
    Order,
    Payment,
    Rating,
    SlaClock,
)

log = logging.getLogger(__name__)

CONFIRM_WINDOW = timedelta(minutes=10)


# --- export ----------------------------------------------------------------------------------


# --- erasure ---------------------------------------------------------------------------------


async def erase_plan(db: AsyncSession, group: Group) -> dict[str, int]:
    """What an erasure of the group would erase now; all zero when there is nothing left."""
    customer = await repo.get_customer(db, customer_id=group.customer_id)
    plan = {
        "profile": int(customer is not None and not is_erased(customer)),
        "messages": await count_rows(db, Message, *customer_texts(group.group_id)),
    }
    for model, column, where in notes_of(group.group_id, group.customer_id):
        plan[model.__tablename__] = await count_rows(db, model, *where, col(column) != ERASED)
    return plan


async def kept_counts(db: AsyncSession, group: Group) -> dict[str, int]:
    """The business records an erasure keeps, for the messages that announce it."""
    return await rows_per_table(db, group.group_id, Payment, Order, SlaClock, Rating)


def _zero_counts(group: Group) -> dict[str, int]:
    """Every count an erasure reports, in the order the announcement and the audit show them."""
    notes = [model.__tablename__ for model, _, _ in notes_of(group.group_id, group.customer_id)]
    return dict.fromkeys(["profile", "messages", *notes, "alerts", "raw_events", "masked"], 0)


async def start_erasure(
    db: AsyncSession,
    group: Group,
    *,
    request: AuditEntry,
    actor_id: str,
    reply_group_id: str | None,
    reply_msg_id: str | None,
    now: datetime,
) -> bool:
    """Record the confirmed erasure (the caller commits); a worker then runs it (run_erasure).

    False when this request already has one.
    """
    return await repo.insert_once(
        db,
        Erasure,
        unique=["request_id"],
        request_id=request.id,
        group_id=group.group_id,
        actor_id=actor_id,
        reply_group_id=reply_group_id,
        reply_msg_id=reply_msg_id,
        kept=await kept_counts(db, group),
        counts=_zero_counts(group),
        step=STEPS[0],
        confirmed_at=now,
    )


async def erasure_under_way(db: AsyncSession, *, group_id: str) -> bool:
    query = select(Erasure.id).where(
        Erasure.group_id == group_id, col(Erasure.finished_at).is_(None)
    )
    return (await db.exec(query.limit(1))).first() is not None


async def unfinished_erasures(db: AsyncSession) -> list[int]:
    """Erasures confirmed and not finished, oldest first (ix_erasures_finished_at)."""
    query = select(col(Erasure.id)).where(col(Erasure.finished_at).is_(None))
    return [i for i in (await db.exec(query.order_by(col(Erasure.id)))).all() if i is not None]


async def run_erasure(
    sessions: SessionFactory,
    erasure_id: int,
    *,
    clock: Clock,
    renderer: Renderer,
    locale: str,
    keep_going: Callable[[], bool] = lambda: True,
) -> bool:
    """Run a confirmed erasure to its end, or on from where it was cut short; True when done.

    False when another process holds it, or it was interrupted (it resumes on the next run).
    """
    runner = secrets.token_hex(8)
    async with sessions() as db:
        now = clock.now()
        claimed = await update_rows(
            db,
            Erasure,
            [
                Erasure.id == erasure_id,
                col(Erasure.finished_at).is_(None),
                or_(col(Erasure.runner).is_(None), col(Erasure.lease_until) < now),
            ],
            runner=runner,
            lease_until=now + LEASE,
        )
        job = await db.get(Erasure, erasure_id) if claimed else None
        await db.commit()
    if job is None:
        return False
    eraser = Steps(sessions, job, runner, clock, keep_going)
    try:
        await eraser.run(renderer, locale)
        return True
    except Interrupted:
        log.info("erasure %s interrupted at step %s; it resumes later", erasure_id, eraser.step)
        return False
    finally:
        if not eraser.finished:
            await _release(sessions, erasure_id, runner)


async def _release(sessions: SessionFactory, erasure_id: int, runner: str) -> None:
    """Give the lease up so the next run need not wait for it to expire (best effort)."""
    try:
        async with sessions() as db:
            mine = [Erasure.id == erasure_id, Erasure.runner == runner]
            await update_rows(db, Erasure, mine, runner=None, lease_until=None)
            await db.commit()
    except Exception:
        log.warning("erasure %s: lease not released; it expires by itself", erasure_id)


# --- the pending request (an audit entry, checked against the clock) ------------------------


async def pending_request(
    db: AsyncSession, *, group_id: str, actor_id: str, now: datetime
) -> AuditEntry | None:
    """The actor's erase request for the group made within CONFIRM_WINDOW and not yet used."""
    query = (
        select(AuditEntry)
        .where(
            AuditEntry.group_id == group_id,
            col(AuditEntry.action).in_(("customer_erase_requested", "customer_erased")),
        )
        .order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc())
        .limit(1)
    )
    last = (await db.exec(query)).first()
    if last is None or last.action != "customer_erase_requested" or last.actor_id != actor_id:
        return None
    return last if now - last.at <= CONFIRM_WINDOW else None


async def last_erased_at(db: AsyncSession, *, group_id: str) -> datetime | None:
    query = select(func.max(AuditEntry.at)).where(
        AuditEntry.group_id == group_id, AuditEntry.action == "customer_erased"
    )
    return (await db.exec(query)).one()
