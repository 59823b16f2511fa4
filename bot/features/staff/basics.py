"""/help and /whoami: available to every staff member, in a group or 1:1."""

from __future__ import annotations

from bot.core.commands import command, commands_for, lookup
from bot.core.context import Context
from bot.core.intents import Intent
from storage import repo


def parse_help(raw: str) -> str | None:
    words = raw.replace("/", " ").split()
    return words[0] if words else None


@command("help", aliases=("huongdan", "trogiup"), parse=parse_help, group_only=False)
async def help_(ctx: Context, topic: str | None) -> list[Intent]:
    """What the caller's role may run; with a topic, that command's usage and examples."""
    spec = lookup(topic) if topic else None
    detail = spec if spec and spec.allows(ctx.role) else None
    return [ctx.reply("help", role=ctx.role, commands=commands_for(ctx.role), detail=detail)]


@command("whoami", aliases=("toilaai",), group_only=False)
async def whoami(ctx: Context, _args: None) -> list[Intent]:
    """The caller's identity and role, and the group's customer and assigned sales."""
    assert ctx.sender is not None
    group = ctx.group
    customer = await repo.get_customer(ctx.db, customer_id=group.customer_id) if group else None
    sales = (
        await repo.get_staff(ctx.db, user_id=group.assigned_sales_id)
        if group and group.assigned_sales_id
        else None
    )
    return [
        ctx.reply(
            "whoami",
            name=ctx.sender.name,
            role=ctx.role,
            zalo_id=ctx.sender_id,
            group=group,
            customer=customer,
            sales_name=sales.name if sales else None,
        )
    ]
