"""Putting a group on the SLA clock at a given local time, and reading what came of it."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import select

AUTH = {"Authorization": "Bearer test-admin-token"}


VN = ZoneInfo("Asia/Ho_Chi_Minh")


def vn(*args: int) -> datetime:
    return datetime(*args, tzinfo=VN)


async def rows(bot, model):
    async with bot.runtime.sessions() as db:
        return list((await db.exec(select(model))).all())


async def at(bot, moment: datetime) -> None:
    """Move the clock to `moment` and let the service act on whatever is due."""
    bot.clock.set(moment)
    await bot.runtime.drain()


async def setup_group(bot, when: datetime) -> None:
    bot.clock.set(when - timedelta(hours=1))
    await bot.say("/khachhang Công ty Minh Phát")  # SALES becomes the assigned sales


async def alerts_to(bot, person: str) -> list[str]:
    return [r.text for r in await bot.outbox(target_kind="user", target_id=person)]
