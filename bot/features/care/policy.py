"""Customer care (seed 002): who cares for what, which orders are due, which gifts to plan.

Who cares (CARE_MODE):
* by_customer — the staff with a CareAssignment for the order's customer; without one, the
  sales assigned to the customer's group.
* by_product — the staff with a CareAssignment for the product group of any item of the order
  (product groups compare without case or diacritics); without one, the group's sales, so no
  order is left without a carer.
* open — the whole sales team in rotation: active `sales` staff sorted by id, the order's id
  (a customer's id for gifts) modulo their number.

Due list: orders not care_closed, not cancelled, with next_care_date <= today, split into
never cared (no CareLog yet) and cared before, grouped by product group and customer region.
An order's care count is its CareLogs with content; its suggested min/max are the largest
care_min/care_max among its products (the most demanding product governs).

Gifts (seeds 001/003): a customer's birthday or founding anniversary, and the first day of a
public-holiday run (Tết is one run of several days), falling in the target window that starts
`days_ahead` days from today.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.text import fold
from storage.models import (
    CareAssignment,
    CareLog,
    Customer,
    Group,
    Order,
    OrderItem,
    Product,
    Staff,
)

MODES = ("by_product", "by_customer", "open")
ONE_DAY = timedelta(days=1)


# ---------------------------------------------------------------- pure core


def choose_carers(
    mode: str,
    *,
    ref_id: int,
    customer_id: int | None,
    product_groups: Iterable[str],
    group_sales: str | None,
    assignments: Iterable[CareAssignment],
    sales: list[str],
) -> list[str]:
    """The staff ids who care for one order (or customer) under `mode`."""
    if mode == "open":
        return [sales[ref_id % len(sales)]] if sales else []
    if mode == "by_product":
        wanted = {fold(g) for g in product_groups}
        chosen = [
            a.staff_id for a in assignments if a.product_group and fold(a.product_group) in wanted
        ]
    else:
        chosen = [a.staff_id for a in assignments if customer_id and a.customer_id == customer_id]
    return list(dict.fromkeys(chosen)) or ([group_sales] if group_sales else [])


def anniversary(day: date, year: int) -> date:
    """`day` in `year`; 29 Feb falls on 28 Feb in other years."""
    try:
        return day.replace(year=year)
    except ValueError:
        return day.replace(year=year, day=28)


def holiday_start(holidays: Mapping[date, str], day: date) -> tuple[str, date] | None:
    """(name, last day) when `day` is the first day of a run of public holidays."""
    if day not in holidays or (day - ONE_DAY) in holidays:
        return None
    names = [holidays[day]]
    end = day
    while end + ONE_DAY in holidays:
        end += ONE_DAY
        names.append(holidays[end])
    return run_name(names), end


def run_name(names: list[str]) -> str:
    """One name for a run of holidays: the one the others repeat ("Tết Nguyên Đán" in
    "Mùng hai Tết Nguyên Đán"), else every distinct name ("30/4" and "1/5" back to back)."""
    distinct = list(dict.fromkeys(names))
    score = {name: sum(name in other for other in names) for name in distinct}
    best = max(distinct, key=lambda name: score[name])
    return best if score[best] > 1 or len(distinct) == 1 else ", ".join(distinct)


@dataclass(frozen=True)
class GiftPlan:
    kind: str  # birthday|founding|holiday
    on: date
    name: str  # the customer's, or the holiday's
    customer_id: int | None = None
    years: int | None = None  # founding anniversary
    until: date | None = None  # the holiday run's last day


@dataclass(frozen=True)
class DueOrder:
    order_id: int
    order_code: str
    customer: str | None
    group_id: str | None
    product_group: str | None
    region: str | None
    next_care_date: date
    care_count: int
    care_min: int | None
    care_max: int | None
    carers: tuple[str, ...] = ()

    @property
    def cared(self) -> bool:
        return self.care_count > 0


@dataclass
class DueList:
    """One staff member's due orders on `today`."""

    today: date
    orders: list[DueOrder] = field(default_factory=list)

    def context(self) -> dict[str, Any]:
        """The care_due template's context."""
        return {
            "today": self.today,
            "today_count": sum(o.next_care_date == self.today for o in self.orders),
            "overdue_count": sum(o.next_care_date < self.today for o in self.orders),
            "sections": [
                {"status": status, "groups": self._groups(orders)}
                for status, orders in (
                    ("never", [o for o in self.orders if not o.cared]),
                    ("cared", [o for o in self.orders if o.cared]),
                )
                if orders
            ],
        }

    def _groups(self, orders: list[DueOrder]) -> list[dict[str, Any]]:
        grouped: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for o in sorted(orders, key=lambda o: (o.next_care_date, o.order_code)):
            grouped[(o.product_group or "", o.region or "")].append(self._row(o))
        return [
            {"product_group": group or None, "region": region or None, "orders": rows}
            for (group, region), rows in sorted(grouped.items())
        ]

    def _row(self, o: DueOrder) -> dict[str, Any]:
        return {
            "order_code": o.order_code,
            "customer": o.customer,
            "next_care_date": o.next_care_date,
            "overdue_days": (self.today - o.next_care_date).days,
            "care_count": o.care_count,
            "care_min": o.care_min,
            "care_max": o.care_max,
        }


# ---------------------------------------------------------------- queries


async def _all(db: AsyncSession, query: Any) -> list[Any]:
    return list((await db.exec(query)).all())


async def sales_rotation(db: AsyncSession) -> list[str]:
    """Active sales staff ids, sorted: the rotation of CARE_MODE=open."""
    query = select(Staff.zalo_user_id).where(Staff.role == "sales", col(Staff.active).is_(True))
    return sorted(await _all(db, query))


async def active_assignments(db: AsyncSession) -> list[CareAssignment]:
    """Care assignments of active staff, oldest first."""
    active = select(Staff.zalo_user_id).where(col(Staff.active).is_(True))
    query = select(CareAssignment).where(col(CareAssignment.staff_id).in_(active))
    return await _all(db, query.order_by(col(CareAssignment.id)))


async def _product_groups(db: AsyncSession, order_ids: list[int]) -> dict[int, list[Product]]:
    query = (
        select(OrderItem.order_id, Product)
        .join(Product, col(Product.id) == OrderItem.product_id)
        .where(col(OrderItem.order_id).in_(order_ids))
    )
    found: dict[int, list[Product]] = defaultdict(list)
    for order_id, product in await _all(db, query):
        found[order_id].append(product)
    return found


async def _group_sales(db: AsyncSession) -> tuple[dict[str, str], dict[int, str]]:
    """Assigned sales by group id, and by customer id (its first group with a sales)."""
    by_group: dict[str, str] = {}
    by_customer: dict[int, str] = {}
    for g in await _all(db, select(Group).order_by(col(Group.created_at))):
        if g.assigned_sales_id:
            by_group[g.group_id] = g.assigned_sales_id
            if g.customer_id:
                by_customer.setdefault(g.customer_id, g.assigned_sales_id)
    return by_group, by_customer


async def care_counts(db: AsyncSession, order_ids: list[int]) -> dict[int, int]:
    """Care contacts (CareLogs with content) per order."""
    query = select(CareLog.order_id).where(
        col(CareLog.order_id).in_(order_ids), col(CareLog.content) != ""
    )
    counts: dict[int, int] = defaultdict(int)
    for order_id in await _all(db, query):
        counts[order_id] += 1
    return counts


def care_limits(products: list[Product]) -> tuple[int | None, int | None]:
    """The suggested (min, max) care contacts of an order: the largest among its products."""
    mins = [p.care_min for p in products if p.care_min is not None]
    maxes = [p.care_max for p in products if p.care_max is not None]
    return (max(mins) if mins else None), (max(maxes) if maxes else None)


async def order_limits(db: AsyncSession, order_id: int) -> tuple[int, int | None, int | None]:
    """(care count, suggested min, suggested max) of one order."""
    products = (await _product_groups(db, [order_id])).get(order_id, [])
    count = (await care_counts(db, [order_id])).get(order_id, 0)
    return count, *care_limits(products)


async def due_orders(db: AsyncSession, today: date, mode: str) -> list[DueOrder]:
    """Every order due for care on `today`, with who cares for it."""
    query = select(Order, Customer).join(
        Customer, col(Customer.id) == Order.customer_id, isouter=True
    )
    query = query.where(
        col(Order.care_closed).is_(False),
        Order.status != "cancelled",
        col(Order.next_care_date).is_not(None),
        col(Order.next_care_date) <= today,
    )
    rows = await _all(db, query)
    ids = [o.id for o, _ in rows]
    products, counts = await _product_groups(db, ids), await care_counts(db, ids)
    assignments, sales = await active_assignments(db), await sales_rotation(db)
    by_group, by_customer = await _group_sales(db)
    due = []
    for order, customer in rows:
        items = products.get(order.id, [])
        groups = sorted({p.product_group for p in items if p.product_group})
        carers = choose_carers(
            mode,
            ref_id=order.id,
            customer_id=order.customer_id,
            product_groups=groups,
            group_sales=by_group.get(order.group_id or "")
            or by_customer.get(order.customer_id or 0),
            assignments=assignments,
            sales=sales,
        )
        due.append(
            DueOrder(
                order_id=order.id,
                order_code=order.order_code,
                customer=customer.name if customer else None,
                group_id=order.group_id,
                product_group=", ".join(groups) or None,
                region=customer.region if customer else None,
                next_care_date=order.next_care_date,
                care_count=counts.get(order.id, 0),
                care_min=care_limits(items)[0],
                care_max=care_limits(items)[1],
                carers=tuple(carers),
            )
        )
    return due


async def due_by_staff(db: AsyncSession, today: date, mode: str) -> dict[str, DueList]:
    """Each carer's due list on `today` (only staff with something due)."""
    lists: dict[str, DueList] = {}
    for order in await due_orders(db, today, mode):
        for staff_id in order.carers:
            lists.setdefault(staff_id, DueList(today)).orders.append(order)
    return lists


async def due_for(db: AsyncSession, staff_id: str, today: date, mode: str) -> DueList:
    """One staff member's due list on `today`."""
    return (await due_by_staff(db, today, mode)).get(staff_id, DueList(today))


@dataclass(frozen=True)
class CustomerCarers:
    customer_id: int
    name: str
    carers: tuple[str, ...]


async def carers_of_customers(db: AsyncSession, mode: str) -> list[CustomerCarers]:
    """Who cares for each customer that has a group (gift plans go to them)."""
    in_groups = select(Group.customer_id).where(col(Group.customer_id).is_not(None))
    customers = await _all(db, select(Customer).where(col(Customer.id).in_(in_groups)))
    ids = [c.id for c in customers]
    orders = await _all(db, select(Order).where(col(Order.customer_id).in_(ids)))
    products = await _product_groups(db, [o.id for o in orders])
    groups_of: dict[int, set[str]] = defaultdict(set)
    for o in orders:
        groups_of[o.customer_id] |= {p.product_group for p in products[o.id] if p.product_group}
    assignments, sales = await active_assignments(db), await sales_rotation(db)
    _, by_customer = await _group_sales(db)
    carers = [
        choose_carers(
            mode,
            ref_id=c.id,
            customer_id=c.id,
            product_groups=groups_of[c.id],
            group_sales=by_customer.get(c.id),
            assignments=assignments,
            sales=sales,
        )
        for c in customers
    ]
    return [
        CustomerCarers(c.id, c.name, tuple(staff))
        for c, staff in sorted(zip(customers, carers, strict=True), key=lambda p: p[0].id)
    ]


async def gifts_due(
    db: AsyncSession,
    today: date,
    days_ahead: int,
    holidays: Mapping[date, str],
    *,
    span: int = 1,
) -> list[GiftPlan]:
    """Gift plans for the `span` days starting `days_ahead` days from today."""
    targets = [today + timedelta(days=days_ahead + i) for i in range(span)]
    plans = []
    for customer in await _all(db, select(Customer).order_by(col(Customer.id))):
        for kind, origin in (("birthday", customer.birthday), ("founding", customer.founded_on)):
            for target in targets:
                if origin and origin < target and anniversary(origin, target.year) == target:
                    years = target.year - origin.year if kind == "founding" else None
                    plans.append(GiftPlan(kind, target, customer.name, customer.id, years))
    for target in targets:
        if found := holiday_start(holidays, target):
            plans.append(GiftPlan("holiday", target, found[0], until=found[1]))
    return plans
