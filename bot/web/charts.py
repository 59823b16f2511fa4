"""Charts drawn on the server as inline SVG: pure functions from points to markup, no library.

A chart has a fixed viewBox (480x220) and scales to its container, so it fits a phone. The y
axis starts at 0 and ends at `y_max`, or at a round number above the largest value; x labels
are thinned so they never overlap. A None value is a gap: the line breaks there and the bar is
missing. Without any value the chart is an empty frame that says so. Every text is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

Point = tuple[str, float | None]
WIDTH, HEIGHT = 480, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 10, 14, 30
MAX_X_LABELS = 6
MAX_TICKS = 6  # gridlines, 0 included
FONT = 13
INK, MUTED, GRID, BRAND = "#1d2733", "#5f6b7a", "#dde3ea", "#0068ff"


@dataclass(frozen=True)
class Frame:
    """Where slot i and value v land inside the viewBox."""

    slots: int
    y_max: float

    def x(self, i: int) -> float:
        """The centre of slot i."""
        return round(LEFT + (WIDTH - LEFT - RIGHT) * (i + 0.5) / max(self.slots, 1), 1)

    def y(self, value: float) -> float:
        plot = HEIGHT - TOP - BOTTOM
        return round(TOP + plot * (1 - min(value, self.y_max) / self.y_max), 1)

    @property
    def slot_width(self) -> float:
        return (WIDTH - LEFT - RIGHT) / max(self.slots, 1)


def nice(value: float) -> float:
    """The round number at or above `value`: 1, 2, 2.5 or 5 times a power of ten."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return float(next(round(m * power, 12) for m in (1, 2, 2.5, 5, 10) if m * power >= value))


def nice_max(values: Sequence[float | None]) -> float:
    """A round axis top at or above every value."""
    return nice(max((v for v in values if v is not None), default=0.0))


def ticks(y_max: float) -> list[float]:
    """Gridline values from 0 to y_max in round steps, at most MAX_TICKS of them."""
    step = nice(y_max / (MAX_TICKS - 1))
    return [round(i * step, 12) for i in range(int(y_max / step + 1e-9) + 1)]


def segments(points: Sequence[Point], frame: Frame) -> list[list[tuple[float, float]]]:
    """The runs of consecutive values as (x, y) coordinates; a None ends a run."""
    runs: list[list[tuple[float, float]]] = [[]]
    for i, (_, value) in enumerate(points):
        if value is None:
            runs.append([])
        else:
            runs[-1].append((frame.x(i), frame.y(value)))
    return [run for run in runs if run]


def number(value: float) -> str:
    """1.0 -> '1', 12.345 -> '12.3'."""
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def line_chart(
    points: Sequence[Point],
    *,
    title: str,
    unit: str = "",
    y_max: float | None = None,
    empty: str = "Không có dữ liệu",
) -> Markup:
    """A line over the points, broken where a value is None, with a dot per value."""
    frame = _frame(points, y_max)
    if frame is None:
        return _empty(title, empty)
    body = [
        f'<polyline class="line" fill="none" stroke="{BRAND}" stroke-width="2" '
        f'points="{" ".join(f"{x},{y}" for x, y in run)}"/>'
        for run in segments(points, frame)
    ]
    body += [
        f'<circle cx="{frame.x(i)}" cy="{frame.y(v)}" r="3" fill="{BRAND}">'
        f"{_tip(label, v, unit)}</circle>"
        for i, (label, v) in enumerate(points)
        if v is not None
    ]
    return _svg(title, unit, points, frame, body)


def bar_chart(
    points: Sequence[Point],
    *,
    title: str,
    unit: str = "",
    y_max: float | None = None,
    empty: str = "Không có dữ liệu",
) -> Markup:
    """One bar per point; a None value has no bar."""
    frame = _frame(points, y_max)
    if frame is None:
        return _empty(title, empty)
    width = round(frame.slot_width * 0.6, 1)
    base = frame.y(0)
    body = [
        f'<rect class="bar" x="{round(frame.x(i) - width / 2, 1)}" y="{frame.y(v)}" '
        f'width="{width}" height="{round(base - frame.y(v), 1)}" fill="{BRAND}">'
        f"{_tip(label, v, unit)}</rect>"
        for i, (label, v) in enumerate(points)
        if v is not None
    ]
    return _svg(title, unit, points, frame, body)


def _frame(points: Sequence[Point], y_max: float | None) -> Frame | None:
    values = [v for _, v in points]
    if all(v is None for v in values):
        return None
    return Frame(len(points), y_max if y_max and y_max > 0 else nice_max(values))


def _tip(label: str, value: float, unit: str) -> str:
    return f"<title>{escape(label)}: {number(value)}{escape(unit)}</title>"


def _open(title: str, css: str = "chart-svg") -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{escape(title)}" class="{css}">'
        f"<title>{escape(title)}</title>"
    )


def _svg(title: str, unit: str, points: Sequence[Point], frame: Frame, body: list[str]) -> Markup:
    parts = [_open(title), *_grid(frame, unit), *_x_labels(points, frame), *body, "</svg>"]
    return Markup("".join(parts))


def _grid(frame: Frame, unit: str) -> list[str]:
    return [
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{frame.y(v)}" y2="{frame.y(v)}" '
        f'stroke="{GRID}"/><text x="{LEFT - 5}" y="{frame.y(v) + 4}" text-anchor="end" '
        f'font-size="{FONT}" fill="{MUTED}">{number(v)}{escape(unit)}</text>'
        for v in ticks(frame.y_max)
    ]


def _x_labels(points: Sequence[Point], frame: Frame) -> list[str]:
    step = math.ceil(len(points) / MAX_X_LABELS)
    return [
        f'<text x="{frame.x(i)}" y="{HEIGHT - BOTTOM + 18}" text-anchor="middle" '
        f'font-size="{FONT}" fill="{MUTED}">{escape(label)}</text>'
        for i, (label, _) in enumerate(points)
        if (len(points) - 1 - i) % step == 0  # counted from the end: the latest is labelled
    ]


def _empty(title: str, note: str) -> Markup:
    return Markup(
        _open(title, "chart-svg chart-empty")
        + f'<rect x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" '
        f'height="{HEIGHT - TOP - BOTTOM}" fill="none" stroke="{GRID}"/>'
        f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" font-size="{FONT + 2}" '
        f'fill="{INK}">{escape(note)}</text></svg>'
    )
