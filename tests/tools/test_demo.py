"""The demo: a short run through the real pipeline fills what the dashboard shows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from bot.core.calendars import Calendars
from bot.core.clock import FrozenClock
from bot.tools.demo import run_demo
from bot.tools.demo_cast import DemoError, before, working_days
from bot.web.core import make_session_cookie
from config.settings import Settings
from storage.db import SessionFactory
from storage.models import CommandRun, Message, Payment, SlaClock
from tests.helpers.web import Html
from tests.support import ACCOUNTANT, HEAD, Bot

VN = ZoneInfo("Asia/Ho_Chi_Minh")
# Wednesday 25 Nov 2026, 16:00; Tuesday 24 Nov is a public holiday (Vietnam Cultural Day).
END = datetime(2026, 11, 25, 16, 0, tzinfo=VN)


def vn(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=VN)


@pytest.mark.parametrize(
    ("end", "minutes", "expected"),
    [
        (vn(25, 16), 25, vn(25, 15, 35)),
        (vn(25, 13, 40), 20, vn(25, 11, 50)),  # over the lunch break
        (vn(25, 8, 10), 20, vn(23, 17, 20)),  # over the holiday
        (vn(29, 20), 6, vn(28, 11, 54)),  # Sunday evening: Saturday morning
    ],
)
def test_before_counts_back_in_working_time(
    settings: Settings, end: datetime, minutes: float, expected: datetime
) -> None:
    assert before(Calendars(settings).for_group(None), end, minutes) == expected


def test_the_demo_days_are_the_working_days_cut_at_the_end(settings: Settings) -> None:
    days = working_days(Calendars(settings).for_group(None), END, 3)
    assert [d.day.day for d in days] == [23, 25]
    assert days[0].opens == vn(23, 8) and days[0].minutes == 480
    assert days[1].minutes == 8 * 60 - 90  # 08:00-12:00 and 13:30-16:00


async def test_a_short_demo_fills_the_dashboard_of_the_head(
    settings: Settings,
    sessions: SessionFactory,
    make_bot: Callable[..., Awaitable[Bot]],
    clock: FrozenClock,
) -> None:
    summary = await run_demo(settings, days=3, groups=2, end=END)
    assert summary.groups == 2 and summary.end == END
    assert summary.breaches >= 1 and summary.waiting == 2
    async with sessions() as db:
        messages = (await db.exec(select(Message))).all()
        clocks = (await db.exec(select(SlaClock))).all()
        payments = (await db.exec(select(Payment))).all()
        outcomes = {run.outcome for run in (await db.exec(select(CommandRun))).all()}
    assert len(messages) > 50
    assert outcomes == {"ok", "blocked"}  # every command typed right; /giaohang before payment
    assert {m.sender_kind for m in messages} == {"customer", "staff", "oa"}
    assert any(c.closed_at and not c.breached_at for c in clocks)  # answered in time
    assert any(c.breached_at and c.escalated_at is None for c in clocks)  # past 15, not yet 30
    approved = [p for p in payments if p.status == "approved"]
    assert approved and all(p.accountant_id == ACCOUNTANT for p in approved)
    waiting = {c.group_id for c in clocks if c.closed_at is None}
    pending = {p.group_id for p in payments if p.status == "pending"}

    clock.set(END)
    bot = await make_bot(settings)
    cookie = make_session_cookie(bot.runtime, HEAD, clock.now())
    bot.client.session.cookie_jar.update_cookies({"zb_session": cookie})
    response = await bot.client.get("/dashboard")
    assert response.status == 200
    page = Html(await response.text())
    assert set(page.values("open-clocks", "data-group")) == waiting
    assert set(page.values("payments-waiting", "data-group")) == pending
    assert page.values("breaches-today", "data-group")
    assert len(page.values("open-incidents", "data-incident")) == 1


async def test_the_demo_refuses_to_play_twice_into_one_database(settings: Settings) -> None:
    await run_demo(settings, days=1, groups=1, end=END)
    with pytest.raises(DemoError, match="already holds this demo"):
        await run_demo(settings, days=1, groups=1, end=END)
    assert (await run_demo(settings, days=1, groups=1, end=END, seed=8)).groups == 1
