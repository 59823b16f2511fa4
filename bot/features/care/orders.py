"""Products and orders (seed 002, 2.1.2): the care interval rule, the catalog import, new orders.

Care interval rule: each product has a care interval in days (0 = the product needs no care).
An order's first care date is, over its items with an interval, the purchase date (in the
company's time zone) + interval x quantity; the earliest of those. An order whose every item
has interval 0 gets no care date. Once cared for, the staff set the next date by hand (/care).

A customer's next care date is the earliest one among their orders still under care
(care_closed False, not cancelled).

Catalog: PRODUCTS_FILE is a CSV with the header
code,name,product_group,care_interval_days,care_min,care_max (more columns are allowed),
upserted by code at start and by POST /api/products.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.text import fits
from storage.db import SessionFactory
from storage.models import Order, OrderItem, Product

log = logging.getLogger(__name__)

PRODUCT_COLUMNS = ("code", "name", "product_group", "care_interval_days", "care_min", "care_max")
REQUIRED_COLUMNS = ("code", "name", "care_interval_days")
# What the columns hold: text lengths, PostgreSQL `integer`, and care intervals of a century.
PRODUCT_TEXT = {"code": 60, "name": 200, "product_group": 100}
MAX_COUNT = 2**31 - 1
MAX_CARE_DAYS = 36_500


class DuplicateOrder(ValueError):
    """An order with this order_code already exists."""

    def __init__(self, order_code: str) -> None:
        super().__init__(f"order {order_code} already exists")
        self.order_code = order_code


class UnknownProduct(ValueError):
    """No product has this code."""

    def __init__(self, code: str) -> None:
        super().__init__(f"unknown product code {code}")
        self.code = code


class ProductDataError(ValueError):
    """A product row cannot be used; the message names the line (or item) and the field."""


# ---------------------------------------------------------------- pure core


def first_care_date(purchased_on: date, items: Iterable[tuple[int, int]]) -> date | None:
    """The earliest purchase date + interval x quantity over items with an interval, or None."""
    room = (date.max - purchased_on).days  # a date past the calendar's end is its last day
    dates = [
        purchased_on + timedelta(days=min(interval * quantity, room))
        for interval, quantity in items
        if interval > 0
    ]
    return min(dates, default=None)


def next_care_date(orders: Iterable[Order]) -> date | None:
    """A customer's next care date: the earliest among their orders still under care."""
    dates = [
        o.next_care_date
        for o in orders
        if not o.care_closed and o.status != "cancelled" and o.next_care_date is not None
    ]
    return min(dates, default=None)


@dataclass(frozen=True)
class ProductRow:
    code: str
    name: str
    product_group: str | None = None
    care_interval_days: int = 0
    care_min: int | None = None
    care_max: int | None = None


def _count(
    raw: Mapping[str, Any], key: str, *, default: int | None, maximum: int = MAX_COUNT
) -> int | None:
    value = raw.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    if isinstance(value, bool) or not (
        isinstance(value, int) or (isinstance(value, str) and value.strip().isdecimal())
    ):
        raise ProductDataError(f"{key} must be a whole number >= 0, not {value!r}")
    if not 0 <= int(value) <= maximum:
        raise ProductDataError(f"{key} must be a whole number from 0 to {maximum}")
    return int(value)


def _text(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, str):
        raise ProductDataError(f"{key} must be text")
    value = (value or "").strip() or None
    if value is not None and not fits(value, PRODUCT_TEXT[key]):
        raise ProductDataError(f"{key} must be text of at most {PRODUCT_TEXT[key]} characters")
    return value


def product_row(raw: Mapping[str, Any]) -> ProductRow:
    """One product from a CSV row or a JSON object, validated; ProductDataError if unusable."""
    code, name = _text(raw, "code"), _text(raw, "name")
    if not code or not name:
        raise ProductDataError("code and name are required")
    care_min = _count(raw, "care_min", default=None)
    care_max = _count(raw, "care_max", default=None)
    if care_min is not None and care_max is not None and care_min > care_max:
        raise ProductDataError(f"care_min ({care_min}) is above care_max ({care_max})")
    return ProductRow(
        code=code,
        name=name,
        product_group=_text(raw, "product_group"),
        care_interval_days=_count(raw, "care_interval_days", default=0, maximum=MAX_CARE_DAYS) or 0,
        care_min=care_min,
        care_max=care_max,
    )


def _validated(numbered: Iterable[tuple[int, Mapping[str, Any]]], where: str) -> list[ProductRow]:
    rows: list[ProductRow] = []
    seen: dict[str, int] = {}
    for number, raw in numbered:
        try:
            row = product_row(raw)
        except ProductDataError as exc:
            raise ProductDataError(f"{where} {number}: {exc}") from None
        if row.code in seen:
            raise ProductDataError(
                f"{where} {number}: code {row.code} repeats {where} {seen[row.code]}"
            )
        seen[row.code] = number
        rows.append(row)
    return rows


def product_rows(raws: Sequence[Mapping[str, Any]]) -> list[ProductRow]:
    """Validate JSON objects; an error names the item (`item 2: …`), a repeated code fails."""
    return _validated(enumerate(raws, start=1), "item")


def read_products_csv(text: str) -> list[ProductRow]:
    """The products of a CSV text (header on line 1); an error names the line."""
    reader = csv.DictReader(io.StringIO(text))
    if any(c not in (reader.fieldnames or []) for c in REQUIRED_COLUMNS):
        raise ProductDataError(f"line 1: the header needs {','.join(PRODUCT_COLUMNS)}")
    numbered = [
        (reader.line_num, row)
        for row in reader
        if any((v or "").strip() for v in row.values() if isinstance(v, str))
    ]
    return _validated(numbered, "line")


# ---------------------------------------------------------------- storage


async def import_products_rows(db: AsyncSession, rows: Iterable[ProductRow]) -> dict[str, int]:
    """Upsert products by code; counts of added, updated and unchanged ones."""
    rows = list(rows)
    codes = [r.code for r in rows]
    found = await db.exec(select(Product).where(col(Product.code).in_(codes)))
    existing = {p.code: p for p in found.all()}
    counts = {"added": 0, "updated": 0, "unchanged": 0}
    for row in rows:
        product = existing.get(row.code)
        values = {k: getattr(row, k) for k in PRODUCT_COLUMNS}
        if product is None:
            db.add(Product(**values))
            counts["added"] += 1
        elif any(getattr(product, k) != v for k, v in values.items()):
            for key, value in values.items():
                setattr(product, key, value)
            db.add(product)
            counts["updated"] += 1
        else:
            counts["unchanged"] += 1
    await db.flush()
    return counts


async def import_products_file(sessions: SessionFactory, path: str | Path) -> dict[str, int]:
    """Upsert the products of PRODUCTS_FILE; a missing file changes nothing."""
    path = Path(path)
    if not path.exists():
        log.info("products file %s not found: catalog unchanged", path)
        return {"added": 0, "updated": 0, "unchanged": 0}
    try:
        rows = read_products_csv(path.read_text(encoding="utf-8-sig"))
    except ProductDataError as exc:
        raise ProductDataError(f"{path}: {exc}") from None
    async with sessions() as db:
        counts = await import_products_rows(db, rows)
        await db.commit()
    log.info("products file %s: %s", path, counts)
    return counts


async def products_by_code(db: AsyncSession, codes: Iterable[str]) -> dict[str, Product]:
    found = await db.exec(select(Product).where(col(Product.code).in_(list(codes))))
    return {p.code: p for p in found.all()}


# Long on purpose: an order and its items checked and written in one transaction.
async def create_order(
    db: AsyncSession,
    *,
    order_code: str,
    group_id: str | None,
    customer_id: int | None,
    purchased_at: datetime,
    items: Sequence[tuple[str, int, int | None]],
    amount: int | None,
    source: str,
    created_by: str | None,
    tz: tzinfo,
    now: datetime,
) -> Order:
    """Store an order and its items, with the first care date from the interval rule.

    `items` are (product code, quantity, amount or None); `amount` None means the sum of the
    item amounts when any is given. Raises DuplicateOrder and UnknownProduct.
    """
    taken = await db.exec(select(Order.id).where(Order.order_code == order_code))
    if taken.first() is not None:
        raise DuplicateOrder(order_code)
    products = await products_by_code(db, (code for code, _, _ in items))
    for code, _, _ in items:
        if code not in products:
            raise UnknownProduct(code)
    item_amounts = [a for _, _, a in items if a is not None]
    order = Order(
        order_code=order_code,
        group_id=group_id,
        customer_id=customer_id,
        purchased_at=purchased_at,
        amount=amount if amount is not None else (sum(item_amounts) if item_amounts else None),
        source=source,
        created_by=created_by,
        next_care_date=first_care_date(
            purchased_at.astimezone(tz).date(),
            [(products[code].care_interval_days, qty) for code, qty, _ in items],
        ),
        created_at=now,
    )
    db.add(order)
    await db.flush()
    assert order.id is not None
    for code, qty, item_amount in items:
        product_id = products[code].id
        assert product_id is not None
        db.add(
            OrderItem(order_id=order.id, product_id=product_id, quantity=qty, amount=item_amount)
        )
    await db.flush()
    return order


async def order_items(
    db: AsyncSession, order_ids: Iterable[int]
) -> dict[int, list[tuple[OrderItem, Product]]]:
    """Each order's (OrderItem, Product) pairs, in the order they were added."""
    query = (
        select(OrderItem, Product)
        .join(Product, col(Product.id) == OrderItem.product_id)
        .where(col(OrderItem.order_id).in_(list(order_ids)))
        .order_by(col(OrderItem.id))
    )
    pairs: dict[int, list[tuple[OrderItem, Product]]] = {}
    for item, product in (await db.exec(query)).all():
        pairs.setdefault(item.order_id, []).append((item, product))
    return pairs
