"""The CloudWatch operations served (decision 0172): each reads its typed input document (any
protocol's, :mod:`andromede.cloudwatchapi.shapes`), calls the metrics service for the
caller's account and answers a result document; the metric alarms' operations (decision
0177) are ``alarm_operations``'. The other operations of CloudWatch (composite alarms,
dashboards, metric streams, insight rules…) are listed in :data:`NOT_SERVED`: they answer
``NotImplemented``, never a silent success.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from andromede.cloudwatchapi.alarm_operations import ALARM_ACTIONS
from andromede.cloudwatchapi.call import MetricsCall
from andromede.cloudwatchapi.errors import CloudWatchError
from andromede.metrics.service import (
    DataQuery,
    DimensionFilter,
    MetricDatum,
)

__all__ = ["ACTIONS", "NOT_SERVED", "MetricsCall"]


def _dimensions(items: list[dict[str, str]] | None, where: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in items or []:
        if "Name" not in item or "Value" not in item:
            raise CloudWatchError(
                "MissingParameter", f"Each of {where} must have a Name and a Value."
            )
        pairs.append((item["Name"], item["Value"]))
    return tuple(pairs)


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
        dimensions=_dimensions(item.get("Dimensions"), "MetricData.member.Dimensions"),
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
        _dimensions(params.get("Dimensions"), "Dimensions"),
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


def _query(item: Mapping[str, Any]) -> DataQuery:
    query_id = item.get("Id", "")
    if item.get("AccountId") is not None:
        raise CloudWatchError(
            "InvalidParameterValue", "Cross-account queries (AccountId) are not supported."
        )
    stat = item.get("MetricStat")
    expression = item.get("Expression")
    if expression is not None:
        if stat is not None:
            raise CloudWatchError(
                "InvalidParameterCombination",
                f"The query {query_id[:255]} has both a MetricStat and an Expression.",
            )
        return DataQuery(
            id=query_id,
            namespace="",
            name="",
            dimensions=(),
            period=item.get("Period") or 0,
            stat="",
            label=item.get("Label"),
            return_data=item.get("ReturnData", True),
            expression=expression,
        )
    if stat is None:
        raise CloudWatchError(
            "MissingParameter",
            f"The query {query_id[:255]} must have a MetricStat or an Expression.",
        )
    metric = stat.get("Metric") or {}
    if "Period" not in stat or "Stat" not in stat:
        raise CloudWatchError("MissingParameter", "A MetricStat needs a Period and a Stat.")
    return DataQuery(
        id=query_id,
        namespace=metric.get("Namespace", ""),
        name=metric.get("MetricName", ""),
        dimensions=_dimensions(metric.get("Dimensions"), "MetricStat.Metric.Dimensions"),
        period=stat["Period"],
        stat=stat["Stat"],
        unit=stat.get("Unit"),
        label=item.get("Label"),
        return_data=item.get("ReturnData", True),
    )


async def get_metric_data(call: MetricsCall) -> dict[str, Any]:
    params = call.params
    queries = [_query(item) for item in params.get("MetricDataQueries", [])]
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
}

# CloudWatch's other operations (decision 0177 served the metric alarms').
NOT_SERVED: Final = frozenset(
    {
        "DeleteAnomalyDetector", "DeleteDashboards", "DeleteInsightRules",
        "DeleteMetricStream", "DescribeAnomalyDetectors", "DescribeInsightRules",
        "DisableInsightRules", "EnableInsightRules", "GetDashboard", "GetInsightRuleReport",
        "GetMetricStream", "GetMetricWidgetImage", "ListDashboards",
        "ListManagedInsightRules", "ListMetricStreams", "PutAnomalyDetector",
        "PutCompositeAlarm", "PutDashboard", "PutInsightRule", "PutManagedInsightRules",
        "PutMetricStream", "StartMetricStreams", "StopMetricStreams",
    }
)  # fmt: skip
