"""A group's ``ELB`` health checks (decision 0198): the port through which Auto Scaling reads
what its target groups report of its instances, and the pure decision of which instances
that makes Unhealthy.

Under ``HealthCheckType`` ``ELB`` an instance is unhealthy when EC2 says so (stopped or
stopping, as under ``EC2``) or when any target group of the group reports it ``unhealthy``
(``initial``, ``draining`` and ``unused`` are no verdict on the instance), once the
instance is past ``HealthCheckGracePeriod``. Marked Unhealthy it stays so until it is gone
(the check never brings a marked instance back; only the account's SetInstanceHealth
``Healthy`` does, ``instance_health``) and is replaced as an EC2-unhealthy one is.
The port also shows a target group's targets, from which ``traffic`` advances the group's
attachment states (decision 0201). The adapter over the load balancing service is
``andromede.autoscaling_adapters``'s (bounded contexts do not import each other).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final, Protocol

from andromede.autoscaling.model import Group, Member

__all__ = ["ELB", "HEALTH_CHECK_TYPES", "TargetHealth", "checked", "elb_verdicts"]

ELB: Final = "ELB"
# VPC_LATTICE and EBS (AWS's later additional checks) are still refused (decision 0198).
HEALTH_CHECK_TYPES: Final = ("EC2", ELB)


class TargetHealth(Protocol):
    async def unhealthy(
        self, tenant_id: str, target_group_arns: Sequence[str], instance_ids: Sequence[str]
    ) -> set[str]:
        """The instances of ``instance_ids`` that any of the target groups reports
        ``unhealthy``; a target group gone meanwhile reports nothing."""
        ...

    async def targets(self, tenant_id: str, target_group_arn: str) -> dict[str, str] | None:
        """Each instance the target group holds as a target, with its state as
        DescribeTargetHealth shows it (``initial``, ``healthy``, ``unhealthy``, ``unused``,
        ``draining``); None when the target group is gone (decision 0201's attachment
        states)."""
        ...


def checked(group: Group, members: Sequence[Member], now: datetime) -> list[Member]:
    """The group's instances its ELB health check looks at now: none unless the type is
    ``ELB``, the group has target groups and HealthCheck is not suspended; else those
    InService (running, not in Standby, the warm pool, a lifecycle wait or on their way out)
    and past the grace period, counted from their launch."""
    if group.health_check_type != ELB or not group.target_groups or group.suspends("HealthCheck"):
        return []
    away = {*group.standby, *group.warmed, *group.detaching, *group.unhealthy}
    away.update(w.instance_id for w in group.waiting)
    grace = timedelta(seconds=group.health_check_grace_period)
    return [
        m
        for m in members
        if m.state == "running" and m.instance_id not in away and m.launch_time + grace <= now
    ]


async def elb_verdicts(
    port: TargetHealth | None, group: Group, members: Sequence[Member], now: datetime
) -> set[str]:
    """The instances newly found unhealthy by the group's target groups (none without a
    port: a process with no load balancing)."""
    looked_at = checked(group, members, now)
    if port is None or not looked_at:
        return set()
    return await port.unhealthy(
        group.tenant_id, group.target_groups, [m.instance_id for m in looked_at]
    )
