"""The overview's lists: open reply clocks, today's breaches, payments waiting, open incidents.

Each is filtered to the groups the viewer sees, ordered most urgent first and cut at
LIST_LIMIT rows in SQL; its total is counted only when the cut was needed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.web.core import Viewer
from bot.web.queries import Listing, listing, scoped, with_group
from storage.models import Incident, Payment, SlaClock, SlaEvent

OPEN_INCIDENT = ("open", "in_progress")


async def open_clocks(db: AsyncSession, viewer: Viewer) -> Listing:
    """Customers waiting for an answer, the nearest deadline first: (clock, group, customer)."""
    query = with_group(SlaClock, SlaClock.group_id).where(col(SlaClock.closed_at).is_(None))
    query = query.order_by(col(SlaClock.deadline), SlaClock.id)
    return await listing(db, scoped(query, SlaClock.group_id, viewer))


async def breaches_between(
    db: AsyncSession, viewer: Viewer, start: datetime, end: datetime
) -> Listing:
    """Reply deadlines missed in [start, end), the latest first: (event, group, customer)."""
    query = with_group(SlaEvent, SlaEvent.group_id).where(
        SlaEvent.kind == "breach", col(SlaEvent.at) >= start, col(SlaEvent.at) < end
    )
    query = query.order_by(col(SlaEvent.at).desc(), SlaEvent.id)
    return await listing(db, scoped(query, SlaEvent.group_id, viewer))


async def payments_waiting(db: AsyncSession, viewer: Viewer) -> Listing:
    """Requests accounting has not decided, the longest waiting first."""
    query = with_group(Payment, Payment.group_id).where(Payment.status == "pending")
    query = query.order_by(col(Payment.requested_at), Payment.id)
    return await listing(db, scoped(query, Payment.group_id, viewer))


async def open_incidents(db: AsyncSession, viewer: Viewer) -> Listing:
    """Incidents not resolved yet, the nearest deadline first."""
    query = with_group(Incident, Incident.group_id).where(col(Incident.status).in_(OPEN_INCIDENT))
    query = query.order_by(col(Incident.deadline), Incident.id)
    return await listing(db, scoped(query, Incident.group_id, viewer))


async def overdue_clocks(db: AsyncSession, viewer: Viewer, now: datetime) -> int:
    """How many open clocks are past their deadline."""
    query = (
        select(func.count())
        .select_from(SlaClock)
        .where(col(SlaClock.closed_at).is_(None), col(SlaClock.deadline) < now)
    )
    return int((await db.exec(scoped(query, SlaClock.group_id, viewer))).one())
