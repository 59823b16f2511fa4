"""Care due today on the overview: bot/features/care/policy.py's rule, read a page at a time.

Due means what the morning reminder means (bot/features/care/policy.py): open orders, care not
ended, next care date today or earlier. A sales sees the orders of their groups plus those
they care for under CARE_MODE (a customer or product group assigned to them, or their turn in
the open rotation); warehouse and shipping the orders of their groups; the others every order. The
carers of the listed orders come from care.choose_carers, as in the reminder.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, false, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.text import fold
from bot.features.care import policy as care
from bot.web.core import Viewer
from bot.web.queries import Listing, listing, visible_group_ids
from storage.models import CareAssignment, Customer, Group, Order, OrderItem, Product


@dataclass(frozen=True)
class CareRow:
    order: Order
    group_name: str | None
    customer: str | None
    carers: tuple[str, ...]
    care_count: int
    care_min: int | None
    care_max: int | None


async def care_due(db: AsyncSession, viewer: Viewer, today: date, mode: str) -> Listing:
    """Orders due for care on `today` that the viewer sees, the oldest date first."""
    query: Any = (
        select(
            Order,
            func.coalesce(Group.name, Customer.name, Order.group_id).label("group_name"),
            col(Customer.name).label("customer"),
        )
        .join(Group, col(Group.group_id) == Order.group_id, isouter=True)
        .join(Customer, col(Customer.id) == Order.customer_id, isouter=True)
        .where(
            col(Order.care_closed).is_(False),
            Order.status != "cancelled",
            col(Order.next_care_date).is_not(None),
            col(Order.next_care_date) <= today,
        )
        .order_by(col(Order.next_care_date), col(Order.id))
    )
    scope = await _scope(db, viewer, mode)
    found = await listing(db, query if scope is None else query.where(scope))
    return Listing(await _rows(db, found.rows, mode), found.total)


async def _scope(db: AsyncSession, viewer: Viewer, mode: str) -> ColumnElement[bool] | None:
    groups = visible_group_ids(viewer)
    if groups is None:
        return None
    mine: list[ColumnElement[bool]] = [col(Order.group_id).in_(groups)]
    if viewer.role == "sales":
        mine += await _cared_by(db, viewer.user_id, mode)
    return or_(*mine)


async def _cared_by(db: AsyncSession, staff_id: str, mode: str) -> list[ColumnElement[bool]]:
    """Conditions for the orders `staff_id` cares for beyond their own groups."""
    if mode == "open":
        rotation = await care.sales_rotation(db)
        if staff_id not in rotation:
            return []
        return [col(Order.id) % len(rotation) == rotation.index(staff_id)]
    query = select(CareAssignment).where(CareAssignment.staff_id == staff_id)
    assigned = list((await db.exec(query)).all())
    if mode == "by_customer":
        ids = [a.customer_id for a in assigned if a.customer_id]
        return [col(Order.customer_id).in_(ids)] if ids else []
    wanted = {fold(a.product_group) for a in assigned if a.product_group}
    if not wanted:
        return []
    products = (await db.exec(select(Product.id, Product.product_group))).all()
    ids = [pid for pid, group in products if pid is not None and group and fold(group) in wanted]
    items = select(OrderItem.order_id).where(col(OrderItem.product_id).in_(ids))
    return [col(Order.id).in_(items)] if ids else [false()]


async def _rows(db: AsyncSession, rows: list[Any], mode: str) -> list[CareRow]:
    orders = [order for order, _, _ in rows]
    ids = [o.id for o in orders if o.id is not None]
    products = await _products(db, ids)
    counts = await care.care_counts(db, ids)
    assignments, sales = await care.active_assignments(db), await care.sales_rotation(db)
    group_sales = await _group_sales(db, orders)
    out = []
    for order, group_name, customer in rows:
        items = products.get(order.id, [])
        carers = care.choose_carers(
            mode,
            ref_id=order.id,
            customer_id=order.customer_id,
            product_groups=sorted({p.product_group for p in items if p.product_group}),
            group_sales=group_sales.get(order.group_id or "")
            or group_sales.get(f"customer:{order.customer_id}"),
            assignments=assignments,
            sales=sales,
        )
        low, high = care.care_limits(items)
        count = counts.get(order.id, 0)
        out.append(CareRow(order, group_name, customer, tuple(carers), count, low, high))
    return out


async def _products(db: AsyncSession, order_ids: list[int]) -> dict[int, list[Product]]:
    query = (
        select(OrderItem.order_id, Product)
        .join(Product, col(Product.id) == OrderItem.product_id)
        .where(col(OrderItem.order_id).in_(order_ids))
    )
    found: dict[int, list[Product]] = defaultdict(list)
    for order_id, product in (await db.exec(query)).all():
        found[order_id].append(product)
    return found


async def _group_sales(db: AsyncSession, orders: list[Order]) -> dict[str, str]:
    """Assigned sales by group id, and by 'customer:<id>' (their first group with a sales)."""
    group_ids = {o.group_id for o in orders if o.group_id}
    customer_ids = {o.customer_id for o in orders if o.customer_id}
    query = (
        select(Group.group_id, Group.customer_id, Group.assigned_sales_id)
        .where(
            col(Group.assigned_sales_id).is_not(None),
            or_(col(Group.group_id).in_(group_ids), col(Group.customer_id).in_(customer_ids)),
        )
        .order_by(col(Group.created_at))
    )
    found: dict[str, str] = {}
    for group_id, customer_id, sales in (await db.exec(query)).all():
        if sales is None:
            continue
        if group_id in group_ids:
            found[group_id] = sales
        if customer_id:
            found.setdefault(f"customer:{customer_id}", sales)
    return found
