"""/sync (/dongbo): read the group's members and state from Zalo now (heads and admins)."""

from __future__ import annotations

from bot.commands import HEADS, command
from bot.context import Context
from bot.intents import Intent, SyncGroup


@command("sync", aliases=("dongbo",), roles=HEADS)
async def sync(ctx: Context, args: None) -> list[Intent]:
    """Queue a reading of the group from Zalo; the asker is told 1:1 what came of it."""
    assert ctx.group is not None
    return [
        SyncGroup(ctx.group.group_id, notify_user_id=ctx.sender_id),
        ctx.reply("sync_started", local=ctx.settings.local_mode),
    ]
