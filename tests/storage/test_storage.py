from datetime import UTC, datetime, timedelta, timezone

from sqlmodel import select

from storage.models import AuditEntry


async def test_datetimes_come_back_aware_and_in_utc(sessions):
    moment = datetime(2026, 11, 23, 9, 0, tzinfo=timezone(timedelta(hours=7)))
    async with sessions() as db:
        db.add(AuditEntry(at=moment, actor_id="u1", action="test", detail={"k": "v"}))
        await db.commit()
    async with sessions() as db:
        entry = (await db.exec(select(AuditEntry))).one()
    assert entry.at == moment
    assert entry.at.tzinfo is not None and entry.at.utcoffset() == timedelta(0)
    assert entry.at.hour == 2 and entry.at.tzinfo == UTC
    assert entry.detail == {"k": "v"}
