"""The outbox under a slow Zalo and a restart (issue #15, chaos run).

One hung Zalo call pushed every other group's replies from 0.13 s to 4.8 s: a pass waited for
its slowest group. When Zalo took a message and saving "sent" failed, the row went out again
after a 60 s lease, and its group waited that long. Now each group is delivered on its own
(order kept within it), leases are short and renewed while their process works, saving "sent"
is retried, and a restarted process takes its own sends back at once.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from bot.core import outbox as outbox_module
from storage.models import OutboxMessage
from tests.support import Bot


class Zalo:
    """A sender whose group "slow" hangs until released; every send is recorded in order."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.release = asyncio.Event()

    async def deliver(self, row: OutboxMessage) -> str | None:
        if row.target_id == "slow":
            await self.release.wait()
        self.sent.append(row.text)
        return f"z-{row.id}"


async def _queue(bot: Bot, *rows: tuple[str, str]) -> list[int]:
    async with bot.runtime.sessions() as db:
        made = [
            OutboxMessage(
                target_kind="group",
                target_id=target,
                text=text,
                next_attempt_at=bot.clock.now(),
                created_at=bot.clock.now(),
            )
            for target, text in rows
        ]
        db.add_all(made)
        await db.commit()
        return [row.id for row in made if row.id is not None]


async def _rows(bot: Bot) -> dict[str, OutboxMessage]:
    async with bot.runtime.sessions() as db:
        found = (await db.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all()
    return {row.text: row for row in found}


async def _until(condition: Any, what: str) -> None:
    for _ in range(500):
        if await condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never: {what}")


async def test_a_hung_group_does_not_hold_up_the_others(bot: Bot) -> None:
    zalo = Zalo()
    outbox = bot.runtime.outbox
    outbox.sender = zalo
    await _queue(bot, ("slow", "S1"), ("g1", "A1"), ("g1", "A2"), ("g2", "B1"))
    assert await outbox.deliver_due(wait=False) == 3  # three groups started, none waited for

    async def others_sent() -> bool:
        # sent, and their deliveries ended (saving "sent" comes after Zalo took the message)
        return sorted(zalo.sent) == ["A1", "A2", "B1"] and set(outbox._busy) == {"slow"}

    await _until(others_sent, "the other groups delivered")
    await _queue(bot, ("g1", "A3"), ("slow", "S2"))  # new replies while "slow" still hangs
    assert await outbox.deliver_due(wait=False) == 1  # g1 again; "slow" is left to itself

    async def a3_sent() -> bool:
        return "A3" in zalo.sent

    await _until(a3_sent, "a later reply of another group")
    assert "S1" not in zalo.sent
    zalo.release.set()

    async def all_sent() -> bool:
        await outbox.deliver_due(wait=False)
        return {"S1", "S2"} <= set(zalo.sent)

    await _until(all_sent, "the slow group, in its order")
    assert zalo.sent.index("S1") < zalo.sent.index("S2")
    assert zalo.sent.index("A1") < zalo.sent.index("A2") < zalo.sent.index("A3")


async def test_saving_sent_is_tried_again_before_the_message_could_go_out_twice(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    zalo = Zalo()
    outbox = bot.runtime.outbox
    outbox.sender = zalo
    monkeypatch.setattr(outbox_module, "SAVE_TRIES", (0.0, 0.0, 0.0))
    real, failures = outbox._sent, [1, 2]

    async def flaky(*args: Any) -> None:
        if failures:
            failures.pop()
            raise ConnectionError("the database was reset")
        await real(*args)

    monkeypatch.setattr(outbox, "_sent", flaky)
    await _queue(bot, ("g1", "A1"))
    await outbox.deliver_due()
    assert zalo.sent == ["A1"]
    assert (await _rows(bot))["A1"].status == "sent"
    await outbox.deliver_due()
    assert zalo.sent == ["A1"]


async def test_a_restarted_process_takes_its_own_sends_back_at_once(bot: Bot) -> None:
    outbox = bot.runtime.outbox
    mine, theirs = await _queue(bot, ("g1", "mine"), ("g2", "theirs"))
    async with bot.runtime.sessions() as db:
        for row_id, holder in ((mine, outbox.holder), (theirs, "other-host:8080")):
            row = await db.get(OutboxMessage, row_id)
            assert row is not None
            row.status, row.leased_by = "sending", holder
            row.next_attempt_at = bot.clock.now() + outbox_module.LEASE
            db.add(row)
        await db.commit()
    assert await outbox.take_back() == 1
    rows = await _rows(bot)
    assert (rows["mine"].status, rows["mine"].next_attempt_at) == ("pending", bot.clock.now())
    assert rows["theirs"].status == "sending"  # another process may still be sending it


async def test_a_lease_is_renewed_while_its_send_is_under_way(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox_module, "LEASE", timedelta(seconds=0.06))
    zalo = Zalo()
    outbox = bot.runtime.outbox
    outbox.sender = zalo
    await _queue(bot, ("slow", "S1"))
    runner = asyncio.create_task(outbox.run(poll_seconds=60))
    try:

        async def claimed() -> bool:
            return (await _rows(bot))["S1"].status == "sending"

        await _until(claimed, "the send claimed")
        first = (await _rows(bot))["S1"].next_attempt_at
        bot.clock.advance(seconds=30)  # business time moves on while Zalo hangs

        async def renewed() -> bool:
            return (await _rows(bot))["S1"].next_attempt_at > first

        await _until(renewed, "the lease pushed ahead")
        assert (await _rows(bot))["S1"].leased_by == outbox.holder
        zalo.release.set()

        async def sent() -> bool:
            return (await _rows(bot))["S1"].status == "sent"

        await _until(sent, "the send finished")
    finally:
        await outbox.shutdown(runner)
