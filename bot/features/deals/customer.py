"""/customer: bind the group to a customer, set the profile, become the assigned sales."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from datetime import date

from bot.core.commands import UsageError, command, within
from bot.core.context import Context
from bot.core.intents import Intent
from bot.core.text import fold
from storage import repo
from storage.models import Customer, Group

FIELD_KEYS = {
    "name": "name",
    "ten": "name",
    "phone": "phone",
    "sdt": "phone",
    "dienthoai": "phone",
    "region": "region",
    "khuvuc": "region",
    "tinh": "region",
    "group": "customer_group",
    "nhom": "customer_group",
    "loai": "customer_group",
    "birthday": "birthday",
    "sinhnhat": "birthday",
    "ngaysinh": "birthday",
    "founded": "founded_on",
    "thanhlap": "founded_on",
    "ngaythanhlap": "founded_on",
    "gender": "gender",
    "gioitinh": "gender",
    "channel": "channel",
    "nguon": "channel",
    "kenh": "channel",
    "contact": "contact_channel",
    "lienhe": "contact_channel",
}
GENDERS = {
    "nam": "male",
    "male": "male",
    "m": "male",
    "nu": "female",
    "female": "female",
    "f": "female",
    "khac": "other",
    "other": "other",
}
CUSTOMER_GROUPS = {
    "vip": "vip",
    "si": "wholesale",
    "wholesale": "wholesale",
    "buonsi": "wholesale",
    "daily": "wholesale",
    "le": "retail",
    "retail": "retail",
    "khachle": "retail",
}
SMART_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"'})
PROFILE_FIELDS = (
    "founded_on",
    "phone",
    "region",
    "customer_group",
    "birthday",
    "gender",
    "channel",
    "contact_channel",
)


@dataclass(frozen=True)
class CustomerArgs:
    name: str | None
    fields: dict[str, object] = field(default_factory=dict)


def _birthday(value: str) -> date:
    parts = value.replace("-", "/").replace(".", "/").split("/")
    try:
        day, month, year = (int(p) for p in parts)
        if year < 100:  # 85 -> 1985, 05 -> 2005
            year += 2000 if year <= 30 else 1900
        return date(year, month, day)
    except ValueError:
        raise UsageError("customer_bad_birthday", value=value) from None


def _value(key: str, value: str) -> object:
    folded = fold(value).replace(" ", "")
    if key in ("birthday", "founded_on"):
        return _birthday(value)
    if key == "gender":
        if folded not in GENDERS:
            raise UsageError("customer_bad_gender")
        return GENDERS[folded]
    if key == "customer_group":
        if folded not in CUSTOMER_GROUPS:
            raise UsageError("customer_bad_group")
        return CUSTOMER_GROUPS[folded]
    if (
        key == "phone"
        and not value.replace("+", "")
        .replace(" ", "")
        .replace(".", "")
        .replace("-", "")
        .isdecimal()
    ):
        raise UsageError("customer_bad_phone", value=value)
    return within(value.strip(), TEXT_LIMITS[key], key)


def _tokens(raw: str) -> list[str]:
    """Split on spaces, keeping "quoted values" (phone keyboards' “smart quotes” too)."""
    lexer = shlex.shlex(raw.translate(SMART_QUOTES), posix=True)
    lexer.whitespace_split, lexer.quotes, lexer.escape, lexer.commenters = True, '"', "", ""
    try:
        return list(lexer)
    except ValueError:
        raise UsageError("unclosed_quote") from None


MULTI_WORD = frozenset({"name", "region", "channel", "contact_channel"})
TEXT_LIMITS = {"name": 200, "phone": 40, "region": 100, "channel": 50, "contact_channel": 50}


def parse_customer(raw: str) -> CustomerArgs:
    """Free words are the name; words after a text field (`khuvuc=Hà Nội`) continue its value."""
    words: list[str] = []
    raw_values: dict[str, tuple[str, str]] = {}  # canonical key -> (key as typed, value)
    current: str | None = None
    for token in _tokens(raw):
        key, sep, value = token.partition("=")
        if sep:
            current = FIELD_KEYS.get(fold(key).replace("_", ""))
            if current is None:
                raise UsageError("customer_no_field", key=key)
            raw_values[current] = (key, value)
        elif current in MULTI_WORD:
            typed, so_far = raw_values[current]
            raw_values[current] = (typed, f"{so_far} {token}")
        else:
            words.append(token)
    values: dict[str, object] = {}
    for canonical, (typed, value) in raw_values.items():
        if not value.strip():
            raise UsageError("customer_field_empty", typed=typed)
        values[canonical] = _value(canonical, value.strip())
    name = values.pop("name", None) or (" ".join(words) or None)
    if name:
        within(str(name), TEXT_LIMITS["name"], "customer_name")
    return CustomerArgs(name=str(name) if name else None, fields=values)


def _profile(ctx: Context, customer: Customer) -> dict[str, str]:
    """The profile fields that are set, as display strings in the caller's locale."""
    words = ctx.labels
    shown = {key: getattr(customer, key) for key in PROFILE_FIELDS}
    for key in ("birthday", "founded_on"):
        if getattr(customer, key):
            shown[key] = getattr(customer, key).strftime("%d/%m/%Y")
    if customer.gender:
        shown["gender"] = words["genders"].get(customer.gender, customer.gender)
    if customer.customer_group:
        shown["customer_group"] = words["customer_groups"].get(
            customer.customer_group, customer.customer_group
        )
    return {k: v for k, v in shown.items() if v}


async def _sales_name(ctx: Context, group: Group) -> str | None:
    if not group.assigned_sales_id:
        return None
    sales = await repo.get_staff(ctx.db, user_id=group.assigned_sales_id)
    return sales.name if sales else group.assigned_sales_id


@command(
    "customer",
    aliases=("khachhang", "kh"),
    parse=parse_customer,
    roles=frozenset({"sales", "sales_head", "admin"}),
)
async def customer(ctx: Context, args: CustomerArgs) -> list[Intent]:
    """Show, create or update the group's customer; a sales caller becomes its owner."""
    group = ctx.group
    assert group is not None
    existing = await repo.get_customer(ctx.db, customer_id=group.customer_id)
    if existing is None and args.name is None:
        if args.fields:
            raise UsageError("customer_no_name")
        return [ctx.reply("customer_none")]
    owner = group.assigned_sales_id
    if owner and owner != ctx.sender_id and ctx.role == "sales" and (args.name or args.fields):
        return [
            ctx.reply(
                "customer_taken", sales_name=await _sales_name(ctx, group), user_id=ctx.sender_id
            )
        ]
    changed = bool(args.name or args.fields)
    record = existing or Customer(name=args.name or "", created_at=ctx.now, updated_at=ctx.now)
    if changed:
        record.name = args.name or record.name
        for key, value in args.fields.items():
            setattr(record, key, value)
        record.updated_at = ctx.now
        await repo.save_customer(ctx.db, customer=record)
        group.customer_id = record.id
        if not owner:
            group.assigned_sales_id = ctx.sender_id
        group.updated_at = ctx.now
        ctx.db.add(group)
        await repo.audit(
            ctx.db,
            at=ctx.now,
            actor_id=ctx.sender_id,
            group_id=group.group_id,
            action="customer.created" if existing is None else "customer.updated",
            customer_id=record.id,
            name=record.name,
            fields={k: str(v) for k, v in args.fields.items()},
            assigned_sales_id=group.assigned_sales_id,
        )
    return [
        ctx.reply(
            "customer_profile",
            customer=record,
            profile=_profile(ctx, record),
            created=existing is None,
            changed=changed,
            sales_name=await _sales_name(ctx, group),
        )
    ]
