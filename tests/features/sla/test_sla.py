"""The 15-minute response SLA, driven through the webhook with an injected clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.features.sla.policy import is_pleasantry
from storage.models import SlaClock, SlaEvent, Violation
from tests.helpers.sla import AUTH, alerts_to, at, rows, setup_group, vn
from tests.support import CUSTOMER, GROUP, HEAD, SALES


async def test_reminder_then_breach_then_escalation_each_once(bot):
    await setup_group(bot, vn(2026, 11, 23, 9, 0))
    await at(bot, vn(2026, 11, 23, 9, 0))
    await bot.say("Cho em hỏi giá lô 500 thùng?", sender=CUSTOMER)
    [clock] = await rows(bot, SlaClock)
    assert clock.deadline == vn(2026, 11, 23, 9, 15) and clock.owner_id == SALES
    await at(bot, vn(2026, 11, 23, 9, 9, 59))
    assert await alerts_to(bot, SALES) == []
    await at(bot, vn(2026, 11, 23, 9, 10))
    [reminder] = await alerts_to(bot, SALES)
    assert "Nhắc phản hồi" in reminder and "Cho em hỏi giá" in reminder
    await at(bot, vn(2026, 11, 23, 9, 15))
    [breach] = await alerts_to(bot, HEAD)
    assert "Quá hạn" in breach and "Nguyễn Văn An" in breach and f"[@{HEAD}]" in breach
    await bot.runtime.drain()
    await at(bot, vn(2026, 11, 23, 9, 20))
    assert len(await alerts_to(bot, HEAD)) == 1  # never twice
    await at(bot, vn(2026, 11, 23, 9, 30))
    assert "gấp đôi" in (await alerts_to(bot, HEAD))[-1]
    [violation] = await rows(bot, Violation)
    assert (violation.kind, violation.staff_id) == ("sla_breach", SALES)
    kinds = [e.kind for e in await rows(bot, SlaEvent)]
    assert kinds == ["start", "reminder", "breach", "escalation"]
    assert not [r for r in await bot.outbox(target_id=GROUP) if "Quá hạn" in r.text]


async def test_a_staff_reply_stops_the_clock(bot):
    await setup_group(bot, vn(2026, 11, 23, 9, 0))
    await at(bot, vn(2026, 11, 23, 9, 0))
    await bot.say("Có hàng không ạ?", sender=CUSTOMER)
    await at(bot, vn(2026, 11, 23, 9, 5))
    await bot.say("Dạ còn hàng anh ạ", sender=SALES)
    [clock] = await rows(bot, SlaClock)
    assert clock.closed_at is not None and clock.closed_by == SALES
    assert clock.response_seconds == 300
    await at(bot, vn(2026, 11, 23, 10, 0))
    assert await alerts_to(bot, HEAD) == [] and await alerts_to(bot, SALES) == []
    assert [e.kind for e in await rows(bot, SlaEvent)] == ["start", "stop"]


async def test_a_log_command_stops_the_clock_too(bot):
    await setup_group(bot, vn(2026, 11, 23, 9, 0))
    await at(bot, vn(2026, 11, 23, 9, 0))
    await bot.say("Gọi lại cho tôi nhé", sender=CUSTOMER)
    await bot.say("/ghichu goi Đã gọi lại cho khách", sender=SALES)
    [clock] = await rows(bot, SlaClock)
    assert clock.closed_at is not None


async def test_a_burst_of_messages_is_one_clock(bot):
    await setup_group(bot, vn(2026, 11, 23, 9, 0))
    # "Chào em" alone needs no reply (issue #18), but it starts the burst the question is in
    for minute, text in enumerate(["Chào em", "Cho hỏi giá", "Gấp nhé"]):
        await at(bot, vn(2026, 11, 23, 9, minute))
        await bot.say(text, sender=CUSTOMER)
    [clock] = await rows(bot, SlaClock)
    assert clock.deadline == vn(2026, 11, 23, 9, 15)


@pytest.mark.parametrize(
    "text",
    [
        "ok",
        "Oke ạ",
        "cảm ơn",
        "Cảm ơn em nhiều nhé",
        "dạ",
        "Dạ vâng ạ",
        "thanks",
        "👍",
        "cảm ơn shop",
        "dạ ok shop ạ",
    ],
)
def test_pleasantries_need_no_answer(text):
    assert is_pleasantry(text)


@pytest.mark.parametrize(
    "text", ["ok, gửi báo giá nhé", "Cho hỏi giá", "dạ em muốn đổi hàng", "khi nào giao?"]
)
def test_real_questions_do_need_an_answer(text):
    assert not is_pleasantry(text)


async def test_a_sticker_or_a_pleasantry_starts_no_clock(bot):
    await setup_group(bot, vn(2026, 11, 23, 9, 0))
    await at(bot, vn(2026, 11, 23, 9, 0))
    await bot.say("Cảm ơn em ạ", sender=CUSTOMER)
    await bot.say(None, sender=CUSTOMER, attachments=[{"type": "sticker", "payload": {"id": "1"}}])
    assert await rows(bot, SlaClock) == []
    await bot.say(None, sender=CUSTOMER, attachments=[{"type": "image", "payload": {"url": "u"}}])
    assert len(await rows(bot, SlaClock)) == 1  # a photo does need an answer


@pytest.mark.parametrize(
    ("asked", "due"),
    [
        (vn(2026, 11, 23, 11, 50), vn(2026, 11, 23, 13, 35)),  # the lunch break does not count
        (vn(2026, 11, 27, 17, 29), vn(2026, 11, 28, 8, 14)),  # Friday 17:29 -> Saturday morning
        (vn(2026, 11, 28, 11, 55), vn(2026, 11, 30, 8, 10)),  # Saturday noon -> Monday
        (vn(2026, 11, 23, 17, 29), vn(2026, 11, 25, 8, 14)),  # 24 Nov is Vietnam Cultural Day
        (vn(2026, 2, 17, 10, 0), vn(2026, 2, 21, 8, 15)),  # during Tết
        (vn(2026, 8, 22, 16, 0), vn(2026, 8, 22, 16, 15)),  # a make-up working Saturday
        (vn(2026, 11, 22, 20, 0), vn(2026, 11, 23, 8, 15)),  # Sunday night -> Monday opening
    ],
)
async def test_deadlines_count_working_time_only(bot, asked, due):
    await setup_group(bot, asked)
    await at(bot, asked)
    await bot.say("Anh cần báo giá", sender=CUSTOMER)
    [clock] = await rows(bot, SlaClock)
    assert clock.deadline == due
    await at(bot, due - timedelta(seconds=1))
    assert await alerts_to(bot, HEAD) == []
    await at(bot, due)
    assert len(await alerts_to(bot, HEAD)) == 1


async def test_a_restart_in_the_middle_of_a_clock_still_alerts_once(make_bot, settings):
    first = await make_bot(settings)
    await setup_group(first, vn(2026, 11, 23, 9, 0))
    await at(first, vn(2026, 11, 23, 9, 0))
    await first.say("Báo giá giúp anh", sender=CUSTOMER)
    await first.client.close()
    second = await make_bot(settings)  # the deadline passes while the service is down
    await at(second, vn(2026, 11, 23, 9, 40))
    await second.runtime.drain()
    breaches = [t for t in await alerts_to(second, HEAD) if "Quá hạn" in t]
    assert len(breaches) == 1
    assert not [t for t in await alerts_to(second, SALES) if "Nhắc" in t]  # too late to remind


async def test_alerts_go_to_the_alert_group_and_it_has_no_clock(make_bot, settings):
    bot = await make_bot(settings.replace(zalo_alert_group_id="alerts-1"))
    await setup_group(bot, vn(2026, 11, 23, 9, 0))
    await at(bot, vn(2026, 11, 23, 9, 0))
    await bot.say("Cho hỏi", sender=CUSTOMER)
    await bot.say("Nhóm nội bộ: ai xử lý khách này?", sender=CUSTOMER, group="alerts-1")
    await at(bot, vn(2026, 11, 23, 9, 15))
    [alert] = await bot.outbox(target_id="alerts-1")
    assert "Quá hạn" in alert.text and f"[@{HEAD}]" in alert.text
    assert len(await rows(bot, SlaClock)) == 1


async def test_repeated_breaches_raise_a_warning(bot):
    await setup_group(bot, vn(2026, 11, 23, 9, 0))
    for hour in (9, 10, 11):
        await at(bot, vn(2026, 11, 23, hour, 0))
        await bot.say(f"Hỏi lần {hour}", sender=CUSTOMER)
        await at(bot, vn(2026, 11, 23, hour, 16))
        await bot.say("Dạ em trả lời ạ", sender=SALES)
    texts = await alerts_to(bot, HEAD)
    assert sum("Cảnh cáo" in t for t in texts) == 1 and "3 lần" in texts[-1]
    assert [e.kind for e in await rows(bot, SlaEvent)].count("warning") == 1


async def test_a_head_can_set_the_groups_own_limit_or_switch_it_off(bot):
    await setup_group(bot, vn(2026, 11, 23, 9, 0))
    await bot.say("/sla 30m", sender=SALES)
    assert "chỉ dành cho" in await bot.last_text()
    await bot.say("/sla 30m", sender=HEAD)
    await at(bot, vn(2026, 11, 23, 9, 0))
    await bot.say("Cho hỏi", sender=CUSTOMER)
    [clock] = await rows(bot, SlaClock)
    assert clock.deadline == vn(2026, 11, 23, 9, 30)
    await bot.say("/sla", sender=SALES)
    assert "30 phút" in await bot.last_text()  # (a staff message also answers the customer)
    await bot.say("/sla tat", sender=HEAD)
    await at(bot, vn(2026, 11, 23, 10, 0))
    await bot.say("Cho hỏi thêm", sender=CUSTOMER)
    assert len(await rows(bot, SlaClock)) == 1


async def test_a_group_can_have_its_own_working_hours(bot):
    await setup_group(bot, vn(2026, 11, 23, 9, 0))
    await bot.say("/giolamviec mon-sun 00:00-24:00", sender=HEAD)
    await at(bot, vn(2026, 11, 22, 22, 0))  # Sunday night counts for this group
    await bot.say("Cho hỏi", sender=CUSTOMER)
    [clock] = await rows(bot, SlaClock)
    assert clock.deadline == vn(2026, 11, 22, 22, 15)


async def test_the_api_shows_the_open_clock_and_breaches(bot):
    await setup_group(bot, vn(2026, 11, 23, 9, 0))
    await at(bot, vn(2026, 11, 23, 9, 0))
    await bot.say("Cho hỏi", sender=CUSTOMER)
    await at(bot, vn(2026, 11, 23, 9, 16))
    body = await (await bot.client.get(f"/api/groups/{GROUP}", headers=AUTH)).json()
    assert body["sla"]["open"]["deadline"].startswith("2026-11-23T02:15")
    assert body["sla"]["breaches"] == 1 and body["sla"]["open"]["breached"] is True
