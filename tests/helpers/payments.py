"""Answering the bot's payment request as an accountant does."""

from __future__ import annotations


async def answer_request(bot, text: str, *, sender: str, quote: str | None = None) -> None:
    quote = quote or await request_msg(bot)
    await bot.post(bot.message(text, sender=sender, quote_msg_id=quote))


async def request_msg(bot) -> str:
    """The Zalo id of the bot's latest payment request, as a reply would quote it."""
    rows = await bot.outbox(purpose="payment_request")
    assert rows and rows[-1].zalo_message_id
    return rows[-1].zalo_message_id
