"""Decision 0184's composite alarms: the AlarmRule parser on AWS's documented examples and its
refusals, the rule's evaluation, PutCompositeAlarm's checks (children exist, no cycle, SNS
actions only), a composite re-evaluated when a child changes state (SetAlarmState or the
evaluator), its ActionsSuppressor (suppression, extension, wait), DescribeAlarms' families and
DeleteAlarms' composite rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from andromede.metrics.alarm_service import AlarmService
from andromede.metrics.alarm_store import MemoryAlarmStore
from andromede.metrics.alarms import Alarm, AlarmState
from andromede.metrics.composite import children, evaluate_rule, parse_rule
from andromede.metrics.composite_alarms import suppressed_by
from andromede.metrics.errors import InvalidParameterValue
from andromede.metrics.service import MetricsService
from andromede.metrics.store import MemoryMetricStore

REGION = "eu-fr-1"
TENANT = "111122223333"
TOPIC = f"arn:aws:sns:{REGION}:{TENANT}:ops"
POLICY = (
    f"arn:aws:autoscaling:{REGION}:{TENANT}:scalingPolicy:0b0e7e52-7c1e-4f43-9d43-2b2a4d0f7a11:"
    "autoScalingGroupName/web:policyName/up"
)
START = datetime(2026, 12, 5, 12, 0, 0, tzinfo=UTC)


def parse(text: str) -> list[str]:
    return children(parse_rule(text, REGION, TENANT))


def holds(text: str, **states: str) -> bool:
    return evaluate_rule(parse_rule(text, REGION, TENANT), states)


def test_awss_documented_rules_parse_and_evaluate() -> None:
    rule = "ALARM(CPUUtilizationTooHigh) AND ALARM(DiskReadOpsTooHigh)"
    assert parse(rule) == ["CPUUtilizationTooHigh", "DiskReadOpsTooHigh"]
    assert holds(rule, CPUUtilizationTooHigh="ALARM", DiskReadOpsTooHigh="ALARM")
    assert not holds(rule, CPUUtilizationTooHigh="ALARM", DiskReadOpsTooHigh="OK")
    rule = "ALARM(CPUUtilizationTooHigh) OR ALARM(DiskReadOpsTooHigh)"
    assert holds(rule, CPUUtilizationTooHigh="OK", DiskReadOpsTooHigh="ALARM")
    rule = "ALARM(CPUUtilizationTooHigh) AND NOT ALARM(DeploymentInProgress)"
    assert holds(rule, CPUUtilizationTooHigh="ALARM", DeploymentInProgress="OK")
    assert not holds(rule, CPUUtilizationTooHigh="ALARM", DeploymentInProgress="ALARM")
    rule = "(ALARM(CPUUtilizationTooHigh) OR ALARM(DiskReadOpsTooHigh)) AND OK(NetworkOutTooHigh)"
    assert holds(rule, DiskReadOpsTooHigh="ALARM", NetworkOutTooHigh="OK")
    assert not holds(rule, DiskReadOpsTooHigh="ALARM", NetworkOutTooHigh="ALARM")
    assert holds('INSUFFICIENT_DATA("my alarm")', **{"my alarm": "INSUFFICIENT_DATA"})
    arn = f"arn:aws:cloudwatch:{REGION}:{TENANT}:alarm:CPUUtilizationTooHigh"
    assert parse(f'ALARM("{arn}") OR ALARM({arn})') == ["CPUUtilizationTooHigh"]
    assert holds("TRUE") and not holds("FALSE") and holds("NOT FALSE AND TRUE")
    # AND binds tighter than OR; an absent alarm is in no state.
    assert holds("TRUE OR FALSE AND FALSE")
    assert not holds("OK(gone)") and not holds("ALARM(gone)")
    assert parse("ALARM(ORDERS) AND ALARM(NOTES)") == ["ORDERS", "NOTES"]


@pytest.mark.parametrize(
    "rule",
    [
        "",
        "ALARM(a) AND",
        "ALARM(a",
        '(ALARM("a")',
        "ALARM()",
        "alarm(a)",
        "ALARM(a) XOR ALARM(b)",
        "ALARM(a) ALARM(b)",
        'ALARM("a)',
        "ALARM(arn:aws:cloudwatch:us-east-1:999999999999:alarm:x)",
        "TRUE " * 3000,
        " OR ".join(f"ALARM(a{i})" for i in range(101)),
    ],
)
def test_malformed_rules_are_refused(rule: str) -> None:
    with pytest.raises(InvalidParameterValue):
        parse_rule(rule, REGION, TENANT)


class Recorder:
    def __init__(self) -> None:
        self.notified: list[tuple[str, str, str]] = []

    async def notify(self, tenant_id: str, topic_arn: str, subject: str, message: str) -> bool:
        self.notified.append((topic_arn, subject, message))
        return True

    async def scale(
        self, tenant_id: str, policy_arn: str, alarm: Alarm, value: float | None
    ) -> bool:
        return True


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def metric(name: str) -> Alarm:
    return Alarm(
        tenant_id=TENANT,
        name=name,
        namespace="App",
        metric_name="Load",
        dimensions=(),
        period=86400,  # not due during a test: only SetAlarmState moves them
        evaluation_periods=1,
        datapoints_to_alarm=1,
        threshold=10.0,
        comparison="GreaterThanThreshold",
        statistic="Average",
    )


def composite(name: str, rule: str, **changes: object) -> Alarm:
    base = replace(metric(name), rule=rule, alarm_actions=(TOPIC,), ok_actions=(TOPIC,))
    return replace(base, **changes)  # type: ignore[arg-type]


async def world(*names: str) -> tuple[AlarmService, Recorder, Clock]:
    clock = Clock(START)
    service = AlarmService(
        MemoryAlarmStore(), MetricsService(MemoryMetricStore(), clock=clock), REGION, clock=clock
    )
    recorder = Recorder()
    service.actions = recorder
    for name in names:
        await service.put_alarm(metric(name))
    return service, recorder, clock


async def state(service: AlarmService, name: str) -> AlarmState:
    alarm = await service.store.get(TENANT, name)
    assert alarm is not None
    return alarm.state


async def test_a_composite_follows_its_children_and_notifies_on_change() -> None:
    service, recorder, clock = await world("a", "b")
    await service.put_composite(composite("both", "ALARM(a) AND ALARM(b)"))
    # Evaluated at once: the children are INSUFFICIENT_DATA, the rule is false.
    assert await state(service, "both") is AlarmState.OK
    assert len(recorder.notified) == 1 and recorder.notified[0][1].startswith('OK: "both"')
    clock.now += timedelta(seconds=1)
    await service.set_state(TENANT, "a", "ALARM", "test", None)
    assert await state(service, "both") is AlarmState.OK
    clock.now += timedelta(seconds=1)
    await service.set_state(TENANT, "b", "ALARM", "test", None)
    assert await state(service, "both") is AlarmState.ALARM
    topic, subject, message = recorder.notified[-1]
    assert topic == TOPIC and subject.startswith('ALARM: "both" in ')
    assert '"AlarmRule": "ALARM(a) AND ALARM(b)"' in message
    held = await service.store.get(TENANT, "both")
    assert held is not None and held.state_reason.startswith(
        f"arn:aws:cloudwatch:{REGION}:{TENANT}:alarm:b transitioned to ALARM at "
    )
    clock.now += timedelta(seconds=1)
    await service.set_state(TENANT, "a", "OK", "test", None)
    assert await state(service, "both") is AlarmState.OK
    history, _ = await service.history(TENANT, name="both", item_type="StateUpdate")
    assert [h.summary for h in history] == [
        "Alarm updated from ALARM to OK",
        "Alarm updated from OK to ALARM",
        "Alarm updated from INSUFFICIENT_DATA to OK",
    ]
    # A composite of a composite follows too; SetAlarmState on a composite works.
    await service.put_composite(composite("top", "ALARM(both) OR ALARM(a)", ok_actions=()))
    clock.now += timedelta(seconds=1)
    await service.set_state(TENANT, "both", "ALARM", "by hand", None)
    assert await state(service, "top") is AlarmState.ALARM


async def test_put_composite_checks_children_cycles_and_actions() -> None:
    service, _, _ = await world("a")
    with pytest.raises(InvalidParameterValue, match="does not exist"):
        await service.put_composite(composite("c1", "ALARM(a) AND ALARM(nope)"))
    with pytest.raises(InvalidParameterValue, match="Invalid arn syntax"):
        await service.put_composite(composite("c1", "ALARM(a)", alarm_actions=(POLICY,)))
    await service.put_composite(composite("c1", "ALARM(a)"))
    await service.put_composite(composite("c2", "ALARM(c1)"))
    await service.put_composite(composite("c3", "OK(c2)"))
    with pytest.raises(InvalidParameterValue, match=r"cycle.*c1 -> c3 -> c2 -> c1"):
        await service.put_composite(composite("c1", "ALARM(a) OR ALARM(c3)"))
    with pytest.raises(InvalidParameterValue, match="cycle"):
        await service.put_composite(composite("c4", "ALARM(c4)"))
    with pytest.raises(InvalidParameterValue, match="composite"):
        await service.put_alarm(metric("c1"))
    with pytest.raises(InvalidParameterValue, match="metric alarm"):
        await service.put_composite(composite("a", "TRUE"))


async def test_describe_families_and_delete_rules() -> None:
    service, _, _ = await world("a", "b")
    await service.put_composite(composite("c1", "ALARM(a) AND OK(b)"))
    await service.put_composite(composite("c2", "ALARM(a)"))
    found, _ = await service.describe(TENANT)
    assert [a.name for a in found] == ["a", "b"]
    found, _ = await service.describe(TENANT, types=("CompositeAlarm",))
    assert [a.name for a in found] == ["c1", "c2"]
    everything = ("MetricAlarm", "CompositeAlarm")
    found, _ = await service.describe(TENANT, types=everything, children_of="c1")
    assert [a.name for a in found] == ["a", "b"]
    found, _ = await service.describe(TENANT, types=everything, parents_of="a")
    assert [a.name for a in found] == ["c1", "c2"]
    with pytest.raises(InvalidParameterValue, match="used by the composite alarm c1"):
        await service.delete(TENANT, ["b"])
    with pytest.raises(InvalidParameterValue, match="one composite"):
        await service.delete(TENANT, ["c1", "c2"])
    await service.delete(TENANT, ["c1", "b"])
    found, _ = await service.describe(TENANT, types=everything)
    assert [a.name for a in found] == ["a", "c2"]


async def test_the_actions_suppressor() -> None:
    service, recorder, clock = await world("a", "deploying")
    await service.put_composite(
        composite(
            "c",
            "ALARM(a)",
            ok_actions=(),
            suppressor="deploying",
            suppressor_wait=30,
            suppressor_extension=120,
        )
    )
    # Suppressed while the suppressor is in ALARM: the state changes, no notification.
    await service.set_state(TENANT, "deploying", "ALARM", "deploy", None)
    await service.set_state(TENANT, "a", "ALARM", "x", None)
    assert await state(service, "c") is AlarmState.ALARM and recorder.notified == []
    assert await held_by(service) == "Alarm"
    # Still suppressed within the extension period after the suppressor left ALARM.
    await service.set_state(TENANT, "a", "OK", "x", None)
    clock.now += timedelta(seconds=10)
    await service.set_state(TENANT, "deploying", "OK", "done", None)
    clock.now += timedelta(seconds=60)
    await service.set_state(TENANT, "a", "ALARM", "x", None)
    assert recorder.notified == []
    assert await held_by(service) == "ExtensionPeriod"
    # After the extension, the composite waits 30 s for the suppressor before acting.
    await service.set_state(TENANT, "a", "OK", "x", None)
    clock.now += timedelta(seconds=200)
    await service.set_state(TENANT, "a", "ALARM", "x", None)
    assert recorder.notified == []
    assert await held_by(service) == "WaitPeriod"
    clock.now += timedelta(seconds=31)
    assert await service.evaluate_due() == 1
    assert await held_by(service) is None
    assert len(recorder.notified) == 1 and recorder.notified[0][1].startswith('ALARM: "c"')
    assert await service.evaluate_due() == 0  # acted once
    # A suppressor going to ALARM within the wait holds the actions back.
    await service.set_state(TENANT, "a", "OK", "x", None)
    await service.set_state(TENANT, "a", "ALARM", "x", None)
    await service.set_state(TENANT, "deploying", "ALARM", "deploy", None)
    clock.now += timedelta(seconds=31)
    await service.evaluate_due()
    assert len(recorder.notified) == 1


async def held_by(service: AlarmService) -> str | None:
    composite = await service.store.get(TENANT, "c")
    assert composite is not None
    return await suppressed_by(service, composite)
