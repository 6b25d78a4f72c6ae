"""Decision 0189's anomaly detector operations on the wire, each built by botocore's own
serializer of the protocol and read by its parser: a detector put (single metric with its
configuration, and metric math), described (filters, pages, state), deleted; the band read
through GetMetricData; an anomaly detection alarm put and described; the refusals in
CloudWatch's codes; the changes audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from andromede.audit.model import Outcome
from support.cloudwatchapp import PROTOCOLS, Harness

LATENCY = {"Namespace": "App", "MetricName": "Latency",
           "Dimensions": [{"Name": "Api", "Value": "x"}], "Stat": "Average"}  # fmt: skip
MATH = {"MetricDataQueries": [
    {"Id": "m1", "MetricStat": {"Metric": {"Namespace": "App", "MetricName": "Errors"},
                                "Period": 300, "Stat": "Sum"}, "ReturnData": False},
    {"Id": "e1", "Expression": "m1 * 2", "Label": "doubled", "ReturnData": True},
]}  # fmt: skip


async def history(cw: Harness, minutes: int) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    data = [
        {"MetricName": "Latency", "Dimensions": LATENCY["Dimensions"],
         "Timestamp": now - timedelta(minutes=m), "Value": 100.0 + m % 2}
        for m in range(1, minutes + 1)
    ]  # fmt: skip
    for chunk in range(0, len(data), 20):
        await cw.ok("PutMetricData", {"Namespace": "App", "MetricData": data[chunk : chunk + 20]})


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_detectors_life_in_every_protocol(cloudwatch: Harness, protocol: str) -> None:
    cw = cloudwatch.speaking(protocol)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    await cw.ok(
        "PutAnomalyDetector",
        {
            "SingleMetricAnomalyDetector": LATENCY,
            "Configuration": {
                "ExcludedTimeRanges": [{"StartTime": start, "EndTime": start + timedelta(hours=2)}],
                "MetricTimezone": "Europe/Paris",
            },
            "MetricCharacteristics": {"PeriodicSpikes": True},
        },
    )
    await cw.ok("PutAnomalyDetector", {"MetricMathAnomalyDetector": MATH})
    # The legacy top-level members name a detector too.
    await cw.ok("PutAnomalyDetector", {**LATENCY, "MetricName": "Errors", "Stat": "Sum"})
    page = await cw.ok("DescribeAnomalyDetectors", {})
    first, second = page["AnomalyDetectors"]
    assert first["SingleMetricAnomalyDetector"] == {**LATENCY, "AccountId": cw.tenant_id}
    assert first["Configuration"]["MetricTimezone"] == "Europe/Paris"
    [excluded] = first["Configuration"]["ExcludedTimeRanges"]
    assert excluded["StartTime"] == start
    assert first["MetricCharacteristics"] == {"PeriodicSpikes": True}
    assert first["StateValue"] == "PENDING_TRAINING"
    assert [q["Id"] for q in second["MetricMathAnomalyDetector"]["MetricDataQueries"]] == [
        "m1",
        "e1",
    ]
    page = await cw.ok("DescribeAnomalyDetectors", {"NextToken": page["NextToken"]})
    assert [d["Stat"] for d in page["AnomalyDetectors"]] == ["Sum"]
    assert "NextToken" not in page
    page = await cw.ok("DescribeAnomalyDetectors", {"AnomalyDetectorTypes": ["METRIC_MATH"]})
    assert len(page["AnomalyDetectors"]) == 1
    page = await cw.ok("DescribeAnomalyDetectors", {"MetricName": "Errors"})
    assert [d["Stat"] for d in page["AnomalyDetectors"]] == ["Sum"]
    reply = await cw.call("PutAnomalyDetector", {**LATENCY, "MetricName": "Fourth"})
    assert (reply.status, reply.code) == (400, "LimitExceeded")
    await cw.ok("DeleteAnomalyDetector", {"SingleMetricAnomalyDetector": LATENCY})
    reply = await cw.call("DeleteAnomalyDetector", {"SingleMetricAnomalyDetector": LATENCY})
    assert (reply.status, reply.code) == (404, "ResourceNotFoundException")
    audited = [e for e in await cloudwatch.audited() if "AnomalyDetector" in e.action]
    assert {e.action for e in audited} == {
        "cloudwatch:PutAnomalyDetector",
        "cloudwatch:DeleteAnomalyDetector",
    }
    assert all(e.outcome is Outcome.SUCCESS for e in audited)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_refusals_in_cloudwatchs_codes(cloudwatch: Harness, protocol: str) -> None:
    cw = cloudwatch.speaking(protocol)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"SingleMetricAnomalyDetector": {**LATENCY, "Stat": ""}}, "MissingParameter"),
        ({"SingleMetricAnomalyDetector": LATENCY, "MetricMathAnomalyDetector": MATH},
         "InvalidParameterCombination"),
        ({"SingleMetricAnomalyDetector": LATENCY, "Namespace": "App"},
         "InvalidParameterCombination"),
        ({"SingleMetricAnomalyDetector": LATENCY,
          "Configuration": {"MetricTimezone": "Nowhere/Land"}}, "InvalidParameterValue"),
        ({"SingleMetricAnomalyDetector": {**LATENCY, "AccountId": "999999999999"}},
         "InvalidParameterValue"),
        ({"MetricMathAnomalyDetector": {"MetricDataQueries": [
            {"Id": "e1", "Expression": "m9 * 2", "ReturnData": True}]}},
         "InvalidParameterValue"),
    ]  # fmt: skip
    for params, code in cases:
        reply = await cw.call("PutAnomalyDetector", params)
        assert (reply.status, reply.code) == (400, code), params
    reply = await cw.call("DescribeAnomalyDetectors", {"AnomalyDetectorTypes": ["OTHER"]})
    assert reply.code == "InvalidParameterValue"
    reply = await cw.call("DescribeAnomalyDetectors", {"NextToken": "%%%"})
    assert reply.code == "InvalidNextToken"
    reply = await cw.call(
        "GetMetricData",
        {
            "MetricDataQueries": [
                {"Id": "m1", "MetricStat": {"Metric": {"Namespace": "App",
                 "MetricName": "Latency"}, "Period": 60, "Stat": "Average"}},
                {"Id": "ad1", "Expression": "ANOMALY_DETECTION_BAND(m1, -1)"},
            ],
            "StartTime": datetime.now(UTC) - timedelta(hours=1),
            "EndTime": datetime.now(UTC),
        },
    )  # fmt: skip
    assert reply.code == "InvalidParameterValue"


async def test_the_band_in_get_metric_data_and_an_alarm_on_it(cloudwatch: Harness) -> None:
    cw = cloudwatch
    await history(cw, 40)
    await cw.ok("PutAnomalyDetector", {"SingleMetricAnomalyDetector": LATENCY})
    [detector] = (await cw.ok("DescribeAnomalyDetectors", {}))["AnomalyDetectors"]
    assert detector["StateValue"] == "TRAINED_INSUFFICIENT_DATA"  # 8 five-minute values
    metric = {"Namespace": "App", "MetricName": "Latency", "Dimensions": LATENCY["Dimensions"]}
    queries = [
        {"Id": "m1", "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Average"},
         "ReturnData": True},
        {"Id": "ad1", "Expression": "ANOMALY_DETECTION_BAND(m1, 2)", "Label": "band"},
    ]  # fmt: skip
    now = datetime.now(UTC)
    answer = await cw.ok(
        "GetMetricData",
        {
            "MetricDataQueries": queries,
            "StartTime": now - timedelta(minutes=30),
            "EndTime": now,
            "ScanBy": "TimestampAscending",
        },
    )
    values, lower, upper = answer["MetricDataResults"]
    assert [r["Label"] for r in (lower, upper)] == ["band Lower", "band Upper"]
    assert len(values["Values"]) >= 25 and len(lower["Values"]) >= 25
    for at, value in zip(values["Timestamps"], values["Values"], strict=True):
        edge = lower["Timestamps"].index(at)
        assert lower["Values"][edge] <= value <= upper["Values"][edge]
    alarm = {
        "AlarmName": "latency-anomaly",
        "EvaluationPeriods": 2,
        "ComparisonOperator": "LessThanLowerOrGreaterThanUpperThreshold",
        "ThresholdMetricId": "ad1",
        "Metrics": queries,
        "TreatMissingData": "breaching",
    }
    await cw.ok("PutMetricAlarm", alarm)
    [shown] = (await cw.ok("DescribeAlarms", {"AlarmNames": ["latency-anomaly"]}))["MetricAlarms"]
    assert shown["ThresholdMetricId"] == "ad1"
    assert "Threshold" not in shown
    assert shown["ComparisonOperator"] == "LessThanLowerOrGreaterThanUpperThreshold"
    reply = await cw.call("PutMetricAlarm", {**alarm, "ThresholdMetricId": "m1"})
    assert reply.code == "InvalidParameterValue"
