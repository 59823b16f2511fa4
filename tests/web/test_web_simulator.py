"""The simulator (/sim): messages typed on the page go through the real signed webhook."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from bot.app.factory import create_app
from bot.core.clock import AdjustableClock, SystemClock
from bot.web.sim_data import left_label, offset_label, text_parts
from bot.web.sim_events import SIM_STATE
from bot.zalo.events import load_body
from bot.zalo.payloads import signed
from storage import repo
from storage.models import InboxEvent
from tests.conftest import START
from tests.support import ACCOUNTANT, CUSTOMER, HEAD, SALES

SIM_GROUP = "sim-group-1"
HEADERS = {"X-Sim": "1"}


async def send(bot: Any, text: str, *, sender: str = CUSTOMER, **extra: Any) -> dict[str, Any]:
    """Type `text` on the simulator page as `sender`."""
    body = {"group": SIM_GROUP, "sender": sender, "text": text, **extra}
    response = await bot.client.post("/sim/send", json=body, headers=HEADERS)
    assert response.status == 200, await response.text()
    return dict(await response.json())


async def feed(bot: Any, **params: Any) -> dict[str, Any]:
    query = {"group": SIM_GROUP, **{k: str(v) for k, v in params.items()}}
    response = await bot.client.get("/sim/feed", params=query)
    assert response.status == 200, await response.text()
    return dict(await response.json())


async def advance(bot: Any, minutes: Any) -> Any:
    return await bot.client.post("/sim/clock", json={"minutes": minutes}, headers=HEADERS)


async def inbox(bot: Any) -> list[InboxEvent]:
    async with bot.runtime.sessions() as db:
        return list((await db.exec(select(InboxEvent).order_by(col(InboxEvent.id)))).all())


@pytest.fixture
async def bot(make_bot: Any, settings: Any) -> Any:
    """A local-mode bot whose test client has opened the simulator with the console's key."""
    return await (await make_bot(settings)).open_simulator()


def bot_messages(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in data["messages"] if m["direction"] == "out"]


# ------------------------------------------------------------------ only in local mode


@pytest.mark.parametrize("path", ["/sim", "/sim/feed"])
async def test_the_simulator_does_not_exist_outside_local_mode(make_bot, live_settings, path):
    live = await make_bot(live_settings)
    assert (await live.client.get(path)).status == 404


async def test_posting_to_the_simulator_outside_local_mode_is_404(make_bot, live_settings):
    live = await make_bot(live_settings)
    body = {"sender": CUSTOMER, "text": "xin chào"}
    assert (await live.client.post("/sim/send", json=body, headers=HEADERS)).status == 404
    assert (
        await live.client.post("/sim/clock", json={"minutes": 5}, headers=HEADERS)
    ).status == 404
    assert await inbox(live) == []


async def test_the_page_offers_the_customer_and_every_active_staff_member(bot):
    response = await bot.client.get("/sim")
    html = await response.text()
    assert response.status == 200
    assert 'id="sim-identity"' in html and f'value="{CUSTOMER}"' in html
    assert "Nguyễn Văn An · Kinh doanh" in html and "Phạm Thị Dung · Kế toán" in html
    assert 'value="sim-group-1"' in html and "/static/sim.js" in html


async def test_the_page_and_its_answers_are_in_english_on_request(bot):
    html = await (await bot.client.get("/sim?lang=en")).text()
    assert "Zalo group simulator" in html and "Customer" in html
    data = await feed(bot, lang="en")
    assert data["clock"]["local"].startswith("Mon 23/11/2026")


# ------------------------------------------------------------------ through the real webhook


async def test_a_message_goes_in_as_a_signed_event_and_the_reply_comes_back(bot):
    sent = await send(bot, "/whoami", sender=SALES)
    events = await inbox(bot)
    assert [e.event_name for e in events] == [
        "create_group",
        "user_join_group",
        "user_send_group_text",
    ]
    assert all(e.status == "done" for e in events)
    body = load_body(events[-1].body.encode())
    assert (body["sender"]["id"], body["message"]["msg_id"]) == (SALES, sent["msg_id"])
    data = await feed(bot)
    typed = next(m for m in data["messages"] if m["msg_id"] == sent["msg_id"])
    assert (typed["direction"], typed["name"], typed["role"]) == (
        "in",
        "Nguyễn Văn An",
        "Kinh doanh",
    )
    answer = next(m for m in bot_messages(data) if m["quote_msg_id"] == sent["msg_id"])
    assert (answer["name"], answer["role"]) == ("Bot CSKH", "Bot")
    assert answer["msg_id"].startswith("local-") and "Nguyễn Văn An" in answer["text"]


async def test_a_new_group_starts_with_the_customer_a_sales_and_the_head(bot):
    assert (await send(bot, "Chào shop"))["group_created"] is True
    assert (await send(bot, "Cho em hỏi giá"))["group_created"] is False
    async with bot.runtime.sessions() as db:
        members = {m.user_id for m in await repo.group_members(db, group_id=SIM_GROUP)}
    assert members == {CUSTOMER, SALES, HEAD}
    introduced = [m["text"] for m in bot_messages(await feed(bot))]
    assert any("Nguyễn Văn An" in text and "Lê Văn Cường" in text for text in introduced)


async def test_the_webhook_still_refuses_to_process_a_forged_signature(bot):
    raw, headers = signed(bot.message("/whoami"), app_id=bot.settings.signing_app_id, secret="x")
    response = await bot.client.post("/zalo/webhook", data=raw, headers=headers)
    assert response.status == 200  # acknowledged (issue #16) and kept aside, never processed
    assert await inbox(bot) == []


async def test_the_feed_only_returns_what_came_after_the_cursor(bot):
    await send(bot, "Chào shop")
    first = await feed(bot)
    assert first["messages"] and first["last_id"] == first["messages"][-1]["id"]
    again = await feed(bot, after=first["last_id"])
    assert again["messages"] == [] and again["last_id"] == first["last_id"]
    sent = await send(bot, "Cho em hỏi giá")
    assert [m["msg_id"] for m in (await feed(bot, after=first["last_id"]))["messages"]] == [
        sent["msg_id"]
    ]


async def test_an_unknown_sender_or_an_empty_text_is_refused(bot):
    for body in ({"sender": "42", "text": "hi"}, {"sender": CUSTOMER, "text": "  "}):
        response = await bot.client.post("/sim/send", json=body, headers=HEADERS)
        assert response.status == 400
    response = await bot.client.post(
        "/sim/send", json={"sender": CUSTOMER, "text": "hi", "group": "bad id!"}, headers=HEADERS
    )
    assert response.status == 400
    assert await inbox(bot) == []


# ------------------------------------------------------------------ mentions


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("xin chào", [{"text": "xin chào"}]),
        (
            "[@1] duyệt giúp",
            [{"mention": "1", "text": "@An"}, {"text": " duyệt giúp"}],
        ),
        ("gửi [@9]", [{"text": "gửi "}, {"mention": "9", "text": "@9"}]),
        ("<b>[ @1]</b>", [{"text": "<b>[ @1]</b>"}]),
        (
            "Mở http://localhost:8080/login?t=abc.",
            [
                {"text": "Mở "},
                {
                    "link": "http://localhost:8080/login?t=abc",
                    "text": "http://localhost:8080/login?t=abc",
                },
                {"text": "."},
            ],
        ),
        ("javascript:alert(1)", [{"text": "javascript:alert(1)"}]),
        ("", []),
    ],
)
def test_texts_split_into_plain_text_mentions_and_links(text, parts):
    assert text_parts(text, {"1": "An"}) == parts


async def test_the_payment_request_mentions_the_accountant_by_name(bot):
    await send(bot, "/thanhtoan 24tr chuyenkhoan coc", sender=SALES)
    request = next(m for m in bot_messages(await feed(bot)) if "Đề nghị duyệt" in m["text"])
    assert f"[@{ACCOUNTANT}]" in request["text"]
    assert {"mention": ACCOUNTANT, "text": "@Phạm Thị Dung"} in request["parts"]
    assert {"mention": SALES, "text": "@Nguyễn Văn An"} in request["parts"]


# ------------------------------------------------------------------ payments by reply


async def test_replying_to_the_request_as_the_accountant_approves_it(bot):
    await send(bot, "/thanhtoan 24tr chuyenkhoan coc dot 1", sender=SALES)
    data = await feed(bot)
    assert [(p["status"], p["status_label"]) for p in data["payments"]] == [
        ("pending", "chờ duyệt")
    ]
    request = next(m for m in bot_messages(data) if "Đề nghị duyệt" in m["text"])
    await send(bot, "duyệt", sender=ACCOUNTANT, quote_msg_id=request["msg_id"])
    data = await feed(bot)
    assert [(p["status"], p["status_label"], p["amount"]) for p in data["payments"]] == [
        ("approved", "đã duyệt", "24.000.000 ₫")
    ]
    assert any("Đã duyệt" in m["text"] for m in bot_messages(data))


async def test_a_sales_replying_ok_does_not_approve(bot):
    await send(bot, "/thanhtoan 5tr", sender=SALES)
    request = next(m for m in bot_messages(await feed(bot)) if "Đề nghị duyệt" in m["text"])
    await send(bot, "ok", sender=SALES, quote_msg_id=request["msg_id"])
    assert [p["status"] for p in (await feed(bot))["payments"]] == ["pending"]


# ------------------------------------------------------------------ SLA and the clock


async def test_the_sla_panel_shows_who_waits_until_staff_answer(bot):
    assert (await feed(bot))["sla"] == []
    await send(bot, "Cho em hỏi giá lô 500 thùng")
    [clock] = (await feed(bot))["sla"]
    assert (clock["customer_id"], clock["name"]) == (CUSTOMER, "Khách hàng")
    assert clock["deadline"] == "T2 23/11/2026 09:15"
    assert (clock["left"], clock["overdue"]) == ("còn 15 phút", False)
    await send(bot, "Dạ em gửi báo giá ạ", sender=SALES)
    assert (await feed(bot))["sla"] == []


async def test_moving_the_clock_brings_the_breach_alert_without_waiting(bot):
    await send(bot, "Cho em hỏi giá lô 500 thùng")
    before = (await feed(bot))["last_id"]
    response = await advance(bot, 20)
    assert response.status == 200
    moved = await response.json()
    assert bot.clock.now() == START + timedelta(minutes=20)
    assert moved["clock"]["local"] == "T2 23/11/2026 09:20:00"
    assert moved["clock"]["offset"] == "Nhanh hơn giờ thật +20 phút"
    data = await feed(bot, after=before)
    [alert] = [m for m in data["messages"] if "Quá hạn phản hồi" in m["text"]]
    assert (alert["private"], alert["to"], alert["to_name"]) == (True, HEAD, "Lê Văn Cường")
    [clock] = data["sla"]
    assert (clock["left"], clock["overdue"]) == ("quá hạn 5 phút", True)


async def test_the_clock_panel_shows_the_simulated_time(bot):
    clock = (await feed(bot))["clock"]
    assert clock["local"] == "T2 23/11/2026 09:00:00"
    assert clock["now"] == START.isoformat() and clock["movable"] is True


@pytest.mark.parametrize("minutes", [0, -5, "15", 1.5, True, None, 10**9])
async def test_the_clock_takes_only_a_positive_number_of_minutes(bot, minutes):
    response = await advance(bot, minutes)
    assert response.status == 400
    assert "Số phút" in (await response.json())["message"]
    assert bot.clock.now() == START


async def test_make_runs_adjustable_clock_jumps_ahead_of_real_time(aiohttp_client, settings):
    app = create_app(settings, clock=AdjustableClock(), workers=False)
    client = await aiohttp_client(app)
    await client.get(f"/sim?key={app[SIM_STATE].key}")
    response = await client.post("/sim/clock", json={"minutes": 90}, headers=HEADERS)
    assert response.status == 200
    clock = (await response.json())["clock"]
    assert (clock["offset_minutes"], clock["offset"]) == (90, "Nhanh hơn giờ thật +1 giờ 30 phút")


async def test_a_clock_that_cannot_move_is_a_clear_409(bot):
    bot.runtime.clock = SystemClock()
    response = await advance(bot, 15)
    assert response.status == 409
    assert "Không tua được đồng hồ" in (await response.json())["message"]


@pytest.mark.parametrize(
    ("offset", "label"),
    [
        (timedelta(0), "Đúng giờ thật"),
        (timedelta(minutes=15), "Nhanh hơn giờ thật +15 phút"),
        (timedelta(days=1, hours=2, minutes=5), "Nhanh hơn giờ thật +1 ngày 2 giờ 5 phút"),
    ],
)
def test_the_offset_from_real_time_reads_naturally(offset, label):
    assert offset_label(offset, "vi") == label


@pytest.mark.parametrize(
    ("delta", "label"),
    [
        (timedelta(minutes=12, seconds=30), "còn 12 phút"),
        (timedelta(hours=1, minutes=5), "còn 1 giờ 5 phút"),
        (timedelta(minutes=-5), "quá hạn 5 phút"),
    ],
)
def test_time_left_reads_naturally(delta, label):
    assert left_label(delta, "vi") == label


# ------------------------------------------------------------------ 1:1 with the OA


async def test_the_private_panel_shows_the_identitys_one_to_one_chat(bot):
    await send(bot, "/whoami", sender=SALES, direct=True)
    data = await feed(bot, user=SALES)
    assert [m["direction"] for m in data["dm"]] == ["in", "out"]
    assert "Nguyễn Văn An" in data["dm"][1]["text"]
    assert data["messages"] == []  # nothing went into the group
    played = await bot.client.post("/sim/identity", json={"user": HEAD}, headers=HEADERS)
    assert played.status == 200
    assert (await feed(bot))["dm"] == []
    # asking for another identity's chat by name reaches nothing but the one played
    assert (await feed(bot, user=SALES))["dm"] == []


async def test_an_alert_the_group_caused_shows_in_the_feed_marked_private(bot):
    await send(bot, "Em cho anh nợ 30 ngày nhé", sender=SALES)
    flagged = [m for m in (await feed(bot))["messages"] if m["private"]]
    assert flagged and {m["to"] for m in flagged} == {HEAD}
    assert all("Nguyễn Văn An" in m["text"] for m in flagged)


async def test_a_sign_in_link_shows_only_in_the_askers_private_panel_as_a_link(bot):
    await send(bot, "/dangnhap", sender=SALES)
    [link] = [p for m in (await feed(bot, user=SALES))["dm"] for p in m["parts"] if "link" in p]
    assert link["link"].startswith("http://localhost:8080/login/")
    group = await feed(bot)
    assert not any(m["private"] or "/login/" in m["text"] for m in bot_messages(group))


# ------------------------------------------------------------------ only this page may post


@pytest.mark.parametrize(
    ("headers", "kwargs"),
    [
        ({}, {"json": {"sender": CUSTOMER, "text": "hi"}}),
        ({"X-Sim": "0"}, {"json": {"sender": CUSTOMER, "text": "hi"}}),
        (HEADERS, {"data": {"sender": CUSTOMER, "text": "hi"}}),  # a form post
        (
            {**HEADERS, "Content-Type": "text/plain"},
            {"data": json.dumps({"sender": CUSTOMER, "text": "hi"})},
        ),
        (
            {**HEADERS, "Origin": "https://evil.example"},
            {"json": {"sender": CUSTOMER, "text": "hi"}},
        ),
        ({**HEADERS, "Origin": "null"}, {"json": {"sender": CUSTOMER, "text": "hi"}}),
    ],
)
@pytest.mark.parametrize("path", ["/sim/send", "/sim/clock"])
async def test_posts_from_anywhere_but_the_page_are_forbidden(bot, path, headers, kwargs):
    response = await bot.client.post(path, headers=headers, **kwargs)
    assert response.status == 403
    assert await inbox(bot) == [] and bot.clock.now() == START


async def test_a_post_with_this_hosts_origin_is_accepted(bot):
    origin = f"http://{bot.client.host}:{bot.client.port}"
    response = await bot.client.post(
        "/sim/clock", json={"minutes": 5}, headers={**HEADERS, "Origin": origin}
    )
    assert response.status == 200


async def test_each_customer_message_shows_whether_it_starts_the_clock(bot):
    """The simulator shows the request classifier's decision (issue #18)."""
    await send(bot, "Cho chị xin báo giá 10 thùng")
    await send(bot, "Hàng về đủ rồi nha em, thanks")
    await send(bot, "/whoami", sender=SALES)
    messages = [m for m in (await feed(bot))["messages"] if m["direction"] == "in"]
    verdicts = [m["verdict"] for m in messages]
    assert verdicts[0] == {
        "needs_reply": True,
        "reason": "ask",
        "label": "⏱ cần trả lời: yêu cầu, đặt hàng",
    }
    assert verdicts[1]["needs_reply"] is False and verdicts[1]["reason"] == "received"
    assert verdicts[2] is None  # staff messages need no verdict
