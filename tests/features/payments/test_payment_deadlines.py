"""Accounting's deadline (issue #18): a payment request waiting past PAYMENT_APPROVAL_SLA of
working time reminds the accountants 1:1; at twice it the chief accountant and the heads are
alerted (alert group when set, else 1:1). Each step once; nothing after a decision."""

from __future__ import annotations

from storage.models import AuditEntry, Payment
from tests.helpers.payments import answer_request
from tests.helpers.sla import at, rows, vn
from tests.support import ACCOUNTANT, ADMIN, CHIEF, HEAD, SALES, Bot


async def _purposes(bot: Bot, purpose: str) -> list[tuple[str, str]]:
    return [(r.target_kind, r.target_id) for r in await bot.outbox(purpose=purpose)]


async def test_accountants_are_reminded_then_the_chief_and_heads_alerted_each_once(
    bot: Bot,
) -> None:
    await at(bot, vn(2026, 11, 23, 9, 0))
    await bot.say("/thanhtoan 50tr ck coc", sender=SALES)
    [payment] = await rows(bot, Payment)
    assert payment.remind_at == vn(2026, 11, 23, 9, 30)
    assert payment.escalate_at == vn(2026, 11, 23, 10, 0)

    await at(bot, vn(2026, 11, 23, 9, 29))
    assert await bot.outbox(purpose="payment_overdue") == []
    await at(bot, vn(2026, 11, 23, 9, 31))
    reminders = await bot.outbox(purpose="payment_overdue")
    assert {(r.target_kind, r.target_id) for r in reminders} >= {("user", ACCOUNTANT)}
    assert all(r.target_kind == "user" for r in reminders)
    assert "#1" in reminders[0].text and "31 phút" in reminders[0].text
    assert "/duyet 1" in reminders[0].text
    assert await bot.outbox(purpose="payment_overdue_alert") == []

    await at(bot, vn(2026, 11, 23, 10, 1))
    alerts = await _purposes(bot, "payment_overdue_alert")
    assert {("user", CHIEF), ("user", HEAD), ("user", ADMIN)} <= set(alerts)
    assert all(kind == "user" for kind, _ in alerts)

    await at(bot, vn(2026, 11, 23, 14, 0))  # later sweeps send nothing more
    assert len(await bot.outbox(purpose="payment_overdue")) == len(reminders)
    assert len(await _purposes(bot, "payment_overdue_alert")) == len(alerts)
    actions = [a.action for a in await rows(bot, AuditEntry) if a.action.startswith("payment.")]
    assert actions == ["payment.requested", "payment.reminded", "payment.escalated"]


async def test_nothing_is_sent_once_the_request_is_decided(bot: Bot) -> None:
    await at(bot, vn(2026, 11, 23, 9, 0))
    await bot.say("/thanhtoan 50tr ck", sender=SALES)
    await at(bot, vn(2026, 11, 23, 9, 10))
    await answer_request(bot, "duyệt", sender=ACCOUNTANT)
    await at(bot, vn(2026, 11, 23, 11, 0))
    assert await bot.outbox(purpose="payment_overdue") == []
    assert await bot.outbox(purpose="payment_overdue_alert") == []


async def test_the_deadline_counts_working_time_and_the_alert_goes_to_the_alert_group(
    make_bot, settings
) -> None:
    bot = await make_bot(
        settings.replace(zalo_alert_group_id="alertgroup", payment_approval_sla="1h")
    )
    await at(bot, vn(2026, 11, 25, 16, 45))  # Wednesday, 45 minutes before 17:30
    await bot.say("/thanhtoan 50tr ck", sender=SALES)
    [payment] = await rows(bot, Payment)
    assert payment.remind_at == vn(2026, 11, 26, 8, 15)
    await at(bot, vn(2026, 11, 25, 23, 0))
    assert await bot.outbox(purpose="payment_overdue") == []
    await at(bot, vn(2026, 11, 26, 12, 0))
    [alert] = await bot.outbox(purpose="payment_overdue_alert")
    assert (alert.target_kind, alert.target_id) == ("group", "alertgroup")
    assert f"[@{CHIEF}]" in alert.text and f"[@{HEAD}]" in alert.text


async def test_english_reminder(make_bot, settings) -> None:
    bot = await make_bot(settings.replace(locale="en"))
    await at(bot, vn(2026, 11, 23, 9, 0))
    await bot.say("/thanhtoan 50tr ck", sender=SALES)
    await at(bot, vn(2026, 11, 23, 9, 45))
    [reminder, *_] = await bot.outbox(purpose="payment_overdue")
    assert "Approval reminder" in reminder.text and "/approve 1" in reminder.text
