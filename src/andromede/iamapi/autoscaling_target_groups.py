"""Auto Scaling's target groups on the wire (decision 0191): AttachLoadBalancerTargetGroups,
DetachLoadBalancerTargetGroups and DescribeLoadBalancerTargetGroups, and the
``TargetGroupARNs`` of Create/UpdateAutoScalingGroup. The group keeps the ARNs; the load
balancers' upkeep registers its running instances in each and deregisters those leaving
(``wiring.loadbalancing``). An ARN must be an Elastic Load Balancing target group's of the
caller's account and Region; one that names no group is skipped by the upkeep, with a log."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Final

from andromede.autoscaling.model import Group
from andromede.autoscaling.service import AutoScalingService
from andromede.iamapi.autoscaling_wire import guarded
from andromede.iamapi.autoscaling_wire import page as paged
from andromede.iamapi.errors import QueryError
from andromede.iamapi.protocol import Call

__all__ = [
    "NAMED_GROUP",
    "TARGET_GROUP_PARAM",
    "handlers",
    "set_target_groups",
    "target_group_arns",
]

NAMED_GROUP: Final = ("AttachLoadBalancerTargetGroups", "DetachLoadBalancerTargetGroups")
TARGET_GROUP_PARAM: Final = re.compile(r"^TargetGroupARNs\.member\.\d+$")
_PER_CALL: Final = 10  # AWS: at most 10 target groups an attach or detach call
_PER_GROUP: Final = 100
_ARN: Final = re.compile(
    r"^arn:aws:elasticloadbalancing:(?P<region>[^:]+):(?P<account>\d+):targetgroup/[^/]+/[0-9a-f]+$"
)


def target_group_arns(call: Call, region: str, *, required: bool) -> list[str] | None:
    """The call's ``TargetGroupARNs`` (None when it names none and none is required), each
    a target group's ARN of the caller's account and ``region``."""
    arns = list(dict.fromkeys(call.members("TargetGroupARNs")))
    if not arns:
        if required:
            raise QueryError(
                "ValidationError", "TargetGroupARNs must name at least one target group"
            )
        return None
    for arn in arns:
        found = _ARN.match(arn)
        if found is None or found["region"] != region or found["account"] != call.tenant_id:
            raise QueryError(
                "ValidationError", f"Provided Target Groups may not be valid: {arn[:256]}"
            )
    return arns


async def set_target_groups(
    service: AutoScalingService,
    tenant_id: str,
    name: str,
    change: Callable[[tuple[str, ...]], tuple[str, ...]],
) -> Group:
    def apply(group: Group) -> Group | None:
        wanted = change(group.target_groups)
        if len(wanted) > _PER_GROUP:
            raise QueryError(
                "LimitExceeded", f"A group can name at most {_PER_GROUP} target groups"
            )
        return None if wanted == group.target_groups else replace(group, target_groups=wanted)

    return await guarded(service.mutate(tenant_id, name, apply))


def handlers(
    service: AutoScalingService, region: str
) -> dict[str, tuple[Callable[[Call], Awaitable[None]], bool, bool]]:
    async def attach(call: Call) -> None:
        arns = target_group_arns(call, region, required=True) or []
        if len(arns) > _PER_CALL:
            raise QueryError("ValidationError", f"At most {_PER_CALL} target groups a call")
        await set_target_groups(
            service, call.tenant_id, call.required("AutoScalingGroupName"),
            lambda held: tuple(dict.fromkeys((*held, *arns))),
        )  # fmt: skip

    async def detach(call: Call) -> None:
        arns = target_group_arns(call, region, required=True) or []
        if len(arns) > _PER_CALL:
            raise QueryError("ValidationError", f"At most {_PER_CALL} target groups a call")
        await set_target_groups(
            service, call.tenant_id, call.required("AutoScalingGroupName"),
            lambda held: tuple(a for a in held if a not in arns),
        )  # fmt: skip

    async def describe(call: Call) -> None:
        group = await guarded(service.group(call.tenant_id, call.required("AutoScalingGroupName")))
        chosen, token = paged(call, list(group.target_groups), lambda arn: arn)
        call.result.open("LoadBalancerTargetGroups")
        for arn in chosen:
            call.result.open("member")
            call.result.element("LoadBalancerTargetGroupARN", arn)
            call.result.element("State", "Added")
            call.result.close("member")
        call.result.close("LoadBalancerTargetGroups")
        if token is not None:
            call.result.element("NextToken", token)

    return {
        "AttachLoadBalancerTargetGroups": (attach, True, True),
        "DetachLoadBalancerTargetGroups": (detach, True, True),
        "DescribeLoadBalancerTargetGroups": (describe, False, True),
    }
