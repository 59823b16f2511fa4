"""The operational reports over a period: SLA per staff, payments, incidents, care, satisfaction."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.features.reports.base import (
    FEEDBACK_POINTS,
    TEAM,
    Row,
    between,
    count_if,
    fetch_rows,
    histogram_median,
    local_day,
    median_by,
    merge_staff,
    names_of_staff,
    percent,
    seconds_between,
    select,
    to_minutes,
)
from storage.models import (
    CareLog,
    Group,
    Incident,
    Order,
    Payment,
    Rating,
    SlaClock,
)


# Long on purpose: one query built in steps (window, histogram), read top to bottom.
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
        .where(*between(SlaClock.opened_at, start, end), col(SlaClock.withdrawn_at).is_(None))
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
    names = await names_of_staff(db)
    rows = sorted(await fetch_rows(db, query), key=lambda r: names.get(r["staff_id"] or "", "~"))
    if rows:
        team = {k: sum(r[k] for r in rows) for k in ("clocks", *flags)}
        median = await histogram_median(db, seconds, *between(SlaClock.opened_at, start, end))
        rows.append({"staff_id": TEAM, **team, "median": median})
    return [
        {
            "staff_id": r["staff_id"],
            "staff_name": names.get(r["staff_id"] or "", ""),
            "clocks": r["clocks"],
            "answered": r["answered"],
            "in_time": r["in_time"],
            "compliance_pct": percent(r["in_time"], r["decided"]),
            "median_response_min": to_minutes(r["median"]),
            "breaches": r["breaches"],
        }
        for r in rows
    ]


async def payments(db: AsyncSession, start: datetime, end: datetime, tz: ZoneInfo) -> list[Row]:
    """Per kind (payment, credit) and in total: requested, approved, rejected; median minutes."""
    requested = await fetch_rows(
        db,
        select(Payment.kind, func.count().label("n"), func.sum(Payment.amount).label("amount"))
        .where(*between(Payment.requested_at, start, end))
        .group_by(Payment.kind),
    )
    decided = await fetch_rows(
        db,
        select(
            Payment.kind,
            Payment.status,
            func.count().label("n"),
            func.sum(Payment.amount).label("amount"),
        )
        .where(
            *between(Payment.decided_at, start, end),
            col(Payment.status).in_(("approved", "rejected")),
        )
        .group_by(Payment.kind, Payment.status),
    )
    wait = seconds_between(db, Payment.requested_at, Payment.decided_at)
    approved_in = [*between(Payment.decided_at, start, end), col(Payment.status) == "approved"]
    medians = await median_by(db, Payment.kind, wait, *approved_in)
    medians |= await median_by(db, None, wait, *approved_in)
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
        "median_approval_min": to_minutes(medians.get(kind)),
    }


async def incidents(db: AsyncSession, start: datetime, end: datetime, tz: ZoneInfo) -> list[Row]:
    """Per incident type and in total: opened, resolved, breached; median resolution minutes."""
    opened = between(Incident.opened_at, start, end)
    resolved = between(Incident.resolved_at, start, end)
    flows = {
        "opened": opened,
        "resolved": resolved,
        "breaches": between(Incident.breached_at, start, end),
    }
    counts: dict[str, dict[str, int]] = {}
    for name, where in flows.items():
        query = select(Incident.type, func.count()).where(*where).group_by(Incident.type)
        for kind, n in (await db.exec(query)).all():
            counts.setdefault(kind, {})[name] = n
    took = seconds_between(db, Incident.opened_at, Incident.resolved_at)
    medians = await median_by(db, Incident.type, took, *resolved)
    medians |= await median_by(db, None, took, *resolved)
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
        "median_resolution_min": to_minutes(medians.get(kind)),
    }


async def care(db: AsyncSession, start: datetime, end: datetime, tz: ZoneInfo) -> list[Row]:
    """Per staff: care contacts logged in the period vs orders due in it and still waiting.

    `due_waiting`: open orders (not cancelled, care not closed) whose next care date falls in
    the period's local dates, by the group's sales (else the order's creator); `overdue`: the
    same with a date before the period.
    """
    first, last = local_day(start, tz), local_day(end - timedelta(microseconds=1), tz)
    done = await fetch_rows(
        db,
        select(
            CareLog.staff_id,
            func.count().label("done"),
            func.count(func.distinct(CareLog.order_id)).label("orders_cared"),
        )
        .where(*between(CareLog.at, start, end))
        .group_by(CareLog.staff_id),
    )
    carer = func.coalesce(Group.assigned_sales_id, Order.created_by)
    nxt = col(Order.next_care_date)
    due = await fetch_rows(
        db,
        select(
            carer.label("staff_id"),
            count_if(and_(nxt >= first, nxt <= last)).label("due_waiting"),
            count_if(nxt < first).label("overdue"),
        )
        .select_from(Order)
        .join(Group, col(Group.group_id) == Order.group_id, isouter=True)
        .where(col(Order.care_closed).is_(False), col(Order.status) != "cancelled", nxt <= last)
        .group_by(carer),
    )
    return merge_staff(
        await names_of_staff(db), done, due, ("done", "orders_cared", "due_waiting", "overdue")
    )


async def satisfaction(db: AsyncSession, start: datetime, end: datetime, tz: ZoneInfo) -> list[Row]:
    """Per staff and for the team: the satisfaction index 0-100 and what it is made of.

    Each answered rating counts (score-1)/4*100; each care feedback positive 100, neutral 50,
    negative or complaint 0 (no_answer is ignored); the index is the mean of all of them.
    """
    ratings = await fetch_rows(
        db,
        select(
            col(Rating.staff_id).label("staff_id"),
            func.count().label("ratings"),
            func.sum((col(Rating.score) - 1) * 25).label("rating_points"),
            func.sum(Rating.score).label("score_sum"),
        )
        .where(*between(Rating.answered_at, start, end), col(Rating.score).is_not(None))
        .group_by(Rating.staff_id),
    )
    points = case(*((col(CareLog.feedback) == k, v) for k, v in FEEDBACK_POINTS.items()))
    feedback = await fetch_rows(
        db,
        select(
            CareLog.staff_id,
            func.count().label("feedbacks"),
            func.sum(points).label("feedback_points"),
            count_if(col(CareLog.feedback) == "positive").label("positive"),
            count_if(col(CareLog.feedback).in_(("negative", "complaint"))).label("negative"),
        )
        .where(*between(CareLog.at, start, end), col(CareLog.feedback).in_(tuple(FEEDBACK_POINTS)))
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
        _satisfaction_row(r) for r in merge_staff(await names_of_staff(db), ratings, feedback, sums)
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
