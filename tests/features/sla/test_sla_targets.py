"""An honest clock (issue #18): bursts, targets per customer group, out-of-hours answers.

Messages of one customer within SLA_BURST are one request, the clock keeping the first one's
time; SLA_BY_CUSTOMER_GROUP sets the target (and optionally the working hours) by the
customer's group, the group's own /sla winning; a request outside working time gets, once per
burst, an acknowledgement naming when the answer will come, while the clock keeps running.
"""

from __future__ import annotations

from typing import Any

import pytest

from storage.models import SlaClock
from tests.helpers.sla import AUTH, at, rows, setup_group, vn
from tests.support import CUSTOMER, HEAD, Bot


async def _clock(bot: Bot) -> SlaClock:
    [clock] = [c for c in await rows(bot, SlaClock) if c.closed_at is None]
    return clock


# ------------------------------------------------------------------ bursts


async def test_a_greeting_then_a_question_within_the_burst_counts_from_the_greeting(
    bot: Bot,
) -> None:
    await setup_group(bot, vn(2026, 11, 23, 9, 0))
    await at(bot, vn(2026, 11, 23, 9, 0))
    await bot.say("Chào em", sender=CUSTOMER)  # no answer needed on its own
    assert [c for c in await rows(bot, SlaClock) if c.closed_at is None] == []
    await at(bot, vn(2026, 11, 23, 9, 1))
    await bot.say("Cho chị hỏi giá lô 500 thùng", sender=CUSTOMER)
    clock = await _clock(bot)
    assert clock.opened_at == vn(2026, 11, 23, 9, 0) and clock.deadline == vn(2026, 11, 23, 9, 15)


async def test_a_message_older_than_the_burst_does_not_move_the_clock(bot: Bot) -> None:
    await setup_group(bot, vn(2026, 11, 23, 9, 0))
    await at(bot, vn(2026, 11, 23, 9, 0))
    await bot.say("Chào em", sender=CUSTOMER)
    await at(bot, vn(2026, 11, 23, 9, 5))  # past SLA_BURST (2m)
    await bot.say("Cho chị hỏi giá", sender=CUSTOMER)
    assert (await _clock(bot)).opened_at == vn(2026, 11, 23, 9, 5)


async def test_a_staff_answer_ends_the_burst(bot: Bot) -> None:
    await setup_group(bot, vn(2026, 11, 23, 9, 0))
    await at(bot, vn(2026, 11, 23, 9, 0))
    await bot.say("Chào em", sender=CUSTOMER)
    await bot.say("Dạ em chào chị ạ")  # the sales answers
    await at(bot, vn(2026, 11, 23, 9, 1))
    await bot.say("Cho chị hỏi giá", sender=CUSTOMER)
    assert (await _clock(bot)).opened_at == vn(2026, 11, 23, 9, 1)


# ------------------------------------------------------------------ per customer group


@pytest.fixture
async def tiered(make_bot: Any, settings: Any) -> Bot:
    return await make_bot(settings.replace(sla_by_customer_group="vip=5m@24/7,si=15m,le=30m"))


async def test_a_vip_customer_has_its_own_target(tiered: Bot) -> None:
    await setup_group(tiered, vn(2026, 11, 23, 9, 0))
    await tiered.say("/khachhang nhom=vip")
    await at(tiered, vn(2026, 11, 23, 9, 0))
    await tiered.say("Cho chị hỏi giá", sender=CUSTOMER)
    assert (await _clock(tiered)).deadline == vn(2026, 11, 23, 9, 5)
    body = await (
        await tiered.client.get(f"/api/groups/{(await _clock(tiered)).group_id}", headers=AUTH)
    ).json()
    assert body["sla"]["open"]["opened_at"] and body["sla"]["open"]["deadline"]


async def test_a_retail_customer_waits_longer_and_a_group_override_wins(tiered: Bot) -> None:
    await setup_group(tiered, vn(2026, 11, 23, 9, 0))
    await tiered.say("/khachhang nhom=le")
    await at(tiered, vn(2026, 11, 23, 9, 0))
    await tiered.say("Cho chị hỏi giá", sender=CUSTOMER)
    assert (await _clock(tiered)).deadline == vn(2026, 11, 23, 9, 30)
    await tiered.say("Dạ em gửi chị báo giá ạ")
    await tiered.say("/sla 10m", sender=HEAD)
    await at(tiered, vn(2026, 11, 23, 10, 0))
    await tiered.say("Còn màu đen không em?", sender=CUSTOMER)
    assert (await _clock(tiered)).deadline == vn(2026, 11, 23, 10, 10)


async def test_a_vip_customer_around_the_clock_gets_a_night_deadline(tiered: Bot) -> None:
    await setup_group(tiered, vn(2026, 11, 23, 21, 0))
    await tiered.say("/khachhang nhom=vip")
    await at(tiered, vn(2026, 11, 23, 21, 0))  # Monday night: VIPs are served 24/7
    await tiered.say("Máy không chạy nữa em ơi", sender=CUSTOMER)
    assert (await _clock(tiered)).deadline == vn(2026, 11, 23, 21, 5)
    assert not [t for t in await tiered.texts() if "phản hồi trước" in t]  # in their hours


# ------------------------------------------------------------------ out of hours


async def test_a_request_at_night_is_acknowledged_with_the_due_time_and_the_clock_runs(
    bot: Bot,
) -> None:
    await setup_group(bot, vn(2026, 11, 25, 20, 0))
    await at(bot, vn(2026, 11, 25, 20, 0))  # Wednesday 20:00
    await bot.say("Cho chị hỏi giá lô hàng mới", sender=CUSTOMER)
    await bot.say("Gấp nhé em", sender=CUSTOMER)  # the same burst: one acknowledgement
    acks = [t for t in await bot.texts() if "phản hồi trước" in t]
    due = "08:15 sáng thứ Năm (26/11)"
    assert acks == [f"Dạ bên em đã nhận tin, nhân viên sẽ phản hồi trước {due} ạ."]
    clock = await _clock(bot)  # the acknowledgement is the bot's: the clock keeps running
    assert clock.deadline == vn(2026, 11, 26, 8, 15) and clock.closed_at is None


async def test_a_holiday_moves_the_promised_time(bot: Bot) -> None:
    await setup_group(bot, vn(2026, 11, 23, 20, 0))
    await at(bot, vn(2026, 11, 23, 20, 0))  # Monday night; Tuesday 24/11 is a holiday
    await bot.say("Cho chị hỏi giá", sender=CUSTOMER)
    assert "trước 08:15 sáng thứ Tư (25/11)" in await bot.last_text()


async def test_no_acknowledgement_in_working_time_or_when_switched_off(
    bot: Bot, make_bot: Any, settings: Any
) -> None:
    await setup_group(bot, vn(2026, 11, 23, 9, 0))
    await at(bot, vn(2026, 11, 23, 9, 0))
    await bot.say("Cho chị hỏi giá", sender=CUSTOMER)
    assert not [t for t in await bot.texts() if "phản hồi trước" in t]
    await bot.say("/sla ngoaigio tat", sender=HEAD)
    await bot.say("Dạ em báo giá chị nhé")
    await at(bot, vn(2026, 11, 23, 20, 0))
    await bot.say("Còn hàng không em?", sender=CUSTOMER)
    assert not [t for t in await bot.texts() if "phản hồi trước" in t]
    quiet = await make_bot(settings.replace(out_of_hours_reply="off"))
    await setup_group(quiet, vn(2026, 11, 23, 21, 0))
    await at(quiet, vn(2026, 11, 23, 21, 0))
    await quiet.say("Còn hàng không em?", sender=CUSTOMER)
    assert not [t for t in await quiet.texts() if "phản hồi trước" in t]


async def test_the_acknowledgement_is_english_with_locale_en(make_bot: Any, settings: Any) -> None:
    bot = await make_bot(settings.replace(locale="en"))
    await setup_group(bot, vn(2026, 11, 25, 20, 0))
    await at(bot, vn(2026, 11, 25, 20, 0))
    await bot.say("Cho chị hỏi giá", sender=CUSTOMER)
    assert "will answer by 08:15 on Thursday (26/11)" in await bot.last_text()


# ------------------------------------------------------------------ a promised answer


@pytest.mark.parametrize(
    ("answer", "promises"),
    [
        ("Dạ em kiểm tra rồi báo anh ngay", True),
        ("để em hỏi kho rồi phản hồi chị nhé", True),
        ("Em check lại rồi gửi chị liền", True),
        ("Cho em xin chút thời gian ạ", True),
        ("Dạ giá 500k một thùng ạ", False),
        ("Dạ em chào chị", False),
    ],
)
def test_what_promises_a_later_answer(answer: str, promises: bool) -> None:
    from bot.features.sla.requests import promises_later

    assert promises_later(answer) is promises


async def test_a_promise_answers_the_clock_and_reminds_only_its_author_later(bot: Bot) -> None:
    await setup_group(bot, vn(2026, 11, 23, 9, 0))
    await at(bot, vn(2026, 11, 23, 9, 0))
    await bot.say("Đơn của chị giao chưa em?", sender=CUSTOMER)
    await at(bot, vn(2026, 11, 23, 9, 3))
    await bot.say("Dạ em kiểm tra rồi báo chị ngay ạ")  # the sales
    assert [c for c in await rows(bot, SlaClock) if c.closed_at is None] == []
    await at(bot, vn(2026, 11, 23, 11, 2))
    assert not [t for t in await bot.texts() if "Nhắc việc: anh/chị đã hẹn" in t]
    await at(bot, vn(2026, 11, 23, 11, 4))  # 2h of working time later
    reminders = [r for r in await bot.outbox() if r.purpose == "sla_follow_up"]
    assert [(r.target_kind, r.target_id) for r in reminders] == [("user", "1000000000000000001")]


async def test_no_follow_up_when_the_sales_answers_in_time(bot: Bot) -> None:
    await setup_group(bot, vn(2026, 11, 23, 9, 0))
    await at(bot, vn(2026, 11, 23, 9, 0))
    await bot.say("Đơn của chị giao chưa em?", sender=CUSTOMER)
    await bot.say("Dạ em kiểm tra rồi báo chị ngay ạ")
    await at(bot, vn(2026, 11, 23, 9, 30))
    await bot.say("Dạ đơn giao chiều nay chị nhé")
    await at(bot, vn(2026, 11, 23, 12, 0))
    assert [r for r in await bot.outbox() if r.purpose == "sla_follow_up"] == []
