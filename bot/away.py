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

from bot.intents import Intent, SendUser
from storage import repo
from storage.models import Staff

KEEP = frozenset({"login_link", "privacy_export_link", "away_set"})
HEADS = ("sales_head",)


async def redirect(
    db: AsyncSession, intents: Sequence[Intent], now: datetime
) -> list[tuple[Intent, dict[str, Any] | None]]:
    """Each intent with, when it was meant for someone away, the note to put before it
    (`away_forward`'s context); an away person's message becomes one for each stand-in."""
    wanted = {
        i.user_id for i in intents
        if isinstance(i, SendUser) and i.quote_msg_id is None and i.template not in KEEP
    }  # fmt: skip
    if not wanted:
        return [(i, None) for i in intents]
    query = select(Staff).where(col(Staff.zalo_user_id).in_(wanted), col(Staff.away_until) > now)
    away = {s.zalo_user_id: s for s in (await db.exec(query)).all()}
    if not away:
        return [(i, None) for i in intents]
    out: list[tuple[Intent, dict[str, Any] | None]] = []
    for intent in intents:
        person = away.get(intent.user_id) if isinstance(intent, SendUser) else None
        if person is None or not isinstance(intent, SendUser) or intent.quote_msg_id:
            out.append((intent, None))
            continue
        note = {"name": person.name, "until": person.away_until}
        stand_ins = await _stand_ins(db, person, now)
        if not stand_ins:
            out.append((intent, None))
            continue
        out += [
            (replace(intent, user_id=who), note) for who in stand_ins
        ]
    return out


async def _stand_ins(db: AsyncSession, person: Staff, now: datetime) -> list[str]:
    """The backup when they are here, else the heads (admins for an away head)."""
    if person.away_backup:
        backup = await repo.get_staff(db, user_id=person.away_backup)
        if backup and backup.active and not (backup.away_until and backup.away_until > now):
            return [backup.zalo_user_id]
    for roles in (HEADS, ("admin",)):
        people = [p for p in await repo.dm_receivers(db, roles=roles) if p != person.zalo_user_id]
        here = [p for p in people if not await _is_away(db, p, now)]
        if here:
            return here
    return []


async def _is_away(db: AsyncSession, user_id: str, now: datetime) -> bool:
    staff = await repo.get_staff(db, user_id=user_id)
    return bool(staff and staff.away_until and staff.away_until > now)
