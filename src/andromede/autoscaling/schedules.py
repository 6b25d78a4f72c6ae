"""Scheduled actions (decision 0159): PutScheduledUpdateGroupAction's checks and the first
firing it sets, the deletion, and :func:`fire_due`, which the reconciler calls for the
groups it holds: every action due changes the group's sizes in the same conditional write
that moves the action to its next firing (or removes it), so each fires once, whichever
gateway holds the group; each firing is a scaling activity."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from andromede.autoscaling import cron
from andromede.autoscaling.errors import GroupLimitExceeded, ScalingValidationError
from andromede.autoscaling.model import ActivityStatus, Group
from andromede.autoscaling.records import ScheduledAction
from andromede.autoscaling.service import AutoScalingService, iso

__all__ = [
    "ActionSpec",
    "delete_actions",
    "fire_due",
    "put_action",
    "scheduled_action_arn",
    "skip_due",
]

_MAX_NAME = 255


def scheduled_action_arn(region: str, group: Group, action: ScheduledAction) -> str:
    return (
        f"arn:aws:autoscaling:{region}:{group.tenant_id}:scheduledUpdateGroupAction:"
        f"{action.action_id}:autoScalingGroupName/{group.name}:scheduledActionName/{action.name}"
    )


@dataclass(frozen=True, slots=True)
class ActionSpec:
    name: str
    start_time: datetime | None = None
    end_time: datetime | None = None
    recurrence: str | None = None
    time_zone: str | None = None
    min_size: int | None = None
    max_size: int | None = None
    desired_capacity: int | None = None


def _first(spec: ActionSpec, now: datetime) -> datetime:
    """When the action fires first: StartTime when given (AWS: then by the recurrence),
    else the recurrence's next after now."""
    if not 1 <= len(spec.name) <= _MAX_NAME:
        raise ScalingValidationError(f"ScheduledActionName must be 1 to {_MAX_NAME} characters")
    if spec.min_size is None and spec.max_size is None and spec.desired_capacity is None:
        raise ScalingValidationError(
            "At least one of MinSize, MaxSize or DesiredCapacity must be specified"
        )
    if spec.start_time is not None and spec.start_time < now - timedelta(minutes=1):
        raise ScalingValidationError("Given start time is in the past")
    if spec.end_time is not None:
        if spec.end_time <= now:
            raise ScalingValidationError("Given end time is in the past")
        if spec.start_time is not None and spec.end_time <= spec.start_time:
            raise ScalingValidationError("Start time must be before the end time")
    if spec.recurrence is None:
        if spec.time_zone is not None:  # a StartTime is UTC whatever the zone; still a zone
            try:
                cron.zone(spec.time_zone)
            except cron.CronError as exc:
                raise ScalingValidationError(f"Invalid time zone: {exc}") from exc
        if spec.start_time is None:
            raise ScalingValidationError("A one-time scheduled action needs a StartTime")
        return spec.start_time
    try:
        schedule = cron.parse(spec.recurrence)
        where = cron.zone(spec.time_zone)
    except cron.CronError as exc:
        raise ScalingValidationError(f"Invalid recurrence or time zone: {exc}") from exc
    if spec.start_time is not None:
        return spec.start_time
    found = schedule.next_after(now, where)
    if found is None or (spec.end_time is not None and found > spec.end_time):
        raise ScalingValidationError(
            f"The recurrence {spec.recurrence!r} never fires before the end time"
        )
    return found


def _sizes(group: Group, action: ScheduledAction) -> tuple[int, int, int]:
    low = group.min_size if action.min_size is None else action.min_size
    high = group.max_size if action.max_size is None else action.max_size
    desired = group.desired_capacity
    if action.desired_capacity is not None:
        desired = action.desired_capacity
    desired = min(max(desired, low), high)
    return low, high, desired


async def put_action(
    service: AutoScalingService, tenant_id: str, group_name: str, spec: ActionSpec
) -> ScheduledAction:
    """Create the action, or replace the group's action of that name."""
    now = service.clock()
    first = _first(spec, now)
    limit = service.limits.max_scheduled_actions
    made: list[ScheduledAction] = []

    def change(group: Group) -> Group:
        held = {a.name: a for a in group.scheduled_actions}
        previous = held.get(spec.name)
        if previous is None and len(held) >= limit:
            raise GroupLimitExceeded(
                f"A group holds at most {limit} scheduled actions "
                "(max_scheduled_actions_per_autoscaling_group)"
            )
        action = ScheduledAction(
            name=spec.name,
            action_id=previous.action_id if previous else str(uuid.uuid4()),
            next_time=first,
            start_time=spec.start_time,
            end_time=spec.end_time,
            recurrence=spec.recurrence,
            time_zone=spec.time_zone,
            min_size=spec.min_size,
            max_size=spec.max_size,
            desired_capacity=spec.desired_capacity,
        )
        low, high, _ = _sizes(group, action)
        if low > high:
            raise ScalingValidationError(
                f"Max bound, {high}, must be greater than or equal to min bound, {low}"
            )
        if high > service.limits.max_instances_per_group:
            raise GroupLimitExceeded(
                f"A group here holds at most {service.limits.max_instances_per_group} instances"
            )
        made[:] = [action]
        held[spec.name] = action
        return replace(group, scheduled_actions=tuple(sorted(held.values(), key=_order)))

    await service.mutate(tenant_id, group_name, change)
    return made[0]


def _order(action: ScheduledAction) -> tuple[datetime, str]:
    return action.next_time, action.name


async def delete_actions(
    service: AutoScalingService, tenant_id: str, group_name: str, names: Sequence[str]
) -> list[str]:
    """Delete the actions named; the names not found (the batch call reports them)."""
    missing: list[str] = []

    def change(group: Group) -> Group | None:
        held = {a.name for a in group.scheduled_actions}
        missing[:] = [n for n in names if n not in held]
        kept = tuple(a for a in group.scheduled_actions if a.name not in set(names))
        if len(kept) == len(group.scheduled_actions):
            return None
        return replace(group, scheduled_actions=kept)

    await service.mutate(tenant_id, group_name, change)
    return missing


def _after(action: ScheduledAction, now: datetime) -> ScheduledAction | None:
    """The action moved to its next firing after ``now``, or None when it is spent."""
    if action.recurrence is None:
        return None
    try:
        following = cron.parse(action.recurrence).next_after(now, cron.zone(action.time_zone))
    except cron.CronError:
        return None
    if following is None or (action.end_time is not None and following > action.end_time):
        return None
    return replace(action, next_time=following)


async def fire_due(service: AutoScalingService, group: Group) -> Group:
    """Fire the group's due actions (the reconciler's group, held under its lease); the
    group as written. A firing that lost its write to another change is retried next round;
    one missed while no gateway ran fires once, late, then goes to its next occurrence."""
    now = service.clock()
    for action in [a for a in group.scheduled_actions if a.next_time <= now]:
        low, high, desired = _sizes(group, action)
        following = _after(action, now)
        actions = tuple(a for a in group.scheduled_actions if a != action)
        if following is not None:
            actions = tuple(sorted((*actions, following), key=_order))
        started = now
        if low > high or high > service.limits.max_instances_per_group:
            fired = replace(group, scheduled_actions=actions)
            status, message = (
                ActivityStatus.FAILED,
                (
                    f"The scheduled action {action.name} would set min {low} and max {high}, "
                    f"out of bounds (at most {service.limits.max_instances_per_group})"
                ),
            )
        else:
            fired = replace(
                group,
                scheduled_actions=actions,
                min_size=low,
                max_size=high,
                desired_capacity=desired,
            )
            status, message = ActivityStatus.SUCCESSFUL, ""
        if not await service.store.change(fired):
            return group
        cause = (
            f"At {iso(action.next_time)} a scheduled action update of AutoScalingGroup "
            f"constraints to min: {low}, max: {high}, desired: {desired} changing the desired "
            f"capacity from {group.desired_capacity} to {desired}."
        )
        group = replace(fired, revision=fired.revision + 1)
        await service.record(
            group, f"Executing scheduled action {action.name}", cause, status, started, message
        )
    return group


async def skip_due(service: AutoScalingService, group: Group) -> Group:
    """ScheduledActions suspended (decision 0182): the actions due are moved to their next
    firing (or removed when spent) without running, as AWS skips the actions whose time
    passed during the suspension."""
    now = service.clock()
    if not any(a.next_time <= now for a in group.scheduled_actions):
        return group

    def change(current: Group) -> Group | None:
        kept: list[ScheduledAction] = []
        for action in current.scheduled_actions:
            if action.next_time > now:
                kept.append(action)
            elif (following := _after(action, now)) is not None:
                kept.append(following)
        actions = tuple(sorted(kept, key=_order))
        if actions == current.scheduled_actions:
            return None
        return replace(current, scheduled_actions=actions)

    return await service.mutate(group.tenant_id, group.name, change)
