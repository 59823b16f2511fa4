"""/pay, /credit, /approve, /reject, /confirm, /ship, /payments: the payment gate's commands.

Sales ask accounting to approve a payment or a credit term; accounting decides (by command here,
or by replying to the request: bot.features.payments.rule, which also holds the decision policy and
blocks /confirm and /ship until enough is approved).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from bot.core import audience as common
from bot.core.commands import ALL_STAFF, UsageError, command, record_number
from bot.core.context import Context
from bot.core.intents import Intent, SendGroup
from bot.core.text import fold
from bot.core.textparse import ParseError, parse_amount, parse_date
from bot.features.payments import policy as payment_gate_policy
from bot.features.payments import queries as payment_gate_queries
from bot.features.payments import rule as payment_gate
from storage import repo
from storage.models import Payment

REQUESTERS = frozenset({"sales", "sales_head", "admin"})
DECIDERS = frozenset({"accountant", "chief_accountant"})
ORDER_ROLES = frozenset({"sales", "sales_head", "warehouse", "shipping", "admin"})
METHODS = {
    **dict.fromkeys(("chuyenkhoan", "ck", "transfer", "bank"), "transfer"),
    **dict.fromkeys(("tienmat", "tm", "cash"), "cash"),
    **dict.fromkeys(("the", "card", "quetthe"), "card"),
    "cod": "cod",
}
LIST_LIMIT = 20
MAX_AMOUNT_WORDS = 6
_DAYS = re.compile(r"(\d{1,3})(?:ngay|d|days?)?")
_DAY_WORDS = {"ngay", "d", "day", "days"}
_TERM_PREFIXES = {"han", "den", "trong", "toi", "thoihan", "denngay", "hanngay"}
_DATE = re.compile(r"\d{1,2}[/.-]\d{1,2}(?:[/.-](?:\d{4}|\d{2}))?")
_SAMPLE_DAY = date(2000, 1, 1)  # a leap year: "29/02" is checked again against today


@dataclass(frozen=True)
class PayArgs:
    amount: int
    method: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class CreditArgs:
    amount: int
    days: int | None = None
    due: str | None = None  # as typed ("30/12"); the year is settled against today
    note: str | None = None


@dataclass(frozen=True)
class DecideArgs:
    payment_id: int
    reason: str | None = None


@dataclass(frozen=True)
class OrderArgs:
    amount: int | None = None  # the payment gate reads this
    note: str | None = None


def _word(token: str) -> str:
    return fold(token).strip(".,:;").replace("_", "").replace("-", "")


def _amount(raw: str) -> tuple[int, list[str]]:
    """The amount that starts the arguments (never a number further on), and the other words."""
    tokens = raw.split()
    for count in range(min(len(tokens), MAX_AMOUNT_WORDS), 0, -1):  # "2 tỷ 500 triệu"
        try:
            return parse_amount(" ".join(tokens[:count])), tokens[count:]
        except ParseError:
            continue
    raise UsageError("pay_no_amount")


def parse_pay(raw: str) -> PayArgs:
    amount, rest = _amount(raw)
    method = METHODS.get(_word(rest[0])) if rest else None
    note = " ".join(rest[1:] if method else rest)
    return PayArgs(amount, method, note or None)


def parse_credit(raw: str) -> CreditArgs:
    amount, rest = _amount(raw)
    if rest and _word(rest[0]) in _TERM_PREFIXES:
        rest = rest[1:]
    first = _word(rest[0]) if rest else ""
    if days := _DAYS.fullmatch(first):
        rest = rest[2:] if len(rest) > 1 and _word(rest[1]) in _DAY_WORDS else rest[1:]
        if not 1 <= int(days[1]) <= 365:
            raise UsageError("credit_days")
        return CreditArgs(amount, days=int(days[1]), note=" ".join(rest) or None)
    typed = fold(rest[0]).strip(".,:;") if rest else ""
    if _DATE.fullmatch(typed):
        try:
            parse_date(typed, _SAMPLE_DAY)
        except ParseError as exc:
            raise UsageError.of(exc) from None
        return CreditArgs(amount, due=typed, note=" ".join(rest[1:]) or None)
    raise UsageError("credit_no_term")


def _payment_id(token: str) -> int:
    return record_number(token, "payment_bad_number")


def parse_approve(raw: str) -> DecideArgs:
    tokens = raw.split()
    if not tokens:
        raise UsageError("decide_no_number")
    return DecideArgs(_payment_id(tokens[0]))


def parse_reject(raw: str) -> DecideArgs:
    tokens = raw.split()
    if not tokens:
        raise UsageError("reject_missing")
    if len(tokens) < 2:
        raise UsageError("reject_no_reason")
    return DecideArgs(_payment_id(tokens[0]), " ".join(tokens[1:]))


def parse_confirm(raw: str) -> OrderArgs:
    if not raw.strip()[:1].isdigit():
        return OrderArgs(note=raw.strip() or None)
    amount, rest = _amount(raw)
    return OrderArgs(amount, " ".join(rest) or None)


def parse_ship(raw: str) -> OrderArgs:
    return OrderArgs(note=raw.strip() or None)


@command("pay", aliases=("thanhtoan",), roles=REQUESTERS, parse=parse_pay)
async def pay(ctx: Context, args: PayArgs) -> list[Intent]:
    """Ask accounting to approve a payment the customer made."""
    return await _request(ctx, "payment", args.amount, args.method, args.note)


@command("credit", aliases=("congno",), roles=REQUESTERS, parse=parse_credit)
async def credit(ctx: Context, args: CreditArgs) -> list[Intent]:
    """Ask accounting to approve a credit (debt) term for the customer."""
    due = None
    if args.due:
        due = _due_date(args.due, ctx.now.astimezone(ctx.settings.tz).date())
        if due is None:
            raise UsageError("credit_due_past", due=args.due)
    term = payment_gate_policy.credit_term(days=args.days, due=due)
    return await _request(ctx, "credit", args.amount, term, args.note)


def _due_date(typed: str, today: date) -> date | None:
    """The due date typed, in the future: '15/01' typed in December is next January."""
    try:
        due = parse_date(typed, today)
        if due < today and len(re.split(r"[/.-]", typed)) == 2:  # no year typed
            due = due.replace(year=today.year + 1)
    except (ParseError, ValueError):
        return None
    return due if due >= today else None


async def _request(
    ctx: Context, kind: str, amount: int, method: str | None, note: str | None
) -> list[Intent]:
    assert ctx.group is not None
    remind_at, escalate_at = payment_gate.deadlines(ctx, ctx.group)
    payment = Payment(
        group_id=ctx.group.group_id,
        kind=kind,
        amount=amount,
        method=method,
        note=note,
        requested_by=ctx.sender_id,
        requested_at=ctx.now,
        needs_chief=amount >= ctx.settings.payment_chief_threshold,
        remind_at=remind_at,
        escalate_at=escalate_at,
    )
    ctx.db.add(payment)
    await ctx.db.flush()
    await repo.audit(
        ctx.db, at=ctx.now, actor_id=ctx.sender_id, action="payment.requested",
        group_id=payment.group_id, payment_id=payment.id, kind=kind, amount=amount,
        method=method, note=note, needs_chief=payment.needs_chief,
    )  # fmt: skip
    accountants = await common.ids_with_role(ctx.db, "accountant")
    chiefs = await common.ids_with_role(ctx.db, "chief_accountant") if payment.needs_chief else []
    intents = await _invite_chiefs(ctx, chiefs) if payment.needs_chief else []
    context = {
        "payment": payment_gate_queries.view(payment),
        "accountants": accountants,
        "chiefs": chiefs,
        "threshold": ctx.settings.payment_chief_threshold,
    }
    return intents + [
        SendGroup(
            payment.group_id,
            "payment_request",
            context,
            quote_msg_id=ctx.event.msg_id,
            notify_user_id=ctx.sender_id,
            ref={"payment_id": payment.id},
        )
    ]


async def _invite_chiefs(ctx: Context, chiefs: list[str]) -> list[Intent]:
    """A large amount needs the chief accountant in the group: invite them if absent."""
    heads = await common.ids_with_role(ctx.db, "sales_head")
    _missing, invites = await common.invite_missing(
        ctx.db,
        group_id=ctx.event.group_id or "",
        user_ids=chiefs,
        reason="payment_chief",
        notify=ctx.sender_id,
        also_notify=tuple(h for h in heads if h != ctx.sender_id),
    )
    return invites


@command("approve", aliases=("duyet",), roles=DECIDERS, parse=parse_approve)
async def approve(ctx: Context, args: DecideArgs) -> list[Intent]:
    """Approve request #id (accounting only)."""
    return await _decide(ctx, args, approve=True)


@command("reject", aliases=("tuchoi",), roles=DECIDERS, parse=parse_reject)
async def reject(ctx: Context, args: DecideArgs) -> list[Intent]:
    """Reject request #id with a reason (accounting only)."""
    return await _decide(ctx, args, approve=False)


async def _decide(ctx: Context, args: DecideArgs, *, approve: bool) -> list[Intent]:
    assert ctx.group is not None
    payment = await payment_gate_queries.find_payment(
        ctx.db, payment_id=args.payment_id, group_id=ctx.group.group_id
    )
    if payment is None:
        return [
            ctx.reply(
                "payment_refused",
                reason=payment_gate_policy.NOT_FOUND,
                payment=None,
                payment_id=args.payment_id,
                names={},
                user_id=ctx.sender_id,
            )
        ]
    return await payment_gate.settle(ctx, payment, approve=approve, reason=args.reason)


@command("confirm", aliases=("xacnhan",), roles=ORDER_ROLES, parse=parse_confirm)
async def confirm(ctx: Context, args: OrderArgs) -> list[Intent]:
    """Confirm the customer's order (the payment gate lets it through only once approved)."""
    return await _order(ctx, "order.confirmed", "confirm", args)


@command("ship", aliases=("giaohang",), roles=ORDER_ROLES, parse=parse_ship)
async def ship(ctx: Context, args: OrderArgs) -> list[Intent]:
    """Release the order for delivery (the payment gate lets it through only once approved)."""
    return await _order(ctx, "order.shipped", "ship", args)


async def _order(ctx: Context, action: str, name: str, args: OrderArgs) -> list[Intent]:
    assert ctx.group is not None
    payments = await payment_gate_queries.group_payments(ctx.db, group_id=ctx.group.group_id)
    approved_total = sum(p.amount for p in payments if p.status == "approved")
    await repo.audit(
        ctx.db, at=ctx.now, actor_id=ctx.sender_id, action=action, group_id=ctx.group.group_id,
        amount=args.amount, note=args.note, approved_total=approved_total,
    )  # fmt: skip
    return [
        ctx.reply(
            "payment_order_ok",
            command=name,
            amount=args.amount,
            note=args.note,
            approved_total=approved_total,
            user_id=ctx.sender_id,
        )
    ]


@command("payments", aliases=("dsthanhtoan",), roles=ALL_STAFF)
async def payments(ctx: Context, _args: None) -> list[Intent]:
    """The group's payment and credit requests and where each stands."""
    assert ctx.group is not None
    rows = await payment_gate_queries.group_payments(ctx.db, group_id=ctx.group.group_id)
    names = {s.zalo_user_id: s.name for s in await repo.list_staff(ctx.db)}
    shown = [payment_gate_queries.view(p) for p in rows[-LIST_LIMIT:]]
    return [ctx.reply("payment_list", payments=shown, total=len(rows), names=names)]
