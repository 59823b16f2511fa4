"""The dashboard pages: overview, groups, one group, staff, reports, as each kind of viewer.

Data comes from driving the bot as people do; pages are read through the real app with a
session cookie, and checked on their element ids and data attributes.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from bot.web.core import make_session_cookie
from bot.web.queries_groups import page_of
from storage.models import Group, Message
from tests.conftest import ADMIN_TOKEN, START
from tests.helpers.web import Html
from tests.support import (
    ACCOUNTANT,
    ADMIN,
    CHIEF,
    CUSTOMER,
    GROUP,
    HEAD,
    SALES,
    SALES2,
    WAREHOUSE,
)

OTHER = "a1b2c3d4e5f6a7b8c9d0"
CUSTOMER2 = "2000000000000000002"


def sign_in(bot, user_id: str) -> None:
    cookie = make_session_cookie(bot.runtime, user_id, bot.clock.now())
    bot.client.session.cookie_jar.update_cookies({"zb_session": cookie})


async def fetch(bot, path: str, viewer: str = HEAD) -> tuple[int, str]:
    sign_in(bot, viewer)
    response = await bot.client.get(path, allow_redirects=False)
    return response.status, await response.text()


async def page(bot, path: str, viewer: str = HEAD) -> Html:
    status, text = await fetch(bot, path, viewer)
    assert status == 200, text[:500]
    return Html(text)


async def bind(bot, group: str = GROUP, sales: str = SALES, profile: str = "Công ty Minh Phát"):
    """The sales binds the group to a customer and becomes its assigned sales."""
    await bot.say(f"/khachhang {profile}", sender=sales, group=group)


async def later(bot, **delta: float) -> None:
    bot.clock.advance(**delta)
    await bot.runtime.drain()


# --- who may see what -------------------------------------------------------------------------

PAGES = [
    "/dashboard",
    "/dashboard/groups",
    f"/dashboard/groups/{GROUP}",
    "/dashboard/staff",
    f"/dashboard/staff/{SALES}",
    "/dashboard/reports",
    "/dashboard/reports/sla",
    "/dashboard/reports/sla.csv",
]


@pytest.mark.parametrize("path", PAGES)
async def test_a_signed_out_visitor_is_sent_to_login(bot, path):
    response = await bot.client.get(path, allow_redirects=False)
    assert response.status == 302 and response.headers["Location"].startswith("/login?next=")


async def test_a_sales_sees_only_their_own_groups_and_a_head_sees_all(bot):
    await bind(bot)
    await bind(bot, group=OTHER, sales=SALES2, profile="Cửa hàng Hoa Mai")
    for group in (GROUP, OTHER):
        await bot.say("Báo giá giúp em", sender=CUSTOMER, group=group)
    mine = await page(bot, "/dashboard", SALES)
    assert mine.values("open-clocks", "data-group") == [GROUP]
    listed = await page(bot, "/dashboard/groups", SALES)
    assert listed.values("groups", "data-group") == [GROUP]
    assert (await fetch(bot, f"/dashboard/groups/{OTHER}", SALES))[0] == 404
    assert (await fetch(bot, "/dashboard/groups/no-such-group", HEAD))[0] == 404
    head = await page(bot, "/dashboard", HEAD)
    assert sorted(head.values("open-clocks", "data-group")) == sorted([GROUP, OTHER])
    assert (await fetch(bot, f"/dashboard/groups/{OTHER}", ACCOUNTANT))[0] == 200


async def test_warehouse_sees_the_groups_they_are_in(bot):
    await bind(bot)
    await bind(bot, group=OTHER, sales=SALES2)
    await bot.say("Kho đã kiểm tra hàng", sender=WAREHOUSE, group=OTHER)
    listed = await page(bot, "/dashboard/groups", WAREHOUSE)
    assert listed.values("groups", "data-group") == [OTHER]
    assert (await fetch(bot, f"/dashboard/groups/{GROUP}", WAREHOUSE))[0] == 404
    assert (await fetch(bot, f"/dashboard/groups/{OTHER}", WAREHOUSE))[0] == 200


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/dashboard/groups/%00", 404),
        ("/dashboard/groups/" + "x" * 300, 404),
        ("/dashboard/staff/%00", 404),
        ("/dashboard/groups?q=%00%ED%A0%80&page=%C2%B2", 200),
        (f"/dashboard/groups/{GROUP}?q=%00&page=-1", 404),
        (f"/dashboard/staff/{SALES}?days=%C2%B2", 200),
    ],
)
async def test_odd_input_is_never_a_500(bot, path, status):
    assert (await fetch(bot, path))[0] == status


async def test_english_on_request(bot):
    overview = await page(bot, "/dashboard?lang=en")
    assert "Customers waiting for an answer" in overview.text("open-clocks")


# --- overview ---------------------------------------------------------------------------------


async def test_an_open_clock_shows_after_a_customer_message_and_goes_once_answered(bot):
    await bind(bot)
    await bot.say("Cho em hỏi giá lô 500 thùng", sender=CUSTOMER)
    overview = await page(bot, "/dashboard")
    [row] = overview.find("open-clocks", data_group=GROUP)
    assert "Nguyễn Văn An" in overview.text("open-clocks") and "15m" in overview.text("open-clocks")
    assert overview.values("open-clocks", "href")[0] == f"/dashboard/groups/{GROUP}"
    await later(bot, minutes=5)
    await bot.say("Dạ em gửi báo giá ngay ạ", sender=SALES)
    assert (await page(bot, "/dashboard")).find("open-clocks", data_group=GROUP) == []


async def test_a_breach_shows_once_the_deadline_passes(bot):
    await bind(bot)
    await bot.say("Anh cần báo giá gấp", sender=CUSTOMER)
    assert (await page(bot, "/dashboard")).values("breaches-today", "data-group") == []
    await later(bot, minutes=20)
    overview = await page(bot, "/dashboard")
    assert overview.values("breaches-today", "data-group") == [GROUP]
    assert "Nguyễn Văn An" in overview.text("breaches-today")
    assert "-5m" in overview.text("open-clocks")  # overdue: negative time left
    assert any("bad" in (e.get("class") or "").split() for e in overview.find("open-clocks"))


async def test_a_breach_of_yesterday_is_not_today(bot):
    await bind(bot)
    await bot.say("Anh cần báo giá gấp", sender=CUSTOMER)
    await later(bot, minutes=20)
    await later(bot, days=2)  # Wednesday: 24 Nov is a holiday, the breach was on Monday
    assert (await page(bot, "/dashboard")).values("breaches-today", "data-group") == []


async def test_a_pending_payment_shows_until_accounting_approves_it(bot):
    await bind(bot)
    await bot.say("/thanhtoan 150tr chuyenkhoan coc dot 1", sender=SALES)
    overview = await page(bot, "/dashboard", ACCOUNTANT)
    [row] = overview.find("payments-waiting", data_payment="1")
    assert row["data-group"] == GROUP
    text = overview.text("payments-waiting")
    assert "150.000.000 ₫" in text and "Nguyễn Văn An" in text and "kế toán trưởng" in text
    await bot.say("/duyet 1", sender=ACCOUNTANT)
    assert "Chờ kế toán trưởng" in (await page(bot, "/dashboard")).text("payments-waiting")
    await bot.say("/duyet 1", sender=CHIEF)
    assert (await page(bot, "/dashboard")).find("payments-waiting", data_payment="1") == []


async def test_an_open_incident_shows_with_its_deadline(bot):
    await bind(bot)
    await bot.say("/suco giaosai Giao nhầm mã 2 thùng", sender=SALES)
    overview = await page(bot, "/dashboard", SALES)
    [row] = overview.find("open-incidents", data_incident="1")
    assert row["data-group"] == GROUP
    assert "Giao sai hàng" in overview.text("open-incidents")
    assert "23/11 14:30" in overview.text("open-incidents")
    await bot.say("/xuly 1 Đã đổi đúng hàng", sender=SALES)
    assert (await page(bot, "/dashboard")).find("open-incidents", data_incident="1") == []


async def test_care_due_today_lists_the_order_for_its_sales_only(bot):
    bot.clock.set(START - timedelta(days=90))
    await bind(bot)
    await bot.say("/donhang LOC-PP5 x1", sender=SALES)  # care interval 90 days: due today
    bot.clock.set(START)
    mine = await page(bot, "/dashboard", SALES)
    assert mine.values("care-due", "data-group") == [GROUP]
    assert "Nguyễn Văn An" in mine.text("care-due")
    assert (await page(bot, "/dashboard", SALES2)).values("care-due", "data-group") == []


# --- groups -----------------------------------------------------------------------------------


@pytest.mark.parametrize("q", ["minh PHÁT", "0901234567", "f414c8", "MINH"])
async def test_the_group_list_searches_names_phones_and_ids(bot, q):
    await bind(bot, profile="Công ty Minh Phát sdt=0901234567")
    await bind(bot, group=OTHER, sales=SALES2, profile="Cửa hàng Hoa Mai")
    found = await page(bot, f"/dashboard/groups?q={q}")
    assert found.values("groups", "data-group") == [GROUP]


async def test_the_group_list_pages_by_fifty(bot):
    now = datetime(2026, 1, 1, tzinfo=UTC)
    async with bot.runtime.sessions() as db:
        for i in range(55):
            db.add(Group(group_id=f"g{i:03d}", name=f"Nhóm {i}", created_at=now, updated_at=now))
        await db.commit()
    first = await page(bot, "/dashboard/groups")
    second = await page(bot, "/dashboard/groups?page=2")
    assert len(first.values("groups", "data-group")) == 50
    assert len(second.values("groups", "data-group")) == 5
    assert not set(first.values("groups", "data-group")) & set(
        second.values("groups", "data-group")
    )


async def test_the_transcript_shows_the_latest_200_newest_last_and_pages_back(bot):
    start = datetime(2026, 11, 1, tzinfo=UTC)
    async with bot.runtime.sessions() as db:
        db.add(Group(group_id=GROUP, name="Minh Phát", created_at=start, updated_at=start))
        for i in range(205):
            db.add(
                Message(
                    msg_id=f"m{i}", group_id=GROUP, user_id=CUSTOMER, direction="in",
                    sender_kind="customer", event_name="user_send_group_text",
                    text=f"tin số {i}", sent_at=start + timedelta(minutes=i),
                )
            )  # fmt: skip
        await db.commit()
    latest = await page(bot, f"/dashboard/groups/{GROUP}")
    texts = re.findall(r"tin số (\d+)", latest.text("transcript"))
    assert texts == [str(i) for i in range(5, 205)]
    [older] = latest.find("transcript-pages", rel="next")
    assert older["href"] == "?page=2#transcript"
    rest = await page(bot, f"/dashboard/groups/{GROUP}?page=2")
    assert re.findall(r"tin số (\d+)", rest.text("transcript")) == ["0", "1", "2", "3", "4"]


@pytest.mark.parametrize(
    ("total", "wanted", "expected"),
    [(0, 1, (1, 1)), (50, 2, (1, 1)), (51, 2, (2, 2)), (120, 0, (1, 3)), (120, 9, (3, 3))],
)
def test_page_of_keeps_the_page_in_range(total, wanted, expected):
    assert page_of(total, wanted, 50) == expected


async def test_the_group_page_shows_stage_sales_and_members(bot):
    await bind(bot)
    await bot.say("Chào anh chị", sender=CUSTOMER)
    await bot.say("/giaidoan baogia", sender=SALES)
    group = await page(bot, f"/dashboard/groups/{GROUP}", SALES)
    assert group.text("stage") == "Đang báo giá"
    assert group.text("assigned-sales") == "Nguyễn Văn An"
    members = group.text("members")
    assert "Nguyễn Văn An Kinh doanh" in members and "Khách hàng" in members


async def test_the_transcript_search_finds_a_message_and_leaves_the_others_out(bot):
    await bind(bot)
    await bot.say("Cho em hỏi giá NƯỚC SUỐI Lavie", sender=CUSTOMER)
    await bot.say("Mai giao hàng được không?", sender=CUSTOMER)
    everything = await page(bot, f"/dashboard/groups/{GROUP}")
    assert len(everything.values("transcript", "data-msg")) >= 3
    found = await page(bot, f"/dashboard/groups/{GROUP}?q=nước suối")
    assert found.find("transcript-search", name="q")[0]["value"] == "nước suối"
    assert "NƯỚC SUỐI Lavie" in found.text("transcript")
    assert "Mai giao hàng" not in found.text("transcript")
    assert len(found.values("transcript", "data-msg")) == 1
    assert found.values("transcript", "data-msg") == (
        await page(bot, f"/dashboard/groups/{GROUP}?q=lAVIE")
    ).values("transcript", "data-msg")
    none = await page(bot, f"/dashboard/groups/{GROUP}?q=100%25_")
    assert none.values("transcript", "data-msg") == []


async def test_a_customers_script_shows_as_text(bot):
    await bind(bot)
    await bot.say("<script>alert('x')</script> giá bao nhiêu?", sender=CUSTOMER)
    status, text = await fetch(bot, f"/dashboard/groups/{GROUP}")
    assert status == 200 and "<script>alert" not in text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; giá bao nhiêu?" in text
    assert "Khách hàng" in Html(text).text("transcript")


async def test_bot_mentions_show_as_names(bot):
    await bind(bot)
    await bot.say("/thanhtoan 50tr chuyenkhoan", sender=SALES)
    status, text = await fetch(bot, f"/dashboard/groups/{GROUP}")
    assert '<span class="mention">@Phạm Thị Dung</span>' in text
    assert '<span class="mention">@Nguyễn Văn An</span>' in text
    assert f"[@{ACCOUNTANT}]" not in text


async def test_the_payment_trail_names_who_approved_and_rejected(bot):
    await bind(bot)
    await bot.say("/thanhtoan 150tr chuyenkhoan", sender=SALES)
    await bot.say("/congno 20tr 30 ngay", sender=SALES)
    await later(bot, minutes=3)
    await bot.say("/duyet 1", sender=ACCOUNTANT)
    await later(bot, minutes=4)
    await bot.say("/duyet 1", sender=CHIEF)
    await bot.say("/tuchoi 2 Khách còn nợ cũ", sender=ACCOUNTANT)
    group = await page(bot, f"/dashboard/groups/{GROUP}", SALES)
    [approved] = group.find("payments", data_payment="1")
    [rejected] = group.find("payments", data_payment="2")
    assert (approved["data-status"], rejected["data-status"]) == ("approved", "rejected")
    payments = group.text("payments")
    assert "Kế toán: Phạm Thị Dung · 23/11 09:03" in payments
    assert "Kế toán trưởng: Hoàng Văn Em · 23/11 09:07" in payments
    assert "Khách còn nợ cũ" in payments and "150.000.000 ₫" in payments


async def test_the_group_page_lists_incidents_and_the_audit_log(bot):
    await bind(bot)
    await bot.say("/suco thieuhang Thiếu 1 thùng", sender=SALES)
    group = await page(bot, f"/dashboard/groups/{GROUP}")
    [incident] = group.find("incidents", data_incident="1")
    assert incident["data-status"] == "open" and "Thiếu hàng" in group.text("incidents")
    actions = group.values("audit", "data-action")
    assert actions[0] == "incident.opened" and "customer.created" in actions
    assert "Nguyễn Văn An" in group.text("audit")


# --- staff ------------------------------------------------------------------------------------


async def clocks_for_sales(bot) -> None:
    """SALES answers one customer in time and lets another wait past the deadline."""
    await bind(bot)
    await bot.say("Giá bao nhiêu?", sender=CUSTOMER)
    await later(bot, minutes=5)
    await bot.say("Dạ 48.000đ một thùng ạ", sender=SALES)
    await bot.say("Còn hàng không?", sender=CUSTOMER)
    await later(bot, minutes=20)
    await bot.say("Dạ còn ạ", sender=SALES)


async def test_the_staff_table_shows_each_sales_compliance_and_breaches(bot):
    await clocks_for_sales(bot)
    table = await page(bot, "/dashboard/staff", HEAD)
    assert set(table.values("staff", "data-staff")) >= {SALES, SALES2}
    row = [e for e in table.elements if e["attrs"].get("data-staff") == SALES]
    assert row
    text = table.text("staff")
    assert "50.0%" in text and "Nguyễn Văn An" in text and "Trần Thị Bình" in text
    # median and 90th percentile, working and wall-clock time side by side (issue #18)
    assert "12.5 / 20.0 phút làm việc" in text and "giờ thực: 12.5 / 20.0 phút" in text
    own = await page(bot, "/dashboard/staff", SALES2)
    assert own.values("staff", "data-staff") == [SALES2]


async def test_a_staff_page_draws_charts_and_lists_violations(bot):
    await clocks_for_sales(bot)
    person = await page(bot, f"/dashboard/staff/{SALES}", HEAD)
    svgs = [e["attrs"] for e in person.elements if e["tag"] == "svg"]
    assert len(svgs) == 3 and all(s["role"] == "img" and s["viewbox"] for s in svgs)
    assert "chart-empty" not in svgs[0]["class"]
    assert person.values("violations", "data-kind") == ["sla_breach"]
    assert "Công ty Minh Phát" in person.text("violations")
    week = await page(bot, f"/dashboard/staff/{SALES}?days=7", SALES)
    assert [e for e in week.find("days") if e.get("aria-current")][0]["href"] == "?days=7"


async def test_staff_pages_of_others_are_for_heads_only(bot):
    assert (await fetch(bot, f"/dashboard/staff/{SALES2}", SALES))[0] == 403
    assert (await fetch(bot, f"/dashboard/staff/{SALES}", ACCOUNTANT))[0] == 403
    assert (await fetch(bot, f"/dashboard/staff/{SALES2}", HEAD))[0] == 200
    assert (await fetch(bot, "/dashboard/staff/999", HEAD))[0] == 404


# --- reports ----------------------------------------------------------------------------------


async def test_reports_show_tables_with_csv_links_for_heads_and_accounting(bot):
    await clocks_for_sales(bot)
    reports = await page(bot, "/dashboard/reports", ACCOUNTANT)
    assert reports.has("report-sla") and reports.has("report-payments")
    assert "Nguyễn Văn An" in reports.text("report-sla") and "Cả đội" in reports.text("report-sla")
    links = reports.values("report-sla", "href")
    assert "/dashboard/reports/sla.csv?from=2026-10-25&to=2026-11-23" in links
    assert reports.has("other-reports")


@pytest.mark.parametrize("viewer", [SALES, WAREHOUSE])
async def test_reports_are_not_for_sales_or_warehouse(bot, viewer):
    assert (await fetch(bot, "/dashboard/reports", viewer))[0] == 403
    assert (await fetch(bot, "/dashboard/reports/sla.csv", viewer))[0] == 403


async def test_an_unknown_report_is_a_404_page(bot):
    status, text = await fetch(bot, "/dashboard/reports/nope")
    assert status == 404 and "Không tìm thấy" in text
    assert (await fetch(bot, "/dashboard/reports/nope.csv"))[0] == 404


@pytest.mark.parametrize(
    "query",
    [
        "from=2026-13-01",
        "to=yesterday",
        "from=2026-11-20&to=2026-11-01",
        "from=%00",
        "to=9999-12-31",
    ],
)
async def test_bad_dates_show_the_page_with_an_error(bot, query):
    for path in ("/dashboard/reports", "/dashboard/reports/care", "/dashboard/reports/care.csv"):
        status, text = await fetch(bot, f"{path}?{query}")
        assert status == 400 and Html(text).has("period-error"), path


async def test_the_csv_is_the_apis_file(bot):
    await clocks_for_sales(bot)
    sign_in(bot, HEAD)
    query = "from=2026-11-01&to=2026-11-30"
    mine = await bot.client.get(f"/dashboard/reports/sla.csv?{query}")
    assert mine.status == 200 and mine.content_type == "text/csv"
    assert "sla_2026-11-01_2026-11-30.csv" in mine.headers["Content-Disposition"]
    body = await mine.text()
    assert body.splitlines()[0].startswith("\ufeffstaff_id,staff_name,clocks,answered,in_time")
    assert re.search(rf"^{SALES},Nguyễn Văn An,2,2,1,50.0,", body, re.M)
    api = await bot.client.get(
        f"/api/reports/sla?{query}", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    assert body == await api.text()


async def test_one_report_page_has_its_table_and_period(bot):
    report = await page(bot, "/dashboard/reports/customers_by_region?from=2026-11-01&to=2026-11-23")
    assert report.has("report-customers_by_region")
    assert report.find("period", name="from")[0]["value"] == "2026-11-01"


async def test_the_group_page_links_heads_and_admins_to_the_customer_data_export(bot):
    await bind(bot)
    for viewer, shown in [(HEAD, True), (ADMIN, True), (SALES, False)]:
        html = await page(bot, f"/dashboard/groups/{GROUP}", viewer)
        assert html.has("export-link") is shown, viewer
