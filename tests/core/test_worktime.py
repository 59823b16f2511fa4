"""bot.core.worktime: parsing, holidays (installed `holidays` VN data) and SLA arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.core.worktime import (
    DEFAULT_HOURS_SPEC,
    Calendar,
    WorkingHours,
    WorktimeError,
    parse_duration,
    parse_working_hours,
)

VN = ZoneInfo("Asia/Ho_Chi_Minh")
M15 = timedelta(minutes=15)
MORNING = (time(8), time(12))
AFTERNOON = (time(13, 30), time(17, 30))


def vn(*args: int) -> datetime:
    """A Vietnam wall-clock datetime."""
    return datetime(*args, tzinfo=VN)


@pytest.fixture(scope="module")
def cal() -> Calendar:
    return Calendar(parse_working_hours(DEFAULT_HOURS_SPEC), tz=VN)


@pytest.fixture(scope="module")
def always() -> Calendar:
    return Calendar(parse_working_hours("mon-sun 00:00-24:00"), tz=VN, holidays="none")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15m", timedelta(minutes=15)),
        ("90s", timedelta(seconds=90)),
        ("2h", timedelta(hours=2)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
        ("45", timedelta(minutes=45)),
        (" 15M ", timedelta(minutes=15)),
        ("1h0m5s", timedelta(hours=1, seconds=5)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "  ", "0", "0m", "0h0m", "-5", "1.5h", "15 minutes", "m", "1h30"]
)
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(WorktimeError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (DEFAULT_HOURS_SPEC, {d: (MORNING, AFTERNOON) for d in range(5)} | {5: (MORNING,)}),
        (
            "t2-t6 08:00-12:00,13:30-17:30; t7 08:00-12:00",
            {d: (MORNING, AFTERNOON) for d in range(5)} | {5: (MORNING,)},
        ),
        ("mon-sun 00:00-24:00", {d: ((time(0), None),) for d in range(7)}),
        ("cn 13:30-17:30,08:00-12:00", {6: (MORNING, AFTERNOON)}),
        (
            "mon,wed-thu, T7 8:00-12:00;",
            {0: (MORNING,), 2: (MORNING,), 3: (MORNING,), 5: (MORNING,)},
        ),
        ("fri 08:00-12:00,12:00-13:00", {4: (MORNING, (time(12), time(13)))}),
    ],
)
def test_parse_working_hours(spec: str, expected: dict) -> None:
    assert dict(parse_working_hours(spec).periods) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty"),
        ("mon", "bad group"),
        ("08:00-12:00", "bad group"),
        ("funday 08:00-12:00", "unknown day 'funday'"),
        ("t8 08:00-12:00", "unknown day 't8'"),
        ("fri-mon 08:00-12:00", "goes backwards"),
        ("mon 8am-12:00", "bad time '8am'"),
        ("mon 08:00-25:00", "bad time '25:00'"),
        ("mon 08:60-12:00", "bad time '08:60'"),
        ("mon 24:00-24:00", "bad time '24:00'"),
        ("mon 08:00", "bad period"),
        ("mon 12:00-08:00", "ends before it starts"),
        ("mon 08:00-08:00", "ends before it starts"),
        ("mon 08:00-12:00,11:00-13:00", "overlapping"),
        ("mon 08:00-24:00,09:00-10:00", "overlapping"),
        ("mon-fri 08:00-12:00; wed 13:00-17:00", "day 'wed' is given twice"),
        ("mon,t2 08:00-12:00", "given twice"),
    ],
)
def test_parse_working_hours_errors(spec: str, message: str) -> None:
    with pytest.raises(WorktimeError, match=message) as info:
        parse_working_hours(spec)
    assert "\n" not in str(info.value)


def test_calendar_rejects_empty_week_unknown_country_and_naive_datetimes() -> None:
    with pytest.raises(WorktimeError, match="no working time in the week"):
        Calendar(WorkingHours({}), tz=VN)
    with pytest.raises(WorktimeError, match="unknown holidays country"):
        Calendar(parse_working_hours(DEFAULT_HOURS_SPEC), tz=VN, holidays="XX")
    cal = Calendar(parse_working_hours(DEFAULT_HOURS_SPEC), tz=VN)
    with pytest.raises(WorktimeError, match="timezone-aware"):
        cal.add(datetime(2026, 3, 2, 9), M15)  # noqa: DTZ001  (naive on purpose)
    with pytest.raises(WorktimeError, match="negative"):
        cal.add(vn(2026, 3, 2, 9), -M15)


def test_search_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    cal = Calendar(parse_working_hours(DEFAULT_HOURS_SPEC), tz=VN)
    monkeypatch.setattr(cal, "_periods_of", lambda day: ())
    with pytest.raises(WorktimeError, match="no working time within 400 days"):
        cal.add(vn(2026, 3, 2, 9), M15)


# (start, duration, deadline) with the default hours and VN holidays.
DEFAULT_CASES = [
    pytest.param(vn(2026, 3, 2, 9), M15, vn(2026, 3, 2, 9, 15), id="monday-morning"),
    pytest.param(vn(2026, 3, 2, 11, 50), M15, vn(2026, 3, 2, 13, 35), id="across-lunch"),
    pytest.param(vn(2026, 3, 2, 11, 45), M15, vn(2026, 3, 2, 12), id="ends-exactly-at-noon"),
    pytest.param(
        vn(2026, 3, 2, 11, 45), timedelta(minutes=30), vn(2026, 3, 2, 13, 45), id="30m-lunch"
    ),
    pytest.param(vn(2026, 3, 2, 12, 30), M15, vn(2026, 3, 2, 13, 45), id="during-lunch"),
    pytest.param(vn(2026, 3, 2, 6), M15, vn(2026, 3, 2, 8, 15), id="before-opening"),
    pytest.param(vn(2026, 3, 2, 8), timedelta(hours=8), vn(2026, 3, 2, 17, 30), id="full-day"),
    pytest.param(vn(2026, 3, 6, 17, 29), M15, vn(2026, 3, 7, 8, 14), id="friday-to-saturday"),
    pytest.param(vn(2026, 3, 6, 16, 30), timedelta(hours=2), vn(2026, 3, 7, 9), id="2h-fri-sat"),
    pytest.param(vn(2026, 3, 7, 11, 55), M15, vn(2026, 3, 9, 8, 10), id="saturday-noon-to-monday"),
    pytest.param(vn(2026, 3, 7, 14), M15, vn(2026, 3, 9, 8, 15), id="saturday-afternoon"),
    pytest.param(vn(2026, 3, 8, 10), M15, vn(2026, 3, 9, 8, 15), id="sunday"),
    pytest.param(vn(2026, 2, 17, 10), M15, vn(2026, 2, 21, 8, 15), id="tet-2026-to-saturday"),
    pytest.param(vn(2026, 2, 13, 17, 25), M15, vn(2026, 2, 14, 8, 10), id="before-tet-2026"),
    pytest.param(vn(2026, 4, 24, 17, 25), M15, vn(2026, 4, 25, 8, 10), id="before-hung-kings"),
    pytest.param(vn(2026, 4, 25, 11, 55), M15, vn(2026, 4, 28, 8, 10), id="hung-kings-observed"),
    pytest.param(vn(2026, 4, 29, 17, 25), M15, vn(2026, 5, 2, 8, 10), id="reunification-labour"),
    pytest.param(vn(2026, 8, 22, 16), M15, vn(2026, 8, 22, 16, 15), id="makeup-saturday"),
    pytest.param(vn(2026, 8, 22, 11, 55), M15, vn(2026, 8, 22, 13, 40), id="makeup-saturday-lunch"),
    pytest.param(vn(2026, 8, 22, 17, 25), M15, vn(2026, 8, 24, 8, 10), id="makeup-saturday-close"),
    pytest.param(vn(2026, 8, 31, 9), M15, vn(2026, 9, 3, 8, 15), id="substituted-day-off"),
    pytest.param(vn(2026, 11, 23, 17, 25), M15, vn(2026, 11, 25, 8, 10), id="cultural-day"),
    pytest.param(vn(2026, 12, 31, 17, 20), M15, vn(2027, 1, 2, 8, 5), id="new-year-2027"),
    pytest.param(vn(2027, 2, 3, 17, 25), M15, vn(2027, 2, 11, 8, 10), id="tet-2027"),
    pytest.param(vn(2027, 12, 31, 17, 20), M15, vn(2028, 1, 4, 8, 5), id="new-year-2028-observed"),
    pytest.param(
        datetime(2026, 3, 2, 2, tzinfo=UTC),
        M15,
        datetime(2026, 3, 2, 2, 15, tzinfo=UTC),
        id="utc-in",
    ),
    pytest.param(
        datetime(2026, 3, 6, 10, 29, tzinfo=UTC),
        M15,
        datetime(2026, 3, 7, 1, 14, tzinfo=UTC),
        id="utc-friday-close",
    ),
]


@pytest.mark.parametrize(("start", "duration", "deadline"), DEFAULT_CASES)
def test_add(cal: Calendar, start: datetime, duration: timedelta, deadline: datetime) -> None:
    result = cal.add(start, duration)
    assert result == deadline
    assert result.tzinfo is UTC


@pytest.mark.parametrize(("start", "duration", "deadline"), DEFAULT_CASES)
def test_between_inverts_add(
    cal: Calendar, start: datetime, duration: timedelta, deadline: datetime
) -> None:
    assert cal.between(start, deadline) == duration
    assert cal.between(deadline, start) == timedelta(0)


@pytest.mark.parametrize(
    ("a", "b", "elapsed"),
    [
        (vn(2026, 3, 2, 9), vn(2026, 3, 2, 9), timedelta(0)),
        (vn(2026, 3, 2, 0), vn(2026, 3, 3, 0), timedelta(hours=8)),
        (vn(2026, 3, 2, 0), vn(2026, 3, 9, 0), timedelta(hours=44)),
        (vn(2026, 2, 14, 0), vn(2026, 2, 23, 0), timedelta(hours=8)),
        (vn(2026, 8, 22, 0), vn(2026, 9, 4, 0), timedelta(hours=7 * 8 + 4)),
        (vn(2026, 12, 31, 17), vn(2027, 1, 4, 8, 30), timedelta(hours=5)),
    ],
)
def test_between(cal: Calendar, a: datetime, b: datetime, elapsed: timedelta) -> None:
    assert cal.between(a, b) == elapsed


@pytest.mark.parametrize(
    ("at", "working", "opening"),
    [
        (vn(2026, 3, 2, 8), True, vn(2026, 3, 2, 8)),
        (vn(2026, 3, 2, 11, 59, 59), True, vn(2026, 3, 2, 11, 59, 59)),
        (vn(2026, 3, 2, 12), False, vn(2026, 3, 2, 13, 30)),
        (vn(2026, 3, 2, 17, 30), False, vn(2026, 3, 3, 8)),
        (vn(2026, 3, 7, 12), False, vn(2026, 3, 9, 8)),
        (vn(2026, 8, 22, 15), True, vn(2026, 8, 22, 15)),
        (vn(2026, 11, 24, 9), False, vn(2026, 11, 25, 8)),
        (datetime(2026, 3, 2, 1, tzinfo=UTC), True, datetime(2026, 3, 2, 1, tzinfo=UTC)),
        (datetime(2026, 3, 1, 23, tzinfo=UTC), False, datetime(2026, 3, 2, 1, tzinfo=UTC)),
    ],
)
def test_is_working_and_next_opening(
    cal: Calendar, at: datetime, working: bool, opening: datetime
) -> None:
    assert cal.is_working(at) is working
    result = cal.next_opening(at)
    assert result == opening
    assert result.tzinfo is UTC


@pytest.mark.parametrize(
    ("start", "duration"),
    [
        (vn(2026, 2, 17, 10), M15),
        (vn(2026, 3, 7, 23, 55), M15),
        (vn(2026, 12, 31, 23, 50), timedelta(hours=1)),
        (datetime(2026, 3, 2, 2, tzinfo=UTC), timedelta(days=3, seconds=7)),
    ],
)
def test_always_on_is_plain_addition(
    always: Calendar, start: datetime, duration: timedelta
) -> None:
    assert always.add(start, duration) == start + duration
    assert always.between(start, start + duration) == duration
    assert always.is_working(start)


def test_no_holidays_works_through_tet() -> None:
    cal = Calendar(parse_working_hours(DEFAULT_HOURS_SPEC), tz=VN, holidays="none")
    assert cal.add(vn(2026, 2, 17, 10), M15) == vn(2026, 2, 17, 10, 15)
    assert cal.add(vn(2026, 8, 22, 11, 55), M15) == vn(2026, 8, 24, 8, 10)  # plain Saturday


def test_preloaded_years_give_same_answers() -> None:
    cal = Calendar(parse_working_hours(DEFAULT_HOURS_SPEC), tz=VN, years=range(2026, 2028))
    assert cal.add(vn(2026, 12, 31, 17, 20), M15) == vn(2027, 1, 2, 8, 5)


def test_dst_zone_counts_real_elapsed_time() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    cal = Calendar(parse_working_hours("mon-sun 00:00-24:00"), tz=berlin, holidays="none")
    start = datetime(2026, 3, 29, 0, tzinfo=berlin)  # clocks jump 02:00 -> 03:00
    assert cal.add(start, timedelta(hours=3)) == datetime(2026, 3, 29, 4, tzinfo=berlin)
    assert cal.between(start, datetime(2026, 3, 30, 0, tzinfo=berlin)) == timedelta(hours=23)
