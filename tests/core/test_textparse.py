"""Tests for bot.core.textparse: amounts, dates and times as typed in Vietnamese chat."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.core.textparse import (
    ParseError,
    find_amount,
    parse_amount,
    parse_date,
    parse_time,
    parse_when,
)

VN = ZoneInfo("Asia/Ho_Chi_Minh")
TODAY = date(2026, 11, 23)  # a Monday
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=VN)


# ---------------------------------------------------------------- parse_amount


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("50.000.000", 50_000_000),
        ("50,000,000", 50_000_000),
        ("50000000", 50_000_000),
        ("50tr", 50_000_000),
        ("50 tr", 50_000_000),
        ("50 triệu", 50_000_000),
        ("50 trieu", 50_000_000),
        ("50 TRIỆU", 50_000_000),
        ("50 củ", 50_000_000),
        ("1,5 tỷ", 1_500_000_000),
        ("1.5 tỷ", 1_500_000_000),
        ("1,5ty", 1_500_000_000),
        ("1,5 tỉ", 1_500_000_000),
        ("2 tỏi", 2_000_000_000),
        ("500k", 500_000),
        ("500K", 500_000),
        ("500 nghìn", 500_000),
        ("500 ngàn", 500_000),
        ("500 ngan", 500_000),
        ("1tr5", 1_500_000),
        ("3tr25", 3_250_000),
        ("1k5", 1_500),
        ("2 tỷ 500 triệu", 2_500_000_000),
        ("2ty500", 2_500_000_000),
        ("2ty500tr", 2_500_000_000),
        ("1tr500k", 1_500_000),
        ("1 triệu 500 nghìn", 1_500_000),
        ("50.000.000đ", 50_000_000),
        ("50.000.000 VND", 50_000_000),
        ("50,000,000 vnđ", 50_000_000),
        ("50 triệu đồng", 50_000_000),
        ("150.5k", 150_500),
        ("2.5tr", 2_500_000),
        ("0.5tr", 500_000),
        ("1.500tr", 1_500_000_000),  # exactly 3 digits after the dot: thousands separator
        ("50.000", 50_000),
        ("1,234,567", 1_234_567),
        ("1.000", 1_000),
        ("1234", 1_234),
        ("  50tr  ", 50_000_000),
        (unicodedata.normalize("NFD", "50 triệu"), 50_000_000),
    ],
)
def test_parse_amount(text: str, expected: int) -> None:
    assert parse_amount(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "abc",
        "0",
        "0tr",
        "0.000",
        "-5tr",
        "-50000",
        "50m",  # "m" is ambiguous
        "50 m",
        "500",  # no unit and fewer than 4 digits
        "1,5",  # decimal without a unit
        "50.5",
        "50.00",  # not a group of exactly 3 digits
        "1.234,567",  # mixed separators
        "1.2345k",  # 1234.5 đồng: fractions of a đồng are refused
        "1.5.5tr",
        "2 toi",  # without its accent "toi" is "tối" (evening), not "tỏi"
        "50tr xyz",
        "500 triệu 2 tỷ",  # units must decrease
        "2 tỷ 1500 triệu",
        "1tr5000",  # at most 3 decimals glued after a unit
        "0901234567",  # phone number
    ],
)
def test_parse_amount_rejects(text: str) -> None:
    with pytest.raises(ParseError):
        parse_amount(text)


def test_parse_error_is_a_value_error_with_a_message() -> None:
    with pytest.raises(ValueError, match="số tiền"):
        parse_amount("abc")


# ---------------------------------------------------------------- find_amount


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/pay 50tr chuyển khoản cọc đợt 1", (50_000_000, "chuyển khoản cọc đợt 1")),
        ("50tr chuyển khoản cọc đợt 1", (50_000_000, "chuyển khoản cọc đợt 1")),
        ("cọc đợt 1 1,5 tỷ  tiền mặt", (1_500_000_000, "cọc đợt 1 tiền mặt")),
        ("/pay   cọc   50.000.000đ   đợt 2", (50_000_000, "cọc đợt 2")),
        ("thu 2 tỷ 500 triệu hợp đồng A", (2_500_000_000, "thu hợp đồng A")),
        ("khách trả 1tr5.", (1_500_000, "khách trả .")),
        ("Đã nhận 500K từ anh Tỏi", (500_000, "Đã nhận từ anh Tỏi")),
        ("nhận 2 tỏi", (2_000_000_000, "nhận")),
        ("ngày 30/11/2026 thu 20tr", (20_000_000, "ngày 30/11/2026 thu")),
        ("hẹn 14h30 chốt 12000000", (12_000_000, "hẹn 14h30 chốt")),
        ("50tr", (50_000_000, "")),
        ("lương 15tr/tháng", (15_000_000, "lương /tháng")),
        ("Số tiền:50tr", (50_000_000, "Số tiền:")),
        ("khách trả 1tr5 2 lần", (1_500_000, "khách trả 2 lần")),
    ],
)
def test_find_amount(text: str, expected: tuple[int, str]) -> None:
    assert find_amount(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "/pay",
        "/pay cọc đợt 1",
        "gặp lúc 7 tối",  # "tối" is not "tỏi"
        "gọi 0901234567",
        "ngày 2026-11-30 lúc 10:30",
        "trả -5tr",
        "/pay 0tr đợt 1",  # the first amount is invalid: no guessing a later one
        "giá 500 nhé",
        "cọc 1,5 nhé",
        "từ 2026/11 tới 11:3000",
        "khoảng 50tr-60tr",
    ],
)
def test_find_amount_none(text: str) -> None:
    assert find_amount(text) is None


# ---------------------------------------------------------------- parse_date


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30/11", date(2026, 11, 30)),
        ("1/3", date(2026, 3, 1)),  # always the current year
        ("30/11/2026", date(2026, 11, 30)),
        ("30-11-2026", date(2026, 11, 30)),
        ("30/11/26", date(2026, 11, 30)),
        ("30.11.2026", date(2026, 11, 30)),
        ("2026-11-30", date(2026, 11, 30)),
        ("ngày 5/1/2027", date(2027, 1, 5)),
        ("hôm nay", TODAY),
        ("hom nay", TODAY),
        ("nay", TODAY),
        ("mai", date(2026, 11, 24)),
        ("Ngày mai", date(2026, 11, 24)),
        ("mốt", date(2026, 11, 25)),
        ("ngày mốt", date(2026, 11, 25)),
        ("ngày kia", date(2026, 11, 25)),
        ("hôm qua", date(2026, 11, 22)),
        ("thứ 2", date(2026, 11, 30)),  # today is Monday: next Monday
        ("thu 2", date(2026, 11, 30)),
        ("thứ hai", date(2026, 11, 30)),
        ("t2", date(2026, 11, 30)),
        ("thứ 3", date(2026, 11, 24)),
        ("thứ ba", date(2026, 11, 24)),
        ("thứ tư", date(2026, 11, 25)),
        ("thứ năm", date(2026, 11, 26)),
        ("thứ sáu", date(2026, 11, 27)),
        ("thứ 7", date(2026, 11, 28)),
        ("thứ bảy", date(2026, 11, 28)),
        ("t7", date(2026, 11, 28)),
        ("chủ nhật", date(2026, 11, 29)),
        ("chu nhat", date(2026, 11, 29)),
        ("cn", date(2026, 11, 29)),
        ("CN", date(2026, 11, 29)),
        ("thứ 2 tuần sau", date(2026, 11, 30)),
        ("t2 tuan sau", date(2026, 11, 30)),
        ("thứ 6 tuần sau", date(2026, 12, 4)),
        ("chủ nhật tuần sau", date(2026, 12, 6)),
        ("3 ngày nữa", date(2026, 11, 26)),
        ("3 ngay nua", date(2026, 11, 26)),
        ("tuần sau", date(2026, 11, 30)),
        ("tuan sau", date(2026, 11, 30)),
        ("  Mai  ", date(2026, 11, 24)),
    ],
)
def test_parse_date(text: str, expected: date) -> None:
    assert parse_date(text, TODAY) == expected


@pytest.mark.parametrize(
    ("text", "today", "expected"),
    [
        ("thứ 2", date(2026, 11, 28), date(2026, 11, 30)),  # from a Saturday
        ("cn", date(2026, 11, 29), date(2026, 12, 6)),  # Sunday -> next Sunday
        ("t7 tuần sau", date(2026, 11, 29), date(2026, 12, 5)),  # Sunday is still this week
        ("thứ 4 tuần sau", date(2026, 11, 27), date(2026, 12, 2)),
        ("mai", date(2026, 12, 31), date(2027, 1, 1)),
        ("29/02", date(2028, 1, 10), date(2028, 2, 29)),
    ],
)
def test_parse_date_relative_to_other_days(text: str, today: date, expected: date) -> None:
    assert parse_date(text, today) == expected


@pytest.mark.parametrize(
    "text",
    ["", "abc", "31/02", "29/02/2027", "32/1", "1/13", "2026-02-30", "thứ 9", "t8", "thứ 1", "cn2"],
)
def test_parse_date_rejects(text: str) -> None:
    with pytest.raises(ParseError):
        parse_date(text, TODAY)


# ---------------------------------------------------------------- parse_time


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("14h30", time(14, 30)),
        ("14h", time(14, 0)),
        ("14:30", time(14, 30)),
        ("14g30", time(14, 30)),
        ("9h", time(9, 0)),
        ("9 giờ", time(9, 0)),
        ("9 gio 15", time(9, 15)),
        ("9h15p", time(9, 15)),
        ("9 giờ 15 phút", time(9, 15)),
        ("9h rưỡi", time(9, 30)),
        ("2h chiều", time(14, 0)),
        ("2h chieu", time(14, 0)),
        ("14h chiều", time(14, 0)),
        ("8h sáng", time(8, 0)),
        ("7h tối", time(19, 0)),
        ("7h30 tối", time(19, 30)),
        ("12h trưa", time(12, 0)),
        ("1h trưa", time(13, 0)),
        ("11h đêm", time(23, 0)),
        ("2h đêm", time(2, 0)),
        ("0h", time(0, 0)),
        ("23:59", time(23, 59)),
        (" 9H ", time(9, 0)),
    ],
)
def test_parse_time(text: str, expected: time) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "abc", "25h", "24h", "14h60", "14", "14:", "13h sáng", "9h mai", "14h30 abc"],
)
def test_parse_time_rejects(text: str) -> None:
    with pytest.raises(ParseError):
        parse_time(text)


# ---------------------------------------------------------------- parse_when


def _at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=VN)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30/11 14h30", _at(30, 14, 30)),
        ("14h30 30/11", _at(30, 14, 30)),
        ("mai 9h", _at(24, 9)),
        ("9h mai", _at(24, 9)),
        ("thứ 2 8h sáng", _at(30, 8)),
        ("8h sáng thứ 2", _at(30, 8)),
        ("t2 tuần sau 2h chiều", _at(30, 14)),
        ("14h", _at(23, 14)),
        ("9h", _at(23, 9)),  # already passed today: still today
        ("30/11", _at(30, 8)),
        ("mai", _at(24, 8)),
        ("3 ngày nữa 9 giờ 15", _at(26, 9, 15)),
        ("2026-12-01 10:30", _at(1, 10, 30, month=12)),
        ("1/12/2026 7h tối", _at(1, 19, month=12)),
    ],
)
def test_parse_when(text: str, expected: datetime) -> None:
    result = parse_when(text, NOW)
    assert result == expected
    assert result.tzinfo is VN


def test_parse_when_default_time() -> None:
    assert parse_when("30/11", NOW, default_time=time(17, 0)) == _at(30, 17)
    assert parse_when("30/11 9h", NOW, default_time=time(17, 0)) == _at(30, 9)


def test_parse_when_uses_the_local_date_of_now() -> None:
    late = datetime(2026, 11, 23, 23, 30, tzinfo=VN)
    assert parse_when("mai 9h", late) == datetime(2026, 11, 24, 9, 0, tzinfo=VN)


@pytest.mark.parametrize("text", ["", "abc", "31/02 9h", "mai 25h", "thứ 9 8h", "9h 10h"])
def test_parse_when_rejects(text: str) -> None:
    with pytest.raises(ParseError):
        parse_when(text, NOW)
