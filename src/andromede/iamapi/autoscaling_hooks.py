"""Auto Scaling's lifecycle hooks on the wire (decision 0159): PutLifecycleHook,
DescribeLifecycleHooks, DeleteLifecycleHook, DescribeLifecycleHookTypes,
CompleteLifecycleAction, RecordLifecycleActionHeartbeat, in AWS's shapes; the rules are
``autoscaling.hooks``'."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from andromede.autoscaling.hooks import (
    TRANSITIONS,
    HookSpec,
    complete,
    delete_hook,
    heartbeat,
    put_hook,
)
from andromede.autoscaling.model import group_arn
from andromede.autoscaling.notify import test_message
from andromede.autoscaling.service import AutoScalingService
from andromede.iamapi.autoscaling_wire import guarded, refuse_unhandled
from andromede.iamapi.protocol import Call

__all__ = ["handlers"]

_PUT_FIELDS = (
    "AutoScalingGroupName",
    "LifecycleHookName",
    "LifecycleTransition",
    "RoleARN",
    "NotificationTargetARN",
    "NotificationMetadata",
    "HeartbeatTimeout",
    "DefaultResult",
)
_GLOBAL_TIMEOUT_MAX = 172800  # AWS: 48 hours, or 100 heartbeat timeouts if less


def handlers(
    service: AutoScalingService, region: str
) -> dict[str, tuple[Callable[[Call], Awaitable[None]], bool, bool]]:
    async def put(call: Call) -> None:
        refuse_unhandled(call, _PUT_FIELDS)
        timeout = call.get("HeartbeatTimeout")
        spec = HookSpec(
            name=call.required("LifecycleHookName"),
            transition=call.get("LifecycleTransition"),
            heartbeat_timeout=(
                None
                if timeout is None
                else call.integer("HeartbeatTimeout", minimum=30, maximum=7200, default=3600)
            ),
            default_result=call.get("DefaultResult"),
            metadata=call.get("NotificationMetadata"),
            notification_target_arn=call.get("NotificationTargetARN"),
            role_arn=call.get("RoleARN"),
        )
        group = await guarded(
            put_hook(service, call.tenant_id, call.required("AutoScalingGroupName"), spec)
        )
        if spec.notification_target_arn and service.notifier is not None:
            # AWS sends the target a test notification when the hook is put.
            arn = group_arn(region, group.tenant_id, group.group_id, group.name)
            message = test_message(group, arn, service.clock())
            await service.notifier.send(call.tenant_id, spec.notification_target_arn, message)

    async def delete(call: Call) -> None:
        group = call.required("AutoScalingGroupName")
        name = call.required("LifecycleHookName")
        await guarded(delete_hook(service, call.tenant_id, group, name))

    async def describe(call: Call) -> None:
        group = await guarded(service.group(call.tenant_id, call.required("AutoScalingGroupName")))
        wanted = set(call.members("LifecycleHookNames"))
        xml = call.result
        xml.open("LifecycleHooks")
        for hook in group.hooks:
            if wanted and hook.name not in wanted:
                continue
            xml.open("member")
            xml.element("LifecycleHookName", hook.name)
            xml.element("AutoScalingGroupName", group.name)
            xml.element("LifecycleTransition", hook.transition)
            if hook.notification_target_arn is not None:
                xml.element("NotificationTargetARN", hook.notification_target_arn)
            if hook.role_arn is not None:
                xml.element("RoleARN", hook.role_arn)
            if hook.metadata is not None:
                xml.element("NotificationMetadata", hook.metadata)
            xml.element("HeartbeatTimeout", hook.heartbeat_timeout)
            xml.element("GlobalTimeout", min(hook.heartbeat_timeout * 100, _GLOBAL_TIMEOUT_MAX))
            xml.element("DefaultResult", hook.default_result)
            xml.close("member")
        xml.close("LifecycleHooks")

    async def types(call: Call) -> None:
        call.result.open("LifecycleHookTypes")
        for transition in TRANSITIONS:
            call.result.element("member", transition)
        call.result.close("LifecycleHookTypes")

    async def complete_action(call: Call) -> None:
        await guarded(
            complete(
                service,
                call.tenant_id,
                call.required("AutoScalingGroupName"),
                call.required("LifecycleHookName"),
                call.required("LifecycleActionResult"),
                call.get("LifecycleActionToken"),
                call.get("InstanceId"),
            )
        )

    async def beat(call: Call) -> None:
        await guarded(
            heartbeat(
                service,
                call.tenant_id,
                call.required("AutoScalingGroupName"),
                call.required("LifecycleHookName"),
                call.get("LifecycleActionToken"),
                call.get("InstanceId"),
            )
        )

    return {
        "PutLifecycleHook": (put, True, True),
        "DeleteLifecycleHook": (delete, True, True),
        "DescribeLifecycleHooks": (describe, False, True),
        "DescribeLifecycleHookTypes": (types, False, True),
        "CompleteLifecycleAction": (complete_action, True, True),
        "RecordLifecycleActionHeartbeat": (beat, True, True),
    }
