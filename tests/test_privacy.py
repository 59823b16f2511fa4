"""Customer data export and erasure (seed 000, 3.5): who may, where the link goes, what is
erased and what is kept, and that the erased words are nowhere left in the database."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import SQLModel, col, select

from bot import privacy
from bot.handlers.privacy import EraseArgs, parse_erase, parse_target
from bot.web.core import make_session_cookie
from storage.models import AuditEntry, Customer, Message, Payment
from tests.conftest import ADMIN_TOKEN
from tests.support import ADMIN, CUSTOMER, GROUP, HEAD, SALES, Bot

NAME = "Công ty Minh Phát"
PHONE = "0901234567"
SECRET = "bimat777"  # a word only the customer ever wrote
ASKED = f"Giao sai hàng rồi em ơi, lô {SECRET}, gọi anh số {PHONE}"
PHOTO = {"type": "image", "payload": {"url": "https://zalo.example/photo-bimat.jpg"}}
LINK = f"/dashboard/exports/{GROUP}.json"


@pytest.fixture
async def story(bot: Bot) -> Bot:
    """A group with a profile, customer texts and a photo, staff notes, a payment, an incident."""
    await bot.say(f"/khachhang {NAME} sdt={PHONE} sinhnhat=30/11/1985 khuvuc=HCM nhom=vip")
    await bot.say(ASKED, sender=CUSTOMER)
    await bot.say(None, sender=CUSTOMER, attachments=[PHOTO])
    bot.clock.advance(minutes=11)  # the sales gets a reminder quoting the customer
    await bot.runtime.drain()
    await bot.say(f"Dạ em chào anh bên {NAME}, em kiểm tra ngay ạ")
    await bot.say(f"/ghichu goi tichcuc Anh Phát hẹn giao lại lô {SECRET}")
    await bot.say("/thanhtoan 50tr chuyenkhoan coc dot 1")
    await bot.say(f"/suco giaosai Khách {NAME} nhận nhầm lô {SECRET}")
    return bot


async def purposes(bot: Bot, **where: Any) -> list[str]:
    return [row.purpose for row in await bot.outbox(**where)]


async def audit(bot: Bot, action: str) -> list[AuditEntry]:
    async with bot.runtime.sessions() as db:
        query = select(AuditEntry).where(AuditEntry.action == action)
        return list((await db.exec(query.order_by(col(AuditEntry.id)))).all())


async def customer_texts(bot: Bot) -> list[Any]:
    async with bot.runtime.sessions() as db:
        query = select(Message).where(Message.group_id == GROUP, Message.sender_kind == "customer")
        return [(m.text, m.attachments) for m in (await db.exec(query)).all()]


async def traces(bot: Bot, *needles: str) -> list[str]:
    """Every table.column anywhere in the database still holding one of `needles`."""
    found = []
    async with bot.runtime.sessions() as db:
        connection = await db.connection()
        for table in SQLModel.metadata.sorted_tables:
            for row in (await connection.execute(table.select())).mappings():
                for column, value in row.items():
                    shown = _shown(value)
                    found += [f"{table.name}.{column}: {n}" for n in needles if n in shown]
    return found


def _shown(value: Any) -> str:
    if isinstance(value, str) and value.startswith("{"):
        try:
            return json.dumps(json.loads(value), ensure_ascii=False)
        except ValueError:
            return value
    return json.dumps(value, ensure_ascii=False, default=str)


def sign_in(bot: Bot, user_id: str) -> None:
    cookie = make_session_cookie(bot.runtime, user_id, bot.clock.now())
    bot.client.session.cookie_jar.update_cookies({"zb_session": cookie})


# --- who may ---------------------------------------------------------------------------------


async def test_sales_are_refused_and_a_customer_typing_the_commands_gets_nothing(story):
    await story.say("/xuatdulieu", sender=SALES)
    await story.say("/xoadulieu", sender=HEAD)
    await story.say("/xuatdulieu", sender=CUSTOMER)
    await story.say("/xoadulieu", sender=CUSTOMER)
    replies = [r for r in await story.outbox() if r.purpose.startswith(("denied", "privacy"))]
    assert [r.purpose for r in replies] == ["denied", "denied"]
    assert not await audit(story, "customer_export_requested")
    assert not await audit(story, "customer_erase_requested")


# --- export ----------------------------------------------------------------------------------


async def test_the_export_link_goes_one_to_one_and_the_group_only_hears_it_is_ready(story):
    await story.say("/xuatdulieu", sender=HEAD)
    [link] = await story.outbox(purpose="privacy_export_link")
    assert (link.target_kind, link.target_id) == ("user", HEAD)
    assert f"http://localhost:8080{LINK}" in link.text
    [ready] = await story.outbox(purpose="privacy_export_ready")
    assert (ready.target_kind, ready.target_id) == ("group", GROUP)
    assert "/dashboard/exports" not in ready.text and NAME not in ready.text
    [entry] = await audit(story, "customer_export_requested")
    assert (entry.actor_id, entry.group_id) == (HEAD, GROUP)


async def test_one_to_one_the_export_needs_the_group_id(story):
    await story.dm("/xuatdulieu", sender=ADMIN)
    await story.dm(f"/export {GROUP}", sender=ADMIN)
    await story.dm("/xuatdulieu nhomkhongco", sender=ADMIN)
    assert await purposes(story, target_id=ADMIN) == [
        "usage",
        "privacy_export_link",
        "privacy_unknown_group",
    ]


async def test_the_download_refuses_signed_out_visitors_and_sales(story):
    response = await story.client.get(LINK, allow_redirects=False)
    assert response.status == 302 and response.headers["Location"].startswith("/login")
    sign_in(story, SALES)
    assert (await story.client.get(LINK)).status == 403
    assert not await audit(story, "customer_export")


async def test_an_admin_downloads_the_whole_json_and_the_download_is_audited(story):
    sign_in(story, ADMIN)
    response = await story.client.get(LINK)
    assert response.status == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    document = json.loads(await response.text())
    assert document["customer"]["phone"] == PHONE
    texts = [m["text"] for m in document["messages"]]
    assert ASKED in texts and [PHOTO] in [m["attachments"] for m in document["messages"]]
    assert [p["amount"] for p in document["payments"]] == [50_000_000]
    assert document["incidents"] and document["interactions"] and document["sla_clocks"]
    assert {m["role"] for m in document["members"]} >= {"customer", "sales"}
    [entry] = await audit(story, "customer_export")
    assert (entry.actor_id, entry.group_id) == (ADMIN, GROUP)
    assert (await story.client.get("/dashboard/exports/nhomkhongco.json")).status == 404


async def test_the_export_is_built_in_pages(story, monkeypatch):
    monkeypatch.setattr(privacy, "PAGE", 2)
    for n in range(5):
        await story.say(f"tin {n}", sender=CUSTOMER)
    sign_in(story, HEAD)
    document = json.loads(await (await story.client.get(LINK)).text())
    async with story.runtime.sessions() as db:
        stored = (await db.exec(select(Message.id).where(Message.group_id == GROUP))).all()
    assert [m["id"] for m in document["messages"]] == sorted(stored)
    assert len(stored) > 2 * privacy.PAGE


# --- erasure ---------------------------------------------------------------------------------


async def test_erase_first_says_what_goes_and_erases_nothing(story):
    await story.say("/xoadulieu", sender=ADMIN)
    [ask] = await story.outbox(purpose="privacy_erase_confirm")
    assert "2 tin nhắn của khách" in ask.text and "1 khoản thanh toán" in ask.text
    assert f"/xoadulieu xacnhan {GROUP}" in ask.text
    assert (ASKED, []) in await customer_texts(story)
    [entry] = await audit(story, "customer_erase_requested")
    assert entry.actor_id == ADMIN and entry.detail["counts"]["messages"] == 2


async def test_a_confirmation_after_ten_minutes_is_refused(story):
    await story.say("/xoadulieu", sender=ADMIN)
    story.clock.advance(privacy.CONFIRM_WINDOW + timedelta(seconds=1))
    await story.say(f"/xoadulieu xacnhan {GROUP}", sender=ADMIN)
    assert "privacy_erase_expired" in await purposes(story)
    assert (ASKED, []) in await customer_texts(story)
    assert not await audit(story, "customer_erased")


async def test_a_confirmation_without_a_request_is_refused(story):
    await story.say(f"/xoadulieu xacnhan {GROUP}", sender=ADMIN)
    assert "privacy_erase_expired" in await purposes(story)
    assert not await audit(story, "customer_erased")


async def test_erase_leaves_no_personal_trace_and_keeps_the_business_records(story):
    await story.say("/xoadulieu", sender=ADMIN)
    story.clock.advance(minutes=9)
    await story.say(f"/xoadulieu xacnhan {GROUP}", sender=ADMIN)
    marker = privacy.ERASED
    assert await customer_texts(story) == [(marker, []), (marker, [])]
    left = await traces(story, PHONE, SECRET, NAME, "30/11/1985", "1985-11-30", "photo-")
    assert left == [], "\n".join(left)
    api = await story.client.get(
        f"/api/groups/{GROUP}", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    body = await api.json()
    assert body["customer"]["name"] == f"Khách hàng đã xoá #{body['customer']['id']}"
    assert body["customer"]["phone"] is None and body["customer"]["customer_group"] == "vip"
    assert [(p["amount"], p["status"], p["note"]) for p in body["payments"]] == [
        (50_000_000, "pending", marker)
    ]
    assert body["incidents"] and body["messages"] >= 4


async def test_erase_keeps_the_staff_messages_and_audits_counts_only(story):
    await story.say("/xoadulieu", sender=ADMIN)
    await story.say(f"/xoadulieu xacnhan {GROUP}", sender=ADMIN)
    async with story.runtime.sessions() as db:
        staff = select(Message.text).where(Message.group_id == GROUP, Message.user_id == SALES)
        said = list((await db.exec(staff)).all())
        customer = (await db.exec(select(Customer))).one()
    assert f"Dạ em chào anh bên {privacy.MASK}, em kiểm tra ngay ạ" in said
    assert customer.birthday is None and customer.region is None
    [entry] = await audit(story, "customer_erased")
    assert entry.actor_id == ADMIN
    counts = entry.detail["counts"]
    assert (counts["profile"], counts["messages"], counts["interactions"]) == (1, 2, 1)
    assert (counts["incidents"], counts["payments"], counts["alerts"]) == (1, 1, 2)
    assert entry.detail["kept"]["payments"] == 1
    [done] = await story.outbox(purpose="privacy_erased")
    assert done.target_id == GROUP and "2 tin nhắn của khách" in done.text


async def test_a_second_erase_has_nothing_left_to_do(story):
    await story.say("/xoadulieu", sender=ADMIN)
    await story.say(f"/xoadulieu xacnhan {GROUP}", sender=ADMIN)
    await story.say("/xoadulieu", sender=ADMIN)
    await story.say(f"/xoadulieu xacnhan {GROUP}", sender=ADMIN)
    assert (await purposes(story))[-2:] == ["privacy_erase_nothing", "privacy_erase_nothing"]
    assert len(await audit(story, "customer_erased")) == 1


async def test_erase_from_a_one_to_one_chat_is_announced_in_the_group(story):
    await story.dm(f"/erase {GROUP}", sender=ADMIN)
    await story.dm(f"/erase confirm {GROUP}", sender=ADMIN)
    assert await purposes(story, target_id=ADMIN) == ["privacy_erase_confirm", "privacy_erased"]
    assert "privacy_erased" in await purposes(story, target_id=GROUP)
    async with story.runtime.sessions() as db:
        kept = (await db.exec(select(Payment))).one()
    assert kept.amount == 50_000_000


async def test_only_the_admin_who_asked_can_confirm(story):
    other = "1000000000000000099"
    await story.say(f"/nhanvien them {other} quantri Admin Hai", sender=ADMIN)
    await story.say("/xoadulieu", sender=ADMIN)
    await story.say(f"/xoadulieu xacnhan {GROUP}", sender=other)
    assert (await purposes(story))[-1] == "privacy_erase_expired"
    assert not await audit(story, "customer_erased")


# --- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "args"),
    [
        ("", EraseArgs(None)),
        (GROUP, EraseArgs(GROUP)),
        (f"xacnhan {GROUP}", EraseArgs(GROUP, confirm=True)),
        (f"Xác nhận {GROUP}", None),
        (f"XACNHAN {GROUP}", EraseArgs(GROUP, confirm=True)),
        (f"confirm {GROUP}", EraseArgs(GROUP, confirm=True)),
        ("xacnhan", None),
        ("a b", None),
        ("nhóm!", None),
    ],
)
def test_parse_erase(raw, args):
    from bot.commands import UsageError

    if args is None:
        with pytest.raises(UsageError):
            parse_erase(raw)
    else:
        assert parse_erase(raw) == args


def test_parse_target():
    assert parse_target("") is None and parse_target(f" {GROUP} ") == GROUP


def test_scrub_masks_identifiers_and_blanks_personal_keys():
    detail = {"name": NAME, "fields": {"phone": PHONE}, "note": "x", "n": 3, "l": [f"gọi {PHONE}"]}
    assert privacy.scrub(detail, [NAME, PHONE], frozenset({"name", "fields", "note"})) == {
        "name": privacy.ERASED,
        "fields": privacy.ERASED,
        "note": privacy.ERASED,
        "n": 3,
        "l": [f"gọi {privacy.MASK}"],
    }
