"""Auto Scaling's warm pools on the wire (decision 0194): PutWarmPool, DescribeWarmPool and
DeleteWarmPool in AWS's shapes; the rules are ``autoscaling.warm_pool``'s."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from andromede.autoscaling.model import Group
from andromede.autoscaling.records import WarmPool
from andromede.autoscaling.service import AutoScalingService
from andromede.autoscaling.warm_pool import delete_warm_pool, put_warm_pool, warm_state
from andromede.http.xml import XmlWriter
from andromede.iamapi.autoscaling_wire import (
    guarded,
    page,
    refuse_unhandled,
    template_names,
    write_member_template,
)
from andromede.iamapi.protocol import Call

__all__ = ["NAMED_GROUP", "handlers", "write_configuration"]

# Checked on the group's ARN (AWS's authorisation reference).
NAMED_GROUP: Final = ("PutWarmPool", "DeleteWarmPool", "DescribeWarmPool")
_PUT: Final = (
    "AutoScalingGroupName",
    "MinSize",
    "MaxGroupPreparedCapacity",
    "PoolState",
    "InstanceReusePolicy.ReuseOnScaleIn",
)
_MAX_PAGE: Final = 50  # DescribeWarmPool's MaxRecords bound (AWS's)
_BOUND: Final = 1_000_000  # the wire's; the setting bounds MinSize below it


def write_configuration(xml: XmlWriter, pool: WarmPool) -> None:
    """The members of AWS's WarmPoolConfiguration (inside its element)."""
    if pool.max_prepared is not None:
        xml.element("MaxGroupPreparedCapacity", pool.max_prepared)
    xml.element("MinSize", pool.min_size)
    xml.element("PoolState", pool.pool_state)
    if pool.deleting:
        xml.element("Status", "PendingDelete")
    xml.open("InstanceReusePolicy")
    xml.element("ReuseOnScaleIn", "true" if pool.reuse_on_scale_in else "false")
    xml.close("InstanceReusePolicy")


def handlers(
    service: AutoScalingService, region: str
) -> dict[str, tuple[Callable[[Call], Awaitable[None]], bool, bool]]:
    async def put(call: Call) -> None:
        refuse_unhandled(call, _PUT)
        prepared = None
        if call.get("MaxGroupPreparedCapacity") is not None:
            prepared = call.integer(
                "MaxGroupPreparedCapacity", minimum=-1, maximum=_BOUND, default=-1
            )
        min_size = None
        if call.get("MinSize") is not None:
            min_size = call.integer("MinSize", minimum=0, maximum=_BOUND, default=0)
        reuse = None
        if call.get("InstanceReusePolicy.ReuseOnScaleIn") is not None:
            reuse = call.boolean("InstanceReusePolicy.ReuseOnScaleIn", default=False)
        await guarded(
            put_warm_pool(
                service,
                call.tenant_id,
                call.required("AutoScalingGroupName"),
                min_size=min_size,
                max_prepared=prepared,
                pool_state=call.get("PoolState"),
                reuse_on_scale_in=reuse,
            )
        )

    async def delete(call: Call) -> None:
        await guarded(
            delete_warm_pool(
                service,
                call.tenant_id,
                call.required("AutoScalingGroupName"),
                force=call.boolean("ForceDelete", default=False),
            )
        )

    async def describe(call: Call) -> None:
        call.integer("MaxRecords", minimum=1, maximum=_MAX_PAGE, default=_MAX_PAGE)
        name = call.required("AutoScalingGroupName")
        group: Group = await guarded(service.group(call.tenant_id, name))
        members = [
            m
            for m in await service.fleet.members(call.tenant_id, name)
            if m.instance_id in group.warmed
        ]
        members.sort(key=lambda m: m.instance_id)
        chosen, token = page(call, members, lambda m: m.instance_id)
        names = await template_names(service, call.tenant_id, [(group, m) for m in chosen])
        xml = call.result
        if group.warm_pool is not None:
            xml.open("WarmPoolConfiguration")
            write_configuration(xml, group.warm_pool)
            xml.close("WarmPoolConfiguration")
        xml.open("Instances")
        for member in chosen:
            state, health = warm_state(group, member)
            xml.open("member")
            xml.element("InstanceId", member.instance_id)
            xml.element("InstanceType", member.instance_type)
            xml.element("AvailabilityZone", member.availability_zone)
            xml.element("LifecycleState", state)
            xml.element("HealthStatus", health)
            write_member_template(xml, group, member, names)
            xml.element("ProtectedFromScaleIn", "false")
            xml.close("member")
        xml.close("Instances")
        if token is not None:
            xml.element("NextToken", token)

    return {
        "PutWarmPool": (put, True, True),
        "DeleteWarmPool": (delete, True, True),
        "DescribeWarmPool": (describe, False, True),
    }
