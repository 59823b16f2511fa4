"""Customer care: who cares under each mode, /care and /assign, the daily reminders and gifts."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import holidays
import pytest
from sqlmodel import select

from bot.core.commands import UsageError
from bot.core.render import LOCALES, Renderer
from bot.features.care import policy as care
from bot.features.care.commands import CareArgs, next_date, parse_care
from bot.features.care.rule import gift_messages
from storage.models import (
    CareAssignment,
    CareLog,
    Customer,
    Group,
    Order,
    OrderItem,
    Product,
)
from tests.support import ADMIN, GROUP, HEAD, SALES, SALES2

VN = ZoneInfo("Asia/Ho_Chi_Minh")
MONDAY = date(2026, 11, 23)
T0 = datetime(2026, 1, 1, tzinfo=UTC)
OTHER_GROUP = "a1b2c3d4e5f6a7b8c9d0"


def at(day: date, hour: int = 8) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=VN)


async def seed(bot, *, birthday=None, founded_on=None, sales=SALES, group=GROUP, name="Minh Phát"):
    """A customer in its group with `sales`, and two products in two product groups."""
    async with bot.runtime.sessions() as db:
        customer = Customer(
            name=name, region="HCM", birthday=birthday, founded_on=founded_on,
            created_at=T0, updated_at=T0,
        )  # fmt: skip
        db.add(customer)
        await db.flush()
        db.add(
            Group(
                group_id=group, customer_id=customer.id, assigned_sales_id=sales,
                created_at=T0, updated_at=T0,
            )
        )  # fmt: skip
        for code, pg in (("TIM", "Tim mạch"), ("GIAM", "Giảm cân")):
            if (await db.exec(select(Product).where(Product.code == code))).first() is None:
                db.add(Product(code=code, name=code, product_group=pg, care_min=2, care_max=3))
        await db.commit()
        return customer.id


async def add_order(bot, code, *, customer_id, next_care, product="TIM", group=GROUP, cared=0):
    async with bot.runtime.sessions() as db:
        prod = (await db.exec(select(Product).where(Product.code == product))).one()
        order = Order(
            order_code=code, group_id=group, customer_id=customer_id, purchased_at=T0,
            next_care_date=next_care, created_at=T0,
        )  # fmt: skip
        db.add(order)
        await db.flush()
        db.add(OrderItem(order_id=order.id, product_id=prod.id))
        for _ in range(cared):
            db.add(CareLog(order_id=order.id, staff_id=SALES, content="gọi hỏi thăm", at=T0))
        await db.commit()
        return order.id


async def assign(bot, staff, *, product_group=None, customer_id=None):
    async with bot.runtime.sessions() as db:
        db.add(
            CareAssignment(
                staff_id=staff, product_group=product_group, customer_id=customer_id, created_at=T0
            )
        )
        await db.commit()


async def get_order(bot, code) -> Order:
    async with bot.runtime.sessions() as db:
        return (await db.exec(select(Order).where(Order.order_code == code))).one()


async def due(bot, staff, mode, today=MONDAY) -> list[str]:
    async with bot.runtime.sessions() as db:
        return [o.order_code for o in (await care.due_for(db, staff, today, mode)).orders]


# ---------------------------------------------------------------- who cares (pure)


def _a(staff, product_group=None, customer_id=None):
    return CareAssignment(staff_id=staff, product_group=product_group, customer_id=customer_id)


@pytest.mark.parametrize(
    ("mode", "ref_id", "assignments", "expected"),
    [
        ("by_customer", 1, [], ["g-sales"]),
        ("by_customer", 1, [_a("s2", customer_id=7)], ["s2"]),
        ("by_customer", 1, [_a("s2", customer_id=8)], ["g-sales"]),
        ("by_product", 1, [_a("s2", product_group="tim mach")], ["s2"]),
        ("by_product", 1, [_a("s2", "Tim mạch"), _a("s3", "Giảm cân")], ["s2"]),
        ("by_product", 1, [_a("s3", product_group="Giảm cân")], ["g-sales"]),
        ("open", 4, [_a("s2", customer_id=7)], ["a"]),
        ("open", 5, [], ["b"]),
    ],
)
def test_choose_carers_follows_the_care_mode(mode, ref_id, assignments, expected):
    carers = care.choose_carers(
        mode,
        ref_id=ref_id,
        customer_id=7,
        product_groups=["Tim mạch"],
        group_sales="g-sales",
        assignments=assignments,
        sales=["a", "b"],
    )
    assert carers == expected


async def test_by_customer_the_groups_sales_cares_unless_a_customer_assignment_overrides(bot):
    cid = await seed(bot)
    await add_order(bot, "DH1", customer_id=cid, next_care=MONDAY)
    assert await due(bot, SALES, "by_customer") == ["DH1"]
    await assign(bot, SALES2, customer_id=cid)
    assert await due(bot, SALES, "by_customer") == []
    assert await due(bot, SALES2, "by_customer") == ["DH1"]


async def test_by_product_the_staff_assigned_to_the_product_group_cares(bot):
    cid = await seed(bot)
    await add_order(bot, "DH1", customer_id=cid, next_care=MONDAY, product="TIM")
    await add_order(bot, "DH2", customer_id=cid, next_care=MONDAY, product="GIAM")
    await assign(bot, SALES2, product_group="Tim mạch")
    assert await due(bot, SALES2, "by_product") == ["DH1"]
    assert await due(bot, SALES, "by_product") == ["DH2"]  # no one on Giảm cân: the group's


async def test_open_mode_rotates_orders_over_the_sales_team(bot):
    cid = await seed(bot)
    first = await add_order(bot, "DH1", customer_id=cid, next_care=MONDAY)
    await add_order(bot, "DH2", customer_id=cid, next_care=MONDAY)
    team = sorted([SALES, SALES2])
    assert await due(bot, team[first % 2], "open") == ["DH1"]
    assert await due(bot, team[(first + 1) % 2], "open") == ["DH2"]


# ---------------------------------------------------------------- the due list


async def test_due_list_splits_never_cared_and_cared_before_and_today_and_overdue(bot):
    cid = await seed(bot)
    await add_order(bot, "NEW", customer_id=cid, next_care=MONDAY)
    await add_order(bot, "LATE", customer_id=cid, next_care=date(2026, 11, 20), cared=1)
    await add_order(bot, "SOON", customer_id=cid, next_care=date(2026, 11, 24))
    await add_order(bot, "GIAM", customer_id=cid, next_care=date(2026, 11, 21), product="GIAM")
    async with bot.runtime.sessions() as db:
        context = (await care.due_for(db, SALES, MONDAY, "by_customer")).context()
    assert (context["today_count"], context["overdue_count"]) == (1, 2)
    never, cared = context["sections"]
    assert never["status"] == "never" and cared["status"] == "cared"
    assert [(g["product_group"], g["region"]) for g in never["groups"]] == [
        ("Giảm cân", "HCM"),
        ("Tim mạch", "HCM"),
    ]
    [late] = cared["groups"][0]["orders"]
    assert (late["order_code"], late["overdue_days"], late["care_count"]) == ("LATE", 3, 1)
    assert (late["care_min"], late["care_max"]) == (2, 3)


async def test_closed_and_cancelled_orders_are_never_due(bot):
    cid = await seed(bot)
    await add_order(bot, "DH1", customer_id=cid, next_care=MONDAY)
    await add_order(bot, "DH2", customer_id=cid, next_care=MONDAY)
    async with bot.runtime.sessions() as db:
        for order in (await db.exec(select(Order))).all():
            order.care_closed = order.order_code == "DH1"
            order.status = "cancelled" if order.order_code == "DH2" else "open"
            db.add(order)
        await db.commit()
    assert await due(bot, SALES, "by_customer") == []


# ---------------------------------------------------------------- the daily job


@pytest.mark.parametrize(
    ("day", "sent"),
    [
        (date(2026, 11, 23), True),  # Monday
        (date(2026, 11, 28), True),  # Saturday: morning hours
        (date(2026, 11, 29), False),  # Sunday
        (date(2026, 11, 24), False),  # Vietnam Cultural Day, a public holiday
    ],
)
async def test_reminders_go_out_on_working_days_only(bot, day, sent):
    cid = await seed(bot)
    await add_order(bot, "DH1", customer_id=cid, next_care=date(2026, 11, 20))
    bot.clock.set(at(day))
    count = await bot.runtime.run_job("care_reminders")
    rows = await bot.outbox(target_kind="user", target_id=SALES)
    assert (count > 0, [r.purpose for r in rows]) == (sent, ["care_due"] if sent else [])
    assert await bot.outbox(target_kind="group") == []


async def test_reminders_run_once_a_day_with_one_message_per_staff(bot):
    cid = await seed(bot)
    await add_order(bot, "DH1", customer_id=cid, next_care=MONDAY)
    await add_order(bot, "DH2", customer_id=cid, next_care=date(2026, 11, 2), cared=2)
    bot.clock.set(at(MONDAY))
    assert await bot.runtime.run_job("care_reminders") == 1
    assert await bot.runtime.run_job("care_reminders") == 0
    [row] = await bot.outbox(target_kind="user", target_id=SALES)
    assert "DH1" in row.text and "DH2" in row.text and "quá hạn 21 ngày" in row.text
    assert "Chưa chăm sóc lần nào" in row.text and "Đã chăm sóc" in row.text


async def test_nobody_is_reminded_when_nothing_is_due(bot):
    cid = await seed(bot)
    await add_order(bot, "DH1", customer_id=cid, next_care=date(2026, 11, 30))
    bot.clock.set(at(MONDAY))
    assert await bot.runtime.run_job("care_reminders") == 0


# ---------------------------------------------------------------- /care


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Khách dùng tốt", CareArgs("Khách dùng tốt")),
        ("Khách dùng tốt tichcuc 30/12", CareArgs("Khách dùng tốt", "positive", "30/12")),
        ("khongnghe Gọi lại sau mai", CareArgs("Gọi lại sau", "no_answer", "mai")),
        ("Hẹn gặp thứ 2", CareArgs("Hẹn gặp", None, "thứ 2")),
        ("Hẹn lại 3 ngày nữa", CareArgs("Hẹn lại", None, "3 ngày nữa")),
        ("Khách dùng tốt hôm nay", CareArgs("Khách dùng tốt hôm nay")),
        ("#DH9 Gọi hỏi thăm", CareArgs("Gọi hỏi thăm", order_code="DH9")),
        ("khieunai", CareArgs("", "complaint")),
        ("end", CareArgs("", end=True)),
        ("ketthuc #DH9 khách ngừng dùng", CareArgs("khách ngừng dùng", order_code="DH9", end=True)),
    ],
)
def test_parse_care(raw, expected):
    assert parse_care(raw) == expected


def test_parse_care_needs_content():
    with pytest.raises(UsageError):
        parse_care("")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("30/12", date(2026, 12, 30)), ("5/1", date(2027, 1, 5)), ("mai", date(2026, 11, 24))],
)
def test_next_date_is_after_today(typed, expected):
    assert next_date(typed, MONDAY) == expected


def test_next_date_in_the_past_is_refused():
    with pytest.raises(UsageError):
        next_date("1/1/2026", MONDAY)


async def test_care_with_a_next_date_replaces_the_orders_next_care_date(bot):
    cid = await seed(bot)
    await add_order(bot, "OLD", customer_id=cid, next_care=date(2026, 11, 1))
    await add_order(bot, "DH1", customer_id=cid, next_care=MONDAY)
    await bot.say("/chamsoc Khách dùng tốt tichcuc 30/12")  # on the most recent order
    order = await get_order(bot, "DH1")
    assert order.next_care_date == date(2026, 12, 30)
    async with bot.runtime.sessions() as db:
        [log] = (await db.exec(select(CareLog))).all()
    assert (log.order_id, log.feedback, log.customer_id) == (order.id, "positive", cid)
    [reply] = await bot.outbox(target_kind="group")
    assert reply.purpose == "care_saved" and "30/12/2026" in reply.text
    assert "Số lần chăm sóc: 1 (gợi ý tối thiểu 2, tối đa 3)" in reply.text


async def test_care_on_a_named_order(bot):
    cid = await seed(bot)
    await add_order(bot, "OLD", customer_id=cid, next_care=date(2026, 11, 1))
    await add_order(bot, "DH1", customer_id=cid, next_care=MONDAY)
    await bot.say("/care #OLD Called mai")
    assert (await get_order(bot, "OLD")).next_care_date == date(2026, 11, 24)
    assert (await get_order(bot, "DH1")).next_care_date == MONDAY


async def test_care_without_a_date_keeps_it_until_care_max_is_reached(bot):
    cid = await seed(bot)
    await add_order(bot, "DH1", customer_id=cid, next_care=MONDAY, cared=1)
    await bot.say("/chamsoc Gọi hỏi thăm")
    assert (await get_order(bot, "DH1")).next_care_date == MONDAY
    await bot.say("/chamsoc Gọi lần ba")  # care_max 3 reached
    order = await get_order(bot, "DH1")
    assert order.next_care_date is None and not order.care_closed


async def test_care_end_closes_the_order(bot):
    cid = await seed(bot)
    await add_order(bot, "DH1", customer_id=cid, next_care=MONDAY)
    await bot.say("/chamsoc ketthuc")
    order = await get_order(bot, "DH1")
    assert order.care_closed and order.next_care_date is None
    assert await due(bot, SALES, "by_customer") == []
    assert (await bot.outbox())[-1].purpose == "care_saved"


async def test_care_in_a_group_without_orders_logs_against_the_customer(bot):
    cid = await seed(bot)
    await bot.say("/chamsoc Gọi giới thiệu sản phẩm mới binhthuong")
    async with bot.runtime.sessions() as db:
        [log] = (await db.exec(select(CareLog))).all()
    assert (log.order_id, log.customer_id, log.feedback) == (None, cid, "neutral")
    await bot.say("/chamsoc Hello", group=OTHER_GROUP)  # a group the bot knows nothing about
    assert [r.purpose for r in await bot.outbox()] == ["care_saved", "care_saved"]


async def test_care_usage_mistakes_are_replies(bot):
    await seed(bot)
    await bot.say("/chamsoc #NOPE Gọi")
    await bot.say("/chamsoc ketthuc")
    assert [r.purpose for r in await bot.outbox()] == ["usage", "usage"]


async def test_care_is_for_sales_heads_and_admins(bot):
    await seed(bot)
    await bot.say("/care hello", sender="1000000000000000004")  # accountant
    assert (await bot.outbox())[-1].purpose == "denied"


# ---------------------------------------------------------------- /assign


async def test_assign_a_product_group_and_this_groups_customer_then_list(bot):
    cid = await seed(bot)
    await bot.say("/phancong Trần Thị Bình tim mach", sender=HEAD)
    await bot.say(f"/assign {SALES} khachhang", sender=ADMIN)
    await bot.say(f"/assign {SALES} khachhang", sender=ADMIN)  # no duplicate
    await bot.say("/phancong", sender=HEAD)
    async with bot.runtime.sessions() as db:
        rows = (await db.exec(select(CareAssignment))).all()
    assert {(r.staff_id, r.product_group, r.customer_id) for r in rows} == {
        (SALES2, "Tim mạch", None),
        (SALES, None, cid),
    }
    listing = (await bot.outbox())[-1].text
    assert "Trần Thị Bình: nhóm hàng Tim mạch" in listing and "khách Minh Phát" in listing


async def test_assign_lists_in_a_one_to_one_chat(bot):
    await assign(bot, SALES2, product_group="Tim mạch")
    await bot.dm("/phancong", sender=HEAD)
    [row] = await bot.outbox(target_kind="user", target_id=HEAD)
    assert row.purpose == "care_assignments" and "Trần Thị Bình" in row.text


async def test_assign_is_for_heads(bot):
    await seed(bot)
    await bot.say(f"/assign {SALES} khachhang", sender=SALES)
    assert (await bot.outbox())[-1].purpose == "denied"


# ---------------------------------------------------------------- gifts


def test_tet_2027_is_one_run_of_holidays():
    vn = holidays.country_holidays("VN", years=2027)
    name, until = care.holiday_start(vn, date(2027, 2, 4))
    assert until == date(2027, 2, 10) and name
    assert care.holiday_start(vn, date(2027, 2, 6)) is None  # inside the run


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["29 Tết", "Giao thừa Tết Nguyên Đán", "Tết Nguyên Đán", "Mùng hai Tết Nguyên Đán"],
         "Tết Nguyên Đán"),
        (["Ngày Chiến thắng", "Ngày Quốc tế Lao động"], "Ngày Chiến thắng, Ngày Quốc tế Lao động"),
        (["Quốc khánh", "Quốc khánh"], "Quốc khánh"),
        (["Ngày Văn hóa Việt Nam"], "Ngày Văn hóa Việt Nam"),
    ],
)  # fmt: skip
def test_a_run_of_holidays_is_named_by_what_its_days_share(names, expected):
    assert care.run_name(names) == expected


def test_anniversary_of_29_february():
    assert care.anniversary(date(2024, 2, 29), 2027) == date(2027, 2, 28)


async def test_gifts_due_exactly_days_ahead(bot):
    await seed(bot, birthday=date(1985, 11, 30), founded_on=date(2016, 12, 1))
    async with bot.runtime.sessions() as db:
        plans = await care.gifts_due(db, MONDAY, 7, {})
        assert [(p.kind, p.on) for p in plans] == [("birthday", date(2026, 11, 30))]
        plans = await care.gifts_due(db, MONDAY, 8, {})
        assert [(p.kind, p.years) for p in plans] == [("founding", 10)]


async def test_birthday_gift_reminder_goes_to_the_carer_days_ahead(bot):
    await seed(bot, birthday=date(1985, 11, 30))
    bot.clock.set(at(MONDAY))
    await bot.runtime.run_job("care_reminders")
    [row] = await bot.outbox(target_kind="user", target_id=SALES)
    assert row.purpose == "care_gift" and "30/11/2026: sinh nhật Minh Phát" in row.text


async def test_a_saturday_covers_the_gift_dates_of_the_sunday_after_it(bot):
    await seed(bot, birthday=date(1985, 12, 6))  # Sat 28 Nov + 8 days
    bot.clock.set(at(date(2026, 11, 28)))
    await bot.runtime.run_job("care_reminders")
    assert [r.purpose for r in await bot.outbox(target_kind="user")] == ["care_gift"]


async def test_tet_gift_plan_reaches_each_carer_with_their_customers(bot):
    await seed(bot)
    await seed(bot, sales=SALES2, group=OTHER_GROUP, name="Hưng Thịnh")
    bot.clock.set(at(date(2027, 1, 28)))  # Tết 2027 starts Thursday 4 Feb
    await bot.runtime.run_job("care_reminders")
    [mine] = await bot.outbox(target_kind="user", target_id=SALES)
    [theirs] = await bot.outbox(target_kind="user", target_id=SALES2)
    assert "04/02/2027 – 10/02/2027: Tết Nguyên Đán" in mine.text and "Minh Phát" in mine.text
    assert "Hưng Thịnh" in theirs.text and "Minh Phát" not in theirs.text
    assert await bot.outbox(target_kind="group") == []


def test_gift_messages_one_per_staff():
    plans = [
        care.GiftPlan("birthday", date(2026, 11, 30), "A", customer_id=1),
        care.GiftPlan("holiday", date(2026, 11, 30), "Lễ", until=date(2026, 11, 30)),
    ]
    customers = [care.CustomerCarers(1, "A", ("s1",)), care.CustomerCarers(2, "B", ("s2",))]
    intents = gift_messages(plans, customers, MONDAY, 7)
    assert [(i.user_id, len(i.context["plans"])) for i in intents] == [("s1", 2), ("s2", 1)]


# ---------------------------------------------------------------- templates

from tests.template_samples import SAMPLES  # noqa: E402


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("name", sorted(n for n in SAMPLES if n.startswith("care_")))
def test_care_templates_render(locale, name):
    text = Renderer(VN).render(name, locale, **SAMPLES[name])
    assert text.strip() and "{" not in text


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize(
    "variant",
    [
        {"ended": True},
        {"next_state": "done", "next_care_date": None},
        {"next_state": "kept"},
        {"next_state": "none", "next_care_date": None, "feedback": None},
        {"order_code": None, "care_min": None, "care_max": None, "care_count": 0},
    ],
)
def test_care_saved_variants_render(locale, variant):
    assert Renderer(VN).render("care_saved", locale, **{**SAMPLES["care_saved"], **variant})
