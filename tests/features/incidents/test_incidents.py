"""Incidents: /issue calls in the department at once, the clock runs in working time, breaches
alert the heads once, and customers' complaints reach the department without a command."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from bot.app import registry
from bot.core.commands import UsageError
from bot.core.render import LOCALES, Renderer
from bot.features.incidents import rule as incidents
from bot.features.incidents.commands import parse_issue, parse_progress, parse_resolve
from bot.features.incidents.rule import detect, detect_all
from storage.models import AuditEntry, Incident
from tests.support import (
    ACCOUNTANT,
    ADMIN,
    CUSTOMER,
    GROUP,
    HEAD,
    SALES,
    SHIPPING,
    WAREHOUSE,
)

VN = ZoneInfo("Asia/Ho_Chi_Minh")
AUTH = {"Authorization": "Bearer test-admin-token"}
PHOTO = {"type": "image", "payload": {"url": "https://zalo.example/photo-1.jpg"}}


def vn(*args: int) -> datetime:
    return datetime(*args, tzinfo=VN)


async def rows(bot, model):
    async with bot.runtime.sessions() as db:
        return list((await db.exec(select(model).order_by(model.id))).all())


async def at(bot, moment: datetime) -> None:
    """Move the clock to `moment` and let the service act on whatever is due."""
    bot.clock.set(moment)
    await bot.runtime.drain()


async def sent(bot, template: str, **where) -> list:
    return await bot.outbox(purpose=template, **where)


async def actions(bot) -> list[str]:
    return [a.action for a in await rows(bot, AuditEntry) if a.action.startswith("incident.")]


# --- parsing and detection (pure) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "kind", "description"),
    [
        ("giaosai Giao nhầm vị cam", "wrong_item", "Giao nhầm vị cam"),
        ("GiaoSai  hai thùng", "wrong_item", "hai thùng"),
        ("wrong_item x", "wrong_item", "x"),
        ("thieuhang thiếu 2 thùng", "missing_item", "thiếu 2 thùng"),
        ("thieu 2 thùng", "missing_item", "2 thùng"),
        ("hong vỡ 3 chai", "damaged", "vỡ 3 chai"),
        ("vỡ 3 chai", "damaged", "3 chai"),
        ("hư móp hộp", "damaged", "móp hộp"),
        ("giaocham đơn 20/11", "late_delivery", "đơn 20/11"),
        ("trễ đơn 20/11", "late_delivery", "đơn 20/11"),
        ("cham chưa tới", "late_delivery", "chưa tới"),
        ("thanhtoan đã ck chưa thấy", "payment", "đã ck chưa thấy"),
        ("khieunai thái độ tài xế", "complaint", "thái độ tài xế"),
        ("khác cần gọi lại", "other", "cần gọi lại"),
    ],
)
def test_issue_types_are_read_in_english_or_vietnamese_without_diacritics(raw, kind, description):
    args = parse_issue(raw)
    assert (args.type, args.description) == (kind, description)


@pytest.mark.parametrize("raw", ["", "giaosai", "giaosai   ", "xyz mô tả", "12 dangxuly"])
def test_bad_issue_arguments_are_usage_errors(raw):
    with pytest.raises(UsageError):
        parse_issue(raw)


@pytest.mark.parametrize(
    ("parse", "raw", "expected"),
    [
        (parse_progress, "12", (12, None)),
        (parse_progress, "#12 kho đang kiểm", (12, "kho đang kiểm")),
        (parse_resolve, "3 Đã giao bù", (3, "Đã giao bù")),
    ],
)
def test_incident_numbers_and_notes(parse, raw, expected):
    args = parse(raw)
    assert (args.id, args.note) == expected


@pytest.mark.parametrize(
    ("parse", "raw"),
    [(parse_progress, ""), (parse_progress, "abc"), (parse_resolve, "12"), (parse_resolve, "0 x")],
)
def test_bad_incident_numbers_and_missing_notes_are_usage_errors(parse, raw):
    with pytest.raises(UsageError):
        parse(raw)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Tôi muốn khiếu nại, giao sai hàng", "wrong_item"),
        ("Bên em giao nhầm màu rồi", "wrong_item"),
        ("sai hang roi em oi", "wrong_item"),
        ("Thiếu 2 thùng em ơi", "missing_item"),
        ("Sao giao thiếu hàng vậy", "missing_item"),
        ("Hàng bị vỡ 3 thùng", "damaged"),
        ("hang bi hong roi em", "damaged"),
        ("Máy không hoạt động", "damaged"),
        ("hàng lỗi nhiều quá", "damaged"),
        ("Giao chậm quá em ơi", "late_delivery"),
        ("Anh vẫn chưa nhận được hàng", "late_delivery"),
        ("Sao hàng chưa tới vậy em", "late_delivery"),
        ("Anh đã chuyển khoản rồi nhé", "payment"),
        ("Công nợ tháng này bao nhiêu em", "payment"),
        ("Xuất hoá đơn VAT giúp anh", "payment"),
        ("Em kiểm tra thanh toán giúp anh", "payment"),
        ("Tôi rất không hài lòng", "complaint"),
        ("Tôi muốn phàn nàn về nhân viên giao hàng", "complaint"),
        ("cảm ơn em", None),
        ("ok", None),
        ("Giá bao nhiêu vậy em?", None),
        ("Cho anh báo giá 500 thùng", None),
        ("Bên em còn hàng không?", None),
        ("Màu hồng còn không em", None),
        ("Xin lỗi em, sản phẩm này giá sao", None),
        ("Tôi là vợ anh Nam", None),
        ("Tôi muốn hàng giao sớm", None),
        ("", None),
        (None, None),
    ],
)
def test_detect_reads_what_a_customer_raises(text, kind):
    assert detect(text) == kind


def test_a_complaint_about_goods_names_both_the_goods_and_the_complaint():
    assert detect_all("Tôi muốn khiếu nại, giao sai hàng") == ("wrong_item", "complaint")


# --- /issue ----------------------------------------------------------------------------------


async def test_issue_keeps_the_customers_photo_and_mentions_warehouse_in_the_group(bot):
    await bot.say("Em kiểm tra giúp", sender=WAREHOUSE)  # the warehouse is in the group
    await bot.say(None, sender=CUSTOMER, attachments=[PHOTO])
    await bot.say("/suco giaosai Giao nhầm vị cam thay vì dâu", sender=SALES)
    [incident] = await rows(bot, Incident)
    assert (incident.type, incident.status, incident.opened_by) == ("wrong_item", "open", SALES)
    assert [a["payload"] for a in incident.attachments] == [PHOTO["payload"]]
    assert incident.deadline == vn(2026, 11, 23, 14, 30)  # 4 h of working time, lunch skipped
    assert incident.escalate_at == vn(2026, 11, 25, 9, 0)  # 24/11 is a holiday
    assert incident.next_due_at == incident.deadline
    [post] = await sent(bot, "incident_opened", target_id=GROUP)
    assert f"[@{WAREHOUSE}]" in post.text and "1 ảnh" in post.text
    assert post.quote_msg_id and f"#{incident.id}" in post.text
    assert await sent(bot, "incident_notice") == []
    assert await actions(bot) == ["incident.opened"]


async def test_only_photos_since_the_last_incident_and_within_a_day_are_attached(bot):
    await bot.say(None, sender=CUSTOMER, attachments=[PHOTO])
    bot.clock.advance(hours=25)
    old = {"type": "image", "payload": {"url": "u2"}}
    await bot.say(None, sender=CUSTOMER, attachments=[old])
    await bot.say("/suco hong Vỡ 3 chai")
    await bot.say("Đây nữa", sender=CUSTOMER)
    await bot.say("/suco thieu Thiếu 1 thùng")
    first, second = await rows(bot, Incident)
    assert [a["payload"]["url"] for a in first.attachments] == ["u2"]
    assert second.attachments == []


@pytest.mark.parametrize(
    ("word", "person", "name"),
    [
        ("giaocham", SHIPPING, "Đặng Văn Hải"),
        ("thanhtoan", ACCOUNTANT, "Phạm Thị Dung"),
        ("khieunai", HEAD, "Lê Văn Cường"),
        ("khac", HEAD, "Lê Văn Cường"),
        ("thieuhang", WAREHOUSE, "Võ Thị Giang"),
    ],
)
async def test_department_not_in_the_group_is_told_one_to_one(bot, word, person, name):
    await bot.say(f"/suco {word} Mô tả sự cố")
    [post] = await sent(bot, "incident_opened", target_id=GROUP)
    assert f"[@{person}]" not in post.text and name in post.text
    [notice] = await sent(bot, "incident_notice", target_id=person)
    assert notice.target_kind == "user" and "Mô tả sự cố" in notice.text
    assert "14:30 23/11/2026" in notice.text


async def test_department_in_the_group_is_mentioned(bot):
    await bot.say("Chào anh chị", sender=ACCOUNTANT)
    await bot.say("/suco thanhtoan Khách báo đã chuyển khoản 2 lần")
    [post] = await sent(bot, "incident_opened")
    assert f"[@{ACCOUNTANT}]" in post.text and "Kế toán" in post.text
    assert await sent(bot, "incident_notice") == []


async def test_a_bad_type_gets_the_usage_line_and_records_nothing(bot):
    await bot.say("/suco abc Khách phàn nàn")
    [reply] = await sent(bot, "usage")
    assert "loại sự cố 'abc' không có" in reply.text and "/suco <giaosai" in reply.text
    assert await rows(bot, Incident) == []


async def test_a_customer_cannot_open_an_incident_with_a_command(bot):
    await bot.say("/suco giaosai hàng sai", sender=CUSTOMER)
    assert await rows(bot, Incident) == []


# --- /progress, /resolve, /incidents --------------------------------------------------------


async def test_resolve_closes_the_incident_thanks_the_customer_and_stops_the_clock(bot):
    await bot.say("/suco hong Vỡ 3 chai")
    bot.clock.advance(minutes=25)  # within INCIDENT_FIRST_RESPONSE
    await bot.say("/dangxuly 1 Kho đang chuẩn bị hàng bù", sender=WAREHOUSE)
    [incident] = await rows(bot, Incident)
    assert incident.status == "in_progress"
    [progress] = await sent(bot, "incident_progress")
    assert "Kho đang chuẩn bị hàng bù" in progress.text
    await bot.say("/xuly 1 Đã giao bù 3 chai", sender=WAREHOUSE)
    [incident] = await rows(bot, Incident)
    assert (incident.status, incident.resolved_by) == ("resolved", WAREHOUSE)
    assert incident.resolution_note == "Đã giao bù 3 chai" and incident.next_due_at is None
    [thanks] = await sent(bot, "incident_resolved", target_id=GROUP)
    assert "Cảm ơn Quý khách" in thanks.text and "Đã giao bù 3 chai" in thanks.text
    await at(bot, vn(2026, 11, 26, 9, 0))
    assert await sent(bot, "incident_breach") == [] and await sent(bot, "incident_escalation") == []
    assert await actions(bot) == ["incident.opened", "incident.progress", "incident.resolved"]
    [resolved] = [a for a in await rows(bot, AuditEntry) if a.action == "incident.resolved"]
    assert resolved.detail["working_seconds"] == 1500 and resolved.detail["late"] is False
    assert incident.responded_by == WAREHOUSE


async def test_resolve_refuses_unknown_and_already_resolved_incidents(bot):
    await bot.say("/xuly 9 xong")
    [missing] = await sent(bot, "incident_not_found")
    assert "#9" in missing.text and f"[@{SALES}]" in missing.text
    await bot.say("/suco khac Khách cần gọi lại")
    await bot.say("/xuly 1 Đã gọi")
    await bot.say("/xuly 1 Đã gọi lần nữa")
    [again] = await sent(bot, "incident_already_resolved")
    assert "#1" in again.text
    await bot.say("/xuly 1")
    assert "thiếu nội dung xử lý" in (await sent(bot, "usage"))[-1].text


async def test_incident_in_another_group_cannot_be_touched_from_here(bot):
    await bot.say("/suco khac Khách A", group="other-group")
    await bot.say("/xuly 1 xong")
    assert len(await sent(bot, "incident_not_found")) == 1
    [incident] = await rows(bot, Incident)
    assert incident.status == "open"


async def test_incidents_lists_the_groups_unresolved_incidents(bot):
    await bot.say("/dssuco")
    assert "không có sự cố" in (await sent(bot, "incident_list"))[-1].text
    await bot.say("/suco giaosai Nhầm vị")
    await bot.say("/suco giaocham Chưa tới")
    await bot.say("/xuly 1 Đã đổi")
    await bot.say("/suco khac Nhóm khác", group="other-group")
    await at(bot, vn(2026, 11, 23, 15, 0))
    await bot.say("/dssuco")
    listing = (await sent(bot, "incident_list"))[-1].text
    assert "#2 Giao hàng chậm" in listing and "(quá hạn)" in listing
    assert "#1" not in listing and "Nhóm khác" not in listing


# --- sweep: breach and escalation -------------------------------------------------------------


async def test_breach_alerts_the_head_once_then_escalation_at_twice_the_time(bot):
    await bot.say("/suco hong Vỡ 3 chai")
    await at(bot, vn(2026, 11, 23, 14, 29))
    assert await sent(bot, "incident_breach") == []
    await at(bot, vn(2026, 11, 23, 14, 30))
    [breach] = await sent(bot, "incident_breach")
    assert (breach.target_kind, breach.target_id) == ("user", HEAD)
    assert "#1" in breach.text and "Vỡ 3 chai" in breach.text and "quá hạn" in breach.text
    await bot.runtime.drain()
    await bot.runtime.drain()
    assert len(await sent(bot, "incident_breach")) == 1
    [incident] = await rows(bot, Incident)
    assert incident.breached_at == vn(2026, 11, 23, 14, 30)
    assert incident.next_due_at == incident.escalate_at
    await at(bot, vn(2026, 11, 25, 8, 59))
    assert await sent(bot, "incident_escalation") == []
    await at(bot, vn(2026, 11, 25, 9, 0))
    await bot.runtime.drain()
    escalations = await sent(bot, "incident_escalation")
    assert sorted(e.target_id for e in escalations) == sorted([HEAD, ADMIN])
    [incident] = await rows(bot, Incident)
    assert incident.escalated_at == vn(2026, 11, 25, 9, 0) and incident.next_due_at is None
    assert await actions(bot) == [
        "incident.opened", "incident.unanswered", "incident.breached", "incident.escalated",
    ]  # fmt: skip
    assert not [
        r
        for r in await bot.outbox(target_id=GROUP)
        if r.purpose.startswith("incident_") and r.purpose not in ("incident_opened",)
    ]


async def test_the_department_must_answer_in_the_group_within_the_first_response_time(bot):
    await bot.say("/suco hong Vỡ 3 chai")  # warehouse's
    [incident] = await rows(bot, Incident)
    assert incident.respond_by == vn(2026, 11, 23, 9, 30)
    await at(bot, vn(2026, 11, 23, 9, 29))
    assert await sent(bot, "incident_unanswered") == []
    await at(bot, vn(2026, 11, 23, 9, 30))
    alerts = await sent(bot, "incident_unanswered")
    assert {(a.target_kind, a.target_id) for a in alerts} == {("user", HEAD), ("user", WAREHOUSE)}
    assert "#1" in alerts[0].text and "chưa được bộ phận Kho phản hồi" in alerts[0].text
    await at(bot, vn(2026, 11, 23, 11, 0))
    assert len(await sent(bot, "incident_unanswered")) == 2  # once


async def test_a_department_message_in_the_group_answers_the_incident(bot):
    await bot.say("/suco hong Vỡ 3 chai")
    await bot.say("/suco giaocham Chưa tới")
    await at(bot, vn(2026, 11, 23, 9, 10))
    await bot.say("Dạ kho đang kiểm tra lô hàng ạ", sender=WAREHOUSE)
    damaged, late = await rows(bot, Incident)
    assert (damaged.responded_at, damaged.responded_by) == (vn(2026, 11, 23, 9, 10), WAREHOUSE)
    assert late.responded_at is None  # shipping's, not the warehouse's
    await at(bot, vn(2026, 11, 23, 9, 30))
    [alert, *_] = await sent(bot, "incident_unanswered")
    assert "#2" in alert.text
    assert not [a for a in await sent(bot, "incident_unanswered") if "#1 " in a.text]


async def test_deadlines_missed_while_down_each_alert_once(bot):
    await bot.say("/suco giaosai Nhầm vị")
    await at(bot, vn(2026, 11, 27, 10, 0))
    await bot.runtime.drain()
    assert len(await sent(bot, "incident_breach")) == 1
    assert len(await sent(bot, "incident_escalation")) == 2  # the head and the admin


async def test_breach_goes_into_the_alert_group_when_there_is_one(make_bot, settings):
    bot = await make_bot(settings.replace(zalo_alert_group_id="alerts-1"))
    await bot.say("/suco hong Vỡ 3 chai")
    await at(bot, vn(2026, 11, 23, 14, 30))
    [breach] = await sent(bot, "incident_breach")
    assert (breach.target_kind, breach.target_id) == ("group", "alerts-1")
    assert f"[@{HEAD}]" in breach.text


# --- on_event: a customer raises a problem ---------------------------------------------------


async def test_a_customer_complaint_alerts_warehouse_and_head_one_to_one_at_once(bot):
    await bot.say("Tôi muốn khiếu nại, giao sai hàng", sender=CUSTOMER)
    alerts = await sent(bot, "incident_detected")
    assert sorted(a.target_id for a in alerts) == sorted([WAREHOUSE, HEAD])
    assert all(a.target_kind == "user" for a in alerts)
    assert all("Tôi muốn khiếu nại, giao sai hàng" in a.text for a in alerts)
    assert await sent(bot, "incident_detected", target_id=GROUP) == []
    [audit] = [a for a in await rows(bot, AuditEntry) if a.action == "incident.detected"]
    assert audit.detail["types"] == ["wrong_item", "complaint"]
    assert audit.actor_id == CUSTOMER and audit.group_id == GROUP


@pytest.mark.parametrize(
    ("text", "person"),
    [
        ("Anh vẫn chưa nhận được hàng", SHIPPING),
        ("Anh đã chuyển khoản rồi, em kiểm tra giúp", ACCOUNTANT),
        ("Hàng bị vỡ 3 thùng", WAREHOUSE),
    ],
)
async def test_each_problem_reaches_its_department(bot, text, person):
    await bot.say(text, sender=CUSTOMER)
    [alert] = await sent(bot, "incident_detected")
    assert alert.target_id == person


async def test_the_same_problem_alerts_once_per_half_hour(bot):
    await bot.say("Giao chậm quá", sender=CUSTOMER)
    bot.clock.advance(minutes=10)
    await bot.say("Sao giao chậm vậy", sender=CUSTOMER)
    assert len(await sent(bot, "incident_detected")) == 1
    bot.clock.advance(minutes=31)
    await bot.say("Vẫn giao chậm", sender=CUSTOMER)
    assert len(await sent(bot, "incident_detected")) == 2


async def test_small_talk_and_staff_messages_alert_nobody(bot):
    await bot.say("Cảm ơn em nhé", sender=CUSTOMER)
    await bot.say("Dạ em xin lỗi vì giao chậm ạ", sender=SALES)
    assert await sent(bot, "incident_detected") == []


async def test_detection_goes_into_the_alert_group_mentioning_the_department(make_bot, settings):
    bot = await make_bot(settings.replace(zalo_alert_group_id="alerts-1"))
    await bot.say("Tôi muốn khiếu nại, giao sai hàng", sender=CUSTOMER)
    [alert] = await sent(bot, "incident_detected")
    assert alert.target_id == "alerts-1"
    assert f"[@{WAREHOUSE}]" in alert.text and f"[@{HEAD}]" in alert.text
    await bot.say("Giao sai hàng nữa", sender=CUSTOMER, group="alerts-1")
    assert len(await sent(bot, "incident_detected")) == 1  # the alert group is not a customer's


# --- the integration API ----------------------------------------------------------------------


async def test_api_shows_the_groups_incidents(bot, monkeypatch):
    monkeypatch.setattr(registry, "GROUP_SECTIONS", [incidents.api_section])
    await bot.say("/suco hong Vỡ 3 chai")
    await bot.say("/xuly 1 Đã đổi")
    await bot.say("/suco giaocham Chưa tới")
    body = await (await bot.client.get(f"/api/groups/{GROUP}", headers=AUTH)).json()
    first, second = body["incidents"]
    assert first["type"] == "damaged" and first["status"] == "resolved"
    assert first["resolved_at"] == datetime(2026, 11, 23, 2, 0, tzinfo=UTC).isoformat()
    assert second == {
        "id": 2,
        "type": "late_delivery",
        "status": "open",
        "opened_at": datetime(2026, 11, 23, 2, 0, tzinfo=UTC).isoformat(),
        "deadline": vn(2026, 11, 23, 14, 30).astimezone(UTC).isoformat(),
        "respond_by": vn(2026, 11, 23, 9, 30).astimezone(UTC).isoformat(),
        "responded_at": None,
        "resolved_at": None,
    }


# --- templates ----------------------------------------------------------------------------------

T = datetime(2026, 11, 23, 7, 30, tzinfo=UTC)
from tests.template_samples import SAMPLES  # noqa: E402

renderer = Renderer(VN)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("name", sorted(n for n in SAMPLES if n.startswith("incident_")))
def test_incident_templates_render_in_every_language(locale, name):
    text = renderer.render(name, locale, **SAMPLES[name])
    assert text.strip() and "{" not in text and "[@123]" not in text


def test_every_incident_template_has_a_sample():
    names = {n for n in renderer.template_names() if n.startswith("incident_")}
    assert names <= set(SAMPLES)


@pytest.mark.parametrize("locale", LOCALES)
def test_the_group_post_mentions_only_those_present(locale):
    text = renderer.render("incident_opened", locale, **SAMPLES["incident_opened"])
    assert "[@6]" in text and "Võ Thị Giang" in text
    quiet = {**SAMPLES["incident_opened"], "mentions": [], "absent": [], "attachments": 0}
    assert "[@" not in renderer.render("incident_opened", locale, **quiet)


def test_escalation_outside_an_alert_group_mentions_nobody():
    assert "[@" not in renderer.render(
        "incident_escalation", "vi", **SAMPLES["incident_escalation"]
    )
