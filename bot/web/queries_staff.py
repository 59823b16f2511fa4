"""Staff figures: the team table (the SLA and satisfaction reports' own numbers) and one
person's clocks, violations, ratings and care feedback over a window of days.

A clock belongs to its owner, else to whoever closed it, as in bot/features/reports/queries.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.features.reports import operations as reports_operations
from bot.features.reports import times as reports_times
from bot.web.series import ClockFacts
from storage.models import CareLog, Rating, SlaClock, Staff, Violation

MAX_CLOCKS = 50_000  # a safety cap: 90 days of a very busy person stay far below it
RECENT = 100


@dataclass(frozen=True)
class StaffRow:
    staff: Staff
    sla: dict[str, Any]
    satisfaction: dict[str, Any]
    violations: int
    times: dict[str, Any]  # the response_times report's row: p50/p90, working and wall


async def staff_rows(
    db: AsyncSession, people: list[Staff], start: datetime, end: datetime, tz: ZoneInfo
) -> list[StaffRow]:
    """One row per person: SLA compliance, median first response, breaches, violations and
    satisfaction over [start, end)."""
    sla = {r["staff_id"]: r for r in await reports_operations.sla(db, start, end, tz)}
    times = {
        r["key"]: r
        for r in await reports_times.response_times(db, start, end, tz)
        if r["by"] == "staff"
    }
    happy = {r["staff_id"]: r for r in await reports_operations.satisfaction(db, start, end, tz)}
    query = (
        select(Violation.staff_id, func.count())
        .where(col(Violation.at) >= start, col(Violation.at) < end)
        .group_by(Violation.staff_id)
    )
    violations = {sid: int(n) for sid, n in (await db.exec(query)).all()}
    return [
        StaffRow(
            p,
            sla.get(p.zalo_user_id, {}),
            happy.get(p.zalo_user_id, {}),
            violations.get(p.zalo_user_id, 0),
            times.get(p.zalo_user_id, {}),
        )
        for p in people
    ]


async def clocks_of(
    db: AsyncSession, staff_id: str, start: datetime, end: datetime
) -> list[ClockFacts]:
    """The facts of the clocks opened in [start, end) that belong to `staff_id`."""
    owner = func.coalesce(SlaClock.owner_id, SlaClock.closed_by)
    query = (
        select(SlaClock.opened_at, SlaClock.response_seconds, SlaClock.breached_at)
        .where(owner == staff_id, col(SlaClock.opened_at) >= start, col(SlaClock.opened_at) < end)
        .limit(MAX_CLOCKS)
    )
    return [ClockFacts(*row) for row in (await db.exec(query)).all()]


async def violations_of(
    db: AsyncSession, staff_id: str, start: datetime, end: datetime
) -> list[Violation]:
    """The person's violations in [start, end), the latest first (at most RECENT)."""
    query = (
        select(Violation)
        .where(Violation.staff_id == staff_id, col(Violation.at) >= start, col(Violation.at) < end)
        .order_by(col(Violation.at).desc(), col(Violation.id).desc())
        .limit(RECENT)
    )
    return list((await db.exec(query)).all())


async def ratings_of(
    db: AsyncSession, staff_id: str, start: datetime, end: datetime
) -> tuple[int, float | None]:
    """(how many answered ratings, their average score) in [start, end)."""
    query = select(func.count(), func.avg(Rating.score)).where(
        Rating.staff_id == staff_id,
        col(Rating.score).is_not(None),
        col(Rating.answered_at) >= start,
        col(Rating.answered_at) < end,
    )
    count, average = (await db.exec(query)).one()
    return int(count), None if average is None else round(float(average), 2)


async def feedback_of(db: AsyncSession, staff_id: str, limit: int = 5) -> list[CareLog]:
    """The person's latest care contacts that carry the customer's feedback."""
    query = (
        select(CareLog)
        .where(CareLog.staff_id == staff_id, col(CareLog.feedback).is_not(None))
        .order_by(col(CareLog.at).desc())
        .limit(limit)
    )
    return list((await db.exec(query)).all())
