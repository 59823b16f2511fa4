"""Events as Zalo may really send them (issue #16, section 2).

What Zalo sends in groups is partly not public (shared/reference/zalo-api.md): the bot reads
every plausible shape. The OA's own id in recipient.id (the group id elsewhere), events for
another OA, reactions that reuse the reacted message's id, quotes of the bot's message by its
echo's id, flat member ids, a join request accepted.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import col, select

from bot.zalo.events import Kind, dedupe_key, parse_event
from storage.models import GroupMember, InboxEvent, Interaction, Message
from tests.support import ACCOUNTANT, CUSTOMER, GROUP, HEAD, SALES, Bot

OA_ID = "388613280879808645"


async def _notes(bot: Bot) -> list[str]:
    async with bot.runtime.sessions() as db:
        return list((await db.exec(select(Interaction.note))).all())


async def _transcript(bot: Bot) -> list[Message]:
    async with bot.runtime.sessions() as db:
        return list((await db.exec(select(Message).order_by(col(Message.id)))).all())


@pytest.fixture
async def oa_bot(make_bot: Any, settings: Any) -> Bot:
    """Local mode, but ZALO_OA_ID set: the OA knows its own id."""
    return await make_bot(settings.replace(zalo_oa_id=OA_ID))


# ------------------------------------------------------------------ which group


@pytest.mark.parametrize(
    "where", ["recipient.group_id", "message.group_id", "group_id"], ids=lambda w: w
)
async def test_a_group_event_addressed_to_the_oa_finds_its_group_elsewhere(
    oa_bot: Bot, where: str
) -> None:
    body = oa_bot.message("/ghichu goi tichcuc nhóm đúng")
    body["recipient"] = {"id": OA_ID}
    if where == "recipient.group_id":
        body["recipient"]["group_id"] = GROUP
    elif where == "message.group_id":
        body["message"]["group_id"] = GROUP
    else:
        body["group_id"] = GROUP
    assert (await oa_bot.post(body)).status == 200
    assert await _notes(oa_bot) == ["nhóm đúng"]
    [line] = [m for m in await _transcript(oa_bot) if m.direction == "in"]
    assert line.group_id == GROUP  # not the OA's id: the groups are never merged


def test_the_oa_id_in_recipient_is_recognised_from_the_event_alone() -> None:
    body = {
        "event_name": "user_send_group_text",
        "oa_id": OA_ID,
        "sender": {"id": SALES},
        "recipient": {"id": OA_ID, "group_id": GROUP},
        "message": {"text": "hi", "msg_id": "m1"},
        "timestamp": "1764000000000",
    }
    assert parse_event(body).group_id == GROUP


async def test_an_event_for_another_oa_is_kept_and_has_no_effect(oa_bot: Bot) -> None:
    body = oa_bot.message("/ghichu goi tichcuc của OA khác")
    body["oa_id"] = "999999999999999999"
    assert (await oa_bot.post(body)).status == 200
    async with oa_bot.runtime.sessions() as db:
        assert [r.status for r in (await db.exec(select(InboxEvent))).all()] == ["done"]
    assert await _notes(oa_bot) == [] and await _transcript(oa_bot) == []
    assert await oa_bot.outbox() == []


# ------------------------------------------------------------------ reactions


async def test_a_reaction_reusing_the_messages_id_is_stored_and_shown(bot: Bot) -> None:
    said = bot.message("Cho em hỏi giá", sender=CUSTOMER)
    await bot.post(said)
    msg_id = said["message"]["msg_id"]
    reaction = {
        "app_id": bot.settings.signing_app_id,
        "event_name": "user_reacted_message",
        "sender": {"id": SALES},
        "recipient": {"id": bot.settings.signing_oa_id},
        "message": {"msg_id": msg_id, "react_icon": "/-heart"},
        "timestamp": said["timestamp"],
    }
    answer = await bot.post(reaction)
    assert (await answer.json())["duplicate"] is False  # not taken for the message again
    lines = await _transcript(bot)
    [shown] = [m for m in lines if m.event_name == "user_reacted_message"]
    assert (shown.group_id, shown.quote_msg_id, shown.text) == (GROUP, msg_id, "/-heart")
    assert (await (await bot.post(reaction)).json())["duplicate"] is True  # its redelivery


def test_the_dedupe_key_is_the_event_name_and_the_message_id() -> None:
    message = {"event_name": "user_send_group_text", "message": {"msg_id": "m1"}}
    reaction = {"event_name": "user_reacted_message", "message": {"msg_id": "m1"}}
    assert dedupe_key(message, b"") != dedupe_key(reaction, b"")
    assert dedupe_key(message, b"") == "msg:m1"  # as before: an upgrade takes no redelivery
    assert dedupe_key(reaction, b"") == "evt:user_reacted_message:m1"


# ------------------------------------------------------------------ quotes by the echo's id


async def test_a_reply_quoting_the_echo_of_the_bots_message_approves(bot: Bot) -> None:
    await bot.say("/thanhtoan 5tr chuyển khoản", sender=SALES)
    [request] = [r for r in await bot.outbox() if r.purpose == "payment_request"]
    echo = bot.message(request.text, sender=bot.settings.signing_oa_id)
    echo["event_name"] = "oa_send_group_text"
    echo["sender"] = {"id": bot.settings.signing_oa_id}
    echo["message"]["msg_id"] = "echo-of-the-request"
    await bot.post(echo)
    await bot.say("duyệt", sender=ACCOUNTANT, quote_msg_id="echo-of-the-request")
    async with bot.runtime.sessions() as db:
        from storage.models import Payment

        [payment] = (await db.exec(select(Payment))).all()
    assert payment.status == "approved"


# ------------------------------------------------------------------ members


@pytest.mark.parametrize("field", ["user_id", "member_id"])
async def test_a_flat_member_id_in_a_lifecycle_event_is_read(bot: Bot, field: str) -> None:
    body = {
        "app_id": bot.settings.signing_app_id,
        "oa_id": bot.settings.signing_oa_id,
        "event_name": "user_join_group",
        "group_id": GROUP,
        field: HEAD,
        "timestamp": bot.message("x")["timestamp"],
    }
    await bot.post(body)
    async with bot.runtime.sessions() as db:
        members = (await db.exec(select(GroupMember.user_id))).all()
    assert HEAD in members


@pytest.mark.parametrize(
    ("extra", "kind"),
    [
        ({"action": "accept"}, Kind.MEMBER_JOINED),
        ({"status": "ACCEPTED"}, Kind.MEMBER_JOINED),
        ({"action": "reject"}, Kind.GROUP_OTHER),
        ({}, Kind.GROUP_OTHER),
    ],
)
def test_an_accepted_join_request_counts_as_a_join(extra: dict[str, Any], kind: Kind) -> None:
    body = {
        "event_name": "react_request_join_group",
        "group_id": GROUP,
        "user_id": CUSTOMER,
        "timestamp": "1764000000000",
        **extra,
    }
    event = parse_event(body)
    assert event.kind is kind
    if kind is Kind.MEMBER_JOINED:
        assert event.member_ids == (CUSTOMER,)
