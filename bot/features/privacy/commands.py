"""/export (/xuatdulieu) and /erase (/xoadulieu): a customer's data, on request (seed 000, 3.5).

* `/xuatdulieu` in the customer's group (or `/xuatdulieu <group id>` 1:1), admins and sales
  heads: the export is never posted in the group, where the customer reads along. The group is
  told an export was prepared; the requester gets the dashboard download link 1:1.
* `/xoadulieu` (or `/xoadulieu <group id>` 1:1), admins only: shows what would be erased and
  what is kept, and waits for `/xoadulieu xacnhan <group id>` from the same admin within
  privacy.CONFIRM_WINDOW (the request is an audit entry, checked against the clock). The
  confirmation records the erasure; a worker runs it in short transactions right after
  (privacy.run_erasure) and announces it in the group with its counts, and where it was
  confirmed. While it runs, /xoadulieu for that group answers nothing: the announcement is the
  answer. What is erased and what is kept is bot/features/privacy/erasure.py's docstring.
Both are audited: customer_export_requested, customer_erase_requested, customer_erased.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.core.commands import UsageError, command
from bot.core.context import Context
from bot.core.intents import Intent, SendUser
from bot.core.text import fold
from bot.features.privacy import erasure as privacy
from bot.features.privacy import export as privacy_export
from storage import repo
from storage.models import Group

GROUP_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
CONFIRM_WORDS = frozenset({"xacnhan", "confirm"})
EXPORT_ROLES = frozenset({"admin", "sales_head"})


@dataclass(frozen=True)
class EraseArgs:
    group_id: str | None
    confirm: bool = False


def _group_id(token: str) -> str:
    if not GROUP_ID.fullmatch(token):
        raise UsageError("privacy_bad_group", token=token)
    return token


def parse_target(raw: str) -> str | None:
    """An optional group id (needed in a 1:1 chat)."""
    tokens = raw.split()
    if len(tokens) > 1:
        raise UsageError("privacy_one_group")
    return _group_id(tokens[0]) if tokens else None


def parse_erase(raw: str) -> EraseArgs:
    """`[group id]` asks; `xacnhan <group id>` confirms."""
    tokens = raw.split()
    if tokens and fold(tokens[0]) in CONFIRM_WORDS:
        if len(tokens) != 2:
            raise UsageError("privacy_confirm_group")
        return EraseArgs(_group_id(tokens[1]), confirm=True)
    return EraseArgs(parse_target(raw))


async def _target(ctx: Context, group_id: str | None) -> Group | None:
    """The group the command is about: the one named, else the one it was typed in."""
    wanted = group_id or ctx.event.group_id
    if not wanted:
        raise UsageError("privacy_group_needed")
    return await repo.get_group(ctx.db, group_id=wanted)


def _unknown(ctx: Context, group_id: str | None) -> list[Intent]:
    return [ctx.reply("privacy_unknown_group", group_id=group_id, user_id=ctx.sender_id)]


@command(
    "export", aliases=("xuatdulieu",), parse=parse_target, roles=EXPORT_ROLES, group_only=False
)
async def export(ctx: Context, group_id: str | None) -> list[Intent]:
    """Send the requester the download link 1:1; tell the group only that it was prepared."""
    group = await _target(ctx, group_id)
    if group is None:
        return _unknown(ctx, group_id)
    customer = await repo.get_customer(ctx.db, customer_id=group.customer_id)
    counts = await privacy_export.export_counts(ctx.db, group)
    url = ctx.settings.base_url.rstrip("/") + privacy_export.export_path(group.group_id)
    await repo.audit(
        ctx.db,
        at=ctx.now,
        actor_id=ctx.sender_id,
        action="customer_export_requested",
        group_id=group.group_id,
        customer_id=group.customer_id,
    )
    link = {"url": url, "group_id": group.group_id, "customer": customer, **counts}
    intents: list[Intent] = [SendUser(ctx.sender_id, "privacy_export_link", link)]
    if ctx.event.group_id:
        intents.append(ctx.reply("privacy_export_ready", user_id=ctx.sender_id))
    return intents


@command("erase", aliases=("xoadulieu",), parse=parse_erase, roles=frozenset({"admin"}),
         group_only=False)  # fmt: skip
async def erase(ctx: Context, args: EraseArgs) -> list[Intent]:
    """Ask for, or confirm, the erasure of a group's customer data."""
    group = await _target(ctx, args.group_id)
    if group is None:
        return _unknown(ctx, args.group_id)
    if await privacy.erasure_under_way(ctx.db, group_id=group.group_id):
        return [_started(ctx, group)]  # its announcement, moments away, has the counts
    plan = await privacy.erase_plan(ctx.db, group)
    if not any(plan.values()):
        erased_at = await privacy.last_erased_at(ctx.db, group_id=group.group_id)
        return [ctx.reply("privacy_erase_nothing", group_id=group.group_id, erased_at=erased_at)]
    if args.confirm:
        return await _confirm(ctx, group)
    return await _ask(ctx, group, plan)


async def _ask(ctx: Context, group: Group, plan: dict[str, int]) -> list[Intent]:
    expires_at = ctx.now + privacy.CONFIRM_WINDOW
    await repo.audit(
        ctx.db,
        at=ctx.now,
        actor_id=ctx.sender_id,
        action="customer_erase_requested",
        group_id=group.group_id,
        customer_id=group.customer_id,
        expires_at=expires_at.isoformat(),
        counts=plan,
    )
    context = {
        "group_id": group.group_id,
        "plan": plan,
        "kept": await privacy.kept_counts(ctx.db, group),
        "minutes": int(privacy.CONFIRM_WINDOW.total_seconds() // 60),
        "expires_at": expires_at,
        "user_id": ctx.sender_id,
    }
    return [ctx.reply("privacy_erase_confirm", **context)]


async def _confirm(ctx: Context, group: Group) -> list[Intent]:
    request = await privacy.pending_request(
        ctx.db, group_id=group.group_id, actor_id=ctx.sender_id, now=ctx.now
    )
    if request is None:
        minutes = int(privacy.CONFIRM_WINDOW.total_seconds() // 60)
        return [
            ctx.reply(
                "privacy_erase_expired",
                group_id=group.group_id,
                minutes=minutes,
                user_id=ctx.sender_id,
            )
        ]
    await privacy.start_erasure(
        ctx.db,
        group,
        request=request,
        actor_id=ctx.sender_id,
        reply_group_id=ctx.event.group_id,
        reply_msg_id=ctx.event.msg_id,
        now=ctx.now,
    )
    return [_started(ctx, group)]  # the worker announces the counts once done (run_erasure)


def _started(ctx: Context, group: Group) -> Intent:
    return ctx.reply("privacy_erase_started", group_id=group.group_id, user_id=ctx.sender_id)
