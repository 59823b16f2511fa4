"""Members and group state read from Zalo: /sync (/dongbo) now (heads and admins), and every
customer group once a day (job group_sync). The reading itself is bot/core/membership.py, run by
the outbox."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.audience import is_customer_group
from bot.core.commands import HEADS, command
from bot.core.context import Context
from bot.core.intents import Intent, SyncGroup
from bot.core.schedules import job
from storage.models import Group

if TYPE_CHECKING:
    from bot.core.dispatch import Deps

SYNC_TIME = {"hour": 6, "minute": 30}  # the daily reading, before the working day


@command("sync", aliases=("dongbo",), roles=HEADS)
async def sync(ctx: Context, args: None) -> list[Intent]:
    """Queue a reading of the group from Zalo; the asker is told 1:1 what came of it."""
    assert ctx.group is not None
    return [
        SyncGroup(ctx.group.group_id, notify_user_id=ctx.sender_id),
        ctx.reply("sync_started", local=ctx.settings.local_mode),
    ]


@job("group_sync", cron=lambda settings: dict(SYNC_TIME))
async def daily_sync(db: AsyncSession, now: datetime, deps: Deps) -> list[Intent]:
    """Once a day: every customer group is read from Zalo again."""
    groups = (await db.exec(select(Group.group_id).order_by(col(Group.group_id)))).all()
    return [SyncGroup(g) for g in groups if is_customer_group(deps.settings, g)]
