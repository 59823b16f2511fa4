"""What every report is made of: a row, a period's bounds on a column, counts, durations,
medians and P90s computed by the database, staff names."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, extract, func, literal, or_
from sqlalchemy import select as core_select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.fast.hot import dialect_of
from storage.models import (
    Staff,
)

Row = dict[str, Any]
# Reports are Core selects of labelled expressions and window functions: the typed overloads of
# select() and of SQLModel's exec() stop at plain columns, so here a select is untyped.
select: Callable[..., Any] = core_select


ReportFn = Callable[[AsyncSession, datetime, datetime, ZoneInfo], Awaitable[list[Row]]]


TEAM = "team"


FEEDBACK_POINTS = {"positive": 100, "neutral": 50, "negative": 0, "complaint": 0}


async def fetch_rows(db: AsyncSession, query: Any) -> list[Row]:
    result = await db.exec(query)
    keys = list(result.keys())
    return [dict(zip(keys, r, strict=True)) for r in result.all()]


def count_if(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def seconds_between(db: AsyncSession, since: Any, until: Any) -> Any:
    """until - since in seconds, in SQL (SQLite keeps datetimes as text)."""
    assert db.bind is not None
    if dialect_of(db) == "postgresql":
        return extract("epoch", until - since)
    return (func.julianday(until) - func.julianday(since)) * 86400.0


Percentiles = dict[Any, tuple[float | None, float | None]]


async def percentiles(
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


async def median_by(
    db: AsyncSession, key: Any, value: Any, *where: ColumnElement[bool]
) -> dict[Any, float]:
    """Per key, the median of value (None skipped)."""
    found = await percentiles(db, None, key, value, *where)
    return {k: p50 for k, (p50, _) in found.items() if p50 is not None}


def to_minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


async def names_of_staff(db: AsyncSession) -> dict[str, str]:
    rows = (await db.exec(select(Staff.zalo_user_id, Staff.name))).all()
    return {uid: name for uid, name in rows}


def local_day(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def between(column: Any, start: datetime, end: datetime) -> list[ColumnElement[bool]]:
    return [col(column) >= start, col(column) < end]


async def histogram_median(
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


def merge_staff(names: dict[str, str], *parts: Any) -> list[Row]:
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
