"""The formats settings and staff share, pure: durations ("15m", "1h30m", "45"), weekly working
hours ("mon-fri 08:00-12:00,13:30-17:30; sat 08:00-12:00", Vietnamese day names too) and amounts
in VND ("100tr", "1,5 tỷ", "100.000.000"), and the Vietnamese folding they read through.

A value that does not read raises FormatError with a reason code and its parameters. Settings
turn it into one line for the installer (config/settings.py); the bot into its refusal in the
user's language, with the same code (bot/core/worktime.py, bot/core/textparse.py).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any


class FormatError(ValueError):
    """A value that does not read: a reason code (templates/<locale>/reasons.toml) and its
    parameters."""

    def __init__(self, code: str, /, **params: Any) -> None:
        super().__init__(code)
        self.code, self.params = code, params

    def __str__(self) -> str:
        shown = ", ".join(f"{key}={value!r}" for key, value in self.params.items())
        return f"{self.code} ({shown})" if shown else self.code


_SPECIAL = str.maketrans({"đ": "d", "Đ": "D"})


@functools.lru_cache(maxsize=4096)  # every rule folds the event's text: computed once
def fold(text: str) -> str:
    """Lower-case `text` and strip Vietnamese diacritics: 'Ghi chú' -> 'ghi chu'."""
    decomposed = unicodedata.normalize("NFD", text.translate(_SPECIAL))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", stripped).lower()


# ---------------------------------------------------------------- durations and working hours

Period = tuple[time, time | None]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES: Mapping[str, int] = MappingProxyType(
    {
        **{name: i for i, name in enumerate(WEEKDAYS)},
        **{f"t{i + 2}": i for i in range(6)},
        "cn": 6,
    }
)
# Each part at most 7 digits and the whole at most MAX_DURATION: a typed "/sla 99999999999999h"
# is a usage error, not an OverflowError (issue #15).
_DURATION = re.compile(r"(?:(\d{1,7})\s*h)?\s*(?:(\d{1,7})\s*m)?\s*(?:(\d{1,7})\s*s)?")
MAX_DURATION = timedelta(days=366)
_TIME = re.compile(r"(\d{1,2}):(\d{2})")
_GROUP = re.compile(r"(?P<days>[a-z].*?)\s+(?P<periods>\d.*)")


@functools.lru_cache(maxsize=256)  # settings are parsed at every event
def parse_duration(text: str) -> timedelta:
    """Parse "15m", "90s", "2h", "1h30m" or bare minutes ("45") into a positive timedelta."""
    raw = text.strip().lower()
    if len(raw) > 40:
        raise FormatError("duration_too_long_text", text=text[:40])
    if raw.isdecimal() and len(raw) <= 7:
        result = timedelta(minutes=int(raw))
    else:
        match = _DURATION.fullmatch(raw)
        if not raw or not match:
            raise FormatError("duration_unreadable", text=text)
        h, m, s = (int(part or 0) for part in match.groups())
        result = timedelta(hours=h, minutes=m, seconds=s)
    if result <= timedelta(0):
        raise FormatError("duration_not_positive", text=text)
    if result > MAX_DURATION:
        raise FormatError("duration_over_a_year", text=text)
    return result


@dataclass(frozen=True)
class WorkingHours:
    """Weekday (0=Mon..6=Sun) -> sorted, non-overlapping (start, end|None=24:00) periods."""

    periods: Mapping[int, tuple[Period, ...]]


def _parse_day(name: str) -> int:
    """Map one day name (English or Vietnamese) to 0..6."""
    if name not in DAY_NAMES:
        raise FormatError("day_unknown", name=name)
    return DAY_NAMES[name]


def _parse_days(text: str) -> list[int]:
    """Parse "mon-fri", "t2,t4,t6" or "mon,wed-fri" into weekdays (duplicates are an error)."""
    days: list[int] = []
    for item in (part.strip() for part in text.split(",")):
        first, _, last = (x.strip() for x in item.partition("-"))
        lo, hi = _parse_day(first), _parse_day(last or first)
        if hi < lo:
            raise FormatError("day_range_backwards", item=item)
        for day in range(lo, hi + 1):
            if day in days:
                raise FormatError("day_twice", item=item)
            days.append(day)
    return days


def _parse_time(text: str, *, is_end: bool) -> time | None:
    """Parse "HH:MM"; "24:00" is allowed only as an end and returns None."""
    match = _TIME.fullmatch(text.strip())
    hour, minute = (int(g) for g in match.groups()) if match else (-1, -1)
    if is_end and (hour, minute) == (24, 0):
        return None
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise FormatError("hours_bad_time", text=text.strip())
    return time(hour, minute)


def _parse_periods(text: str) -> tuple[Period, ...]:
    """Parse "08:00-12:00,13:30-17:30" into sorted, validated periods."""
    periods: list[Period] = []
    for item in text.split(","):
        first, sep, last = item.partition("-")
        start = _parse_time(first, is_end=False) if sep else None
        if start is None:
            raise FormatError("hours_bad_period", item=item.strip())
        end = _parse_time(last, is_end=True)
        if end is not None and end <= start:
            raise FormatError("hours_period_backwards", item=item.strip())
        periods.append((start, end))
    periods.sort()
    for (_, end), (start, _) in zip(periods, periods[1:], strict=False):
        if end is None or end > start:
            raise FormatError("hours_overlap", text=text.strip())
    return tuple(periods)


def parse_working_hours(spec: str) -> WorkingHours:
    """Parse "DAYS PERIODS; DAYS PERIODS ..." into WorkingHours."""
    result: dict[int, tuple[Period, ...]] = {}
    for group in (g.strip() for g in spec.lower().split(";")):
        if not group:
            continue
        match = _GROUP.fullmatch(group)
        if not match:
            raise FormatError("hours_bad_group", group=group)
        periods = _parse_periods(match["periods"])
        for day in _parse_days(match["days"]):
            if day in result:
                raise FormatError("day_twice", item=WEEKDAYS[day])
            result[day] = periods
    if not result:
        raise FormatError("hours_empty")
    return WorkingHours(MappingProxyType(dict(sorted(result.items()))))


# ---------------------------------------------------------------- amounts (VND)

MAX_AMOUNT = 10**15
# Characters a reader looks at: an amount, a date or a time is a few words; free text is
# searched for an amount in its beginning only. Bounds the work any typed text can cause.
MAX_TYPED = 80

_UNITS = {
    "k": 10**3, "nghin": 10**3, "ngan": 10**3,
    "tr": 10**6, "trieu": 10**6, "cu": 10**6,
    "ty": 10**9, "ti": 10**9, "tỏi": 10**9,
}  # fmt: skip
_NUM = r"\d+(?:[.,]\d+)*"
_UNIT = r"(?:trieu|tr|cu|ty|ti|tỏi|nghin|ngan|k)(?![a-z])"
_PART = rf"{_NUM}\s*{_UNIT}"
AMOUNT = re.compile(
    rf"(?<![\w.,-])(?<!\d[/:])(?:(?P<parts>{_PART}(?:\s*{_PART})*)"
    rf"(?P<frac>\d{{1,3}}(?!\d|[.,]\d)(?!\s*{_UNIT}))?"
    r"|(?P<bare>[1-9]\d{0,2}(?:[.,]\d{3})+|[1-9]\d{3,}))"
    r"(?:\s*(?:vnd|dong|d|₫)(?![a-z]))?(?!\w|[/.,:-]\d)",
    re.ASCII,
)
_PART_RE = re.compile(rf"({_NUM})\s*({_UNIT})", re.ASCII)
_GROUPED = re.compile(r"[1-9]\d{0,2}(?:([.,])\d{3})(?:\1\d{3})*|\d+", re.ASCII)


def fold_each(text: str) -> str:
    """fold() char by char so indexes match `text`; keeps 'ỏ' so "tỏi" != "tối"."""
    return "".join("ỏ" if ch.lower() == "ỏ" else (fold(ch) or " ")[0] for ch in text)


def _number(raw: str, with_unit: bool) -> Decimal:
    if _GROUPED.fullmatch(raw):
        return Decimal(re.sub(r"[.,]", "", raw))
    if with_unit and re.fullmatch(r"\d+[.,]\d+", raw):
        return Decimal(raw.replace(",", "."))
    raise FormatError("number_unreadable", raw=raw)


def amount_value(match: re.Match[str]) -> int:
    if match["bare"]:
        total = _number(match["bare"], with_unit=False)
    else:
        total, scale = Decimal(0), 0
        for raw, unit in _PART_RE.findall(match["parts"]):
            value = _number(raw, with_unit=True) * _UNITS[unit]
            if scale and (_UNITS[unit] >= scale or value >= scale):
                raise FormatError("amount_mixed_units", text=match[0])
            total, scale = total + value, _UNITS[unit]
        if match["frac"]:
            total += Decimal("0." + match["frac"]) * scale
    if total <= 0:
        raise FormatError("amount_not_positive")
    if total != total.to_integral_value():
        raise FormatError("amount_fraction", text=match[0])
    if total > MAX_AMOUNT:
        raise FormatError("amount_too_big", text=match[0])
    return int(total)


def parse_amount(text: str) -> int:
    """'50tr' -> 50_000_000, '1,5 tỷ' -> 1_500_000_000, '50.000.000đ' -> 50_000_000."""
    match = None
    if len(text) <= MAX_TYPED:
        match = AMOUNT.fullmatch(fold_each(unicodedata.normalize("NFC", text)).strip())
    if not match:
        raise FormatError("amount_unreadable", text=text[:MAX_TYPED])
    return amount_value(match)
