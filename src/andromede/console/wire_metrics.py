"""The CloudWatch calls (decision 0172) the console's Metrics pages make, in process as the
signed-in principal through CloudWatch's AWS JSON 1.0 protocol (``cloudwatchapi.app``, one
of the three it serves, the simplest to build here): its authorisation
(``cloudwatch:<Operation>`` by identity policies), checks and errors answer them, for the
caller's account only; the metric streams' calls (``wire_metric_streams``) and Contributor
Insights' (``wire_insight_rules``, decision 0279) are inherited. Each answer is read into
the small values the pages show; nothing here decides what CloudWatch allows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from andromede.console.wire import Answer, WireError
from andromede.console.wire_insight_rules import InsightRuleCalls
from andromede.console.wire_metric_streams import MetricStreamCalls
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = ["CloudWatchWire", "MetricPage", "MetricPoint", "MetricRow"]


@dataclass(frozen=True, slots=True)
class MetricRow:
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class MetricPage:
    metrics: list[MetricRow]
    next_token: str | None


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One datapoint of one statistic: its period's start (epoch seconds), value and unit."""

    at: int
    value: float
    unit: str


def _dimensions(pairs: Sequence[tuple[str, str | None]]) -> list[dict[str, str]]:
    return [{"Name": n} if v is None else {"Name": n, "Value": v} for n, v in pairs]


class CloudWatchWire(MetricStreamCalls, InsightRuleCalls):
    """The metric calls the console makes (``GraniteServiceVersion20100801`` JSON 1.0), as
    ``principal``."""

    target_prefix = "GraniteServiceVersion20100801."
    content_type = "application/x-amz-json-1.0"
    internal_error = "InternalServiceError"

    def _refusal(self, answer: Answer, document: Mapping[str, Any]) -> WireError:
        """CloudWatch is ``awsQueryCompatible``: its code is the ``x-amzn-query-error``
        header's (``InvalidParameterValue``), as botocore reads it, not the ``__type``'s shape
        name (``InvalidParameterValueException``)."""
        refused = super()._refusal(answer, document)
        header = answer.headers.get("x-amzn-query-error", "")
        code = header.split(";", 1)[0].strip()
        return WireError(code, refused.message, refused.status) if code else refused

    async def list_metrics(
        self,
        origin: Scope,
        principal: Principal,
        *,
        namespace: str | None = None,
        name: str | None = None,
        dimensions: Sequence[tuple[str, str | None]] = (),
        next_token: str | None = None,
    ) -> MetricPage:
        """One page of ListMetrics (a dimension without a value matches any value)."""
        payload: dict[str, Any] = {}
        if namespace:
            payload["Namespace"] = namespace
        if name:
            payload["MetricName"] = name
        if dimensions:
            payload["Dimensions"] = _dimensions(dimensions)
        if next_token:
            payload["NextToken"] = next_token
        answer = await self._json(origin, principal, "ListMetrics", payload)
        rows = []
        for item in answer.get("Metrics", []):
            if not isinstance(item, dict):
                continue
            pairs = tuple(
                (str(d.get("Name", "")), str(d.get("Value", "")))
                for d in item.get("Dimensions", [])
                if isinstance(d, dict)
            )
            rows.append(
                MetricRow(str(item.get("Namespace", "")), str(item.get("MetricName", "")), pairs)
            )
        token = answer.get("NextToken")
        return MetricPage(rows, str(token) if token else None)

    async def statistics(
        self,
        origin: Scope,
        principal: Principal,
        metric: MetricRow,
        *,
        start: int,
        end: int,
        period: int,
        statistic: str,
    ) -> list[MetricPoint]:
        """GetMetricStatistics of one statistic (``Average``… or a percentile, ``p99``, asked
        as an extended statistic) over [start, end), in time order. A datapoint without the
        statistic (a percentile of a period that had a negative value) is left out."""
        extended = statistic.startswith("p")
        payload = {
            "Namespace": metric.namespace,
            "MetricName": metric.name,
            "Dimensions": _dimensions(metric.dimensions),
            "StartTime": start,
            "EndTime": end,
            "Period": period,
            ("ExtendedStatistics" if extended else "Statistics"): [statistic],
        }
        answer = await self._json(origin, principal, "GetMetricStatistics", payload)
        points = []
        for item in answer.get("Datapoints", []):
            if not isinstance(item, dict):
                continue
            held = item.get("ExtendedStatistics", {}) if extended else item
            value = held.get(statistic) if isinstance(held, dict) else None
            at = item.get("Timestamp")
            if not isinstance(value, int | float) or not isinstance(at, int | float):
                continue
            points.append(MetricPoint(int(at), float(value), str(item.get("Unit", "None"))))
        return sorted(points, key=lambda p: (p.at, p.unit))
