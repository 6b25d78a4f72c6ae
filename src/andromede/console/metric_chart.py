"""A metric's line chart as the console draws it (decision 0111, session 47: metrics): the
ranges and statistics the page offers, the period chosen for a range as AWS's console chooses
it, and the chart's geometry — the line's points, the axes' ticks and labels — that
``metric.html`` writes as inline SVG. Pure: no I/O, no HTML; the template escapes the text.
Session 48: several series on one chart (a dashboard's metric widget of several lines), on a
shared value axis, each its own polyline and legend entry.

The page's CSP allows no script and no inline style, so the chart is plain SVG elements whose
look is in ``console.css``; its data are in the page's table too (the chart's ``<desc>``
says so), for a reader that cannot see it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

__all__ = [
    "PERIODS",
    "RANGES",
    "STATISTICS",
    "Chart",
    "Series",
    "Tick",
    "auto_period",
    "draw",
    "draw_series",
    "number",
    "periods_for",
]

# The ranges offered (name → seconds), as AWS's console's quick ranges.
RANGES: Final = {"1h": 3600, "3h": 3 * 3600, "12h": 12 * 3600, "1d": 86400, "1w": 7 * 86400}
# GetMetricStatistics' five statistics and the one percentile offered.
STATISTICS: Final = ("Average", "Sum", "Minimum", "Maximum", "SampleCount", "p99")
# AWS's console's periods (1 minute to 1 day): the automatic one is the finest that keeps the
# range within GetMetricStatistics' datapoint limit.
PERIODS: Final = (60, 300, 900, 3600, 6 * 3600, 86400)
_TIME_STEPS: Final = (300, 600, 900, 1800, 3600, 7200, 3 * 3600, 6 * 3600, 12 * 3600, 86400)
_WIDTH: Final = 720
_HEIGHT: Final = 260
_LEFT: Final = 72  # room for the value labels and the unit
_RIGHT: Final = 16
_TOP: Final = 12
_BOTTOM: Final = 32  # room for the time labels
_MARKERS: Final = 60  # up to this many points, each is also drawn as a dot
_Y_TICKS: Final = 4
_X_TICKS: Final = 6


def periods_for(span: int, most: int) -> list[int]:
    """The periods that keep ``span`` seconds within ``most`` datapoints."""
    return [p for p in PERIODS if math.ceil(span / p) <= most]


def auto_period(span: int, most: int) -> int:
    """The finest of AWS's console's periods that keeps ``span`` within ``most`` datapoints;
    past the coarsest, the whole minutes that do."""
    fitting = periods_for(span, most)
    if fitting:
        return fitting[0]
    return math.ceil(span / most / 60) * 60


@dataclass(frozen=True, slots=True)
class Tick:
    at: float  # the tick's pixel position on its axis
    label: str


@dataclass(frozen=True, slots=True)
class Series:
    """One series of a chart of several: its legend label, its line and dots, and its place
    (``index``: the look's class, ``series-0``…, taken modulo the palette's size)."""

    index: int
    label: str
    line: str
    markers: tuple[tuple[float, float], ...]
    count: int


# The palette's size in console.css (series-0 … series-5: colour and dash pattern both, so
# a series is told apart without colour).
SERIES_LOOKS: Final = 6


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    left: int
    top: int
    right: int
    bottom: int
    line: str  # the polyline's points, "x,y x,y …", in time order
    markers: tuple[tuple[float, float], ...]
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]
    unit: str  # the axis's unit ("" for None)
    count: int
    threshold: float | None = None  # an alarm's threshold line's pixel height, if drawn
    threshold_label: str = ""
    series: tuple[Series, ...] = ()  # a chart of several series: theirs, ``line`` empty
    # An anomaly detection band's area (a polygon's points: the lower edge forward, the
    # upper edge back), drawn behind the series; "" when the chart has none.
    band: str = ""


def _nice(raw: float) -> float:
    """The step of 1, 2 or 5 times a power of ten at least ``raw``."""
    power = 10.0 ** math.floor(math.log10(raw))
    for mantissa in (1, 2, 5, 10):
        if mantissa * power >= raw * (1 - 1e-9):
            return mantissa * power
    return 10 * power


def number(value: float, step: float | None = None, reference: float | None = None) -> str:
    """A value as the axis shows it: thousands as k, millions as M, billions as G (by the
    size of ``reference``, the axis's largest, else the value's), with as many decimals as
    the axis's ``step`` needs (else four significant digits)."""
    if value == 0:
        return "0"
    scale, suffix = 1.0, ""
    size = abs(reference) if reference else abs(value)
    for factor, name in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if size >= factor:
            scale, suffix = factor, name
            break
    scaled = value / scale
    if step:
        decimals = max(0, min(12, -math.floor(math.log10(abs(step) / scale) + 1e-9)))
        return f"{scaled:.{decimals}f}{suffix}"
    return f"{scaled:.4g}{suffix}"


def _y_axis(values: Sequence[float]) -> tuple[float, float, float]:
    low, high = min(0.0, *values), max(0.0, *values)
    if high == low:
        high = low + 1.0
    step = _nice((high - low) / _Y_TICKS)
    return math.floor(low / step) * step, math.ceil(high / step) * step, step


def _time_label(at: int, step: int) -> str:
    moment = datetime.fromtimestamp(at, UTC)
    return moment.strftime("%Y-%m-%d" if step >= 86400 else "%H:%M")


def draw(
    points: Sequence[tuple[int, float]],
    start: int,
    end: int,
    unit: str,
    threshold: float | None = None,
) -> Chart:
    """The chart of ``points`` (period start in epoch seconds, value), placed in time over
    [start, end] and in value from 0 (or the lowest negative value) to a round ceiling; an
    alarm's ``threshold`` is within the axis too (drawn as a horizontal line)."""
    return _draw([("", points)], start, end, unit, threshold, several=False)


def draw_series(
    series: Sequence[tuple[str, Sequence[tuple[int, float]]]],
    start: int,
    end: int,
    unit: str,
    band: tuple[Sequence[tuple[int, float]], Sequence[tuple[int, float]]] | None = None,
) -> Chart:
    """One chart of several labelled series on a shared value axis (each from 0, or the
    lowest negative value of them all, to a round ceiling over them all); an anomaly
    detection ``band`` (its lower and upper edges) is filled between its edges, within the
    axis too, at the times both edges have a value."""
    return _draw(series, start, end, unit, None, several=True, band=band)


def _draw(
    series: Sequence[tuple[str, Sequence[tuple[int, float]]]],
    start: int,
    end: int,
    unit: str,
    threshold: float | None,
    *,
    several: bool,
    band: tuple[Sequence[tuple[int, float]], Sequence[tuple[int, float]]] | None = None,
) -> Chart:
    plot_right, plot_bottom = _WIDTH - _RIGHT, _HEIGHT - _BOTTOM
    width, height = plot_right - _LEFT, plot_bottom - _TOP
    span = max(1, end - start)
    values = [value for _, points in series for _, value in points]
    edges: list[tuple[int, float, float]] = []
    if band is not None:
        upper = dict(band[1])
        edges = sorted((at, low, upper[at]) for at, low in band[0] if at in upper)
        values.extend(v for _, low, high in edges for v in (low, high))
    if threshold is not None and math.isfinite(threshold):
        values.append(threshold)
    else:
        threshold = None
    low, high, step = _y_axis(values or [0.0])

    def x(at: float) -> float:
        return round(_LEFT + (at - start) / span * width, 1)

    def y(value: float) -> float:
        return round(plot_bottom - (value - low) / (high - low) * height, 1)

    lines = []
    for index, (label, points) in enumerate(series):
        placed = [(x(at), y(value)) for at, value in sorted(points)]
        lines.append(
            Series(
                index=index,
                label=label,
                line=" ".join(f"{px},{py}" for px, py in placed),
                markers=tuple(placed) if len(placed) <= _MARKERS else (),
                count=len(placed),
            )
        )
    area = [(x(at), y(bottom)) for at, bottom, _ in edges]
    area.extend((x(at), y(top)) for at, _, top in reversed(edges))
    reference = max(abs(low), abs(high))
    y_ticks = tuple(
        Tick(y(low + i * step), number(low + i * step, step, reference))
        for i in range(round((high - low) / step) + 1)
    )
    time_step = next((s for s in _TIME_STEPS if span / s <= _X_TICKS), _TIME_STEPS[-1])
    first = start + (-start) % time_step
    x_ticks = tuple(
        Tick(x(at), _time_label(at, time_step)) for at in range(first, end + 1, time_step)
    )
    return Chart(
        width=_WIDTH,
        height=_HEIGHT,
        left=_LEFT,
        top=_TOP,
        right=plot_right,
        bottom=plot_bottom,
        line="" if several else lines[0].line,
        markers=() if several else lines[0].markers,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        unit="" if unit == "None" else unit,
        count=sum(one.count for one in lines),
        threshold=None if threshold is None else y(threshold),
        threshold_label="" if threshold is None else number(threshold),
        series=tuple(lines) if several else (),
        band=" ".join(f"{px},{py}" for px, py in area),
    )
