"""/care (/chamsoc): log a care contact for the group's customer; /assign (/phancong): who cares.

/care <content> [feedback] [next date]
* The contact goes on the group's most recent open order (not care_closed, not cancelled), or on
  the order named by a `#<order_code>` token; a group without orders logs against the customer.
* Feedback is a word from /log's table (tichcuc, binhthuong, khonghailong, khieunai, khongnghe
  ...), typed first or right before the next date; "tốt" is left out, as content says it.
* The next date is the last 1-3 words when they read as a date (30/12, mai, thứ 2, 3 ngày nữa);
  it replaces the order's next_care_date: after the first contact the interval no longer
  applies (seed 002). "hôm nay"/"hôm qua" are never taken as a date; a dd/mm already past rolls
  over to next year; any other date not after today is refused.
* Without a next date the order's next_care_date stays as it is — the order keeps showing as
  overdue until the staff sets one or ends the care — except when this contact reaches the
  products' suggested care_max: then the date is cleared (no more reminders, care not closed).
/care end [#order_code] [content] (ketthuc) closes the order's care: care_closed, no next date.

/assign <staff> <product group | khachhang> (heads): a CareAssignment for a product group
(matched to the catalogue's spelling when it exists) or for this group's customer. /assign
alone lists the assignments and the CARE_MODE they matter in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlmodel import col, or_, select

from bot.core.commands import HEADS, UsageError, command, within
from bot.core.context import Context
from bot.core.intents import Intent
from bot.core.text import fold
from bot.core.textparse import ParseError, parse_date
from bot.features.care import policy as care
from storage import repo
from storage.models import CareAssignment, CareLog, Customer, Order, Product, Staff

END_WORDS = {"end", "ketthuc"}  # not "đóng"/"xong": a sentence may start with them
CUSTOMER_WORDS = {"customer", "khachhang", "khach", "kh"}
NOT_NEXT = {"nay", "hom nay", "hom qua", "qua"}
NOT_FEEDBACK = {"tot"}  # plain words in a sentence ("dùng tốt"), though /log takes them
REFERENCE_DAY = date(2024, 1, 1)  # only to see whether words read as a date (a leap year)
_NO_YEAR = re.compile(r"(?:ngay\s*)?\d{1,2}[/.-]\d{1,2}")


@dataclass(frozen=True)
class CareArgs:
    content: str
    feedback: str | None = None
    when: str | None = None  # the next care date as typed; read against today by the handler
    order_code: str | None = None
    end: bool = False


def _word(token: str) -> str:
    return fold(token).replace("_", "").replace("-", "")


def _reads_as_date(words: list[str]) -> bool:
    text = " ".join(words)
    if " ".join(fold(text).split()) in NOT_NEXT:
        return False
    try:
        parse_date(text, REFERENCE_DAY)
    except ParseError:
        return False
    return True


def _split_date(tokens: list[str]) -> tuple[list[str], str | None]:
    for n in (3, 2, 1):
        if len(tokens) >= n and _reads_as_date(tokens[-n:]):
            return tokens[:-n], " ".join(tokens[-n:])
    return tokens, None


def parse_care(raw: str) -> CareArgs:
    tokens = raw.split()
    codes = [t for t in tokens if t.startswith("#") and len(t) > 1]
    tokens = [t for t in tokens if t not in codes[:1]]
    code = codes[0][1:] if codes else None
    if tokens and _word(tokens[0]) in END_WORDS:
        return CareArgs(content=" ".join(tokens[1:]), order_code=code, end=True)
    tokens, when = _split_date(tokens)
    # Imported here: importing /log's module at load time would register /log before
    # /customer (handlers register in import order, and help lists them that way).
    from bot.features.satisfaction.interactions import FEEDBACK

    feedback = None
    for index in (0, -1):
        word = _word(tokens[index]) if tokens else ""
        if word not in NOT_FEEDBACK and (found := FEEDBACK.get(word)):
            feedback = found
            tokens.pop(index)
            break
    if not tokens and not feedback:
        raise UsageError("care_no_content")
    return CareArgs(" ".join(tokens), feedback, when, code)


def next_date(when: str, today: date) -> date:
    """The typed next care date, strictly after today; a past dd/mm means next year."""
    try:
        day = parse_date(when, today)
    except ParseError as exc:
        raise UsageError.of(exc) from None
    if day <= today and _NO_YEAR.fullmatch(" ".join(fold(when).split())):
        day = care.anniversary(day, day.year + 1)
    if day <= today:
        raise UsageError("care_next_not_future", day=day)
    return day


async def _order(ctx: Context, code: str | None) -> Order | None:
    """The order the contact is about: `#code`, else the group's most recent open one."""
    assert ctx.group is not None
    mine = or_(
        Order.group_id == ctx.group.group_id,
        col(Order.customer_id) == ctx.group.customer_id if ctx.group.customer_id else False,
    )
    query = select(Order).where(mine)
    if code:
        found = (await ctx.db.exec(query.where(Order.order_code == code))).first()
        if found is None:
            raise UsageError("care_no_order", code=code)
        return found
    query = query.where(col(Order.care_closed).is_(False), Order.status != "cancelled")
    query = query.order_by(col(Order.purchased_at).desc(), col(Order.id).desc())
    return (await ctx.db.exec(query)).first()


@command(
    "care",
    aliases=("chamsoc", "cskh"),
    parse=parse_care,
    roles=frozenset({"sales", "sales_head", "admin"}),
)
async def care_cmd(ctx: Context, args: CareArgs) -> list[Intent]:
    """Log a care contact (or end the care) on the group's order."""
    assert ctx.group is not None
    order = await _order(ctx, args.order_code)
    if args.end and order is None:
        raise UsageError("care_no_orders")
    today = ctx.now.astimezone(ctx.settings.tz).date()
    when = next_date(args.when, today) if args.when and not args.end else None
    ctx.db.add(
        CareLog(
            order_id=order.id if order else None,
            group_id=ctx.group.group_id,
            customer_id=order.customer_id if order and order.customer_id else ctx.group.customer_id,
            staff_id=ctx.sender_id,
            content=args.content,
            feedback=args.feedback,
            next_care_date=when,
            ended=args.end,
            at=ctx.now,
        )
    )
    await ctx.db.flush()
    if order is None:
        return [ctx.reply("care_saved", **_reply(args, None, 0, None, None, None))]
    assert order.id is not None
    count, low, high = await care.order_limits(ctx.db, order.id)
    if args.end:
        order.care_closed, order.next_care_date = True, None
        await repo.audit(
            ctx.db, at=ctx.now, actor_id=ctx.sender_id, action="care_end",
            group_id=ctx.group.group_id, order_code=order.order_code,
        )  # fmt: skip
    elif when:
        order.next_care_date = when
    elif high is not None and count >= high:
        order.next_care_date = None
    ctx.db.add(order)
    return [ctx.reply("care_saved", **_reply(args, order, count, low, high, order.next_care_date))]


def _reply(
    args: CareArgs,
    order: Order | None,
    count: int,
    low: int | None,
    high: int | None,
    next_care: date | None,
) -> dict[str, object]:
    return {
        "order_code": order.order_code if order else None,
        "content": args.content,
        "feedback": args.feedback,
        "ended": args.end,
        "care_count": count,
        "care_min": low,
        "care_max": high,
        "next_care_date": next_care,
        "next_state": _next_state(args, count, high, next_care),
    }


def _next_state(args: CareArgs, count: int, high: int | None, next_care: date | None) -> str:
    """set: a date was typed; done: care_max reached; kept: the old date stays; none."""
    if args.when and not args.end:
        return "set"
    if high is not None and count >= high:
        return "done"
    return "kept" if next_care else "none"


# ---------------------------------------------------------------- /assign


@dataclass(frozen=True)
class AssignArgs:
    words: tuple[str, ...] = ()  # empty: list; else <staff words> <target words>


def parse_assign(raw: str) -> AssignArgs:
    words = tuple(raw.split())
    if len(words) == 1:
        raise UsageError("assign_what")
    return AssignArgs(words)


async def _staff_and_target(ctx: Context, words: tuple[str, ...]) -> tuple[Staff, str]:
    for cut in range(len(words) - 1, 0, -1):  # the longest name that is a staff member
        staff = await repo.find_staff(ctx.db, ref=" ".join(words[:cut]), fold=fold)
        if staff is not None and staff.active:
            return staff, " ".join(words[cut:])
    raise UsageError("assign_no_staff", who=words[0])


async def _product_group(ctx: Context, typed: str) -> str:
    """The catalogue's spelling of a product group typed loosely, else as typed."""
    known = await ctx.db.exec(select(Product.product_group).distinct())
    matches = [g for g in known.all() if g and fold(g) == fold(typed)]
    return matches[0] if matches else typed


async def _assign(ctx: Context, staff: Staff, target: str) -> dict[str, object]:
    row = CareAssignment(staff_id=staff.zalo_user_id, created_at=ctx.now)
    if _word(target) in CUSTOMER_WORDS:
        if ctx.group is None or ctx.group.customer_id is None:
            raise UsageError("no_customer_yet")
        row.customer_id = ctx.group.customer_id
    else:
        row.product_group = within(await _product_group(ctx, target), 100, "product_group")
    same = select(CareAssignment).where(
        CareAssignment.staff_id == row.staff_id,
        CareAssignment.customer_id == row.customer_id,
        CareAssignment.product_group == row.product_group,
    )
    if (await ctx.db.exec(same)).first() is None:
        ctx.db.add(row)
        await repo.audit(
            ctx.db, at=ctx.now, actor_id=ctx.sender_id, action="care_assign",
            group_id=ctx.group.group_id if ctx.group else None, staff_id=row.staff_id,
            product_group=row.product_group, customer_id=row.customer_id,
        )  # fmt: skip
        await ctx.db.flush()
    customer = await repo.get_customer(ctx.db, customer_id=row.customer_id)
    return {
        "staff": staff.name,
        "product_group": row.product_group,
        "customer": customer.name if customer else None,
    }


async def _listing(ctx: Context) -> list[dict[str, object]]:
    query = (
        select(CareAssignment, Staff.name, Customer.name)
        .join(Staff, col(Staff.zalo_user_id) == CareAssignment.staff_id)
        .join(Customer, col(Customer.id) == CareAssignment.customer_id, isouter=True)
        .order_by(col(Staff.name), col(CareAssignment.id))
    )
    return [
        {"staff": staff, "product_group": a.product_group, "customer": customer}
        for a, staff, customer in (await ctx.db.exec(query)).all()
    ]


@command("assign", aliases=("phancong",), parse=parse_assign, roles=HEADS, group_only=False)
async def assign(ctx: Context, args: AssignArgs) -> list[Intent]:
    """Add a care assignment, or list them."""
    assigned = None
    if args.words:
        assigned = await _assign(ctx, *await _staff_and_target(ctx, args.words))
    rows = await _listing(ctx)
    return [
        ctx.reply(
            "care_assignments",
            assigned=assigned,
            assignments=rows,
            mode=ctx.settings.care_mode,
        )
    ]
