"""Heads correct the clock in the chat (issue #18): /khongcan and /cantraloi, as a reply to a
customer's message. Corrections are stored and audited; a withdrawn breach stays in the log."""

from __future__ import annotations

from sqlmodel import col, select

from storage.models import AuditEntry, SlaClock, SlaCorrection, SlaEvent, Violation
from tests.helpers.sla import at, rows, setup_group, vn
from tests.support import CUSTOMER, HEAD, SALES, Bot


async def _said(bot: Bot, text: str) -> str:
    body = bot.message(text, sender=CUSTOMER)
    await bot.post(body)
    return str(body["message"]["msg_id"])


async def test_khongcan_withdraws_the_clock_its_breach_and_violation(bot: Bot) -> None:
    await setup_group(bot, vn(2026, 11, 23, 9, 0))
    await at(bot, vn(2026, 11, 23, 9, 0))
    msg_id = await _said(bot, "Mai anh qua kho")  # unsure: the bot times it
    await at(bot, vn(2026, 11, 23, 9, 20))  # breached meanwhile
    assert len(await rows(bot, Violation)) == 1
    await bot.say("/khongcan", sender=HEAD, quote_msg_id=msg_id)
    [clock] = await rows(bot, SlaClock)
    assert clock.withdrawn_by == HEAD and clock.closed_at is not None
    assert await rows(bot, Violation) == []
    async with bot.runtime.sessions() as db:
        kinds = (await db.exec(select(SlaEvent.kind).order_by(col(SlaEvent.id)))).all()
        actions = (await db.exec(select(AuditEntry.action))).all()
    assert kinds[-1] == "withdrawn" and "breach" in kinds  # the log keeps the breach
    assert "sla.corrected" in actions and "violation.withdrawn" in actions
    [correction] = await rows(bot, SlaCorrection)
    assert (correction.needs_reply, correction.text) == (False, "Mai anh qua kho")
    assert "không cần trả lời" in await bot.last_text()


async def test_cantraloi_starts_a_clock_from_the_messages_time(bot: Bot) -> None:
    await setup_group(bot, vn(2026, 11, 23, 9, 0))
    await at(bot, vn(2026, 11, 23, 9, 0))
    msg_id = await _said(bot, "Cảm ơn em, hàng về đủ rồi")  # read as needing no answer
    assert await rows(bot, SlaClock) == []
    await at(bot, vn(2026, 11, 23, 9, 5))
    await bot.say("/cantraloi", sender=HEAD, quote_msg_id=msg_id)
    [clock] = await rows(bot, SlaClock)
    assert clock.opened_at == vn(2026, 11, 23, 9, 0) and clock.deadline == vn(2026, 11, 23, 9, 15)
    [correction] = await rows(bot, SlaCorrection)
    assert correction.needs_reply is True


async def test_a_correction_needs_a_reply_to_a_customer_message_and_a_head(bot: Bot) -> None:
    await setup_group(bot, vn(2026, 11, 23, 9, 0))
    await bot.say("/khongcan", sender=HEAD)
    assert "trả lời (reply) đúng tin nhắn của khách" in await bot.last_text()
    staff_msg = bot.message("Dạ em chào chị")
    await bot.post(staff_msg)
    await bot.say("/khongcan", sender=HEAD, quote_msg_id=staff_msg["message"]["msg_id"])
    assert "chỉ sửa được tin của khách" in await bot.last_text()
    msg_id = await _said(bot, "Cho hỏi giá")
    await bot.say("/khongcan", sender=SALES, quote_msg_id=msg_id)
    assert "chỉ dành cho" in await bot.last_text()
    assert await rows(bot, SlaCorrection) == []


async def test_the_digest_counts_the_corrections(bot: Bot) -> None:
    from datetime import timedelta

    from bot.features.reports.queries import digest_context

    await setup_group(bot, vn(2026, 11, 23, 9, 0))
    await at(bot, vn(2026, 11, 23, 9, 0))
    msg_id = await _said(bot, "Mai anh qua kho")
    await bot.say("/khongcan", sender=HEAD, quote_msg_id=msg_id)
    async with bot.runtime.sessions() as db:
        context = await digest_context(
            db, "week", bot.clock.now() + timedelta(days=1), bot.settings.tz
        )
    assert context["corrections"] == {"not_needed": 1, "missed": 0}
    text = bot.runtime.renderer.render("report_digest", "vi", **context, heads=[])
    assert "1 tin không cần trả lời (/khongcan)" in text
