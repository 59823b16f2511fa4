"""Per-day and per-week figures of one staff member's reply clocks, for the charts (pure).

Days are local calendar days in the company time zone. A clock counts on the day it opened,
like the SLA report: in time when answered without a breach; decided when answered or
breached (a clock still open and not late is neither). A breach counts in the week of its
breach time (weeks start on Monday). A day without a decided clock has no value (a gap).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from statistics import median
from zoneinfo import ZoneInfo

from bot.web.charts import Point


@dataclass(frozen=True)
class ClockFacts:
    opened_at: datetime
    response_seconds: int | None
    breached_at: datetime | None


def days_of(first: date, count: int) -> list[date]:
    return [first + timedelta(days=i) for i in range(count)]


def _label(day: date) -> str:
    return day.strftime("%d/%m")


def compliance_by_day(
    clocks: list[ClockFacts], first: date, count: int, tz: ZoneInfo
) -> list[Point]:
    """(day, % of the day's decided clocks answered in time), None for a day without any."""
    decided: dict[date, int] = defaultdict(int)
    in_time: dict[date, int] = defaultdict(int)
    for clock in clocks:
        day = clock.opened_at.astimezone(tz).date()
        answered, breached = clock.response_seconds is not None, clock.breached_at is not None
        decided[day] += answered or breached
        in_time[day] += answered and not breached
    return [
        (_label(d), round(100 * in_time[d] / decided[d], 1) if decided[d] else None)
        for d in days_of(first, count)
    ]


def median_response_by_day(
    clocks: list[ClockFacts], first: date, count: int, tz: ZoneInfo
) -> list[Point]:
    """(day, median first-response minutes of the day's answered clocks), None without any."""
    seconds: dict[date, list[int]] = defaultdict(list)
    for clock in clocks:
        if clock.response_seconds is not None:
            seconds[clock.opened_at.astimezone(tz).date()].append(clock.response_seconds)
    return [
        (_label(d), round(median(seconds[d]) / 60, 1) if seconds[d] else None)
        for d in days_of(first, count)
    ]


def breaches_by_week(
    clocks: list[ClockFacts], first: date, count: int, tz: ZoneInfo
) -> list[Point]:
    """(Monday of each week touching the period, breaches in that week)."""
    monday = first - timedelta(days=first.weekday())
    last = first + timedelta(days=count - 1)
    weeks = []
    while monday <= last:
        weeks.append(monday)
        monday += timedelta(days=7)
    counts: dict[date, int] = defaultdict(int)
    for clock in clocks:
        if clock.breached_at is not None:
            day = clock.breached_at.astimezone(tz).date()
            counts[day - timedelta(days=day.weekday())] += 1
    return [(_label(w), float(counts[w])) for w in weeks]
