"""Auto Scaling's target groups on the wire (decision 0191): AttachLoadBalancerTargetGroups,
DetachLoadBalancerTargetGroups and DescribeLoadBalancerTargetGroups, and the
``TargetGroupARNs`` of Create/UpdateAutoScalingGroup. The group keeps the ARNs; the load
balancers' upkeep registers its running instances in each and deregisters those leaving
(``wiring.loadbalancing``). An ARN must be an Elastic Load Balancing target group's of the
caller's account and Region; one that names no group is skipped by the upkeep, with a log.
Each attachment's state (decision 0201: Adding, Added, InService, Removing) is
``autoscaling.traffic``'s, shown here and by DescribeTrafficSources alike."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Final

from andromede.autoscaling.model import Group
from andromede.autoscaling.service import AutoScalingService
from andromede.autoscaling.traffic import ADDING, listed, with_target_groups
from andromede.iamapi.autoscaling_wire import guarded
from andromede.iamapi.autoscaling_wire import page as paged
from andromede.iamapi.errors import QueryError
from andromede.iamapi.protocol import Call

__all__ = [
    "NAMED_GROUP",
    "TARGET_GROUP_PARAM",
    "check_target_group",
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
        check_target_group(arn, region, call.tenant_id)
    return arns


def check_target_group(arn: str, region: str, tenant_id: str) -> None:
    """``arn`` names a target group of ``tenant_id`` in ``region``, else AWS's refusal."""
    found = _ARN.match(arn)
    if found is None or found["region"] != region or found["account"] != tenant_id:
        raise QueryError("ValidationError", f"Provided Target Groups may not be valid: {arn[:256]}")


async def set_target_groups(
    service: AutoScalingService,
    tenant_id: str,
    name: str,
    change: Callable[[tuple[str, ...]], tuple[str, ...]],
    *,
    joined: str = ADDING,
) -> Group:
    """The group's target groups ``change(held)``: one new there ``joined`` (Adding; a
    creation's InService, as AWS's), one let go Removing (decision 0201)."""

    def apply(group: Group) -> Group | None:
        wanted = change(group.target_groups)
        if len(wanted) > _PER_GROUP:
            raise QueryError(
                "LimitExceeded", f"A group can name at most {_PER_GROUP} target groups"
            )
        return with_target_groups(group, wanted, joined=joined)

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
        chosen, token = paged(call, sorted(listed(group)), lambda pair: pair[0])
        call.result.open("LoadBalancerTargetGroups")
        for arn, state in chosen:
            call.result.open("member")
            call.result.element("LoadBalancerTargetGroupARN", arn)
            call.result.element("State", state)
            call.result.close("member")
        call.result.close("LoadBalancerTargetGroups")
        if token is not None:
            call.result.element("NextToken", token)

    return {
        "AttachLoadBalancerTargetGroups": (attach, True, True),
        "DetachLoadBalancerTargetGroups": (detach, True, True),
        "DescribeLoadBalancerTargetGroups": (describe, False, True),
    }
