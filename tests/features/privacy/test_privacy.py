"""Customer data export and erasure (seed 000, 3.5): who may, where the link goes, what is
erased and what is kept, and that the erased words are nowhere left in the database."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert
from sqlmodel import SQLModel, col, select

from bot.features.privacy import erasure as privacy
from bot.features.privacy import export as privacy_export
from bot.features.privacy import policy as privacy_policy
from bot.features.privacy import steps as privacy_steps
from bot.features.privacy.commands import EraseArgs, parse_erase, parse_target
from bot.web.core import make_session_cookie
from storage.models import AuditEntry, Customer, Erasure, InboxEvent, Message, Payment
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
    monkeypatch.setattr(privacy_export, "PAGE", 2)
    for n in range(5):
        await story.say(f"tin {n}", sender=CUSTOMER)
    sign_in(story, HEAD)
    document = json.loads(await (await story.client.get(LINK)).text())
    async with story.runtime.sessions() as db:
        stored = (await db.exec(select(Message.id).where(Message.group_id == GROUP))).all()
    assert [m["id"] for m in document["messages"]] == sorted(stored)
    assert len(stored) > 2 * privacy_export.PAGE


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
    marker = privacy_policy.ERASED
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
    assert f"Dạ em chào anh bên {privacy_policy.MASK}, em kiểm tra ngay ạ" in said
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
    assert await purposes(story, target_id=ADMIN) == [
        "privacy_erase_confirm",
        "privacy_erase_started",  # at once; the counts follow when the worker is done
        "privacy_erased",
    ]
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


# --- erasure in chunks ------------------------------------------------------------------------


async def bulk_customer_messages(bot: Bot, n: int) -> None:
    """`n` customer messages quoting the secret, each with its raw webhook event, at once."""
    now = bot.clock.now()
    messages, events = [], []
    for i in range(n):
        event = bot.message(f"lô {SECRET} số {i}", sender=CUSTOMER, msg_id=f"bulk{i}")
        messages.append(
            {
                "msg_id": f"bulk{i}",
                "group_id": GROUP,
                "user_id": CUSTOMER,
                "direction": "in",
                "sender_kind": "customer",
                "event_name": event["event_name"],
                "text": event["message"]["text"],
                "attachments": [],
                "sent_at": now,
            }
        )
        events.append(
            {
                "dedupe_key": f"msg:bulk{i}",
                "conversation": GROUP,
                "event_name": event["event_name"],
                "body": json.dumps(event, ensure_ascii=False),
                "received_at": now,
                "status": "done",
                "attempts": 0,
            }
        )
    async with bot.runtime.sessions() as db:
        await db.exec(insert(Message), params=messages)  # type: ignore[call-overload]
        await db.exec(insert(InboxEvent), params=events)  # type: ignore[call-overload]
        await db.commit()


async def test_an_erasure_bigger_than_a_chunk_erases_every_row_a_chunk_at_a_time(story):
    extra = privacy_steps.CHUNK + 100
    await bulk_customer_messages(story, extra)
    await story.say("/xoadulieu", sender=ADMIN)
    largest: list[int] = []

    def on_update(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith(("UPDATE messages", "UPDATE inbox_events")):
            largest.append(cursor.rowcount)

    engine = story.runtime.engine.sync_engine
    event.listen(engine, "after_cursor_execute", on_update)
    try:
        await story.say(f"/xoadulieu xacnhan {GROUP}", sender=ADMIN)
    finally:
        event.remove(engine, "after_cursor_execute", on_update)
    assert 0 < max(largest) <= privacy_steps.CHUNK
    texts = await customer_texts(story)
    assert len(texts) == extra + 2 and all(t == (privacy_policy.ERASED, []) for t in texts)
    assert await traces(story, SECRET, PHONE, NAME) == []
    [entry] = await audit(story, "customer_erased")
    counts = entry.detail["counts"]
    assert counts["messages"] == extra + 2 and counts["raw_events"] >= extra + 2
    [done] = await story.outbox(purpose="privacy_erased")
    assert f"{extra + 2} tin nhắn của khách" in done.text


async def erasures(bot: Bot) -> list[Erasure]:
    async with bot.runtime.sessions() as db:
        return list((await db.exec(select(Erasure))).all())


@pytest.mark.parametrize("cut_short", [False, True])
async def test_an_erasure_cut_short_resumes_and_counts_audits_and_announces_once(
    story, monkeypatch, cut_short
):
    monkeypatch.setattr(privacy_steps, "CHUNK", 2)
    for n in range(3):
        await story.say(f"thêm {n} {SECRET}", sender=CUSTOMER)
    await story.say("/xoadulieu", sender=ADMIN)
    if cut_short:  # the process dies in the middle of the raw events, in their second chunk
        clean, calls = privacy_steps.clean_body, []

        def dying(*args: Any) -> Any:
            calls.append(1)
            if len(calls) > 2:
                raise RuntimeError("killed")
            return clean(*args)

        monkeypatch.setattr(privacy_steps, "clean_body", dying)
        await story.post(story.message(f"/xoadulieu xacnhan {GROUP}", sender=ADMIN), drain=False)
        await story.runtime.inbox.process_pending()
        with pytest.raises(RuntimeError):
            await story.runtime.erase_pending()
        [job] = await erasures(story)
        assert job.finished_at is None and job.runner is None and job.step == "raw_events"
        assert job.counts["messages"] == 5 and 0 < job.counts["raw_events"] < 10
        assert all(t == (privacy_policy.ERASED, []) for t in await customer_texts(story))
        assert not await audit(story, "customer_erased")
        monkeypatch.setattr(privacy_steps, "clean_body", clean)
        await story.runtime.drain()
    else:
        await story.say(f"/xoadulieu xacnhan {GROUP}", sender=ADMIN)
    await story.runtime.drain()
    [entry] = await audit(story, "customer_erased")
    assert entry.detail["counts"] == {
        "profile": 1,
        "messages": 5,
        "interactions": 1,
        "care_logs": 0,
        "incidents": 1,
        "payments": 1,
        "alerts": 2,
        "raw_events": 10,
        "masked": 32,
    }
    [job] = await erasures(story)
    assert (
        job.step == "done" and job.finished_at is not None and job.counts == entry.detail["counts"]
    )
    assert len(await story.outbox(purpose="privacy_erased")) == 1
    assert await traces(story, SECRET, PHONE, NAME, "30/11/1985") == []


async def test_an_erasure_another_process_runs_is_left_to_it_until_its_lease_ends(story):
    await story.say("/xoadulieu", sender=ADMIN)
    await story.post(story.message(f"/xoadulieu xacnhan {GROUP}", sender=ADMIN), drain=False)
    await story.runtime.inbox.process_pending()
    async with story.runtime.sessions() as db:
        [job] = (await db.exec(select(Erasure))).all()
        job.runner, job.lease_until = "other", story.clock.now() + privacy_steps.LEASE
        db.add(job)
        await db.commit()
    assert await story.runtime.erase_pending() == 0
    assert (ASKED, []) in await customer_texts(story)
    story.clock.advance(privacy_steps.LEASE + timedelta(seconds=1))  # that process died
    assert await story.runtime.erase_pending() == 1
    assert (ASKED, []) not in await customer_texts(story)
    assert len(await audit(story, "customer_erased")) == 1


async def test_while_an_erasure_runs_another_request_for_the_group_answers_nothing(story):
    await story.say("/xoadulieu", sender=ADMIN)
    await story.post(story.message(f"/xoadulieu xacnhan {GROUP}", sender=ADMIN), drain=False)
    await story.runtime.inbox.process_pending()
    await story.post(story.message("/xoadulieu", sender=ADMIN), drain=False)
    await story.runtime.inbox.process_pending()
    assert len(await audit(story, "customer_erase_requested")) == 1
    await story.runtime.drain()
    assert len(await audit(story, "customer_erased")) == 1
    assert (await purposes(story))[-1] == "privacy_erased"


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
    from bot.core.commands import UsageError

    if args is None:
        with pytest.raises(UsageError):
            parse_erase(raw)
    else:
        assert parse_erase(raw) == args


def test_parse_target():
    assert parse_target("") is None and parse_target(f" {GROUP} ") == GROUP


def test_scrub_masks_identifiers_and_blanks_personal_keys():
    detail = {"name": NAME, "fields": {"phone": PHONE}, "note": "x", "n": 3, "l": [f"gọi {PHONE}"]}
    assert privacy_policy.scrub(detail, [NAME, PHONE], frozenset({"name", "fields", "note"})) == {
        "name": privacy_policy.ERASED,
        "fields": privacy_policy.ERASED,
        "note": privacy_policy.ERASED,
        "n": 3,
        "l": [f"gọi {privacy_policy.MASK}"],
    }
