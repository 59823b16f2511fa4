"""Every sentence a user reads comes from the templates (issue #17): the reasons a command's
arguments, an amount, a date or working hours are refused have a code, and each code has its
sentence in Vietnamese and in English; with LOCALE=en the usage reply is English throughout."""

from __future__ import annotations

import re
import string
from typing import Any

import pytest

from bot.core.commands import UsageError
from bot.core.reasons import reason_text
from bot.core.render import labels
from bot.core.textparse import ParseError, parse_amount
from bot.core.worktime import WorktimeError, parse_working_hours
from tests.support import ROOT, SALES, Bot

RAISED = re.compile(
    r"(?:UsageError|ParseError|WorktimeError)\(\s*\"([a-z_]+)\"|record_number\([^,]+,\s*\"([a-z_]+)\""
)


def _codes_in_the_code() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "bot").rglob("*.py"):
        for match in RAISED.finditer(path.read_text(encoding="utf-8")):
            found.add(match[1] or match[2])
    return found


def test_every_reason_raised_has_a_sentence_in_both_languages() -> None:
    codes = _codes_in_the_code()
    assert len(codes) > 60
    for locale in ("vi", "en"):
        missing = codes - set(labels(locale)["reasons"])
        assert not missing, (locale, sorted(missing))
    assert set(labels("vi")["reasons"]) == set(labels("en")["reasons"])


@pytest.mark.parametrize("locale", ["vi", "en"])
def test_every_sentence_takes_the_same_placeholders_in_both_languages(locale: str) -> None:
    other = "en" if locale == "vi" else "vi"
    for code, text in labels(locale)["reasons"].items():
        names = {f[1] for f in string.Formatter().parse(text) if f[1]}
        theirs = {f[1] for f in string.Formatter().parse(labels(other)["reasons"][code]) if f[1]}
        assert names == theirs, code


def test_a_refusal_reads_in_each_language() -> None:
    error = UsageError("too_long", what_label="name", limit=200)
    assert error.text("vi") == "tên dài quá (tối đa 200 ký tự)"
    assert error.text("en") == "the name is too long (200 characters at most)"
    assert str(error) == error.text("vi")
    with pytest.raises(ParseError) as caught:
        parse_amount("abc")
    assert caught.value.text("en").startswith("Cannot read the amount")
    with pytest.raises(WorktimeError) as bad_hours:
        parse_working_hours("mon 08:00")
    assert str(bad_hours.value).startswith("bad period")  # settings errors: English console
    assert reason_text("hours_bad_period", bad_hours.value.params, "vi").startswith("khoảng giờ")


@pytest.fixture
async def english(make_bot: Any, settings: Any) -> Bot:
    return await make_bot(settings.replace(locale="en"))


@pytest.mark.parametrize(
    "typed",
    [
        "/ghichu",
        "/ghichu bay hôm qua",
        "/thanhtoan abc",
        "/congno 5tr",
        "/lichsu 999",
        "/sla soon",
        "/giolamviec mon 08:00",
        "/donhang",
        "/chamsoc",
        "/duyet abc",
        "/suco nothing here",
        "/nhanvien vaitro 123 boss",
        "/baocao yearly",
        "/congno 5tr 31/02/2020",
        "/vangmat",
        "/vangmat 30/11/2026 Nobody Here",
    ],
)
async def test_with_locale_en_a_usage_reply_is_english_throughout(english: Bot, typed: str) -> None:
    await english.say("/khachhang Công ty Minh Phát", sender=SALES)
    await english.say(typed, sender="1000000000000000003")  # the head may run them all
    reply = await english.last_text()
    vietnamese = re.compile(r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]", re.I)
    typed_back = set(typed.split())
    shown = " ".join(w for w in reply.split() if w.strip("'“”,.():") not in typed_back)
    assert not vietnamese.search(shown), reply
