"""Approval deadlines (PAYMENT_APPROVAL_SLA): the accountants reminded 1:1 at the deadline, the
chief accountant and the heads alerted at twice it, each step once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core import audience as common
from bot.core.intents import Intent, SendUser
from bot.features.payments.policy import (
    HEAD_ROLES,
)
from bot.features.payments.queries import view
from storage import repo
from storage.models import Payment


def _overdue(now: datetime) -> tuple[Any, ...]:
    """Pending requests with a step due: the reminder or the escalation."""
    return (
        col(Payment.status) == "pending",
        or_(
            and_(col(Payment.reminded_at).is_(None), col(Payment.remind_at) <= now),
            and_(col(Payment.escalated_at).is_(None), col(Payment.escalate_at) <= now),
        ),
    )


async def due(db: AsyncSession, now: datetime, deps: Any) -> bool:
    """Whether `sweep` has a reminder or an escalation to send (read-only probe)."""
    return await common.any_row(db, select(Payment.id).where(*_overdue(now)))


async def sweep(db: AsyncSession, now: datetime, deps: Any) -> list[Intent]:
    """Remind the accountants of a request waiting past PAYMENT_APPROVAL_SLA; at twice it,
    alert the chief accountant and the sales heads (alert group, else 1:1). Each step once
    (a conditional UPDATE claims it)."""
    intents: list[Intent] = []
    for payment in (await db.exec(select(Payment).where(*_overdue(now)).limit(200))).all():
        late = payment.escalate_at is not None and payment.escalate_at <= now
        step = "escalated_at" if late and payment.escalated_at is None else "reminded_at"
        still = (
            col(Payment.status) == "pending",  # not decided meanwhile
            col(getattr(Payment, step)).is_(None),
        )
        values = {step: now, **({"reminded_at": now} if step == "escalated_at" else {})}
        if not await repo.claim_step(db, Payment, payment.id, values, *still):
            continue
        context = {
            "payment": view(payment),
            "group_name": await common.group_label(db, payment.group_id),
            "waited_minutes": int((now - payment.requested_at).total_seconds() // 60),
        }
        if step == "reminded_at":
            accountants = await common.ids_with_role(db, "accountant", "chief_accountant")
            intents += [SendUser(a, "payment_overdue", context) for a in accountants]
        else:
            people = await common.ids_with_role(db, "chief_accountant", *HEAD_ROLES)
            intents += common.alert_heads(deps.settings, people, "payment_overdue_alert", context)
        await repo.audit(
            db, at=now, actor_id="bot", action=f"payment.{step.removesuffix('_at')}",
            group_id=payment.group_id, payment_id=payment.id,
        )  # fmt: skip
    return intents
