"""Read amounts, dates and times the way Vietnamese sales staff type them in chat.

Pure functions: no I/O and no clock; the current date/time is always passed in.
Matching runs on `fold()`-ed text, so diacritics and case never matter.

Amounts (whole VND, always > 0):
* Units: k / nghìn / ngàn = 1e3; tr / triệu / củ = 1e6; tỷ / tỉ / tỏi = 1e9. "m" is refused.
  "tỏi" must keep its accent, because "toi" is also "tối" (evening).
* Optional currency at the end: đ, vnd, vnđ, đồng, ₫ (as the bot writes amounts).
* '.' or ',' followed by groups of exactly 3 digits are thousands separators ("50.000",
  "1,234,567", "1.500tr" = 1500 triệu). Any other separator is a decimal point, allowed only
  with a unit ("1,5 tỷ", "2.5tr", "150.5k").
* Digits glued after a unit are its decimals: "1tr5" = 1,5tr, "2ty500" = 2,5 tỷ.
  Parts with decreasing units add up: "2 tỷ 500 triệu", "1tr500k".
* Without a unit a number needs >= 4 digits (not starting with 0) or thousands separators,
  so "đợt 1", "500" and phone numbers are never amounts.
* A result with a fraction of a đồng ("1.2345k") is refused, not rounded; so is one above
  MAX_AMOUNT (a million tỷ), far beyond any deal and within what the tables hold.

Dates: "30/11" (current year), "30/11/2026", "30-11-26", "30.11.2026", "2026-11-30", "hôm nay",
"mai", "mốt"/"ngày kia", "hôm qua", "3 ngày nữa", "tuần sau", "thứ 2".."thứ 7"/"t2".."t7"/"cn"
(the next such day strictly after today), "t2 tuần sau" (that day in next Mon-Sun week).

Times: "14h30", "14g30", "14:30", "9 giờ 15", "9h rưỡi", with optional sáng/trưa/chiều/tối/đêm.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time, timedelta

from bot.core.reasons import Refusal
from bot.core.text import fold
from config import formats
from config.formats import AMOUNT, MAX_TYPED, FormatError, amount_value, fold_each
from config.formats import MAX_AMOUNT as MAX_AMOUNT


class ParseError(Refusal):
    """What could not be read, as a reason code (templates/<locale>/reasons.toml)."""


MAX_SCANNED = 1000


# ---------------------------------------------------------------- amounts

_COMMAND = re.compile(r"\s*/\w+")


def parse_amount(text: str) -> int:
    """'50tr' -> 50_000_000, '1,5 tỷ' -> 1_500_000_000, '50.000.000đ' -> 50_000_000
    (config/formats.py reads it)."""
    try:
        return formats.parse_amount(text)
    except FormatError as exc:
        raise ParseError(exc.code, **exc.params) from None


def find_amount(text: str) -> tuple[int, str] | None:
    """The first amount in free text and the rest of the text, or None.

    A leading "/command" word is dropped from the rest. If the first amount-looking token is
    invalid (e.g. "0tr"), the answer is None: a later number is never guessed instead.
    """
    text = unicodedata.normalize("NFC", text[:MAX_SCANNED])
    if command := _COMMAND.match(text):
        text = text[command.end() :]
    match = AMOUNT.search(fold_each(text))
    if not match:
        return None
    try:
        amount = amount_value(match)
    except FormatError:
        return None
    rest = text[: match.start()] + " " + text[match.end() :]
    return amount, " ".join(rest.split())


# ---------------------------------------------------------------- dates

_RELATIVE = {
    "hom nay": 0, "nay": 0, "mai": 1, "ngay mai": 1, "mot": 2, "ngay mot": 2,
    "ngay kia": 2, "hom qua": -1, "tuan sau": 7, "tuan toi": 7,
}  # fmt: skip
_WEEKDAYS = {"hai": 0, "ba": 1, "tu": 2, "nam": 3, "sau": 4, "bay": 5}
_DMY = re.compile(r"(?:ngay\s*)?(\d{1,2})([/.-])(\d{1,2})(?:\2(\d{4}|\d{2}))?")
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_IN_DAYS = re.compile(r"(\d{1,3})\s*ngay\s*(?:nua|toi)")
_WEEKDAY = re.compile(
    r"(?:(?:thu|t)\s*(?P<day>\d|hai|ba|tu|nam|sau|bay)|(?P<sunday>chu\s*nhat|cn))"
    r"(?:\s*(?P<next>tuan\s*(?:sau|toi)))?"
)


def _make_date(year: int, month: int, day: int, text: str) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise ParseError("date_not_real", text=text) from None


def _weekday(match: re.Match[str], today: date, text: str) -> date:
    day = match["day"]
    if match["sunday"]:
        weekday = 6
    elif day.isdigit() and 2 <= int(day) <= 7:
        weekday = int(day) - 2
    elif day in _WEEKDAYS:
        weekday = _WEEKDAYS[day]
    else:
        raise ParseError("weekday_unknown", text=text)
    if match["next"]:
        return today + timedelta(days=7 - today.weekday() + weekday)
    return today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)


def _short(text: str, example: str) -> None:
    """Refuse text longer than any date or time, before any pattern runs on it."""
    if len(text) > MAX_TYPED:
        raise ParseError("when_too_long", example=example)


def parse_date(text: str, today: date) -> date:
    """'30/11', '2026-11-30', 'mai', 'thứ 2', 't2 tuần sau', '3 ngày nữa' -> a date."""
    _short(text, "30/11, mai, thứ 2")
    folded = " ".join(fold(text).split())
    if folded in _RELATIVE:
        return today + timedelta(days=_RELATIVE[folded])
    if match := _DMY.fullmatch(folded):
        day, _, month, year = match.groups()
        full_year = today.year if year is None else int(year) + (2000 if len(year) == 2 else 0)
        return _make_date(full_year, int(month), int(day), text)
    if match := _ISO.fullmatch(folded):
        return _make_date(int(match[1]), int(match[2]), int(match[3]), text)
    if match := _IN_DAYS.fullmatch(folded):
        return today + timedelta(days=int(match[1]))
    if match := _WEEKDAY.fullmatch(folded):
        return _weekday(match, today, text)
    raise ParseError("date_unreadable", text=text)


# ---------------------------------------------------------------- times

_TIME = re.compile(
    r"(?<![\w/.:-])(?P<hour>\d{1,2})\s*(?P<sep>gio|h|g|:)"
    r"(?:\s*(?P<minute>\d{1,2}|ruoi)(?:\s*(?:phut|p))?)?"
    r"(?:\s*(?P<period>sang|trua|chieu|toi|dem))?(?![\w]|[/.:,-]\d)",
    re.ASCII,
)

# Hours that move to the afternoon/evening: "2h chiều" = 14h, "1h trưa" = 13h, "11h đêm" = 23h.
_AFTERNOON = {"chieu": (1, 11), "toi": (1, 11), "trua": (1, 2), "dem": (6, 11)}


def _time_value(match: re.Match[str], text: str) -> time:
    hour, minute, period = int(match["hour"]), match["minute"], match["period"]
    if match["sep"] == ":" and minute is None:
        raise ParseError("time_unreadable_short", text=text)
    low, high = _AFTERNOON.get(period or "", (0, -1))
    if low <= hour <= high:
        hour += 12
    minutes = 30 if minute == "ruoi" else int(minute or 0)
    if hour > 23 or minutes > 59 or (period == "sang" and hour > 12):
        raise ParseError("time_not_real", text=text)
    return time(hour, minutes)


def parse_time(text: str) -> time:
    """'14h30', '9 giờ 15', '2h chiều' (14:00), '7h tối' (19:00) -> a time."""
    _short(text, "14h30, 9h sáng, 2h chiều")
    match = _TIME.fullmatch(" ".join(fold(text).split()))
    if not match:
        raise ParseError("time_unreadable", text=text)
    return _time_value(match, text)


def parse_when(text: str, now: datetime, default_time: time = time(8, 0)) -> datetime:
    """A date and/or a time in any order: 'mai 9h', '14h30 30/11', 'thứ 2 8h sáng'.

    Missing date -> now's date (even if the time has passed); missing time -> default_time.
    The result carries now's tzinfo, so pass `now` in local (Vietnam) time.
    """
    _short(text, "mai 9h, 14h30 30/11")
    folded = " ".join(fold(text).split())
    match = _TIME.search(folded)
    if match is None:
        return datetime.combine(parse_date(text, now.date()), default_time, tzinfo=now.tzinfo)
    rest = (folded[: match.start()] + " " + folded[match.end() :]).strip()
    day = parse_date(rest, now.date()) if rest else now.date()
    return datetime.combine(day, _time_value(match, text), tzinfo=now.tzinfo)
