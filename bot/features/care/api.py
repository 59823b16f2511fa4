"""POST /api/products, POST /api/orders, GET /api/orders/{order_id}: the catalog and orders
synced in by a shop or an ERP. Bearer ADMIN_TOKEN (bot.app.api.require_admin_token).

An order's customer: `customer_id`, else the customer bound to `group_id`, else the customer
with the same phone (digits compared, +84 = 0), else a new customer from `customer.name`.
A group without a customer gets the order's customer bound to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from typing import Any

from aiohttp import web
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.app.keys import RUNTIME
from bot.core.jsonbody import BadJSON, read_json
from bot.core.text import fits
from bot.features.care import orders
from storage import repo
from storage.models import Customer, Order

MAX_ITEMS = 200
MAX_ROW_ID = 2**31 - 1  # an integer primary key (PostgreSQL `integer`)
MAX_QUANTITY = 1_000_000
MAX_AMOUNT = 10**15  # VND: far above any real order, far below `bigint`
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)  # purchase dates the API takes
CUSTOMER_TEXT = {"name": 200, "phone": 40, "region": 100, "customer_group": 50, "channel": 50}


class BadRequest(ValueError):
    """The body cannot be used; the message says why."""


def _bad(message: str, error: str = "bad_request", **extra: Any) -> web.Response:
    return web.json_response({"error": error, "message": message, **extra}, status=400)


async def _json(request: web.Request) -> Any:
    try:
        return await read_json(request)
    except BadJSON as exc:
        raise BadRequest(str(exc)) from None


# ---------------------------------------------------------------- products


async def post_products(request: web.Request) -> web.Response:
    """Upsert one product object or a list of them; answers the counts."""
    try:
        body = await _json(request)
        raws = body if isinstance(body, list) else [body]
        if not raws or not all(isinstance(r, dict) for r in raws):
            raise BadRequest("send a product object or a non-empty list of product objects")
        rows = orders.product_rows(raws)
    except (BadRequest, orders.ProductDataError) as exc:
        return _bad(str(exc))
    runtime = request.app[RUNTIME]
    async with runtime.sessions() as db:
        counts = await orders.import_products_rows(db, rows)
        await db.commit()
    return web.json_response(counts)


# ---------------------------------------------------------------- orders


@dataclass(frozen=True)
class OrderPayload:
    order_code: str
    purchased_at: datetime
    items: list[tuple[str, int, int | None]]
    amount: int | None = None
    group_id: str | None = None
    customer_id: int | None = None
    customer: dict[str, Any] | None = None


def _whole(value: Any, name: str, *, minimum: int, maximum: int = MAX_ROW_ID) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise BadRequest(f"{name} must be a whole number from {minimum} to {maximum}")
    return value


def _text(value: Any, name: str, max_chars: int) -> str | None:
    """None, or text that fits its column; BadRequest otherwise."""
    if value is not None and not (isinstance(value, str) and fits(value, max_chars)):
        raise BadRequest(f"{name} must be text of at most {max_chars} characters")
    return value


def parse_purchased_at(value: Any, tz: tzinfo) -> datetime:
    """An ISO date (midnight, company time) or datetime (company time when it has no zone)."""
    if not isinstance(value, str):
        raise BadRequest("purchased_at must be an ISO date or datetime")
    try:
        if len(value) == 10:
            moment = datetime.combine(date.fromisoformat(value), time(0), tzinfo=tz)
        else:
            moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"purchased_at {value!r} is not an ISO date or datetime") from None
    if not FIRST_DAY <= moment.date() <= LAST_DAY:
        raise BadRequest(f"purchased_at must be from {FIRST_DAY} to {LAST_DAY}")
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def _item(raw: Any, number: int) -> tuple[str, int, int | None]:
    if not isinstance(raw, dict):
        raise BadRequest(f"items[{number}] must be an object")
    code = raw.get("product_code")
    if not isinstance(code, str) or not code.strip() or not fits(code, 60):
        raise BadRequest(f"items[{number}].product_code is required (up to 60 characters)")
    where = f"items[{number}]"
    quantity = _whole(raw.get("quantity", 1), f"{where}.quantity", minimum=1, maximum=MAX_QUANTITY)
    amount = raw.get("amount")
    if amount is not None:
        amount = _whole(amount, f"{where}.amount", minimum=0, maximum=MAX_AMOUNT)
    return code.strip(), quantity, amount


def parse_order_payload(body: Any, tz: tzinfo) -> OrderPayload:
    """Validate POST /api/orders' body; BadRequest names the field."""
    if not isinstance(body, dict):
        raise BadRequest("send an order object")
    code = body.get("order_id")
    if isinstance(code, int) and not isinstance(code, bool):
        code = str(code)
    if not isinstance(code, str) or not code.strip() or not fits(code, 100):
        raise BadRequest("order_id is required (text, up to 100 characters)")
    items = body.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS:
        raise BadRequest(f"items must be a list of 1 to {MAX_ITEMS} objects")
    customer, customer_id, group_id = (
        body.get("customer"),
        body.get("customer_id"),
        body.get("group_id"),
    )
    if customer is not None and not isinstance(customer, dict):
        raise BadRequest("customer must be an object")
    given = customer or {}
    for key, limit in CUSTOMER_TEXT.items():
        if isinstance(given.get(key), str):  # other types are ignored, as before
            _text(given[key], f"customer.{key}", limit)
    group_id = _text(group_id, "group_id", 64)
    amount = body.get("amount")
    return OrderPayload(
        order_code=code.strip(),
        purchased_at=parse_purchased_at(body.get("purchased_at"), tz),
        items=[_item(raw, i) for i, raw in enumerate(items)],
        amount=None if amount is None else _whole(amount, "amount", minimum=0, maximum=MAX_AMOUNT),
        group_id=group_id or None,
        customer_id=None if customer_id is None else _whole(customer_id, "customer_id", minimum=1),
        customer=customer,
    )


def phone_key(phone: str | None) -> str:
    """Digits only, +84/84 as 0: '+84 912 345 678' and '0912.345.678' match."""
    digits = re.sub(r"\D", "", phone or "")
    return "0" + digits[2:] if digits.startswith("84") and len(digits) >= 11 else digits


async def _by_phone(db: AsyncSession, phone: str) -> Customer | None:
    wanted = phone_key(phone)
    if not wanted:
        return None
    found = await db.exec(select(Customer).where(col(Customer.phone).is_not(None)))
    matches = sorted(
        (c for c in found.all() if phone_key(c.phone) == wanted), key=lambda c: c.id or 0
    )
    return matches[0] if matches else None


async def resolve_customer(db: AsyncSession, payload: OrderPayload, now: datetime) -> Customer:
    """The order's customer: by id, the group's, by phone, or a new one from its name."""
    if payload.customer_id is not None:
        found = await repo.get_customer(db, customer_id=payload.customer_id)
        if found is None:
            raise BadRequest(f"no customer {payload.customer_id}")
        return found
    group = await repo.get_group(db, group_id=payload.group_id) if payload.group_id else None
    if group and (bound := await repo.get_customer(db, customer_id=group.customer_id)):
        return bound
    given = payload.customer or {}
    phone = given.get("phone") if isinstance(given.get("phone"), str) else None
    if phone and (same := await _by_phone(db, phone)):
        return same
    name = given.get("name")
    if not isinstance(name, str) or not name.strip():
        raise BadRequest("give customer_id, a group_id with a customer, or customer.name")
    customer = Customer(name=name.strip(), phone=phone, created_at=now, updated_at=now)
    for key in ("region", "customer_group", "channel"):
        if isinstance(given.get(key), str):
            setattr(customer, key, given[key])
    return await repo.save_customer(db, customer=customer)


async def order_body(db: AsyncSession, order: Order) -> dict[str, Any]:
    """An order as the API shows it."""
    pairs = (await orders.order_items(db, [order.id or 0])).get(order.id or 0, [])
    return {
        "order_id": order.order_code,
        "id": order.id,
        "group_id": order.group_id,
        "customer_id": order.customer_id,
        "purchased_at": order.purchased_at.isoformat(),
        "amount": order.amount,
        "source": order.source,
        "status": order.status,
        "next_care_date": order.next_care_date.isoformat() if order.next_care_date else None,
        "care_closed": order.care_closed,
        "items": [
            {
                "product_code": product.code,
                "name": product.name,
                "quantity": item.quantity,
                "amount": item.amount,
            }
            for item, product in pairs
        ],
    }


def _duplicate(code: str) -> web.Response:
    return web.json_response({"error": "duplicate_order", "order_id": code}, status=409)


async def post_order(request: web.Request) -> web.Response:
    """Create an order from a shop or an ERP: 201, 409 for a known order_id, 400 otherwise."""
    runtime = request.app[RUNTIME]
    now = runtime.clock.now()
    try:
        payload = parse_order_payload(await _json(request), runtime.settings.tz)
    except BadRequest as exc:
        return _bad(str(exc))
    async with runtime.sessions() as db:
        try:
            body = await _create(db, payload, now, runtime.settings.tz)
            await db.commit()
        except orders.DuplicateOrder:
            return _duplicate(payload.order_code)
        except IntegrityError:  # a concurrent request stored the same order_id first
            return _duplicate(payload.order_code)
        except orders.UnknownProduct as exc:
            return _bad(str(exc), "unknown_product", product_code=exc.code)
        except BadRequest as exc:
            return _bad(str(exc))
    return web.json_response(body, status=201)


async def _create(
    db: AsyncSession, payload: OrderPayload, now: datetime, tz: tzinfo
) -> dict[str, Any]:
    taken = await db.exec(select(Order.id).where(Order.order_code == payload.order_code))
    if taken.first() is not None:  # before touching customers: a retry must change nothing
        raise orders.DuplicateOrder(payload.order_code)
    customer = await resolve_customer(db, payload, now)
    order = await orders.create_order(
        db,
        order_code=payload.order_code,
        group_id=payload.group_id,
        customer_id=customer.id,
        purchased_at=payload.purchased_at,
        items=payload.items,
        amount=payload.amount,
        source="api",
        created_by=None,
        tz=tz,
        now=now,
    )
    group = await repo.get_group(db, group_id=payload.group_id) if payload.group_id else None
    if group is not None and group.customer_id is None:
        group.customer_id, group.updated_at = customer.id, now
        db.add(group)
    await repo.audit(
        db, at=now, actor_id="api", action="order.synced", group_id=payload.group_id,
        order_id=order.id, order_code=order.order_code, customer_id=customer.id,
    )  # fmt: skip
    body = await order_body(db, order)
    body["customer"] = {"id": customer.id, "name": customer.name, "phone": customer.phone}
    return body


async def get_order(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    code = request.match_info["order_id"]
    async with runtime.sessions() as db:
        query = select(Order).where(Order.order_code == code)
        order = (await db.exec(query)).first() if fits(code, 100) else None
        if order is None:
            return web.json_response({"error": "not_found", "order_id": code}, status=404)
        return web.json_response(await order_body(db, order))


def setup(app: web.Application) -> None:
    """Add the catalog and order routes."""
    app.router.add_post("/api/products", post_products)
    app.router.add_post("/api/orders", post_order)
    app.router.add_get("/api/orders/{order_id}", get_order)
