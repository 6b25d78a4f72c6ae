"""Metric math alarms (decision 0183): PutMetricAlarm's ``Metrics`` checked (one ReturnData
query, no metric of the alarm's own, Ids known, one series), the evaluator reading the
expression per period, the document kept and the SNS message's trigger naming the queries."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from andromede.metrics.alarm_service import AlarmService
from andromede.metrics.alarm_store import MemoryAlarmStore
from andromede.metrics.alarms import Alarm, AlarmState, check_alarm, query_document
from andromede.metrics.errors import (
    InvalidParameterCombination,
    InvalidParameterValue,
    MissingParameter,
)
from andromede.metrics.service import DataQuery, MetricDatum, MetricsService
from andromede.metrics.store import MemoryMetricStore

REGION = "eu-fr-1"
TENANT = "111122223333"
TOPIC = f"arn:aws:sns:{REGION}:{TENANT}:ops"
START = datetime(2026, 12, 5, 12, 0, 0, tzinfo=UTC)
ERRORS = DataQuery("m1", "App", "Errors", (("Api", "x"),), 60, "Sum", return_data=False)
REQUESTS = DataQuery("m2", "App", "Requests", (("Api", "x"),), 60, "Sum", return_data=False)
RATE = DataQuery("e1", "", "", (), 0, "", label="Error rate", expression="100*m1/m2")


def math_alarm(**changes: object) -> Alarm:
    base = Alarm(
        tenant_id=TENANT,
        name="errors",
        namespace="",
        metric_name="",
        dimensions=(),
        period=0,
        evaluation_periods=2,
        datapoints_to_alarm=2,
        threshold=10.0,
        comparison="GreaterThanThreshold",
        alarm_actions=(TOPIC,),
        metrics=(ERRORS, REQUESTS, RATE),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


class Notified:
    def __init__(self) -> None:
        self.messages: list[str] = []

    async def notify(self, tenant_id: str, topic_arn: str, subject: str, message: str) -> bool:
        self.messages.append(message)
        return True

    async def scale(
        self, tenant_id: str, policy_arn: str, alarm: Alarm, value: float | None
    ) -> bool:
        return True


def test_the_checks_of_a_math_alarm() -> None:
    assert check_alarm(math_alarm(), REGION).period == 60  # its MetricStats' period
    assert (
        check_alarm(math_alarm(metrics=(ERRORS, replace(RATE, period=300))), REGION).period == 300
    )
    bad: list[tuple[dict[str, object], type[Exception]]] = [
        ({"namespace": "App"}, InvalidParameterCombination),
        ({"statistic": "Sum"}, InvalidParameterCombination),
        ({"metrics": (replace(ERRORS, return_data=True), RATE)}, InvalidParameterValue),
        ({"metrics": (ERRORS, replace(RATE, return_data=False))}, InvalidParameterValue),
        ({"metrics": (RATE,)}, MissingParameter),  # no MetricStat, no Period: no step
    ]
    for changes, error in bad:
        with pytest.raises(error):
            check_alarm(math_alarm(**changes), REGION)
    assert query_document(RATE) == {
        "Id": "e1",
        "Expression": "100*m1/m2",
        "Label": "Error rate",
        "ReturnData": True,
    }
    assert query_document(ERRORS)["MetricStat"]["Metric"]["Dimensions"] == [
        {"Name": "Api", "Value": "x"}
    ]


async def test_a_math_alarm_goes_to_alarm_on_its_expression() -> None:
    now = [START + timedelta(seconds=5)]
    metrics = MetricsService(MemoryMetricStore(), clock=lambda: now[0])
    store = MemoryAlarmStore()
    service = AlarmService(store, metrics, REGION, clock=lambda: now[0])
    notified = Notified()
    service.actions = notified
    for refused in (
        math_alarm(metrics=(ERRORS, replace(RATE, expression="100*m1/zz"))),
        math_alarm(metrics=(ERRORS, REQUESTS, replace(RATE, expression="METRICS()"))),
        math_alarm(metrics=(ERRORS, replace(RATE, expression="100*m1/"))),
    ):
        with pytest.raises(InvalidParameterValue):
            await service.put_alarm(refused)
    await service.put_alarm(math_alarm())
    for minute, (errors, requests) in enumerate(((5.0, 100.0), (30.0, 100.0))):
        at = START + timedelta(minutes=minute, seconds=10)
        await metrics.put_metric_data(
            TENANT,
            "App",
            [
                MetricDatum("Errors", (("Api", "x"),), at, value=errors),
                MetricDatum("Requests", (("Api", "x"),), at, value=requests),
            ],
        )
    # After the first minute: 5 % is under the threshold (1 of 2 present: missing data).
    now[0] = START + timedelta(seconds=61)
    assert await service.evaluate_due() == 1
    [held] = await store.alarms(TENANT)
    assert held.state is AlarmState.OK
    now[0] = START + timedelta(seconds=121)
    assert await service.evaluate_due() == 1
    [held] = await store.alarms(TENANT)
    assert held.state is AlarmState.OK  # 5 then 30: one breaching of the two needed
    await metrics.put_metric_data(
        TENANT,
        "App",
        [
            MetricDatum("Errors", (("Api", "x"),), START + timedelta(minutes=2), value=50.0),
            MetricDatum("Requests", (("Api", "x"),), START + timedelta(minutes=2), value=100.0),
        ],
    )
    now[0] = START + timedelta(seconds=181)
    assert await service.evaluate_due() == 1
    [held] = await store.alarms(TENANT)
    assert held.state is AlarmState.ALARM, held.state_reason
    assert "[50.0, 30.0]" in held.state_reason
    assert held.metrics == (ERRORS, REQUESTS, RATE)
    kept = Alarm.from_document(TENANT, held.name, held.document(), 0, 0)
    assert kept.metrics == held.metrics  # the stored document keeps the queries
    trigger = json.loads(notified.messages[-1])["Trigger"]
    assert [q["Id"] for q in trigger["Metrics"]] == ["m1", "m2", "e1"]
    assert "MetricName" not in trigger and trigger["Period"] == 60
    assert trigger["Metrics"][0]["MetricStat"]["Metric"]["Dimensions"] == [
        {"value": "x", "name": "Api"}
    ]
