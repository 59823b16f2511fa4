"""Approval without a quote (issue #16, section 5).

An accountant who writes just "duyệt" without replying to the bot's request, in a group where
exactly one request waits for them, decides that one, and the confirmation names it. With
several waiting, nothing is decided and they are listed. "ok" and "đồng ý" count only as a
reply to the request: in a group they are too common to approve money.
"""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from bot.features.payments.replies import read_bare
from bot.features.payments.rule import waits_for
from storage.models import Payment
from tests.support import ACCOUNTANT, CHIEF, HEAD, SALES, Bot


async def _payments(bot: Bot) -> list[Payment]:
    async with bot.runtime.sessions() as db:
        return list((await db.exec(select(Payment).order_by(col(Payment.id)))).all())


@pytest.mark.parametrize(
    ("typed", "approve", "reason"),
    [
        ("duyệt", True, None),
        ("duyet", True, None),
        ("Duyệt ạ", True, None),
        ("dạ duyệt nhé", True, None),
        ("approve", True, None),
        ("từ chối sai số tiền", False, "sai số tiền"),
        ("Từ chối: khách chưa chuyển", False, "khách chưa chuyển"),
        ("reject wrong amount", False, "wrong amount"),
    ],
)
def test_what_counts_as_a_decision_without_a_quote(
    typed: str, approve: bool, reason: str | None
) -> None:
    reply = read_bare(typed)
    assert reply is not None and (reply.approve, reply.reason) == (approve, reason)


@pytest.mark.parametrize(
    "typed",
    [
        "ok",
        "đồng ý",
        "oke em",
        "duyệt chưa?",
        "chị duyệt giúp em",
        "chưa duyệt",
        "khách từ chối nhận hàng",
        "em đã duyệt đơn hôm qua rồi",
        "duyệt " * 100,
    ],
)
def test_what_does_not(typed: str) -> None:
    assert read_bare(typed) is None


async def test_plain_duyet_decides_the_one_request_waiting_and_names_it(bot: Bot) -> None:
    await bot.say("/thanhtoan 5tr chuyển khoản", sender=SALES)
    await bot.say("duyệt", sender=ACCOUNTANT)
    [payment] = await _payments(bot)
    assert (payment.status, payment.decided_by) == ("approved", ACCOUNTANT)
    confirmation = await bot.last_text()
    assert f"#{payment.id}" in confirmation and "5.000.000" in confirmation


async def test_with_two_waiting_nothing_is_decided_and_both_are_listed(bot: Bot) -> None:
    await bot.say("/thanhtoan 5tr chuyển khoản", sender=SALES)
    await bot.say("/thanhtoan 7tr tiền mặt", sender=SALES)
    await bot.say("duyệt", sender=ACCOUNTANT)
    assert [p.status for p in await _payments(bot)] == ["pending", "pending"]
    listing = await bot.last_text()
    first, second = await _payments(bot)
    assert f"/duyet {first.id}" in listing and f"/duyet {second.id}" in listing


async def test_ok_without_a_quote_approves_nothing(bot: Bot) -> None:
    await bot.say("/thanhtoan 5tr chuyển khoản", sender=SALES)
    before = len(await bot.outbox())
    for typed in ("ok", "đồng ý", "oke"):
        await bot.say(typed, sender=ACCOUNTANT)
    assert [p.status for p in await _payments(bot)] == ["pending"]
    assert len(await bot.outbox()) == before


async def test_a_plain_rejection_with_a_reason_rejects_the_one_waiting(bot: Bot) -> None:
    await bot.say("/thanhtoan 5tr chuyển khoản", sender=SALES)
    await bot.say("từ chối chưa thấy tiền về", sender=ACCOUNTANT)
    [payment] = await _payments(bot)
    assert (payment.status, payment.reject_reason) == ("rejected", "chưa thấy tiền về")


async def test_the_chief_decides_the_one_waiting_for_the_chief(bot: Bot) -> None:
    await bot.say("/thanhtoan 150tr chuyển khoản", sender=SALES)  # over the chief's threshold
    await bot.say("duyệt", sender=CHIEF)  # not yet the chief's turn: nothing waits for them
    assert [p.status for p in await _payments(bot)] == ["pending"]
    await bot.say("duyệt", sender=ACCOUNTANT)
    await bot.say("duyệt", sender=CHIEF)
    [payment] = await _payments(bot)
    assert (payment.status, payment.accountant_id, payment.chief_id) == (
        "approved",
        ACCOUNTANT,
        CHIEF,
    )


async def test_sales_or_heads_typing_duyet_decide_nothing(bot: Bot) -> None:
    await bot.say("/thanhtoan 5tr chuyển khoản", sender=SALES)
    await bot.say("duyệt", sender=HEAD)
    await bot.say("duyệt", sender=SALES)
    assert [p.status for p in await _payments(bot)] == ["pending"]


def test_nobody_waits_on_their_own_request() -> None:
    own = Payment(group_id="g", kind="payment", amount=1, requested_by=ACCOUNTANT, status="pending")
    assert not waits_for(own, ACCOUNTANT, "accountant", approve=True)
