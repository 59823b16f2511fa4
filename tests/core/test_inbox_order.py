"""Events of one conversation are processed in arrival order, even with several processes."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from storage.models import InboxEvent, Interaction
from tests.conftest import ON_POSTGRESQL
from tests.support import CUSTOMER, GROUP, SALES

OTHER_GROUP = "0a1b2c3d4e5f60718293"


async def test_each_stored_event_knows_its_group_or_1to1_user(bot):
    await bot.say("chào shop", sender=CUSTOMER)
    await bot.dm("/whoami", sender=SALES)
    async with bot.runtime.sessions() as db:
        rows = (await db.exec(select(InboxEvent).order_by(col(InboxEvent.id)))).all()
    assert [row.conversation for row in rows] == [GROUP, SALES]


@pytest.mark.skipif(not ON_POSTGRESQL, reason="another process's row lock needs PostgreSQL")
async def test_an_event_waits_while_an_earlier_one_of_its_group_is_under_way_elsewhere(
    bot, sessions
):
    for text, group in [("/ghichu goi một", GROUP), ("/ghichu goi hai", GROUP)]:
        await bot.post(bot.message(text, group=group), drain=False)
    await bot.post(bot.message("/ghichu goi khác", group=OTHER_GROUP), drain=False)

    async with sessions() as other_process:  # holds the group's first event, as if working on it
        first = select(InboxEvent).order_by(col(InboxEvent.id)).limit(1).with_for_update()
        assert (await other_process.exec(first)).one().conversation == GROUP
        await bot.runtime.inbox.process_pending()
        assert await notes(bot) == ["khác"]  # the other group goes on; "hai" waits for "một"

    await bot.runtime.inbox.process_pending()
    assert await notes(bot) == ["khác", "một", "hai"]


async def notes(bot) -> list[str]:
    async with bot.runtime.sessions() as db:
        query = select(Interaction.note).order_by(col(Interaction.id))
        return list((await db.exec(query)).all())
