"""The CloudWatch alarm calls (decision 0177) the console's Alarms pages make (decision 0111,
session 47: alarms; session 48: state, tags, history pages): DescribeAlarms,
DescribeAlarmHistory, PutMetricAlarm, DeleteAlarms, Enable/DisableAlarmActions, SetAlarmState
and the tag calls (ListTagsForResource, TagResource, UntagResource), through the Metrics
pages' :class:`CloudWatchWire` — in process, AWS JSON 1.0, as the signed-in principal — so
CloudWatch's IAM decision, checks and account scoping answer them. Each answer is read into
the small values the pages show — a math alarm's ``Metrics`` too (decision 0183), a band
alarm's ``ThresholdMetricId`` (decision 0189) —; nothing here decides what CloudWatch allows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from andromede.console.wire_metrics import CloudWatchWire
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = [
    "AlarmHistoryPage",
    "AlarmHistoryRow",
    "AlarmPage",
    "AlarmQuery",
    "AlarmRow",
    "delete",
    "describe",
    "history",
    "put",
    "retag",
    "set_actions",
    "set_state",
    "tags",
]


@dataclass(frozen=True, slots=True)
class AlarmQuery:
    """One of a metric-math alarm's ``Metrics`` (decision 0183): an expression, or a metric's
    statistic over a period."""

    id: str
    expression: str
    label: str
    namespace: str
    metric_name: str
    dimensions: tuple[tuple[str, str], ...]
    statistic: str
    period: int
    return_data: bool


@dataclass(frozen=True, slots=True)
class AlarmRow:
    """One metric alarm as DescribeAlarms gives it."""

    name: str
    arn: str
    state: str  # OK, ALARM, INSUFFICIENT_DATA
    state_reason: str
    state_updated: str  # "YYYY-MM-DD HH:MM:SS UTC", "" when absent
    namespace: str
    metric_name: str
    dimensions: tuple[tuple[str, str], ...]
    statistic: str  # the statistic, or the extended one (p99)
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    comparison: str
    treat_missing_data: str
    description: str
    actions_enabled: bool
    alarm_actions: tuple[str, ...]
    ok_actions: tuple[str, ...]
    insufficient_data_actions: tuple[str, ...]
    unit: str
    queries: tuple[AlarmQuery, ...] = ()  # a metric-math alarm's, then no single metric
    # An anomaly detection alarm's band query (decision 0189), then no threshold; "" else.
    threshold_metric_id: str = ""

    @property
    def is_math(self) -> bool:
        return bool(self.queries)


@dataclass(frozen=True, slots=True)
class AlarmPage:
    alarms: list[AlarmRow]
    next_token: str | None


@dataclass(frozen=True, slots=True)
class AlarmHistoryRow:
    when: str
    item_type: str
    summary: str


@dataclass(frozen=True, slots=True)
class AlarmHistoryPage:
    items: list[AlarmHistoryRow]
    next_token: str | None


def _when(value: Any) -> str:
    """An epoch-seconds timestamp (AWS JSON 1.0's) as the pages show it."""
    if not isinstance(value, int | float):
        return ""
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _texts(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def _number(value: Any, default: float = 0) -> float:
    return float(value) if isinstance(value, int | float) else default


def _pairs(value: Any) -> tuple[tuple[str, str], ...]:
    listed = value if isinstance(value, list) else []
    return tuple(
        (str(d.get("Name", "")), str(d.get("Value", ""))) for d in listed if isinstance(d, dict)
    )


def _query(item: Mapping[str, Any]) -> AlarmQuery:
    stat = item.get("MetricStat")
    stat = stat if isinstance(stat, dict) else {}
    metric = stat.get("Metric")
    metric = metric if isinstance(metric, dict) else {}
    return AlarmQuery(
        id=str(item.get("Id", "")),
        expression=str(item.get("Expression") or ""),
        label=str(item.get("Label") or ""),
        namespace=str(metric.get("Namespace", "")),
        metric_name=str(metric.get("MetricName", "")),
        dimensions=_pairs(metric.get("Dimensions")),
        statistic=str(stat.get("Stat", "")),
        period=int(_number(stat.get("Period", item.get("Period")))),
        return_data=item.get("ReturnData") is not False,
    )


def _row(item: Mapping[str, Any]) -> AlarmRow:
    dimensions = _pairs(item.get("Dimensions"))
    metrics = item.get("Metrics")
    return AlarmRow(
        name=str(item.get("AlarmName", "")),
        arn=str(item.get("AlarmArn", "")),
        state=str(item.get("StateValue", "")),
        state_reason=str(item.get("StateReason", "")),
        state_updated=_when(item.get("StateUpdatedTimestamp")),
        namespace=str(item.get("Namespace", "")),
        metric_name=str(item.get("MetricName", "")),
        dimensions=dimensions,
        statistic=str(item.get("Statistic") or item.get("ExtendedStatistic") or ""),
        period=int(_number(item.get("Period"))),
        evaluation_periods=int(_number(item.get("EvaluationPeriods"))),
        datapoints_to_alarm=int(_number(item.get("DatapointsToAlarm"))),
        threshold=_number(item.get("Threshold")),
        comparison=str(item.get("ComparisonOperator", "")),
        treat_missing_data=str(item.get("TreatMissingData", "missing")),
        description=str(item.get("AlarmDescription") or ""),
        actions_enabled=item.get("ActionsEnabled") is not False,
        alarm_actions=_texts(item.get("AlarmActions")),
        ok_actions=_texts(item.get("OKActions")),
        insufficient_data_actions=_texts(item.get("InsufficientDataActions")),
        unit=str(item.get("Unit") or ""),
        queries=tuple(_query(q) for q in metrics if isinstance(q, dict))
        if isinstance(metrics, list)
        else (),
        threshold_metric_id=str(item.get("ThresholdMetricId") or ""),
    )


async def describe(
    wire: CloudWatchWire,
    origin: Scope,
    principal: Principal,
    *,
    names: Sequence[str] = (),
    prefix: str | None = None,
    state: str | None = None,
    max_records: int | None = None,
    next_token: str | None = None,
) -> AlarmPage:
    """One page of DescribeAlarms (metric alarms), as filtered."""
    payload: dict[str, Any] = {"AlarmTypes": ["MetricAlarm"]}
    if names:
        payload["AlarmNames"] = list(names)
    if prefix:
        payload["AlarmNamePrefix"] = prefix
    if state:
        payload["StateValue"] = state
    if max_records:
        payload["MaxRecords"] = max_records
    if next_token:
        payload["NextToken"] = next_token
    answer = await wire._json(origin, principal, "DescribeAlarms", payload)
    rows = [_row(item) for item in answer.get("MetricAlarms", []) if isinstance(item, dict)]
    token = answer.get("NextToken")
    return AlarmPage(rows, str(token) if token else None)


async def history(
    wire: CloudWatchWire,
    origin: Scope,
    principal: Principal,
    name: str,
    max_records: int,
    *,
    item_type: str | None = None,
    next_token: str | None = None,
) -> AlarmHistoryPage:
    """One page of the alarm's history items (DescribeAlarmHistory), newest first, of one
    type (``HistoryItemType``) when given."""
    payload: dict[str, Any] = {
        "AlarmName": name,
        "MaxRecords": max_records,
        "ScanBy": "TimestampDescending",
    }
    if item_type:
        payload["HistoryItemType"] = item_type
    if next_token:
        payload["NextToken"] = next_token
    answer = await wire._json(origin, principal, "DescribeAlarmHistory", payload)
    rows = [
        AlarmHistoryRow(
            _when(item.get("Timestamp")),
            str(item.get("HistoryItemType", "")),
            str(item.get("HistorySummary", "")),
        )
        for item in answer.get("AlarmHistoryItems", [])
        if isinstance(item, dict)
    ]
    token = answer.get("NextToken")
    return AlarmHistoryPage(rows, str(token) if token else None)


async def set_state(
    wire: CloudWatchWire, origin: Scope, principal: Principal, name: str, state: str, reason: str
) -> None:
    """SetAlarmState: the alarm in ``state`` for ``reason`` until its next evaluation."""
    payload = {"AlarmName": name, "StateValue": state, "StateReason": reason}
    await wire._json(origin, principal, "SetAlarmState", payload)


async def tags(
    wire: CloudWatchWire, origin: Scope, principal: Principal, arn: str
) -> tuple[tuple[str, str], ...]:
    """ListTagsForResource of an alarm's ARN."""
    answer = await wire._json(origin, principal, "ListTagsForResource", {"ResourceARN": arn})
    listed = answer.get("Tags")
    return tuple(
        (str(t.get("Key", "")), str(t.get("Value", "")))
        for t in (listed if isinstance(listed, list) else [])
        if isinstance(t, dict)
    )


async def retag(
    wire: CloudWatchWire,
    origin: Scope,
    principal: Principal,
    arn: str,
    before: Sequence[tuple[str, str]],
    after: Sequence[tuple[str, str]],
) -> None:
    """The alarm's tags from ``before`` to ``after``: UntagResource of the keys gone, then
    TagResource of the new and changed ones (PutMetricAlarm ignores ``Tags`` on an update)."""
    wanted = dict(after)
    gone = [key for key, _ in before if key not in wanted]
    changed = [(k, v) for k, v in wanted.items() if dict(before).get(k) != v]
    if gone:
        payload: dict[str, Any] = {"ResourceARN": arn, "TagKeys": gone}
        await wire._json(origin, principal, "UntagResource", payload)
    if changed:
        listed = [{"Key": k, "Value": v} for k, v in changed]
        await wire._json(origin, principal, "TagResource", {"ResourceARN": arn, "Tags": listed})


async def put(
    wire: CloudWatchWire, origin: Scope, principal: Principal, definition: Mapping[str, Any]
) -> None:
    """PutMetricAlarm of ``definition`` (its members as AWS names them)."""
    await wire._json(origin, principal, "PutMetricAlarm", definition)


async def delete(wire: CloudWatchWire, origin: Scope, principal: Principal, name: str) -> None:
    await wire._json(origin, principal, "DeleteAlarms", {"AlarmNames": [name]})


async def set_actions(
    wire: CloudWatchWire, origin: Scope, principal: Principal, name: str, enabled: bool
) -> None:
    """EnableAlarmActions or DisableAlarmActions of one alarm."""
    action = "EnableAlarmActions" if enabled else "DisableAlarmActions"
    await wire._json(origin, principal, action, {"AlarmNames": [name]})
