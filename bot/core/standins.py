"""Away staff (/vangmat): their 1:1 reminders and alerts go to the backup, or to the heads.

`redirect` runs as intents are queued (bot/outbox.enqueue), so every reminder, alert and
deadline of every rule follows the same path. A reply to the person's own message, a sign-in
link and a data export stay theirs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.intents import PRIVATE_TEMPLATES, Intent, SendUser
from storage import repo
from storage.models import Staff

KEEP = PRIVATE_TEMPLATES | {"away_set"}
HEADS = ("sales_head",)


def _redirectable(intent: Intent) -> bool:
    """A 1:1 message the bot sends on its own (not a reply to the person's own message, not a
    link meant for them alone)."""
    return (
        isinstance(intent, SendUser)
        and intent.quote_msg_id is None
        and (intent.template not in KEEP)
    )


async def redirect(
    db: AsyncSession, intents: Sequence[Intent], now: datetime
) -> list[tuple[Intent, dict[str, Any] | None]]:
    """Each intent with, when it was meant for someone away, the note to put before it
    (`away_forward`'s context); an away person's message becomes one for each stand-in."""
    wanted = {i.user_id for i in intents if isinstance(i, SendUser) and _redirectable(i)}
    if not wanted:
        return [(i, None) for i in intents]
    query = select(Staff).where(col(Staff.zalo_user_id).in_(wanted), col(Staff.away_until) > now)
    away = {s.zalo_user_id: s for s in (await db.exec(query)).all()}
    # each away person's stand-ins, looked up once whatever the number of their messages
    stand_ins = {uid: await _stand_ins(db, person, now) for uid, person in away.items()}
    out: list[tuple[Intent, dict[str, Any] | None]] = []
    for intent in intents:
        person = away.get(intent.user_id) if isinstance(intent, SendUser) else None
        if not isinstance(intent, SendUser) or person is None or not _redirectable(intent):
            out.append((intent, None))
            continue
        note = {"name": person.name, "until": person.away_until}
        who_stands_in = stand_ins[person.zalo_user_id]
        out += [(replace(intent, user_id=who), note) for who in who_stands_in] or [(intent, None)]
    return out


async def _stand_ins(db: AsyncSession, person: Staff, now: datetime) -> list[str]:
    """The backup when they are here, else the heads who are here (else the admins)."""
    if person.away_backup:
        backup = await repo.get_staff(db, user_id=person.away_backup)
        if backup and backup.active and not is_away(backup, now):
            return [backup.zalo_user_id]
    for roles in (HEADS, ("admin",)):
        people = [p for p in await repo.dm_receivers(db, roles=roles) if p != person.zalo_user_id]
        absent = select(Staff.zalo_user_id).where(
            col(Staff.zalo_user_id).in_(people), col(Staff.away_until) > now
        )
        gone = set((await db.exec(absent)).all()) if people else set()
        if here := [p for p in people if p not in gone]:
            return here
    return []


def is_away(staff: Staff, now: datetime) -> bool:
    """Whether `staff` is away (/vangmat) at `now`."""
    return staff.away_until is not None and staff.away_until > now
