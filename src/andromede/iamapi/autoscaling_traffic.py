"""Auto Scaling's traffic sources on the wire (decision 0201): AttachTrafficSources,
DetachTrafficSources, DescribeTrafficSources, and the ``TrafficSources`` of
CreateAutoScalingGroup and DescribeAutoScalingGroups.

A traffic source here is an Elastic Load Balancing target group (``Type`` ``elbv2``, or no
type with a target group's ARN): the same attachment as AttachLoadBalancerTargetGroups
makes, so each API shows what the other attached, with the states of
``autoscaling.traffic``. ``elb`` (a Classic Load Balancer's name) is refused as AWS refuses
one that does not exist — there are no Classic Load Balancers here —, ``vpc-lattice`` and
any other type as AWS refuses an unknown type."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Final

from andromede.autoscaling.model import Group
from andromede.autoscaling.service import AutoScalingService
from andromede.autoscaling.traffic import listed
from andromede.http.xml import XmlWriter
from andromede.iamapi.autoscaling_target_groups import check_target_group, set_target_groups
from andromede.iamapi.autoscaling_wire import guarded
from andromede.iamapi.autoscaling_wire import page as paged
from andromede.iamapi.errors import QueryError
from andromede.iamapi.protocol import Call

__all__ = ["NAMED_GROUP", "TRAFFIC_PARAM", "handlers", "traffic_sources", "write_sources"]

NAMED_GROUP: Final = ("AttachTrafficSources", "DetachTrafficSources")
TRAFFIC_PARAM: Final = re.compile(r"^TrafficSources\.member\.\d+\.(Identifier|Type)$")
ELBV2: Final = "elbv2"
_TYPES: Final = ("elb", ELBV2, "vpc-lattice")  # AWS's; only elbv2 is served
_PER_CALL: Final = 10  # AWS: at most 10 traffic sources an attach or detach call
_MAX_RECORDS: Final = 50  # DescribeTrafficSources' MaxRecords bound (AWS's)


def traffic_sources(call: Call, region: str, *, required: bool = False) -> list[str]:
    """The target groups' ARNs the call's ``TrafficSources`` name, each checked."""
    arns: list[str] = []
    index = 1
    while True:
        identifier = call.get(f"TrafficSources.member.{index}.Identifier")
        kind = call.get(f"TrafficSources.member.{index}.Type")
        if identifier is None and kind is None:
            break
        if not identifier:
            raise QueryError(
                "ValidationError", f"TrafficSources.member.{index}.Identifier is required"
            )
        if kind is None and not identifier.startswith("arn:"):
            kind = "elb"  # AWS: a Classic Load Balancer's name needs no type
        if kind == "elb":
            raise QueryError(
                "ValidationError",
                f"Provided Load Balancers may not be valid. Please ensure they exist and try "
                f"again: {identifier[:256]} (no Classic Load Balancer here, decision 0201)",
            )
        if kind not in (None, ELBV2):
            why = " (VPC Lattice is not served here)" if kind in _TYPES else ""
            raise QueryError("ValidationError", f"Invalid traffic source type: {kind[:64]}{why}")
        check_target_group(identifier, region, call.tenant_id)
        arns.append(identifier)
        index += 1
    if required and not arns:
        raise QueryError("ValidationError", "TrafficSources must name at least one source")
    if len(arns) > _PER_CALL:
        raise QueryError("ValidationError", f"At most {_PER_CALL} traffic sources a call")
    return list(dict.fromkeys(arns))


def write_sources(xml: XmlWriter, group: Group) -> None:
    """DescribeAutoScalingGroups' ``TrafficSources``: the attached target groups."""
    xml.open("TrafficSources")
    for arn in group.target_groups:
        xml.open("member")
        xml.element("Identifier", arn)
        xml.element("Type", ELBV2)
        xml.close("member")
    xml.close("TrafficSources")


def handlers(
    service: AutoScalingService, region: str
) -> dict[str, tuple[Callable[[Call], Awaitable[None]], bool, bool]]:
    async def attach(call: Call) -> None:
        arns = traffic_sources(call, region, required=True)
        call.boolean("SkipZonalShiftValidation", default=False)  # no zonal shift here
        await set_target_groups(
            service, call.tenant_id, call.required("AutoScalingGroupName"),
            lambda held: tuple(dict.fromkeys((*held, *arns))),
        )  # fmt: skip

    async def detach(call: Call) -> None:
        arns = traffic_sources(call, region, required=True)
        await set_target_groups(
            service, call.tenant_id, call.required("AutoScalingGroupName"),
            lambda held: tuple(a for a in held if a not in arns),
        )  # fmt: skip

    async def describe(call: Call) -> None:
        kind = call.get("TrafficSourceType")
        if kind is not None and kind not in _TYPES:
            raise QueryError("ValidationError", f"Invalid traffic source type: {kind[:64]}")
        call.integer("MaxRecords", minimum=1, maximum=_MAX_RECORDS, default=_MAX_RECORDS)
        group = await guarded(service.group(call.tenant_id, call.required("AutoScalingGroupName")))
        states = sorted(listed(group)) if kind in (None, ELBV2) else []
        chosen, token = paged(call, states, lambda pair: pair[0])
        call.result.open("TrafficSources")
        for arn, state in chosen:
            call.result.open("member")
            call.result.element("TrafficSource", arn)  # AWS's deprecated name of Identifier
            call.result.element("State", state)
            call.result.element("Identifier", arn)
            call.result.element("Type", ELBV2)
            call.result.close("member")
        call.result.close("TrafficSources")
        if token is not None:
            call.result.element("NextToken", token)

    return {
        "AttachTrafficSources": (attach, True, True),
        "DetachTrafficSources": (detach, True, True),
        "DescribeTrafficSources": (describe, False, True),
    }
