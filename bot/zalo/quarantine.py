"""Webhook events whose signature failed: kept, never processed while they fail, checked again.

Zalo disables a webhook that keeps failing, so the webhook acknowledges (200) an event whose
signature fails instead of refusing it, and keeps it here: raw body, signature header, arrival
time. A wrong or rotated key then loses nothing: once the key is fixed and the service
restarted (or `python -m bot quarantine recheck`, or the admins' button on the dashboard), every
kept event that now verifies enters the inbox and is processed exactly once (its dedupe key is
the one a redelivery would have). The others stay until they expire.

A failed signature is also tried against the usual mistakes, and a match names the setting
that is probably wrong ("events are signed with ZALO_APP_SECRET"): a hint for the installer,
on /healthz and in the log; such events stay quarantined all the same.

The command line is bot/tools/quarantine.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.zalo.events import EventError, conversation_key, dedupe_key, load_body, verify_signature
from config.settings import Settings
from storage import repo
from storage.db import SessionFactory
from storage.fast.hot import dialect_of
from storage.models import InboxEvent, QuarantinedEvent

RECENT = timedelta(hours=24)  # "rejected_signature_24h", and how long a hint is shown

# The hints: what the failed signature matched instead, and the sentence that says so.
HINTS = {
    "ZALO_APP_SECRET": "events are signed with ZALO_APP_SECRET, not ZALO_OA_SECRET_KEY: put the "
    "OA's Secret Key (oa.zalo.me, Cài đặt, Công cụ lập trình) in ZALO_OA_SECRET_KEY",
    "ZALO_OA_ID": "events are signed with the OA id (ZALO_OA_ID) as first term instead of "
    "ZALO_APP_ID: check ZALO_APP_ID",
    "ZALO_APP_ID": "events carry another app_id than ZALO_APP_ID: set ZALO_APP_ID to the app id "
    "of the app linked to the OA",
}


def hint_for(
    settings: Settings, raw: bytes, body: dict[str, Any], signature: str | None
) -> str | None:
    """The setting a failed signature points at (a key of HINTS), or None."""
    timestamp = str(body.get("timestamp", ""))
    if not signature:
        return None
    app_id, secret = settings.signing_app_id, settings.signing_secret
    tries: list[tuple[str, str, str]] = []
    if settings.zalo_app_secret:
        tries.append(("ZALO_APP_SECRET", app_id, settings.zalo_app_secret))
    for oa_id in dict.fromkeys([settings.zalo_oa_id, str(body.get("oa_id") or "")]):
        if oa_id:
            tries.append(("ZALO_OA_ID", oa_id, secret))
    body_app = str(body.get("app_id") or "")
    if body_app and body_app != app_id:
        tries.append(("ZALO_APP_ID", body_app, secret))
    for setting, first, key in tries:
        if verify_signature(signature, first, raw, timestamp, key):
            return setting
    return None


async def hold(
    db: AsyncSession,
    *,
    raw: bytes,
    name: str,
    signature: str | None,
    source: str,
    hint: str | None,
    now: datetime,
    settings: Settings,
) -> None:
    """Keep one event whose signature failed, and drop what is past the bounds (the caller
    commits)."""
    db.add(
        QuarantinedEvent(
            received_at=now,
            event_name=name[:100],
            body=raw.decode("utf-8"),
            signature=(signature or "")[:200] or None,
            source=source[:64],
            hint=hint,
        )
    )
    await db.flush()
    await _trim(db, settings, now)


async def _trim(db: AsyncSession, settings: Settings, now: datetime) -> None:
    """At most WEBHOOK_QUARANTINE_MAX rows, none older than WEBHOOK_QUARANTINE_DAYS."""
    oldest = now - timedelta(days=settings.webhook_quarantine_days)
    newest_id = select(func.max(QuarantinedEvent.id)).scalar_subquery()
    await db.exec(
        delete(QuarantinedEvent).where(
            (col(QuarantinedEvent.received_at) < oldest)
            | (col(QuarantinedEvent.id) <= newest_id - settings.webhook_quarantine_max)
        )
    )


@dataclass(frozen=True)
class Rechecked:
    verified: int  # now verify: entered the inbox (or were there already)
    still_failing: int
    expired: int


async def recheck(sessions: SessionFactory, settings: Settings, now: datetime) -> Rechecked:
    """Check every kept event with the current key: those that verify enter the inbox (once,
    by their dedupe key) and leave the quarantine; expired ones are dropped."""
    verified = failing = 0
    async with sessions() as db:
        before = await _count(db)
        await _trim(db, settings, now)
        expired = before - await _count(db)
        rows = (await db.exec(select(QuarantinedEvent).order_by(col(QuarantinedEvent.id)))).all()
        for row in rows:
            if await _admit(db, row, settings):
                verified += 1
                await db.delete(row)
            else:
                failing += 1
        if verified and dialect_of(db) == "postgresql":
            await db.exec(text("SELECT pg_notify('inbox_events', '')"))  # type: ignore[call-overload]
        await db.commit()
    return Rechecked(verified, failing, expired)


async def _admit(db: AsyncSession, row: QuarantinedEvent, settings: Settings) -> bool:
    """Store the kept event in the inbox if it verifies now; whether it did."""
    raw = row.body.encode("utf-8")
    try:
        body = load_body(raw)
    except EventError:
        return False
    timestamp = str(body.get("timestamp", ""))
    if not verify_signature(
        row.signature, settings.signing_app_id, raw, timestamp, settings.signing_secret
    ):
        return False
    await repo.insert_once(
        db,
        InboxEvent,
        unique=["dedupe_key"],
        dedupe_key=dedupe_key(body, raw),
        conversation=conversation_key(body, settings.zalo_oa_id),
        event_name=row.event_name,
        body=row.body,
        received_at=row.received_at,
        status="pending",
        attempts=0,
    )
    return True


async def _count(db: AsyncSession) -> int:
    return int((await db.exec(select(func.count()).select_from(QuarantinedEvent))).one())


async def status(db: AsyncSession, now: datetime) -> dict[str, Any]:
    """What /healthz shows of the quarantine: how many kept, rejected lately, the hint."""
    recent = col(QuarantinedEvent.received_at) > now - RECENT
    rejected = select(func.count()).select_from(QuarantinedEvent).where(recent)
    hinted = (
        select(QuarantinedEvent.hint)
        .where(recent, col(QuarantinedEvent.hint).is_not(None))
        .order_by(col(QuarantinedEvent.id).desc())
        .limit(1)
    )
    hint = (await db.exec(hinted)).first()
    return {
        "quarantined": await _count(db),
        "rejected_signature_24h": int((await db.exec(rejected)).one()),
        "signature_hint": HINTS.get(hint) if hint else None,
    }


async def last_valid_event_at(db: AsyncSession) -> datetime | None:
    """When the newest correctly signed event arrived (the inbox's newest row)."""
    query = select(InboxEvent.received_at).order_by(col(InboxEvent.id).desc()).limit(1)
    return (await db.exec(query)).first()
