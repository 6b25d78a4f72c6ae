"""Instance refresh (decision 0159): StartInstanceRefresh names the instances to replace
(every one, or with SkipMatching those not on the group's launch template version as
resolved now), CancelInstanceRefresh stops it; :func:`next_batch` is the reconciler's step:
while every instance in service is warm (running for InstanceWarmup seconds) and the group
is at its capacity, it takes the next batch, as many as keep MinHealthyPercentage of the
desired capacity in service (one at least), oldest first; the reconciler retires them
(lifecycle hooks included) and launches their replacements from the current template.
Instances protected from scale-in are replaced unless ScaleInProtectedInstances is
"Ignore"; Standby ones are left out (StandbyInstances "Ignore"), decision 0182."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

from andromede.autoscaling.errors import (
    ActiveRefreshNotFound,
    RefreshInProgress,
    ScalingValidationError,
)
from andromede.autoscaling.model import Group, Member
from andromede.autoscaling.records import HOOK_TERMINATING, Refresh, RefreshStatus
from andromede.autoscaling.service import AutoScalingService

__all__ = ["RefreshSpec", "cancel", "next_batch", "start"]

# The refreshes a group keeps for DescribeInstanceRefreshes, newest first.
_KEPT: Final = 20


@dataclass(frozen=True, slots=True)
class RefreshSpec:
    min_healthy_percentage: int = 90
    instance_warmup: int | None = None
    skip_matching: bool = False
    # Decision 0182: what becomes of instances protected from scale-in and in Standby.
    protected_instances: str = "Refresh"
    standby_instances: str = "Ignore"


async def start(
    service: AutoScalingService, tenant_id: str, group_name: str, spec: RefreshSpec
) -> Refresh:
    if not 0 <= spec.min_healthy_percentage <= 100:
        raise ScalingValidationError("MinHealthyPercentage must be between 0 and 100")
    if spec.protected_instances not in ("Refresh", "Ignore"):
        raise ScalingValidationError(
            "ScaleInProtectedInstances must be Refresh or Ignore here (Wait is not supported, "
            "decision 0182)"
        )
    if spec.standby_instances != "Ignore":
        raise ScalingValidationError(
            "StandbyInstances must be Ignore here (Terminate and Wait are not supported, "
            "decision 0182)"
        )
    group = await service.group(tenant_id, group_name)
    choice = await service.fleet.template(
        tenant_id, group.template_id, None, group.template_version
    )
    # Standby instances, and (decision 0194) a warm pool's, which are not in service.
    left_out = {*group.standby, *group.warmed}
    if spec.protected_instances == "Ignore":
        left_out.update(group.protected)
    members = [
        m
        for m in await service.fleet.members(tenant_id, group_name)
        if m.alive and m.instance_id not in left_out
    ]
    if spec.skip_matching:
        members = [
            m
            for m in members
            if (m.template_id, m.template_version) != (choice.template_id, choice.number)
        ]
    warmup = spec.instance_warmup
    refresh = Refresh(
        refresh_id=str(uuid.uuid4()),
        status=RefreshStatus.IN_PROGRESS,
        start_time=service.clock(),
        min_healthy_percentage=spec.min_healthy_percentage,
        instance_warmup=group.health_check_grace_period if warmup is None else warmup,
        skip_matching=spec.skip_matching,
        to_replace=tuple(sorted(m.instance_id for m in members)),
        protected_instances=spec.protected_instances,
        standby_instances=spec.standby_instances,
    )

    def change(current: Group) -> Group:
        if current.active_refresh is not None:
            raise RefreshInProgress(
                f"An Instance Refresh is already in progress and blocks the execution of this "
                f"Instance Refresh for group {group_name}."
            )
        return replace(current, refreshes=(refresh, *current.refreshes)[:_KEPT])

    await service.mutate(tenant_id, group_name, change)
    return refresh


async def cancel(service: AutoScalingService, tenant_id: str, group_name: str) -> str:
    cancelled: list[str] = []
    now = service.clock()

    def change(group: Group) -> Group:
        active = group.active_refresh
        if active is None:
            raise ActiveRefreshNotFound(
                f"No in progress or pending Instance Refresh found for Auto Scaling group "
                f"{group_name}"
            )
        cancelled[:] = [active.refresh_id]
        done = replace(active, status=RefreshStatus.CANCELLED, end_time=now)
        return replace(group, refreshes=tuple(done if r == active else r for r in group.refreshes))

    await service.mutate(tenant_id, group_name, change)
    return cancelled[0]


def next_batch(
    group: Group, members: list[Member], now: datetime
) -> tuple[Refresh, list[Member]] | None:
    """The active refresh as it stands now and the instances to retire in this round (none
    while the group is not yet back in shape); None without an active refresh."""
    refresh = group.active_refresh
    if refresh is None:
        return None
    leaving = {w.instance_id for w in group.waiting if w.transition == HOOK_TERMINATING}
    alive = [m for m in members if m.alive and m.instance_id not in leaving]
    alive_ids = {m.instance_id for m in alive}
    # An instance to replace that is gone (retired, or terminated by anyone) is replaced.
    replaced = tuple(i for i in refresh.to_replace if i in refresh.replaced or i not in alive_ids)
    refresh = replace(refresh, replaced=replaced)
    warmup = timedelta(seconds=refresh.instance_warmup)
    starting = {w.instance_id for w in group.waiting if w.result is None}
    warm = [
        m
        for m in alive
        if m.state == "running" and m.launch_time + warmup <= now and m.instance_id not in starting
    ]
    settled = len(warm) == len(alive) and len(alive) >= group.desired_capacity
    remaining = sorted(
        (m for m in alive if m.instance_id in refresh.to_replace and m.instance_id not in replaced),
        key=lambda m: (m.launch_time, m.instance_id),
    )
    if not remaining:
        if settled:
            refresh = replace(refresh, status=RefreshStatus.SUCCESSFUL, end_time=now)
        return refresh, []
    if not settled:
        return refresh, []
    floor = math.ceil(group.desired_capacity * refresh.min_healthy_percentage / 100)
    size = max(1, len(warm) - floor)
    batch = remaining[:size]
    refresh = replace(refresh, replaced=replaced + tuple(m.instance_id for m in batch))
    return refresh, batch


def with_refresh(group: Group, refresh: Refresh) -> Group:
    return replace(
        group,
        refreshes=tuple(
            refresh if r.refresh_id == refresh.refresh_id else r for r in group.refreshes
        ),
    )
