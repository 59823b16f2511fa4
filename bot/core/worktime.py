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

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays as holidays_lib

from bot.core.reasons import Refusal
from config import formats
from config.formats import DAY_NAMES as DAY_NAMES
from config.formats import MAX_DURATION as MAX_DURATION
from config.formats import WEEKDAYS as WEEKDAYS
from config.formats import FormatError, Period, WorkingHours

DEFAULT_HOURS_SPEC = "mon-fri 08:00-12:00,13:30-17:30; sat 08:00-12:00"
MAX_IDLE_DAYS = 400
ONE_DAY = timedelta(days=1)

Interval = tuple[datetime, datetime]


class WorktimeError(Refusal):
    """A bad working-time spec or an impossible working-time computation. In English by
    default: it also explains a bad setting on the console."""

    default_locale = "en"


def parse_duration(text: str) -> timedelta:
    """Parse "15m", "90s", "2h", "1h30m" or bare minutes ("45") into a positive timedelta
    (config/formats.py reads it)."""
    try:
        return formats.parse_duration(text)
    except FormatError as exc:
        raise WorktimeError(exc.code, **exc.params) from None


def parse_working_hours(spec: str) -> WorkingHours:
    """Parse "DAYS PERIODS; DAYS PERIODS ..." into WorkingHours (config/formats.py reads it)."""
    try:
        return formats.parse_working_hours(spec)
    except FormatError as exc:
        raise WorktimeError(exc.code, **exc.params) from None


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
