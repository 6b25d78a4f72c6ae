"""Auto Scaling's scheduled actions on the wire (decision 0159): PutScheduledUpdateGroupAction,
BatchPutScheduledUpdateGroupAction, DescribeScheduledActions, DeleteScheduledAction,
BatchDeleteScheduledAction, in AWS's shapes; the rules are ``autoscaling.schedules``'."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Final

from andromede.autoscaling.errors import AutoScalingError
from andromede.autoscaling.model import Group
from andromede.autoscaling.records import ScheduledAction
from andromede.autoscaling.schedules import (
    ActionSpec,
    delete_actions,
    put_action,
    scheduled_action_arn,
)
from andromede.autoscaling.service import AutoScalingService
from andromede.http.xml import XmlWriter
from andromede.iamapi.autoscaling_wire import guarded, page, refuse_unhandled, wire_error
from andromede.iamapi.errors import QueryError
from andromede.iamapi.protocol import Call, iso8601

__all__ = ["handlers"]

_FIELDS: Final = (
    "ScheduledActionName",
    "StartTime",
    "Time",
    "EndTime",
    "Recurrence",
    "MinSize",
    "MaxSize",
    "DesiredCapacity",
    "TimeZone",
)
_MAX_BATCH = 50
_MAX_SIZE = 1_000_000


def _moment(call: Call, name: str) -> datetime | None:
    raw = call.get(name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError as exc:
        raise QueryError("ValidationError", f"{name} is not an ISO 8601 time") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _spec(call: Call, prefix: str) -> ActionSpec:
    def size(name: str) -> int | None:
        if call.get(prefix + name) is None:
            return None
        return call.integer(prefix + name, minimum=0, maximum=_MAX_SIZE, default=0)

    return ActionSpec(
        name=call.required(prefix + "ScheduledActionName"),
        start_time=_moment(call, prefix + "StartTime") or _moment(call, prefix + "Time"),
        end_time=_moment(call, prefix + "EndTime"),
        recurrence=call.get(prefix + "Recurrence"),
        time_zone=call.get(prefix + "TimeZone"),
        min_size=size("MinSize"),
        max_size=size("MaxSize"),
        desired_capacity=size("DesiredCapacity"),
    )


def _write(xml: XmlWriter, region: str, group: Group, action: ScheduledAction) -> None:
    xml.element("AutoScalingGroupName", group.name)
    xml.element("ScheduledActionName", action.name)
    xml.element("ScheduledActionARN", scheduled_action_arn(region, group, action))
    shown = action.start_time or action.next_time
    xml.element("Time", iso8601(action.next_time))
    xml.element("StartTime", iso8601(shown))
    if action.end_time is not None:
        xml.element("EndTime", iso8601(action.end_time))
    if action.recurrence is not None:
        xml.element("Recurrence", action.recurrence)
    for name, value in (
        ("MinSize", action.min_size),
        ("MaxSize", action.max_size),
        ("DesiredCapacity", action.desired_capacity),
    ):
        if value is not None:
            xml.element(name, value)
    if action.time_zone is not None:
        xml.element("TimeZone", action.time_zone)


def _batch(call: Call, prefix: str) -> list[int]:
    indexes = []
    index = 1
    while any(call.get(f"{prefix}.member.{index}.{f}") is not None for f in _FIELDS):
        indexes.append(index)
        index += 1
    if not 1 <= len(indexes) <= _MAX_BATCH:
        raise QueryError("ValidationError", f"{prefix} holds 1 to {_MAX_BATCH} actions")
    return indexes


def _failed(xml: XmlWriter, wrapper: str, failures: list[tuple[str, str, str]]) -> None:
    xml.open(wrapper)
    for name, code, message in failures:
        xml.open("member")
        xml.element("ScheduledActionName", name)
        xml.element("ErrorCode", code)
        xml.element("ErrorMessage", message)
        xml.close("member")
    xml.close(wrapper)


def _key(item: tuple[Group, ScheduledAction]) -> str:
    return f"{item[0].name}\n{item[1].name}"


def handlers(
    service: AutoScalingService, region: str
) -> dict[str, tuple[Callable[[Call], Awaitable[None]], bool, bool]]:
    async def put(call: Call) -> None:
        refuse_unhandled(call, ("AutoScalingGroupName", *_FIELDS))
        spec = _spec(call, "")
        await guarded(
            put_action(service, call.tenant_id, call.required("AutoScalingGroupName"), spec)
        )

    async def batch_put(call: Call) -> None:
        name = call.required("AutoScalingGroupName")
        await guarded(service.group(call.tenant_id, name))
        failures = []
        for index in _batch(call, "ScheduledUpdateGroupActions"):
            prefix = f"ScheduledUpdateGroupActions.member.{index}."
            action_name = call.get(prefix + "ScheduledActionName") or ""
            try:
                await put_action(service, call.tenant_id, name, _spec(call, prefix))
            except AutoScalingError as exc:
                error = wire_error(exc)
                failures.append((action_name, error.code, str(exc)))
            except QueryError as exc:
                failures.append((action_name, exc.code, exc.message))
        _failed(call.result, "FailedScheduledUpdateGroupActions", failures)

    async def delete(call: Call) -> None:
        name = call.required("ScheduledActionName")
        group = call.required("AutoScalingGroupName")
        missing = await guarded(delete_actions(service, call.tenant_id, group, [name]))
        if missing:
            raise QueryError("ValidationError", f"Scheduled action not found - {name[:255]}")

    async def batch_delete(call: Call) -> None:
        names = call.members("ScheduledActionNames")
        if not 1 <= len(names) <= _MAX_BATCH:
            raise QueryError("ValidationError", f"ScheduledActionNames holds 1 to {_MAX_BATCH}")
        group = call.required("AutoScalingGroupName")
        missing = await guarded(delete_actions(service, call.tenant_id, group, names))
        failures = [(n, "ValidationError", "Scheduled action not found") for n in missing]
        _failed(call.result, "FailedScheduledActions", failures)

    async def describe(call: Call) -> None:
        name = call.get("AutoScalingGroupName")
        if name:
            groups = [await guarded(service.group(call.tenant_id, name))]
        else:
            groups = [g for g in await service.store.groups(call.tenant_id) if not g.deleting]
        wanted = set(call.members("ScheduledActionNames"))
        after, before = _moment(call, "StartTime"), _moment(call, "EndTime")
        found = [
            (g, a)
            for g in groups
            for a in g.scheduled_actions
            if (not wanted or a.name in wanted)
            and (after is None or a.next_time >= after)
            and (before is None or a.next_time <= before)
        ]
        found.sort(key=_key)
        chosen, token = page(call, found, _key)
        xml = call.result
        xml.open("ScheduledUpdateGroupActions")
        for group, action in chosen:
            xml.open("member")
            _write(xml, region, group, action)
            xml.close("member")
        xml.close("ScheduledUpdateGroupActions")
        if token is not None:
            xml.element("NextToken", token)

    return {
        "PutScheduledUpdateGroupAction": (put, True, False),
        "BatchPutScheduledUpdateGroupAction": (batch_put, True, True),
        "DeleteScheduledAction": (delete, True, False),
        "BatchDeleteScheduledAction": (batch_delete, True, True),
        "DescribeScheduledActions": (describe, False, True),
    }
