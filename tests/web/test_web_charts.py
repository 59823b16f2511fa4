"""Server-side SVG charts and the per-day figures they draw (pure functions)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.web import charts, series
from bot.web.charts import Frame, bar_chart, line_chart, nice_max, segments
from bot.web.series import ClockFacts

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def polylines(svg: str) -> list[str]:
    return re.findall(r'<polyline [^>]*points="([^"]*)"', svg)


def test_points_become_polyline_coordinates():
    svg = str(line_chart([("a", 0), ("b", 50), ("c", 100)], title="T", unit="%", y_max=100))
    # plot area x 44..470 split into three slots (their centres), y 190 (0) .. 14 (100)
    assert polylines(svg) == ["115.0,190.0 257.0,102.0 399.0,14.0"]
    assert svg.count("<circle") == 3


def test_none_makes_a_gap_in_the_line():
    points = [("1", 10.0), ("2", 20.0), ("3", None), ("4", 30.0), ("5", 40.0)]
    svg = str(line_chart(points, title="T", unit=""))
    assert len(polylines(svg)) == 2 and svg.count("<circle") == 4
    frame = Frame(5, nice_max([p[1] for p in points]))
    assert [len(run) for run in segments(points, frame)] == [2, 2]


def test_a_lone_value_between_gaps_is_still_drawn_as_a_dot():
    svg = str(line_chart([("1", None), ("2", 5.0), ("3", None)], title="T"))
    assert svg.count("<circle") == 1


@pytest.mark.parametrize("points", [[], [("1", None), ("2", None)]])
def test_no_data_draws_an_empty_chart_that_says_so(points):
    for draw in (line_chart, bar_chart):
        svg = str(draw(points, title="Tỷ lệ", empty="Chưa có dữ liệu"))
        assert 'class="chart-svg chart-empty"' in svg and "Chưa có dữ liệu" in svg
        assert 'role="img"' in svg and "<title>Tỷ lệ</title>" in svg
        assert "<polyline" not in svg and 'class="bar"' not in svg


def test_labels_and_titles_are_escaped():
    svg = str(line_chart([("<b>", 1.0)], title='a"<script>', unit="<u>"))
    assert "<script>" not in svg and "<b>" not in svg and "<u>" not in svg
    assert 'aria-label="a&#34;&lt;script&gt;"' in svg and "&lt;b&gt;" in svg


def test_a_chart_is_an_accessible_scalable_svg_with_gridlines_and_labels():
    svg = str(bar_chart([("01/11", 2.0), ("08/11", None), ("15/11", 5.0)], title="Quá hạn"))
    assert svg.startswith("<svg") and 'viewBox="0 0 480 220"' in svg
    assert 'role="img" aria-label="Quá hạn"' in svg and "<title>Quá hạn</title>" in svg
    assert svg.count('class="bar"') == 2
    assert svg.count("<line ") == 6  # 0, 1, … 5
    assert ">01/11<" in svg and ">15/11<" in svg and ">5<" in svg  # x labels, y axis top


def test_bars_stand_on_the_zero_line():
    svg = str(bar_chart([("a", 4.0), ("b", 2.0)], title="T", y_max=4))
    heights = [float(h) for h in re.findall(r'class="bar"[^>]* height="([\d.]+)"', svg)]
    assert heights == [176.0, 88.0]


def test_x_labels_are_thinned_to_fit():
    points = [(f"{d:02d}/11", float(d)) for d in range(1, 31)]
    labels = re.findall(r">(\d\d/11)<", str(line_chart(points, title="T")))
    assert len(labels) <= charts.MAX_X_LABELS and labels[-1] == "30/11"


@pytest.mark.parametrize(
    ("values", "top"),
    [([], 1.0), ([None], 1.0), ([0.0], 1.0), ([0.4], 0.5), ([3.0], 5.0), ([7.0], 10.0),
     ([12.0], 20.0), ([23.0, None], 25.0), ([100.0], 100.0), ([101.0], 200.0)],
)  # fmt: skip
def test_nice_max_rounds_the_axis_up(values, top):
    assert nice_max(values) == top


@pytest.mark.parametrize(
    ("top", "expected"),
    [(100, [0, 20, 40, 60, 80, 100]), (5, [0, 1, 2, 3, 4, 5]), (2, [0, 0.5, 1, 1.5, 2]),
     (1, [0, 0.2, 0.4, 0.6, 0.8, 1]), (25, [0, 5, 10, 15, 20, 25]), (90, [0, 20, 40, 60, 80])],
)  # fmt: skip
def test_gridlines_fall_on_round_numbers(top, expected):
    assert charts.ticks(top) == expected


@pytest.mark.parametrize(("value", "shown"), [(1.0, "1"), (12.345, "12.3"), (0, "0")])
def test_number(value, shown):
    assert charts.number(value) == shown


# --- the figures per day and week -------------------------------------------------------------


def vn(day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=VN).astimezone(UTC)


CLOCKS = [
    ClockFacts(vn(16), 300, None),  # Monday 16: answered in 5 minutes
    ClockFacts(vn(16, 10), 1500, vn(16, 10, 15)),  # answered late: a breach
    ClockFacts(vn(17), None, None),  # still open, not late: not decided
    ClockFacts(vn(18, 6, 30), 600, None),  # 06:30 local is still the 18th (23:30 UTC 17th)
    ClockFacts(vn(23), None, vn(23, 9, 15)),  # breached, unanswered: Monday 23, next week
]


def test_compliance_per_local_day_with_gaps():
    points = series.compliance_by_day(CLOCKS, date(2026, 11, 16), 8, VN)
    assert points[:3] == [("16/11", 50.0), ("17/11", None), ("18/11", 100.0)]
    assert points[-1] == ("23/11", 0.0) and len(points) == 8


def test_median_response_minutes_per_day():
    points = series.median_response_by_day(CLOCKS, date(2026, 11, 16), 3, VN)
    assert points == [("16/11", 15.0), ("17/11", None), ("18/11", 10.0)]


def test_breaches_per_week_start_on_monday():
    points = series.breaches_by_week(CLOCKS, date(2026, 11, 18), 6, VN)
    assert points == [("16/11", 1.0), ("23/11", 1.0)]
