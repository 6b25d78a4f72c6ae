"""Composite alarms in the alarm service (decision 0184): PutCompositeAlarm's checks (the
rule parsed, its alarms existing in the account, no cycle), a composite's evaluation when
one of its alarms changes state, and its ActionsSuppressor.

Composites live in the metric alarms' store, as alarms with a ``rule``: no migration, one
revision discipline, one history. They are never due for the evaluator's round (their
``next_evaluation`` is :data:`NEVER`) except while their actions wait for the suppressor
(``ActionsSuppressorWaitPeriod``): then they are due at the wait's end.

A composite is re-evaluated in the call that wrote its child's change (the evaluator's
round, SetAlarmState), right after that change was written: a composite sees its children's
states as stored, and a change lost to a concurrent writer is retried by the next one.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

from andromede.metrics.alarms import Alarm, AlarmState, alarm_arn, check_actions
from andromede.metrics.composite import children, evaluate_rule, parse_rule
from andromede.metrics.errors import InvalidParameterValue, LimitExceeded

if TYPE_CHECKING:
    from andromede.metrics.alarm_service import AlarmService

__all__ = [
    "NEVER",
    "check_composite",
    "composite_message",
    "deferred",
    "parents_changed",
    "put_composite",
    "suppressed",
    "suppressed_by",
]

# The next evaluation of a composite with nothing pending: never due.
NEVER: Final = 2**62
# How deep a change travels up composites of composites (cycles are refused at put).
_DEPTH: Final = 100


def check_composite(alarm: Alarm, region: str) -> Alarm:
    """PutCompositeAlarm's own checks; the alarm with its actions deduplicated."""
    if not 1 <= len(alarm.name) <= 255:
        raise InvalidParameterValue("AlarmName must be 1 to 255 characters.")
    parse_rule(alarm.rule or "", region, alarm.tenant_id)
    if alarm.description is not None and len(alarm.description) > 1024:
        raise InvalidParameterValue("AlarmDescription may be 1,024 characters at most.")
    if len(alarm.tags) > 50 or any(not 1 <= len(k) <= 128 or len(v) > 256 for k, v in alarm.tags):
        raise InvalidParameterValue("At most 50 tags, keys of 1 to 128 characters.")
    if alarm.suppressor_wait < 0 or alarm.suppressor_extension < 0:
        raise InvalidParameterValue(
            "ActionsSuppressorWaitPeriod and ActionsSuppressorExtensionPeriod are seconds, "
            "0 or more."
        )
    suppressor = alarm.suppressor
    if suppressor is not None and suppressor.startswith("arn:"):
        prefix = alarm_arn(region, alarm.tenant_id, "")
        if not suppressor.startswith(prefix):
            raise InvalidParameterValue(f"{suppressor[:256]} is not an alarm of this account.")
        suppressor = suppressor[len(prefix) :]
    # Composite alarms notify SNS topics only: AWS refuses Auto Scaling actions on them.
    return replace(
        alarm,
        suppressor=suppressor,
        alarm_actions=check_actions(
            alarm.alarm_actions, "AlarmActions", region, alarm.tenant_id, scaling=False
        ),
        ok_actions=check_actions(
            alarm.ok_actions, "OKActions", region, alarm.tenant_id, scaling=False
        ),
        insufficient_data_actions=check_actions(
            alarm.insufficient_data_actions,
            "InsufficientDataActions",
            region,
            alarm.tenant_id,
            scaling=False,
        ),
    )


def _rule_children(alarm: Alarm, region: str) -> list[str]:
    return children(parse_rule(alarm.rule or "", region, alarm.tenant_id))


def _cycle(alarm: Alarm, held: dict[str, Alarm], region: str) -> list[str] | None:
    """A path of composites from ``alarm`` back to itself, if its rule would close one."""
    graph = {a.name: _rule_children(a, region) for a in held.values() if a.composite}
    graph[alarm.name] = _rule_children(alarm, region)
    stack: list[tuple[str, list[str]]] = [(c, [alarm.name, c]) for c in graph[alarm.name]]
    seen: set[str] = set()
    while stack:
        name, path = stack.pop()
        if name == alarm.name:
            return path
        if name in seen:
            continue
        seen.add(name)
        stack.extend((c, [*path, c]) for c in graph.get(name, ()))
    return None


async def put_composite(service: AlarmService, alarm: Alarm) -> Alarm:
    """Create or overwrite the composite (its state kept); it is evaluated at once."""
    alarm = check_composite(alarm, service.region)
    held = {a.name: a for a in await service.store.alarms(alarm.tenant_id)}
    before = held.get(alarm.name)
    if before is not None and not before.composite:
        raise InvalidParameterValue(f"{alarm.name[:255]} is a metric alarm, not a composite.")
    if before is None and len(held) >= service.limits.max_alarms:
        raise LimitExceeded(
            f"The account holds {service.limits.max_alarms} alarms already (alarm_max_per_account)."
        )
    names = _rule_children(alarm, service.region)
    missing = [c for c in names if c not in held and c != alarm.name]  # itself: a cycle
    if missing:
        raise InvalidParameterValue(
            f"Error in alarm rule: alarm {missing[0][:255]} does not exist."
        )
    if alarm.suppressor is not None and alarm.suppressor not in held:
        raise InvalidParameterValue(f"ActionsSuppressor {alarm.suppressor[:255]} does not exist.")
    path = _cycle(alarm, held, service.region)
    if path is not None:
        raise InvalidParameterValue(
            "The alarm rule would make a cycle of composite alarms: " + " -> ".join(path)[:512]
        )
    stored = await service.write_definition(alarm, before, service.clock(), NEVER)
    written = await service.store.get(alarm.tenant_id, alarm.name)
    if written is not None:
        await _evaluate(service, written, None, 0)
    return stored


async def _evaluate(
    service: AlarmService, composite: Alarm, trigger: Alarm | None, depth: int
) -> None:
    """Set the composite's state from its children's stored states; act on a change."""
    rule = parse_rule(composite.rule or "", service.region, composite.tenant_id)
    states = {}
    for name in children(rule):
        child = await service.store.get(composite.tenant_id, name)
        if child is not None:
            states[name] = child.state.value
    state = AlarmState.ALARM if evaluate_rule(rule, states) else AlarmState.OK
    if state is composite.state:
        return
    now = service.clock()
    if trigger is None:
        reason = f"Composite alarm rule evaluated to {state.value == 'ALARM'}."
        data: dict[str, Any] = {"triggeringAlarms": []}
    else:
        arn = alarm_arn(service.region, trigger.tenant_id, trigger.name)
        reason = (
            f"{arn} transitioned to {trigger.state.value} at "
            f"{trigger.state_updated.strftime('%A %d %B, %Y %H:%M:%S %Z')}"
        )
        data = {
            "triggeringAlarms": [
                {
                    "arn": arn,
                    "state": {"value": trigger.state.value,
                              "timestamp": trigger.state_updated.isoformat()},
                }
            ]
        }  # fmt: skip
    changed = replace(
        composite,
        state=state,
        state_reason=reason[:1023],
        state_reason_data=json.dumps(data),
        state_updated=now,
    )
    if await service.store.change(changed):
        await service.changed(composite.state, changed, None, depth + 1, before=composite)


async def parents_changed(service: AlarmService, child: Alarm, depth: int) -> None:
    """Re-evaluate every composite naming ``child`` after its state changed."""
    if depth >= _DEPTH:
        return
    for alarm in await service.store.alarms(child.tenant_id):
        if alarm.composite and child.name in _rule_children(alarm, service.region):
            await _evaluate(service, alarm, child, depth)


async def suppressed(service: AlarmService, composite: Alarm) -> bool:
    """Whether the composite's suppressor holds its actions back now: while it is in ALARM,
    and for ``ActionsSuppressorExtensionPeriod`` seconds after it left ALARM."""
    return await suppressed_by(service, composite) in ("Alarm", "ExtensionPeriod")


async def suppressed_by(service: AlarmService, composite: Alarm) -> str | None:
    """AWS's ``ActionsSuppressedBy`` of the composite now: ``Alarm`` (its suppressor is in
    ALARM), ``WaitPeriod`` (its actions wait for the suppressor), ``ExtensionPeriod`` (the
    suppressor left ALARM less than the extension ago), or None."""
    if composite.suppressor is None:
        return None
    suppressor = await service.store.get(composite.tenant_id, composite.suppressor)
    if suppressor is None:
        return None
    if suppressor.state is AlarmState.ALARM:
        return "Alarm"
    now = service.clock()
    if now - suppressor.state_updated <= timedelta(seconds=composite.suppressor_extension):
        history = await service.store.history(composite.tenant_id, suppressor.name)
        last = next((h for h in history if h.item_type == "StateUpdate"), None)
        if last is not None and last.summary.startswith("Alarm updated from ALARM "):
            return "ExtensionPeriod"
    if composite.next_evaluation != NEVER and composite.state is AlarmState.ALARM:
        return "WaitPeriod"
    return None


def waits(composite: Alarm, suppressor: Alarm | None) -> bool:
    """Whether a composite just gone to ALARM waits for its suppressor before acting:
    ``ActionsSuppressorWaitPeriod`` seconds for it to go to ALARM."""
    return (
        composite.state is AlarmState.ALARM
        and suppressor is not None
        and suppressor.state is not AlarmState.ALARM
        and composite.suppressor_wait > 0
    )


async def deferred(service: AlarmService, composite: Alarm) -> None:
    """A composite due: its wait for the suppressor ended. It acts now unless suppressed
    or no longer in the state it waited in (the claim already set it back to NEVER)."""
    waited_since = composite.state_updated
    if composite.state is not AlarmState.ALARM:
        return
    if service.clock() - waited_since < timedelta(seconds=composite.suppressor_wait):
        return
    if await suppressed(service, composite):
        return
    history = await service.store.history(composite.tenant_id, composite.name)
    last = next((h for h in history if h.item_type == "StateUpdate"), None)
    old = AlarmState.OK
    if last is not None:
        old = AlarmState(json.loads(last.data)["oldState"]["stateValue"])
    await service.act(composite, old, None)


def composite_message(alarm: Alarm, old: AlarmState, region: str, region_name: str) -> str:
    """AWS's JSON of a composite's state change as SNS subscribers receive it."""
    return json.dumps(
        {
            "AlarmName": alarm.name,
            "AlarmDescription": alarm.description,
            "AWSAccountId": alarm.tenant_id,
            "NewStateValue": alarm.state.value,
            "NewStateReason": alarm.state_reason,
            "StateChangeTime": alarm.state_updated.isoformat(),
            "Region": region_name,
            "AlarmArn": alarm_arn(region, alarm.tenant_id, alarm.name),
            "OldStateValue": old.value,
            "AlarmRule": alarm.rule,
            "OKActions": list(alarm.ok_actions),
            "AlarmActions": list(alarm.alarm_actions),
            "InsufficientDataActions": list(alarm.insufficient_data_actions),
        }
    )


async def check_delete(service: AlarmService, tenant_id: str, names: list[str]) -> None:
    """DeleteAlarms' composite rules: one composite per call at most, and no alarm a
    remaining composite names (its rule or its suppressor) is deleted."""
    held = {a.name: a for a in await service.store.alarms(tenant_id)}
    going = set(names)
    if sum(1 for n in going if n in held and held[n].composite) > 1:
        raise InvalidParameterValue("DeleteAlarms may delete one composite alarm at a time.")
    for alarm in held.values():
        if not alarm.composite or alarm.name in going:
            continue
        named = {*_rule_children(alarm, service.region), alarm.suppressor}
        for name in sorted(going & {n for n in named if n}):
            raise InvalidParameterValue(
                f"Alarm {name[:255]} is used by the composite alarm {alarm.name[:255]}: change "
                "or delete that alarm first."
            )


async def related(
    service: AlarmService, tenant_id: str, children_of: str | None, parents_of: str | None
) -> set[str] | None:
    """DescribeAlarms' ChildrenOfAlarmName / ParentsOfAlarmName: the names it answers."""
    if children_of is None and parents_of is None:
        return None
    if children_of is not None and parents_of is not None:
        raise InvalidParameterValue(
            "ChildrenOfAlarmName and ParentsOfAlarmName cannot both be given."
        )
    held = await service.store.alarms(tenant_id)
    if children_of is not None:
        parent = next((a for a in held if a.name == children_of and a.composite), None)
        return set() if parent is None else set(_rule_children(parent, service.region))
    return {a.name for a in held if a.composite and parents_of in _rule_children(a, service.region)}
