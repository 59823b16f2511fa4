"""/history: the group's latest interactions, commands and decisions, for staff."""

from __future__ import annotations

from bot.core.commands import UsageError, command
from bot.core.context import Context
from bot.core.intents import Intent
from storage import repo

DEFAULT_LINES, MAX_LINES = 10, 50


def parse_history(raw: str) -> int:
    if not raw.strip():
        return DEFAULT_LINES
    digits = raw.strip()
    if not digits.isdecimal() or len(digits) > 3 or not 1 <= int(digits) <= MAX_LINES:
        raise UsageError("history_lines", most=MAX_LINES)
    return int(digits)


@command("history", aliases=("lichsu",), parse=parse_history)
async def history(ctx: Context, lines: int) -> list[Intent]:
    assert ctx.group is not None
    items = await repo.recent_history(ctx.db, group_id=ctx.group.group_id, limit=lines)
    names = {s.zalo_user_id: s.name for s in await repo.list_staff(ctx.db)}
    return [ctx.reply("history", items=items, names=names)]
