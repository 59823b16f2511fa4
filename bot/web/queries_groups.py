"""The group list (search, paging) and one group's page: transcript, payments, incidents…"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.web.core import Viewer
from bot.web.queries import contains, scoped
from storage import repo
from storage.models import (
    AuditEntry,
    CareLog,
    Customer,
    Group,
    GroupMember,
    Incident,
    Message,
    Payment,
    Rating,
    SlaClock,
    SlaEvent,
)

PER_PAGE = 50
TRANSCRIPT_PAGE = 200
RECENT = 100


@dataclass(frozen=True)
class Page:
    """One page of a list: its rows, which page, of how many."""

    rows: list[Any]
    number: int
    pages: int
    total: int


def page_of(total: int, wanted: int, size: int) -> tuple[int, int]:
    """(the page to show, the number of pages): `wanted` kept within 1..pages."""
    pages = max(1, -(-total // size))
    return min(max(wanted, 1), pages), pages


async def _count(db: AsyncSession, query: Any) -> int:
    counted = select(func.count()).select_from(query.order_by(None).subquery())
    return int((await db.exec(counted)).one())


async def group_list(db: AsyncSession, viewer: Viewer, q: str, wanted: int) -> Page:
    """The visible groups matching `q`, those with a customer waiting first."""
    open_clock = and_(col(SlaClock.group_id) == Group.group_id, col(SlaClock.closed_at).is_(None))
    query: Any = (
        select(
            Group,
            col(Customer.name).label("customer"),
            col(Customer.phone).label("phone"),
            col(SlaClock.deadline).label("deadline"),
        )
        .join(Customer, col(Customer.id) == Group.customer_id, isouter=True)
        .join(SlaClock, open_clock, isouter=True)
    )
    query = scoped(query, Group.group_id, viewer)
    if q:
        fields = (Group.name, Customer.name, Customer.phone, Group.group_id)
        query = query.where(or_(*(contains(db, field, q) for field in fields)))
    total = await _count(db, query)
    number, pages = page_of(total, wanted, PER_PAGE)
    waiting_first = case((col(SlaClock.deadline).is_(None), 1), else_=0)
    query = query.order_by(
        waiting_first, col(SlaClock.deadline), col(Group.updated_at).desc(), Group.group_id
    )
    rows = (await db.exec(query.offset((number - 1) * PER_PAGE).limit(PER_PAGE))).all()
    return Page(list(rows), number, pages, total)


async def is_member(db: AsyncSession, *, group_id: str, user_id: str) -> bool:
    member = await db.get(GroupMember, (group_id, user_id))
    return member is not None and member.left_at is None


async def transcript(db: AsyncSession, group_id: str, q: str, wanted: int) -> Page:
    """The group's messages matching `q`, TRANSCRIPT_PAGE a page, page 1 the latest; oldest
    first within a page."""
    query = select(Message).where(Message.group_id == group_id)
    if q:
        query = query.where(contains(db, Message.text, q))
    total = await _count(db, query)
    number, pages = page_of(total, wanted, TRANSCRIPT_PAGE)
    query = query.order_by(col(Message.sent_at).desc(), col(Message.id).desc())
    query = query.offset((number - 1) * TRANSCRIPT_PAGE).limit(TRANSCRIPT_PAGE)
    rows = list((await db.exec(query)).all())
    return Page(rows[::-1], number, pages, total)


async def _latest(db: AsyncSession, model: Any, group_id: str, order: Any) -> list[Any]:
    query = select(model).where(model.group_id == group_id).order_by(col(order).desc())
    return list((await db.exec(query.limit(RECENT))).all())


async def group_sections(db: AsyncSession, group: Group) -> dict[str, Any]:
    """Everything on a group's page but the transcript, each list cut at RECENT rows."""
    gid = group.group_id
    open_clock = select(SlaClock).where(SlaClock.group_id == gid, col(SlaClock.closed_at).is_(None))
    return {
        "customer": await repo.get_customer(db, customer_id=group.customer_id),
        "members": await repo.group_members(db, group_id=gid),
        "clock": (await db.exec(open_clock)).first(),
        "sla_events": (await _latest(db, SlaEvent, gid, SlaEvent.id))[:20],
        "payments": await _latest(db, Payment, gid, Payment.id),
        "incidents": await _latest(db, Incident, gid, Incident.id),
        "care_logs": await _latest(db, CareLog, gid, CareLog.at),
        "ratings": await _latest(db, Rating, gid, Rating.asked_at),
        "audit": await _latest(db, AuditEntry, gid, AuditEntry.id),
    }
