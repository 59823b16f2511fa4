"""Deal stages, department invites, staff introductions and handover."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
import respx
from sqlmodel import select

from bot.features.deals.rule import transition
from storage.models import AuditEntry, Group, Reminder, SlaClock
from tests.support import ACCOUNTANT, CUSTOMER, GROUP, HEAD, SALES, SALES2, SHIPPING, WAREHOUSE

VN = ZoneInfo("Asia/Ho_Chi_Minh")
AUTH = {"Authorization": "Bearer test-admin-token"}


async def group_row(bot) -> Group:
    async with bot.runtime.sessions() as db:
        return await db.get(Group, GROUP)


@pytest.mark.parametrize(
    ("current", "target", "role", "refusal"),
    [
        ("new", "quoting", "sales", None),
        ("new", "won", "sales", None),
        ("quoting", "won", "sales", None),
        ("won", "fulfilled", "sales", None),
        ("fulfilled", "after_sales", "sales", None),
        ("won", "quoting", "sales", "backward_needs_head"),
        ("won", "quoting", "sales_head", None),
        ("quoting", "lost", "sales", None),
        ("lost", "new", "sales", "reopen_needs_head"),
        ("lost", "quoting", "sales_head", None),
        ("won", "won", "sales", "same_stage"),
        ("new", "paid", "sales", "unknown_stage"),
    ],
)
def test_stage_transitions(current, target, role, refusal):
    assert transition(current, target, role) == refusal


async def test_a_new_group_gets_the_sales_head_invited(bot):
    await bot.say("Chào shop", sender=CUSTOMER)
    assert await bot.invites() == [[HEAD]]
    await bot.say("Cho hỏi giá", sender=CUSTOMER)
    assert await bot.invites() == [[HEAD]]  # only when the group first appears


async def test_no_invite_when_the_head_is_the_one_who_opened_it(bot):
    await bot.say("/whoami", sender=HEAD)
    assert await bot.invites() == []


async def test_won_invites_accounting_warehouse_and_shipping(bot):
    await bot.say("/khachhang Công ty Minh Phát")
    await bot.say("/chotdon")
    assert (await group_row(bot)).stage == "won"
    assert await bot.invites() == [[HEAD], [ACCOUNTANT, WAREHOUSE, SHIPPING]]
    text = await bot.last_text()
    assert "Hợp đồng đã chốt" in text
    assert "Phạm Thị Dung — Kế toán" in text and "Võ Thị Giang — Kho" in text
    assert "Đặng Văn Hải — Vận chuyển" in text


async def test_departments_already_in_the_group_are_not_invited_again(bot):
    await bot.say("/khachhang Công ty Minh Phát")
    await bot.lifecycle("user_join_group", members=[ACCOUNTANT, WAREHOUSE, SHIPPING])
    await bot.say("/chotdon")
    assert await bot.invites() == [[HEAD]]
    assert "đã có trong nhóm" in await bot.last_text()


async def test_staff_who_join_are_introduced_to_the_group(bot):
    await bot.say("Chào", sender=CUSTOMER)
    await bot.lifecycle("user_join_group", members=[ACCOUNTANT, CUSTOMER])
    text = await bot.last_text()
    assert text.startswith(f"Chào mừng [@{ACCOUNTANT}] (Kế toán)") and "xác nhận thanh toán" in text
    assert f"[@{CUSTOMER}]" not in text


async def test_a_failed_invite_is_reported_to_the_sales_and_the_head(live_bot):
    with respx.mock(assert_all_called=False) as zalo:
        zalo.post("https://openapi.zalo.me/v3.0/oa/group/message").mock(
            return_value=httpx.Response(200, json={"error": 0, "data": {"message_id": "m1"}})
        )
        zalo.post("https://openapi.zalo.me/v3.0/oa/group/invite").mock(
            return_value=httpx.Response(
                200, json={"error": -213, "message": "User has not followed OA"}
            )
        )
        dm = zalo.post("https://openapi.zalo.me/v3.0/oa/message/cs").mock(
            return_value=httpx.Response(200, json={"error": 0, "data": {"message_id": "d1"}})
        )
        await live_bot.say("/khachhang Công ty Minh Phát", sender=SALES)
        await live_bot.say("/chotdon", sender=SALES)
        told = {json.loads(c.request.content)["recipient"]["user_id"] for c in dm.calls}
        texts = [json.loads(c.request.content)["message"]["text"] for c in dm.calls]
    assert {SALES, HEAD} <= told
    assert any("follow" in t and "-213" in t for t in texts)


async def test_moving_back_needs_a_head_and_lost_needs_a_reason(bot):
    await bot.say("/khachhang Công ty Minh Phát")
    await bot.say("/chotdon")
    await bot.say("/giaidoan baogia")
    assert "Chỉ trưởng phòng" in await bot.last_text()
    await bot.say("/giaidoan baogia", sender=HEAD)
    assert (await group_row(bot)).stage == "quoting"
    await bot.say("/thatbai")
    assert "cần ghi lý do" in await bot.last_text()
    await bot.say("/thatbai Khách chọn nhà cung cấp khác")
    row = await group_row(bot)
    assert (row.stage, row.lost_reason) == ("lost", "Khách chọn nhà cung cấp khác")
    await bot.say("/giaidoan moi")
    assert "mở lại" in await bot.last_text()


async def test_another_sales_cannot_move_someone_elses_deal(bot):
    await bot.say("/khachhang Công ty Minh Phát")
    await bot.say("/chotdon", sender=SALES2)
    assert "sales khác phụ trách" in await bot.last_text()
    assert (await group_row(bot)).stage == "new"


async def test_handover_summarises_introduces_moves_and_schedules_follow_ups(bot):
    bot.clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=VN))
    await bot.say("/khachhang Công ty Minh Phát sdt=0901234567")
    await bot.say("/ghichu goi tichcuc Khách cần báo giá 500 thùng")
    await bot.say("Khi nào có báo giá?", sender=CUSTOMER)
    await bot.say("/bangiao Trần Thị Bình")
    summary, intro = (await bot.texts())[-2:]
    assert "Bàn giao khách hàng Công ty Minh Phát từ Nguyễn Văn An sang Trần Thị Bình" in summary
    assert "Khách cần báo giá 500 thùng" in summary and "0901234567" in summary
    assert intro.startswith("Kính gửi anh/chị") and f"[@{SALES2}]" in intro
    assert (await group_row(bot)).assigned_sales_id == SALES2
    assert [SALES2] in await bot.invites()
    async with bot.runtime.sessions() as db:
        reminders = (await db.exec(select(Reminder))).all()
        audit = (
            await db.exec(select(AuditEntry).where(AuditEntry.action == "deal.handover"))
        ).one()
    assert {r.user_id for r in reminders} == {HEAD, SALES2}
    assert audit.detail["after"] == SALES2
    bot.clock.set(datetime(2026, 11, 26, 8, 59, tzinfo=VN))
    await bot.runtime.drain()
    assert await bot.outbox(target_kind="user", target_id=SALES2) == []
    bot.clock.set(datetime(2026, 11, 26, 9, 0, tzinfo=VN))  # one working day later
    await bot.runtime.drain()
    await bot.runtime.drain()
    [follow_up] = await bot.outbox(target_kind="user", target_id=SALES2)
    assert "Nhắc theo dõi sau bàn giao" in follow_up.text


async def test_handover_moves_the_open_sla_clock(bot):
    bot.clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=VN))
    await bot.say("/khachhang Công ty Minh Phát")
    await bot.say("/bangiao 1000000000000000002", sender=HEAD)
    await bot.say("Anh Bình ơi cho hỏi", sender=CUSTOMER)
    async with bot.runtime.sessions() as db:
        clock = (await db.exec(select(SlaClock))).one()
    assert clock.owner_id == SALES2


async def test_handover_refusals(bot):
    await bot.say("/khachhang Công ty Minh Phát")
    await bot.say("/bangiao Không Ai Cả")
    assert "Không tìm thấy" in await bot.last_text()
    await bot.say("/bangiao 1000000000000000004")  # an accountant is not a sales
    assert "Không tìm thấy" in await bot.last_text()
    await bot.say("/bangiao 1000000000000000001", sender=SALES2)
    assert "Chỉ sales đang phụ trách" in await bot.last_text()


async def test_the_api_shows_the_stage(bot):
    await bot.say("/khachhang Công ty Minh Phát")
    await bot.say("/chotdon")
    body = await (await bot.client.get(f"/api/groups/{GROUP}", headers=AUTH)).json()
    assert body["stage"] == "won"
