"""Decision 0177's alarm operations on the wire, each built by botocore's own serializer of
the protocol and read by its parser: put, describe (by name, prefix, state, pages), describe
for a metric, set the state, switch the actions, the history, delete; the refusals in
CloudWatch's codes whatever the protocol; the changes audited; other accounts' alarms
invisible."""

from __future__ import annotations

from typing import Any

import pytest

from andromede.audit.model import Outcome
from support.cloudwatchapp import PROTOCOLS, REGION, Harness

ALARM: dict[str, Any] = {
    "AlarmName": "cpu-high",
    "Namespace": "App",
    "MetricName": "CPU",
    "Dimensions": [{"Name": "Host", "Value": "web-1"}],
    "Statistic": "Average",
    "Period": 60,
    "EvaluationPeriods": 3,
    "DatapointsToAlarm": 2,
    "Threshold": 80.0,
    "ComparisonOperator": "GreaterThanThreshold",
    "TreatMissingData": "notBreaching",
    "Unit": "Percent",
}


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_an_alarms_life_in_every_protocol(cloudwatch: Harness, protocol: str) -> None:
    cw = cloudwatch.speaking(protocol)
    topic = f"arn:aws:sns:{REGION}:{cw.tenant_id}:ops"
    await cw.ok("PutMetricAlarm", {**ALARM, "AlarmActions": [topic], "AlarmDescription": "d"})
    await cw.ok("PutMetricAlarm", {**ALARM, "AlarmName": "cpu-low", "Threshold": 5.0,
                                   "ComparisonOperator": "LessThanThreshold"})  # fmt: skip
    [shown] = (await cw.ok("DescribeAlarms", {"AlarmNames": ["cpu-high"]}))["MetricAlarms"]
    assert shown["AlarmArn"] == f"arn:aws:cloudwatch:{REGION}:{cw.tenant_id}:alarm:cpu-high"
    assert shown["StateValue"] == "INSUFFICIENT_DATA"
    assert (shown["Threshold"], shown["DatapointsToAlarm"], shown["AlarmActions"]) == (
        80.0, 2, [topic]
    )  # fmt: skip
    assert shown["Dimensions"] == [{"Name": "Host", "Value": "web-1"}]
    page = await cw.ok("DescribeAlarms", {"AlarmNamePrefix": "cpu-", "MaxRecords": 1})
    assert [a["AlarmName"] for a in page["MetricAlarms"]] == ["cpu-high"]
    page = await cw.ok(
        "DescribeAlarms", {"AlarmNamePrefix": "cpu-", "NextToken": page["NextToken"]}
    )
    assert [a["AlarmName"] for a in page["MetricAlarms"]] == ["cpu-low"]
    found = await cw.ok("DescribeAlarmsForMetric", {
        "Namespace": "App", "MetricName": "CPU", "Dimensions": [{"Name": "Host", "Value": "web-1"}]
    })  # fmt: skip
    assert len(found["MetricAlarms"]) == 2
    await cw.ok("SetAlarmState", {"AlarmName": "cpu-high", "StateValue": "ALARM",
                                  "StateReason": "testing the pager"})  # fmt: skip
    only = await cw.ok("DescribeAlarms", {"StateValue": "ALARM"})
    assert [a["AlarmName"] for a in only["MetricAlarms"]] == ["cpu-high"]
    await cw.ok("DisableAlarmActions", {"AlarmNames": ["cpu-high"]})
    [shown] = (await cw.ok("DescribeAlarms", {"AlarmNames": ["cpu-high"]}))["MetricAlarms"]
    assert shown["ActionsEnabled"] is False
    history = await cw.ok("DescribeAlarmHistory", {"AlarmName": "cpu-high",
                                                   "HistoryItemType": "StateUpdate"})  # fmt: skip
    [item] = history["AlarmHistoryItems"]
    assert item["HistorySummary"] == "Alarm updated from INSUFFICIENT_DATA to ALARM"
    other = await cw.other_tenant(f"other-{protocol}")
    assert (await other.ok("DescribeAlarms", {}))["MetricAlarms"] == []
    refused = await other.call("SetAlarmState", {"AlarmName": "cpu-high", "StateValue": "OK",
                                                 "StateReason": "x"})  # fmt: skip
    assert (refused.status, refused.code) == (404, "ResourceNotFound")
    arn = f"arn:aws:cloudwatch:{REGION}:{cw.tenant_id}:alarm:cpu-high"
    await cw.ok("TagResource", {"ResourceARN": arn, "Tags": [{"Key": "team", "Value": "sre"}]})
    await cw.ok("TagResource", {"ResourceARN": arn, "Tags": [{"Key": "tier", "Value": "1"}]})
    await cw.ok("UntagResource", {"ResourceARN": arn, "TagKeys": ["tier"]})
    tags = (await cw.ok("ListTagsForResource", {"ResourceARN": arn}))["Tags"]
    assert tags == [{"Key": "team", "Value": "sre"}]
    theirs = await other.call("ListTagsForResource", {"ResourceARN": arn})
    assert theirs.code == "ResourceNotFoundException"
    await cw.ok("DeleteAlarms", {"AlarmNames": ["cpu-high", "cpu-low"]})
    assert (await cw.ok("DescribeAlarms", {}))["MetricAlarms"] == []
    # A metric math alarm (decision 0183): its queries instead of a metric, shown back.
    stat = {"Metric": {"Namespace": "App", "MetricName": "Errors"}, "Period": 60, "Stat": "Sum"}
    await cw.ok(
        "PutMetricAlarm",
        {
            "AlarmName": "error-rate",
            "EvaluationPeriods": 1,
            "Threshold": 5.0,
            "ComparisonOperator": "GreaterThanThreshold",
            "Metrics": [
                {"Id": "m1", "MetricStat": stat, "ReturnData": False},
                {"Id": "e1", "Expression": "RATE(m1) * 60", "Label": "per minute"},
            ],
        },
    )
    [shown] = (await cw.ok("DescribeAlarms", {"AlarmNames": ["error-rate"]}))["MetricAlarms"]
    assert "MetricName" not in shown and "Period" not in shown
    assert "DatapointsToAlarm" not in shown  # not given: not shown (Terraform converges)
    assert shown["Metrics"] == [
        {"Id": "m1", "MetricStat": {**stat, "Metric": {**stat["Metric"], "Dimensions": []}},
         "ReturnData": False},
        {"Id": "e1", "Expression": "RATE(m1) * 60", "Label": "per minute", "ReturnData": True},
    ]  # fmt: skip
    await cw.ok("DeleteAlarms", {"AlarmNames": ["error-rate"]})
    events = [e for e in await cw.audited() if e.action.startswith("cloudwatch:")]
    assert {e.action for e in events if e.outcome is Outcome.SUCCESS} >= {
        "cloudwatch:PutMetricAlarm", "cloudwatch:SetAlarmState",
        "cloudwatch:DisableAlarmActions", "cloudwatch:DeleteAlarms",
    }  # fmt: skip


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_refusals_in_cloudwatchs_codes(cloudwatch: Harness, protocol: str) -> None:
    cw = cloudwatch.speaking(protocol)
    band = "LessThanLowerOrGreaterThanUpperThreshold"  # anomaly detection's
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("PutMetricAlarm", {**ALARM, "ComparisonOperator": band}, "InvalidParameterValue"),
        ("PutMetricAlarm", {"AlarmName": "m", "EvaluationPeriods": 1, "Threshold": 1.0,
                            "ComparisonOperator": "GreaterThanThreshold",
                            "Metrics": [{"Id": "e1", "Expression": "m1 * 2", "Period": 60}]},
         "InvalidParameterValue"),
        ("PutMetricAlarm", {**ALARM, "Metrics": [{"Id": "e1", "Expression": "1", "Period": 60}]},
         "InvalidParameterCombination"),
        ("PutMetricAlarm", {**ALARM, "ThresholdMetricId": "ad1"},
         "InvalidParameterCombination"),  # a Threshold and a band (decision 0189)
        ("PutMetricAlarm", {**ALARM, "Period": 45}, "InvalidParameterValue"),
        ("PutMetricAlarm", {**ALARM, "AlarmActions": ["arn:aws:sns:eu-fr-1:999999999999:x"]},
         "InvalidParameterValue"),
        ("PutMetricAlarm", {**ALARM, "ExtendedStatistic": "p99"}, "InvalidParameterCombination"),
        ("DeleteAlarms", {"AlarmNames": ["nope"]}, "ResourceNotFound"),
        ("DescribeAlarms", {"NextToken": "garbage"}, "InvalidNextToken"),
        ("DescribeAlarms", {"ChildrenOfAlarmName": "x", "ParentsOfAlarmName": "y"},
         "InvalidParameterValue"),
        ("SetAlarmState", {"AlarmName": "x", "StateValue": "BAD", "StateReason": "r"},
         "InvalidParameterValue"),
        ("PutCompositeAlarm", {"AlarmName": "c", "AlarmRule": "ALARM(a)"},
         "InvalidParameterValue"),  # decision 0184: no alarm a
        ("PutCompositeAlarm", {"AlarmName": "c", "AlarmRule": "ALARM(a) AND"},
         "InvalidParameterValue"),
    ]  # fmt: skip
    for operation, params, code in cases:
        reply = await cw.call(operation, params)
        assert reply.code == code, (operation, reply.body)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_composite_alarm_over_each_protocol(cloudwatch: Harness, protocol: str) -> None:
    """Decision 0184: PutCompositeAlarm, DescribeAlarms' CompositeAlarms and families, the
    composite following SetAlarmState on its child, its history typed CompositeAlarm."""
    cw = cloudwatch.speaking(protocol)
    await cw.ok("PutMetricAlarm", {**ALARM, "AlarmName": f"child-{protocol}"})
    rule = f'ALARM("child-{protocol}")'
    name = f"parent-{protocol}"
    await cw.ok("PutCompositeAlarm", {"AlarmName": name, "AlarmRule": rule,
                                      "Tags": [{"Key": "team", "Value": "ops"}]})  # fmt: skip
    await cw.ok(
        "SetAlarmState",
        {"AlarmName": f"child-{protocol}", "StateValue": "ALARM", "StateReason": "test"},
    )
    found = await cw.ok("DescribeAlarms", {"AlarmNames": [name], "AlarmTypes": ["CompositeAlarm"]})
    [shown] = found["CompositeAlarms"]
    assert (shown["AlarmRule"], shown["StateValue"]) == (rule, "ALARM")
    assert found["MetricAlarms"] == []
    parents = await cw.ok("DescribeAlarms", {"ParentsOfAlarmName": f"child-{protocol}"})
    assert [a["AlarmName"] for a in parents["CompositeAlarms"]] == [name]
    children = await cw.ok("DescribeAlarms", {"ChildrenOfAlarmName": name})
    assert [a["AlarmName"] for a in children["MetricAlarms"]] == [f"child-{protocol}"]
    history = await cw.ok(
        "DescribeAlarmHistory",
        {"AlarmName": name, "AlarmTypes": ["CompositeAlarm"], "HistoryItemType": "StateUpdate"},
    )
    assert [i["AlarmType"] for i in history["AlarmHistoryItems"]] == ["CompositeAlarm"] * 2
    refused = await cw.call("DeleteAlarms", {"AlarmNames": [f"child-{protocol}"]})
    assert refused.code == "InvalidParameterValue"
    await cw.ok("DeleteAlarms", {"AlarmNames": [name, f"child-{protocol}"]})
