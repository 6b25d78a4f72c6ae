"""CloudWatch metrics in the console (decision 0111, session 47: metrics; the API is decision
0172): the account's metrics as ListMetrics lists them, grouped by namespace (the platform's
``AWS/…`` first, then the account's own), filtered by namespace, metric name and dimension,
in pages of ``console_page_size``; and a metric's chart — GetMetricStatistics of one statistic
over a range, at the period AWS's console would choose (``metric_chart``) — drawn as inline
SVG with its datapoints in a table.

Every read is CloudWatch's own call as the signed-in principal (``wire_metrics``), so its
IAM decisions and checks answer; a refusal is shown as CloudWatch's code and message with the
status it sent, never a 500. Both pages are GETs that change nothing: their forms carry no
CSRF token (as the usage page's), and a link keeps the choices made.

Decision 0419: the metrics of the Region the address names (``?region=``,
``console.regions``; each Region's series apart, decision 0360), ListMetrics and
GetMetricStatistics made in it, every link and form keeping it; the alarms are the console's
own Region's (CloudWatch serves them there only), so a chart of another Region offers none.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from andromede.console.handlers import FormFault, signed_in
from andromede.console.metric_chart import (
    RANGES,
    STATISTICS,
    auto_period,
    draw,
    periods_for,
)
from andromede.console.regions import region_choice
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_metrics import MetricPage, MetricPoint, MetricRow

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES", "graph_href", "grouped", "parse_dimensions"]

# The platform's namespaces, listed first in this order (decision 0172; AWS/EC2 comes from
# the hosts' agents).
PLATFORM_NAMESPACES: Final = ("AWS/SQS", "AWS/AutoScaling", "AWS/EC2")
_LIST: Final = f"{CONSOLE_PATH}/metrics"
_GRAPH: Final = f"{CONSOLE_PATH}/metrics/graph"


def parse_dimensions(typed: Iterable[str]) -> list[tuple[str, str | None]]:
    """``Name=Value`` (or ``Name`` alone: any value, for ListMetrics) as typed, blanks left
    out; CloudWatch checks the rest."""
    pairs: list[tuple[str, str | None]] = []
    for one in typed:
        name, equals, value = one.strip().partition("=")
        if name.strip():
            pairs.append((name.strip(), value.strip() if equals else None))
    return pairs


def _dimension_params(dimensions: Sequence[tuple[str, str | None]]) -> list[tuple[str, str]]:
    return [("dimension", n if v is None else f"{n}={v}") for n, v in dimensions]


def graph_href(metric: MetricRow, **chosen: str) -> str:
    """The chart page of ``metric`` (with the range, statistic… chosen, if any)."""
    params = [("namespace", metric.namespace), ("name", metric.name)]
    params += _dimension_params(metric.dimensions)
    params += [(key, value) for key, value in chosen.items() if value]
    return f"{_GRAPH}?{urlencode(params)}"


def _namespace_order(namespace: str) -> tuple[int, int, str]:
    if namespace in PLATFORM_NAMESPACES:
        return (0, PLATFORM_NAMESPACES.index(namespace), namespace)
    return (1 if namespace.startswith("AWS/") else 2, 0, namespace)


def grouped(rows: Sequence[MetricRow]) -> list[tuple[str, list[MetricRow]]]:
    """The rows by namespace: the platform's first, then other ``AWS/`` ones, then the
    account's own, each group in the order listed."""
    groups: dict[str, list[MetricRow]] = {}
    for row in rows:
        groups.setdefault(row.namespace, []).append(row)
    return sorted(groups.items(), key=lambda item: _namespace_order(item[0]))


@signed_in
async def metrics_page(console: Console, request: Request, session: Session) -> Response:
    _ = console.catalogue(request).gettext
    query = request.query_params
    namespace = query.get("namespace", "").strip()
    name = query.get("name", "").strip()
    dimensions = parse_dimensions(query.getlist("dimension"))
    token = query.get("token") or None
    skip = int(query["skip"]) if query.get("skip", "").isdigit() else 0
    size = console.settings.console_page_size
    error, status = None, 200
    listed = MetricPage([], None)
    region = region_choice(console, request)
    if console.metrics is None:
        error, status = _("This server serves no metrics."), 404
    else:
        try:
            listed = await console.metrics.list_metrics(
                region.origin(request), session.principal, namespace=namespace or None,
                name=name or None, dimensions=dimensions, next_token=token,
            )  # fmt: skip
        except FormFault as fault:  # a Region not served: nothing asked
            error, status = fault.message, fault.status
        except WireError as exc:
            error, status = console.error_text(request, exc), exc.status
    # A ListMetrics page holds up to 500 metrics; the console shows them by its own page
    # size, the next link naming the API's page (its token) and the place in it.
    shown = listed.metrics[skip : skip + size]
    filters = [("namespace", namespace), ("name", name), *_dimension_params(dimensions)]
    filters = [(k, v) for k, v in filters if v]
    next_href = None
    if skip + size < len(listed.metrics):
        further = [*filters, ("token", token or ""), ("skip", str(skip + size))]
        next_href = region.href(f"{_LIST}?{urlencode(further)}")
    elif listed.next_token:
        next_href = region.href(f"{_LIST}?{urlencode([*filters, ('token', listed.next_token)])}")
    groups = [
        (
            group,
            region.href(f"{_LIST}?{urlencode({'namespace': group})}"),
            [(m, region.href(graph_href(m))) for m in rows],
        )
        for group, rows in grouped(shown)
    ]
    return console.render(
        request,
        "metrics.html",
        session=session,
        status=status,
        title=_("Metrics"),
        region=region,
        groups=groups,
        namespace=namespace,
        name=name,
        dimension=next((v for _, v in _dimension_params(dimensions)), ""),
        namespaces=PLATFORM_NAMESPACES,
        filtered=bool(filters),
        next_href=next_href,
        error=error,
    )


def _choice(value: str | None, offered: Iterable[str], default: str) -> str:
    return value if value is not None and value in offered else default


def _when(at: int) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _period_text(period: int, days: str) -> str:
    """A period as the form shows it; ``days``, the translated ``{days} d``."""
    if period % 86400 == 0:
        return days.format(days=period // 86400)
    if period % 3600 == 0:
        return f"{period // 3600} h"
    return f"{period // 60} min" if period % 60 == 0 else f"{period} s"


def _chart_values(
    points: Sequence[MetricPoint], unit: str | None
) -> tuple[list[str], str, list[MetricPoint]]:
    """The units the datapoints came in, the one drawn (the one asked for, else the first),
    and its datapoints: GetMetricStatistics answers a period once per unit."""
    units = sorted({p.unit for p in points})
    chosen = _choice(unit, units, units[0] if units else "")
    return units, chosen, [p for p in points if p.unit == chosen]


@signed_in
async def graph_page(console: Console, request: Request, session: Session) -> Response:
    _ = console.catalogue(request).gettext
    texts = {
        "1h": _("1 hour"),
        "3h": _("3 hours"),
        "12h": _("12 hours"),
        "1d": _("1 day"),
        "1w": _("1 week"),
    }
    query = request.query_params
    pairs = parse_dimensions(query.getlist("dimension"))
    metric = MetricRow(
        query.get("namespace", "").strip(),
        query.get("name", "").strip(),
        tuple((n, v or "") for n, v in pairs),
    )
    # An unknown choice (a hand-made link) falls back to the default rather than failing.
    span_name = _choice(query.get("range"), RANGES, "3h")
    statistic = _choice(query.get("stat"), STATISTICS, "Average")
    span = RANGES[span_name]
    most = console.settings.metrics_max_datapoints
    offered = periods_for(span, most)
    typed_period = query.get("period", "")
    period = (
        int(typed_period)
        if typed_period.isdigit() and int(typed_period) in offered
        else auto_period(span, most)
    )
    # The range ends at the next whole minute: the current minute is drawn, and the range is
    # a whole number of periods from a minute's start, as CloudWatch counts datapoints.
    end = (int(time.time()) // 60 + 1) * 60
    start = end - span
    error, status = None, 200
    points: list[MetricPoint] = []
    region = region_choice(console, request)
    if console.metrics is None:
        error, status = _("This server serves no metrics."), 404
    else:
        try:
            points = await console.metrics.statistics(
                region.origin(request), session.principal, metric, start=start, end=end,
                period=period, statistic=statistic,
            )  # fmt: skip
        except FormFault as fault:  # a Region not served: nothing asked
            error, status = fault.message, fault.status
        except WireError as exc:
            error, status = console.error_text(request, exc), exc.status
    units, unit, drawn = _chart_values(points, query.get("unit"))
    chart = draw([(p.at, p.value) for p in drawn], start, end, unit) if drawn else None
    return console.render(
        request,
        "metric.html",
        session=session,
        status=status,
        title=metric.name or _("Metric"),
        metric=metric,
        region=region,
        namespace_href=region.href(f"{_LIST}?{urlencode({'namespace': metric.namespace})}"),
        ranges=[(key, texts[key]) for key in RANGES],
        span_name=span_name,
        statistics=STATISTICS,
        statistic=statistic,
        periods=[(p, _period_text(p, _("{days} d"))) for p in offered],
        period=period,
        period_text=_period_text(period, _("{days} d")),
        typed_period=typed_period if typed_period in {str(p) for p in offered} else "",
        units=units,
        unit=unit,
        chart=chart,
        rows=[(_when(p.at), number_text(p.value), p.unit) for p in drawn],
        start_text=_when(start),
        end_text=_when(end),
        # The alarms are the console's own Region's (CloudWatch serves them there only).
        alarm_href=_alarm_href(metric, statistic, period) if not region.query else "",
        error=error,
    )


def _alarm_href(metric: MetricRow, statistic: str, period: int) -> str:
    """The create-alarm form of the metric charted (``pages_alarms``), with its statistic
    and period."""
    params = [("namespace", metric.namespace), ("name", metric.name)]
    params += _dimension_params(metric.dimensions)
    params += [("stat", statistic), ("period", str(period))]
    return f"{CONSOLE_PATH}/metrics/alarm?{urlencode(params)}"


def number_text(value: float) -> str:
    """A datapoint's value in the table: exact to ten significant digits."""
    return f"{value:.10g}"


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/metrics", metrics_page, ["GET"]),
    ("/metrics/graph", graph_page, ["GET"]),
]
