"""Webhook defences: the replay window and the per-source rate limit."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlmodel import select

from bot.app.webhook import RATE_LIMITER, RateLimiter
from bot.zalo.payloads import signed
from config.settings import SettingsError, load_settings
from storage.models import InboxEvent, QuarantinedEvent

SECRET = "oa-secret-key-for-tests"  # a real secret: the replay window is enforced


async def _quarantined(bot):
    async with bot.runtime.sessions() as db:
        return list((await db.exec(select(QuarantinedEvent))).all())


async def _inbox(bot):
    async with bot.runtime.sessions() as db:
        return list((await db.exec(select(InboxEvent))).all())


@pytest.fixture
async def guarded(make_bot, settings):
    return await make_bot(settings.replace(zalo_oa_secret_key=SECRET))


async def test_a_replayed_old_event_is_acknowledged_and_not_stored(guarded, caplog):
    old = guarded.message("/whoami")
    guarded.clock.advance(hours=25)  # the default window is 24 h
    response = await guarded.post(old)
    assert response.status == 200  # a refusal would count towards disabling the webhook
    assert "replay window" in (await response.json())["message"]
    assert await _inbox(guarded) == []
    assert await guarded.outbox() == []
    assert "WEBHOOK_REPLAY_WINDOW" in caplog.text


async def test_an_event_from_the_future_beyond_the_window_is_refused(guarded):
    ahead = guarded.message("/whoami")
    guarded.clock.advance(hours=-25)
    assert (await guarded.post(ahead)).status == 200
    assert await _inbox(guarded) == []


async def test_a_late_redelivery_inside_the_window_is_accepted(guarded):
    body = guarded.message("/whoami")
    guarded.clock.advance(hours=12)  # Zalo's longest reported redelivery
    response = await guarded.post(body)
    assert response.status == 200
    assert [row.status for row in await _inbox(guarded)] == ["done"]


async def test_a_shorter_window_is_respected(make_bot, settings):
    bot = await make_bot(settings.replace(zalo_oa_secret_key=SECRET, webhook_replay_window="10m"))
    body = bot.message("/whoami")
    bot.clock.advance(minutes=11)
    assert (await bot.post(body)).status == 200
    assert await _inbox(bot) == []


async def test_the_window_can_be_turned_off(make_bot, settings):
    bot = await make_bot(settings.replace(zalo_oa_secret_key=SECRET, webhook_replay_window="off"))
    body = bot.message("/whoami")
    bot.clock.advance(days=30)
    assert (await bot.post(body)).status == 200


async def test_a_forged_old_event_is_a_signature_failure_not_a_replay(guarded):
    old = guarded.message("/whoami")
    guarded.clock.advance(hours=25)
    raw, headers = signed(old, app_id=guarded.settings.signing_app_id, secret="wrong")
    assert (await guarded.client.post("/zalo/webhook", data=raw, headers=headers)).status == 200
    metrics = await (await guarded.client.get("/metrics")).text()
    assert 'zalo_bot_webhook_events_total{outcome="rejected_signature"} 1' in metrics


def test_replay_window_setting_values():
    assert load_settings({}).replay_window == timedelta(hours=24)
    assert load_settings({"WEBHOOK_REPLAY_WINDOW": "0"}).replay_window is None
    assert load_settings({"WEBHOOK_REPLAY_WINDOW": "OFF"}).replay_window is None
    assert load_settings({"WEBHOOK_REPLAY_WINDOW": "10m"}).replay_window == timedelta(minutes=10)
    with pytest.raises(SettingsError, match="WEBHOOK_REPLAY_WINDOW"):
        load_settings({"WEBHOOK_REPLAY_WINDOW": "soon"})
    assert load_settings({}).webhook_rate_limit == 200
    assert load_settings({"WEBHOOK_RATE_LIMIT": "0"}).webhook_rate_limit == 0
    with pytest.raises(SettingsError, match="WEBHOOK_RATE_LIMIT"):
        load_settings({"WEBHOOK_RATE_LIMIT": "-1"})


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def limited(make_bot, settings):
    bot = await make_bot(settings.replace(webhook_rate_limit=3))
    fake = FakeMonotonic()
    bot.app[RATE_LIMITER].monotonic = fake
    return bot, fake


async def _forged(bot, text):
    """POST an event signed with a wrong key; its status."""
    raw, headers = signed(bot.message(text), app_id=bot.settings.signing_app_id, secret="wrong")
    return (await bot.client.post("/zalo/webhook", data=raw, headers=headers)).status


async def test_the_limit_drops_unsigned_traffic_over_it_with_200_then_refills(limited):
    bot, fake = limited
    assert [await _forged(bot, f"giả {i}") for i in range(5)] == [200] * 5
    assert len(await _quarantined(bot)) == 3  # over the limit: dropped, not kept
    fake.now += 1 / 3  # one token back
    await _forged(bot, "giả 5")
    await _forged(bot, "giả 6")
    assert len(await _quarantined(bot)) == 4
    metrics = await (await bot.client.get("/metrics")).text()
    assert 'zalo_bot_webhook_events_total{outcome="rate_limited"} 3' in metrics


async def test_correctly_signed_events_are_never_rate_limited(limited):
    """40 signed events at once under WEBHOOK_RATE_LIMIT=3: every one accepted and stored."""
    bot, _ = limited
    answers = await asyncio.gather(
        *[bot.post(bot.message(f"tin {i}"), drain=False) for i in range(40)]
    )
    assert [a.status for a in answers] == [200] * 40
    assert len(await _inbox(bot)) == 40


async def test_the_console_url_check_is_never_rate_limited(limited):
    bot, _ = limited
    for n in range(3):
        await _forged(bot, f"giả {n}")
    for _ in range(5):
        assert (await bot.client.post("/zalo/webhook", data=b"{}")).status == 200
    assert await _forged(bot, "khác") == 200
    assert len(await _quarantined(bot)) == 3


def test_the_limiter_is_per_source_and_zero_turns_it_off():
    fake = FakeMonotonic()
    limiter = RateLimiter(2, monotonic=fake)
    assert [limiter.check("a") for _ in range(3)] == [0, 0, 0.5]
    assert limiter.check("b") == 0
    off = RateLimiter(0, monotonic=fake)
    assert all(off.check("a") == 0 for _ in range(1000))
