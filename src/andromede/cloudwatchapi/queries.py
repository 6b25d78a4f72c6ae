"""A MetricDataQuery read from any protocol's input document (decisions 0172, 0183): a
MetricStat, or a metric math Expression; GetMetricData's queries and a math alarm's Metrics
are both read here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from andromede.cloudwatchapi.errors import CloudWatchError
from andromede.metrics.service import DataQuery

__all__ = ["data_query", "dimensions"]


def dimensions(items: list[dict[str, str]] | None, where: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in items or []:
        if "Name" not in item or "Value" not in item:
            raise CloudWatchError(
                "MissingParameter", f"Each of {where} must have a Name and a Value."
            )
        pairs.append((item["Name"], item["Value"]))
    return tuple(pairs)


def data_query(item: Mapping[str, Any]) -> DataQuery:
    """One query; ``ReturnData`` defaults to true, as on AWS (an alarm's other queries say
    false)."""
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
        dimensions=dimensions(metric.get("Dimensions"), "MetricStat.Metric.Dimensions"),
        period=stat["Period"],
        stat=stat["Stat"],
        unit=stat.get("Unit"),
        label=item.get("Label"),
        return_data=item.get("ReturnData", True),
    )
