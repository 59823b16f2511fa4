"""The same event delivered concurrently to two processes on one database: one effect.

Two complete apps (each its own engine, inbox and outbox workers, as two `python webhook.py`
would have) share the test database; Zalo's redeliveries of each event hit both at the same
moment. Both answer 200; the inbox key lets exactly one store it, one process handles it (the
claim: SKIP LOCKED on PostgreSQL, the write lock on SQLite) and its reply is sent once.
tests/faults/test_fault_crash.py does the same against real processes, with a kill in the middle.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlmodel import select

from bot.app.factory import create_app
from bot.core.clock import FrozenClock
from bot.zalo.payloads import signed
from config.settings import Settings
from storage.models import InboxEvent, Interaction, OutboxMessage
from tests.fake_zalo import FakeZalo
from tests.support import SALES, Bot

EVENTS = 40
COPIES = 3  # deliveries of each event to each app, all at once
GROUPS = ("dup-group-a", "dup-group-b")


@pytest.fixture
async def pair(
    aiohttp_client: Callable[..., Any], live_settings: Settings, fake: FakeZalo, clock: FrozenClock
) -> tuple[Bot, Bot]:
    """Two apps on the same database, both pointed at the fake; workers off."""
    settings = live_settings.replace(zalo_api_base=fake.url, zalo_oauth_base=fake.url)
    bots = []
    for _ in range(2):
        app = create_app(settings, clock=clock, http=httpx.AsyncClient(), workers=False)
        bots.append(Bot(client=await aiohttp_client(app), app=app, clock=clock))
    return bots[0], bots[1]


async def deliver_everywhere(pair: tuple[Bot, Bot], body: dict[str, Any]) -> list[Any]:
    """POST the signed event COPIES times to each app, concurrently; the answers' JSON."""
    settings = pair[0].settings
    raw, headers = signed(body, app_id=settings.signing_app_id, secret=settings.signing_secret)
    posts = [
        b.client.post("/zalo/webhook", data=raw, headers=headers)
        for _ in range(COPIES)
        for b in pair
    ]
    answers = await asyncio.gather(*posts)
    assert [a.status for a in answers] == [200] * len(posts)
    return [await a.json() for a in answers]


async def test_one_event_delivered_to_two_processes_at_once_has_one_effect(
    pair: tuple[Bot, Bot], fake: FakeZalo
) -> None:
    first, second = pair
    bodies = [
        first.message(f"/ghichu goi tichcuc trùng lặp số {n}", group=GROUPS[n % 2], sender=SALES)
        for n in range(EVENTS)
    ]
    for body in bodies:
        answers = await deliver_everywhere(pair, body)
        assert sorted(a["duplicate"] for a in answers) == [False] + [True] * (len(answers) - 1)
    # Both processes work the same inbox and outbox at once, as their workers would.
    await asyncio.gather(first.runtime.drain(), second.runtime.drain())
    await asyncio.gather(first.runtime.drain(), second.runtime.drain())

    async with first.runtime.sessions() as db:
        statuses = Counter((await db.exec(select(InboxEvent.status))).all())
        notes = Counter((await db.exec(select(Interaction.note))).all())
        replies = Counter(
            (await db.exec(select(OutboxMessage.quote_msg_id, OutboxMessage.status))).all()
        )
    assert statuses == {"done": EVENTS}
    assert notes == {f"trùng lặp số {n}": 1 for n in range(EVENTS)}
    msg_ids = [b["message"]["msg_id"] for b in bodies]
    assert {(m, "sent"): 1 for m in msg_ids}.items() <= replies.items()
    texts = [str(c.message.get("text", "")) for c in fake.group_messages(ok=True)]
    sent = Counter(found[1] for t in texts if (found := re.search(r"trùng lặp số (\d+)\b", t)))
    assert sent == {str(n): 1 for n in range(EVENTS)}  # one reply each, at Zalo
