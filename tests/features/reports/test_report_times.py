"""Figures heads trust (issue #18): first response as median and 90th percentile, in working
and wall-clock time side by side, per staff member, customer group and team, with clocks a head
withdrew shown as withdrawn; approval waits per accountant. Every figure worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.features.reports import queries as reports
from storage.models import Customer, Group, Payment, SlaClock
from tests.helpers.reports import AUTH, NOVEMBER, VN
from tests.support import ACCOUNTANT, CHIEF, SALES, SALES2

VIP, NONE = "gvipaaaaaaaaaaaaaaaa", "gnoneaaaaaaaaaaaaaaa"
AN, BINH, DUNG, EM = "Nguyễn Văn An", "Trần Thị Bình", "Phạm Thị Dung", "Hoàng Văn Em"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=VN).astimezone(UTC)


def _clock(n: int, owner: str, group: str, working: int | None, wall: int | None, **kw: Any):
    opened = T0 + timedelta(days=n)
    return SlaClock(
        group_id=group, customer_id="c", msg_id=f"m{n}", owner_id=owner, opened_at=opened,
        remind_at=opened, deadline=opened, escalate_at=opened,
        closed_at=opened + timedelta(seconds=wall) if wall is not None else None,
        closed_by=owner if wall is not None else None, response_seconds=working, **kw,
    )  # fmt: skip


def _payment(n: int, status: str, first: str, first_after: int, **kw: Any) -> Payment:
    requested = T0 + timedelta(days=n)
    return Payment(
        group_id=VIP, kind="payment", amount=1_000_000, requested_by=SALES,
        requested_at=requested, status=status,
        accountant_id=kw.pop("accountant_id", None),
        accountant_at=kw.pop("accountant_at", None),
        decided_by=kw.pop("decided_by", first),
        decided_at=requested + timedelta(minutes=kw.pop("decided_after", first_after)),
        **kw,
    )  # fmt: skip


@pytest.fixture
async def month(bot: Any) -> Any:
    made = T0 - timedelta(days=60)
    rows: list[Any] = [
        Customer(id=1, name="Minh Phát", customer_group="vip", created_at=made, updated_at=made),
        Group(group_id=VIP, customer_id=1, created_at=made, updated_at=made),
        Group(group_id=NONE, created_at=made, updated_at=made),
        # SALES (vip): working 1, 2, 5, 10, 20 min; the last was asked Friday evening and
        # answered Monday: 900 min of wall-clock time. p50 5 / 20 working, 5 / 900 wall.
        *(_clock(i, SALES, VIP, s, s) for i, s in enumerate((60, 120, 300, 600))),
        _clock(4, SALES, VIP, 1200, 54000),
        # SALES2 (no customer group): 10 and 15 min -> p50 12.5, p90 15; two withdrawn, one
        # of them breached.
        _clock(5, SALES2, NONE, 600, 600),
        _clock(6, SALES2, NONE, 900, 900),
        _clock(7, SALES2, NONE, None, None, withdrawn_at=T0, breached_at=T0),
        _clock(8, SALES2, NONE, 120, 120, withdrawn_at=T0),
        _clock(-40, SALES, VIP, 6000, 6000),  # September: outside the month
        # Approvals: Dung 10 (approved), 40 (rejected, reminded), 20 (first of a big one the
        # chief approved after 60): p50 20, p90 40, one late; Em alone 5.
        _payment(0, "approved", ACCOUNTANT, 10, accountant_id=ACCOUNTANT),
        _payment(1, "rejected", ACCOUNTANT, 40, reminded_at=T0),
        _payment(2, "approved", ACCOUNTANT, 20, accountant_id=ACCOUNTANT,
                 accountant_at=T0 + timedelta(days=2, minutes=20), decided_by=CHIEF,
                 decided_after=60),
        _payment(3, "approved", CHIEF, 5),
    ]  # fmt: skip
    async with bot.runtime.sessions() as db:
        for row in rows:
            db.add(row)
            await db.flush()
        await db.commit()
    return bot


async def _run(bot: Any, name: str) -> list[dict[str, Any]]:
    async with bot.runtime.sessions() as db:
        return await reports.REPORTS[name].run(db, *NOVEMBER, VN)


def _times(p50: float, p90: float, wall50: float, wall90: float) -> dict[str, float]:
    return {
        "p50_response_min": p50, "p90_response_min": p90,
        "p50_response_wall_min": wall50, "p90_response_wall_min": wall90,
    }  # fmt: skip


async def test_response_times_per_staff_customer_group_and_team(month: Any) -> None:
    rows = await _run(month, "response_times")
    assert rows == [
        {"by": "staff", "key": SALES, "name": AN, "answered": 5,
         **_times(5.0, 20.0, 5.0, 900.0), "withdrawn": 0, "withdrawn_breaches": 0},
        {"by": "staff", "key": SALES2, "name": BINH, "answered": 2,
         **_times(12.5, 15.0, 12.5, 15.0), "withdrawn": 2, "withdrawn_breaches": 1},
        {"by": "customer_group", "key": "vip", "name": "", "answered": 5,
         **_times(5.0, 20.0, 5.0, 900.0), "withdrawn": 0, "withdrawn_breaches": 0},
        {"by": "customer_group", "key": "unknown", "name": "", "answered": 2,
         **_times(12.5, 15.0, 12.5, 15.0), "withdrawn": 2, "withdrawn_breaches": 1},
        # team: 1, 2, 5, 10, 10, 15, 20 working; the 20 took 900 of wall-clock time
        {"by": "team", "key": "team", "name": "", "answered": 7,
         **_times(10.0, 20.0, 10.0, 900.0), "withdrawn": 2, "withdrawn_breaches": 1},
    ]  # fmt: skip
    assert list(rows[0]) == list(reports.REPORTS["response_times"].columns)


async def test_approval_waits_per_accountant(month: Any) -> None:
    rows = await _run(month, "approvals")
    assert rows == [
        {"accountant_id": CHIEF, "accountant_name": EM, "decided": 1, "approved": 1,
         "rejected": 0, "p50_wait_wall_min": 5.0, "p90_wait_wall_min": 5.0, "late": 0},
        {"accountant_id": ACCOUNTANT, "accountant_name": DUNG, "decided": 3, "approved": 2,
         "rejected": 1, "p50_wait_wall_min": 20.0, "p90_wait_wall_min": 40.0, "late": 1},
        {"accountant_id": "team", "accountant_name": "", "decided": 4, "approved": 3,
         "rejected": 1, "p50_wait_wall_min": 15.0, "p90_wait_wall_min": 40.0, "late": 1},
    ]  # fmt: skip
    assert list(rows[0]) == list(reports.REPORTS["approvals"].columns)


async def test_the_api_serves_them_as_csv(month: Any) -> None:
    answer = await month.client.get(
        "/api/reports/response_times?from=2026-11-01&to=2026-11-30&format=csv", headers=AUTH
    )
    assert answer.status == 200
    text = await answer.text()
    assert "p90_response_wall_min" in text and "withdrawn_breaches" in text


async def test_the_digest_shows_the_teams_times_and_the_withdrawn_clocks(month: Any) -> None:
    now = datetime(2026, 11, 20, 12, 0, tzinfo=VN)
    async with month.runtime.sessions() as db:
        context = await reports.digest_context(db, "month", now, VN)
    vi = month.runtime.renderer.render("report_digest", "vi", **context)
    assert "trung vị 10, P90 20 phút làm việc (giờ thực 10 / 900 phút)" in vi
    assert "2 lượt đã rút vì không cần trả lời (trong đó 1 lần trễ hạn)" in vi
    en = month.runtime.renderer.render("report_digest", "en", **context)
    assert "median 10, P90 20 working min (wall-clock 10 / 900 min)" in en
