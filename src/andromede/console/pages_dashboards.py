"""CloudWatch dashboards in the console (decision 0111, session 47: dashboards; the API is
decision 0185): the account's dashboards as ListDashboards lists them (name, size, last
modified), and a dashboard's page — GetDashboard, then each widget placed by its ``x``,
``y``, ``width`` and ``height`` on a 24-column CSS grid: a ``metric`` widget's metric lines
drawn as one chart of several series with a legend (session 48), its datapoints in a table,
a ``text`` widget's Markdown rendered with a safe subset (``markdown_text``: never the HTML it
may hold), an ``alarm`` widget's alarms with their states in words, any other type said to
be "not shown here" —, and its deletion after a ticked box. Creating and editing a
dashboard's body is ``pages_dashboard_edit``'s.

Every read and change is CloudWatch's own call as the signed-in principal
(``wire_dashboards``), so its IAM decisions and account scoping answer: a refusal shows
CloudWatch's code and message with its status, never a 500.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import Response

from andromede.console import wire_dashboards
from andromede.console.handlers import Form, Typed, action, first_refusal, signed_in
from andromede.console.markdown_text import render_markdown
from andromede.console.metric_chart import STATISTICS, Chart, auto_period, draw_series
from andromede.console.pages_metrics import graph_href, number_text
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_metrics import CloudWatchWire, MetricRow
from andromede.http.response import Scope
from andromede.iam.model import Principal

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES", "Widget", "dashboard_url", "time_range", "widgets_of"]

_LIST: Final = f"{CONSOLE_PATH}/dashboards"
_DEFAULT_SPAN: Final = 3 * 3600
# AWS sizes a widget without width or height 6 by 6.
_DEFAULT_SIZE: Final = 6
# The grid's classes in console.css (the CSP allows no inline style): rows are placed up to
# this line and spanned up to this height; a widget past them is placed by the grid itself,
# in (y, x) order, and clipped to the tallest class.
GRID_ROWS: Final = 60
GRID_HEIGHT: Final = 24
_DURATION: Final = re.compile(r"-P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")


@dataclass(frozen=True, slots=True)
class MetricLine:
    """One line of a metric widget's ``metrics``: a metric and its statistic and period."""

    metric: MetricRow
    stat: str
    period: int  # 0: chosen for the range
    label: str


@dataclass(slots=True)
class Widget:
    """A widget as the page lays it out."""

    kind: str
    title: str
    classes: str  # the grid classes that place it
    lines: list[MetricLine] = field(default_factory=list)
    skipped: int = 0  # metric lines not drawn (math expressions, "..." shorthand)
    text: str = ""
    alarm_names: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)  # CloudWatch's, for this widget


def _integer(value: Any, lowest: int, highest: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if lowest <= value <= highest else None


def _classes(widget: dict[str, Any]) -> tuple[str, tuple[int, int]]:
    """The grid classes of a widget, and its (y, x) order (unplaced ones last)."""
    x = _integer(widget.get("x"), 0, 23)
    y = _integer(widget.get("y"), 0, 10**9)
    width = _integer(widget.get("width"), 1, 24) or _DEFAULT_SIZE
    height = _integer(widget.get("height"), 1, 1000) or _DEFAULT_SIZE
    if x is not None:
        width = min(width, 24 - x)  # a widget past the 24th column is cut, as on AWS
    classes = [f"dash-w{width}", f"dash-h{min(height, GRID_HEIGHT)}"]
    if x is not None:
        classes.append(f"dash-x{x}")
    if y is not None and y < GRID_ROWS:
        classes.append(f"dash-y{y}")
    big = 10**10
    return " ".join(classes), (big if y is None else y, big if x is None else x)


def _metric_lines(properties: dict[str, Any]) -> tuple[list[MetricLine], int]:
    """The widget's metric lines: namespace, metric name, dimension pairs, then an options
    object (``stat``, ``period``, ``label``); "." repeats the line above's item at that
    place. A math expression or a "..." line is counted, not drawn."""
    lines: list[MetricLine] = []
    skipped = 0
    previous: list[Any] = []
    default_stat = properties.get("stat") if isinstance(properties.get("stat"), str) else ""
    default_period = _integer(properties.get("period"), 1, 10**7) or 0
    rows = properties.get("metrics")
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, list) or not row:
            continue
        options = row[-1] if isinstance(row[-1], dict) else {}
        items = row[:-1] if isinstance(row[-1], dict) else list(row)
        if "expression" in options or "..." in items or len(items) < 2:
            skipped += 1
            continue
        items = [
            previous[i] if item == "." and i < len(previous) else item
            for i, item in enumerate(items)
        ]
        if not all(isinstance(item, str) for item in items):
            skipped += 1
            continue
        previous = items
        pairs = tuple(zip(items[2::2], items[3::2], strict=False))
        stat = str(options["stat"]) if isinstance(options.get("stat"), str) else default_stat
        period = _integer(options.get("period"), 1, 10**7) or default_period
        label = str(options["label"]) if isinstance(options.get("label"), str) else ""
        lines.append(MetricLine(MetricRow(items[0], items[1], pairs), stat or "Average", period,
                                label))  # fmt: skip
    return lines, skipped


def _alarm_names(properties: dict[str, Any]) -> list[str]:
    """The alarm widget's alarms, by name (its ``alarms`` are ARNs)."""
    arns = properties.get("alarms")
    names = [a.split(":alarm:", 1)[-1] for a in arns if isinstance(a, str)] if isinstance(
        arns, list) else []  # fmt: skip
    return list(dict.fromkeys(n for n in names if n))


def widgets_of(body: str) -> list[Widget]:
    """The body's widgets in (y, x) order, ready to lay out; a body that is not a JSON
    object of widgets (stored as given) holds none."""
    try:
        document = json.loads(body)
    except ValueError:
        return []
    found = document.get("widgets") if isinstance(document, dict) else None
    placed: list[tuple[tuple[int, int], int, Widget]] = []
    for index, item in enumerate(found if isinstance(found, list) else []):
        if not isinstance(item, dict):
            continue
        kind = item.get("type") if isinstance(item.get("type"), str) else ""
        properties = item.get("properties")
        properties = properties if isinstance(properties, dict) else {}
        title = properties.get("title") if isinstance(properties.get("title"), str) else ""
        classes, order = _classes(item)
        widget = Widget(str(kind), str(title), classes)
        if kind == "metric":
            widget.lines, widget.skipped = _metric_lines(properties)
        elif kind == "text":
            markdown = properties.get("markdown")
            widget.text = markdown if isinstance(markdown, str) else ""
        elif kind == "alarm":
            widget.alarm_names = _alarm_names(properties)
        placed.append((order, index, widget))
    return [w for _, _, w in sorted(placed, key=lambda p: (p[0], p[1]))]


def _moment(value: Any, now: int) -> int | None:
    """A body's ``start``/``end``: a relative ISO 8601 duration (``-PT3H``, ``-P1D``) before
    now, or an absolute ISO 8601 time."""
    if not isinstance(value, str):
        return None
    match = _DURATION.fullmatch(value.strip())
    if match and any(match.groups()):
        weeks, days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
        span = (((weeks * 7 + days) * 24 + hours) * 60 + minutes) * 60 + seconds
        return now - span
    try:
        return int(datetime.fromisoformat(value.strip().replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


def time_range(body: str, now: int) -> tuple[int, int]:
    """The page's range: the body's ``start`` (and ``end``), else the last 3 hours."""
    try:
        document = json.loads(body)
    except ValueError:
        document = {}
    document = document if isinstance(document, dict) else {}
    end = (now // 60 + 1) * 60
    given_end = _moment(document.get("end"), now)
    if given_end is not None and document.get("start") is not None:
        end = given_end
    start = _moment(document.get("start"), now)
    if start is None or start >= end:
        start = end - _DEFAULT_SPAN
    return start, end


@dataclass(frozen=True, slots=True)
class LinePoints:
    """One metric line's datapoints (of its first unit), its legend label and its chart link."""

    label: str
    stat: str
    unit: str
    points: list[tuple[int, float]]
    href: str


@dataclass(frozen=True, slots=True)
class DrawnWidget:
    """A metric widget's lines drawn as one chart of several series."""

    prefix: str
    title: str
    chart: Chart
    rows: list[tuple[str, str, str, str]]  # time, series, value, unit
    links: list[tuple[str, str]]  # each line's label and its metric's chart


def _when_text(at: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(at))


def _line_label(line: MetricLine) -> str:
    """The line's legend: its ``label``, else its metric, dimension values and statistic (two
    lines of one metric differ by their dimensions)."""
    if line.label:
        return line.label
    values = " ".join(v for _, v in line.metric.dimensions)
    return f"{line.metric.name}{' ' + values if values else ''} · {line.stat}"


async def _line_points(
    wire: CloudWatchWire,
    origin: Scope,
    principal: Principal,
    line: MetricLine,
    span: tuple[int, int],
    most: int,
) -> LinePoints:
    start, end = span
    period = line.period
    if period <= 0 or math.ceil((end - start) / period) > most:
        period = auto_period(end - start, most)
    points = await wire.statistics(
        origin, principal, line.metric, start=start, end=end, period=period, statistic=line.stat
    )
    units = sorted({p.unit for p in points})
    unit = units[0] if units else "None"
    stat = line.stat if line.stat in STATISTICS else ""
    return LinePoints(
        _line_label(line), line.stat, unit,
        [(p.at, p.value) for p in points if p.unit == unit],
        graph_href(line.metric, stat=stat),
    )  # fmt: skip


def _drawn_widget(
    widget: Widget, lines: list[LinePoints], span: tuple[int, int], prefix: str
) -> DrawnWidget:
    """The lines on one chart: the axis's unit when they share one, else each series' unit in
    its legend."""
    start, end = span
    units = {line.unit for line in lines if line.points}  # a line without data has none
    shared = units.pop() if len(units) == 1 else "None"
    labels = [
        f"{line.label} ({line.unit})" if shared == "None" and line.points and line.unit != "None"
        else line.label
        for line in lines
    ]  # fmt: skip
    chart = draw_series(
        [(label, line.points) for label, line in zip(labels, lines, strict=True)],
        start, end, shared,
    )  # fmt: skip
    title = widget.title or (lines[0].label if len(lines) == 1 else f"{len(lines)} metrics")
    rows = sorted(
        (at, label, number_text(value), line.unit)
        for label, line in zip(labels, lines, strict=True)
        for at, value in line.points
    )
    return DrawnWidget(
        prefix, title, chart, [(_when_text(at), label, v, u) for at, label, v, u in rows],
        [(label, line.href) for label, line in zip(labels, lines, strict=True)],
    )  # fmt: skip


async def _alarm_states(
    wire: CloudWatchWire, origin: Scope, principal: Principal, names: list[str]
) -> dict[str, str]:
    """The named alarms' states (metric and composite), by name; one absent is left out."""
    states: dict[str, str] = {}
    for at in range(0, len(names), 100):  # DescribeAlarms takes 100 names at a time
        payload = {"AlarmNames": names[at : at + 100],
                   "AlarmTypes": ["MetricAlarm", "CompositeAlarm"]}  # fmt: skip
        answer = await wire._json(origin, principal, "DescribeAlarms", payload)
        for member in ("MetricAlarms", "CompositeAlarms"):
            for item in answer.get(member, []):
                if isinstance(item, dict):
                    states[str(item.get("AlarmName", ""))] = str(item.get("StateValue", ""))
    return states


def _state_texts(_: Any) -> dict[str, str]:
    return {"OK": _("OK"), "ALARM": _("In alarm"), "INSUFFICIENT_DATA": _("Insufficient data")}


def dashboard_url(name: str) -> str:
    return f"{_LIST}/{quote(name, safe='')}"


@signed_in
async def dashboards_page(console: Console, request: Request, session: Session) -> Response:
    _ = console.catalogue(request).gettext
    token = request.query_params.get("token") or None
    error, status = None, 200
    listed = wire_dashboards.DashboardPage([], None)
    if console.metrics is None:
        error, status = _("This server serves no metrics."), 404
    else:
        try:
            listed = await wire_dashboards.listed(
                console.metrics, request.scope, session.principal, token
            )
        except WireError as exc:
            error, status = console.error_text(request, exc), exc.status
    next_href = (
        f"{_LIST}?{urlencode([('token', listed.next_token)])}" if listed.next_token else None
    )
    return console.render(
        request,
        "dashboards.html",
        session=session,
        status=status,
        title=_("Dashboards"),
        dashboards=[(d, dashboard_url(d.name)) for d in listed.dashboards],
        next_href=next_href,
        error=error,
    )


async def _dashboard_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Typed | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    name = request.path_params["name"]
    widgets: list[Widget] = []
    charts: dict[int, DrawnWidget] = {}
    states: dict[str, str] = {}
    start, end = time_range("{}", int(time.time()))
    found = False
    if console.metrics is None:
        error, status = _("This server serves no metrics."), 404
    else:
        try:
            body = await wire_dashboards.get(
                console.metrics, request.scope, session.principal, name
            )
        except WireError as exc:
            body = None
            error, status = first_refusal(console, request, exc, error, status)
        if body is not None:
            found, widgets = True, widgets_of(body)
            start, end = time_range(body, int(time.time()))
            charts, states = await _widget_data(
                console, request, console.metrics, session.principal, widgets, (start, end)
            )
    return console.render(
        request,
        "dashboard.html",
        session=session,
        status=status,
        title=f"{_('Dashboard')} {name}",
        name=name,
        found=found,
        widgets=list(enumerate(widgets)),
        charts=charts,
        states=states,
        state_texts=_state_texts(_),
        alarm_href=lambda alarm: f"{CONSOLE_PATH}/alarms/{quote(alarm, safe='')}",
        markdown=render_markdown,
        edit_href=f"{dashboard_url(name)}/edit",
        start_text=_when_text(start),
        end_text=_when_text(end),
        error=error,
    )


async def _widget_data(
    console: Console,
    request: Request,
    wire: CloudWatchWire,
    principal: Principal,
    widgets: list[Widget],
    span: tuple[int, int],
) -> tuple[dict[int, DrawnWidget], dict[str, str]]:
    """The widgets' charts (by widget: its lines as one chart) and their alarms' states.
    A page reads at most ``console_dashboard_charts`` metric lines (one GetMetricStatistics
    each). CloudWatch's refusal of one (a statistic it does not know, a user not allowed
    GetMetricStatistics or DescribeAlarms) is shown in that widget, and the rest of the
    dashboard still drawn."""
    origin = request.scope
    most = console.settings.metrics_max_datapoints
    charts: dict[int, DrawnWidget] = {}
    read, most_lines = 0, console.settings.console_dashboard_charts
    for index, widget in enumerate(widgets):
        lines: list[LinePoints] = []
        for line in widget.lines:
            if read >= most_lines:
                widget.skipped += 1
                continue
            read += 1
            try:
                lines.append(await _line_points(wire, origin, principal, line, span, most))
            except WireError as exc:
                widget.refusals.append(console.error_text(request, exc))
        if lines:
            charts[index] = _drawn_widget(widget, lines, span, f"chart-{len(charts) + 1}")
    states: dict[str, str] = {}
    names = list(dict.fromkeys(n for w in widgets for n in w.alarm_names))
    if names:
        try:
            states = await _alarm_states(wire, origin, principal, names)
        except WireError as exc:
            for widget in widgets:
                if widget.alarm_names:
                    widget.refusals.append(console.error_text(request, exc))
    return charts, states


dashboard_page = signed_in(_dashboard_page)


def _metrics(console: Console) -> CloudWatchWire | None:
    return console.metrics


async def _delete(wire: CloudWatchWire, request: Request, session: Session, fields: Form) -> str:
    name = request.path_params["name"]
    await wire_dashboards.delete(wire, request.scope, session.principal, name)
    return _LIST


# Its deletion once its box is ticked (unticked: the page again, 400, nothing sent);
# CloudWatch's refusal: the page again with it.
delete_dashboard = action(_dashboard_page, _delete, wire=_metrics, confirmed=True)


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/dashboards", dashboards_page, ["GET"]),
    ("/dashboards/{name}", dashboard_page, ["GET"]),
    ("/dashboards/{name}/delete", delete_dashboard, ["POST"]),
]
