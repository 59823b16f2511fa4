"""Management reports: one async function per report, (db, start, end, tz) -> rows (dicts).

Every figure is aggregated in the database (GROUP BY, COUNT, SUM; medians with window
functions), so a report reads a few rows whatever the size of the tables. The period is the
half-open UTC interval [start, end); `tz` turns it into local dates where a report works on
dates (care due dates, ages, birthdays). REPORTS maps a name to its function and columns; the
digest (/report and the scheduled digests) and GET /api/reports/{name} both read it.

Period semantics (a flow, not a cohort): a payment counts as requested when requested_at is in
the period and as approved/rejected when decided_at is; incidents likewise by opened_at and
resolved_at; SLA clocks by opened_at; ratings by answered_at; care logs by `at`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.features.reports import times
from bot.features.reports.base import (
    TEAM,
    ReportFn,
    Row,
    between,
    local_day,
    select,
)
from bot.features.reports.customers import (
    DIMENSIONS,
    by_dimension,
    customers_by_last_purchase,
    customers_by_product,
    products_by_customer,
)
from bot.features.reports.operations import care, incidents, payments, satisfaction, sla
from storage.models import (
    SlaCorrection,
)


@dataclass(frozen=True)
class Report:
    run: ReportFn
    columns: tuple[str, ...]


# --- helpers ----------------------------------------------------------------------------------


# --- workflow reports ---------------------------------------------------------------------------


# --- seed 002 statistics ----------------------------------------------------------------------


PAIR_COLUMNS = ("orders", "quantity", "amount", "last_purchase")
REPORTS: dict[str, Report] = {
    "sla": Report(
        sla,
        ("staff_id", "staff_name", "clocks", "answered", "in_time", "compliance_pct")
        + ("median_response_min", "breaches"),
    ),
    "payments": Report(
        payments,
        ("kind", "requested", "requested_amount", "approved", "approved_amount", "rejected")
        + ("rejected_amount", "median_approval_min"),
    ),
    "incidents": Report(
        incidents, ("type", "opened", "resolved", "breaches", "median_resolution_min")
    ),
    "care": Report(
        care, ("staff_id", "staff_name", "done", "orders_cared", "due_waiting", "overdue")
    ),
    "satisfaction": Report(
        satisfaction,
        ("staff_id", "staff_name", "index", "ratings", "avg_rating", "feedbacks", "positive")
        + ("negative",),
    ),
    "products_by_customer": Report(
        products_by_customer,
        ("customer_id", "customer_name", "product_code", "product_name", "product_group")
        + PAIR_COLUMNS,
    ),
    "customers_by_product": Report(
        customers_by_product,
        ("product_code", "product_name", "customer_id", "customer_name", "phone", "region")
        + PAIR_COLUMNS,
    ),
    "customers_by_last_purchase": Report(
        customers_by_last_purchase, ("bucket", "customers", "percent")
    ),
    **{
        f"customers_by_{d}": Report(by_dimension(d), (d, "customers", "percent"))
        for d in DIMENSIONS
    },
    "response_times": Report(
        times.response_times,
        ("by", "key", "name", "answered", "p50_response_min", "p90_response_min")
        + ("p50_response_wall_min", "p90_response_wall_min", "withdrawn", "withdrawn_breaches"),
    ),
    "approvals": Report(
        times.approvals,
        ("accountant_id", "accountant_name", "decided", "approved", "rejected")
        + ("p50_wait_wall_min", "p90_wait_wall_min", "late"),
    ),
}


# --- the digest -------------------------------------------------------------------------------

PERIODS = ("day", "week", "month")
DIGEST_PARTS = ("sla", "payments", "incidents", "care", "satisfaction")


def period_bounds(kind: str, now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The local calendar day, ISO week (Mon-Sun) or month holding `now`, as UTC bounds."""
    today = local_day(now, tz)
    if kind == "day":
        first, after = today, today + timedelta(days=1)
    elif kind == "week":
        first = today - timedelta(days=today.weekday())
        after = first + timedelta(days=7)
    else:
        first = today.replace(day=1)
        after = (first + timedelta(days=32)).replace(day=1)
    return _midnight(first, tz), _midnight(after, tz)


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


async def digest_context(db: AsyncSession, kind: str, now: datetime, tz: ZoneInfo) -> Row:
    """Everything the report_digest template shows, for the period of `kind` holding `now`."""
    start, end = period_bounds(kind, now, tz)
    parts = {name: await REPORTS[name].run(db, start, end, tz) for name in DIGEST_PARTS}
    # each of these reports ends with its team/total row whenever it has any row
    corrected = select(col(SlaCorrection.needs_reply), func.count()).where(
        *between(SlaCorrection.at, start, end)
    )
    counts = dict((await db.exec(corrected.group_by(col(SlaCorrection.needs_reply)))).all())
    times = await REPORTS["response_times"].run(db, start, end, tz)
    return {
        # the team's median and P90, working and wall-clock, and the withdrawn clocks
        "times": next((r for r in times if r["by"] == TEAM), None),
        "period": kind,
        # the heads' /khongcan and /cantraloi: how often the bot misread a message
        "corrections": {"not_needed": counts.get(False, 0), "missed": counts.get(True, 0)},
        "first": local_day(start, tz),
        "last": local_day(end, tz) - timedelta(days=1),
        **{name: rows[:-1] for name, rows in parts.items()},
        "totals": {name: rows[-1] if rows else None for name, rows in parts.items()},
    }
