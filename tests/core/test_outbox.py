"""Delivery through the real Zalo API shape: retries, permanent errors, order, splitting."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from bot.core.enqueue import split_text
from bot.core.outbox import backoff
from tests.support import GROUP, HEAD, SALES

API = "https://openapi.zalo.me"
GROUP_SEND = f"{API}/v3.0/oa/group/message"
CS_SEND = f"{API}/v3.0/oa/message/cs"
OAUTH = "https://oauth.zaloapp.com/v4/oa/access_token"


def ok(message_id: str) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "error": 0,
            "message": "Success",
            "data": {"message_id": message_id, "group_id": GROUP},
        },
    )


def error(code: int) -> httpx.Response:
    return httpx.Response(200, json={"error": code, "message": f"error {code}"})


@pytest.fixture
def zalo():
    with respx.mock(assert_all_called=False) as mock:
        # a new group gets its sales head invited: not what these tests are about
        invited = httpx.Response(200, json={"error": 0, "data": {}})
        mock.post(f"{API}/v3.0/oa/group/invite").mock(return_value=invited)
        yield mock


async def test_reply_goes_to_the_group_quoting_the_command(live_bot, zalo):
    route = zalo.post(GROUP_SEND).mock(return_value=ok("zmsg-1"))
    await live_bot.say("/whoami")
    [call] = route.calls
    body = json.loads(call.request.content)
    assert call.request.headers["access_token"] == "env-access-token"
    assert body["recipient"] == {"group_id": GROUP}
    assert "Nguyễn Văn An" in body["message"]["text"]
    assert "quote_message_id" not in body["message"]  # undocumented for groups: never sent
    [row] = await live_bot.outbox()
    assert (row.status, row.zalo_message_id) == ("sent", "zmsg-1")


async def test_rate_limit_and_server_errors_are_retried_with_backoff(live_bot, zalo):
    route = zalo.post(GROUP_SEND).mock(
        side_effect=[error(-32), httpx.Response(503), httpx.ConnectError("down"), ok("zmsg-9")]
    )
    await live_bot.say("/whoami")
    [row] = await live_bot.outbox()
    assert (row.status, row.attempts, row.error_code) == ("pending", 1, -32)
    for attempt in (1, 2, 3):
        await live_bot.runtime.outbox.deliver_due()
        assert route.call_count == attempt  # not due yet: nothing is sent early
        live_bot.clock.advance(backoff(attempt))
        await live_bot.runtime.outbox.deliver_due()
    [row] = await live_bot.outbox()
    assert (row.status, row.zalo_message_id, route.call_count) == ("sent", "zmsg-9", 4)


async def test_permanent_error_is_recorded_and_the_staff_member_told(live_bot, zalo):
    zalo.post(GROUP_SEND).mock(return_value=error(-201))
    dm = zalo.post(CS_SEND).mock(return_value=ok("dm-1"))
    await live_bot.say("/whoami")
    live_bot.clock.advance(minutes=30)
    await live_bot.runtime.drain()
    reply, notice = await live_bot.outbox()
    assert (reply.status, reply.error_code, reply.attempts) == ("failed", -201, 1)
    assert (notice.target_kind, notice.target_id, notice.status) == ("user", SALES, "sent")
    assert "-201" in notice.text and "không gửi được" in notice.text
    assert dm.call_count == 1


async def test_messages_to_one_group_keep_their_order_across_retries(live_bot, zalo):
    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        text = json.loads(request.content)["message"]["text"]
        if not sent and "Nguyễn Văn An" in text and not getattr(answer, "failed", False):
            answer.failed = True  # type: ignore[attr-defined]
            return error(-32)
        sent.append(text)
        return ok(f"z{len(sent)}")

    zalo.post(GROUP_SEND).mock(side_effect=answer)
    await live_bot.say("/whoami")
    await live_bot.say("/lichsu", sender=HEAD)
    assert sent == []  # the second reply waits behind the first
    live_bot.clock.advance(backoff(1))
    await live_bot.runtime.drain()
    assert "Nguyễn Văn An" in sent[0] and len(sent) == 2


async def test_expired_token_refreshes_once_and_the_send_succeeds(live_bot, zalo):
    def answer(request: httpx.Request) -> httpx.Response:
        return ok("z1") if request.headers["access_token"] == "new-access" else error(-216)

    route = zalo.post(GROUP_SEND).mock(side_effect=answer)
    refresh = zalo.post(OAUTH).mock(
        return_value=httpx.Response(
            200,
            json={
                "access_token": "new-access",
                "refresh_token": "new-refresh",
                "expires_in": "90000",
            },
        )
    )
    await live_bot.say("/whoami")
    assert refresh.call_count == 1 and route.call_count == 2
    assert refresh.calls[0].request.headers["secret_key"] == "app-secret"
    assert b"refresh_token=env-refresh-token" in refresh.calls[0].request.content
    [row] = await live_bot.outbox()
    assert row.status == "sent"


async def test_the_rotated_token_survives_a_restart(make_bot, live_settings, zalo):
    zalo.post(OAUTH).mock(
        return_value=httpx.Response(
            200,
            json={
                "access_token": "new-access",
                "refresh_token": "new-refresh",
                "expires_in": 90000,
            },
        )
    )
    route = zalo.post(GROUP_SEND).mock(
        side_effect=lambda r: ok("z") if r.headers["access_token"] == "new-access" else error(-216)
    )
    first = await make_bot(live_settings)
    await first.say("/whoami")
    await first.client.close()
    second = await make_bot(live_settings)  # same (now stale) environment
    second.clock.advance(minutes=1)
    await second.say("/whoami")
    assert [c.request.headers["access_token"] for c in route.calls] == [
        "env-access-token",
        "new-access",
        "new-access",
    ]
    health = await (await second.client.get("/healthz")).json()
    assert health["zalo"]["token"] == "valid"


async def test_local_mode_stores_and_prints_instead_of_sending(bot, capsys):
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        await bot.say("/whoami")
        assert mock.calls.call_count == 0
    [row] = await bot.outbox()
    assert row.status == "sent" and row.zalo_message_id.startswith("local-")
    assert "Nguyễn Văn An" in capsys.readouterr().out


@pytest.mark.parametrize("length", [1, 1999, 2000, 2001, 4500, 10_000])
def test_split_text_keeps_every_piece_within_the_limit(length):
    text = ("Dòng thử nghiệm số một hai ba\n" * (length // 30 + 1))[:length]
    pieces = split_text(text)
    assert all(len(p) <= 2000 for p in pieces)
    assert "".join(pieces).replace("\n", "").replace(" ", "") == text.replace("\n", "").replace(
        " ", ""
    )


def test_split_text_never_cuts_a_mention():
    text = "a" * 1995 + "[@1000000000000000001] tiếp"
    pieces = split_text(text)
    assert pieces[0] == "a" * 1995 and pieces[1].startswith("[@1000000000000000001]")


def test_split_text_cuts_at_a_line_break_when_it_can():
    text = "x" * 1500 + "\n" + "y" * 1000
    assert split_text(text) == ["x" * 1500, "y" * 1000]
