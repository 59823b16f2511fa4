"""Orders (seed 002, 2.1.2): the care interval rule, the catalog import, /order and the API."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from bot.core.commands import UsageError
from bot.core.render import LOCALES, Renderer
from bot.features.care import orders
from bot.features.care.order_commands import ItemArg, NewOrderArgs, parse_order
from storage.models import Customer, Group, Order, OrderItem, Product
from tests.support import CUSTOMER, GROUP, ROOT, WAREHOUSE

AUTH = {"Authorization": "Bearer test-admin-token"}
D = date(2026, 11, 23)


# ---------------------------------------------------------------- the care interval rule


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([(90, 1)], date(2027, 2, 21)),  # one filter: 90 days
        ([(30, 3)], date(2027, 2, 21)),  # quantity multiplies: 30 x 3
        ([(90, 1), (30, 1)], date(2026, 12, 23)),  # several items: the earliest
        ([(30, 2), (45, 1)], date(2027, 1, 7)),  # 45 < 60
        ([(0, 5), (30, 1)], date(2026, 12, 23)),  # interval 0 is left out
        ([(0, 1)], None),  # no care
        ([(0, 1), (0, 3)], None),  # all zero: no care
        ([], None),
    ],
)
def test_first_care_date_is_the_earliest_purchase_plus_interval_times_quantity(items, expected):
    assert orders.first_care_date(D, items) == expected


def _order(next_care, *, closed=False, status="open"):
    return Order(order_code="x", purchased_at=datetime.now(UTC), next_care_date=next_care,
                 care_closed=closed, status=status)  # fmt: skip


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([_order(date(2027, 1, 5)), _order(date(2026, 12, 1))], date(2026, 12, 1)),
        ([_order(date(2026, 12, 1), closed=True), _order(date(2027, 1, 5))], date(2027, 1, 5)),
        ([_order(date(2026, 12, 1), status="cancelled"), _order(None)], None),
        ([], None),
    ],
)
def test_a_customers_next_care_date_is_the_earliest_of_orders_under_care(rows, expected):
    assert orders.next_care_date(rows) == expected


# ---------------------------------------------------------------- the catalog


def test_products_csv_rows_are_read_with_defaults():
    rows = orders.read_products_csv(
        "code,name,product_group,care_interval_days,care_min,care_max,note\n"
        "SP01,Lõi lọc PP,Lõi lọc,90,1,2,x\n"
        "\n"
        "SP02,Nồi chiên,,0,,\n"
    )
    assert rows == [
        orders.ProductRow("SP01", "Lõi lọc PP", "Lõi lọc", 90, 1, 2),
        orders.ProductRow("SP02", "Nồi chiên", None, 0, None, None),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("code,name\nA,B\n", "line 1: the header needs"),
        ("code,name,care_interval_days\nA,B,90\nC,D,abc\n", "line 3: care_interval_days"),
        ("code,name,care_interval_days\nA,B,-5\n", "line 2: care_interval_days"),
        ("code,name,care_interval_days\n,B,5\n", "line 2: code and name are required"),
        ("code,name,care_interval_days\nA,B,5\nA,C,6\n", "line 3: code A repeats line 2"),
        ("code,name,care_interval_days,care_min,care_max\nA,B,5,3,1\n", "line 2: care_min"),
    ],
)
def test_a_bad_products_csv_line_is_named(text, message):
    with pytest.raises(orders.ProductDataError, match=message):
        orders.read_products_csv(text)


async def test_products_file_upserts_by_code(sessions, tmp_path):
    path = tmp_path / "products.csv"
    path.write_text("code,name,product_group,care_interval_days\nSP01,Lọc,Lõi,90\nSP02,Nồi,,0\n")
    assert await orders.import_products_file(sessions, path) == {
        "added": 2, "updated": 0, "unchanged": 0,
    }  # fmt: skip
    path.write_text("code,name,product_group,care_interval_days\nSP01,Lọc,Lõi,60\nSP02,Nồi,,0\n")
    assert await orders.import_products_file(sessions, path) == {
        "added": 0, "updated": 1, "unchanged": 1,
    }  # fmt: skip
    async with sessions() as db:
        products = {p.code: p for p in (await db.exec(select(Product))).all()}
    assert products["SP01"].care_interval_days == 60 and len(products) == 2


async def test_a_missing_products_file_changes_nothing(sessions, tmp_path):
    counts = await orders.import_products_file(sessions, tmp_path / "nope.csv")
    assert counts == {"added": 0, "updated": 0, "unchanged": 0}


async def test_the_sample_products_file_imports(sessions):
    counts = await orders.import_products_file(sessions, ROOT / "config" / "products.csv")
    assert counts["added"] >= 8


# ---------------------------------------------------------------- /order parsing


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("SP01 x2", NewOrderArgs((ItemArg("SP01", 2),))),
        ("SP01 x2 1,5tr", NewOrderArgs((ItemArg("SP01", 2, 1_500_000),), 1_500_000)),
        ("SP01", NewOrderArgs((ItemArg("SP01", 1),))),
        ("noi chien 6L 2tr", NewOrderArgs((ItemArg("noi chien 6L", 1, 2_000_000),), 2_000_000)),
        (
            "SP01 x2, SP02 x1 15tr",
            NewOrderArgs((ItemArg("SP01", 2), ItemArg("SP02", 1)), 15_000_000),
        ),
        (
            "SP01 x2 5tr, SP02 x1 10tr",
            NewOrderArgs((ItemArg("SP01", 2, 5_000_000), ItemArg("SP02", 1, 10_000_000))),
        ),
        (
            "SP01 x2,SP02 3x, 20tr",
            NewOrderArgs((ItemArg("SP01", 2), ItemArg("SP02", 3)), 20_000_000),
        ),
    ],
)
def test_parse_order(raw, expected):
    assert parse_order(raw) == expected


@pytest.mark.parametrize("raw", ["", "x2", "SP01 x0", "SP01 x2 abc"])
def test_parse_order_refuses(raw):
    with pytest.raises(UsageError):
        parse_order(raw)


# ---------------------------------------------------------------- /order in the group

T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def seed_catalog(bot):
    return await orders.import_products_file(bot.runtime.sessions, ROOT / "config" / "products.csv")


async def stored_orders(bot):
    async with bot.runtime.sessions() as db:
        rows = (await db.exec(select(Order).order_by(col(Order.id)))).all()
        items = (await db.exec(select(OrderItem, Product).join(Product))).all()
        return list(rows), [(i.order_id, p.code, i.quantity, i.amount) for i, p in items]


async def test_order_stores_the_order_and_replies_with_the_first_care_date(bot):
    await seed_catalog(bot)
    await bot.say("/khachhang Công ty Minh Phát")
    await bot.say("/donhang LOC-PP5 x2, NG-36 x3 1,2tr")
    [order], items = await stored_orders(bot)
    assert order.order_code == f"CHAT-{GROUP[:6].upper()}-1"
    assert order.group_id == GROUP and order.source == "chat" and order.amount == 1_200_000
    assert order.customer_id is not None
    # purchased Mon 23/11/2026: filters 90 x 2 = 180 days, detergent 30 x 3 = 90 days
    assert order.next_care_date == date(2027, 2, 21)
    assert sorted(items) == [(order.id, "LOC-PP5", 2, None), (order.id, "NG-36", 3, None)]
    text = await bot.last_text()
    assert order.order_code in text and "21/02/2027" in text and "1.200.000 ₫" in text


async def test_order_by_product_name_without_diacritics(bot):
    await seed_catalog(bot)
    await bot.say("/khachhang Minh Phát")
    await bot.say("/donhang noi chien khong dau 6L x1 2tr")
    [order], items = await stored_orders(bot)
    assert order.next_care_date is None and items[0][1:] == ("NCK-6L", 1, 2_000_000)
    assert "không cần chăm sóc" in await bot.last_text()


async def test_order_codes_count_up_in_the_group(bot):
    await seed_catalog(bot)
    await bot.say("/khachhang Minh Phát")
    await bot.say("/donhang NG-36 x1")
    await bot.say("/donhang NG-36 x2")
    rows, _ = await stored_orders(bot)
    assert [o.order_code.rsplit("-", 1)[1] for o in rows] == ["1", "2"]


async def test_order_without_a_customer_asks_for_khachhang_first(bot):
    await seed_catalog(bot)
    await bot.say("/donhang NG-36 x1")
    assert (await stored_orders(bot))[0] == []
    assert "/khachhang" in await bot.last_text()


async def test_order_with_an_unknown_product_is_refused(bot):
    await seed_catalog(bot)
    await bot.say("/khachhang Minh Phát")
    await bot.say("/donhang KHONGCO x1")
    assert (await stored_orders(bot))[0] == []
    assert "KHONGCO" in await bot.last_text()


async def test_order_is_for_sales_only(bot):
    await seed_catalog(bot)
    await bot.say("/khachhang Minh Phát")
    await bot.say("/donhang NG-36 x1", sender=WAREHOUSE)
    await bot.say("/donhang NG-36 x1", sender=CUSTOMER)
    assert (await stored_orders(bot))[0] == []


async def test_orders_lists_the_groups_orders_with_the_next_care_date(bot):
    await seed_catalog(bot)
    await bot.say("/khachhang Minh Phát")
    await bot.say("/dsdonhang")
    assert "chưa có đơn hàng" in await bot.last_text()
    await bot.say("/donhang LOC-RO x1")
    await bot.say("/donhang NRC-750 x2 90k")
    await bot.say("/dsdonhang", sender=WAREHOUSE)
    text = await bot.last_text()
    assert "NRC-750 x2" in text and "LOC-RO x1" in text and "90.000 ₫" in text
    assert "Lần chăm sóc sắp tới: 22/01/2027" in text  # 30 x 2 days beats 180


# ---------------------------------------------------------------- the API


async def post(bot, path, body, *, headers=AUTH):
    kwargs = {"data": body} if isinstance(body, str) else {"json": body}
    return await bot.client.post(path, headers=headers, **kwargs)


def order_body(order_id="ERP-1", **extra):
    return {
        "order_id": order_id,
        "purchased_at": "2026-11-20",
        "customer": {"name": "Chị Lan", "phone": "0912 345 678"},
        "items": [{"product_code": "LOC-PP5", "quantity": 1, "amount": 150000},
                  {"product_code": "NG-36", "quantity": 2}],
        **extra,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/api/products"), ("post", "/api/orders"), ("get", "/api/orders/ERP-1")],
)
async def test_the_care_api_needs_the_admin_token(bot, method, path):
    response = await getattr(bot.client, method)(path, json={})
    assert response.status == 401


async def test_post_products_upserts_one_or_many(bot):
    one = {"code": "SP01", "name": "Lõi lọc", "care_interval_days": 90}
    response = await post(bot, "/api/products", one)
    assert response.status == 200 and (await response.json())["added"] == 1
    many = [{**one, "care_interval_days": 60, "product_group": "Lõi"}, {"code": "B", "name": "B"}]
    assert await (await post(bot, "/api/products", many)).json() == {
        "added": 1, "updated": 1, "unchanged": 0,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "JSON"),
        ([], "non-empty list"),
        ([{"code": "A", "name": "A"}, {"code": "B"}], "item 2: code and name"),
        ({"code": "A", "name": "A", "care_interval_days": "x"}, "care_interval_days"),
    ],
)
async def test_post_products_explains_bad_input(bot, body, message):
    response = await post(bot, "/api/products", body)
    assert response.status == 400 and message in (await response.json())["message"]


async def test_post_order_creates_the_order_and_its_customer(bot):
    await seed_catalog(bot)
    response = await post(bot, "/api/orders", order_body())
    assert response.status == 201
    body = await response.json()
    assert body["order_id"] == "ERP-1" and body["source"] == "api"
    assert body["next_care_date"] == "2027-01-19"  # 20/11 + 30 x 2 beats + 90 x 1
    assert body["amount"] == 150000 and len(body["items"]) == 2
    assert body["customer"]["name"] == "Chị Lan"
    got = await bot.client.get("/api/orders/ERP-1", headers=AUTH)
    assert (await got.json())["next_care_date"] == "2027-01-19"
    missing = await bot.client.get("/api/orders/nope", headers=AUTH)
    assert missing.status == 404


async def test_a_datetime_purchase_counts_in_vietnam_time(bot):
    await seed_catalog(bot)
    # 20:00 UTC on 20/11 is already 21/11 in Vietnam
    body = order_body(purchased_at="2026-11-20T20:00:00Z")
    assert (await (await post(bot, "/api/orders", body)).json())["next_care_date"] == "2027-01-20"


async def test_a_duplicate_order_id_is_409_and_nothing_doubles(bot):
    await seed_catalog(bot)
    assert (await post(bot, "/api/orders", order_body())).status == 201
    again = await post(bot, "/api/orders", order_body(customer={"name": "Người khác"}))
    assert again.status == 409 and (await again.json())["error"] == "duplicate_order"
    rows, items = await stored_orders(bot)
    assert len(rows) == 1 and len(items) == 2
    async with bot.runtime.sessions() as db:
        assert len((await db.exec(select(Customer))).all()) == 1


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ("{oops", 400, "bad_request"),
        (order_body(items=[{"product_code": "NOPE", "quantity": 1}]), 400, "unknown_product"),
        (order_body(items=[]), 400, "bad_request"),
        (order_body(items=[{"product_code": "NG-36", "quantity": 0}]), 400, "bad_request"),
        (order_body(purchased_at="hôm qua"), 400, "bad_request"),
        (order_body(customer=None), 400, "bad_request"),
        (order_body(customer_id=999), 400, "bad_request"),
    ],
)
async def test_post_order_refuses_bad_input_and_stores_nothing(bot, body, status, error):
    await seed_catalog(bot)
    response = await post(bot, "/api/orders", body)
    assert response.status == status and (await response.json())["error"] == error
    assert (await stored_orders(bot))[0] == []
    async with bot.runtime.sessions() as db:
        assert (await db.exec(select(Customer))).all() == []


async def add_customer(bot, *, name="Minh Phát", phone=None, group=None):
    async with bot.runtime.sessions() as db:
        customer = Customer(name=name, phone=phone, created_at=T0, updated_at=T0)
        db.add(customer)
        await db.flush()
        if group:
            db.add(Group(group_id=group, customer_id=customer.id, created_at=T0, updated_at=T0))
        await db.commit()
        return customer.id


async def test_customer_resolution_by_id_group_phone_then_name(bot):
    await seed_catalog(bot)
    by_id = await add_customer(bot, name="Theo id")
    by_group = await add_customer(bot, name="Theo nhóm", group=GROUP)
    by_phone = await add_customer(bot, name="Theo SĐT", phone="+84 912.345.678")
    cases = [
        (order_body("A", customer_id=by_id, group_id=GROUP), by_id),
        (order_body("B", group_id=GROUP), by_group),
        (order_body("C", group_id="unknown-group"), by_phone),
    ]
    for body, expected in cases:
        response = await post(bot, "/api/orders", body)
        assert (await response.json())["customer_id"] == expected, body["order_id"]
    new = order_body("D", customer={"name": "Khách mới", "phone": "0987"})
    created = (await (await post(bot, "/api/orders", new)).json())["customer_id"]
    assert created not in (by_id, by_group, by_phone)


async def test_an_api_order_binds_a_group_without_customer(bot):
    await seed_catalog(bot)
    await bot.say("chào shop", sender=CUSTOMER)  # the group exists, with no customer yet
    body = await (await post(bot, "/api/orders", order_body(group_id=GROUP))).json()
    async with bot.runtime.sessions() as db:
        group = await db.get(Group, GROUP)
    assert group is not None and group.customer_id == body["customer_id"]
    await bot.say("/dsdonhang")
    assert "ERP-1" in await bot.last_text()


# ---------------------------------------------------------------- templates

from tests.template_samples import SAMPLES  # noqa: E402


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("name", sorted(n for n in SAMPLES if n.startswith("order_")))
def test_order_templates_render_in_every_language(locale, name):
    renderer = Renderer(ZoneInfo("Asia/Ho_Chi_Minh"))
    text = renderer.render(name, locale, **SAMPLES[name])
    assert "21/02/2027" in text and "CHAT-F414C8-1" in text and "\n\n" not in text


@pytest.mark.parametrize("locale", LOCALES)
def test_empty_order_list_and_no_care_render(locale):
    renderer = Renderer(ZoneInfo("Asia/Ho_Chi_Minh"))
    assert renderer.render("order_list", locale, orders=[], total=0, next_care_date=None)
    sample = {**SAMPLES["order_created"], "next_care_date": None, "amount": None}
    assert renderer.render("order_created", locale, **sample).count("\n") == 3
