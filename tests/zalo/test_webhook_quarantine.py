"""Answers that keep Zalo delivering, and nothing lost (issue #16, section 1).

Zalo saves a webhook URL only when its check gets a 200 and disables one that keeps failing.
So everything that is not a storable event gets 200 and has no effect; an event whose signature
fails is kept in the quarantine and let in, exactly once, once the key is fixed; the usual key
mistakes are named; /healthz and /metrics say what the webhook sees.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlmodel import select

from bot.tools import quarantine as quarantine_tool
from bot.zalo import quarantine
from bot.zalo.payloads import signed, user_message
from storage.models import InboxEvent, Interaction, QuarantinedEvent
from tests.support import SALES, Bot

OA_KEY = "the-real-oa-secret-key"
APP_ID = "2553928453557884079"
APP_SECRET = "the-app-secret"
OA_ID = "388613280879808645"


async def _inbox(bot: Bot) -> list[InboxEvent]:
    async with bot.runtime.sessions() as db:
        return list((await db.exec(select(InboxEvent))).all())


async def _kept(bot: Bot) -> list[QuarantinedEvent]:
    async with bot.runtime.sessions() as db:
        return list((await db.exec(select(QuarantinedEvent))).all())


async def _notes(bot: Bot) -> list[str]:
    async with bot.runtime.sessions() as db:
        return sorted((await db.exec(select(Interaction.note))).all())


def _keys(settings: Any, oa_key: str) -> Any:
    return settings.replace(
        zalo_app_id=APP_ID, zalo_app_secret=APP_SECRET, zalo_oa_id=OA_ID, zalo_oa_secret_key=oa_key
    )


async def _send(bot: Bot, body: dict[str, Any], *, key: str, app_id: str = APP_ID) -> Any:
    raw, headers = signed(body, app_id=app_id, secret=key)
    return await bot.client.post("/zalo/webhook", data=raw, headers=headers)


# ------------------------------------------------------------------ 200 to what is not stored


async def test_the_consoles_sample_and_an_empty_body_get_200_and_no_effect(bot: Bot) -> None:
    sample = {  # Zalo's documented sample: its ids, its 12-digit timestamp
        "event_name": "user_send_text",
        "app_id": APP_ID,
        "sender": {"id": "6142494823xxxxxxxx"},
        "recipient": {"id": "3662729599332560487"},
        "message": {"text": "Chào A4B", "msg_id": "cb31dff1c39642cc1b83"},
        "timestamp": "154390853474",
    }
    settings = bot.settings
    signed_ok = await _send(
        bot, sample, key=settings.signing_secret, app_id=settings.signing_app_id
    )
    unsigned = await bot.client.post("/zalo/webhook", data=json.dumps(sample).encode())
    empty = await bot.client.post("/zalo/webhook", data=b"")
    assert [signed_ok.status, unsigned.status, empty.status] == [200, 200, 200]
    assert await _inbox(bot) == [] and await bot.outbox() == []


# ------------------------------------------------------------------ a wrong key loses nothing


async def test_a_wrong_key_then_the_fix_and_a_restart_processes_each_event_once(
    make_bot: Any, settings: Any
) -> None:
    wrong = await make_bot(_keys(settings, "a-key-somebody-mistyped"))
    first = wrong.message("/ghichu goi tichcuc cuộc gọi một", sender=SALES)
    second = wrong.message("/ghichu goi tichcuc cuộc gọi hai", sender=SALES)
    forged = wrong.message("/ghichu goi tichcuc giả mạo", sender=SALES)
    for body in (first, second, first):  # Zalo retries the first one
        assert (await _send(wrong, body, key=OA_KEY)).status == 200
    assert (await _send(wrong, forged, key="a-strangers-key")).status == 200
    await wrong.runtime.drain()
    assert await _inbox(wrong) == [] and await _notes(wrong) == []
    assert len(await _kept(wrong)) == 4
    health = await (await wrong.client.get("/healthz")).json()
    assert health["webhook"]["quarantined"] == 4
    assert health["webhook"]["rejected_signature_24h"] == 4

    fixed = await make_bot(_keys(settings, OA_KEY))  # the key fixed, the service restarted
    await fixed.runtime.drain()
    assert await _notes(fixed) == ["cuộc gọi hai", "cuộc gọi một"]
    assert (await _send(fixed, first, key=OA_KEY)).status == 200  # a late redelivery
    await fixed.runtime.drain()
    assert await _notes(fixed) == ["cuộc gọi hai", "cuộc gọi một"]
    [left] = await _kept(fixed)
    assert "giả mạo" in left.body  # the forged one never gets in
    done = await quarantine.recheck(fixed.runtime.sessions, fixed.settings, fixed.clock.now())
    assert (done.verified, done.still_failing) == (0, 1)


async def test_the_command_line_rechecks_on_demand(
    make_bot: Any, settings: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    wrong = await make_bot(_keys(settings, "mistyped"))
    assert (await _send(wrong, wrong.message("/ghichu goi tichcuc x"), key=OA_KEY)).status == 200
    for name, value in {
        "DATABASE_URL": settings.database_url,
        "ZALO_APP_ID": APP_ID,
        "ZALO_APP_SECRET": APP_SECRET,
        "ZALO_OA_SECRET_KEY": OA_KEY,
        "ZALO_ACCESS_TOKEN": "t",
        "WEBHOOK_QUARANTINE_DAYS": "60",  # the test's frozen clock is weeks behind the real one
    }.items():
        monkeypatch.setenv(name, value)
    assert await asyncio.to_thread(quarantine_tool.main, ["recheck"]) == 0
    assert "1 now verify" in capsys.readouterr().out
    assert len(await _inbox(wrong)) == 1 and await _kept(wrong) == []


# ------------------------------------------------------------------ the hints


@pytest.mark.parametrize(
    ("first", "key", "setting"),
    [
        (APP_ID, APP_SECRET, "ZALO_APP_SECRET"),
        (OA_ID, OA_KEY, "ZALO_OA_ID"),
        ("1111111111111111111", OA_KEY, "ZALO_APP_ID"),
    ],
)
async def test_a_failed_signature_names_the_setting_that_is_probably_wrong(
    make_bot: Any, settings: Any, first: str, key: str, setting: str
) -> None:
    bot = await make_bot(_keys(settings, OA_KEY))
    body = bot.message("xin chào")
    body["app_id"] = first if setting == "ZALO_APP_ID" else APP_ID
    assert (await _send(bot, body, key=key, app_id=first)).status == 200
    assert await _inbox(bot) == []  # a hint only: it stays quarantined
    health = await (await bot.client.get("/healthz")).json()
    assert setting in health["webhook"]["signature_hint"]
    metrics = await (await bot.client.get("/metrics")).text()
    assert "zalo_bot_webhook_signature_hint 1" in metrics


async def test_no_hint_for_a_plain_forgery(make_bot: Any, settings: Any) -> None:
    bot = await make_bot(_keys(settings, OA_KEY))
    await _send(bot, bot.message("giả"), key="anything")
    assert (await (await bot.client.get("/healthz")).json())["webhook"]["signature_hint"] is None


# ------------------------------------------------------------------ bounds and health


async def test_the_quarantine_keeps_at_most_its_bounds(make_bot: Any, settings: Any) -> None:
    bot = await make_bot(_keys(settings, OA_KEY).replace(webhook_quarantine_max=3))
    for n in range(5):
        await _send(bot, bot.message(f"giả {n}"), key="wrong")
    assert [json.loads(k.body)["message"]["text"] for k in await _kept(bot)] == [
        "giả 2",
        "giả 3",
        "giả 4",
    ]
    bot.clock.advance(days=bot.settings.webhook_quarantine_days, seconds=1)
    await _send(bot, bot.message("mới"), key="wrong")
    assert len(await _kept(bot)) == 1


async def test_healthz_shows_the_last_valid_event(bot: Bot) -> None:
    before = (await (await bot.client.get("/healthz")).json())["webhook"]
    assert before == {
        "last_valid_event_at": None,
        "quarantined": 0,
        "rejected_signature_24h": 0,
        "signature_hint": None,
    }
    await bot.say("xin chào")
    after = (await (await bot.client.get("/healthz")).json())["webhook"]
    assert after["last_valid_event_at"] == bot.clock.now().isoformat()


async def test_forty_signed_events_at_once_under_a_limit_of_five_are_all_taken(
    make_bot: Any, settings: Any
) -> None:
    bot = await make_bot(settings.replace(webhook_rate_limit=5))
    bodies = [
        user_message(
            user_id=SALES,
            text=f"tin {n}",
            at=bot.clock.now(),
            app_id=bot.settings.signing_app_id,
        )
        for n in range(40)
    ]
    answers = await asyncio.gather(*[bot.post(body, drain=False) for body in bodies])
    assert [a.status for a in answers] == [200] * 40
    assert len(await _inbox(bot)) == 40


async def test_an_admin_rechecks_from_the_dashboard(make_bot: Any, settings: Any) -> None:
    import re

    from tests.helpers.web import sign_in
    from tests.support import ADMIN

    wrong = await make_bot(_keys(settings, "mistyped"))
    await _send(wrong, wrong.message("/ghichu goi tichcuc từ bảng điều khiển"), key=OA_KEY)
    fixed = await make_bot(_keys(settings, "mistyped"))
    fixed.runtime.settings = _keys(settings, OA_KEY)  # the key fixed while it runs
    sign_in(fixed, ADMIN)
    html = await (await fixed.client.get("/dashboard")).text()
    assert 'id="quarantine"' in html
    token = re.search(r'name="csrf" value="([^"]+)"', html)
    assert token is not None
    answer = await fixed.client.post(
        "/dashboard/quarantine/recheck", data={"csrf": token[1]}, allow_redirects=False
    )
    assert answer.status == 303
    await fixed.runtime.drain()
    assert await _notes(fixed) == ["từ bảng điều khiển"]
