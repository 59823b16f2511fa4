"""Events set aside as failed (see bot/core/inbox.py): setting one aside and telling the admins,
listing them, and putting one back in line after a fix. The dashboard's overview and
`python -m bot inbox` (bot/tools/inbox.py) use them."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.audience import alert_heads, ids_with_role
from bot.core.enqueue import enqueue
from storage import repo
from storage.models import InboxEvent

if TYPE_CHECKING:
    from bot.core.dispatch import Deps

SHOWN = 50


async def failed_events(db: AsyncSession, *, limit: int = SHOWN) -> list[InboxEvent]:
    """The events set aside as failed, newest first."""
    query = select(InboxEvent).where(InboxEvent.status == "failed")
    return list((await db.exec(query.order_by(col(InboxEvent.id).desc()).limit(limit))).all())


async def retry(db: AsyncSession, *, inbox_id: int, now: datetime, actor_id: str) -> bool:
    """Put a failed event back in line with fresh attempts (audited); False when it is not a
    failed event. The caller commits."""
    row = await db.get(InboxEvent, inbox_id)
    if row is None or row.status != "failed":
        return False
    row.status, row.attempts, row.processed_at = "pending", 0, None
    db.add(row)
    await repo.audit(db, at=now, actor_id=actor_id, action="inbox.retried", inbox_id=inbox_id)
    bind = db.get_bind()
    if bind.dialect.name == "postgresql":  # wake the workers now rather than at their poll
        await db.exec(text("SELECT pg_notify('inbox_events', '')"))  # type: ignore[call-overload]
    return True


async def set_aside(db: AsyncSession, row: InboxEvent, error: str, deps: Deps) -> None:
    """Mark the event failed and tell the admins once (alert group, else 1:1), in the
    caller's transaction; the dashboard lists it with a retry button."""
    now = deps.clock.now()
    row.status, row.error, row.processed_at = "failed", error[:1000], now
    db.add(row)
    await repo.audit(
        db, at=now, actor_id="bot", action="inbox.failed", inbox_id=row.id, error=error[:300]
    )
    admins = await ids_with_role(db, "admin") or await ids_with_role(db, "sales_head")
    context = {"inbox_id": row.id, "event_name": row.event_name, "error": error[:200]}
    notices = alert_heads(deps.settings, admins, "event_failed", context)
    renderer, locale = deps.renderer, deps.settings.locale
    await enqueue(db, notices, renderer=renderer, locale=locale, now=now)
