"""Pages that only read never hold up the webhook's writes (SQLite's one write lock)."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from storage.db import make_read_sessions
from tests.conftest import START


async def test_a_long_read_does_not_block_a_write(bot):
    runtime = bot.runtime
    async with runtime.read_sessions() as reader:
        await reader.exec(text("SELECT count(*) FROM messages"))  # type: ignore[call-overload]
        # While the read transaction is open, an event is stored and committed.
        stored = await asyncio.wait_for(
            runtime.inbox.store(key="k1", event_name="x", body=b"{}", now=START), timeout=5
        )
        assert stored is True


async def test_read_sessions_can_still_write_when_asked_to(sessions):
    engine = sessions.kw["bind"]
    async with make_read_sessions(engine)() as db:
        await db.exec(text("CREATE TABLE IF NOT EXISTS scratch (x INTEGER)"))  # type: ignore[call-overload]
        await db.exec(text("INSERT INTO scratch VALUES (1)"))  # type: ignore[call-overload]
        await db.commit()
    async with sessions() as db:
        rows = (await db.exec(text("SELECT x FROM scratch"))).all()  # type: ignore[call-overload]
    assert [tuple(r) for r in rows] == [(1,)]
