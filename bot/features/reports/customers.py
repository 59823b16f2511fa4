"""The customer and product reports: who bought what, when they last bought, and the customers
by region, group, age band and other dimensions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, extract, func
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.features.reports.base import (
    ReportFn,
    Row,
    between,
    fetch_rows,
    local_day,
    percent,
    select,
)
from storage.models import (
    Customer,
    Order,
    OrderItem,
    Product,
)

AGE_BANDS = ((25, "<25"), (35, "25-34"), (45, "35-44"), (55, "45-54"))  # upper bound, label


LAST_PURCHASE = ((30, "<30"), (90, "30-90"), (180, "90-180"))  # days before the period's end


def _sold(start: datetime, end: datetime) -> list[ColumnElement[bool]]:
    return [*between(Order.purchased_at, start, end), col(Order.status) != "cancelled"]


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
    return [_dated(r, tz) for r in await fetch_rows(db, query)]


async def customers_by_product(
    db: AsyncSession, start: datetime, end: datetime, tz: ZoneInfo
) -> list[Row]:
    """Each product's customers in the period, with their phone and region (whom to tell)."""
    query = _pairs_query(start, end).order_by(Product.code, Customer.name, Customer.id)
    return [_dated(r, tz) for r in await fetch_rows(db, query)]


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
    found = {r["bucket"]: r["customers"] for r in await fetch_rows(db, query)}
    labels = [label for _, label in LAST_PURCHASE] + [">180", "never"]
    return _shares([{"bucket": b, "customers": found.get(b, 0)} for b in labels])


def _shares(rows: list[Row]) -> list[Row]:
    total = sum(r["customers"] for r in rows)
    return [{**r, "percent": percent(r["customers"], total)} for r in rows]


def _age_band(end: datetime, tz: ZoneInfo) -> Any:
    today = local_day(end - timedelta(microseconds=1), tz)  # ages on the period's last day
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
        {dimension: _value(r["value"]), "customers": r["customers"]}
        for r in await fetch_rows(db, query)
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


def by_dimension(dimension: str) -> ReportFn:
    async def run(db: AsyncSession, start: datetime, end: datetime, tz: ZoneInfo) -> list[Row]:
        return await customers_by(db, dimension, end, tz)

    run.__doc__ = f"Customers by {dimension}."
    return run
