"""The input shapes of CloudWatch's alarm operations (decision 0177), data as
:mod:`andromede.cloudwatchapi.shapes`' are: the members of AWS's model Andromède reads.
``Metrics`` are a metric math alarm's queries (decision 0183), PutCompositeAlarm's a
composite's rule and suppressor (decision 0184); ``ThresholdMetricId`` an anomaly detection
alarm's band (decision 0189)."""

from __future__ import annotations

from typing import Any, Final

__all__ = ["ALARM_INPUTS"]

_DIMENSIONS: Final = [{"Name": "string", "Value": "string"}]
_NAMES: Final = ["string"]
_METRIC_QUERY: Final = {
    "Id": "string",
    "MetricStat": {
        "Metric": {"Namespace": "string", "MetricName": "string", "Dimensions": _DIMENSIONS},
        "Period": "integer",
        "Stat": "string",
        "Unit": "string",
    },
    "Expression": "string",
    "Label": "string",
    "ReturnData": "boolean",
    "Period": "integer",
    "AccountId": "string",
}
ALARM_INPUTS: Final[dict[str, dict[str, Any]]] = {
    "PutMetricAlarm": {
        "AlarmName": "string",
        "AlarmDescription": "string",
        "ActionsEnabled": "boolean",
        "OKActions": ["string"],
        "AlarmActions": ["string"],
        "InsufficientDataActions": ["string"],
        "MetricName": "string",
        "Namespace": "string",
        "Statistic": "string",
        "ExtendedStatistic": "string",
        "Dimensions": _DIMENSIONS,
        "Period": "integer",
        "Unit": "string",
        "EvaluationPeriods": "integer",
        "DatapointsToAlarm": "integer",
        "Threshold": "double",
        "ComparisonOperator": "string",
        "TreatMissingData": "string",
        "EvaluateLowSampleCountPercentile": "string",
        "Metrics": [_METRIC_QUERY],
        "Tags": [{"Key": "string", "Value": "string"}],
        "ThresholdMetricId": "string",
    },
    "PutCompositeAlarm": {
        "AlarmName": "string",
        "AlarmDescription": "string",
        "ActionsEnabled": "boolean",
        "OKActions": ["string"],
        "AlarmActions": ["string"],
        "InsufficientDataActions": ["string"],
        "AlarmRule": "string",
        "Tags": [{"Key": "string", "Value": "string"}],
        "ActionsSuppressor": "string",
        "ActionsSuppressorWaitPeriod": "integer",
        "ActionsSuppressorExtensionPeriod": "integer",
    },
    "DescribeAlarms": {
        "AlarmNames": _NAMES,
        "AlarmNamePrefix": "string",
        "AlarmTypes": _NAMES,
        "ChildrenOfAlarmName": "string",
        "ParentsOfAlarmName": "string",
        "StateValue": "string",
        "ActionPrefix": "string",
        "MaxRecords": "integer",
        "NextToken": "string",
    },
    "DescribeAlarmsForMetric": {
        "MetricName": "string",
        "Namespace": "string",
        "Statistic": "string",
        "ExtendedStatistic": "string",
        "Dimensions": _DIMENSIONS,
        "Period": "integer",
        "Unit": "string",
    },
    "DeleteAlarms": {"AlarmNames": _NAMES},
    "SetAlarmState": {
        "AlarmName": "string",
        "StateValue": "string",
        "StateReason": "string",
        "StateReasonData": "string",
    },
    "EnableAlarmActions": {"AlarmNames": _NAMES},
    "DisableAlarmActions": {"AlarmNames": _NAMES},
    "TagResource": {"ResourceARN": "string", "Tags": [{"Key": "string", "Value": "string"}]},
    "UntagResource": {"ResourceARN": "string", "TagKeys": _NAMES},
    "ListTagsForResource": {"ResourceARN": "string"},
    "DescribeAlarmHistory": {
        "AlarmName": "string",
        "AlarmTypes": _NAMES,
        "HistoryItemType": "string",
        "StartDate": "timestamp",
        "EndDate": "timestamp",
        "MaxRecords": "integer",
        "NextToken": "string",
        "ScanBy": "string",
    },
}
