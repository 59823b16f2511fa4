"""Management reports: every figure of a small hand-made month, /baocao, the digests, the CSV API.

The fixture is November 2026 (the clock is Monday 23 Nov 2026 09:00 in Vietnam); the reports
run on the local dates 1-30 Nov, i.e. [1 Nov 00:00, 1 Dec 00:00) Asia/Ho_Chi_Minh. Every
expected figure below is worked out by hand in the comments next to the rows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot.core.render import Renderer
from bot.core.schedules import JOBS
from bot.features.reports import queries as reports
from storage.models import (
    CareLog,
    Customer,
    Group,
    Incident,
    Order,
    OrderItem,
    Payment,
    Product,
    Rating,
    ScheduledRun,
    SlaClock,
)
from tests.helpers.reports import AUTH, NOVEMBER, VN
from tests.support import ADMIN, GROUP, HEAD, SALES, SALES2

G2 = "g2aaaaaaaaaaaaaaaaaa"


def at(day: int, hour: int = 9, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=VN).astimezone(UTC)


def clock(owner: str, group: str, opened: datetime, seconds: int | None, **kw: Any) -> SlaClock:
    closed = opened + timedelta(seconds=seconds) if seconds is not None else None
    return SlaClock(
        group_id=group,
        customer_id="c",
        msg_id=f"m{opened.timestamp()}{owner}",
        owner_id=owner,
        opened_at=opened,
        remind_at=opened,
        deadline=opened + timedelta(minutes=15),
        escalate_at=opened + timedelta(minutes=30),
        closed_at=closed,
        closed_by=owner if closed else None,
        response_seconds=seconds,
        **kw,
    )


def payment(kind: str, amount: int, requested: datetime, status: str, minutes: int = 0) -> Payment:
    decided = requested + timedelta(minutes=minutes) if status != "pending" else None
    return Payment(
        group_id=GROUP,
        kind=kind,
        amount=amount,
        requested_by=SALES,
        requested_at=requested,
        status=status,
        decided_at=decided,
    )


def incident(kind: str, opened: datetime, minutes: int | None, breached: bool = False) -> Incident:
    return Incident(
        group_id=GROUP,
        type=kind,
        description="d",
        opened_by=SALES,
        opened_at=opened,
        deadline=opened + timedelta(hours=4),
        escalate_at=opened + timedelta(hours=5),
        status="resolved" if minutes is not None else "open",
        resolved_at=opened + timedelta(minutes=minutes) if minutes is not None else None,
        breached_at=opened + timedelta(hours=4) if breached else None,
    )


def customer(cid: int, name: str, **kw: Any) -> Customer:
    return Customer(id=cid, name=name, created_at=at(1, month=1), updated_at=at(1, month=1), **kw)


def order(oid: int, cust: int, bought: datetime, group: str | None, **kw: Any) -> Order:
    return Order(
        id=oid,
        order_code=f"DH{oid}",
        customer_id=cust,
        group_id=group,
        purchased_at=bought,
        created_by=SALES,
        created_at=bought,
        **kw,
    )


def care_log(staff: str, order_id: int, when: datetime, feedback: str | None) -> CareLog:
    return CareLog(order_id=order_id, staff_id=staff, content="c", feedback=feedback, at=when)


def rating(staff: str, score: int | None, answered: datetime | None) -> Rating:
    return Rating(
        group_id=GROUP, staff_id=staff, reason="order", asked_at=at(1), score=score,
        answered_at=answered,
    )  # fmt: skip


def fixture_rows() -> list[Any]:
    return [
        # SLA, by owner. SALES: 240 s and 480 s, both in time -> 2/2 = 100 %, median
        # (4 + 8) / 2 = 6 min. SALES2: 360 s in time, 1200 s breached, one still open and not
        # late (not decided) -> 3 clocks, 1 in time of 2 decided = 50 %, median (6 + 20) / 2
        # = 13 min, 1 breach. Team: 5 clocks, 3 in time of 4 decided = 75 %, median of
        # 240, 360, 480, 1200 = (360 + 480) / 2 s = 7 min. Outside the month: 31 Oct and
        # exactly 1 Dec 00:00.
        clock(SALES, GROUP, at(2), 240),
        clock(SALES, GROUP, at(3), 480),
        clock(SALES2, G2, at(4), 360),
        clock(SALES2, G2, at(5), 1200, breached_at=at(5, 9, 15)),
        clock(SALES2, G2, at(23, 8), None),
        clock(SALES, GROUP, at(31, month=10), 60),
        clock(SALES, GROUP, at(1, 0, month=12), 60),
        # Payments. payment: requested in Nov p1 10M, p2 5M, p4 1M = 3 / 16M; approved in Nov
        # p1 (30 min), p2 (90 min), p5 (asked 31 Oct 10:00, approved 1 Nov 08:00 = 1320 min)
        # = 3 / 22M, median 90 min. credit: p3 requested and rejected, 1 / 20M.
        # Total: requested 4 / 36M, approved 3 / 22M, rejected 1 / 20M, median 90 min.
        payment("payment", 10_000_000, at(2), "approved", 30),
        payment("payment", 5_000_000, at(3), "approved", 90),
        payment("credit", 20_000_000, at(4), "rejected", 10),
        payment("payment", 1_000_000, at(5), "pending"),
        payment("payment", 7_000_000, at(31, 10, month=10), "approved", 1320),
        # Incidents. wrong_item: 2 opened, resolved in 120 and 60 min -> median 90.
        # late_delivery: 1 opened, open, breached. Total 3 / 2 / 1 breach, median 90.
        incident("wrong_item", at(10, 8), 120),
        incident("wrong_item", at(11, 8), 60),
        incident("late_delivery", at(12, 8), None, breached=True),
        # Customers: C1 36 y (35-44), C2 24 y on 30 Nov (<25, 25 on 1 Dec), C3 no birthday,
        # C4 56 y (55+). Regions: Hà Nội 2, Đà Nẵng 1, unknown 1.
        customer(1, "Công ty An Phát", region="Hà Nội", gender="male",
                 birthday=date(1990, 3, 15), channel="facebook", customer_group="vip",
                 contact_channel="zalo"),
        customer(2, "Bà Hoa", region="Hà Nội", gender="female", birthday=date(2001, 12, 1),
                 channel="facebook", customer_group="retail", contact_channel="zalo"),
        customer(3, "Anh Minh", gender="male", channel="store", customer_group="retail",
                 contact_channel="phone"),
        customer(4, "Chị Lan", region="Đà Nẵng", gender="female", birthday=date(1970, 3, 2),
                 channel="store", customer_group="retail", contact_channel="zalo"),
        Group(group_id=GROUP, customer_id=1, assigned_sales_id=SALES, created_at=at(1, month=1),
              updated_at=at(1, month=1)),
        Group(group_id=G2, customer_id=2, assigned_sales_id=SALES2, created_at=at(1, month=1),
              updated_at=at(1, month=1)),
        Product(id=9001, code="BC01", name="Máy lọc nước", product_group="Gia dụng"),
        Product(id=9002, code="BC02", name="Lõi lọc", product_group="Phụ kiện"),
        # Orders. O1 (C1, 5 Nov, due 20 Nov, SALES's group): due and waiting for SALES.
        # O2 (C1, 20 Nov, due 5 Dec): not due. O3 (C2, Sep, due 15 Oct, SALES2's group):
        # overdue for SALES2. O4 cancelled, O5 care closed: never due, O4 never sold.
        # O6 (C3, 1 Jul): C3's last purchase 153 days before 1 Dec -> 90-180.
        order(1, 1, at(5), GROUP, next_care_date=date(2026, 11, 20)),
        order(2, 1, at(20), GROUP, next_care_date=date(2026, 12, 5)),
        order(3, 2, at(10, month=9), G2, next_care_date=date(2026, 10, 15)),
        order(4, 3, at(25), None, status="cancelled", next_care_date=date(2026, 11, 28)),
        order(5, 2, at(12), G2, care_closed=True, next_care_date=date(2026, 11, 26)),
        order(6, 3, at(1, month=7), None, status="fulfilled"),
        # Items: C1 x BC01 1 order, qty 1, 5M; C1 x BC02 orders O1+O2, qty 2+3, 1.5M;
        # C2 x BC02 O5 qty 1 300k (O3 is September, O4 cancelled).
        OrderItem(order_id=1, product_id=9001, quantity=1, amount=5_000_000),
        OrderItem(order_id=1, product_id=9002, quantity=2, amount=600_000),
        OrderItem(order_id=2, product_id=9002, quantity=3, amount=900_000),
        OrderItem(order_id=3, product_id=9001, quantity=1, amount=5_000_000),
        OrderItem(order_id=4, product_id=9001, quantity=1, amount=5_000_000),
        OrderItem(order_id=5, product_id=9002, quantity=1, amount=300_000),
        OrderItem(order_id=6, product_id=9002, quantity=1, amount=300_000),
        # Care in Nov: SALES 2 contacts on O1 (positive, neutral); SALES2 2 on O5 (complaint,
        # no_answer). The 30 Oct contact is outside.
        care_log(SALES, 1, at(6), "positive"),
        care_log(SALES, 1, at(21), "neutral"),
        care_log(SALES2, 5, at(13), "complaint"),
        care_log(SALES2, 5, at(14), "no_answer"),
        care_log(SALES, 1, at(30, month=10), "positive"),
        # Ratings answered in Nov: SALES 5 (100) and 3 (50); SALES2 2 (25); one unanswered,
        # one answered in October. Satisfaction: SALES (100+50+100+50)/4 = 75; SALES2
        # (25 + 0 complaint)/2 = 12.5 (no_answer ignored); team 325/6 = 54.17 -> 54.2.
        rating(SALES, 5, at(7)),
        rating(SALES, 3, at(8)),
        rating(SALES2, 2, at(9)),
        rating(SALES2, None, None),
        rating(SALES, 1, at(20, month=10)),
    ]  # fmt: skip


@pytest.fixture
async def month(bot: Any) -> Any:
    async with bot.runtime.sessions() as db:
        for row in fixture_rows():
            db.add(row)
            await db.flush()  # parents before children, in list order
        await db.commit()
    return bot


async def run(bot: Any, name: str) -> list[dict[str, Any]]:
    async with bot.runtime.sessions() as db:
        return await reports.REPORTS[name].run(db, *NOVEMBER, VN)


def staff_row(sid: str, name: str, **figures: Any) -> dict[str, Any]:
    return {"staff_id": sid, "staff_name": name, **figures}


AN, BINH = "Nguyễn Văn An", "Trần Thị Bình"


async def test_sla_compliance_and_median_per_staff_and_team(month):
    assert await run(month, "sla") == [
        staff_row(SALES, AN, clocks=2, answered=2, in_time=2, compliance_pct=100.0,
                  median_response_min=6.0, breaches=0),
        staff_row(SALES2, BINH, clocks=3, answered=2, in_time=1, compliance_pct=50.0,
                  median_response_min=13.0, breaches=1),
        staff_row("team", "", clocks=5, answered=4, in_time=3, compliance_pct=75.0,
                  median_response_min=7.0, breaches=1),
    ]  # fmt: skip


async def test_payments_counts_amounts_and_median_approval(month):
    assert await run(month, "payments") == [
        {"kind": "credit", "requested": 1, "requested_amount": 20_000_000, "approved": 0,
         "approved_amount": 0, "rejected": 1, "rejected_amount": 20_000_000,
         "median_approval_min": None},
        {"kind": "payment", "requested": 3, "requested_amount": 16_000_000, "approved": 3,
         "approved_amount": 22_000_000, "rejected": 0, "rejected_amount": 0,
         "median_approval_min": 90.0},
        {"kind": "total", "requested": 4, "requested_amount": 36_000_000, "approved": 3,
         "approved_amount": 22_000_000, "rejected": 1, "rejected_amount": 20_000_000,
         "median_approval_min": 90.0},
    ]  # fmt: skip


async def test_incidents_by_type(month):
    assert await run(month, "incidents") == [
        {"type": "late_delivery", "opened": 1, "resolved": 0, "breaches": 1,
         "median_resolution_min": None},
        {"type": "wrong_item", "opened": 2, "resolved": 2, "breaches": 0,
         "median_resolution_min": 90.0},
        {"type": "total", "opened": 3, "resolved": 2, "breaches": 1,
         "median_resolution_min": 90.0},
    ]  # fmt: skip


async def test_care_done_vs_due(month):
    assert await run(month, "care") == [
        staff_row(SALES, AN, done=2, orders_cared=1, due_waiting=1, overdue=0),
        staff_row(SALES2, BINH, done=2, orders_cared=1, due_waiting=0, overdue=1),
        staff_row("team", "", done=4, orders_cared=2, due_waiting=1, overdue=1),
    ]


async def test_satisfaction_index_mixes_ratings_and_care_feedback(month):
    assert await run(month, "satisfaction") == [
        staff_row(SALES, AN, index=75.0, ratings=2, avg_rating=4.0, feedbacks=2, positive=1,
                  negative=0),
        staff_row(SALES2, BINH, index=12.5, ratings=1, avg_rating=2.0, feedbacks=1, positive=0,
                  negative=1),
        staff_row("team", "", index=54.2, ratings=3, avg_rating=3.33, feedbacks=3, positive=1,
                  negative=1),
    ]  # fmt: skip


def pair(cid: int, name: str, code: str, orders: int, qty: int, amount: int, last: int) -> dict:
    return {"customer_id": cid, "customer_name": name, "product_code": code, "orders": orders,
            "quantity": qty, "amount": amount, "last_purchase": date(2026, 11, last)}  # fmt: skip


PAIRS = [
    pair(2, "Bà Hoa", "BC02", 1, 1, 300_000, 12),
    pair(1, "Công ty An Phát", "BC01", 1, 1, 5_000_000, 5),
    pair(1, "Công ty An Phát", "BC02", 2, 5, 1_500_000, 20),
]


async def test_products_by_customer(month):
    rows = await run(month, "products_by_customer")
    assert [{k: r[k] for k in PAIRS[0]} for r in rows] == PAIRS
    assert rows[0]["product_group"] == "Phụ kiện"


async def test_customers_by_product_lists_whom_to_contact(month):
    rows = await run(month, "customers_by_product")
    assert [{k: r[k] for k in PAIRS[0]} for r in rows] == [PAIRS[1], PAIRS[0], PAIRS[2]]
    assert (rows[1]["region"], rows[1]["phone"]) == ("Hà Nội", None)


async def test_customers_by_last_purchase_buckets(month):
    # C1 20 Nov and C2 12 Nov: <30 days before 1 Dec; C3 1 Jul (its 25 Nov order is
    # cancelled): 153 days; C4 never bought.
    assert await run(month, "customers_by_last_purchase") == [
        {"bucket": "<30", "customers": 2, "percent": 50.0},
        {"bucket": "30-90", "customers": 0, "percent": 0.0},
        {"bucket": "90-180", "customers": 1, "percent": 25.0},
        {"bucket": ">180", "customers": 0, "percent": 0.0},
        {"bucket": "never", "customers": 1, "percent": 25.0},
    ]


@pytest.mark.parametrize(
    ("dimension", "expected"),
    [
        ("region", [("Hà Nội", 2), ("Đà Nẵng", 1), ("unknown", 1)]),
        ("age_band", [("<25", 1), ("35-44", 1), ("55+", 1), ("unknown", 1)]),
        ("birthday_month", [(3, 2), (12, 1), ("unknown", 1)]),
        ("gender", [("female", 2), ("male", 2)]),
        ("channel", [("facebook", 2), ("store", 2)]),
        ("customer_group", [("retail", 3), ("vip", 1)]),
        ("contact_channel", [("phone", 1), ("zalo", 3)]),
    ],
)
async def test_customers_by_dimension(month, dimension, expected):
    rows = await run(month, f"customers_by_{dimension}")
    assert [(r[dimension], r["customers"]) for r in rows] == expected
    assert sum(r["percent"] for r in rows) == 100.0


async def test_every_report_has_its_declared_columns(month):
    for name, report in reports.REPORTS.items():
        for row in await run(month, name):
            assert set(report.columns) <= set(row), name


async def test_empty_database_gives_empty_workflow_reports(bot):
    for name in ("sla", "payments", "incidents", "care", "satisfaction"):
        assert await run(bot, name) == [], name


# --- /baocao ----------------------------------------------------------------------------------


async def digests(bot: Any) -> list[Any]:
    return await bot.outbox(purpose="report_digest")


async def test_baocao_in_a_customer_group_answers_the_head_one_to_one(month):
    await month.say("/baocao thang", sender=HEAD)
    [sent] = await digests(month)
    assert (sent.target_kind, sent.target_id) == ("user", HEAD)
    assert "Báo cáo tháng 01/11/2026 – 30/11/2026" in sent.text
    assert "Nguyễn Văn An: 100% đúng hạn (2/2 lượt), phản hồi trung vị 6 phút" in sent.text
    assert "Cả đội: 75% đúng hạn, trung vị 7 phút, 1 lần trễ hạn" in sent.text
    assert "đã duyệt 3 (22.000.000 ₫)" in sent.text
    assert "Trần Thị Bình: 2 / 0 / 1" in sent.text
    assert "Trần Thị Bình: 12,5 (1 đánh giá, 1 phản hồi chăm sóc)" in sent.text
    assert not [r for r in await month.outbox(target_id=GROUP) if r.purpose == "report_digest"]


async def test_report_one_to_one_defaults_to_today(month):
    await month.dm("/report", sender=ADMIN)
    [sent] = await digests(month)
    assert sent.target_id == ADMIN
    # today, 23 Nov: only SALES2's clock opened at 08:00, still open and not late
    assert "Báo cáo ngày 23/11/2026" in sent.text
    assert "Trần Thị Bình: — đúng hạn (0/1 lượt)" in sent.text


async def test_report_is_for_heads_and_checks_the_period(month):
    await month.dm("/baocao", sender=SALES)
    await month.dm("/baocao nam", sender=HEAD)
    purposes = [r.purpose for r in await month.outbox()]
    assert purposes == ["denied", "usage"]


@pytest.mark.parametrize(
    ("raw", "period"),
    [("", "day"), ("ngày", "day"), ("Tuần", "week"), ("thang", "month"), ("week", "week")],
)
def test_parse_report(raw, period):
    from bot.features.reports.commands import parse_report

    assert parse_report(raw) == period


# --- scheduled digests ------------------------------------------------------------------------


async def test_daily_digest_goes_to_the_heads_once_on_a_working_day(month):
    assert await month.runtime.run_job("digest_daily") == 2
    assert await month.runtime.run_job("digest_daily") == 0
    assert sorted(r.target_id for r in await digests(month)) == sorted([HEAD, ADMIN])


async def test_no_daily_digest_on_sunday(month):
    month.clock.set(at(29, 17, 45))
    assert await month.runtime.run_job("digest_daily") == 0


@pytest.mark.parametrize(
    ("name", "when", "period", "title"),
    [
        ("digest_weekly", at(28, 17, 45), "2026-W48", "Báo cáo tuần 23/11/2026 – 29/11/2026"),
        ("digest_monthly", at(30, 17, 45), "2026-11", "Báo cáo tháng 01/11/2026 – 30/11/2026"),
    ],
)
async def test_weekly_and_monthly_digests_claim_their_period(month, name, when, period, title):
    month.clock.set(when)
    assert await month.runtime.run_job(name) == 2
    assert await month.runtime.run_job(name) == 0
    async with month.runtime.sessions() as db:
        runs = (await db.exec(select(ScheduledRun.period).where(ScheduledRun.job == name))).all()
    assert runs == [period]
    assert all(title in r.text for r in await digests(month))


def test_digest_schedules(settings):
    fires = {name: JOBS[name].cron(settings) for name in JOBS if name.startswith("digest_")}
    assert fires == {
        "digest_daily": {"hour": 17, "minute": 45},
        "digest_weekly": {"hour": 17, "minute": 45, "second": 0, "day_of_week": "sat"},
        "digest_monthly": {"hour": 17, "minute": 45, "second": 0, "day": "last"},
    }
    # only the daily digest is caught up at start
    assert [n for n in fires if JOBS[n].fires_at(settings)] == ["digest_daily"]


async def test_digest_goes_to_the_alert_group_when_set(make_bot, settings):
    bot = await make_bot(settings.replace(zalo_alert_group_id="alertgroup"))
    assert await bot.runtime.run_job("digest_daily") == 1
    [sent] = await digests(bot)
    assert (sent.target_kind, sent.target_id) == ("group", "alertgroup")


# --- CSV API ----------------------------------------------------------------------------------


async def test_csv_needs_the_admin_token(month):
    response = await month.client.get("/api/reports/sla")
    assert response.status == 401


async def test_csv_report_for_a_period(month):
    response = await month.client.get(
        "/api/reports/sla?from=2026-11-01&to=2026-11-30", headers=AUTH
    )
    assert response.status == 200
    assert response.content_type == "text/csv" and response.charset == "utf-8"
    assert (
        response.headers["Content-Disposition"]
        == "attachment; filename=sla_2026-11-01_2026-11-30.csv"
    )
    assert (await response.text()).splitlines() == [
        "\ufeffstaff_id,staff_name,clocks,answered,in_time,compliance_pct,median_response_min,breaches",
        f"{SALES},{AN},2,2,2,100.0,6.0,0",
        f"{SALES2},{BINH},3,2,1,50.0,13.0,1",
        "team,,5,4,3,75.0,7.0,1",
    ]


async def test_csv_defaults_to_the_last_30_days(month):
    response = await month.client.get("/api/reports/customers_by_region", headers=AUTH)
    assert response.status == 200
    assert response.headers["Content-Disposition"].endswith(
        "customers_by_region_2026-10-25_2026-11-23.csv"
    )
    assert "Hà Nội,2,50.0" in await response.text()


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/api/reports/nope", 404),
        ("/api/reports/sla?from=2026-13-01", 400),
        ("/api/reports/sla?from=23/11/2026", 400),
        ("/api/reports/sla?from=2026-11-30&to=2026-11-01", 400),
    ],
)
async def test_csv_refuses_unknown_reports_and_bad_dates(month, url, status):
    assert (await month.client.get(url, headers=AUTH)).status == status


async def test_report_names_are_listed(month):
    response = await month.client.get("/api/reports", headers=AUTH)
    names = [r["name"] for r in (await response.json())["reports"]]
    assert names == list(reports.REPORTS)
    assert "customers_by_age_band" in names


# --- the template -----------------------------------------------------------------------------

SAMPLE_DIGEST = {
    "period": "week",
    "first": date(2026, 11, 23),
    "last": date(2026, 11, 29),
    "sla": [staff_row("1", "An", clocks=2, in_time=1, compliance_pct=50.0,
                      median_response_min=6.5, breaches=1)],
    "payments": [],
    "incidents": [{"type": "damaged", "opened": 1, "resolved": 0}],
    "care": [staff_row("1", "An", done=3, due_waiting=1, overdue=0)],
    "satisfaction": [staff_row(None, "", index=None, ratings=0, feedbacks=0)],
    "totals": {
        "sla": {"compliance_pct": 50.0, "median_response_min": 6.5, "breaches": 1},
        "payments": {"requested": 1, "requested_amount": 5_000_000, "approved": 1,
                     "approved_amount": 5_000_000, "rejected": 0, "rejected_amount": 0,
                     "median_approval_min": 12.0},
        "incidents": {"opened": 1, "resolved": 0, "breaches": 0, "median_resolution_min": None},
        "care": None,
        "satisfaction": None,
    },
}  # fmt: skip


@pytest.mark.parametrize("locale", ["vi", "en"])
def test_digest_template_renders(locale):
    text = Renderer(VN).render("report_digest", locale, **SAMPLE_DIGEST)
    assert "23/11/2026 – 29/11/2026" in text
    assert ("6,5 phút" if locale == "vi" else "6.5 min") in text
    assert "\n\n" in text and "\n\n\n" not in text


async def test_digest_of_an_empty_period_renders(bot):
    async with bot.runtime.sessions() as db:
        context = await reports.digest_context(db, "day", bot.clock.now(), VN)
    for locale in ("vi", "en"):
        assert bot.runtime.renderer.render("report_digest", locale, **context)
