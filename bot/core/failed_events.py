"""Events set aside as failed (see bot/core/inbox.py): listing them, and putting one back in
line after a fix. The dashboard's overview and `python -m bot inbox` (bot/tools/inbox.py) use
them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import repo
from storage.models import InboxEvent

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
