"""The payment gate: only accounting confirms payments and credit; nothing ships before that."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from bot.app import registry
from bot.core.commands import UsageError
from bot.core.render import LOCALES, Renderer
from bot.features.payments import policy as payment_gate_policy
from bot.features.payments import queries as payment_gate_queries
from bot.features.payments.commands import (
    CreditArgs,
    DecideArgs,
    OrderArgs,
    PayArgs,
    parse_approve,
    parse_confirm,
    parse_credit,
    parse_pay,
    parse_reject,
)
from bot.features.payments.policy import Decision, Outcome, PaymentState, covered, decide
from bot.features.payments.replies import Reply, read_reply
from storage.models import AuditEntry, OutboxMessage, Payment, Violation
from tests.conftest import ADMIN_TOKEN
from tests.helpers.payments import answer_request
from tests.support import (
    ACCOUNTANT,
    ADMIN,
    CHIEF,
    CUSTOMER,
    GROUP,
    HEAD,
    SALES,
    SALES2,
    SHIPPING,
    WAREHOUSE,
)

ACCOUNTANT2 = "1000000000000000009"

# ------------------------------------------------------------------ decisions (pure)

ok = Decision(Outcome.APPROVED)
waiting = Decision(Outcome.WAITING_CHIEF)
rejected = Decision(Outcome.REJECTED)


def refused(code: str) -> Decision:
    return Decision(Outcome.REFUSED, code)


SMALL = PaymentState("pending", needs_chief=False, requested_by="s")
BIG = PaymentState("pending", needs_chief=True, requested_by="s")
HALFWAY = PaymentState("pending", True, "s", accountant_id="a")
APPROVED = PaymentState("approved", False, "s", accountant_id="a")
REJECTED = PaymentState("rejected", True, "s")


@pytest.mark.parametrize(
    ("state", "decider", "role", "approve", "expected"),
    [
        (SMALL, "a", "accountant", True, ok),
        (SMALL, "c", "chief_accountant", True, ok),
        (SMALL, "a", "accountant", False, rejected),
        (SMALL, "s", "sales", True, refused("self_approval")),
        (SMALL, "s", "accountant", True, refused("self_approval")),  # after a role change
        (SMALL, "s2", "sales", True, refused("not_accounting")),
        (SMALL, "h", "sales_head", True, refused("not_accounting")),
        (SMALL, "x", "admin", True, refused("not_accounting")),
        (SMALL, "w", "warehouse", False, refused("not_accounting")),
        (SMALL, "x", None, True, refused("not_accounting")),
        (BIG, "a", "accountant", True, waiting),
        (BIG, "c", "chief_accountant", True, refused("chief_required_after_accountant")),
        (BIG, "c", "chief_accountant", False, rejected),  # the chief may reject at any time
        (BIG, "a", "accountant", False, rejected),
        (HALFWAY, "c", "chief_accountant", True, ok),
        (HALFWAY, "a", "accountant", True, refused("accountant_already_approved")),
        (HALFWAY, "a2", "accountant", True, refused("accountant_already_approved")),
        # the same person, since made chief, cannot be both signatures
        (HALFWAY, "a", "chief_accountant", True, refused("accountant_already_approved")),
        (HALFWAY, "c", "chief_accountant", False, rejected),
        (HALFWAY, "s2", "sales", True, refused("not_accounting")),
        (APPROVED, "a", "accountant", True, refused("already_decided")),
        (APPROVED, "c", "chief_accountant", False, refused("already_decided")),
        (APPROVED, "s", "sales", True, refused("already_decided")),  # "ok, thanks" afterwards
        (REJECTED, "c", "chief_accountant", True, refused("already_decided")),
    ],
)
def test_decide(state, decider, role, approve, expected):
    reason = None if approve else "sai số tiền"
    assert decide(state, decider_id=decider, role=role, approve=approve, reason=reason) == expected


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_a_rejection_needs_a_reason(reason):
    decision = decide(SMALL, decider_id="a", role="accountant", approve=False, reason=reason)
    assert decision == refused("reason_required")


NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def _payment(**kw) -> Payment:
    return Payment(group_id="g", amount=1, requested_by="s", requested_at=NOW, **kw)


@pytest.mark.parametrize(
    ("needs_chief", "role", "outcome", "status", "accountant", "chief", "decided_by"),
    [
        (False, "accountant", Outcome.APPROVED, "approved", "d", None, "d"),
        (False, "chief_accountant", Outcome.APPROVED, "approved", None, "d", "d"),
        (True, "accountant", Outcome.WAITING_CHIEF, "pending", "d", None, None),
        (True, "chief_accountant", Outcome.REJECTED, "rejected", None, None, "d"),
        (True, "chief_accountant", Outcome.REFUSED, "pending", None, None, None),
    ],
)
def test_apply_decision(needs_chief, role, outcome, status, accountant, chief, decided_by):
    payment = _payment(needs_chief=needs_chief)
    payment_gate_policy.apply_decision(
        payment, Decision(outcome), decider_id="d", role=role, now=NOW, reason=" lý do "
    )
    assert (payment.status, payment.accountant_id, payment.chief_id, payment.decided_by) == (
        status,
        accountant,
        chief,
        decided_by,
    )
    assert payment.reject_reason == ("lý do" if outcome is Outcome.REJECTED else None)
    assert payment.decided_at == (NOW if decided_by else None)


@pytest.mark.parametrize(
    ("approved", "wanted", "allowed"),
    [
        ([], None, False),
        ([50_000_000], None, True),
        ([50_000_000], 80_000_000, False),
        ([50_000_000, 30_000_000], 80_000_000, True),
        ([], 1, False),
    ],
)
def test_covered(approved, wanted, allowed):
    assert covered(approved, wanted) is allowed


# ------------------------------------------------------------------ replies (pure)

APPROVE = Reply(approve=True)


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        ("duyệt", APPROVE),
        ("Duyệt", APPROVE),
        ("duyet", APPROVE),
        ("OK", APPROVE),
        ("ok.", APPROVE),
        ("oke", APPROVE),
        ("đồng ý", APPROVE),
        ("dong y", APPROVE),
        ("approved", APPROVE),
        ("Đã nhận đủ 50tr, duyệt", APPROVE),
        ("xác nhận", APPROVE),
        ("ok ạ", APPROVE),
        ("đã kiểm tra, ok", APPROVE),
        ("từ chối sai số tiền", Reply(approve=False, reason="sai số tiền")),
        ("Từ chối: khách chưa chuyển", Reply(approve=False, reason="khách chưa chuyển")),
        ("tu choi thieu 5tr", Reply(approve=False, reason="thieu 5tr")),
        ("reject wrong amount", Reply(approve=False, reason="wrong amount")),
        ("sai số tiền, từ chối", Reply(approve=False, reason="sai số tiền")),
        ("từ chối", Reply(approve=False, reason=None)),
        # questions, doubts and requests to someone else: nothing happens
        ("ok chưa chị?", None),
        ("duyệt chưa", None),
        ("chị ok không", None),
        ("ok à", None),
        ("không đồng ý", None),
        ("chưa duyệt được", None),
        ("không được duyệt", None),
        ("ok để em kiểm tra", None),
        ("ok em kiểm tra rồi báo lại", None),
        ("chị duyệt giúp em", None),
        ("chị ơi duyệt", None),
        ("xin duyệt", None),
        ("khách chuyển khoản lúc mấy giờ", None),
        ("okay", APPROVE),
        ("bookkeeping", None),  # 'ok' inside a word does not count
        ("", None),
        (None, None),
    ],
)
def test_read_reply(text, reply):
    assert read_reply(text) == reply


# ------------------------------------------------------------------ parsing (pure)


@pytest.mark.parametrize(
    ("raw", "args"),
    [
        ("50tr chuyenkhoan coc dot 1", PayArgs(50_000_000, "transfer", "coc dot 1")),
        ("50tr", PayArgs(50_000_000)),
        ("1,5 tỷ ck hợp đồng", PayArgs(1_500_000_000, "transfer", "hợp đồng")),
        ("800k tienmat", PayArgs(800_000, "cash")),
        ("2tr thẻ", PayArgs(2_000_000, "card")),
        ("3tr COD", PayArgs(3_000_000, "cod")),
        ("50.000.000 cọc đợt 1", PayArgs(50_000_000, None, "cọc đợt 1")),
        ("2 tỷ 500 triệu ck", PayArgs(2_500_000_000, "transfer")),
        ("50tr HĐ 2026", PayArgs(50_000_000, None, "HĐ 2026")),
    ],
)
def test_parse_pay(raw, args):
    assert parse_pay(raw) == args


@pytest.mark.parametrize(
    ("raw", "args"),
    [
        ("200tr 30 ngay don thang 12", CreditArgs(200_000_000, days=30, note="don thang 12")),
        ("200tr 30 ngày", CreditArgs(200_000_000, days=30)),
        ("200tr 45ngay", CreditArgs(200_000_000, days=45)),
        ("200tr han 30 ngay", CreditArgs(200_000_000, days=30)),
        ("200tr 30", CreditArgs(200_000_000, days=30)),
        ("50tr 31/12 đợt cuối", CreditArgs(50_000_000, due="31/12", note="đợt cuối")),
        ("50tr đến 15-01-2027", CreditArgs(50_000_000, due="15-01-2027")),
    ],
)
def test_parse_credit(raw, args):
    assert parse_credit(raw) == args


@pytest.mark.parametrize(
    ("parse", "raw", "says"),
    [
        (parse_pay, "", "cần số tiền"),
        (parse_pay, "chuyenkhoan", "cần số tiền"),
        (parse_pay, "0tr", "cần số tiền"),
        (parse_pay, "HĐ 2026 50tr", "cần số tiền"),  # never 2.026 ₫ from the contract number
        (parse_credit, "30 ngay 200tr", "cần số tiền"),
        (parse_credit, "200tr", "thời hạn"),
        (parse_credit, "200tr sớm", "thời hạn"),
        (parse_credit, "200tr 0 ngay", "1 đến 365"),
        (parse_credit, "200tr 31/02", "không tồn tại"),
        (parse_approve, "", "thiếu số yêu cầu"),
        (parse_approve, "abc", "không phải số yêu cầu"),
        (parse_reject, "12", "thiếu lý do"),
        (parse_confirm, "0tr", "cần số tiền"),
    ],
)
def test_parse_errors(parse, raw, says):
    with pytest.raises(UsageError, match=says):
        parse(raw)


@pytest.mark.parametrize(
    ("parse", "raw", "args"),
    [
        (parse_approve, "12", DecideArgs(12)),
        (parse_approve, "#12", DecideArgs(12)),
        (parse_reject, "#12 sai số tiền", DecideArgs(12, "sai số tiền")),
        (parse_confirm, "", OrderArgs()),
        (parse_confirm, "80tr", OrderArgs(80_000_000)),
        (parse_confirm, "80tr đơn tháng 12", OrderArgs(80_000_000, "đơn tháng 12")),
    ],
)
def test_parse_ids_and_orders(parse, raw, args):
    assert parse(raw) == args


# ------------------------------------------------------------------ templates

renderer = Renderer(ZoneInfo("Asia/Ho_Chi_Minh"))
AT = datetime(2026, 11, 23, 2, 30, tzinfo=UTC)

from tests.template_samples import SAMPLES  # noqa: E402

OWN = {n: c for n, c in SAMPLES.items() if n.startswith("payment_")}

FULL = {
    "id": 7, "kind": "credit", "amount": 150_000_000, "method": None, "days": None,
    "due": date(2026, 12, 31), "note": "đợt cuối", "status": "approved", "needs_chief": True,
    "requested_by": "1", "requested_at": AT, "accountant_id": "4", "accountant_at": AT,
    "chief_id": "5", "chief_at": AT, "decided_by": "5", "decided_at": AT, "reject_reason": None,
}  # fmt: skip
NAMES = {"1": "An", "4": "Dung", "5": "Em"}
BRANCHES = [
    ("payment_request", {"payment": FULL, "accountants": [], "chiefs": ["5"], "threshold": 1}),
    ("payment_approved", {"payment": FULL, "names": NAMES}),
    ("payment_waiting_chief", {"payment": FULL, "names": NAMES, "chiefs": []}),
    ("payment_blocked", {"user_id": "1", "command": "confirm", "amount": 80_000_000,
                         "approved_total": 50_000_000, "pending": []}),
    ("payment_alert", {**SAMPLES["payment_alert"], "payment": None, "command": "ship",
                       "amount": 80_000_000, "text": None, "severity": "minor",
                       "kind": "ship_before_approval"}),
    ("payment_list", {"payments": [FULL, {**FULL, "status": "rejected", "reject_reason": "x"},
                                   {**FULL, "status": "pending", "days": 30, "due": None},
                                   {**FULL, "status": "pending", "accountant_id": None}],
                      "total": 25, "names": NAMES}),
    ("payment_order_ok", {"command": "confirm", "amount": 80_000_000, "note": "đơn 12",
                          "approved_total": 80_000_000, "user_id": "1"}),
    *[
        ("payment_refused", {**SAMPLES["payment_refused"], "reason": reason, "payment": FULL,
                             "names": NAMES})
        for reason in ("not_found", "self_approval", "already_decided", "reason_required",
                       "chief_required_after_accountant", "accountant_already_approved")
    ],
]  # fmt: skip


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize(
    ("name", "context"),
    [*OWN.items(), *BRANCHES],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_payment_templates_render_in_every_language(locale, name, context):
    text = renderer.render(name, locale, **context)
    assert text.strip() and "\n\n\n" not in text


def test_every_payment_template_has_a_sample():
    names = {n for n in renderer.template_names() if n.startswith("payment_")}
    assert names == set(OWN)


# ------------------------------------------------------------------ through the webhook


async def _rows(bot, model, *where):
    async with bot.runtime.sessions() as db:
        query = select(model).order_by(col(model.id))
        for condition in where:
            query = query.where(condition)
        return list((await db.exec(query)).all())


async def _payment_row(bot, payment_id: int = 1) -> Payment:
    [payment] = await _rows(bot, Payment, Payment.id == payment_id)
    return payment


async def _actions(bot) -> list[str]:
    return [a.action for a in await _rows(bot, AuditEntry) if a.action.startswith("payment.")]


async def _sent(bot, purpose: str) -> list[OutboxMessage]:
    return await bot.outbox(purpose=purpose)


async def test_pay_posts_a_request_mentioning_accounting_and_stores_it(bot):
    await bot.say("/thanhtoan 50tr chuyenkhoan coc dot 1", sender=SALES)
    [row] = await _sent(bot, "payment_request")
    assert (row.target_kind, row.target_id, row.payload) == ("group", GROUP, {"payment_id": 1})
    assert f"[@{ACCOUNTANT}]" in row.text and f"[@{CHIEF}]" not in row.text
    assert "50.000.000 ₫" in row.text and "Chuyển khoản" in row.text
    assert "coc dot 1" in row.text and f"[@{SALES}]" in row.text
    assert "/duyet 1" in row.text and "từ chối" in row.text
    assert row.quote_msg_id and row.zalo_message_id == f"local-{row.id}"
    payment = await _payment_row(bot)
    assert (payment.kind, payment.amount, payment.method, payment.note) == (
        "payment", 50_000_000, "transfer", "coc dot 1",
    )  # fmt: skip
    assert (payment.status, payment.needs_chief, payment.requested_by) == ("pending", False, SALES)
    assert await _actions(bot) == ["payment.requested"]
    assert await bot.outbox(target_kind="invite", purpose="payment_chief") == []


async def test_accountant_replying_duyet_approves_and_the_requester_is_told(bot):
    await bot.say("/thanhtoan 50tr chuyenkhoan coc dot 1", sender=SALES)
    await answer_request(bot, "duyệt", sender=ACCOUNTANT)
    payment = await _payment_row(bot)
    assert (payment.status, payment.accountant_id, payment.decided_by) == (
        "approved", ACCOUNTANT, ACCOUNTANT,
    )  # fmt: skip
    assert payment.decided_at == bot.clock.now()
    [row] = await _sent(bot, "payment_approved")
    assert "Đã duyệt thanh toán #1" in row.text and "50.000.000 ₫" in row.text
    assert "Phạm Thị Dung" in row.text and "09:00 23/11/2026" in row.text
    assert f"[@{SALES}]" in row.text and row.target_id == GROUP
    assert await _actions(bot) == ["payment.requested", "payment.approved"]
    assert await _rows(bot, Violation) == []


async def test_a_big_amount_needs_the_accountant_then_the_chief_who_is_invited(bot):
    await bot.say("/thanhtoan 150tr ck", sender=SALES)
    [invite] = await bot.outbox(target_kind="invite", purpose="payment_chief")
    assert (invite.target_id, invite.payload["user_ids"]) == (GROUP, [CHIEF])
    assert invite.notify_user_id == SALES and invite.payload["also_notify"] == [HEAD]
    [request] = await _sent(bot, "payment_request")
    assert invite.id < request.id  # invited before being mentioned
    assert f"[@{ACCOUNTANT}]" in request.text and f"[@{CHIEF}]" in request.text
    assert "kế toán trưởng" in request.text

    await answer_request(bot, "ok", sender=ACCOUNTANT)
    payment = await _payment_row(bot)
    assert (payment.status, payment.accountant_id, payment.chief_id) == (
        "pending",
        ACCOUNTANT,
        None,
    )
    [waiting] = await _sent(bot, "payment_waiting_chief")
    assert f"[@{CHIEF}]" in waiting.text and "Phạm Thị Dung" in waiting.text
    assert waiting.payload == {"payment_id": 1}

    await answer_request(bot, "đồng ý", sender=CHIEF, quote=waiting.zalo_message_id)
    payment = await _payment_row(bot)
    assert (payment.status, payment.chief_id, payment.decided_by) == ("approved", CHIEF, CHIEF)
    [approved] = await _sent(bot, "payment_approved")
    assert "Hoàng Văn Em" in approved.text and "Phạm Thị Dung" in approved.text
    assert f"[@{SALES}]" in approved.text
    assert await _actions(bot) == [
        "payment.requested", "payment.accountant_approved", "payment.approved",
    ]  # fmt: skip


async def test_a_chief_already_in_the_group_is_not_invited(bot):
    await bot.say("chào anh chị", sender=CHIEF)
    await bot.say("/thanhtoan 100tr", sender=SALES)
    assert await bot.outbox(target_kind="invite", purpose="payment_chief") == []
    assert (await _payment_row(bot)).needs_chief


async def test_the_chief_approving_before_the_accountant_is_refused(bot):
    await bot.say("/thanhtoan 150tr", sender=SALES)
    await answer_request(bot, "duyệt", sender=CHIEF)
    assert (await _payment_row(bot)).status == "pending"
    [row] = await _sent(bot, "payment_refused")
    assert "kế toán duyệt trước" in row.text and f"[@{CHIEF}]" in row.text
    assert await _rows(bot, Violation) == []
    assert (await _actions(bot))[-1] == "payment.refused"


async def test_a_second_accountant_approval_while_waiting_for_the_chief_is_refused(bot):
    await bot.say(f"/nhanvien them {ACCOUNTANT2} ketoan Ngô Thị Lan", sender=HEAD)
    await bot.say("/thanhtoan 150tr", sender=SALES)
    await answer_request(bot, "duyệt", sender=ACCOUNTANT)
    for accountant in (ACCOUNTANT, ACCOUNTANT2):
        await bot.say("/duyet 1", sender=accountant)
    refusals = await _sent(bot, "payment_refused")
    assert len(refusals) == 2
    assert all("đang chờ kế toán trưởng" in r.text for r in refusals)
    payment = await _payment_row(bot)
    assert (payment.status, payment.accountant_id) == ("pending", ACCOUNTANT)


async def test_the_requester_replying_ok_is_refused_as_self_approval_and_reported(bot):
    await bot.say("/thanhtoan 50tr", sender=SALES)
    await answer_request(bot, "ok", sender=SALES)
    assert (await _payment_row(bot)).status == "pending"
    [row] = await _sent(bot, "payment_refused")
    assert "không thể tự duyệt" in row.text and "vi phạm" not in row.text  # not before the customer
    [violation] = await _rows(bot, Violation)
    assert (violation.kind, violation.severity, violation.staff_id) == (
        "self_confirm_attempt", "serious", SALES,
    )  # fmt: skip
    assert violation.detail["refusal"] == "self_approval"
    alerts = await _sent(bot, "payment_alert")
    assert {a.target_id for a in alerts} == {HEAD, ADMIN}
    assert all(a.target_kind == "user" for a in alerts)


async def test_another_sales_replying_ok_is_refused_recorded_and_the_heads_alerted(bot):
    await bot.say("/thanhtoan 50tr chuyenkhoan coc dot 1", sender=SALES)
    await answer_request(bot, "ok khách đã chuyển rồi", sender=SALES2)
    assert (await _payment_row(bot)).status == "pending"
    [refusal] = await _sent(bot, "payment_refused")
    assert refusal.target_id == GROUP and f"[@{SALES2}]" in refusal.text
    assert "Chỉ kế toán" in refusal.text
    [violation] = await _rows(bot, Violation)
    assert (violation.kind, violation.severity, violation.staff_id, violation.group_id) == (
        "self_confirm_attempt", "serious", SALES2, GROUP,
    )  # fmt: skip
    alerts = await _sent(bot, "payment_alert")
    assert {(a.target_kind, a.target_id) for a in alerts} == {("user", HEAD), ("user", ADMIN)}
    assert "Vi phạm nghiêm trọng" in alerts[0].text and "Trần Thị Bình" in alerts[0].text
    assert "50.000.000 ₫" in alerts[0].text
    assert not [a for a in await bot.outbox(target_id=GROUP) if a.purpose == "payment_alert"]
    [audit] = [a for a in await _rows(bot, AuditEntry) if a.action == "payment.refused"]
    assert audit.detail["refusal"] == "not_accounting" and audit.detail["violation"] is True


async def test_the_alert_goes_to_the_alert_group_when_one_is_set(make_bot, settings):
    bot = await make_bot(settings.replace(zalo_alert_group_id="alertgroup"))
    await bot.say("/thanhtoan 50tr", sender=SALES)
    await answer_request(bot, "ok", sender=SALES2)
    [alert] = await _sent(bot, "payment_alert")
    assert (alert.target_kind, alert.target_id) == ("group", "alertgroup")


async def test_a_head_replying_ok_is_refused_and_reported_but_warehouse_is_only_refused(bot):
    await bot.say("/thanhtoan 50tr", sender=SALES)
    await answer_request(bot, "ok", sender=WAREHOUSE)
    assert len(await _sent(bot, "payment_refused")) == 1 and await _rows(bot, Violation) == []
    await answer_request(bot, "ok", sender=HEAD)
    [violation] = await _rows(bot, Violation)
    assert violation.staff_id == HEAD
    assert {a.target_id for a in await _sent(bot, "payment_alert")} == {ADMIN}


async def test_a_second_decision_is_refused(bot):
    await bot.say("/thanhtoan 50tr", sender=SALES)
    await answer_request(bot, "duyệt", sender=ACCOUNTANT)
    await answer_request(bot, "từ chối nhầm", sender=CHIEF)
    payment = await _payment_row(bot)
    assert (payment.status, payment.decided_by) == ("approved", ACCOUNTANT)
    [row] = await _sent(bot, "payment_refused")
    assert "đã được duyệt" in row.text and "Phạm Thị Dung" in row.text
    assert (await _actions(bot))[-1] == "payment.refused"


async def test_questions_and_customers_replies_change_nothing(bot):
    await bot.say("/thanhtoan 50tr", sender=SALES)
    before = len(await bot.outbox())
    await answer_request(bot, "khách chuyển lúc mấy giờ vậy em?", sender=ACCOUNTANT)
    await answer_request(bot, "ok chưa chị?", sender=SALES)
    await answer_request(bot, "ok", sender=CUSTOMER)
    assert len(await bot.outbox()) == before
    assert (await _payment_row(bot)).status == "pending"
    assert await _rows(bot, Violation) == []


async def test_a_reply_quoting_another_message_does_nothing(bot):
    await bot.say("/whoami", sender=SALES)
    [whoami] = await bot.outbox(purpose="whoami")
    await bot.say("/thanhtoan 50tr", sender=SALES)
    await answer_request(bot, "ok", sender=ACCOUNTANT, quote=whoami.zalo_message_id)
    await answer_request(bot, "ok", sender=ACCOUNTANT, quote="some-customer-message")
    assert (await _payment_row(bot)).status == "pending"
    assert await _sent(bot, "payment_approved") == [] and await _sent(bot, "payment_refused") == []


async def test_a_request_from_another_group_cannot_be_decided_here(bot):
    await bot.say("/thanhtoan 50tr", sender=SALES, group="othergroup")
    await answer_request(bot, "duyệt", sender=ACCOUNTANT)  # quotes the request, but from GROUP
    await bot.say("/duyet 1", sender=ACCOUNTANT)
    assert (await _payment_row(bot)).status == "pending"
    [row] = await _sent(bot, "payment_refused")
    assert "Không tìm thấy yêu cầu #1" in row.text


async def test_ship_before_approval_is_blocked_recorded_and_the_heads_alerted(bot):
    await bot.say("/thanhtoan 50tr", sender=SALES)
    await bot.say("/giaohang", sender=SHIPPING)
    [blocked] = await _sent(bot, "payment_blocked")
    assert blocked.target_id == GROUP and f"[@{SHIPPING}]" in blocked.text
    assert "Chưa thể giao hàng" in blocked.text and "#1" in blocked.text
    assert "kế toán" in blocked.text
    [violation] = await _rows(bot, Violation)
    assert (violation.kind, violation.severity, violation.staff_id) == (
        "ship_before_approval", "minor", SHIPPING,
    )  # fmt: skip
    alerts = await _sent(bot, "payment_alert")
    assert {a.target_id for a in alerts} == {HEAD, ADMIN}
    assert "giao hàng khi kế toán chưa duyệt" in alerts[0].text
    assert "payment.blocked" in await _actions(bot)
    assert await _sent(bot, "payment_order_ok") == []


async def test_ship_after_approval_is_allowed(bot):
    await bot.say("/thanhtoan 50tr", sender=SALES)
    await answer_request(bot, "duyệt", sender=ACCOUNTANT)
    await bot.say("/giaohang xe chiều nay", sender=WAREHOUSE)
    [done] = await _sent(bot, "payment_order_ok")
    assert "Đã ghi nhận giao hàng" in done.text and "xe chiều nay" in done.text
    assert await _rows(bot, Violation) == []
    shipped = [a for a in await _rows(bot, AuditEntry) if a.action == "order.shipped"]
    assert shipped and shipped[0].actor_id == WAREHOUSE


async def test_confirm_needs_enough_approved_for_its_amount(bot):
    await bot.say("/thanhtoan 50tr", sender=SALES)
    await bot.say("/duyet 1", sender=ACCOUNTANT)
    await bot.say("/xacnhan 80tr", sender=SALES)
    [blocked] = await _sent(bot, "payment_blocked")
    assert "50.000.000 ₫" in blocked.text and "80.000.000 ₫" in blocked.text
    [violation] = await _rows(bot, Violation)
    assert violation.kind == "confirm_before_approval" and violation.detail["amount"] == 80_000_000
    await bot.say("/congno 30tr 30 ngay", sender=SALES)
    await bot.say("/duyet 2", sender=ACCOUNTANT)
    await bot.say("/xacnhan 80tr", sender=SALES)
    [done] = await _sent(bot, "payment_order_ok")
    assert "Đã xác nhận đơn hàng 80.000.000 ₫" in done.text


async def test_reject_by_command_with_a_reason(bot):
    await bot.say("/thanhtoan 50tr", sender=SALES)
    await bot.say("/tuchoi 1 khách mới chuyển 45tr", sender=ACCOUNTANT)
    payment = await _payment_row(bot)
    assert (payment.status, payment.reject_reason, payment.decided_by) == (
        "rejected", "khách mới chuyển 45tr", ACCOUNTANT,
    )  # fmt: skip
    [row] = await _sent(bot, "payment_rejected")
    assert "đã từ chối" in row.text and "khách mới chuyển 45tr" in row.text
    assert f"[@{SALES}]" in row.text
    await bot.say("/giaohang", sender=SHIPPING)
    assert len(await _sent(bot, "payment_blocked")) == 1  # a rejected payment covers nothing


async def test_approve_by_command(bot):
    await bot.say("/thanhtoan 50tr", sender=SALES)
    await bot.say("/duyet #1", sender=ACCOUNTANT)
    assert (await _payment_row(bot)).status == "approved"
    assert len(await _sent(bot, "payment_approved")) == 1


async def test_sales_cannot_run_duyet(bot):
    await bot.say("/thanhtoan 50tr", sender=SALES)
    await bot.say("/duyet 1", sender=SALES)
    [denied] = await bot.outbox(purpose="denied")
    assert "Kế toán, Kế toán trưởng" in denied.text
    assert (await _payment_row(bot)).status == "pending"


async def test_accountants_cannot_request_a_payment(bot):
    await bot.say("/thanhtoan 50tr", sender=ACCOUNTANT)
    assert await _rows(bot, Payment) == []
    assert len(await bot.outbox(purpose="denied")) == 1


async def test_rejection_by_reply(bot):
    await bot.say("/thanhtoan 50tr", sender=SALES)
    await answer_request(bot, "từ chối sai số tiền", sender=ACCOUNTANT)
    payment = await _payment_row(bot)
    assert (payment.status, payment.reject_reason) == ("rejected", "sai số tiền")
    [row] = await _sent(bot, "payment_rejected")
    assert "Lý do: sai số tiền" in row.text and f"[@{SALES}]" in row.text
    assert (await _actions(bot))[-1] == "payment.rejected"


async def test_rejection_by_reply_without_a_reason_asks_for_one(bot):
    await bot.say("/thanhtoan 50tr", sender=SALES)
    await answer_request(bot, "từ chối", sender=ACCOUNTANT)
    assert (await _payment_row(bot)).status == "pending"
    [row] = await _sent(bot, "payment_refused")
    assert "lý do" in row.text


async def test_credit_request_with_a_due_date(bot):
    await bot.say("/congno 200tr 31/12 đơn cuối năm", sender=SALES)
    payment = await _payment_row(bot)
    assert (payment.kind, payment.method, payment.note, payment.needs_chief) == (
        "credit", "2026-12-31", "đơn cuối năm", True,
    )  # fmt: skip
    [row] = await _sent(bot, "payment_request")
    assert "công nợ #1" in row.text and "đến 31/12/2026" in row.text


async def test_credit_request_in_days_and_a_past_due_date(bot):
    await bot.say("/congno 20tr 30 ngay", sender=SALES)
    assert (await _payment_row(bot)).method == "30d"
    assert "30 ngày" in (await _sent(bot, "payment_request"))[0].text
    await bot.say("/congno 20tr 15/01", sender=SALES)  # in November: next January
    assert (await _payment_row(bot, 2)).method == "2027-01-15"
    await bot.say("/congno 20tr 01/01/2026", sender=SALES)
    [usage] = await bot.outbox(purpose="usage")
    assert "/congno" in usage.text and "đã qua" in usage.text
    assert len(await _rows(bot, Payment)) == 2


async def test_payments_lists_the_group_requests(bot):
    await bot.say("/dsthanhtoan", sender=WAREHOUSE)
    assert "chưa có yêu cầu" in await bot.last_text()
    await bot.say("/thanhtoan 50tr", sender=SALES)
    await bot.say("/thanhtoan 150tr", sender=SALES)
    await bot.say("/duyet 1", sender=ACCOUNTANT)
    await bot.say("/duyet 2", sender=ACCOUNTANT)
    await bot.say("/dsthanhtoan", sender=WAREHOUSE)
    text = await bot.last_text()
    assert "#1 thanh toán 50.000.000 ₫ — đã duyệt (Phạm Thị Dung" in text
    assert "#2 thanh toán 150.000.000 ₫ — kế toán đã duyệt, chờ kế toán trưởng" in text


async def test_the_api_shows_the_group_payments(bot, monkeypatch):
    monkeypatch.setattr(registry, "GROUP_SECTIONS", [payment_gate_queries.api_section])
    await bot.say("/thanhtoan 50tr", sender=SALES)
    await bot.say("/tuchoi 1 sai số tiền", sender=ACCOUNTANT)
    response = await bot.client.get(
        f"/api/groups/{GROUP}", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    assert response.status == 200
    [payment] = (await response.json())["payments"]
    assert payment["id"] == 1 and payment["kind"] == "payment"
    assert (payment["amount"], payment["status"], payment["needs_chief"]) == (
        50_000_000, "rejected", False,
    )  # fmt: skip
    assert (payment["requested_by"], payment["decided_by"]) == (SALES, ACCOUNTANT)
    assert payment["reject_reason"] == "sai số tiền"
    assert payment["decided_at"] == bot.clock.now().isoformat()
    assert payment["accountant_id"] is None and payment["chief_id"] is None
