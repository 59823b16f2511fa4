"""Policy guard: a sales promise of credit, a later deadline or a discount without approval is
flagged to the heads, silently for the group."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from bot.core.render import LOCALES, Renderer
from bot.features.policy.rule import promises
from storage import repo
from storage.models import AuditEntry, Payment, Violation
from tests.support import ADMIN, CUSTOMER, GROUP, HEAD, SALES


async def rows(bot, model):
    async with bot.runtime.sessions() as db:
        return list((await db.exec(select(model).order_by(model.id))).all())


async def flags(bot) -> list:
    return await bot.outbox(purpose="policy_promise")


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Em cho anh nợ 30 ngày nhé", "credit"),
        ("Dạ bên em hỗ trợ công nợ cho anh ạ", "credit"),
        ("Cho chị gối đầu 1 đơn nhé", "credit"),
        ("Anh thanh toán sau 30 ngày cũng được ạ", "credit"),
        ("Chị trả chậm cũng được ạ", "credit"),
        ("em cho anh no 15 ngay nhe", "credit"),
        ("Em gia hạn thanh toán cho chị đến 15/12 nhé", "deadline"),
        ("Em cho anh thêm 5 ngày nhé", "deadline"),
        ("Hạn thanh toán em lùi sang thứ 6 cho anh", "deadline"),
        ("Đơn này em ck 5% cho anh", "discount"),
        ("Anh được giảm 10% ạ", "discount"),
        ("Em bớt cho anh 200k nhé", "discount"),
        ("Bên em giảm giá cho chị lô này", "discount"),
        ("Em chiết khấu 5.5% cho anh nhé", "discount"),
        ("Dạ em cho anh khuyến mãi thêm 2 thùng", "discount"),
        ("Dạ anh chờ em chút. Em cho anh nợ 30 ngày nhé", "credit"),
        # not promises: questions, refusals, requests for approval, plain talk, commands
        ("Anh muốn thanh toán bằng hình thức nào ạ?", None),
        ("Cho em hỏi anh có muốn trả sau không ạ?", None),
        ("Em cho anh nợ được không ạ?", None),
        ("Bên em không cho nợ ạ", None),
        ("Em không giảm được ạ", None),
        ("Để em xin kế toán gia hạn cho anh", None),
        ("Em hỏi trưởng phòng cho anh nợ nhé", None),
        ("Anh thanh toán sau khi nhận hàng nhé", None),
        ("Anh chuyển khoản giúp em nhé", None),
        ("Giá 1.250.000đ/thùng ạ", None),
        ("Hạn thanh toán là 30/11 anh nhé", None),
        ("Em gửi cho nó rồi", None),
        ("Dạ em cảm ơn anh", None),
        ("/ghichu goi Em cho anh nợ 30 ngày", None),
        ("", None),
        (None, None),
    ],
)
def test_promises_needs_promise_like_phrasing(text, kind):
    assert promises(text) == kind


async def test_a_sales_credit_promise_is_flagged_to_the_head_silently(bot):
    await bot.say("/khachhang Công ty Minh Phát")
    before = len(await bot.outbox(target_id=GROUP))
    await bot.say("Em cho anh nợ 30 ngày nhé", sender=SALES)
    [flag] = await flags(bot)
    assert (flag.target_kind, flag.target_id) == ("user", HEAD)
    assert "Em cho anh nợ 30 ngày nhé" in flag.text
    assert "Nguyễn Văn An" in flag.text and "Công ty Minh Phát" in flag.text
    assert len(await bot.outbox(target_id=GROUP)) == before  # nothing in the group
    assert await bot.outbox(target_id=SALES) == []
    [violation] = await rows(bot, Violation)
    assert (violation.kind, violation.severity, violation.staff_id, violation.group_id) == (
        "policy_promise",
        "minor",
        SALES,
        GROUP,
    )
    assert violation.detail["promise"] == "credit"
    [audit] = [a for a in await rows(bot, AuditEntry) if a.action == "policy.promise_flagged"]
    assert audit.actor_id == SALES and audit.detail["text"] == "Em cho anh nợ 30 ngày nhé"


@pytest.mark.parametrize("sender", [HEAD, ADMIN, CUSTOMER])
async def test_only_sales_promises_are_flagged(bot, sender):
    await bot.say("Em cho anh nợ 30 ngày nhé", sender=sender)
    assert await flags(bot) == [] and await rows(bot, Violation) == []


async def test_an_approved_credit_lets_credit_and_deadline_promises_through(bot):
    await bot.say("Chào anh", sender=CUSTOMER)
    async with bot.runtime.sessions() as db:
        db.add(
            Payment(
                group_id=GROUP,
                kind="credit",
                amount=50_000_000,
                requested_by=SALES,
                requested_at=bot.clock.now(),
                status="approved",
            )
        )
        await db.commit()
    await bot.say("Em cho anh nợ 30 ngày nhé", sender=SALES)
    await bot.say("Em gia hạn thanh toán cho anh đến 15/12 nhé", sender=SALES)
    assert await flags(bot) == []
    await bot.say("Em ck 5% cho anh nhé", sender=SALES)  # a discount still needs its own approval
    [flag] = await flags(bot)
    assert "ck 5%" in flag.text


@pytest.mark.parametrize("status", ["pending", "rejected"])
async def test_a_credit_not_approved_is_no_approval(bot, status):
    async with bot.runtime.sessions() as db:
        db.add(
            Payment(
                group_id=GROUP,
                kind="credit",
                amount=1_000_000,
                requested_by=SALES,
                requested_at=bot.clock.now(),
                status=status,
            )
        )
        await db.commit()
    await bot.say("Em cho anh nợ 30 ngày nhé", sender=SALES)
    assert len(await flags(bot)) == 1


async def test_a_recorded_discount_approval_lets_discounts_through(bot):
    async with bot.runtime.sessions() as db:
        await repo.audit(
            db, at=bot.clock.now(), actor_id=HEAD, action="discount.approved", group_id=GROUP
        )
        await db.commit()
    await bot.say("Anh được giảm 10% ạ", sender=SALES)
    assert await flags(bot) == []


async def test_slash_commands_and_plain_talk_are_not_promises(bot):
    await bot.say("/ghichu goi Em cho anh nợ 30 ngày", sender=SALES)
    await bot.say("Anh muốn thanh toán bằng hình thức nào ạ?", sender=SALES)
    assert await flags(bot) == [] and await rows(bot, Violation) == []


async def test_flag_goes_into_the_alert_group_mentioning_the_head(make_bot, settings):
    bot = await make_bot(settings.replace(zalo_alert_group_id="alerts-1"))
    await bot.say("Em cho anh nợ 30 ngày nhé", sender=SALES)
    [flag] = await flags(bot)
    assert (flag.target_kind, flag.target_id) == ("group", "alerts-1")
    assert f"[@{HEAD}]" in flag.text
    await bot.say("Em cho anh nợ 30 ngày nhé", sender=SALES, group="alerts-1")
    assert len(await flags(bot)) == 1  # talk among staff in the alert group is not a promise


renderer = Renderer(ZoneInfo("Asia/Ho_Chi_Minh"))
SAMPLES = {
    "policy_promise": {
        "promise": "credit",
        "text": "Em cho anh nợ 30 ngày nhé [@123]",
        "sales_id": "1",
        "sales_name": "Nguyễn Văn An",
        "group_id": "g",
        "group_name": "Công ty Minh Phát",
        "in_group": True,
        "heads": ["3"],
    },
}


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_policy_templates_render_in_every_language(locale, name):
    text = renderer.render(name, locale, **SAMPLES[name])
    assert "[@3]" in text and "[@123]" not in text and "Nguyễn Văn An" in text


def test_every_policy_template_has_a_sample():
    names = {n for n in renderer.template_names() if n.startswith("policy_")}
    assert names == set(SAMPLES)
