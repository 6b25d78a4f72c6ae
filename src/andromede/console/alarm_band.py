"""An anomaly detection alarm (decision 0189: ``ThresholdMetricId`` naming an
``ANOMALY_DETECTION_BAND`` query) as the console's alarm pages show it (decision 0111, session
48): as AWS's console does, the metric watched, the band's expression and width and the
operator in words ("outside of the band") — it has no threshold, which the pages would
otherwise show as 0 —, and its chart: the metric and the band's two edges over the last 3
hours, read with GetMetricData of the alarm's own queries, as CloudWatch evaluates them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from andromede.console.wire_alarms import AlarmQuery, AlarmRow
from andromede.console.wire_metrics import CloudWatchWire
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = ["Band", "band_of", "band_series"]

_BAND: Final = re.compile(
    r"ANOMALY_DETECTION_BAND\s*\(\s*[A-Za-z_][A-Za-z0-9_]*\s*(?:,\s*([0-9]+(?:\.[0-9]+)?)\s*)?\)"
)
_DEFAULT_WIDTH: Final = "2"  # standard deviations, when the expression names none (AWS's)
_MAX_DATAPOINTS: Final = 2000  # per series: 3 hours at one minute is 180


@dataclass(frozen=True, slots=True)
class Band:
    expression: str
    width: str
    metric: str  # what the band watches, as its query is labelled or named
    condition: str  # the whole condition in words


def _words(_: Callable[[str], str]) -> dict[str, str]:
    return {
        "LessThanLowerOrGreaterThanUpperThreshold": _("{metric} outside of the band"),
        "GreaterThanUpperThreshold": _("{metric} greater than the band"),
        "LessThanLowerThreshold": _("{metric} lower than the band"),
    }


def _watched(alarm: AlarmRow) -> AlarmQuery | None:
    return next(
        (q for q in alarm.queries if q.return_data and q.id != alarm.threshold_metric_id), None
    )


def band_of(alarm: AlarmRow, _: Callable[[str], str]) -> Band | None:
    """The alarm's band, None when it is no anomaly detection alarm."""
    band = next((q for q in alarm.queries if q.id == alarm.threshold_metric_id), None)
    if not alarm.threshold_metric_id or band is None:
        return None
    found = _BAND.search(band.expression)
    width = (found.group(1) if found else None) or _DEFAULT_WIDTH
    watched = _watched(alarm)
    metric = ""
    if watched is not None:
        metric = watched.label or watched.metric_name or watched.expression or watched.id
    template = _words(_).get(alarm.comparison, "{metric} " + alarm.comparison)
    condition = _("{condition} (width: {width})").format(
        condition=template.format(metric=metric), width=width
    )
    return Band(band.expression, width, metric, condition)


def _query(query: AlarmQuery) -> dict[str, Any]:
    """A MetricDataQuery from the alarm's query, as DescribeAlarms gave it."""
    item: dict[str, Any] = {"Id": query.id, "ReturnData": query.return_data}
    if query.label:
        item["Label"] = query.label
    if query.expression:
        item["Expression"] = query.expression
        if query.period:
            item["Period"] = query.period
        return item
    metric: dict[str, Any] = {"Namespace": query.namespace, "MetricName": query.metric_name}
    if query.dimensions:
        metric["Dimensions"] = [{"Name": n, "Value": v} for n, v in query.dimensions]
    item["MetricStat"] = {"Metric": metric, "Period": query.period, "Stat": query.statistic}
    return item


async def band_series(
    wire: CloudWatchWire,
    origin: Scope,
    principal: Principal,
    alarm: AlarmRow,
    span: tuple[int, int],
) -> tuple[list[tuple[int, float]], list[tuple[int, float]], list[tuple[int, float]]]:
    """The watched metric's values and the band's lower and upper edges over ``span`` (one
    GetMetricData of the alarm's queries; the band answers as two results of its id, lower
    first)."""
    start, end = span
    payload = {
        "MetricDataQueries": [_query(q) for q in alarm.queries],
        "StartTime": start,
        "EndTime": end,
        "ScanBy": "TimestampAscending",
        "MaxDatapoints": _MAX_DATAPOINTS,
    }
    answer = await wire._json(origin, principal, "GetMetricData", payload)
    results = [r for r in answer.get("MetricDataResults", []) if isinstance(r, dict)]

    def points(result: dict[str, Any]) -> list[tuple[int, float]]:
        times, values = result.get("Timestamps", []), result.get("Values", [])
        return [
            (int(at), float(value))
            for at, value in zip(times, values, strict=False)
            if isinstance(at, int | float) and isinstance(value, int | float)
        ]

    edges = [r for r in results if r.get("Id") == alarm.threshold_metric_id]
    watched = _watched(alarm)
    values = next((r for r in results if watched is not None and r.get("Id") == watched.id), {})
    lower, upper = (points(edges[0]), points(edges[1])) if len(edges) == 2 else ([], [])
    return points(values), lower, upper
