"""Auto Scaling's instance and process controls on the wire (decision 0182):
SetInstanceProtection, EnterStandby, ExitStandby, AttachInstances, DetachInstances,
SuspendProcesses, ResumeProcesses, DescribeScalingProcessTypes, EnableMetricsCollection and
DisableMetricsCollection, in AWS's shapes; the rules are ``autoscaling.controls``'. And
(decision 0198's session-49 addendum) SetInstanceHealth, ``autoscaling.instance_health``'s."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Final

from andromede.autoscaling import controls
from andromede.autoscaling.instance_health import set_instance_health
from andromede.autoscaling.model import Activity
from andromede.autoscaling.service import AutoScalingService
from andromede.iamapi.autoscaling_wire import guarded, write_activity
from andromede.iamapi.errors import QueryError
from andromede.iamapi.protocol import Call

__all__ = ["NAMED_GROUP", "handlers"]

# Checked on the group's ARN, as AWS's authorisation reference has them.
NAMED_GROUP: Final = (
    "SetInstanceProtection",
    "EnterStandby",
    "ExitStandby",
    "AttachInstances",
    "DetachInstances",
    "SuspendProcesses",
    "ResumeProcesses",
    "EnableMetricsCollection",
    "DisableMetricsCollection",
)


def _activities(call: Call, activities: Sequence[Activity]) -> None:
    call.result.open("Activities")
    for activity in activities:
        call.result.open("member")
        write_activity(call.result, activity)
        call.result.close("member")
    call.result.close("Activities")


def handlers(
    service: AutoScalingService, region: str
) -> dict[str, tuple[Callable[[Call], Awaitable[None]], bool, bool]]:
    del region  # the group's ARN is the caller's

    async def protect(call: Call) -> None:
        call.required("ProtectedFromScaleIn")
        await guarded(
            controls.set_protection(
                service,
                call.tenant_id,
                call.required("AutoScalingGroupName"),
                call.members("InstanceIds"),
                call.boolean("ProtectedFromScaleIn", default=False),
            )
        )

    async def enter_standby(call: Call) -> None:
        call.required("ShouldDecrementDesiredCapacity")
        done = await guarded(
            controls.enter_standby(
                service,
                call.tenant_id,
                call.required("AutoScalingGroupName"),
                call.members("InstanceIds"),
                decrement=call.boolean("ShouldDecrementDesiredCapacity", default=False),
            )
        )
        _activities(call, done)

    async def exit_standby(call: Call) -> None:
        done = await guarded(
            controls.exit_standby(
                service,
                call.tenant_id,
                call.required("AutoScalingGroupName"),
                call.members("InstanceIds"),
            )
        )
        _activities(call, done)

    async def attach(call: Call) -> None:
        await guarded(
            controls.attach(
                service,
                call.tenant_id,
                call.required("AutoScalingGroupName"),
                call.members("InstanceIds"),
            )
        )

    async def detach(call: Call) -> None:
        call.required("ShouldDecrementDesiredCapacity")
        done = await guarded(
            controls.detach(
                service,
                call.tenant_id,
                call.required("AutoScalingGroupName"),
                call.members("InstanceIds"),
                decrement=call.boolean("ShouldDecrementDesiredCapacity", default=False),
            )
        )
        _activities(call, done)

    def processes(suspend: bool) -> Callable[[Call], Awaitable[None]]:
        async def handler(call: Call) -> None:
            await guarded(
                controls.set_processes(
                    service,
                    call.tenant_id,
                    call.required("AutoScalingGroupName"),
                    call.members("ScalingProcesses"),
                    suspend=suspend,
                )
            )

        return handler

    async def set_health(call: Call) -> None:
        await guarded(
            set_instance_health(
                service,
                call.tenant_id,
                call.required("InstanceId"),
                call.required("HealthStatus"),
                respect_grace_period=call.boolean("ShouldRespectGracePeriod", default=True),
            )
        )

    async def process_types(call: Call) -> None:
        call.result.open("Processes")
        for name in controls.PROCESSES:
            call.result.open("member")
            call.result.element("ProcessName", name)
            call.result.close("member")
        call.result.close("Processes")

    async def enable_metrics(call: Call) -> None:
        if call.required("Granularity") != "1Minute":
            raise QueryError("ValidationError", "Granularity must be 1Minute")
        await guarded(
            controls.set_metrics(
                service,
                call.tenant_id,
                call.required("AutoScalingGroupName"),
                call.members("Metrics"),
                enable=True,
            )
        )

    async def disable_metrics(call: Call) -> None:
        await guarded(
            controls.set_metrics(
                service,
                call.tenant_id,
                call.required("AutoScalingGroupName"),
                call.members("Metrics"),
                enable=False,
            )
        )

    return {
        "SetInstanceProtection": (protect, True, True),
        "EnterStandby": (enter_standby, True, True),
        "ExitStandby": (exit_standby, True, True),
        "AttachInstances": (attach, True, False),
        "DetachInstances": (detach, True, True),
        "SuspendProcesses": (processes(True), True, False),
        "ResumeProcesses": (processes(False), True, False),
        "DescribeScalingProcessTypes": (process_types, False, True),
        "SetInstanceHealth": (set_health, True, False),
        "EnableMetricsCollection": (enable_metrics, True, False),
        "DisableMetricsCollection": (disable_metrics, True, False),
    }
