"""/vangmat (/away): a staff member is away until a moment, with an optional backup.

Meanwhile the bot's 1:1 reminders and alerts for them go to the backup, or to the heads
when none is named (bot/core/standins.py redirects them as they are queued); replies to their own
commands still reach them. `/vangmat het` ends it early; the directory shows who is away.
Typed in a customer's group, the answer comes privately: the customer does not hear of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from bot.core.commands import ALL_STAFF, UsageError, command
from bot.core.context import Context
from bot.core.intents import Intent, SendUser
from bot.core.reasons import Refusal
from bot.core.standins import is_away
from bot.core.text import fold
from bot.core.textparse import parse_when
from storage import repo

BACK = frozenset({"het", "xong", "off", "end", "back", "comat", "ve"})
END_OF_DAY = time(23, 59)
MAX_WORDS = 5  # of a date and time: "thứ 2 tuần sau 8h sáng"


@dataclass(frozen=True)
class AwayArgs:
    words: tuple[str, ...]  # the moment, then the backup; empty: back now


def parse_away(raw: str) -> AwayArgs:
    words = tuple(raw.split())
    if not words:
        raise UsageError("away_when")
    if fold(" ".join(words)) in BACK:
        return AwayArgs(())
    return AwayArgs(words)


def _until(words: tuple[str, ...], now: datetime) -> tuple[datetime, str]:
    """The longest leading words that read as a moment, and the rest (the backup)."""
    for size in range(min(len(words), MAX_WORDS), 0, -1):
        try:
            moment = parse_when(" ".join(words[:size]), now, default_time=END_OF_DAY)
        except Refusal:
            continue
        return moment, " ".join(words[size:])
    raise UsageError("away_when")


@command("away", aliases=("vangmat", "nghiphep"), parse=parse_away, roles=ALL_STAFF,
         group_only=False)  # fmt: skip
async def away(ctx: Context, args: AwayArgs) -> list[Intent]:
    """Be away until a moment; reminders and alerts go to the backup (or the heads)."""
    me = await repo.get_staff(ctx.db, user_id=ctx.sender_id)
    assert me is not None  # ALL_STAFF
    if not args.words:
        was = is_away(me, ctx.now)
        me.away_until, me.away_backup = None, None
        ctx.db.add(me)
        await repo.audit(ctx.db, at=ctx.now, actor_id=ctx.sender_id, action="staff.back")
        return [_tell(ctx, name=me.name, until=None, backup=None, was_away=was)]
    until, ref = _until(args.words, ctx.now.astimezone(ctx.settings.tz))
    if until <= ctx.now:
        raise UsageError("away_past")
    backup = await repo.find_staff(ctx.db, ref=ref, fold=fold) if ref else None
    if ref and (backup is None or not backup.active):
        raise UsageError("away_no_backup", who=ref)
    if backup is not None and backup.zalo_user_id == me.zalo_user_id:
        raise UsageError("away_self")
    me.away_until, me.away_backup = until, backup.zalo_user_id if backup else None
    ctx.db.add(me)
    await repo.audit(
        ctx.db, at=ctx.now, actor_id=ctx.sender_id, action="staff.away",
        until=until.isoformat(), backup=me.away_backup,
    )  # fmt: skip
    backup_name = backup.name if backup else None
    return [_tell(ctx, name=me.name, until=until, backup=backup_name, was_away=False)]


def _tell(ctx: Context, **context: Any) -> Intent:
    """The answer goes to the person privately: a customer's group does not hear of it."""
    if ctx.event.group_id is None:
        return ctx.reply("away_set", **context)
    return SendUser(ctx.sender_id, "away_set", context)
