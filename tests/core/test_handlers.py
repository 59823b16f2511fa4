"""Every command end to end: a signed event in; the Vietnamese reply and the stored state out."""

from __future__ import annotations

import dataclasses
import itertools
import shutil
from typing import Any

import pytest
from sqlmodel import col, select

from bot.core import commands
from bot.core.commands import REGISTRY, _key, lookup
from bot.zalo.client import MAX_TEXT
from bot.zalo.payloads import user_message
from storage import repo
from storage.models import (
    AuditEntry,
    CommandRun,
    Customer,
    Group,
    InboxEvent,
    Interaction,
    Message,
    OutboxMessage,
    Staff,
)
from tests.conftest import ROOT
from tests.support import (
    ACCOUNTANT,
    ADMIN,
    CUSTOMER,
    GROUP,
    HEAD,
    SALES,
    SALES2,
    WAREHOUSE,
)

NEW = "1000000000000000009"
OTHER_GROUP = "a1b2c3d4e5f6a7b8c9d0"
SALES_MENTION = f"[@{SALES}]"


# ------------------------------------------------------------------ helpers


async def _all(bot, model, *where: Any) -> list[Any]:
    async with bot.runtime.sessions() as db:
        query = select(model)
        for condition in where:
            query = query.where(condition)
        return list((await db.exec(query)).all())


async def _group(bot, group_id: str = GROUP) -> Group | None:
    async with bot.runtime.sessions() as db:
        return await db.get(Group, group_id)


async def _customer_of(bot, group_id: str = GROUP) -> Customer | None:
    group = await _group(bot, group_id)
    if group is None or group.customer_id is None:
        return None
    async with bot.runtime.sessions() as db:
        return await db.get(Customer, group.customer_id)


async def _staff(bot, user_id: str) -> Staff | None:
    async with bot.runtime.sessions() as db:
        return await db.get(Staff, user_id)


async def _runs(bot) -> list[CommandRun]:
    async with bot.runtime.sessions() as db:
        return list((await db.exec(select(CommandRun).order_by(col(CommandRun.id)))).all())


async def _last_run(bot) -> CommandRun:
    runs = await _runs(bot)
    assert runs, "no command was recorded"
    return runs[-1]


async def _audits(bot, action: str | None = None) -> list[AuditEntry]:
    where = [AuditEntry.action == action] if action else []
    return await _all(bot, AuditEntry, *where)


async def _customer_audits(bot) -> list[AuditEntry]:
    return await _all(bot, AuditEntry, col(AuditEntry.action).startswith("customer."))


_msg_ids = itertools.count(1)


async def _send(bot, text: str, **kw: Any) -> str:
    """Post `text` into the group (by SALES unless told); returns the message's msg_id."""
    msg_id = f"test{next(_msg_ids):08d}"
    await bot.say(text, msg_id=msg_id, **kw)
    return msg_id


async def _dm_send(bot, text: str, *, sender: str = SALES) -> str:
    """Post `text` 1:1 to the OA; returns the message's msg_id."""
    msg_id = f"test{next(_msg_ids):08d}"
    await bot.post(
        user_message(
            user_id=sender,
            text=text,
            at=bot.clock.now(),
            app_id=bot.settings.signing_app_id,
            msg_id=msg_id,
        )
    )
    return msg_id


async def _replies(bot, msg_id: str) -> list[OutboxMessage]:
    """The bot's answers to one message (an answer quotes the message it answers)."""
    return await bot.outbox(quote_msg_id=msg_id)


async def _say(bot, text: str, **kw: Any) -> str:
    """Post `text` into the group and return the bot's one answer to it."""
    msg_id = await _send(bot, text, **kw)
    rows = await _replies(bot, msg_id)
    assert len(rows) == 1, f"expected one answer to {text!r}, got {[r.text for r in rows]}"
    return rows[0].text


async def _dm(bot, text: str, *, sender: str = SALES) -> OutboxMessage:
    """Post `text` 1:1 and return the bot's one 1:1 answer to it."""
    msg_id = await _dm_send(bot, text, sender=sender)
    [row] = await _replies(bot, msg_id)
    assert (row.target_kind, row.target_id) == ("user", sender)
    return row


def _listed(help_text: str) -> set[str]:
    """The commands a /help answer lists, by canonical name, whichever word it shows."""
    names = set()
    for line in help_text.splitlines():
        if line.startswith("• /"):
            spec = lookup(line[3:].split()[0])
            assert spec is not None, line
            names.add(spec.name)
    return names


async def _bind_customer(bot) -> Customer:
    await _say(bot, "/khachhang Công ty Minh Phát sdt=0901234567 khuvuc=HCM nhom=vip")
    customer = await _customer_of(bot)
    assert customer is not None
    return customer


# ------------------------------------------------------------------ /help


async def _help(bot, typed: str, **kw: Any) -> str:
    """The bot's answer to a list of commands, which may come in two messages (Zalo's
    2,000-character limit)."""
    [first] = await _replies(bot, await _send(bot, typed, **kw))  # the piece quoting it
    rows = [r for r in await bot.outbox(target_kind="group") if r.id >= first.id]
    assert 1 <= len(rows) <= 2, [r.text for r in rows]
    return "\n".join(r.text for r in rows)


async def test_help_for_sales_lists_its_commands_but_not_staff(bot):
    text = await _help(bot, "/help")
    assert text.startswith("Các lệnh dành cho Nhân viên kinh doanh:")
    assert {"help", "whoami", "customer", "log", "history"} <= _listed(text)
    assert "staff" not in _listed(text)
    assert "/nhanvien" not in text and "/staff" not in text
    assert "Gõ /huongdan <lệnh>" in text
    run = await _last_run(bot)
    assert (run.name, run.outcome, run.user_id, run.group_id) == ("help", "ok", SALES, GROUP)


async def test_help_for_the_head_includes_staff(bot):
    await _send(bot, "/huongdan", sender=HEAD)
    # a head may run so much that the list comes in two messages (Zalo's 2,000-character limit)
    text = "\n".join(r.text for r in await bot.outbox(target_kind="group"))
    assert text.startswith("Các lệnh dành cho Trưởng phòng kinh doanh:")
    assert {"help", "whoami", "customer", "log", "history", "staff"} <= _listed(text)


async def test_help_for_warehouse_leaves_out_customer_and_log(bot):
    text = await _say(bot, "/trogiup", sender=WAREHOUSE)
    assert text.startswith("Các lệnh dành cho Kho:")
    assert {"help", "whoami", "history"} <= _listed(text)
    assert not {"customer", "log", "staff"} & _listed(text)


async def test_help_with_a_topic_shows_usage_and_examples(bot):
    text = await _say(bot, "/huongdan ghichu")
    assert text.startswith("/log (hoặc /ghichu, /nhatky): Ghi lại một lần liên hệ khách")
    assert "Cách dùng: /ghichu <goi|gap|email|nhan>" in text
    assert "Ví dụ:" in text
    assert "• /ghichu goi tichcuc Khách hỏi giá lô 500 thùng, hẹn báo giá mai" in text
    assert "• /ghichu gap Đã demo sản phẩm tại văn phòng khách" in text


async def test_help_on_a_command_the_caller_may_not_run_shows_only_their_list(bot):
    text = await _say(bot, "/huongdan nhanvien")
    assert text.startswith("Các lệnh dành cho Nhân viên kinh doanh:")
    assert "staff" not in _listed(text)
    assert "/nhanvien" not in text


async def test_a_parser_crash_still_gets_an_answer_and_the_event_is_done(bot):
    msg_id = await _send(bot, "/huongdan /")
    [event] = await _all(bot, InboxEvent, InboxEvent.dedupe_key == f"msg:{msg_id}")
    assert event.status == "done"
    assert await _replies(bot, msg_id), "the bot said nothing"


# ------------------------------------------------------------------ /customer


async def test_customer_binds_the_group_sets_the_profile_and_makes_the_caller_its_sales(bot):
    text = await _say(
        bot,
        '/khachhang Công ty Minh Phát sdt=0901234567 khuvuc="Hà Nội" nhom=vip '
        "sinhnhat=30/11/1985 gioitinh=nu nguon=facebook lienhe=zalo",
    )
    assert text.startswith("Đã gắn nhóm với khách hàng Công ty Minh Phát.")
    for line in (
        "• SĐT: 0901234567",
        "• Khu vực: Hà Nội",
        "• Nhóm khách: VIP",
        "• Sinh nhật: 30/11/1985",
        "• Giới tính: Nữ",
        "• Nguồn: facebook",
        "• Kênh liên hệ: zalo",
        "Sales phụ trách: Nguyễn Văn An",
    ):
        assert line in text

    group = await _group(bot)
    [customer] = await _all(bot, Customer)
    assert group.customer_id == customer.id
    assert group.assigned_sales_id == SALES
    assert (customer.name, customer.phone, customer.region, customer.customer_group) == (
        "Công ty Minh Phát",
        "0901234567",
        "Hà Nội",
        "vip",
    )
    assert customer.birthday.isoformat() == "1985-11-30"
    assert (customer.gender, customer.channel, customer.contact_channel) == (
        "female",
        "facebook",
        "zalo",
    )

    [entry] = await _audits(bot, "customer.created")
    assert (entry.actor_id, entry.group_id) == (SALES, GROUP)
    assert entry.detail["customer_id"] == customer.id
    assert entry.detail["name"] == "Công ty Minh Phát"
    assert entry.detail["assigned_sales_id"] == SALES
    assert entry.detail["fields"]["phone"] == "0901234567"
    assert entry.detail["fields"]["birthday"] == "1985-11-30"
    run = await _last_run(bot)
    assert (run.name, run.outcome) == ("customer", "ok")


async def test_another_sales_cannot_take_over_the_customer_and_nothing_changes(bot):
    customer = await _bind_customer(bot)
    audits_before = len(await _customer_audits(bot))

    text = await _say(bot, "/khachhang sdt=0999999999 khuvuc=HN", sender=SALES2)
    assert text.startswith(f"[@{SALES2}] Khách hàng này do Nguyễn Văn An phụ trách.")

    text = await _say(bot, "/kh Công ty Khác", sender=SALES2)
    assert "do Nguyễn Văn An phụ trách" in text

    after = await _customer_of(bot)
    assert (after.id, after.name, after.phone, after.region) == (
        customer.id,
        "Công ty Minh Phát",
        "0901234567",
        "HCM",
    )
    assert (await _group(bot)).assigned_sales_id == SALES
    assert len(await _customer_audits(bot)) == audits_before
    assert len(await _all(bot, Customer)) == 1


async def test_another_sales_may_still_look_at_the_profile(bot):
    await _bind_customer(bot)
    text = await _say(bot, "/khachhang", sender=SALES2)
    assert text.startswith("Hồ sơ khách hàng Công ty Minh Phát:")
    assert "Sales phụ trách: Nguyễn Văn An" in text


async def test_the_head_updates_the_profile_without_taking_the_assignment(bot):
    customer = await _bind_customer(bot)
    text = await _say(bot, "/khachhang khuvuc=HN gioitinh=nam", sender=HEAD)
    assert text.startswith("Đã cập nhật hồ sơ khách hàng Công ty Minh Phát.")
    assert "• Khu vực: HN" in text and "• Giới tính: Nam" in text
    assert "Sales phụ trách: Nguyễn Văn An" in text

    after = await _customer_of(bot)
    assert after.id == customer.id
    assert (after.region, after.gender, after.phone) == ("HN", "male", "0901234567")
    assert (await _group(bot)).assigned_sales_id == SALES
    [entry] = await _audits(bot, "customer.updated")
    assert (entry.actor_id, entry.detail["fields"]) == (HEAD, {"region": "HN", "gender": "male"})
    assert entry.detail["assigned_sales_id"] == SALES


async def test_the_assigned_sales_renames_the_customer(bot):
    customer = await _bind_customer(bot)
    text = await _say(bot, '/khachhang ten="Công ty Minh Phát Mới"')
    assert text.startswith("Đã cập nhật hồ sơ khách hàng Công ty Minh Phát Mới.")
    assert (await _customer_of(bot)).id == customer.id
    assert (await _customer_of(bot)).name == "Công ty Minh Phát Mới"


async def test_customer_alone_shows_the_profile_and_changes_nothing(bot):
    await _bind_customer(bot)
    audits_before = len(await _customer_audits(bot))
    text = await _say(bot, "/khachhang")
    assert text.startswith("Hồ sơ khách hàng Công ty Minh Phát:")
    assert "• SĐT: 0901234567" in text and "• Nhóm khách: VIP" in text
    assert len(await _customer_audits(bot)) == audits_before


async def test_customer_in_a_fresh_group_says_none_is_bound(bot):
    text = await _say(bot, "/khachhang", group=OTHER_GROUP)
    assert text.startswith("Nhóm này chưa gắn khách hàng.")
    assert "/khachhang <tên khách>" in text
    assert await _all(bot, Customer) == []
    group = await _group(bot, OTHER_GROUP)
    assert group.customer_id is None and group.assigned_sales_id is None


async def test_customer_fields_without_a_name_in_a_fresh_group_ask_for_the_name(bot):
    text = await _say(bot, "/khachhang sdt=0901234567")
    assert text.startswith(f"{SALES_MENTION} Lệnh /khachhang chưa đúng: cần tên khách hàng")
    assert await _all(bot, Customer) == []


async def test_customer_fields_without_a_name_are_recorded_as_a_usage_error(bot):
    await bot.say("/khachhang sdt=0901234567")
    assert (await _last_run(bot)).outcome == "usage"


async def test_customer_with_a_bad_birthday_gets_the_usage_reply_and_stores_nothing(bot):
    text = await _say(bot, "/khachhang Công ty A sinhnhat=31/02/1985")
    assert text.startswith(f"{SALES_MENTION} Lệnh /khachhang chưa đúng: ngày sinh '31/02/1985'")
    assert "Cách dùng: /khachhang <tên>" in text
    assert await _all(bot, Customer) == []
    assert (await _group(bot)).assigned_sales_id is None
    assert (await _last_run(bot)).outcome == "usage"


async def test_customer_in_a_1to1_chat_is_group_only(bot):
    row = await _dm(bot, "/khachhang Công ty A")
    assert row.text == "Lệnh /khachhang chỉ dùng được trong nhóm chăm sóc khách hàng."
    assert await _all(bot, Customer) == []
    run = await _last_run(bot)
    assert (run.name, run.outcome, run.group_id) == ("customer", "denied", None)


async def test_customer_is_denied_to_accounting(bot):
    text = await _say(bot, "/khachhang Công ty A", sender=ACCOUNTANT)
    assert "Lệnh /khachhang chỉ dành cho" in text and "Vai trò của bạn: Kế toán." in text
    assert await _all(bot, Customer) == []


# ------------------------------------------------------------------ /log


async def test_log_records_the_interaction_against_the_groups_customer(bot):
    customer = await _bind_customer(bot)
    text = await _say(bot, "/ghichu goi tichcuc Khách hỏi giá lô 500 thùng, hẹn báo giá mai")
    assert text == (
        "Đã ghi nhận: Gọi điện — phản hồi: Tích cực.\nKhách hỏi giá lô 500 thùng, hẹn báo giá mai"
    )
    [row] = await _all(bot, Interaction)
    assert (row.group_id, row.customer_id, row.staff_id) == (GROUP, customer.id, SALES)
    assert (row.kind, row.feedback, row.note) == (
        "call",
        "positive",
        "Khách hỏi giá lô 500 thùng, hẹn báo giá mai",
    )
    assert row.at == bot.clock.now()
    run = await _last_run(bot)
    assert (run.name, run.outcome) == ("log", "ok")


async def test_log_without_feedback_and_in_a_group_without_customer(bot):
    text = await _say(bot, "/nhatky gap Đã demo sản phẩm", sender=ACCOUNTANT)
    assert text == "Đã ghi nhận: Gặp trực tiếp.\nĐã demo sản phẩm"
    [row] = await _all(bot, Interaction)
    assert (row.kind, row.feedback, row.customer_id, row.staff_id) == (
        "visit",
        None,
        None,
        ACCOUNTANT,
    )


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("/ghichu hop Họp với khách", "loại liên hệ 'hop' không có"),
        ("/ghichu goi tichcuc", "thiếu nội dung ghi chú"),
        ("/ghichu", "thiếu loại liên hệ và nội dung"),
    ],
)
async def test_log_with_bad_usage_names_the_problem_and_stores_nothing(bot, typed, problem):
    text = await _say(bot, typed)
    assert text.startswith(f"{SALES_MENTION} Lệnh /ghichu chưa đúng: {problem}")
    assert "Cách dùng: /ghichu <goi|gap|email|nhan>" in text
    assert "Ví dụ: /ghichu goi tichcuc" in text
    assert await _all(bot, Interaction) == []
    run = await _last_run(bot)
    assert (run.name, run.outcome, run.text) == ("log", "usage", typed)


async def test_log_is_denied_to_warehouse(bot):
    text = await _say(bot, "/ghichu goi Khách gọi hỏi hàng", sender=WAREHOUSE)
    assert text.startswith(f"[@{WAREHOUSE}] Lệnh /ghichu chỉ dành cho:")
    assert "Vai trò của bạn: Kho." in text
    assert await _all(bot, Interaction) == []
    assert (await _last_run(bot)).outcome == "denied"


# ------------------------------------------------------------------ /history


async def test_history_lists_recent_items_newest_first_with_names(bot):
    await bot.say("/ghichu goi Gọi lần đầu")
    bot.clock.advance(hours=1)
    await bot.say("/ghichu gap khieunai Gặp ở văn phòng", sender=SALES2)
    bot.clock.advance(hours=1)

    text = await _say(bot, "/lichsu", sender=WAREHOUSE)
    assert text.startswith("4 mục gần nhất:")
    second = "Gặp trực tiếp (Khiếu nại) bởi Trần Thị Bình: Gặp ở văn phòng"
    first = "Gọi điện bởi Nguyễn Văn An: Gọi lần đầu"
    assert second in text and first in text
    assert text.index(second) < text.index(first)
    assert "10:00 23/11/2026" in text and "09:00 23/11/2026" in text  # Vietnam time
    assert "Trần Thị Bình gõ /ghichu gap khieunai Gặp ở văn phòng" in text

    text = await _say(bot, "/lichsu 3")  # the /lichsu just typed is history too
    assert text.startswith("3 mục gần nhất:")
    assert "Võ Thị Giang gõ /lichsu" in text
    assert second in text and first not in text


async def test_history_shows_decisions_by_name(bot):
    await _bind_customer(bot)
    bot.clock.advance(minutes=5)
    text = await _say(bot, "/lichsu")
    assert "Nguyễn Văn An: gắn nhóm với khách hàng" in text


async def test_history_of_an_empty_group_says_so(bot):
    text = await _say(bot, "/lichsu")
    assert text == "Nhóm này chưa có lịch sử liên hệ hay lệnh nào."


@pytest.mark.parametrize("typed", ["/lichsu 0", "/lichsu 51", "/lichsu abc"])
async def test_history_with_a_bad_count_gets_the_usage_reply(bot, typed):
    text = await _say(bot, typed)
    assert text.startswith(f"{SALES_MENTION} Lệnh /lichsu chưa đúng: số dòng phải từ 1 đến 50")
    assert "Cách dùng: /lichsu [số dòng]" in text
    assert (await _last_run(bot)).outcome == "usage"


# ------------------------------------------------------------------ /whoami


async def test_whoami_in_a_group_names_the_caller_the_customer_and_the_sales(bot):
    await _bind_customer(bot)
    text = await _say(bot, "/toilaai", sender=HEAD)
    assert text.startswith(f"Bạn: Lê Văn Cường (Trưởng phòng kinh doanh), Zalo ID {HEAD}.")
    assert (
        "Nhóm này: khách hàng Công ty Minh Phát; sales phụ trách: Nguyễn Văn An; giai đoạn: Mới."
    ) in text


async def test_whoami_in_a_fresh_group_says_no_customer_yet(bot):
    text = await _say(bot, "/whoami")
    assert "chưa gắn khách hàng (gõ /khachhang <tên>)" in text
    assert "sales phụ trách: chưa có" in text


async def test_whoami_works_in_a_1to1_chat(bot):
    row = await _dm(bot, "/whoami")
    assert row.text == f"Bạn: Nguyễn Văn An (Nhân viên kinh doanh), Zalo ID {SALES}."
    run = await _last_run(bot)
    assert (run.name, run.outcome, run.group_id) == ("whoami", "ok", None)


async def test_arguments_to_whoami_get_the_usage_reply(bot):
    text = await _say(bot, "/whoami Lan")
    assert text.startswith(f"{SALES_MENTION} Lệnh /whoami chưa đúng:")
    assert "Cách dùng: /whoami" in text
    assert (await _last_run(bot)).outcome == "usage"


async def test_the_usage_reason_for_a_command_without_arguments_is_vietnamese(bot):
    text = await _say(bot, "/whoami Lan")
    assert "this command takes no arguments" not in text


async def test_help_works_in_a_1to1_chat(bot):
    row = await _dm(bot, "/huongdan", sender=ADMIN)
    assert "Các lệnh dành cho Quản trị" in row.text


@pytest.mark.parametrize("typed", ["/nhanvien", "/ghichuu", "/whoami x"])
async def test_1to1_replies_carry_no_group_mention_marker(bot, typed):
    row = await _dm(bot, typed)
    assert "[@" not in row.text


# ------------------------------------------------------------------ /staff


async def test_staff_by_sales_is_denied_naming_the_allowed_roles_and_the_callers(bot):
    text = await _say(bot, "/nhanvien them 1000000000000000009 sales Ngô Thị Lan")
    assert text == (
        f"{SALES_MENTION} Lệnh /nhanvien chỉ dành cho: Quản trị, Trưởng phòng kinh "
        "doanh.\nVai trò của bạn: Nhân viên kinh doanh."
    )
    assert await _staff(bot, NEW) is None
    run = await _last_run(bot)
    assert (run.name, run.outcome) == ("staff", "denied")


async def test_staff_list_by_the_head(bot):
    text = await _say(bot, "/nv", sender=HEAD)
    assert text.startswith("Danh sách nhân viên (8):")
    assert f"• Nguyễn Văn An — Nhân viên kinh doanh — {SALES}" in text
    assert f"• Võ Thị Giang — Kho — {WAREHOUSE}" in text


async def test_staff_add_makes_a_new_person_staff(bot):
    msg_id = await _send(bot, "/whoami", sender=NEW)
    assert await _replies(bot, msg_id) == []  # not staff yet: the customer side

    text = await _say(bot, f"/nhanvien them {NEW} sales Ngô Thị Lan", sender=HEAD)
    assert text == f"Đã lưu: Ngô Thị Lan ({NEW}) — Nhân viên kinh doanh."
    person = await _staff(bot, NEW)
    assert (person.name, person.role, person.active, person.source) == (
        "Ngô Thị Lan",
        "sales",
        True,
        "chat",
    )
    [entry] = await _audits(bot, "staff.add")
    assert (entry.actor_id, entry.detail["user_id"], entry.detail["role"]) == (HEAD, NEW, "sales")

    bot.clock.advance(minutes=1)
    text = await _say(bot, "/whoami", sender=NEW)
    assert text.startswith(f"Bạn: Ngô Thị Lan (Nhân viên kinh doanh), Zalo ID {NEW}.")
    kinds = [m.sender_kind for m in await _all(bot, Message, Message.user_id == NEW)]
    assert kinds == ["customer", "staff"]


async def test_staff_role_change_takes_effect_on_the_next_message(bot):
    await bot.say(f"/nhanvien them {NEW} sales Ngô Thị Lan", sender=HEAD)
    text = await _say(bot, f"/nhanvien vaitro {NEW} ketoan", sender=HEAD)
    assert text == f"Đã lưu: Ngô Thị Lan ({NEW}) — Kế toán."
    assert (await _staff(bot, NEW)).role == "accountant"
    [entry] = await _audits(bot, "staff.role")
    assert (entry.detail["user_id"], entry.detail["role"]) == (NEW, "accountant")

    text = await _say(bot, "/khachhang Công ty A", sender=NEW)
    assert "Vai trò của bạn: Kế toán." in text
    text = await _say(bot, "/ghichu goi ok", sender=NEW)
    assert text.startswith("Đã ghi nhận: Gọi điện.")


async def test_staff_remove_turns_the_person_into_the_customer_side(bot):
    await bot.say(f"/nhanvien them {NEW} sales Ngô Thị Lan", sender=HEAD)
    text = await _say(bot, f"/nhanvien xoa {NEW}", sender=HEAD)
    assert text == f"Đã xoá {NEW} khỏi danh sách nhân viên."
    person = await _staff(bot, NEW)
    assert (person.active, person.source) == (False, "chat")
    [entry] = await _audits(bot, "staff.removed")
    assert entry.detail["removed"] is True

    runs_before = len(await _runs(bot))
    msg_id = await _send(bot, "/whoami", sender=NEW)
    assert await _replies(bot, msg_id) == []
    assert len(await _runs(bot)) == runs_before
    [message] = await _all(bot, Message, Message.user_id == NEW)
    assert message.sender_kind == "customer"

    assert await _say(bot, f"/nhanvien xoa {NEW}", sender=HEAD) == (
        f"Không có nhân viên {NEW} trong danh sách."
    )
    assert await _say(bot, f"/nhanvien vaitro {NEW} sales", sender=HEAD) == (
        f"Không có nhân viên {NEW} trong danh sách."
    )
    assert (await _staff(bot, NEW)).active is False


async def test_staff_with_bad_arguments_gets_the_usage_reply(bot):
    text = await _say(bot, f"/nhanvien them {NEW} boss Lan", sender=HEAD)
    assert text.startswith(f"[@{HEAD}] Lệnh /nhanvien chưa đúng: vai trò 'boss' không có")
    assert "Cách dùng: /nhanvien [them <zalo_id> <vai trò> <tên>" in text
    assert await _staff(bot, NEW) is None


async def test_staff_commands_work_for_the_head_in_a_1to1_chat(bot):
    row = await _dm(bot, f"/nhanvien them {NEW} kho Ngô Thị Lan", sender=ADMIN)
    assert row.text == f"Đã lưu: Ngô Thị Lan ({NEW}) — Kho."
    [entry] = await _audits(bot, "staff.add")
    assert entry.group_id is None


@pytest.fixture
def staff_file(tmp_path):
    path = tmp_path / "staff.csv"
    shutil.copy(ROOT / "config" / "staff.csv", path)
    return path


async def test_staff_reload_rereads_the_file_and_chat_edits_keep_their_values(
    make_bot, settings, staff_file
):
    bot = await make_bot(settings.replace(staff_file=str(staff_file)))
    await bot.say(f"/nhanvien vaitro {SALES2} ketoan", sender=HEAD)

    lines = staff_file.read_text(encoding="utf-8").splitlines()
    lines = [line for line in lines if not line.startswith(WAREHOUSE)]  # dropped from the file
    lines = [line.replace("Nguyễn Văn An", "Nguyễn Văn An B") for line in lines]  # renamed
    lines = [line.replace("Trần Thị Bình,sales", "Trần Thị Bình,shipping") for line in lines]
    lines.append(f"{NEW},Ngô Thị Lan,sales,0901000009")  # new
    staff_file.write_text("\n".join(lines) + "\n", encoding="utf-8")

    text = await _say(bot, "/nhanvien tailai", sender=HEAD)
    assert text == "Đã tải lại file nhân viên: thêm 1, cập nhật 1, xoá 1."
    assert (await _staff(bot, SALES)).name == "Nguyễn Văn An B"
    assert (await _staff(bot, NEW)).role == "sales"
    assert (await _staff(bot, WAREHOUSE)).active is False
    kept = await _staff(bot, SALES2)
    assert (kept.role, kept.source) == ("accountant", "chat")  # the chat edit wins
    [entry] = await _audits(bot, "staff.reloaded")
    assert (entry.actor_id, entry.group_id) == (HEAD, GROUP)
    assert {k: entry.detail[k] for k in ("added", "updated", "removed")} == {
        "added": 1,
        "updated": 1,
        "removed": 1,
    }

    assert await _say(bot, "/nhanvien tailai", sender=HEAD) == (
        "Đã tải lại file nhân viên: thêm 0, cập nhật 0, xoá 0."
    )


async def test_staff_reload_of_a_broken_file_changes_nothing(make_bot, settings, staff_file):
    bot = await make_bot(settings.replace(staff_file=str(staff_file)))
    staff_file.write_text(f"zalo_user_id,name,role\n{NEW},Ngô Thị Lan,boss\n", encoding="utf-8")
    text = await _say(bot, "/nhanvien tailai", sender=HEAD)
    assert text.startswith("Không đọc được file nhân viên:")
    assert "role must be one of" in text
    assert await _staff(bot, NEW) is None
    assert len(await _all(bot, Staff, col(Staff.active).is_(True))) == 8


async def test_staff_reload_with_the_file_gone_keeps_the_staff(make_bot, settings, staff_file):
    bot = await make_bot(settings.replace(staff_file=str(staff_file)))
    staff_file.unlink()
    await bot.say("/nhanvien tailai", sender=HEAD)
    assert len(await _all(bot, Staff, col(Staff.active).is_(True))) == 8


# ------------------------------------------------------------------ unknown and customers


async def test_an_unknown_command_suggests_the_closest_one(bot):
    text = await _say(bot, "/ghichuu goi Khách hỏi giá")
    assert text == (
        f"{SALES_MENTION} Bot chưa hiểu lệnh /ghichuu.\n"
        "Có phải bạn muốn gõ /log? Gõ /huongdan để xem các lệnh bạn dùng được."
    )
    run = await _last_run(bot)
    assert (run.name, run.outcome) == ("ghichuu", "unknown")
    assert await _all(bot, Interaction) == []


async def test_an_unknown_command_with_nothing_close_only_points_to_help(bot):
    text = await _say(bot, "/xyzzy")
    assert "Bot chưa hiểu lệnh /xyzzy." in text and "Có phải" not in text


async def test_a_customer_typing_a_command_is_just_chat(bot):
    for typed in ("/help", "/khachhang Công ty Tôi"):
        msg_id = await _send(bot, typed, sender=CUSTOMER)
        assert await _replies(bot, msg_id) == []
    assert await bot.outbox(target_kind="group") == []
    assert await _runs(bot) == []
    assert await _all(bot, Customer) == []
    messages = await _all(bot, Message, Message.direction == "in")
    assert [(m.text, m.sender_kind) for m in messages] == [
        ("/help", "customer"),
        ("/khachhang Công ty Tôi", "customer"),
    ]


# ------------------------------------------------------------------ mention injection


async def test_a_customer_name_cannot_mention_anyone(bot):
    text = await _say(bot, "/khachhang [@f414c8f76fa586fbdfb4] sdt=0901234567")
    assert "[@" not in text
    assert "[ @f414c8f76fa586fbdfb4]" in text
    assert (await _customer_of(bot)).name == "[@f414c8f76fa586fbdfb4]"  # stored as typed

    for typed in ("/whoami", "/khachhang", "/lichsu"):
        bot.clock.advance(minutes=1)
        assert "[@" not in await _say(bot, typed)


async def test_a_note_cannot_mention_anyone(bot):
    text = await _say(bot, "/ghichu goi Nhờ báo [@123] và [@f414c8f76fa586fbdfb4] nhé")
    assert "[@" not in text
    assert "Nhờ báo [ @123] và [ @f414c8f76fa586fbdfb4] nhé" in text
    bot.clock.advance(minutes=1)
    assert "[@" not in await _say(bot, "/lichsu")


async def test_a_usage_reply_keeps_the_bots_mention_but_breaks_the_users(bot):
    text = await _say(bot, "/ghichu [@123] gọi khách")
    assert text.startswith(
        f"{SALES_MENTION} Lệnh /ghichu chưa đúng: loại liên hệ '[ @123]' không có"
    )
    assert text.count("[@") == 1


async def test_an_unknown_command_word_cannot_mention_anyone(bot):
    text = await _say(bot, "/[@f414c8f76fa586fbdfb4]")
    assert text.startswith(f"{SALES_MENTION} Bot chưa hiểu lệnh /[ @f414c8f76fa586fbdfb4].")
    assert text.count("[@") == 1


async def test_a_staff_name_cannot_mention_anyone(bot):
    text = await _say(bot, f"/nhanvien them {NEW} sales [@{GROUP}] Lan", sender=HEAD)
    assert "[@" not in text and f"[ @{GROUP}] Lan" in text
    assert "[@" not in await _say(bot, "/nhanvien", sender=HEAD)


# ------------------------------------------------------------------ handler failures


@pytest.fixture
def broken_log(monkeypatch):
    """Make /log write to the database, then crash."""

    async def broken(ctx, args):
        await repo.add_interaction(
            ctx.db,
            interaction=Interaction(
                group_id=ctx.group.group_id,
                staff_id=ctx.sender_id,
                kind=args.kind,
                note=args.note,
                at=ctx.now,
            ),
        )
        ctx.group.assigned_sales_id = "someone"
        ctx.db.add(ctx.group)
        await ctx.db.flush()
        raise RuntimeError("boom")

    spec = dataclasses.replace(REGISTRY["log"], handle=broken)
    monkeypatch.setitem(REGISTRY, "log", spec)
    for word in (spec.name, *spec.aliases):
        monkeypatch.setitem(commands._BY_KEY, _key(word), spec)
    return spec


async def test_a_handler_that_raises_answers_command_failed_and_rolls_back(bot, broken_log):
    msg_id = await _send(bot, "/ghichu goi Khách hỏi giá")
    [reply] = await _replies(bot, msg_id)
    assert reply.text == (
        f"{SALES_MENTION} Xin lỗi, bot gặp lỗi khi chạy /ghichu. Bộ phận kỹ thuật đã "
        "được ghi nhận, bạn thử lại sau ít phút nhé."
    )
    run = await _last_run(bot)
    assert (run.name, run.outcome) == ("log", "error")
    [event] = await _all(bot, InboxEvent, InboxEvent.dedupe_key == f"msg:{msg_id}")
    assert (event.status, event.attempts) == ("done", 0)
    assert await _all(bot, Interaction) == []  # the handler's writes are rolled back
    assert (await _group(bot)).assigned_sales_id is None
    incoming = await _all(bot, Message, Message.direction == "in")
    assert [m.text for m in incoming] == ["/ghichu goi Khách hỏi giá"]  # the transcript is kept

    bot.clock.advance(minutes=1)
    assert (await _say(bot, "/whoami")).startswith("Bạn: Nguyễn Văn An")  # the bot goes on


# ------------------------------------------------------------------ English


async def test_help_answers_in_english_when_the_locale_is_en(make_bot, settings):
    bot = await make_bot(settings.replace(locale="en"))
    text = await _help(bot, "/help")
    assert text.startswith("Commands for Sales:")
    assert {"help", "whoami", "customer", "log", "history"} <= _listed(text)
    assert "staff" not in _listed(text)
    assert "Type /help <command>" in text
    assert "Các lệnh" not in text and "Gõ /huongdan" not in text

    text = await _say(bot, "/huongdan ghichu")  # Vietnamese words still work
    assert text.startswith("/log (or /ghichu, /nhatky): Record a customer contact")
    assert "Usage: /log <call|visit|email|chat>" in text


# ------------------------------------------------------------------ long replies


async def test_a_reply_over_2000_characters_is_split_into_several_messages(bot):
    async with bot.runtime.sessions() as db:
        for index in range(60):
            await repo.put_staff(
                db,
                user_id=f"30000000000000000{index:02d}",
                name=f"Nhân viên số {index:02d} Nguyễn Thị Phương Thảo",
                role="sales",
                source="chat",
                now=bot.clock.now(),
            )
        await db.commit()

    msg_id = await _send(bot, "/nhanvien", sender=HEAD)
    rows = await bot.outbox(purpose="staff_list")
    assert len(rows) >= 2
    assert all(len(row.text) <= MAX_TEXT for row in rows)
    assert rows[0].quote_msg_id == msg_id
    assert all(row.quote_msg_id is None for row in rows[1:])
    assert {row.target_id for row in rows} == {GROUP}
    assert rows[0].text.startswith("Danh sách nhân viên (68):")
    every_line = "\n".join(row.text for row in rows).splitlines()
    assert all(line.startswith("• ") for line in every_line[1:])  # cut between lines
    for index in range(60):
        assert sum(f"Nhân viên số {index:02d} " in line for line in every_line) == 1
    assert [row.status for row in rows] == ["sent"] * len(rows)


async def test_customer_founding_day_is_kept_for_gift_plans(bot):
    await bot.say("/khachhang Công ty Minh Phát thanhlap=15/3/2010")
    [customer] = await _all(bot, Customer)
    assert customer.founded_on.isoformat() == "2010-03-15"
    assert "Ngày thành lập: 15/03/2010" in await bot.last_text()
