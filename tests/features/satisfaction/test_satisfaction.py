"""Satisfaction ratings: asked once after a resolved incident or a delivery, answered by the
customer with a bare score or a reply to the request, low scores alert the heads."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from bot.core.render import LOCALES, Renderer
from bot.features.satisfaction.rule import find_score, read_score
from storage.models import AuditEntry, Order, Rating
from tests.support import CUSTOMER, GROUP, HEAD, SALES, WAREHOUSE

# --- reading a score (pure) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("5", 5),
        ("1", 1),
        (" 4. ", 4),
        ("5!", 5),
        ("4 sao", 4),
        ("4 Sao", 4),
        ("5*", 5),
        ("5 *", 5),
        ("5/5", 5),
        ("3 / 5", 3),
        ("điểm 4", 4),
        ("Điểm 2", 2),
        ("4 điểm", 4),
        ("5 điểm nhé", 5),
        ("cho 5 sao", 5),
        ("Dạ 5 ạ", 5),
        ("mình chấm 4 điểm", 4),
        ("⭐⭐⭐⭐", 4),
        ("⭐️⭐️⭐️⭐️⭐️", 5),
        ("★★★", 3),
        ("5⭐", 5),
        ("500 thùng", None),
        ("0", None),
        ("6", None),
        ("10", None),
        ("5/10", None),
        ("mai 5h giao nhé", None),
        ("5h", None),
        ("2 thùng", None),
        ("5 triệu", None),
        ("⭐⭐⭐⭐⭐⭐", None),
        ("ok", None),
        ("", None),
        (None, None),
    ],
)
def test_read_score(text, score):
    assert read_score(text) == score


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("4 sao", 4),
        ("Mình cho 4 điểm nhé, giao hơi chậm", 4),
        ("cho 3 thôi", 3),
        ("5 sao, giao có 2 ngày là tới", 5),
        ("giao 2 ngày mới tới, 3 thùng bị móp", None),
        ("500 thùng", None),
        ("rất hài lòng", None),
    ],
)
def test_find_score_in_a_reply_to_the_request(text, score):
    assert find_score(text) == score


# --- templates --------------------------------------------------------------------------------

renderer = Renderer(ZoneInfo("Asia/Ho_Chi_Minh"))
from tests.template_samples import SAMPLES  # noqa: E402

VARIANTS = [
    ("rating_request", {**SAMPLES["rating_request"], "reason": "deal", "incident_type": None}),
    ("rating_request", {**SAMPLES["rating_request"], "reason": "order", "order_code": "DH-7"}),
    ("rating_thanks", {"score": 3}),
    ("rating_thanks", {"score": 1}),
    ("rating_low", {**SAMPLES["rating_low"], "reason": "deal", "customer": None, "staff": None}),
]


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize(
    ("name", "context"),
    [*((n, c) for n, c in SAMPLES.items() if n.startswith("rating_")), *VARIANTS],
)
def test_rating_templates_render(locale, name, context):
    text = renderer.render(name, locale, **context)
    assert text and "\n\n" not in text


def test_the_request_says_how_to_answer():
    text = renderer.render("rating_request", "vi", **SAMPLES["rating_request"])
    assert "chấm điểm 1–5" in text and "gõ số từ 1 đến 5" in text
    assert text.splitlines()[0].endswith("xử lý xong.")


# --- through the webhook ----------------------------------------------------------------------


async def rows(bot, model):
    async with bot.runtime.sessions() as db:
        return list((await db.exec(select(model).order_by(model.id))).all())


async def later(bot, minutes: int = 1) -> None:
    bot.clock.advance(minutes=minutes)
    await bot.runtime.drain()


async def resolved_incident(bot) -> None:
    await bot.say("/khachhang Công ty Minh Phát", sender=SALES)
    await bot.say("/suco giaosai Giao nhầm vị cam", sender=SALES)
    await later(bot, 30)
    await bot.say("/xuly 1 Đã giao bù 10 thùng vị dâu", sender=WAREHOUSE)


async def test_a_resolved_incident_gets_one_request_after_the_resolution_notice(bot):
    await resolved_incident(bot)
    purposes = [row.purpose for row in await bot.outbox(target_id=GROUP)]
    assert purposes[-2:] == ["incident_resolved", "rating_request"]
    [request] = await bot.outbox(purpose="rating_request")
    assert "gõ số từ 1 đến 5" in request.text
    [rating] = await rows(bot, Rating)
    assert (rating.reason, rating.ref_id, rating.staff_id, rating.score) == (
        "incident",
        1,
        SALES,
        None,
    )
    assert rating.customer_id is not None
    assert request.payload == {"rating_id": rating.id}


async def test_the_group_is_not_asked_twice(bot):
    await resolved_incident(bot)
    await later(bot)
    await later(bot, 60 * 25)
    assert len(await bot.outbox(purpose="rating_request")) == 1
    assert len(await rows(bot, Rating)) == 1


async def test_a_bare_score_is_stored_and_thanked(bot):
    await resolved_incident(bot)
    await later(bot, 5)
    await bot.say("5", sender=CUSTOMER)
    [rating] = await rows(bot, Rating)
    assert (rating.score, rating.answered_by, rating.answered_at) == (
        5,
        CUSTOMER,
        bot.clock.now(),
    )
    [thanks] = await bot.outbox(purpose="rating_thanks")
    assert thanks.target_id == GROUP and "5/5" in thanks.text
    assert await bot.outbox(purpose="rating_low") == []
    assert "rating.answered" in [a.action for a in await rows(bot, AuditEntry)]


async def test_replying_to_the_request_with_a_score_is_stored(bot):
    await resolved_incident(bot)
    await bot.say("Anh kiểm tra lại giúp em đơn tuần sau nhé", sender=SALES)  # staff spoke since
    [request] = await bot.outbox(purpose="rating_request")
    await later(bot)
    await bot.say("4 sao", sender=CUSTOMER, quote_msg_id=request.zalo_message_id)
    [rating] = await rows(bot, Rating)
    assert rating.score == 4
    assert len(await bot.outbox(purpose="rating_thanks")) == 1


async def test_a_second_answer_is_just_chat(bot):
    await resolved_incident(bot)
    await later(bot)
    await bot.say("5", sender=CUSTOMER)
    await bot.say("4 sao", sender=CUSTOMER)
    [rating] = await rows(bot, Rating)
    assert rating.score == 5
    assert len(await bot.outbox(purpose="rating_thanks")) == 1


async def test_a_low_score_alerts_the_head_one_to_one(bot):
    await resolved_incident(bot)
    await later(bot)
    await bot.say("điểm 2", sender=CUSTOMER)
    [alert] = await bot.outbox(purpose="rating_low")
    assert (alert.target_kind, alert.target_id) == ("user", HEAD)
    assert "2/5" in alert.text and "Công ty Minh Phát" in alert.text
    assert await bot.outbox(purpose="rating_low", target_id=GROUP) == []


async def test_a_number_with_nothing_pending_is_ignored(bot):
    await bot.say("/khachhang Công ty Minh Phát", sender=SALES)
    await bot.say("5", sender=CUSTOMER)
    assert await rows(bot, Rating) == []
    assert await bot.outbox(purpose="rating_thanks") == []


async def test_a_plain_digit_after_a_staff_question_answers_the_staff(bot):
    await resolved_incident(bot)
    await later(bot)
    await bot.say("Anh lấy thêm mấy thùng ạ?", sender=SALES)
    await later(bot)
    await bot.say("2", sender=CUSTOMER)
    [rating] = await rows(bot, Rating)
    assert rating.score is None
    assert await bot.outbox(purpose="rating_low") == []


async def test_a_rating_asked_long_ago_is_not_answered_by_a_bare_number(bot):
    await resolved_incident(bot)
    await later(bot, 60 * 24 * 4)
    await bot.say("5", sender=CUSTOMER)
    [rating] = await rows(bot, Rating)
    assert rating.score is None


async def test_staff_writing_a_number_is_not_a_rating(bot):
    await resolved_incident(bot)
    await later(bot)
    await bot.say("5", sender=SALES)
    [rating] = await rows(bot, Rating)
    assert rating.score is None
    assert await bot.outbox(purpose="rating_thanks") == []


async def test_a_fulfilled_deal_gets_a_request(bot):
    await bot.say("/khachhang Công ty Minh Phát", sender=SALES)
    await bot.say("/giaidoan dagiao", sender=SALES)
    [request] = await bot.outbox(purpose="rating_request")
    assert request.target_id == GROUP
    [rating] = await rows(bot, Rating)
    stage = [a for a in await rows(bot, AuditEntry) if a.action == "deal.stage"][-1]
    assert (rating.reason, rating.ref_id) == ("deal", stage.id)
    await later(bot, 60 * 25)
    assert len(await bot.outbox(purpose="rating_request")) == 1


async def test_a_fulfilled_order_gets_a_request(bot):
    await bot.say("/khachhang Công ty Minh Phát", sender=SALES)
    async with bot.runtime.sessions() as db:
        db.add(
            Order(
                order_code="DH-7",
                group_id=GROUP,
                purchased_at=bot.clock.now(),
                status="fulfilled",
                created_at=bot.clock.now(),
            )
        )
        await db.commit()
    await later(bot)
    [request] = await bot.outbox(purpose="rating_request")
    assert "DH-7" in request.text
    [rating] = await rows(bot, Rating)
    assert (rating.reason, rating.ref_id) == ("order", 1)


async def test_occasions_close_together_get_one_request_and_a_later_one_waits(bot):
    await resolved_incident(bot)
    await later(bot, 5)
    await bot.say("/giaidoan dagiao", sender=SALES)
    await later(bot, 60)
    assert len(await bot.outbox(purpose="rating_request")) == 1
    await later(bot, 60 * 24)
    requests = await bot.outbox(purpose="rating_request")
    assert len(requests) == 2
    assert [r.reason for r in await rows(bot, Rating)] == ["incident", "deal"]


async def test_old_history_is_not_asked_about(bot):
    await resolved_incident(bot)
    async with bot.runtime.sessions() as db:
        for rating in (await db.exec(select(Rating))).all():
            await db.delete(rating)
        await db.commit()
    bot.clock.advance(timedelta(days=4))
    await bot.runtime.drain()
    assert await rows(bot, Rating) == []


async def test_a_rating_answer_starts_no_reply_clock(bot):
    from storage.models import SlaClock

    await resolved_incident(bot)
    await later(bot, 5)
    await bot.say("4 sao", sender=CUSTOMER)
    assert (await rows(bot, Rating))[0].score == 4
    assert [c for c in await rows(bot, SlaClock) if c.closed_at is None] == []
