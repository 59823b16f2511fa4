"""POST /zalo/webhook: signature, storage before the answer, redelivery, bad input."""

from __future__ import annotations

import json

from sqlmodel import select

from bot.zalo.payloads import signed
from storage.models import InboxEvent, Message, QuarantinedEvent
from tests.support import CUSTOMER, GROUP, SALES


async def _inbox(bot):
    async with bot.runtime.sessions() as db:
        return list((await db.exec(select(InboxEvent))).all())


async def _messages(bot):
    async with bot.runtime.sessions() as db:
        return list((await db.exec(select(Message))).all())


async def test_a_signed_group_message_is_stored_and_answered(bot):
    response = await bot.say("/whoami")
    assert response.status == 200
    assert (await _inbox(bot))[0].status == "done"
    [message] = [m for m in await _messages(bot) if m.direction == "in"]
    assert (message.group_id, message.user_id, message.text) == (GROUP, SALES, "/whoami")
    assert message.sender_kind == "staff"
    assert "Nguyễn Văn An" in await bot.last_text()


async def _quarantined(bot):
    async with bot.runtime.sessions() as db:
        return list((await db.exec(select(QuarantinedEvent))).all())


async def test_a_forged_signature_is_acknowledged_quarantined_and_never_processed(bot):
    """Zalo disables a webhook that keeps failing: a bad signature gets 200, not 401."""
    raw, headers = signed(
        bot.message("/whoami"), app_id=bot.settings.signing_app_id, secret="wrong"
    )
    response = await bot.client.post("/zalo/webhook", data=raw, headers=headers)
    assert response.status == 200 and "not processed" in (await response.json())["message"]
    assert await _inbox(bot) == [] and await bot.outbox() == []
    [kept] = await _quarantined(bot)
    assert kept.body.encode() == raw and kept.signature == headers["X-ZEvent-Signature"]


async def test_a_missing_signature_is_acknowledged_and_quarantined(bot):
    body = json.dumps(bot.message("hello")).encode()
    response = await bot.client.post("/zalo/webhook", data=body)
    assert response.status == 200
    assert await _inbox(bot) == []
    assert [k.signature for k in await _quarantined(bot)] == [None]


async def test_signature_is_over_the_raw_bytes(bot):
    body = bot.message("xin chào")
    raw, headers = signed(
        body, app_id=bot.settings.signing_app_id, secret=bot.settings.signing_secret
    )
    reserialized = json.dumps(json.loads(raw), indent=2).encode()  # same JSON, other bytes
    response = await bot.client.post("/zalo/webhook", data=reserialized, headers=headers)
    assert response.status == 200
    assert await _inbox(bot) == [] and len(await _quarantined(bot)) == 1


async def test_signature_without_mac_prefix_is_accepted(bot):
    body = bot.message("hi")
    raw, headers = signed(
        body, app_id=bot.settings.signing_app_id, secret=bot.settings.signing_secret
    )
    headers["X-ZEvent-Signature"] = headers["X-ZEvent-Signature"].removeprefix("mac=")
    assert (await bot.client.post("/zalo/webhook", data=raw, headers=headers)).status == 200


async def test_the_same_event_three_times_has_one_effect_and_one_reply(bot):
    body = bot.message("/whoami")
    answers = [await bot.post(body) for _ in range(3)]
    assert [a.status for a in answers] == [200, 200, 200]
    assert [(await a.json())["duplicate"] for a in answers] == [False, True, True]
    assert len(await _inbox(bot)) == 1
    assert len([m for m in await _messages(bot) if m.direction == "in"]) == 1
    assert len(await bot.outbox()) == 1


async def test_console_url_check_without_an_event_gets_200(bot):
    for body in (b"", b"{}", b'{"hello": "zalo"}', b'{"event_name": ""}'):
        assert (await bot.client.post("/zalo/webhook", data=body)).status == 200
    assert await _inbox(bot) == [] and await _quarantined(bot) == []


async def test_malformed_bodies_get_200_and_no_effect(bot):
    """Whatever Zalo's console or a stranger sends, the answer keeps the webhook enabled."""
    cases = [b"not json", b"[1, 2]", b"\xff\xfe", b'{"event_name": "user_send_group_text"}']
    for raw in cases:
        response = await bot.client.post("/zalo/webhook", data=raw)
        assert response.status == 200, raw
        assert "message" in await response.json()
    assert await _inbox(bot) == []


async def test_an_oversized_body_gets_413(bot):
    body = bot.message("x" * (bot.settings.webhook_max_bytes + 10))
    response = await bot.post(body)
    assert response.status == 413
    assert await _inbox(bot) == []


async def test_unknown_event_is_stored_acknowledged_and_has_no_effect(bot):
    body = {
        "app_id": bot.settings.signing_app_id,
        "event_name": "user_seen_message",
        "sender": {"id": CUSTOMER},
        "recipient": {"id": "oa"},
        "timestamp": "1763863200000",
    }
    response = await bot.post(body)
    assert response.status == 200
    assert [row.status for row in await _inbox(bot)] == ["done"]
    assert await bot.outbox() == []


async def test_signed_event_missing_a_field_is_kept_and_marked_invalid(bot):
    body = bot.message("hi")
    del body["message"]["msg_id"]
    response = await bot.post(body)
    assert response.status == 200  # correctly signed: never dropped, never redelivered forever
    [row] = await _inbox(bot)
    assert row.status == "invalid" and "msg_id" in row.error


async def test_event_acknowledged_then_crash_is_processed_after_restart(make_bot, settings):
    first = await make_bot(settings)
    assert (await first.post(first.message("/whoami"), drain=False)).status == 200
    await first.client.close()  # the process dies before processing anything
    second = await make_bot(settings, workers=False)
    assert [row.status for row in await _inbox(second)] == ["pending"]
    await second.runtime.drain()
    assert [row.status for row in await _inbox(second)] == ["done"]
    assert "Nguyễn Văn An" in await second.last_text()


async def test_the_background_worker_processes_without_being_asked(make_bot, settings):
    live = await make_bot(settings, workers=True)
    await live.post(live.message("/whoami"), drain=False)
    for _ in range(200):  # wait for the event, not for a deadline
        if await live.outbox(status="sent"):
            break
        await __import__("asyncio").sleep(0.01)
    assert [row.status for row in await live.outbox()] == ["sent"]


async def test_oa_echo_is_recorded_but_triggers_nothing(bot):
    body = bot.message("/whoami", event_name="oa_send_group_text")
    body["sender"] = {"id": "388613280879808645"}
    await bot.post(body)
    [message] = await _messages(bot)
    assert message.direction == "out" and message.sender_kind == "oa"
    assert await bot.outbox() == []


async def test_customer_messages_keep_quote_and_attachments(bot):
    photo = {"type": "image", "payload": {"url": "https://example.invalid/p.jpg", "thumbnail": "t"}}
    await bot.say("hàng bị vỡ", sender=CUSTOMER, quote_msg_id="q123", attachments=[photo])
    [message] = [m for m in await _messages(bot) if m.direction == "in"]
    assert message.sender_kind == "customer"
    assert message.quote_msg_id == "q123"
    assert message.attachments == [photo]
    assert await bot.outbox(target_kind="group") == []  # a customer typing is not a command


async def test_ids_and_timestamps_stay_strings(bot):
    big = "7967320986128691935123"
    await bot.say("chào", sender=big)
    [message] = await _messages(bot)
    assert message.user_id == big and isinstance(message.zalo_timestamp, str)


async def test_membership_follows_lifecycle_events(bot):
    await bot.lifecycle("create_group")
    await bot.lifecycle("user_join_group", members=[CUSTOMER])
    await bot.lifecycle("user_out_group", members=[CUSTOMER])
    await bot.lifecycle("user_leave_group", members=[SALES])
    response = await bot.client.get(
        f"/api/groups/{GROUP}", headers={"Authorization": "Bearer test-admin-token"}
    )
    assert (await response.json())["members"] == []
    bot.clock.advance(minutes=5)  # a new event, not a redelivery of the first join
    await bot.lifecycle("user_join_group", members=[CUSTOMER])
    response = await bot.client.get(
        f"/api/groups/{GROUP}", headers={"Authorization": "Bearer test-admin-token"}
    )
    assert [m["zalo_user_id"] for m in (await response.json())["members"]] == [CUSTOMER]


async def test_healthz_reports_database_and_token_state(bot):
    response = await bot.client.get("/healthz")
    body = await response.json()
    assert response.status == 200
    assert body["database"] == "ok" and body["mode"] == "local"
    assert body["zalo"] == {"token": "local mode"}


async def test_healthz_in_live_mode_never_shows_the_token(live_bot):
    body = await (await live_bot.client.get("/healthz")).text()
    assert "env-access-token" not in body and "env-refresh-token" not in body
    assert json.loads(body)["zalo"]["token"] == "unknown_expiry"
