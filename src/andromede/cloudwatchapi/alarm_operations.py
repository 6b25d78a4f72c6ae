"""CloudWatch's metric alarm operations (decision 0177): each reads its typed input document
(any protocol's), calls the alarm service for the caller's account and answers AWS's result
document. Metric math alarms (``Metrics``, decision 0183) are read as GetMetricData's queries;
composite alarms (decision 0184) are PutCompositeAlarm's and DescribeAlarms' CompositeAlarms;
anomaly detection alarms (decision 0189) name their band's query in ``ThresholdMetricId``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from andromede.cloudwatchapi.call import MetricsCall
from andromede.cloudwatchapi.errors import CloudWatchError
from andromede.cloudwatchapi.insight_operations import insight_tag_call, is_insight_rule_arn
from andromede.cloudwatchapi.metric_streams import is_stream_arn, stream_tag_call
from andromede.cloudwatchapi.queries import data_query
from andromede.metrics.alarm_service import AlarmService
from andromede.metrics.alarms import Alarm, alarm_arn, query_document
from andromede.metrics.composite_alarms import suppressed_by
from andromede.metrics.errors import ResourceNotFound

__all__ = ["ALARM_ACTIONS", "ALARM_RESOURCE", "AUDITED"]

# The calls that change an account's alarms: audited, as CloudTrail logs them.
AUDITED: Final = frozenset(
    {"PutMetricAlarm", "PutCompositeAlarm", "DeleteAlarms", "SetAlarmState", "EnableAlarmActions",
     "DisableAlarmActions", "TagResource", "UntagResource"}
)  # fmt: skip
# The calls authorised on the alarm's ARN when they name one (AlarmName, ResourceARN).
ALARM_RESOURCE: Final = frozenset(
    {"PutMetricAlarm", "PutCompositeAlarm", "SetAlarmState", "DescribeAlarmHistory", "TagResource",
     "UntagResource", "ListTagsForResource"}
)  # fmt: skip


def _service(call: MetricsCall) -> AlarmService:
    if call.alarms is None:
        raise CloudWatchError("NotImplemented", "Alarms are not served here.")
    return call.alarms


def _dimensions(items: list[dict[str, str]] | None) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in items or []:
        if "Name" not in item or "Value" not in item:
            raise CloudWatchError(
                "MissingParameter", "Each dimension must have a Name and a Value."
            )
        pairs.append((item["Name"], item["Value"]))
    if len({n for n, _ in pairs}) != len(pairs):
        raise CloudWatchError("InvalidParameterValue", "A dimension name is repeated.")
    return tuple(sorted(pairs))


def _required(params: Mapping[str, Any], name: str) -> Any:
    value = params.get(name)
    if value is None:
        raise CloudWatchError("MissingParameter", f"The parameter {name} is required.")
    return value


def _names(params: Mapping[str, Any]) -> list[str]:
    names: list[str] = params.get("AlarmNames", [])
    if len(names) > 100:
        raise CloudWatchError("InvalidParameterValue", "AlarmNames may hold 100 names at most.")
    return names


def _tags(params: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    tags = []
    for item in params.get("Tags", []):
        if "Key" not in item or "Value" not in item:
            raise CloudWatchError("MissingParameter", "Each tag must have a Key and a Value.")
        tags.append((item["Key"], item["Value"]))
    return tuple(tags)


async def put_metric_alarm(call: MetricsCall) -> dict[str, Any]:
    params = call.params
    metrics = tuple(data_query(item) for item in params.get("Metrics", []))
    band_id = params.get("ThresholdMetricId") or None
    if band_id is not None and params.get("Threshold") is not None:
        raise CloudWatchError(
            "InvalidParameterCombination",
            "Threshold and ThresholdMetricId are mutually exclusive and you have specified both.",
        )
    evaluation_periods = _required(params, "EvaluationPeriods")
    alarm = Alarm(
        tenant_id=call.tenant_id,
        name=_required(params, "AlarmName"),
        namespace=params.get("Namespace", ""),
        metric_name=params.get("MetricName", ""),
        dimensions=_dimensions(params.get("Dimensions")),
        period=params.get("Period", 0) if metrics else _required(params, "Period"),
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=params.get("DatapointsToAlarm", evaluation_periods),
        threshold=0.0 if band_id is not None else _required(params, "Threshold"),
        comparison=_required(params, "ComparisonOperator"),
        statistic=params.get("Statistic"),
        extended_statistic=params.get("ExtendedStatistic"),
        unit=params.get("Unit"),
        treat_missing_data=params.get("TreatMissingData", "missing"),
        description=params.get("AlarmDescription"),
        actions_enabled=params.get("ActionsEnabled", True),
        alarm_actions=tuple(params.get("AlarmActions", [])),
        ok_actions=tuple(params.get("OKActions", [])),
        insufficient_data_actions=tuple(params.get("InsufficientDataActions", [])),
        tags=_tags(params),
        metrics=metrics,
        datapoints_given="DatapointsToAlarm" in params,
        threshold_metric_id=band_id,
        evaluate_low_sample=params.get("EvaluateLowSampleCountPercentile") or "evaluate",
    )
    await _service(call).put_alarm(alarm)
    return {}


async def put_composite_alarm(call: MetricsCall) -> dict[str, Any]:
    """PutCompositeAlarm (decision 0184): a rule over the account's alarms, SNS actions."""
    params = call.params
    alarm = Alarm(
        tenant_id=call.tenant_id,
        name=_required(params, "AlarmName"),
        namespace="",
        metric_name="",
        dimensions=(),
        period=0,
        evaluation_periods=0,
        datapoints_to_alarm=0,
        threshold=0.0,
        comparison="",
        description=params.get("AlarmDescription"),
        actions_enabled=params.get("ActionsEnabled", True),
        alarm_actions=tuple(params.get("AlarmActions", [])),
        ok_actions=tuple(params.get("OKActions", [])),
        insufficient_data_actions=tuple(params.get("InsufficientDataActions", [])),
        tags=_tags(params),
        rule=_required(params, "AlarmRule"),
        suppressor=params.get("ActionsSuppressor"),
        suppressor_wait=params.get("ActionsSuppressorWaitPeriod", 60),
        suppressor_extension=params.get("ActionsSuppressorExtensionPeriod", 60),
    )
    await _service(call).put_composite(alarm)
    return {}


_SUPPRESSED_REASONS: Final = {
    "Alarm": "Alarm is in ALARM state.",
    "WaitPeriod": "Actions wait for the suppressor alarm (ActionsSuppressorWaitPeriod).",
    "ExtensionPeriod": "Suppressor alarm left ALARM (ActionsSuppressorExtensionPeriod).",
}


def _composite_document(region: str, alarm: Alarm, held_by: str | None) -> dict[str, Any]:
    document: dict[str, Any] = {
        "AlarmName": alarm.name,
        "AlarmArn": alarm_arn(region, alarm.tenant_id, alarm.name),
        "AlarmDescription": alarm.description,
        "AlarmConfigurationUpdatedTimestamp": alarm.configuration_updated,
        "ActionsEnabled": alarm.actions_enabled,
        "OKActions": list(alarm.ok_actions),
        "AlarmActions": list(alarm.alarm_actions),
        "InsufficientDataActions": list(alarm.insufficient_data_actions),
        "AlarmRule": alarm.rule,
        "StateValue": alarm.state.value,
        "StateReason": alarm.state_reason,
        "StateReasonData": alarm.state_reason_data,
        "StateUpdatedTimestamp": alarm.state_updated,
        "StateTransitionedTimestamp": alarm.state_updated,
    }
    if alarm.suppressor is not None:
        document["ActionsSuppressor"] = alarm.suppressor
        document["ActionsSuppressorWaitPeriod"] = alarm.suppressor_wait
        document["ActionsSuppressorExtensionPeriod"] = alarm.suppressor_extension
    if held_by is not None:
        document["ActionsSuppressedBy"] = held_by
        document["ActionsSuppressedReason"] = _SUPPRESSED_REASONS[held_by]
    return {k: v for k, v in document.items() if v is not None}


def _alarm_document(region: str, alarm: Alarm) -> dict[str, Any]:
    document: dict[str, Any] = {
        "AlarmName": alarm.name,
        "AlarmArn": alarm_arn(region, alarm.tenant_id, alarm.name),
        "AlarmDescription": alarm.description,
        "AlarmConfigurationUpdatedTimestamp": alarm.configuration_updated,
        "ActionsEnabled": alarm.actions_enabled,
        "OKActions": list(alarm.ok_actions),
        "AlarmActions": list(alarm.alarm_actions),
        "InsufficientDataActions": list(alarm.insufficient_data_actions),
        "StateValue": alarm.state.value,
        "StateReason": alarm.state_reason,
        "StateReasonData": alarm.state_reason_data,
        "StateUpdatedTimestamp": alarm.state_updated,
        "StateTransitionedTimestamp": alarm.state_updated,
        "MetricName": alarm.metric_name,
        "Namespace": alarm.namespace,
        "Statistic": alarm.statistic,
        "ExtendedStatistic": alarm.extended_statistic,
        "Dimensions": [{"Name": n, "Value": v} for n, v in alarm.dimensions],
        "Period": alarm.period,
        "Unit": alarm.unit,
        "EvaluationPeriods": alarm.evaluation_periods,
        "DatapointsToAlarm": alarm.datapoints_to_alarm if alarm.datapoints_given else None,
        "Threshold": alarm.threshold,
        "ComparisonOperator": alarm.comparison,
        "TreatMissingData": alarm.treat_missing_data,
    }
    if alarm.extended_statistic is not None:
        document["EvaluateLowSampleCountPercentile"] = alarm.evaluate_low_sample
    if alarm.threshold_metric_id is not None:  # an anomaly detection alarm (decision 0189)
        document["ThresholdMetricId"] = alarm.threshold_metric_id
        del document["Threshold"]
    if alarm.metrics:
        for key in ("MetricName", "Namespace", "Statistic", "Dimensions", "Period"):
            del document[key]
        document["Metrics"] = [query_document(q) for q in alarm.metrics]
    # CBOR and JSON answers leave absent members out, as AWS's do.
    return {k: v for k, v in document.items() if v is not None}


async def describe_alarms(call: MetricsCall) -> dict[str, Any]:
    params = call.params
    types = params.get("AlarmTypes") or ["MetricAlarm"]
    children_of, parents_of = params.get("ChildrenOfAlarmName"), params.get("ParentsOfAlarmName")
    if children_of or parents_of:
        # As AWS: the family of an alarm is answered whatever AlarmTypes says.
        types = ["MetricAlarm", "CompositeAlarm"]
    if any(t not in ("MetricAlarm", "CompositeAlarm") for t in types):
        raise CloudWatchError("InvalidParameterValue", "AlarmTypes: MetricAlarm, CompositeAlarm.")
    service = _service(call)
    found, token = await service.describe(
        call.tenant_id,
        names=_names(params),
        types=types,
        children_of=children_of or None,
        parents_of=parents_of or None,
        prefix=params.get("AlarmNamePrefix"),
        state=params.get("StateValue"),
        action_prefix=params.get("ActionPrefix"),
        max_records=params.get("MaxRecords"),
        next_token=params.get("NextToken"),
    )
    answer: dict[str, Any] = {
        "MetricAlarms": [_alarm_document(service.region, a) for a in found if not a.composite],
        "CompositeAlarms": [
            _composite_document(service.region, a, await suppressed_by(service, a))
            for a in found
            if a.composite
        ],
    }
    if token is not None:
        answer["NextToken"] = token
    return answer


async def describe_alarms_for_metric(call: MetricsCall) -> dict[str, Any]:
    params = call.params
    service = _service(call)
    found = await service.for_metric(
        call.tenant_id,
        params.get("Namespace"),
        params.get("MetricName"),
        _dimensions(params.get("Dimensions")),
        statistic=params.get("Statistic"),
        extended=params.get("ExtendedStatistic"),
        period=params.get("Period"),
        unit=params.get("Unit"),
    )
    return {"MetricAlarms": [_alarm_document(service.region, a) for a in found]}


async def delete_alarms(call: MetricsCall) -> dict[str, Any]:
    await _service(call).delete(call.tenant_id, _names(call.params))
    return {}


async def set_alarm_state(call: MetricsCall) -> dict[str, Any]:
    params = call.params
    await _service(call).set_state(
        call.tenant_id,
        _required(params, "AlarmName"),
        _required(params, "StateValue"),
        _required(params, "StateReason"),
        params.get("StateReasonData"),
    )
    return {}


async def enable_alarm_actions(call: MetricsCall) -> dict[str, Any]:
    await _service(call).set_actions_enabled(call.tenant_id, _names(call.params), True)
    return {}


async def disable_alarm_actions(call: MetricsCall) -> dict[str, Any]:
    await _service(call).set_actions_enabled(call.tenant_id, _names(call.params), False)
    return {}


async def describe_alarm_history(call: MetricsCall) -> dict[str, Any]:
    params = call.params
    scan_by = params.get("ScanBy", "TimestampDescending")
    if scan_by not in ("TimestampDescending", "TimestampAscending"):
        raise CloudWatchError(
            "InvalidParameterValue", "ScanBy: TimestampDescending or TimestampAscending."
        )
    types = params.get("AlarmTypes") or ["MetricAlarm"]
    service = _service(call)
    composites = {a.name for a in await service.store.alarms(call.tenant_id) if a.composite}
    found, token = await service.history(
        call.tenant_id,
        name=params.get("AlarmName"),
        item_type=params.get("HistoryItemType"),
        start=params.get("StartDate"),
        end=params.get("EndDate"),
        max_records=params.get("MaxRecords"),
        next_token=params.get("NextToken"),
        oldest_first=scan_by == "TimestampAscending",
    )
    answer: dict[str, Any] = {
        "AlarmHistoryItems": [
            {
                "AlarmName": item.alarm_name,
                "AlarmType": kind,
                "Timestamp": item.timestamp,
                "HistoryItemType": item.item_type,
                "HistorySummary": item.summary,
                "HistoryData": item.data,
            }
            for item in found
            if (kind := "CompositeAlarm" if item.alarm_name in composites else "MetricAlarm")
            in types
        ]
    }
    if token is not None:
        answer["NextToken"] = token
    return answer


def _tagged(call: MetricsCall) -> tuple[AlarmService, str]:
    """The alarm a tag call's ``ResourceARN`` names in the caller's account (the tag calls'
    not-found is ``ResourceNotFoundException``, not the alarm calls' ``ResourceNotFound``)."""
    service = _service(call)
    arn = _required(call.params, "ResourceARN")
    prefix = alarm_arn(service.region, call.tenant_id, "")
    if not arn.startswith(prefix) or len(arn) == len(prefix):
        raise CloudWatchError(
            "ResourceNotFoundException", f"{arn[:512]} is not an alarm of this account."
        )
    return service, arn[len(prefix) :]


async def _retag(
    call: MetricsCall, add: list[tuple[str, str]], remove: list[str]
) -> tuple[tuple[str, str], ...]:
    if is_stream_arn(call.params.get("ResourceARN")):  # a metric stream's (decision 0233)
        return await stream_tag_call(call, add, remove)
    if is_insight_rule_arn(call.params.get("ResourceARN")):  # a rule's (decision 0272)
        return await insight_tag_call(call, add, remove)
    service, name = _tagged(call)
    try:
        return await service.retag(call.tenant_id, name, add, remove)
    except ResourceNotFound as exc:
        raise CloudWatchError("ResourceNotFoundException", exc.message) from exc


async def tag_resource(call: MetricsCall) -> dict[str, Any]:
    add = []
    for item in _required(call.params, "Tags"):
        if "Key" not in item or "Value" not in item:
            raise CloudWatchError("MissingParameter", "Each tag must have a Key and a Value.")
        add.append((item["Key"], item["Value"]))
    await _retag(call, add, [])
    return {}


async def untag_resource(call: MetricsCall) -> dict[str, Any]:
    await _retag(call, [], list(_required(call.params, "TagKeys")))
    return {}


async def list_tags_for_resource(call: MetricsCall) -> dict[str, Any]:
    tags = await _retag(call, [], [])
    return {"Tags": [{"Key": k, "Value": v} for k, v in tags]}


ALARM_ACTIONS: Final[dict[str, Callable[[MetricsCall], Awaitable[dict[str, Any]]]]] = {
    "PutMetricAlarm": put_metric_alarm,
    "PutCompositeAlarm": put_composite_alarm,
    "DescribeAlarms": describe_alarms,
    "DescribeAlarmsForMetric": describe_alarms_for_metric,
    "DeleteAlarms": delete_alarms,
    "SetAlarmState": set_alarm_state,
    "EnableAlarmActions": enable_alarm_actions,
    "DisableAlarmActions": disable_alarm_actions,
    "DescribeAlarmHistory": describe_alarm_history,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsForResource": list_tags_for_resource,
}
