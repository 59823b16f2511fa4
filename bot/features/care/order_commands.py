"""/order (donhang): record the group customer's purchase; /orders (dsdonhang): list them.

/order <product code or name> [x<qty>] [amount], more items separated by commas:
  /donhang SP01 x2, SP02 x1 15tr
A product is found by its code (any case), else by its name without diacritics (exact, or the
only name containing the words). Quantity defaults to 1.

Amounts: when only the last item carries one, it is the order's total (and, for a single item,
that item's amount too); when earlier items carry amounts, every amount is its item's and the
total is their sum. A lone amount after the last comma is the total.

The order gets the code CHAT-<first 6 of the group id>-<n> and its first care date from the
interval rule (bot.features.care.orders).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlmodel import col, func, select

from bot.core.commands import ALL_STAFF, UsageError, command
from bot.core.context import Context
from bot.core.intents import Intent
from bot.core.text import fold
from bot.core.textparse import ParseError, parse_amount
from bot.features.care import orders
from storage import repo
from storage.models import Order, Product

SELLERS = frozenset({"sales", "sales_head", "admin"})
LIST_LIMIT = 10
MAX_AMOUNT_WORDS = 3
_QTY = re.compile(r"(?:x|×|sl)(\d{1,4})|(\d{1,4})(?:x|×)", re.IGNORECASE)
_ITEM_SPLIT = re.compile(r",(?!\d)|;")  # "1,5tr" keeps its comma


@dataclass(frozen=True)
class ItemArg:
    ref: str  # product code or name, as typed
    quantity: int = 1
    amount: int | None = None


@dataclass(frozen=True)
class NewOrderArgs:
    items: tuple[ItemArg, ...]
    total: int | None = None


def _amount(words: list[str]) -> int:
    try:
        return parse_amount(" ".join(words))
    except ParseError as exc:
        raise UsageError.of(exc) from None


def _trailing_amount(words: list[str]) -> tuple[list[str], int | None]:
    """Split off the longest amount at the end, keeping at least one word for the product."""
    for size in range(min(MAX_AMOUNT_WORDS, len(words) - 1), 0, -1):
        try:
            return words[:-size], parse_amount(" ".join(words[-size:]))
        except ParseError:
            continue
    return words, None


def _item(segment: str) -> ItemArg:
    words = segment.split()
    for i, word in enumerate(words):
        if match := _QTY.fullmatch(word):
            quantity = int(match[1] or match[2])
            if not words[:i]:
                raise UsageError("order_no_product_before", word=word)
            if quantity < 1:
                raise UsageError("order_bad_quantity")
            amount = _amount(words[i + 1 :]) if words[i + 1 :] else None
            return ItemArg(" ".join(words[:i]), quantity, amount)
    ref_words, amount = _trailing_amount(words)
    return ItemArg(" ".join(ref_words), 1, amount)


def parse_order(raw: str) -> NewOrderArgs:
    """'SP01 x2, SP02 x1 15tr' -> two items and a 15tr total."""
    segments = [s.strip() for s in _ITEM_SPLIT.split(raw) if s.strip()]
    if not segments:
        raise UsageError("order_missing")
    total: int | None = None
    if len(segments) > 1:
        try:
            total = parse_amount(segments[-1])
            segments = segments[:-1]
        except ParseError:
            pass
    items = [_item(s) for s in segments]
    last = items[-1]
    if total is not None or last.amount is None:
        return NewOrderArgs(items=tuple(items), total=total)
    if len(items) == 1:  # one item: its amount is the order's too
        return NewOrderArgs(items=tuple(items), total=last.amount)
    if any(i.amount is not None for i in items[:-1]):  # every amount is its item's
        return NewOrderArgs(items=tuple(items), total=None)
    items[-1] = ItemArg(last.ref, last.quantity, None)  # only the last: it is the total
    total = last.amount
    return NewOrderArgs(items=tuple(items), total=total)


async def _product(ctx: Context, ref: str) -> Product:
    """The product typed as `ref`: by code, else by name; UsageError when none or several."""
    query = select(Product).where(func.lower(Product.code) == ref.lower())
    if found := (await ctx.db.exec(query)).first():
        return found
    wanted = fold(ref)
    active = list((await ctx.db.exec(select(Product).where(col(Product.active)))).all())
    exact = [p for p in active if fold(p.name) == wanted]
    close = exact or [p for p in active if wanted in fold(p.name)]
    if len(close) == 1:
        return close[0]
    if close:
        options = ", ".join(f"{p.code} ({p.name})" for p in close[:5])
        raise UsageError("order_ambiguous", ref=ref, options=options)
    raise UsageError("order_unknown_product", ref=ref)


async def _order_code(ctx: Context, group_id: str) -> str:
    prefix = f"CHAT-{group_id[:6].upper()}-"
    query = select(func.count()).select_from(Order).where(col(Order.order_code).startswith(prefix))
    n = int((await ctx.db.exec(query)).one()) + 1
    while (await ctx.db.exec(select(Order.id).where(Order.order_code == f"{prefix}{n}"))).first():
        n += 1
    return f"{prefix}{n}"


def _item_view(ctx: Context, item_qty: int, amount: int | None, product: Product) -> dict[str, Any]:
    purchased_on = ctx.now.astimezone(ctx.settings.tz).date()
    return {
        "code": product.code,
        "name": product.name,
        "quantity": item_qty,
        "amount": amount,
        "care_date": orders.first_care_date(purchased_on, [(product.care_interval_days, item_qty)]),
    }


@command("order", aliases=("donhang",), parse=parse_order, roles=SELLERS)
async def order(ctx: Context, args: NewOrderArgs) -> list[Intent]:
    """Record the group customer's order; answer with its items and first care date."""
    group = ctx.group
    assert group is not None
    customer = await repo.get_customer(ctx.db, customer_id=group.customer_id)
    if customer is None:
        raise UsageError("order_no_customer")
    products = [await _product(ctx, item.ref) for item in args.items]
    record = await orders.create_order(
        ctx.db,
        order_code=await _order_code(ctx, group.group_id),
        group_id=group.group_id,
        customer_id=customer.id,
        purchased_at=ctx.now,
        items=[(p.code, i.quantity, i.amount) for p, i in zip(products, args.items, strict=True)],
        amount=args.total,
        source="chat",
        created_by=ctx.sender_id,
        tz=ctx.settings.tz,
        now=ctx.now,
    )
    await repo.audit(
        ctx.db,
        at=ctx.now,
        actor_id=ctx.sender_id,
        group_id=group.group_id,
        action="order.created",
        order_id=record.id,
        order_code=record.order_code,
        amount=record.amount,
    )
    items = [
        _item_view(ctx, i.quantity, i.amount, p) for p, i in zip(products, args.items, strict=True)
    ]
    return [
        ctx.reply(
            "order_created",
            order_code=record.order_code,
            customer_name=customer.name,
            items=items,
            amount=record.amount,
            next_care_date=record.next_care_date,
        )
    ]


@command("orders", aliases=("dsdonhang",), roles=ALL_STAFF)
async def order_list(ctx: Context, args: None) -> list[Intent]:
    """The group's recent orders, newest first, with their next care date."""
    assert ctx.group is not None
    query = select(Order).where(Order.group_id == ctx.group.group_id)
    everything = list((await ctx.db.exec(query)).all())
    recent = sorted(everything, key=lambda o: (o.purchased_at, o.id or 0), reverse=True)
    recent = recent[:LIST_LIMIT]
    pairs = await orders.order_items(ctx.db, [o.id for o in recent if o.id is not None])
    rows = [
        {
            "order_code": o.order_code,
            "purchased_at": o.purchased_at,
            "amount": o.amount,
            "status": o.status,
            "care_closed": o.care_closed,
            "next_care_date": o.next_care_date,
            "lines": [f"{p.code} x{i.quantity}" for i, p in pairs.get(o.id or 0, [])],
        }
        for o in recent
    ]
    return [
        ctx.reply(
            "order_list",
            orders=rows,
            total=len(everything),
            next_care_date=orders.next_care_date(everything),
        )
    ]
