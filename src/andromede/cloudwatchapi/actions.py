"""The CloudWatch operations served (decision 0172): each reads its typed input document (any
protocol's, :mod:`andromede.cloudwatchapi.shapes`), calls the metrics service for the
caller's account and answers a result document; the metric alarms' operations (decision
0177) are ``alarm_operations``', the dashboards' (decision 0185) ``dashboards``', the
anomaly detectors' (decision 0189) ``anomaly_operations``', the metric streams' (decision 0233)
``metric_streams``', the Contributor Insights rules' (decision 0272) ``insight_operations``'.
The other operations of CloudWatch (managed insight rules, widget images) are listed in
:data:`NOT_SERVED`: they answer ``NotImplemented``, never a silent success.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from andromede.cloudwatchapi.alarm_operations import ALARM_ACTIONS
from andromede.cloudwatchapi.anomaly_operations import ANOMALY_ACTIONS
from andromede.cloudwatchapi.call import MetricsCall
from andromede.cloudwatchapi.dashboards import DASHBOARD_ACTIONS
from andromede.cloudwatchapi.errors import CloudWatchError
from andromede.cloudwatchapi.insight_operations import INSIGHT_ACTIONS
from andromede.cloudwatchapi.metric_streams import STREAM_ACTIONS
from andromede.cloudwatchapi.queries import data_query, dimensions
from andromede.metrics.service import (
    DimensionFilter,
    MetricDatum,
)

__all__ = ["ACTIONS", "NOT_SERVED", "MetricsCall"]


def _datum(item: Mapping[str, Any]) -> MetricDatum:
    stats = item.get("StatisticValues")
    statistics = None
    if stats is not None:
        try:
            statistics = (stats["SampleCount"], stats["Sum"], stats["Minimum"], stats["Maximum"])
        except KeyError as exc:
            raise CloudWatchError(
                "MissingParameter",
                "StatisticValues needs SampleCount, Sum, Minimum and Maximum.",
            ) from exc
    values = item.get("Values")
    counts = item.get("Counts")
    return MetricDatum(
        name=item.get("MetricName", ""),
        dimensions=dimensions(item.get("Dimensions"), "MetricData.member.Dimensions"),
        timestamp=item.get("Timestamp"),
        value=item.get("Value"),
        values=None if values is None else tuple(values),
        counts=None if counts is None else tuple(counts),
        statistics=statistics,
        unit=item.get("Unit"),
        resolution=item.get("StorageResolution"),
    )


async def put_metric_data(call: MetricsCall) -> dict[str, Any]:
    params = call.params
    if params.get("EntityMetricData"):
        raise CloudWatchError(
            "InvalidParameterValue", "EntityMetricData is not supported here (decision 0172)."
        )
    data = [_datum(item) for item in params.get("MetricData", [])]
    await call.metrics.put_metric_data(call.tenant_id, params.get("Namespace"), data)
    return {}


def _when(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


async def get_metric_statistics(call: MetricsCall) -> dict[str, Any]:
    params = call.params
    points = await call.metrics.get_metric_statistics(
        call.tenant_id,
        params.get("Namespace"),
        params.get("MetricName"),
        dimensions(params.get("Dimensions"), "Dimensions"),
        params.get("StartTime"),
        params.get("EndTime"),
        params.get("Period"),
        params.get("Statistics", []),
        params.get("ExtendedStatistics", []),
        params.get("Unit"),
    )
    datapoints = []
    for point in points:
        entry: dict[str, Any] = {"Timestamp": _when(point.timestamp), **point.statistics}
        entry["Unit"] = point.unit
        if point.extended:
            entry["ExtendedStatistics"] = point.extended
        datapoints.append(entry)
    return {"Label": params.get("MetricName", ""), "Datapoints": datapoints}


async def get_metric_data(call: MetricsCall) -> dict[str, Any]:
    params = call.params
    queries = [data_query(item) for item in params.get("MetricDataQueries", [])]
    results, token = await call.metrics.get_metric_data(
        call.tenant_id,
        queries,
        params.get("StartTime"),
        params.get("EndTime"),
        scan_by=params.get("ScanBy"),
        max_datapoints=params.get("MaxDatapoints"),
        next_token=params.get("NextToken"),
    )
    answer: dict[str, Any] = {
        "MetricDataResults": [
            {
                "Id": result.id,
                "Label": result.label,
                "Timestamps": [_when(at) for at in result.timestamps],
                "Values": result.values,
                "StatusCode": result.status,
                **(
                    {"Messages": [{"Code": c, "Value": v} for c, v in result.messages]}
                    if result.messages
                    else {}
                ),
            }
            for result in results
        ],
        "Messages": [],
    }
    if token is not None:
        answer["NextToken"] = token
    return answer


async def list_metrics(call: MetricsCall) -> dict[str, Any]:
    params = call.params
    if params.get("IncludeLinkedAccounts") or params.get("OwningAccount"):
        raise CloudWatchError(
            "InvalidParameterValue", "Cross-account observability is not supported."
        )
    filters = []
    for item in params.get("Dimensions", []):
        if "Name" not in item:
            raise CloudWatchError("MissingParameter", "Each dimension filter needs a Name.")
        filters.append(DimensionFilter(item["Name"], item.get("Value")))
    found, token = await call.metrics.list_metrics(
        call.tenant_id,
        params.get("Namespace"),
        params.get("MetricName"),
        filters,
        recently_active=params.get("RecentlyActive"),
        next_token=params.get("NextToken"),
    )
    answer: dict[str, Any] = {
        "Metrics": [
            {
                "Namespace": series.namespace,
                "MetricName": series.name,
                "Dimensions": [{"Name": n, "Value": v} for n, v in series.dimensions],
            }
            for series in found
        ]
    }
    if token is not None:
        answer["NextToken"] = token
    return answer


ACTIONS: Final[dict[str, Callable[[MetricsCall], Awaitable[dict[str, Any]]]]] = {
    "PutMetricData": put_metric_data,
    "GetMetricStatistics": get_metric_statistics,
    "GetMetricData": get_metric_data,
    "ListMetrics": list_metrics,
    **ALARM_ACTIONS,
    **DASHBOARD_ACTIONS,  # decision 0185
    **ANOMALY_ACTIONS,  # decision 0189
    **STREAM_ACTIONS,  # decision 0233
    **INSIGHT_ACTIONS,  # decision 0272
}

# CloudWatch's other operations (decision 0177 served the metric alarms', 0184 composite alarms,
# 0185 dashboards, 0189 anomaly detectors, 0233 metric streams, 0272 insight rules; the
# managed rules, made by AWS services for their resources, have no such resources here).
NOT_SERVED: Final = frozenset(
    {"GetMetricWidgetImage", "ListManagedInsightRules", "PutManagedInsightRules"}
)
