"""Alerts that always reach someone (issue #16, section 4).

Zalo refuses a 1:1 message to a user who has not written to the OA in 7 days (-230) or does
not follow it (-213). A reminder or an alert to a staff member refused for good is re-routed
at once: into ZALO_ALERT_GROUP_ID with a mention of the person, else 1:1 to the heads and
admins who can receive; never into a customer's group. It waits on the dashboard until opened,
and the directory says who cannot receive 1:1 messages.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
import respx
from sqlmodel import select

from storage import repo
from storage.models import OutboxMessage, Staff, UndeliveredMessage
from tests.helpers.web import sign_in
from tests.support import ADMIN, GROUP, HEAD, SALES, Bot

API = "https://openapi.zalo.me"
CS_SEND = f"{API}/v3.0/oa/message/cs"
GROUP_SEND = f"{API}/v3.0/oa/group/message"
ALERTS = "alert-group-1"


def refused(code: int) -> httpx.Response:
    return httpx.Response(200, json={"error": code, "message": f"error {code}"})


def sent(message_id: str) -> httpx.Response:
    return httpx.Response(200, json={"error": 0, "data": {"message_id": message_id}})


@pytest.fixture
def zalo() -> Any:
    with respx.mock(assert_all_called=False) as mock:
        mock.post(f"{API}/v3.0/oa/group/invite").mock(return_value=sent("inv"))
        yield mock


async def _remind(bot: Bot, user_id: str, purpose: str = "sla_reminder") -> None:
    """A 1:1 reminder to `user_id`, queued as the SLA rule would, then delivered."""
    async with bot.runtime.sessions() as db:
        db.add(
            OutboxMessage(
                target_kind="user",
                target_id=user_id,
                text="Nhắc việc: khách ở nhóm Minh Phát chờ trả lời 12 phút",
                purpose=purpose,
                next_attempt_at=bot.clock.now(),
                created_at=bot.clock.now(),
            )
        )
        await db.commit()
    await bot.runtime.drain()


async def _sends(route: Any) -> list[dict[str, Any]]:
    return [json.loads(call.request.content) for call in route.calls]


async def test_a_refused_reminder_goes_to_the_alert_group_with_a_mention(
    make_bot: Any, live_settings: Any, zalo: Any
) -> None:
    bot = await make_bot(live_settings.replace(zalo_alert_group_id=ALERTS))
    zalo.post(CS_SEND).mock(return_value=refused(-230))
    groups = zalo.post(GROUP_SEND).mock(return_value=sent("g1"))
    await _remind(bot, SALES)
    [alert] = await _sends(groups)
    assert alert["recipient"] == {"group_id": ALERTS}
    assert f"[@{SALES}]" in alert["message"]["text"] and "12 phút" in alert["message"]["text"]
    assert all(call["recipient"]["group_id"] != GROUP for call in await _sends(groups))
    async with bot.runtime.sessions() as db:
        staff = await repo.get_staff(db, user_id=SALES)
        assert staff is not None and staff.dm_blocked_code == -230
        [kept] = (await db.exec(select(UndeliveredMessage))).all()
    assert kept.staff_id == SALES and kept.opened_at is None


async def test_without_an_alert_group_it_goes_1_to_1_to_heads_and_admins_who_can_receive(
    live_bot: Bot, zalo: Any
) -> None:
    async with live_bot.runtime.sessions() as db:  # the admin cannot receive either
        admin = await db.get(Staff, ADMIN)
        assert admin is not None
        admin.dm_blocked_code = -213
        db.add(admin)
        await db.commit()
    cs = zalo.post(CS_SEND).mock(
        side_effect=lambda request: (
            refused(-230)
            if json.loads(request.content)["recipient"]["user_id"] == SALES
            else sent("ok")
        )
    )
    await _remind(live_bot, SALES)
    receivers = [s["recipient"]["user_id"] for s in await _sends(cs)]
    assert receivers[0] == SALES and set(receivers[1:]) == {HEAD}


async def test_a_refused_sign_in_link_is_never_shown_to_anyone_else(
    make_bot: Any, live_settings: Any, zalo: Any
) -> None:
    bot = await make_bot(live_settings.replace(zalo_alert_group_id=ALERTS))
    zalo.post(CS_SEND).mock(return_value=refused(-230))
    groups = zalo.post(GROUP_SEND).mock(return_value=sent("g1"))
    await _remind(bot, SALES, purpose="login_link")
    assert await _sends(groups) == []


async def test_the_dashboard_shows_it_until_opened_and_the_directory_says_what_to_do(
    make_bot: Any, live_settings: Any, zalo: Any
) -> None:
    bot = await make_bot(live_settings.replace(zalo_alert_group_id=ALERTS))
    zalo.post(CS_SEND).mock(return_value=refused(-230))
    zalo.post(GROUP_SEND).mock(return_value=sent("g1"))
    await _remind(bot, SALES)
    sign_in(bot, HEAD)
    html = await (await bot.client.get("/dashboard")).text()
    assert "Tin nhắn chưa gửi được" in html and "12 phút" in html
    directory = await (await bot.client.get("/dashboard/directory")).text()
    assert "Không nhận được tin riêng" in directory
    sign_in(bot, SALES)
    html = await (await bot.client.get("/dashboard")).text()
    row = re.search(r'data-undelivered="(\d+)"', html)
    token = re.search(r'name="csrf" value="([^"]+)"', html)
    assert row and token
    answer = await bot.client.post(
        f"/dashboard/undelivered/{row[1]}/open", data={"csrf": token[1]}, allow_redirects=False
    )
    assert answer.status == 303
    assert "Tin nhắn chưa gửi được" not in await (await bot.client.get("/dashboard")).text()


async def test_writing_to_the_oa_makes_a_person_reachable_again(bot: Bot) -> None:
    async with bot.runtime.sessions() as db:
        staff = await db.get(Staff, SALES)
        assert staff is not None
        staff.dm_blocked_code = -230
        db.add(staff)
        await db.commit()
    await bot.dm("chào OA", sender=SALES)
    async with bot.runtime.sessions() as db:
        staff = await db.get(Staff, SALES)
        assert staff is not None and staff.dm_blocked_code is None
