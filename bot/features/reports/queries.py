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

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, extract, func, literal, or_
from sqlalchemy import select as core_select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.fast.hot import dialect_of
from storage.models import (
    CareLog,
    Customer,
    Group,
    Incident,
    Order,
    OrderItem,
    Payment,
    Product,
    Rating,
    SlaClock,
    SlaCorrection,
    Staff,
)

Row = dict[str, Any]
# Reports are Core selects of labelled expressions and window functions: the typed overloads of
# select() and of SQLModel's exec() stop at plain columns, so here a select is untyped.
select: Callable[..., Any] = core_select
ReportFn = Callable[[AsyncSession, datetime, datetime, ZoneInfo], Awaitable[list[Row]]]
TEAM = "team"
FEEDBACK_POINTS = {"positive": 100, "neutral": 50, "negative": 0, "complaint": 0}
AGE_BANDS = ((25, "<25"), (35, "25-34"), (45, "35-44"), (55, "45-54"))  # upper bound, label
LAST_PURCHASE = ((30, "<30"), (90, "30-90"), (180, "90-180"))  # days before the period's end


@dataclass(frozen=True)
class Report:
    run: ReportFn
    columns: tuple[str, ...]


# --- helpers ----------------------------------------------------------------------------------


async def _rows(db: AsyncSession, query: Any) -> list[Row]:
    result = await db.exec(query)
    keys = list(result.keys())
    return [dict(zip(keys, r, strict=True)) for r in result.all()]


def _count_if(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _seconds(db: AsyncSession, since: Any, until: Any) -> Any:
    """until - since in seconds, in SQL (SQLite keeps datetimes as text)."""
    assert db.bind is not None
    if dialect_of(db) == "postgresql":
        return extract("epoch", until - since)
    return (func.julianday(until) - func.julianday(since)) * 86400.0


Percentiles = dict[Any, tuple[float | None, float | None]]


async def _percentiles(
    db: AsyncSession, source: Any, key: Any, value: Any, *where: ColumnElement[bool]
) -> Percentiles:
    """Per key (None: one row for the team), the median and the 90th percentile (nearest
    rank) of value, None skipped, with window functions in the database. `source` is the
    FROM when `value` and `where` do not name it (a join), else None."""
    partition = {"partition_by": key} if key is not None else {}
    ranked = select(
        (key if key is not None else literal(TEAM)).label("k"),
        value.label("v"),
        func.row_number().over(order_by=value, **partition).label("rn"),
        func.count().over(**partition).label("n"),
    )
    if source is not None:
        ranked = ranked.select_from(source)
    c = ranked.where(value.is_not(None), *where).subquery().c
    middle = or_(c.rn == (c.n + 1) // 2, c.rn == (c.n + 2) // 2)
    ninetieth = c.rn == (c.n * 9 + 9) // 10  # ceil(0.9 n)
    query = select(c.k, func.avg(case((middle, c.v))), func.max(case((ninetieth, c.v))))
    return {
        k: (None if p50 is None else float(p50), None if p90 is None else float(p90))
        for k, p50, p90 in (await db.exec(query.group_by(c.k))).all()
    }


async def _medians(
    db: AsyncSession, key: Any, value: Any, *where: ColumnElement[bool]
) -> dict[Any, float]:
    """Per key, the median of value (None skipped)."""
    found = await _percentiles(db, None, key, value, *where)
    return {k: p50 for k, (p50, _) in found.items() if p50 is not None}


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


async def _staff_names(db: AsyncSession) -> dict[str, str]:
    rows = (await db.exec(select(Staff.zalo_user_id, Staff.name))).all()
    return {uid: name for uid, name in rows}


def _local_day(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def _in(column: Any, start: datetime, end: datetime) -> list[ColumnElement[bool]]:
    return [col(column) >= start, col(column) < end]


# --- workflow reports ---------------------------------------------------------------------------


async def sla(db: AsyncSession, start: datetime, end: datetime, tz: ZoneInfo) -> list[Row]:
    """Per staff (the clock's owner) and for the team: clocks opened, answered, in time,
    compliance %, median first response, breaches.

    Compliance = answered without a breach / clocks decided (answered or breached): a clock
    still open and not yet late is neither. One pass with a window over the period's clocks
    gives the per-staff counts and medians; the team median comes from a histogram of the
    (integer) response seconds.
    """
    staff = func.coalesce(SlaClock.owner_id, SlaClock.closed_by)
    seconds = col(SlaClock.response_seconds)
    answered, breached = seconds.is_not(None), col(SlaClock.breached_at).is_not(None)
    flags = {
        "answered": answered,
        "in_time": and_(answered, ~breached),
        "decided": or_(answered, breached),
        "breaches": breached,
    }
    ranked = (
        select(
            staff.label("k"),
            seconds.label("v"),
            *(case((cond, 1), else_=0).label(name) for name, cond in flags.items()),
            func.row_number()
            .over(partition_by=staff, order_by=seconds.asc().nulls_last())
            .label("rn"),
            func.count(seconds).over(partition_by=staff).label("n"),
        )
        # a clock a head withdrew (/khongcan: the message needed no answer) counts nowhere
        .where(*_in(SlaClock.opened_at, start, end), col(SlaClock.withdrawn_at).is_(None))
        .subquery()
    )
    c = ranked.c
    middle = and_(c.v.is_not(None), or_(c.rn == (c.n + 1) // 2, c.rn == (c.n + 2) // 2))
    query = select(
        c.k.label("staff_id"),
        func.count().label("clocks"),
        *(func.sum(c[name]).label(name) for name in flags),
        func.avg(case((middle, c.v))).label("median"),
    ).group_by(c.k)
    names = await _staff_names(db)
    rows = sorted(await _rows(db, query), key=lambda r: names.get(r["staff_id"] or "", "~"))
    if rows:
        team = {k: sum(r[k] for r in rows) for k in ("clocks", *flags)}
        median = await _histogram_median(db, seconds, *_in(SlaClock.opened_at, start, end))
        rows.append({"staff_id": TEAM, **team, "median": median})
    return [
        {
            "staff_id": r["staff_id"],
            "staff_name": names.get(r["staff_id"] or "", ""),
            "clocks": r["clocks"],
            "answered": r["answered"],
            "in_time": r["in_time"],
            "compliance_pct": _pct(r["in_time"], r["decided"]),
            "median_response_min": _minutes(r["median"]),
            "breaches": r["breaches"],
        }
        for r in rows
    ]


async def _histogram_median(
    db: AsyncSession, value: Any, *where: ColumnElement[bool]
) -> float | None:
    """The median of an integer column, from its value counts (few distinct values)."""
    query = (
        select(value, func.count())
        .where(value.is_not(None), *where)
        .group_by(value)
        .order_by(value)
    )
    counts = (await db.exec(query)).all()
    total = sum(n for _, n in counts)
    wanted, seen, picked = {(total + 1) // 2, (total + 2) // 2}, 0, []
    for v, n in counts:
        picked += [v] * sum(1 for w in wanted if seen < w <= seen + n)
        seen += n
    return sum(picked) / len(picked) if picked else None


async def payments(db: AsyncSession, start: datetime, end: datetime, tz: ZoneInfo) -> list[Row]:
    """Per kind (payment, credit) and in total: requested, approved, rejected; median minutes."""
    requested = await _rows(
        db,
        select(Payment.kind, func.count().label("n"), func.sum(Payment.amount).label("amount"))
        .where(*_in(Payment.requested_at, start, end))
        .group_by(Payment.kind),
    )
    decided = await _rows(
        db,
        select(
            Payment.kind,
            Payment.status,
            func.count().label("n"),
            func.sum(Payment.amount).label("amount"),
        )
        .where(
            *_in(Payment.decided_at, start, end), col(Payment.status).in_(("approved", "rejected"))
        )
        .group_by(Payment.kind, Payment.status),
    )
    wait = _seconds(db, Payment.requested_at, Payment.decided_at)
    approved_in = [*_in(Payment.decided_at, start, end), col(Payment.status) == "approved"]
    medians = await _medians(db, Payment.kind, wait, *approved_in)
    medians |= await _medians(db, None, wait, *approved_in)
    kinds = sorted({r["kind"] for r in requested} | {r["kind"] for r in decided})
    rows = [_payment_row(kind, requested, decided, medians) for kind in kinds]
    return [*rows, _payment_row(TEAM, requested, decided, medians)] if rows else []


def _payment_row(
    kind: str, requested: list[Row], decided: list[Row], medians: dict[Any, float]
) -> Row:
    def pick(rows: list[Row], status: str | None = None) -> tuple[int, int]:
        mine = [r for r in rows if kind in (TEAM, r["kind"]) and status in (None, r.get("status"))]
        return sum(r["n"] for r in mine), sum(r["amount"] or 0 for r in mine)

    (n_req, a_req), (n_ok, a_ok) = pick(requested), pick(decided, "approved")
    n_no, a_no = pick(decided, "rejected")
    return {
        "kind": "total" if kind == TEAM else kind,
        "requested": n_req,
        "requested_amount": a_req,
        "approved": n_ok,
        "approved_amount": a_ok,
        "rejected": n_no,
        "rejected_amount": a_no,
        "median_approval_min": _minutes(medians.get(kind)),
    }


async def incidents(db: AsyncSession, start: datetime, end: datetime, tz: ZoneInfo) -> list[Row]:
    """Per incident type and in total: opened, resolved, breached; median resolution minutes."""
    opened = _in(Incident.opened_at, start, end)
    resolved = _in(Incident.resolved_at, start, end)
    flows = {
        "opened": opened,
        "resolved": resolved,
        "breaches": _in(Incident.breached_at, start, end),
    }
    counts: dict[str, dict[str, int]] = {}
    for name, where in flows.items():
        query = select(Incident.type, func.count()).where(*where).group_by(Incident.type)
        for kind, n in (await db.exec(query)).all():
            counts.setdefault(kind, {})[name] = n
    took = _seconds(db, Incident.opened_at, Incident.resolved_at)
    medians = await _medians(db, Incident.type, took, *resolved)
    medians |= await _medians(db, None, took, *resolved)
    rows = [_incident_row(k, [counts[k]], medians) for k in sorted(counts)]
    return [*rows, _incident_row(TEAM, list(counts.values()), medians)] if rows else []


def _incident_row(kind: str, counts: list[dict[str, int]], medians: dict[Any, float]) -> Row:
    def total(name: str) -> int:
        return sum(c.get(name, 0) for c in counts)

    return {
        "type": "total" if kind == TEAM else kind,
        "opened": total("opened"),
        "resolved": total("resolved"),
        "breaches": total("breaches"),
        "median_resolution_min": _minutes(medians.get(kind)),
    }


async def care(db: AsyncSession, start: datetime, end: datetime, tz: ZoneInfo) -> list[Row]:
    """Per staff: care contacts logged in the period vs orders due in it and still waiting.

    `due_waiting`: open orders (not cancelled, care not closed) whose next care date falls in
    the period's local dates, by the group's sales (else the order's creator); `overdue`: the
    same with a date before the period.
    """
    first, last = _local_day(start, tz), _local_day(end - timedelta(microseconds=1), tz)
    done = await _rows(
        db,
        select(
            CareLog.staff_id,
            func.count().label("done"),
            func.count(func.distinct(CareLog.order_id)).label("orders_cared"),
        )
        .where(*_in(CareLog.at, start, end))
        .group_by(CareLog.staff_id),
    )
    carer = func.coalesce(Group.assigned_sales_id, Order.created_by)
    nxt = col(Order.next_care_date)
    due = await _rows(
        db,
        select(
            carer.label("staff_id"),
            _count_if(and_(nxt >= first, nxt <= last)).label("due_waiting"),
            _count_if(nxt < first).label("overdue"),
        )
        .select_from(Order)
        .join(Group, col(Group.group_id) == Order.group_id, isouter=True)
        .where(col(Order.care_closed).is_(False), col(Order.status) != "cancelled", nxt <= last)
        .group_by(carer),
    )
    return _merge_staff(
        await _staff_names(db), done, due, ("done", "orders_cared", "due_waiting", "overdue")
    )


def _merge_staff(names: dict[str, str], *parts: Any) -> list[Row]:
    *tables, columns = parts
    merged: dict[Any, Row] = {}
    for table in tables:
        for r in table:
            merged.setdefault(r["staff_id"], {}).update(r)
    rows = [
        {
            "staff_id": sid,
            "staff_name": names.get(sid or "", ""),
            **{c: r.get(c, 0) for c in columns},
        }
        for sid, r in merged.items()
    ]
    rows.sort(key=lambda r: (r["staff_name"] or "~", r["staff_id"] or ""))
    if rows:
        rows.append(
            {"staff_id": TEAM, "staff_name": "", **{c: sum(r[c] for r in rows) for c in columns}}
        )
    return rows


async def satisfaction(db: AsyncSession, start: datetime, end: datetime, tz: ZoneInfo) -> list[Row]:
    """Per staff and for the team: the satisfaction index 0-100 and what it is made of.

    Each answered rating counts (score-1)/4*100; each care feedback positive 100, neutral 50,
    negative or complaint 0 (no_answer is ignored); the index is the mean of all of them.
    """
    ratings = await _rows(
        db,
        select(
            col(Rating.staff_id).label("staff_id"),
            func.count().label("ratings"),
            func.sum((col(Rating.score) - 1) * 25).label("rating_points"),
            func.sum(Rating.score).label("score_sum"),
        )
        .where(*_in(Rating.answered_at, start, end), col(Rating.score).is_not(None))
        .group_by(Rating.staff_id),
    )
    points = case(*((col(CareLog.feedback) == k, v) for k, v in FEEDBACK_POINTS.items()))
    feedback = await _rows(
        db,
        select(
            CareLog.staff_id,
            func.count().label("feedbacks"),
            func.sum(points).label("feedback_points"),
            _count_if(col(CareLog.feedback) == "positive").label("positive"),
            _count_if(col(CareLog.feedback).in_(("negative", "complaint"))).label("negative"),
        )
        .where(*_in(CareLog.at, start, end), col(CareLog.feedback).in_(tuple(FEEDBACK_POINTS)))
        .group_by(CareLog.staff_id),
    )
    sums = (
        "ratings",
        "rating_points",
        "score_sum",
        "feedbacks",
        "feedback_points",
        "positive",
        "negative",
    )
    return [
        _satisfaction_row(r) for r in _merge_staff(await _staff_names(db), ratings, feedback, sums)
    ]


def _satisfaction_row(r: Row) -> Row:
    answers = r["ratings"] + r["feedbacks"]
    index = (r["rating_points"] + r["feedback_points"]) / answers if answers else None
    return {
        "staff_id": r["staff_id"],
        "staff_name": r["staff_name"],
        "index": None if index is None else round(index, 1),
        "ratings": r["ratings"],
        "avg_rating": round(r["score_sum"] / r["ratings"], 2) if r["ratings"] else None,
        "feedbacks": r["feedbacks"],
        "positive": r["positive"],
        "negative": r["negative"],
    }


# --- seed 002 statistics ----------------------------------------------------------------------


def _sold(start: datetime, end: datetime) -> list[ColumnElement[bool]]:
    return [*_in(Order.purchased_at, start, end), col(Order.status) != "cancelled"]


def _pairs_query(start: datetime, end: datetime) -> Any:
    # group on the ids alone, then look the names up: far cheaper than grouping on text
    sold = (
        select(
            col(Order.customer_id).label("customer_id"),
            col(OrderItem.product_id).label("product_id"),
            func.count(func.distinct(Order.id)).label("orders"),
            func.sum(OrderItem.quantity).label("quantity"),
            func.sum(OrderItem.amount).label("amount"),
            func.max(Order.purchased_at).label("last_purchase"),
        )
        .join(OrderItem, col(OrderItem.order_id) == Order.id)
        .where(*_sold(start, end), col(Order.customer_id).is_not(None))
        .group_by(col(Order.customer_id), col(OrderItem.product_id))
        .subquery()
    )
    return (
        select(
            sold.c.customer_id,
            col(Customer.name).label("customer_name"),
            Customer.phone,
            Customer.region,
            col(Product.code).label("product_code"),
            col(Product.name).label("product_name"),
            Product.product_group,
            sold.c.orders,
            sold.c.quantity,
            sold.c.amount,
            sold.c.last_purchase,
        )
        .join(Customer, col(Customer.id) == sold.c.customer_id)
        .join(Product, col(Product.id) == sold.c.product_id)
    )


async def products_by_customer(
    db: AsyncSession, start: datetime, end: datetime, tz: ZoneInfo
) -> list[Row]:
    """Each customer's products bought in the period (what to offer whom)."""
    query = _pairs_query(start, end).order_by(Customer.name, Customer.id, Product.code)
    return [_dated(r, tz) for r in await _rows(db, query)]


async def customers_by_product(
    db: AsyncSession, start: datetime, end: datetime, tz: ZoneInfo
) -> list[Row]:
    """Each product's customers in the period, with their phone and region (whom to tell)."""
    query = _pairs_query(start, end).order_by(Product.code, Customer.name, Customer.id)
    return [_dated(r, tz) for r in await _rows(db, query)]


def _dated(r: Row, tz: ZoneInfo) -> Row:
    last = r["last_purchase"]
    r["last_purchase"] = last.astimezone(tz).date() if last else None
    return r


async def customers_by_last_purchase(
    db: AsyncSession, start: datetime, end: datetime, tz: ZoneInfo
) -> list[Row]:
    """Customers (created before the end) by days from their last purchase to the period's end."""
    last = (
        select(Order.customer_id, func.max(Order.purchased_at).label("last"))
        .where(col(Order.purchased_at) < end, Order.status != "cancelled")
        .group_by(Order.customer_id)
        .subquery()
    )
    buckets = [(last.c.last >= end - timedelta(days=d), label) for d, label in LAST_PURCHASE]
    bucket = case((last.c.last.is_(None), "never"), *buckets, else_=">180")
    query = (
        select(bucket.label("bucket"), func.count().label("customers"))
        .select_from(Customer)
        .join(last, last.c.customer_id == Customer.id, isouter=True)
        .where(col(Customer.created_at) < end)
        .group_by(bucket)
    )
    found = {r["bucket"]: r["customers"] for r in await _rows(db, query)}
    labels = [label for _, label in LAST_PURCHASE] + [">180", "never"]
    return _shares([{"bucket": b, "customers": found.get(b, 0)} for b in labels])


def _shares(rows: list[Row]) -> list[Row]:
    total = sum(r["customers"] for r in rows)
    return [{**r, "percent": _pct(r["customers"], total)} for r in rows]


def _age_band(end: datetime, tz: ZoneInfo) -> Any:
    today = _local_day(end - timedelta(microseconds=1), tz)  # ages on the period's last day
    born = col(Customer.birthday)

    def years_ago(n: int) -> date:
        try:
            return today.replace(year=today.year - n)
        except ValueError:  # 29 Feb
            return today.replace(year=today.year - n, day=28)

    # younger than n years <=> born after the day n years ago
    bands = [(born > years_ago(n), label) for n, label in AGE_BANDS]
    return case((born.is_(None), None), *bands, else_="55+")


DIMENSIONS: dict[str, Callable[[datetime, ZoneInfo], Any]] = {
    "birthday_month": lambda end, tz: extract("month", col(Customer.birthday)),
    "gender": lambda end, tz: col(Customer.gender),
    "age_band": _age_band,
    "channel": lambda end, tz: col(Customer.channel),
    "customer_group": lambda end, tz: col(Customer.customer_group),
    "region": lambda end, tz: col(Customer.region),
    "contact_channel": lambda end, tz: col(Customer.contact_channel),
}


async def customers_by(db: AsyncSession, dimension: str, end: datetime, tz: ZoneInfo) -> list[Row]:
    """Customers created before `end`, counted by one of DIMENSIONS (empty value: 'unknown')."""
    value = DIMENSIONS[dimension](end, tz)
    query = (
        select(value.label("value"), func.count().label("customers"))
        .where(col(Customer.created_at) < end)
        .group_by(value)
    )
    rows = [
        {dimension: _value(r["value"]), "customers": r["customers"]} for r in await _rows(db, query)
    ]
    rows.sort(key=lambda r: _order(dimension, r[dimension]))
    return _shares(rows)


def _value(value: Any) -> Any:
    if value in (None, ""):
        return "unknown"
    return int(value) if not isinstance(value, str) else value  # PostgreSQL's EXTRACT: numeric


def _order(dimension: str, value: Any) -> tuple[int, Any]:
    if value == "unknown":
        return (2, "")
    if dimension == "age_band":
        return (0, [label for _, label in AGE_BANDS].index(value) if value != "55+" else 99)
    return (1, value) if isinstance(value, str) else (0, value)


def _by(dimension: str) -> ReportFn:
    async def run(db: AsyncSession, start: datetime, end: datetime, tz: ZoneInfo) -> list[Row]:
        return await customers_by(db, dimension, end, tz)

    run.__doc__ = f"Customers by {dimension}."
    return run


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
    **{f"customers_by_{d}": Report(_by(d), (d, "customers", "percent")) for d in DIMENSIONS},
}


def _register_times() -> None:
    """times.py uses this module's helpers, so it is imported once they exist."""
    from bot.features.reports import times

    REPORTS["response_times"] = Report(
        times.response_times,
        ("by", "key", "name", "answered", "p50_response_min", "p90_response_min")
        + ("p50_response_wall_min", "p90_response_wall_min", "withdrawn", "withdrawn_breaches"),
    )
    REPORTS["approvals"] = Report(
        times.approvals,
        ("accountant_id", "accountant_name", "decided", "approved", "rejected")
        + ("p50_wait_wall_min", "p90_wait_wall_min", "late"),
    )


_register_times()


# --- the digest -------------------------------------------------------------------------------

PERIODS = ("day", "week", "month")
DIGEST_PARTS = ("sla", "payments", "incidents", "care", "satisfaction")


def period_bounds(kind: str, now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The local calendar day, ISO week (Mon-Sun) or month holding `now`, as UTC bounds."""
    today = _local_day(now, tz)
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
        *_in(SlaCorrection.at, start, end)
    )
    counts = dict((await db.exec(corrected.group_by(col(SlaCorrection.needs_reply)))).all())
    times = await REPORTS["response_times"].run(db, start, end, tz)
    return {
        # the team's median and P90, working and wall-clock, and the withdrawn clocks
        "times": next((r for r in times if r["by"] == TEAM), None),
        "period": kind,
        # the heads' /khongcan and /cantraloi: how often the bot misread a message
        "corrections": {"not_needed": counts.get(False, 0), "missed": counts.get(True, 0)},
        "first": _local_day(start, tz),
        "last": _local_day(end, tz) - timedelta(days=1),
        **{name: rows[:-1] for name, rows in parts.items()},
        "totals": {name: rows[-1] if rows else None for name, rows in parts.items()},
    }
