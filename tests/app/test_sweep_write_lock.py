"""With nothing due, the deadline sweep, the outbox pass and the erasure worker open no writing
transaction.

On SQLite a writing transaction is BEGIN IMMEDIATE: it takes the one write lock the webhook's
inbox inserts want, four times a second. A read-only probe decides whether to take it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event

from bot.app import registry
from storage.db import READ_ONLY
from storage.models import OutboxMessage
from tests.support import CUSTOMER, SALES

VN = ZoneInfo("Asia/Ho_Chi_Minh")


@contextmanager
def writing_transactions(bot: Any) -> Iterator[list[str]]:
    """Each transaction begun on the bot's engine that may write (not a read-only session),
    and on SQLite each BEGIN IMMEDIATE sent."""
    engine = bot.runtime.engine.sync_engine
    seen: list[str] = []

    def on_begin(conn: Any) -> None:
        if not conn.get_execution_options().get(READ_ONLY):
            seen.append("begin")

    def on_statement(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.strip().upper().startswith("BEGIN IMMEDIATE"):
            seen.append(statement)

    event.listen(engine, "begin", on_begin)
    event.listen(engine, "before_cursor_execute", on_statement)
    try:
        yield seen
    finally:
        event.remove(engine, "begin", on_begin)
        event.remove(engine, "before_cursor_execute", on_statement)


async def test_an_idle_tick_and_outbox_pass_open_no_writing_transaction(bot):
    await bot.runtime.drain()
    with writing_transactions(bot) as seen:
        assert await bot.runtime.tick() == 0
        assert await bot.runtime.outbox.deliver_due() == 0
        assert await bot.runtime.erase_pending() == 0
    assert seen == []


async def test_an_open_clock_not_yet_due_takes_no_write_lock_until_it_is(bot):
    bot.clock.set(datetime(2026, 11, 23, 8, 0, tzinfo=VN))
    await bot.say("/khachhang Công ty Minh Phát")
    bot.clock.set(datetime(2026, 11, 23, 9, 0, tzinfo=VN))
    await bot.say("Cho em hỏi giá lô 500 thùng?", sender=CUSTOMER)
    bot.clock.set(datetime(2026, 11, 23, 9, 5, tzinfo=VN))
    with writing_transactions(bot) as seen:
        assert await bot.runtime.tick() == 0
    assert seen == []
    bot.clock.set(datetime(2026, 11, 23, 9, 10, tzinfo=VN))  # the reminder is due
    with writing_transactions(bot) as seen:
        assert await bot.runtime.tick() == 1
    assert seen
    [reminder] = await bot.outbox(target_kind="user", target_id=SALES)
    assert "Nhắc phản hồi" in reminder.text


async def test_a_message_waiting_for_its_retry_takes_no_write_lock_until_it_is_due(bot):
    now = bot.clock.now()
    async with bot.runtime.sessions() as db:
        db.add(
            OutboxMessage(
                target_kind="user",
                target_id=SALES,
                text="later",
                purpose="test",
                created_at=now,
                next_attempt_at=now + timedelta(seconds=30),
            )
        )
        await db.commit()
    with writing_transactions(bot) as seen:
        assert await bot.runtime.outbox.deliver_due() == 0
    assert seen == []
    bot.clock.advance(timedelta(seconds=30))
    assert await bot.runtime.outbox.deliver_due() == 1
    [row] = await bot.outbox(target_id=SALES)
    assert row.status == "sent"


def test_every_rule_with_a_sweep_has_a_probe():
    """A rule without one is swept (write lock) on every tick: give it a `due`."""
    for rule in registry.RULES:
        if rule.sweep is not None:
            assert rule.due is not None, rule.name
