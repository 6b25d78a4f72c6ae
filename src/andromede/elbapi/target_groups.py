"""ELBv2's target group calls (decision 0191): Create/Describe/Modify/DeleteTargetGroup,
Register/DeregisterTargets, DescribeTargetHealth, Describe/ModifyTargetGroupAttributes."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, Final

from andromede.elbapi.wire import (
    attributes,
    page,
    tags,
    write_attributes,
    write_group,
    write_health,
)
from andromede.iamapi.errors import QueryError
from andromede.iamapi.protocol import Call
from andromede.loadbalancing.application import ALB_TG_PROTOCOLS, group_keys
from andromede.loadbalancing.model import TG_ATTRIBUTES, HealthCheck, TargetGroup
from andromede.loadbalancing.service import LoadBalancingService
from andromede.loadbalancing.target_groups import TgSpec

__all__ = ["handlers"]

Handler = Callable[[Call], Awaitable[None]]
_HEALTH: Final = (
    r"HealthCheckProtocol|HealthCheckPort|HealthCheckEnabled|HealthCheckIntervalSeconds"
    r"|HealthCheckTimeoutSeconds|HealthyThresholdCount|UnhealthyThresholdCount"
    r"|HealthCheckPath|Matcher\.HttpCode"
)
# ELBv2's default timeout of an NLB's HTTP health check (10 s for TCP and HTTPS).
_HTTP_TIMEOUT: Final = 6


def _refuse(call: Call, handled: str) -> None:
    pattern = re.compile(rf"^(Action|Version|{handled})$")
    for name in call.params:
        if not pattern.match(name):
            raise QueryError(
                "ValidationError",
                f"{call.action}: the parameter {name[:64]} is not supported here yet "
                "(decision 0191)",
            )


def _health_changes(call: Call) -> dict[str, Any]:
    """The health check fields a call sets (HealthCheck's names), each within AWS's range."""
    found: dict[str, Any] = {}
    if (protocol := call.get("HealthCheckProtocol")) is not None:
        found["protocol"] = protocol
    if (port := call.get("HealthCheckPort")) is not None:
        found["port"] = port
    if (path := call.get("HealthCheckPath")) is not None:
        found["path"] = path
    if (matcher := call.get("Matcher.HttpCode")) is not None:
        found["matcher"] = matcher
    if call.get("HealthCheckEnabled") is not None:
        found["enabled"] = call.boolean("HealthCheckEnabled", default=True)
    for name, field, low, high in (
        ("HealthCheckIntervalSeconds", "interval", 5, 300),
        ("HealthCheckTimeoutSeconds", "timeout", 2, 120),
        ("HealthyThresholdCount", "healthy_threshold", 2, 10),
        ("UnhealthyThresholdCount", "unhealthy_threshold", 2, 10),
    ):
        if call.get(name) is not None:
            found[field] = call.integer(name, minimum=low, maximum=high, default=0)
    return found


def _targets(call: Call) -> list[tuple[str, int | None]]:
    found: list[tuple[str, int | None]] = []
    index = 1
    while (target_id := call.get(f"Targets.member.{index}.Id")) is not None:
        name = f"Targets.member.{index}.Port"
        port = call.integer(name, minimum=1, maximum=65535, default=0) if call.get(name) else None
        found.append((target_id, port))
        index += 1
    return found


def handlers(service: LoadBalancingService) -> dict[str, tuple[Handler, bool, str | None]]:
    """The target group calls: (handler, mutating, the parameter naming the resource)."""

    async def lb_arns(group: TargetGroup) -> list[str]:
        if not group.lb_id:
            return []
        return [service.lb_arn(await service.load_balancer(group.tenant_id, group.lb_id))]

    async def write_groups(call: Call, groups: list[TargetGroup]) -> None:
        call.result.open("TargetGroups")
        for group in groups:
            call.result.open("member")
            write_group(call.result, service, group, await lb_arns(group))
            call.result.close("member")
        call.result.close("TargetGroups")

    async def create_group(call: Call) -> None:
        _refuse(
            call,
            rf"Name|Protocol|ProtocolVersion|Port|VpcId|TargetType|IpAddressType|{_HEALTH}"
            r"|Tags\.member\.\d+\.(Key|Value)",
        )
        if (call.get("IpAddressType") or "ipv4") != "ipv4":
            raise QueryError(
                "InvalidConfigurationRequest", "Only the ipv4 address type is supported yet"
            )
        call.required("Port")
        changes = _health_changes(call)
        protocol = call.required("Protocol")
        if protocol in ALB_TG_PROTOCOLS:
            # Decision 0216: an ALB group's ProtocolVersion (HTTP1 only here) and ELBv2's
            # defaults of its health check (HTTP, 5 s, 5 and 2, the code 200).
            version = call.get("ProtocolVersion") or "HTTP1"
            if version != "HTTP1":
                raise QueryError(
                    "InvalidConfigurationRequest",
                    f"Protocol version '{version[:16]}' is not supported here yet; HTTP1 is "
                    "(decision 0216)",
                )
            defaults: dict[str, Any] = {"protocol": protocol, "timeout": 5, "matcher": "200"}
            check = HealthCheck(**(defaults | changes))
        else:
            if call.get("ProtocolVersion") is not None:
                raise QueryError(
                    "ValidationError",
                    "A protocol version can only be specified for HTTP and HTTPS target groups",
                )
            if changes.get("protocol") == "HTTP":  # HTTPS keeps TCP's 10 s, as ELBv2 does
                changes.setdefault("timeout", _HTTP_TIMEOUT)
            check = HealthCheck(**changes)
        group = await service.create_target_group(
            call.tenant_id,
            TgSpec(
                name=call.required("Name"),
                protocol=protocol,
                port=call.integer("Port", minimum=1, maximum=65535, default=0),
                vpc_id=call.required("VpcId"),
                target_type=call.get("TargetType") or "instance",
                health_check=check,
                tags=tags(call),
                given=frozenset(changes),
            ),
        )
        await write_groups(call, [group])

    async def describe_groups(call: Call) -> None:
        lb_arn = call.get("LoadBalancerArn")
        lb_id = await service.id_of(call.tenant_id, "loadbalancer", lb_arn) if lb_arn else None
        found = await service.target_groups(
            call.tenant_id, call.members("TargetGroupArns"), call.members("Names"), lb_id
        )
        chosen, marker = page(call, found, lambda g: g.name)
        await write_groups(call, chosen)
        if marker is not None:
            call.result.element("NextMarker", marker)

    async def modify_group(call: Call) -> None:
        _refuse(call, rf"TargetGroupArn|{_HEALTH}")
        group = await service.modify_target_group(
            call.tenant_id, call.required("TargetGroupArn"), _health_changes(call)
        )
        await write_groups(call, [group])

    async def delete_group(call: Call) -> None:
        await service.delete_target_group(call.tenant_id, call.required("TargetGroupArn"))

    async def group_attributes(call: Call) -> None:
        arn = call.required("TargetGroupArn")
        if call.action == "ModifyTargetGroupAttributes":
            group = await service.modify_target_group_attributes(
                call.tenant_id, arn, attributes(call)
            )
        else:
            tg_id = await service.id_of(call.tenant_id, "targetgroup", arn)
            group = await service.target_group(call.tenant_id, tg_id)
        keys = group_keys(group.protocol) or TG_ATTRIBUTES
        write_attributes(call.result, [(k, group.attribute(k)) for k in keys])

    async def register(call: Call) -> None:
        await service.register_targets(
            call.tenant_id, call.required("TargetGroupArn"), _targets(call)
        )

    async def deregister(call: Call) -> None:
        targets = _targets(call)
        if not targets:
            raise QueryError("ValidationError", "At least one target must be specified")
        await service.deregister_targets(call.tenant_id, call.required("TargetGroupArn"), targets)

    async def health(call: Call) -> None:
        arn = call.required("TargetGroupArn")
        group = await service.target_group(
            call.tenant_id, await service.id_of(call.tenant_id, "targetgroup", arn)
        )
        shown = await service.target_health(call.tenant_id, arn, _targets(call))
        call.result.open("TargetHealthDescriptions")
        for target in shown:
            write_health(call.result, group, target)
        call.result.close("TargetHealthDescriptions")

    return {
        "CreateTargetGroup": (create_group, True, None),
        "DescribeTargetGroups": (describe_groups, False, None),
        "ModifyTargetGroup": (modify_group, True, "TargetGroupArn"),
        "DeleteTargetGroup": (delete_group, True, "TargetGroupArn"),
        "DescribeTargetGroupAttributes": (group_attributes, False, "TargetGroupArn"),
        "ModifyTargetGroupAttributes": (group_attributes, True, "TargetGroupArn"),
        "RegisterTargets": (register, True, "TargetGroupArn"),
        "DeregisterTargets": (deregister, True, "TargetGroupArn"),
        "DescribeTargetHealth": (health, False, "TargetGroupArn"),
    }
