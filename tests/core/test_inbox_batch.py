"""Pending events are processed in batches that commit together; an event that fails in a
batch costs the others nothing: they keep all their effects, it keeps none and is retried
up to MAX_ATTEMPTS times."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import col, select

from bot.core import group_commit, inbox
from bot.zalo.events import ZaloEvent
from storage.models import InboxEvent, Interaction
from tests.conftest import ON_POSTGRESQL
from tests.support import Bot

NOTES = [f"/ghichu goi ghi chú {n}" for n in range(6)]


async def _notes(bot: Bot) -> list[str]:
    async with bot.runtime.sessions() as db:
        return list((await db.exec(select(Interaction.note).order_by(col(Interaction.id)))).all())


async def _inbox(bot: Bot) -> list[tuple[str, int]]:
    async with bot.runtime.sessions() as db:
        rows = (await db.exec(select(InboxEvent).order_by(col(InboxEvent.id)))).all()
        return [(row.status, row.attempts) for row in rows]


async def test_events_pending_together_commit_together_in_arrival_order(bot: Bot) -> None:
    for text in NOTES:
        await bot.post(bot.message(text), drain=False)
    commits: list[int] = []
    engine = bot.runtime.engine.sync_engine
    listener = lambda _conn: commits.append(1)  # noqa: E731
    event.listen(engine, "commit", listener)
    try:
        assert await bot.runtime.inbox.process_pending() == len(NOTES)
    finally:
        event.remove(engine, "commit", listener)

    assert len(commits) < len(NOTES)
    assert await _notes(bot) == [f"ghi chú {n}" for n in range(6)]
    assert await _inbox(bot) == [("done", 0)] * len(NOTES)


async def test_a_failing_event_in_a_batch_leaves_the_others_their_effects(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = inbox.process_event

    async def breaks_on_three(db: Any, zalo_event: ZaloEvent, *args: Any, **kw: Any) -> Any:
        result = await real(db, zalo_event, *args, **kw)  # its effects are in the transaction
        if zalo_event.text and zalo_event.text.endswith("3"):
            raise RuntimeError("a bug in a rule")
        return result

    monkeypatch.setattr(inbox, "process_event", breaks_on_three)
    for text in NOTES:
        await bot.post(bot.message(text), drain=False)

    await bot.runtime.inbox.process_pending()
    assert await _notes(bot) == [f"ghi chú {n}" for n in (0, 1, 2, 4, 5)]
    statuses = await _inbox(bot)
    assert statuses[3] == ("failed", inbox.MAX_ATTEMPTS)  # retried, none of its effects kept
    assert statuses[:3] + statuses[4:] == [("done", 0)] * 5


async def test_a_claim_that_was_not_full_ends_the_pass(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No transaction is spent on an empty claim after a short batch; a full one, whose claim
    may have left events behind, is followed by another claim."""
    claims: list[int] = []
    real = inbox.Inbox._claim

    async def counted(self: inbox.Inbox, db: Any) -> Any:
        rows = await real(self, db)
        claims.append(len(rows))
        return rows

    monkeypatch.setattr(inbox.Inbox, "_claim", counted)
    monkeypatch.setattr(inbox, "BATCH_SECONDS", 60.0)  # no batch cut short by a slow machine
    monkeypatch.setattr(inbox, "SQLITE_YIELD_SECONDS", 60.0)
    for text in NOTES[:3]:
        await bot.post(bot.message(text), drain=False)
    assert await bot.runtime.inbox.process_pending() == 3
    assert claims == [3]
    monkeypatch.setattr(inbox, "BATCH_ROWS", 2)
    claims.clear()
    for text in NOTES[3:]:
        await bot.post(bot.message(text), drain=False)
    assert await bot.runtime.inbox.process_pending() == 3
    assert claims == [2, 1]
    assert await _notes(bot) == [f"ghi chú {n}" for n in range(6)]


async def _until(condition: Any) -> None:
    for _ in range(1000):  # turns of the event loop, not time
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("never happened")


async def _webhook_pressed(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> tuple[asyncio.Event, asyncio.Task[Any]]:
    """Two events stored, then a third whose group commit is held (one row is pressure
    here) until the returned event is set; the task is that third webhook call."""
    for text in NOTES[:2]:
        await bot.post(bot.message(text), drain=False)
    monkeypatch.setattr(group_commit, "GIVE_WAY_ROWS", 1)
    monkeypatch.setattr(group_commit, "GIVE_WAY_ROWS_SQLITE", 1)
    writer = bot.runtime.inbox._writer
    release = asyncio.Event()
    real = writer._insert

    async def held(rows: list[dict[str, Any]]) -> set[str]:
        await release.wait()
        return await real(rows)

    monkeypatch.setattr(writer, "_insert", held)
    acknowledged = asyncio.create_task(bot.post(bot.message(NOTES[2]), drain=False))
    await _until(lambda: writer.pressed)
    return release, acknowledged


async def test_processing_gives_way_while_the_webhook_is_busy_storing(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Acknowledgements first: while the webhook's group commit holds GIVE_WAY_ROWS events,
    the worker takes no batch; once they are stored, it processes everything, in order."""
    release, acknowledged = await _webhook_pressed(bot, monkeypatch)
    worker = asyncio.create_task(bot.runtime.inbox.process_pending())
    for _ in range(200):
        await asyncio.sleep(0)
    assert not worker.done()
    assert await _inbox(bot) == [("pending", 0)] * 2
    release.set()
    assert (await acknowledged).status == 200
    assert await worker == 3
    assert await _notes(bot) == [f"ghi chú {n}" for n in range(3)]


@pytest.mark.skipif(not ON_POSTGRESQL, reason="on SQLite a batch waits for queued inserts anyway")
async def test_processing_never_stops_altogether_under_pressure(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVE_WAY_SECONDS bounds each wait: a burst that never ends still gets processed."""
    monkeypatch.setattr(inbox, "GIVE_WAY_SECONDS", 0.0)
    release, acknowledged = await _webhook_pressed(bot, monkeypatch)
    assert await bot.runtime.inbox.process_pending() == 2  # while the insert is still held
    assert bot.runtime.inbox._writer.pressed
    release.set()
    assert (await acknowledged).status == 200
    assert await bot.runtime.inbox.process_pending() == 1
    assert await _notes(bot) == [f"ghi chú {n}" for n in range(3)]
