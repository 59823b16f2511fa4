"""Zalo misbehaving for a while (5xx, error -32, timeouts): every message still goes out, in order
within each group.

The real app runs in-process against tests/fake_zalo.py on a real port; the frozen clock is moved
past each backoff instead of sleeping. A timeout is the one case Zalo may have delivered a message
the bot never heard back about: the retry sends it again (at-least-once at the edge), right after
the first copy, so the group still reads the messages in order.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta
from itertools import groupby
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from bot.app.factory import create_app
from bot.core.clock import FrozenClock
from bot.core.outbox import MAX_ATTEMPTS
from config.settings import Settings
from storage.models import OutboxMessage
from tests.fake_zalo import FakeZalo
from tests.support import Bot

GROUPS = ("fault-group-a", "fault-group-b", "fault-group-c")
PER_GROUP = 5
CLIENT_TIMEOUT = 0.3  # seconds; a held answer takes longer, so the bot's call times out
HELD = 0.8
LONGEST_BACKOFF = timedelta(minutes=10)  # bot/core/outbox.py backoff() is capped there
WAIT = 30.0


@pytest.fixture
async def zbot(
    aiohttp_client: Callable[..., Any], live_settings: Settings, fake: FakeZalo, clock: FrozenClock
) -> Bot:
    """The live app pointed at the fake, with a short HTTP timeout; workers off."""
    settings = live_settings.replace(zalo_api_base=fake.url, zalo_oauth_base=fake.url)
    http = httpx.AsyncClient(timeout=httpx.Timeout(CLIENT_TIMEOUT))
    app = create_app(settings, clock=clock, http=http, workers=False)
    return Bot(client=await aiohttp_client(app), app=app, clock=clock)


async def settled(fake: FakeZalo) -> None:
    """Wait (bounded) until the fake has answered every request it received."""
    deadline = time.monotonic() + WAIT
    while fake.in_flight:
        assert time.monotonic() < deadline, "the fake kept a request open"
        await asyncio.sleep(0.02)


async def outbox(bot: Bot) -> list[OutboxMessage]:
    async with bot.runtime.sessions() as db:
        query = select(OutboxMessage).where(OutboxMessage.target_kind == "group")
        return list((await db.exec(query.order_by(col(OutboxMessage.id)))).all())


async def deliver_through(bot: Bot, fake: FakeZalo, rounds: int = 40) -> int:
    """Deliver, let the fake finish, jump past every backoff; until nothing is left to send."""
    for done in range(rounds):
        await bot.runtime.outbox.deliver_due()
        await settled(fake)
        if all(row.status == "sent" for row in await outbox(bot)):
            return done
        bot.clock.advance(LONGEST_BACKOFF)
    raise AssertionError(f"still undelivered after {rounds} rounds: {await outbox(bot)}")


PHASES: list[tuple[str, Callable[[FakeZalo], None]]] = [
    ("5xx", lambda fake: (fake.fail_next(4, status=503), fake.fail_next(2, status=500))),
    ("-32", lambda fake: fake.fail_next(6, error=-32)),
    ("timeout", lambda fake: fake.hold_next(len(GROUPS), seconds=HELD)),  # late, but delivered
]


async def test_zalo_failing_for_a_while_still_delivers_everything_in_order(
    zbot: Bot, fake: FakeZalo
) -> None:
    for phase, misbehave in PHASES:
        for index in range(PER_GROUP):
            for group in GROUPS:
                text = f"/ghichu goi tichcuc {phase} {group} số {index}"
                await zbot.post(zbot.message(text, group=group), drain=False)
        await zbot.runtime.inbox.process_pending()
        misbehave(fake)
        await deliver_through(zbot, fake)

    rows = await outbox(zbot)
    assert len(rows) >= len(PHASES) * len(GROUPS) * PER_GROUP
    assert max(r.attempts for r in rows) < MAX_ATTEMPTS  # retried, never given up on
    refused = [c.status for c in fake.group_messages() if not c.ok]
    assert refused == [503] * 4 + [500] * 2 + [200] * 6  # the last six: error -32 in a 200
    for group in GROUPS:
        wanted = [r.text for r in rows if r.target_id == group]
        accepted = [c.message["text"] for c in fake.group_messages(group, ok=True)]
        assert [text for text, _ in groupby(accepted)] == wanted, group  # all there, in order
        copies = [len(list(same)) for _, same in groupby(accepted)]
        # One message per group was sent twice: the one whose answer came after the timeout.
        assert sorted(copies) == [1] * (len(copies) - 1) + [2], group
