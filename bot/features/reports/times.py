"""Times heads trust: first-response and approval times as median (p50) and 90th percentile,
in working time and wall-clock time side by side.

`response_times`: one row per staff member (the clock's owner), per customer group and for the
team, over the SLA clocks opened in the period and answered; clocks a head withdrew (/khongcan)
are left out of the times and shown as withdrawn, with the breaches withdrawn among them (the SLA
event log keeps them: nothing is deleted). `approvals`: one row per accountant (the first to
decide) and for the team, over the payment and credit requests decided in the period: how many,
how long they waited (p50/p90, working and wall), how many went past PAYMENT_APPROVAL_SLA.

Percentiles are computed in the database with window functions (nearest rank for p90), like
every figure of bot/features/reports/queries.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, literal
from sqlalchemy import inspect as sa_inspect
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.features.reports.base import (
    TEAM,
    Percentiles,
    Row,
    between,
    count_if,
    fetch_rows,
    names_of_staff,
    percentiles,
    seconds_between,
    select,
    to_minutes,
)
from storage.models import Customer, Group, Payment, SlaClock

UNKNOWN = "unknown"


def _times(working: Percentiles, wall: Percentiles, key: Any, prefix: str) -> Row:
    (w50, w90), (c50, c90) = working.get(key, (None, None)), wall.get(key, (None, None))
    return {
        f"p50_{prefix}_min": to_minutes(w50),
        f"p90_{prefix}_min": to_minutes(w90),
        f"p50_{prefix}_wall_min": to_minutes(c50),
        f"p90_{prefix}_wall_min": to_minutes(c90),
    }


# --- first response ---------------------------------------------------------------------------


def _clocks() -> Any:
    """SLA clocks with their customer's group."""
    clocks, groups, customers = (
        sa_inspect(model).local_table for model in (SlaClock, Group, Customer)
    )
    return clocks.outerjoin(groups, col(Group.group_id) == col(SlaClock.group_id)).outerjoin(
        customers, col(Customer.id) == col(Group.customer_id)
    )


async def response_times(
    db: AsyncSession, start: datetime, end: datetime, tz: ZoneInfo
) -> list[Row]:
    """Per staff, per customer group and for the team: answered, p50/p90 first response in
    working and wall time, withdrawn clocks and withdrawn breaches."""
    period = between(SlaClock.opened_at, start, end)
    kept = [*period, col(SlaClock.withdrawn_at).is_(None)]
    working = col(SlaClock.response_seconds)
    wall = seconds_between(db, SlaClock.opened_at, SlaClock.closed_at)
    staff = func.coalesce(SlaClock.owner_id, SlaClock.closed_by)
    segment = func.coalesce(Customer.customer_group, "")
    withdrawn = col(SlaClock.withdrawn_at).is_not(None)
    names = await names_of_staff(db)
    rows: list[Row] = []
    for by, key in (("staff", staff), ("customer_group", segment), (TEAM, None)):
        counts = await fetch_rows(
            db,
            select(
                (key if key is not None else literal(TEAM)).label("k"),
                count_if(and_(working.is_not(None), col(SlaClock.withdrawn_at).is_(None))).label(
                    "answered"
                ),
                count_if(withdrawn).label("withdrawn"),
                count_if(and_(withdrawn, col(SlaClock.breached_at).is_not(None))).label(
                    "withdrawn_breaches"
                ),
            )
            .select_from(_clocks())
            .where(*period)
            .group_by("k"),
        )
        by_working = await percentiles(db, _clocks(), key, working, *kept)
        by_wall = await percentiles(
            db, _clocks(), key, wall, *kept, col(SlaClock.closed_at).is_not(None)
        )
        part = [
            {
                "by": by,
                "key": _label(by, r["k"]),
                "name": names.get(r["k"] or "", "") if by == "staff" else "",
                "answered": r["answered"],
                **_times(by_working, by_wall, r["k"], "response"),
                "withdrawn": r["withdrawn"],
                "withdrawn_breaches": r["withdrawn_breaches"],
            }
            for r in counts
        ]
        rows += sorted(part, key=lambda r: (r["key"] == UNKNOWN, r["name"] or r["key"]))
    return rows


def _label(by: str, value: Any) -> str:
    if by == TEAM:
        return TEAM
    return UNKNOWN if value in (None, "") else str(value)


# --- approvals ----------------------------------------------------------------------------------


async def approvals(db: AsyncSession, start: datetime, end: datetime, tz: ZoneInfo) -> list[Row]:
    """Per accountant (the first to decide) and for the team: requests decided in the period,
    approved, rejected, p50/p90 waiting time (wall; working past the deadline is counted as
    `late`: reminded after PAYMENT_APPROVAL_SLA)."""
    decided = [
        *between(Payment.decided_at, start, end),
        col(Payment.status).in_(("approved", "rejected")),
    ]
    first = func.coalesce(Payment.accountant_at, Payment.decided_at)
    who = func.coalesce(Payment.accountant_id, Payment.decided_by)
    wait = seconds_between(db, Payment.requested_at, first)
    names = await names_of_staff(db)
    rows: list[Row] = []
    for key in (who, None):
        counts = await fetch_rows(
            db,
            select(
                (key if key is not None else literal(TEAM)).label("k"),
                func.count().label("decided"),
                count_if(col(Payment.status) == "approved").label("approved"),
                count_if(col(Payment.status) == "rejected").label("rejected"),
                count_if(col(Payment.reminded_at).is_not(None)).label("late"),
            )
            .where(*decided)
            .group_by("k"),
        )
        table = sa_inspect(Payment).local_table
        waits = await percentiles(db, table, key, wait, *decided)
        part = [
            {
                "accountant_id": r["k"],
                "accountant_name": names.get(r["k"] or "", ""),
                "decided": r["decided"],
                "approved": r["approved"],
                "rejected": r["rejected"],
                "p50_wait_wall_min": to_minutes(waits.get(r["k"], (None, None))[0]),
                "p90_wait_wall_min": to_minutes(waits.get(r["k"], (None, None))[1]),
                "late": r["late"],
            }
            for r in counts
        ]
        rows += sorted(part, key=lambda r: r["accountant_name"] or r["accountant_id"] or "")
    return rows
