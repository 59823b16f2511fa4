"""Working-time arithmetic for the response SLA.

Rules:
- Working hours are weekly periods per weekday, e.g. DEFAULT_HOURS_SPEC below.
  Periods are half-open [start, end); an end of 24:00 means midnight of the next day.
- Public holidays (python `holidays`, e.g. "VN") are days off; "none" disables them.
- Make-up working days (`weekend_workdays`, e.g. Saturday 22 Aug 2026 in VN) use Monday's periods.
- Times are computed in the calendar's zone (wall clock, DST-safe); results are UTC-aware.
- A time outside working time starts counting at the next opening; a deadline that lands exactly
  on a period end is that end (11:45 + 15m = 12:00, not 13:30).
- Pure: no I/O, no clock. Holiday sets are loaded lazily per year and cached.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

import holidays as holidays_lib

from bot.core.reasons import Refusal

DEFAULT_HOURS_SPEC = "mon-fri 08:00-12:00,13:30-17:30; sat 08:00-12:00"
MAX_IDLE_DAYS = 400
ONE_DAY = timedelta(days=1)

Period = tuple[time, time | None]
Interval = tuple[datetime, datetime]

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


class WorktimeError(Refusal):
    """A bad working-time spec or an impossible working-time computation. In English by
    default: it also explains a bad setting on the console."""

    default_locale = "en"


@functools.lru_cache(maxsize=256)  # settings are parsed at every event
def parse_duration(text: str) -> timedelta:
    """Parse "15m", "90s", "2h", "1h30m" or bare minutes ("45") into a positive timedelta."""
    raw = text.strip().lower()
    if len(raw) > 40:
        raise WorktimeError("duration_too_long_text", text=text[:40])
    if raw.isdecimal() and len(raw) <= 7:
        result = timedelta(minutes=int(raw))
    else:
        match = _DURATION.fullmatch(raw)
        if not raw or not match:
            raise WorktimeError("duration_unreadable", text=text)
        h, m, s = (int(part or 0) for part in match.groups())
        result = timedelta(hours=h, minutes=m, seconds=s)
    if result <= timedelta(0):
        raise WorktimeError("duration_not_positive", text=text)
    if result > MAX_DURATION:
        raise WorktimeError("duration_over_a_year", text=text)
    return result


@dataclass(frozen=True)
class WorkingHours:
    """Weekday (0=Mon..6=Sun) -> sorted, non-overlapping (start, end|None=24:00) periods."""

    periods: Mapping[int, tuple[Period, ...]]


def _parse_day(name: str) -> int:
    """Map one day name (English or Vietnamese) to 0..6."""
    if name not in DAY_NAMES:
        raise WorktimeError("day_unknown", name=name)
    return DAY_NAMES[name]


def _parse_days(text: str) -> list[int]:
    """Parse "mon-fri", "t2,t4,t6" or "mon,wed-fri" into weekdays (duplicates are an error)."""
    days: list[int] = []
    for item in (part.strip() for part in text.split(",")):
        first, _, last = (x.strip() for x in item.partition("-"))
        lo, hi = _parse_day(first), _parse_day(last or first)
        if hi < lo:
            raise WorktimeError("day_range_backwards", item=item)
        for day in range(lo, hi + 1):
            if day in days:
                raise WorktimeError("day_twice", item=item)
            days.append(day)
    return days


def _parse_time(text: str, *, is_end: bool) -> time | None:
    """Parse "HH:MM"; "24:00" is allowed only as an end and returns None."""
    match = _TIME.fullmatch(text.strip())
    hour, minute = (int(g) for g in match.groups()) if match else (-1, -1)
    if is_end and (hour, minute) == (24, 0):
        return None
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise WorktimeError("hours_bad_time", text=text.strip())
    return time(hour, minute)


def _parse_periods(text: str) -> tuple[Period, ...]:
    """Parse "08:00-12:00,13:30-17:30" into sorted, validated periods."""
    periods: list[Period] = []
    for item in text.split(","):
        first, sep, last = item.partition("-")
        start = _parse_time(first, is_end=False) if sep else None
        if start is None:
            raise WorktimeError("hours_bad_period", item=item.strip())
        end = _parse_time(last, is_end=True)
        if end is not None and end <= start:
            raise WorktimeError("hours_period_backwards", item=item.strip())
        periods.append((start, end))
    periods.sort()
    for (_, end), (start, _) in zip(periods, periods[1:], strict=False):
        if end is None or end > start:
            raise WorktimeError("hours_overlap", text=text.strip())
    return tuple(periods)


def parse_working_hours(spec: str) -> WorkingHours:
    """Parse "DAYS PERIODS; DAYS PERIODS ..." into WorkingHours."""
    result: dict[int, tuple[Period, ...]] = {}
    for group in (g.strip() for g in spec.lower().split(";")):
        if not group:
            continue
        match = _GROUP.fullmatch(group)
        if not match:
            raise WorktimeError("hours_bad_group", group=group)
        periods = _parse_periods(match["periods"])
        for day in _parse_days(match["days"]):
            if day in result:
                raise WorktimeError("day_twice", item=WEEKDAYS[day])
            result[day] = periods
    if not result:
        raise WorktimeError("hours_empty")
    return WorkingHours(MappingProxyType(dict(sorted(result.items()))))


def _utc(moment: datetime) -> datetime:
    """Return an aware datetime in UTC; naive input is an error."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise WorktimeError("naive_datetime", moment=moment.isoformat())
    return moment.astimezone(UTC)


class Calendar:
    """Working hours + time zone + public holidays: answers working-time questions."""

    def __init__(
        self,
        hours: WorkingHours,
        tz: ZoneInfo,
        holidays: str = "VN",
        years: range | None = None,
    ) -> None:
        if not any(hours.periods.get(day) for day in range(7)):
            raise WorktimeError("hours_none")
        self.hours = hours
        self.tz = tz
        self.country: str | None = (
            None if holidays.strip().lower() == "none" else holidays.strip().upper()
        )
        self._years: dict[int, tuple[frozenset[date], frozenset[date]]] = {}
        if self.country is not None and self.country not in holidays_lib.list_supported_countries():
            raise WorktimeError("holidays_unknown", holidays=holidays)
        for year in years if self.country is not None and years is not None else ():
            self._year(year)

    def _year(self, year: int) -> tuple[frozenset[date], frozenset[date]]:
        """(days off, make-up working days) of one year, cached."""
        if year not in self._years:
            # Load the next year too: a make-up day may substitute a holiday of the next year.
            assert self.country is not None  # no years are asked for without a country
            data = holidays_lib.country_holidays(self.country, years=(year, year + 1))
            off = frozenset(d for d in data if d.year == year)
            extra = frozenset(d for d in getattr(data, "weekend_workdays", ()) if d.year == year)
            self._years[year] = (off - extra, extra)
        return self._years[year]

    def _periods_of(self, day: date) -> tuple[Period, ...]:
        """The weekly periods that apply to a calendar day (holidays and make-up days included)."""
        own = self.hours.periods.get(day.weekday(), ())
        if self.country is None:
            return own
        off, extra = self._year(day.year)
        if day in off:
            return ()
        return (self.hours.periods.get(0) or own) if day in extra else own

    def _intervals(self, day: date) -> list[Interval]:
        """UTC intervals of working time on one local calendar day."""
        result = []
        for start, end in self._periods_of(day):
            begin = datetime.combine(day, start, tzinfo=self.tz).astimezone(UTC)
            stop_day, stop = (day, end) if end is not None else (day + ONE_DAY, time())
            finish = datetime.combine(stop_day, stop, tzinfo=self.tz).astimezone(UTC)
            if finish > begin:
                result.append((begin, finish))
        return result

    def _intervals_from(self, at: datetime) -> Iterator[Interval]:
        """Working intervals ending after `at`, in order; raise after MAX_IDLE_DAYS without work."""
        day, idle = at.astimezone(self.tz).date(), 0
        while idle < MAX_IDLE_DAYS:
            intervals = self._intervals(day)
            idle = 0 if intervals else idle + 1
            yield from (iv for iv in intervals if iv[1] > at)
            day += ONE_DAY
        raise WorktimeError("hours_none_near", days=MAX_IDLE_DAYS, day=day.isoformat())

    def is_working(self, at: datetime) -> bool:
        """Whether `at` is inside working time."""
        at = _utc(at)
        return self.next_opening(at) == at

    def next_opening(self, at: datetime) -> datetime:
        """`at` itself if inside working time, else the start of the next working period (UTC)."""
        at = _utc(at)
        begin, _ = next(self._intervals_from(at))
        return max(begin, at)

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The moment (UTC) when `duration` of working time has elapsed since `start`."""
        start = _utc(start)
        if duration < timedelta(0):
            raise WorktimeError("duration_negative", duration=duration)
        remaining = duration
        for begin, end in self._intervals_from(start):
            begin = max(begin, start)
            if begin + remaining <= end:
                return begin + remaining
            remaining -= end - begin
        raise AssertionError("unreachable: _intervals_from never ends normally")

    def between(self, a: datetime, b: datetime) -> timedelta:
        """Working time elapsed from `a` to `b` (zero if b <= a)."""
        a, b = _utc(a), _utc(b)
        total = timedelta(0)
        if b <= a:
            return total
        for begin, end in self._intervals_from(a):
            if begin >= b:
                break
            total += min(end, b) - max(begin, a)
        return total
