"""Decision 0177's alarm evaluator: AWS's M-of-N rule with each treatment of missing data
(the rows of AWS's table), each comparison, the statistic an alarm reads from the metrics
store, PutMetricAlarm's refusals, and the service's evaluation round — one gateway per
period, a state change recorded and acted on once, Auto Scaling actions repeated while the
state lasts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from andromede.metrics.alarm_service import AlarmService
from andromede.metrics.alarm_store import MemoryAlarmStore
from andromede.metrics.alarms import Alarm, AlarmState, check_alarm, evaluate
from andromede.metrics.errors import (
    InvalidParameterCombination,
    InvalidParameterValue,
    MissingParameter,
    ResourceNotFound,
)
from andromede.metrics.service import MetricDatum, MetricsService
from andromede.metrics.store import MemoryMetricStore

REGION = "eu-fr-1"
TENANT = "111122223333"
TOPIC = f"arn:aws:sns:{REGION}:{TENANT}:ops"
POLICY = (
    f"arn:aws:autoscaling:{REGION}:{TENANT}:scalingPolicy:0b0e7e52-7c1e-4f43-9d43-2b2a4d0f7a11:"
    "autoScalingGroupName/web:policyName/up"
)


def alarm(**changes: object) -> Alarm:
    base = Alarm(
        tenant_id=TENANT,
        name="high",
        namespace="App",
        metric_name="Load",
        dimensions=(),
        period=60,
        evaluation_periods=5,
        datapoints_to_alarm=3,
        threshold=10.0,
        comparison="GreaterThanThreshold",
        statistic="Average",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


X, G, M = 20.0, 0.0, None  # breaching (X), good (not breaching), missing


@pytest.mark.parametrize(
    ("values", "missing", "ignore", "breaching", "not_breaching"),
    [
        # 3 datapoints to alarm out of 5, oldest first, in the manner of AWS's table (whose
        # evaluation range reaches further back when data is missing: test_alarm_lookback).
        ((G, M, X, M, X), "OK", "OK", "ALARM", "OK"),
        ((M, M, M, M, G), "OK", "OK", "ALARM", "OK"),
        ((M, M, M, M, M), "INSUFFICIENT_DATA", "kept", "ALARM", "OK"),
        ((G, X, X, M, X), "ALARM", "ALARM", "ALARM", "ALARM"),
        ((M, M, X, M, M), "ALARM", "kept", "ALARM", "OK"),
        ((X, X, G, G, G), "OK", "OK", "OK", "OK"),
    ],
)
def test_m_of_n_with_each_treatment_of_missing_data(
    values: Sequence[float | None],
    missing: str,
    ignore: str,
    breaching: str,
    not_breaching: str,
) -> None:
    for treat, expected in (
        ("missing", missing),
        ("ignore", ignore),
        ("breaching", breaching),
        ("notBreaching", not_breaching),
    ):
        for before in AlarmState:
            held = alarm(treat_missing_data=treat, state=before)
            got = evaluate(held, values).state
            want = before if expected == "kept" else AlarmState(expected)
            assert got is want, (values, treat, before)


def test_each_comparison_and_the_reason_text() -> None:
    cases = {
        "GreaterThanThreshold": (10.5, 10.0),
        "GreaterThanOrEqualToThreshold": (10.0, 9.9),
        "LessThanThreshold": (9.5, 10.0),
        "LessThanOrEqualToThreshold": (10.0, 10.1),
    }
    for comparison, (breaches, holds) in cases.items():
        one = alarm(comparison=comparison, evaluation_periods=1, datapoints_to_alarm=1)
        assert evaluate(one, [breaches]).state is AlarmState.ALARM, comparison
        assert evaluate(one, [holds]).state is AlarmState.OK, comparison
    reason = evaluate(alarm(evaluation_periods=2, datapoints_to_alarm=2), [11.0, 12.0]).reason
    assert reason.startswith("Threshold Crossed: 2 out of the last 2 datapoints [12.0, 11.0]")
    assert "greater than the threshold (10.0)" in reason


def test_put_metric_alarm_refusals() -> None:
    check_alarm(alarm(alarm_actions=(TOPIC, POLICY, TOPIC)), REGION)  # a valid one
    assert check_alarm(alarm(alarm_actions=(TOPIC, TOPIC)), REGION).alarm_actions == (TOPIC,)
    bad: list[tuple[dict[str, object], type[Exception]]] = [
        ({"comparison": "LessThanLowerOrGreaterThanUpperThreshold"}, InvalidParameterValue),
        ({"comparison": "Above"}, InvalidParameterValue),
        ({"period": 45}, InvalidParameterValue),
        ({"period": 90}, InvalidParameterValue),
        ({"datapoints_to_alarm": 6}, InvalidParameterValue),
        ({"treat_missing_data": "zero"}, InvalidParameterValue),
        ({"statistic": None}, MissingParameter),
        ({"extended_statistic": "p99"}, InvalidParameterCombination),
        ({"statistic": None, "extended_statistic": "tm90"}, InvalidParameterValue),
        ({"namespace": ""}, MissingParameter),
        ({"alarm_actions": (f"arn:aws:lambda:{REGION}:{TENANT}:function:f",)},
         InvalidParameterValue),
        ({"ok_actions": ("arn:aws:sns:eu-fr-1:999999999999:theirs",)}, InvalidParameterValue),
        ({"alarm_actions": (TOPIC,) * 6}, InvalidParameterValue),
    ]  # fmt: skip
    for changes, error in bad:
        with pytest.raises(error):
            check_alarm(alarm(**changes), REGION)


class Recorder:
    """The AlarmActions port, recording what it was asked to do."""

    def __init__(self) -> None:
        self.notified: list[tuple[str, str, str]] = []
        self.scaled: list[tuple[str, float | None]] = []

    async def notify(self, tenant_id: str, topic_arn: str, subject: str, message: str) -> bool:
        self.notified.append((topic_arn, subject, message))
        return True

    async def scale(
        self, tenant_id: str, policy_arn: str, alarm: Alarm, value: float | None
    ) -> bool:
        self.scaled.append((alarm.name, value))
        return True


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


START = datetime(2026, 12, 5, 12, 0, 0, tzinfo=UTC)


def world() -> tuple[MetricsService, AlarmService, MemoryAlarmStore, Clock, Recorder]:
    clock = Clock(START + timedelta(seconds=5))
    metrics = MetricsService(MemoryMetricStore(), clock=clock)
    store = MemoryAlarmStore()
    service = AlarmService(store, metrics, REGION, clock=clock)
    recorder = Recorder()
    service.actions = recorder
    return metrics, service, store, clock, recorder


async def put(metrics: MetricsService, at: datetime, *values: float) -> None:
    datum = MetricDatum(name="Load", dimensions=(("Host", "a"),), timestamp=at, values=values)
    await metrics.put_metric_data(TENANT, "App", [datum])


async def test_the_statistic_chosen_decides_and_one_gateway_evaluates_a_period() -> None:
    metrics, service, store, clock, recorder = world()
    base = alarm(dimensions=(("Host", "a"),), evaluation_periods=1, datapoints_to_alarm=1)
    await service.put_alarm(
        replace(base, name="by-max", statistic="Maximum", alarm_actions=(TOPIC,))
    )
    await service.put_alarm(replace(base, name="by-avg"))
    await service.put_alarm(replace(base, name="by-p90", statistic=None, extended_statistic="p90"))
    await put(metrics, START + timedelta(seconds=10), 1.0, 2.0, 3.0, 50.0)
    # Before the period's end nothing is due.
    clock.now = START + timedelta(seconds=59)
    assert await service.evaluate_due() == 0
    clock.now = START + timedelta(seconds=61)
    other = AlarmService(store, metrics, REGION, clock=clock)
    assert await service.evaluate_due() == 3
    assert await other.evaluate_due() == 0  # claimed for this period already
    states = {a.name: a.state for a in await store.alarms(TENANT)}
    assert states == {
        "by-max": AlarmState.ALARM,  # 50 > 10
        "by-avg": AlarmState.ALARM,  # 14 > 10
        "by-p90": AlarmState.ALARM,
    }
    [(topic, subject, message)] = recorder.notified
    assert topic == TOPIC and subject.startswith('ALARM: "by-max" in ')
    assert (
        '"NewStateValue": "ALARM"' in message and '"OldStateValue": "INSUFFICIENT_DATA"' in message
    )
    # The next periods without data: the datapoint is still in the evaluation range (decision
    # 0189: 1 + 2 periods read), so the state holds; past it, missing → INSUFFICIENT_DATA,
    # notified again (no OK action).
    for minute in (2, 3):
        clock.now = START + timedelta(seconds=60 * minute + 1)
        assert await other.evaluate_due() == 3
        assert {a.state for a in await store.alarms(TENANT)} == {AlarmState.ALARM}
    clock.now = START + timedelta(seconds=241)
    assert await other.evaluate_due() == 3
    assert {a.state for a in await store.alarms(TENANT)} == {AlarmState.INSUFFICIENT_DATA}
    history, _ = await service.history(TENANT, name="by-max", item_type="StateUpdate")
    assert [h.summary for h in history] == [
        "Alarm updated from ALARM to INSUFFICIENT_DATA",
        "Alarm updated from INSUFFICIENT_DATA to ALARM",
    ]


async def test_scaling_actions_repeat_while_in_alarm_and_disabled_actions_do_nothing() -> None:
    metrics, service, _, clock, recorder = world()
    await service.put_alarm(
        alarm(
            dimensions=(("Host", "a"),),
            evaluation_periods=1,
            datapoints_to_alarm=1,
            alarm_actions=(POLICY, TOPIC),
        )
    )
    for minute in range(3):
        await put(metrics, START + timedelta(minutes=minute, seconds=10), 30.0)
        clock.now = START + timedelta(minutes=minute + 1, seconds=1)
        await service.evaluate_due()
    assert recorder.scaled == [("high", 30.0)] * 3
    assert len(recorder.notified) == 1  # notifications only on the change
    await service.set_actions_enabled(TENANT, ["high"], False)
    await put(metrics, START + timedelta(minutes=3, seconds=10), 30.0)
    clock.now = START + timedelta(minutes=4, seconds=1)
    await service.evaluate_due()
    assert len(recorder.scaled) == 3


async def test_set_alarm_state_describe_filters_pages_and_delete() -> None:
    _, service, _, _, recorder = world()
    for name in ("a-1", "a-2", "b-1"):
        await service.put_alarm(alarm(name=name, ok_actions=(TOPIC,)))
    await service.set_state(TENANT, "a-2", "OK", "testing", '{"why": 1}')
    assert len(recorder.notified) == 1
    found, token = await service.describe(TENANT, prefix="a-", max_records=1)
    assert [a.name for a in found] == ["a-1"] and token is not None
    found, token = await service.describe(TENANT, prefix="a-", max_records=1, next_token=token)
    assert [a.name for a in found] == ["a-2"] and token is None
    found, _ = await service.describe(TENANT, state="OK")
    assert [a.name for a in found] == ["a-2"]
    found, _ = await service.describe(TENANT, action_prefix="arn:aws:sns:")
    assert len(found) == 3
    with pytest.raises(InvalidParameterValue):
        await service.set_state(TENANT, "a-1", "OK", "x", "not json")
    with pytest.raises(ResourceNotFound):
        await service.delete(TENANT, ["a-1", "nope"])
    assert len(await service.store.alarms(TENANT)) == 3  # none deleted
    await service.delete(TENANT, ["a-1", "a-2"])
    assert [a.name for a in await service.store.alarms(TENANT)] == ["b-1"]


async def test_a_closed_accounts_alarms_act_on_nothing() -> None:
    metrics, service, store, clock, recorder = world()
    open_accounts: set[str] = set()

    async def active(tenant_id: str) -> bool:
        return tenant_id in open_accounts

    service.active = active
    await service.put_alarm(
        alarm(dimensions=(("Host", "a"),), evaluation_periods=1, datapoints_to_alarm=1,
              alarm_actions=(TOPIC,))
    )  # fmt: skip
    await put(metrics, START + timedelta(seconds=10), 30.0)
    clock.now = START + timedelta(seconds=61)
    await service.evaluate_due()
    [held] = await store.alarms(TENANT)
    assert held.state is AlarmState.INSUFFICIENT_DATA and recorder.notified == []
    assert held.next_evaluation == int((START + timedelta(seconds=120)).timestamp())
    open_accounts.add(TENANT)  # open again: the next period is evaluated
    await put(metrics, START + timedelta(seconds=70), 30.0)
    clock.now = START + timedelta(seconds=121)
    await service.evaluate_due()
    assert [a.state for a in await store.alarms(TENANT)] == [AlarmState.ALARM]
    assert len(recorder.notified) == 1
