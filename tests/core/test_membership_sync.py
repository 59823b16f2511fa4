"""Membership and group state read from Zalo (issue #16, section 3), against the fake Zalo.

When the bot first sees a group, once a day and on /sync (/dongbo), it reads the members
(listmember, every page) and the info (getgroup) and reconciles; invites go only to staff
who are not members on Zalo; a disabled or expiring group is reported to the admins once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot.core import membership
from storage.models import Group, GroupMember, OutboxMessage
from tests.fake_zalo import FakeZalo
from tests.support import ADMIN, CUSTOMER, GROUP, HEAD, SALES, WAREHOUSE, Bot


@pytest.fixture
async def zbot(make_bot: Any, live_settings: Any, fake: FakeZalo) -> Bot:
    """Live mode against the fake Zalo of this event loop."""
    settings = live_settings.replace(zalo_api_base=fake.url, zalo_oauth_base=fake.url)
    return await make_bot(settings)


async def _present(bot: Bot) -> set[str]:
    async with bot.runtime.sessions() as db:
        rows = (await db.exec(select(GroupMember).where(GroupMember.group_id == GROUP))).all()
    return {row.user_id for row in rows if row.left_at is None}


async def test_a_head_who_is_a_member_on_zalo_is_not_invited(zbot: Bot, fake: FakeZalo) -> None:
    fake.members[GROUP] = {HEAD, CUSTOMER}  # the head is in the group already
    await zbot.say("Cho em hỏi giá", sender=CUSTOMER)  # the first message the bot sees
    assert fake.invites() == []
    assert {HEAD, CUSTOMER} <= await _present(zbot)
    async with zbot.runtime.sessions() as db:
        group = await db.get(Group, GROUP)
    assert group is not None and group.name == f"Nhóm {GROUP}"  # its name kept


async def test_a_head_who_is_not_a_member_on_zalo_is_invited(zbot: Bot, fake: FakeZalo) -> None:
    fake.members[GROUP] = {CUSTOMER}
    await zbot.say("Cho em hỏi giá", sender=CUSTOMER)
    [invite] = fake.invites()
    assert invite.json["member_user_ids"] == [HEAD]


async def test_every_page_of_members_is_read(zbot: Bot, fake: FakeZalo) -> None:
    many = {f"30000000000000{n:05d}" for n in range(120)}
    fake.members[GROUP] = many | {HEAD}
    await zbot.say("xin chào", sender=CUSTOMER)
    assert many | {HEAD} <= await _present(zbot)
    pages = [c for c in fake.calls("/v3.0/oa/group/listmember")]
    assert len(pages) >= 3


async def test_sync_marks_people_gone_as_left_and_tells_the_asker(
    zbot: Bot, fake: FakeZalo
) -> None:
    fake.members[GROUP] = {HEAD, SALES, CUSTOMER, WAREHOUSE}
    await zbot.say("xin chào", sender=CUSTOMER)
    fake.members[GROUP] = {HEAD, SALES, CUSTOMER}  # the warehouse left, no event came
    await zbot.say("/dongbo", sender=HEAD)
    assert WAREHOUSE not in await _present(zbot)
    done = [m for m in fake.user_messages(HEAD, ok=True) if "Đã đồng bộ" in m.message["text"]]
    assert done and "1 người đã rời nhóm" in done[0].message["text"]


async def test_sync_is_for_heads_and_admins(zbot: Bot) -> None:
    await zbot.say("/sync", sender=SALES)
    assert "chỉ dành cho" in await zbot.last_text()


async def test_a_disabled_group_is_reported_to_the_admins_once(
    make_bot: Any, live_settings: Any, fake: FakeZalo
) -> None:
    settings = live_settings.replace(
        zalo_api_base=fake.url, zalo_oauth_base=fake.url, zalo_alert_group_id="alerts-1"
    )
    bot = await make_bot(settings)
    fake.members[GROUP] = {HEAD}
    fake.group_info[GROUP] = {"status": "disabled"}
    await bot.say("xin chào", sender=CUSTOMER)
    await bot.say("/dongbo", sender=HEAD)
    await bot.say("/dongbo", sender=ADMIN)
    reports = [m for m in fake.group_messages("alerts-1") if "vô hiệu hoá" in m.message["text"]]
    assert len(reports) == 1


def test_a_package_ending_within_14_days_is_a_problem() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 12, 7, tzinfo=UTC)
    soon = membership.GroupState(frozenset(), valid_through=now + timedelta(days=10))
    later = membership.GroupState(frozenset(), valid_through=now + timedelta(days=40))
    assert soon.problem(now) == "expiring" and later.problem(now) is None
    state = membership.state_from(
        [{"user_id": "1"}, {"oa_id": "oa"}],
        {"group_info": {"name": "A", "status": "enabled"}, "asset_info": {"valid_through": 1}},
    )
    assert state.members == {"1", "oa"} and state.name == "A"


async def test_the_daily_job_reads_every_customer_group(zbot: Bot, fake: FakeZalo) -> None:
    fake.members[GROUP] = {HEAD}
    await zbot.say("xin chào", sender=CUSTOMER)
    before = len(fake.calls("/v3.0/oa/group/getgroup"))
    assert await zbot.runtime.run_job("group_sync") == 1
    await zbot.runtime.drain()
    assert len(fake.calls("/v3.0/oa/group/getgroup")) == before + 1


async def test_a_zalo_that_cannot_be_read_holds_up_nothing(zbot: Bot, fake: FakeZalo) -> None:
    fake.fail_next(5, error=-224, path="/v3.0/oa/group/listmember")  # the GMF tier is too low
    await zbot.say("/whoami", sender=SALES)
    async with zbot.runtime.sessions() as db:
        rows = (await db.exec(select(OutboxMessage))).all()
    assert {row.status for row in rows} == {"sent"}
    assert [m for m in fake.group_messages(GROUP, ok=True)]  # the reply went out
