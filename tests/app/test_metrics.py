"""GET /metrics: Prometheus text with counters and database gauges, never a secret."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.zalo.payloads import signed
from bot.zalo.token_store import DbTokenStore
from bot.zalo.tokens import TokenPair
from tests.support import CUSTOMER

SAMPLE = re.compile(r'^(\w+)(?:\{(\w+)="([^"]*)"\})? (-?[0-9.e+]+)$')


async def scrape(bot) -> tuple[str, dict[tuple[str, str | None], float]]:
    response = await bot.client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = await response.text()
    samples: dict[tuple[str, str | None], float] = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.match(r"^# (HELP|TYPE) \w+ .+$", line), line
            continue
        match = SAMPLE.match(line)
        assert match, f"not a Prometheus sample: {line!r}"
        name, _label, value, number = match.groups()
        samples[(name, value)] = float(number)
    return text, samples


async def test_counters_and_gauges_after_a_few_events_and_commands(bot):
    await bot.say("/khachhang Công ty Minh Phát")  # ok: the group gets a customer
    await bot.say("/whoami")  # ok
    await bot.say("/khongcolenhnay")  # unknown
    repeated = bot.message("/whoami")
    await bot.post(repeated)
    await bot.post(repeated)  # a redelivery: duplicate
    forged, headers = signed(bot.message("hi"), app_id=bot.settings.signing_app_id, secret="x")
    await bot.client.post("/zalo/webhook", data=forged, headers=headers)
    await bot.client.post("/zalo/webhook", data=b"not json")
    await bot.say("Cho em hỏi giá lô 500 thùng?", sender=CUSTOMER)  # opens an SLA clock
    bot.clock.advance(hours=2)  # past the deadline, whatever the working hours
    await bot.runtime.drain()
    await bot.post(bot.message("/whoami"), drain=False)  # stored, not processed yet

    _, samples = await scrape(bot)
    webhook = "zalo_bot_webhook_events_total"
    assert samples[(webhook, "stored")] == 6
    assert samples[(webhook, "duplicate")] == 1
    assert samples[(webhook, "rejected_signature")] == 1
    assert samples[(webhook, "bad_request")] == 1
    assert samples[(webhook, "rate_limited")] == 0
    assert samples[("zalo_bot_events_processed_total", "done")] == 5
    assert samples[("zalo_bot_events_processed_total", "failed")] == 0
    assert samples[("zalo_bot_commands_total", "ok")] == 3
    assert samples[("zalo_bot_commands_total", "unknown")] == 1
    assert samples[("zalo_bot_inbox_pending", None)] == 1
    assert samples[("zalo_bot_sla_clocks_open", None)] == 1
    assert samples[("zalo_bot_sla_clocks_breached", None)] == 1
    assert samples[("zalo_bot_outbox_failed", None)] == 0
    assert samples[("zalo_bot_outbox_backlog", None)] == 0
    assert samples[("zalo_bot_outbox_deliveries_total", "sent")] >= 4
    assert samples[("zalo_bot_database_up", None)] == 1
    assert ("zalo_bot_zalo_token_expires_in_seconds", None) not in samples  # local mode


async def test_undelivered_messages_show_as_backlog(bot):
    await bot.post(bot.message("/whoami"), drain=False)
    await bot.runtime.inbox.process_pending()  # the reply is queued, not delivered
    _, samples = await scrape(bot)
    queued = (
        await bot.outbox()
        + await bot.outbox(target_kind="invite")
        + await bot.outbox(target_kind="sync")  # the reading of the new group from Zalo
    )
    assert queued and all(row.status == "pending" for row in queued)
    assert samples[("zalo_bot_outbox_backlog", None)] == len(queued)
    assert samples[("zalo_bot_events_processed_total", "done")] == 1


async def test_token_expiry_is_shown_and_no_secret_or_customer_text_is(
    make_bot, live_settings, sessions, clock
):
    expires = clock.now() + timedelta(hours=2)
    await DbTokenStore(sessions, clock=clock).save(
        TokenPair("stored-access-token", "stored-refresh-token", expires)
    )
    bot = await make_bot(live_settings)
    await bot.post(bot.message("Số tài khoản của tôi là 0123456789"), drain=False)
    text, samples = await scrape(bot)
    assert samples[("zalo_bot_zalo_token_expires_in_seconds", None)] == 7200
    for secret in (
        "stored-access-token",
        "stored-refresh-token",
        "env-access-token",
        "env-refresh-token",
        "app-secret",
        "oa-secret-key",
        "test-admin-token",
        "0123456789",
        bot.settings.zalo_app_id,
        CUSTOMER,
    ):
        assert secret not in text


async def test_the_index_points_to_metrics(bot):
    assert (await (await bot.client.get("/")).json())["metrics"] == "/metrics"


async def test_one_key_value_log_line_per_processed_event(bot, caplog):
    caplog.set_level("INFO", logger="bot.core.inbox")
    good = bot.message("Số điện thoại 0987654321")
    bad = bot.message("hi")
    del bad["message"]["msg_id"]
    await bot.post(good)
    await bot.post(bad)
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.core.inbox"]
    assert len(lines) == 2
    done, invalid = lines
    msg_id = good["message"]["msg_id"]
    assert done == (
        f"event processed inbox_id=1 event={good['event_name']} msg_id={msg_id} outcome=done"
    )
    assert invalid.startswith("event processed inbox_id=2 ") and "outcome=invalid" in invalid
    assert "0987654321" not in "\n".join(lines)
