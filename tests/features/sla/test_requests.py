"""Which customer messages start the clock (issue #18, section 1): the request classifier.

Measured on tests/corpus/customer_messages.tsv, realistic messages of both kinds (each also
typed without diacritics): at least 97 % of requests start a clock and at least 90 % of the
messages that need no reply do not. `bench/classifier.py` prints the same two figures.
"""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from bot.core.text import fold
from bot.features.sla.requests import classify
from storage.models import SlaEvent
from tests.support import CUSTOMER, ROOT, Bot

CORPUS = ROOT / "tests" / "corpus" / "customer_messages.tsv"


def corpus() -> list[tuple[bool, str]]:
    """(needs a reply, text) for every message, and its twin typed without diacritics."""
    cases: list[tuple[bool, str]] = []
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        label, text = line.split("\t", 1)
        cases.append((label == "request", text))
        if fold(text) != text.lower():
            cases.append((label == "request", fold(text)))
    return cases


def test_the_corpus_is_several_hundred_messages_of_both_kinds() -> None:
    cases = corpus()
    assert sum(wanted for wanted, _ in cases) >= 250
    assert sum(not wanted for wanted, _ in cases) >= 250


def test_97_percent_of_requests_start_a_clock_and_90_percent_of_the_rest_do_not() -> None:
    cases = corpus()
    requests = [text for wanted, text in cases if wanted]
    others = [text for wanted, text in cases if not wanted]
    missed = [t for t in requests if not classify.__wrapped__(t).needs_reply]
    spare = [t for t in others if classify.__wrapped__(t).needs_reply]
    assert 1 - len(missed) / len(requests) >= 0.97, missed
    assert 1 - len(spare) / len(others) >= 0.90, spare


@pytest.mark.parametrize(
    ("text", "needs_reply", "reason"),
    [
        ("Hàng về đủ rồi nha em, thanks", False, "received"),
        ("Chúc cả nhà mình năm mới an khang", False, "wishes"),
        ("Để anh hỏi lại kế toán bên anh rồi nhắn em", False, "deferral"),
        ("dạ ok, mà khi nào xe tới vậy?", True, "question"),
        ("shop ơi", True, "call"),
        ("mọi người ơi", True, "call"),
        ("??", True, "question"),
        ("Chị đã ck rồi nhé", True, "payment"),
        ("Hàng bị vỡ 2 thùng", True, "complaint"),
        ("bnhieu 1 thung e", True, "question"),
        ("cho e xin bao gia", True, "ask"),
        ("để chị tính đã nhé", False, "deferral"),
        ("👍", False, "emoji"),
    ],
)
def test_the_hard_cases_and_their_reasons(text: str, needs_reply: bool, reason: str) -> None:
    verdict = classify(text)
    assert (verdict.needs_reply, verdict.reason) == (needs_reply, reason)


def test_attachments_decide_when_there_is_no_text() -> None:
    assert not classify(None, ("sticker",)).needs_reply
    assert classify(None, ("image",)).reason == "attachment"  # a photo of the goods
    assert classify("cảm ơn", ("image",)).needs_reply


def test_when_unsure_it_starts_the_clock() -> None:
    verdict = classify("Mai anh qua kho")
    assert verdict.needs_reply and verdict.reason == "unsure"


async def test_the_clock_keeps_why_the_message_needed_a_reply(bot: Bot) -> None:
    await bot.say("/khachhang Công ty Minh Phát")
    await bot.say("Chị đã chuyển khoản rồi nhé", sender=CUSTOMER)
    async with bot.runtime.sessions() as db:
        [start] = (
            await db.exec(
                select(SlaEvent).where(SlaEvent.kind == "start").order_by(col(SlaEvent.id))
            )
        ).all()
    assert start.detail["reason"] == "payment"
    await bot.say("Hàng về đủ rồi nha em, thanks", sender=CUSTOMER)
    async with bot.runtime.sessions() as db:
        starts = (await db.exec(select(SlaEvent).where(SlaEvent.kind == "start"))).all()
    assert len(starts) == 1
