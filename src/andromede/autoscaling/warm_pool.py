"""Warm pools (decision 0194): PutWarmPool's and DeleteWarmPool's rules, the lifecycle
states of the instances in a pool, and the reconciler's steps that keep one.

A group's pool is a field of its document (``Group.warm_pool``), the instances in it
another (``Group.warmed``): they carry the group's tag like its own instances but are out of
its capacity — neither counted, health checked, refreshed nor scaled in. Every round the
lease holder (decision 0156):

- launches into the pool what AWS's formula asks (MaxGroupPreparedCapacity, or the group's
  MaxSize, minus the desired capacity, at least the pool's MinSize; capped by the setting
  ``max_warm_pool_instances_per_autoscaling_group``), through the launch hooks as AWS does
  (``Warmed:Pending:Wait``), and terminates what is above it;
- stops the pool's instances once their hooks are done when the pool is ``Stopped`` (starts
  them when it is ``Running``);
- on scale-out, takes ready instances from the pool before launching new ones — starting a
  stopped one, through the launch hooks again (:func:`take`);
- on scale-in, with ``ReuseOnScaleIn``, returns the instances chosen to the pool instead of
  terminating them (:func:`give_back`);
- once DeleteWarmPool asked (``Status`` PendingDelete), terminates the pool's instances and
  forgets the pool when none is left.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Final

from andromede.autoscaling.errors import GroupLimitExceeded, ScalingValidationError
from andromede.autoscaling.fleet import LaunchFailed
from andromede.autoscaling.model import GROUP_TAG, ActivityStatus, Group, Member
from andromede.autoscaling.notify import EVENT_LAUNCH
from andromede.autoscaling.records import HOOK_LAUNCHING, WarmPool
from andromede.autoscaling.service import AutoScalingService, iso

__all__ = [
    "POOL_STATES",
    "delete_warm_pool",
    "give_back",
    "put_warm_pool",
    "take",
    "tend",
    "warm_state",
]

_log = logging.getLogger(__name__)
POOL_STATES: Final = ("Stopped", "Running", "Hibernated")


# --- the calls -----------------------------------------------------------------------------


async def put_warm_pool(
    service: AutoScalingService,
    tenant_id: str,
    name: str,
    *,
    min_size: int | None,
    max_prepared: int | None,
    pool_state: str | None,
    reuse_on_scale_in: bool | None,
) -> Group:
    """Create the group's warm pool or change it (the parameters not given keep their
    values, as on AWS; ``max_prepared`` -1 removes MaxGroupPreparedCapacity)."""
    if pool_state is not None and pool_state not in POOL_STATES:
        raise ScalingValidationError(
            f"Value '{pool_state[:64]}' at 'poolState' failed to satisfy constraint: Member "
            "must satisfy enum value set: [Stopped, Running, Hibernated]"
        )
    if pool_state == "Hibernated":
        # Instances here cannot hibernate (no memory image kept on the root volume): refused
        # rather than silently stopped.
        raise ScalingValidationError(
            "The warm pool state Hibernated is not supported: the instances of this platform "
            "cannot be hibernated. Use Stopped or Running (decision 0194)."
        )
    ceiling = service.limits.max_warm_pool_instances
    if min_size is not None and min_size > ceiling:
        raise GroupLimitExceeded(
            f"A warm pool here keeps at most {ceiling} instances "
            "(max_warm_pool_instances_per_autoscaling_group)"
        )

    def change(group: Group) -> Group:
        pool = group.warm_pool or WarmPool()
        if group.mixed is not None:  # decision 0209, as AWS refuses it
            raise ScalingValidationError(
                "You can't add a warm pool to an Auto Scaling group that has a mixed "
                "instances policy or a launch template or launch configuration that requests "
                "Spot Instances."
            )
        if pool.deleting:
            raise ScalingValidationError(
                f"The warm pool of Auto Scaling group {group.name} is being deleted "
                "(PendingDelete); put it again once it is gone."
            )
        prepared = pool.max_prepared
        if max_prepared is not None:
            prepared = None if max_prepared == -1 else max_prepared
        return replace(
            group,
            warm_pool=WarmPool(
                min_size=pool.min_size if min_size is None else min_size,
                max_prepared=prepared,
                pool_state=pool_state or pool.pool_state,
                reuse_on_scale_in=(
                    pool.reuse_on_scale_in if reuse_on_scale_in is None else reuse_on_scale_in
                ),
            ),
        )

    return await service.mutate(tenant_id, name, change)


async def delete_warm_pool(
    service: AutoScalingService, tenant_id: str, name: str, *, force: bool
) -> Group:
    """Mark the pool PendingDelete (the reconciler terminates its instances, then forgets it;
    a pool without instances goes at once). ``force`` also drops the lifecycle actions its
    instances wait on, as AWS's ForceDelete does."""

    def change(group: Group) -> Group | None:
        if group.warm_pool is None:
            raise ScalingValidationError(f"No warm pool found for Auto Scaling group {group.name}.")
        if not group.warmed:
            return replace(group, warm_pool=None)
        waiting = group.waiting
        if force:
            waiting = tuple(w for w in waiting if w.instance_id not in set(group.warmed))
        if group.warm_pool.deleting and waiting == group.waiting:
            return None
        return replace(group, warm_pool=replace(group.warm_pool, deleting=True), waiting=waiting)

    return await service.mutate(tenant_id, name, change)


def warm_state(group: Group, member: Member) -> tuple[str, str]:
    """AWS's LifecycleState and HealthStatus of an instance in the group's warm pool."""
    waiting = group.waiting_on(member.instance_id)
    if member.state == "shutting-down":
        return "Warmed:Terminating", "Unhealthy"
    if waiting:
        step = "Wait" if any(w.result is None for w in waiting) else "Proceed"
        return f"Warmed:Pending:{step}", "Healthy"
    pool_state = group.warm_pool.pool_state if group.warm_pool else "Stopped"
    if member.state == "stopped" and pool_state == "Stopped":
        return "Warmed:Stopped", "Healthy"
    if member.state == "running" and pool_state == "Running":
        return "Warmed:Running", "Healthy"
    return "Warmed:Pending", "Healthy"  # on its way to the pool's state


# --- the reconciler's steps ----------------------------------------------------------------


def _ready(group: Group, pool: Sequence[Member]) -> list[Member]:
    """The pool's instances a scale-out may take: done with their hooks, running or
    stopped (not between), oldest first."""
    return sorted(
        (
            m
            for m in pool
            if not group.waiting_on(m.instance_id) and m.state in ("running", "stopped")
        ),
        key=lambda m: (m.launch_time, m.instance_id),
    )


async def take(
    service: AutoScalingService, group: Group, pool: Sequence[Member], missing: int, count: int
) -> tuple[Group, int]:
    """Scale-out from the pool first: up to ``missing`` ready instances leave it for the
    group (started when stopped, held on the launch hooks as AWS does); the group, and how
    many it took."""
    taken = 0
    for member in _ready(group, pool)[:missing]:
        started = service.clock()
        moved = member.instance_id

        def leave(g: Group, moved: str = moved) -> Group | None:
            if moved not in g.warmed:
                return None
            protected = (
                tuple(sorted({*g.protected, moved})) if g.new_instances_protected else g.protected
            )
            return replace(g, warmed=tuple(i for i in g.warmed if i != moved), protected=protected)

        group = await service.mutate(group.tenant_id, group.name, leave)
        if moved in group.warmed:
            continue
        cause = (
            f"At {iso(started)} an instance was started in response to a difference between "
            f"desired and actual capacity, increasing the capacity from {count + taken} to "
            f"{group.desired_capacity}."
        )
        status, message = ActivityStatus.SUCCESSFUL, ""
        if member.state == "stopped":
            try:
                await service.fleet.start(group.tenant_id, [moved])
            except LaunchFailed as exc:
                # Counted as the group's now, and stopped: the health check replaces it.
                status, message = ActivityStatus.FAILED, str(exc)
        if status == ActivityStatus.SUCCESSFUL and any(
            h.transition == HOOK_LAUNCHING for h in group.hooks
        ):
            group = await service.hold(group.tenant_id, group.name, [moved], HOOK_LAUNCHING)
        await service.record(
            group,
            f"Launching a new EC2 instance from warm pool: {moved}",
            cause,
            status,
            started,
            message,
            subnet=member.subnet_id,
            zone=member.availability_zone,
            event=EVENT_LAUNCH,
            instance_id=moved,
        )
        taken += 1
    return group, taken


async def give_back(
    service: AutoScalingService, group: Group, extra: Sequence[Member], count: int
) -> Group:
    """Scale-in with ReuseOnScaleIn: the instances chosen go back to the pool (stopped by
    :func:`tend` when the pool is Stopped) rather than being terminated."""
    ids = [m.instance_id for m in extra]
    if not ids:
        return group

    def enter(g: Group) -> Group:
        return replace(g, warmed=tuple(sorted({*g.warmed, *ids})))

    group = await service.mutate(group.tenant_id, group.name, enter)
    for step, member in enumerate(extra):
        now = service.clock()
        await service.record(
            group,
            f"Moving EC2 instance to warm pool: {member.instance_id}",
            f"At {iso(now)} an instance was moved to the warm pool in response to a "
            "difference between desired and actual capacity, shrinking the capacity from "
            f"{count - step} to {count - step - 1}.",
            ActivityStatus.SUCCESSFUL,
            now,
            subnet=member.subnet_id,
            zone=member.availability_zone,
        )
    return group


async def tend(
    service: AutoScalingService, group: Group, pool: Sequence[Member], *, may_launch: bool
) -> tuple[Group, bool]:
    """The pool's round: its instances moved to its state, launched or terminated to its
    size, or, PendingDelete, terminated and the pool forgotten once empty. The group, and
    False when a launch into the pool failed (the reconciler backs off)."""
    config = group.warm_pool
    if config is None and not group.warmed:
        return group, True
    live = [m for m in pool if m.state != "shutting-down"]
    if config is None or config.deleting:
        doomed = [m for m in live if not group.waiting_on(m.instance_id)]
        await _terminate(service, group, doomed, "the warm pool was deleted")
        if not pool and config is not None:

            def forget(g: Group) -> Group | None:
                if g.warm_pool is None or not g.warm_pool.deleting or g.warmed:
                    return None
                return replace(g, warm_pool=None)

            group = await service.mutate(group.tenant_id, group.name, forget)
        return group, True
    await _settle(service, group, live, config.pool_state)
    size = config.size(
        group.max_size, group.desired_capacity, service.limits.max_warm_pool_instances
    )
    if len(live) > size and not group.suspends("Terminate"):
        # Those not waiting on a hook first, then the newest (the oldest are the warmest).
        order = sorted(
            live,
            key=lambda m: (not group.waiting_on(m.instance_id), m.launch_time),
        )
        await _terminate(
            service, group, order[: len(live) - size], "the warm pool was above its size"
        )
    elif len(live) < size and may_launch:
        return await _fill(service, group, len(live), size)
    return group, True


async def _settle(
    service: AutoScalingService, group: Group, live: Sequence[Member], pool_state: str
) -> None:
    for member in live:
        if group.waiting_on(member.instance_id):
            continue  # Warmed:Pending:Wait: its hooks first
        try:
            if pool_state == "Stopped" and member.state == "running":
                await service.fleet.stop(group.tenant_id, [member.instance_id])
            elif pool_state == "Running" and member.state == "stopped":
                await service.fleet.start(group.tenant_id, [member.instance_id])
        except LaunchFailed as exc:
            _log.warning("warm pool instance %s not moved: %s", member.instance_id, exc)


async def _terminate(
    service: AutoScalingService, group: Group, members: Sequence[Member], why: str
) -> None:
    if members:
        await service.terminate_members(
            group,
            members,
            f"At {iso(service.clock())} an instance was taken out of the warm pool because {why}.",
        )


async def _fill(
    service: AutoScalingService, group: Group, have: int, size: int
) -> tuple[Group, bool]:
    tags = [(GROUP_TAG, group.name)] + [
        (t.key, t.value) for t in group.tags if t.propagate_at_launch
    ]
    for step in range(size - have):
        started = service.clock()
        subnet = group.subnets[(have + step) % len(group.subnets)] if group.subnets else None
        cause = (
            f"At {iso(started)} an instance was launched into the warm pool in response to a "
            f"difference between the warm pool's size and its wanted size, increasing it from "
            f"{have + step} to {size}."
        )
        try:
            member = await service.fleet.launch(
                group.tenant_id, group.template_id, group.template_version, subnet, tags
            )
        except LaunchFailed as exc:
            await service.record(
                group,
                "Launching a new EC2 instance into warm pool.  Status Reason: " + str(exc),
                cause,
                ActivityStatus.FAILED,
                started,
                str(exc),
                subnet=subnet,
            )
            return group, False
        launched = member.instance_id

        def enter(g: Group, launched: str = launched) -> Group:
            return replace(g, warmed=tuple(sorted({*g.warmed, launched})))

        group = await service.mutate(group.tenant_id, group.name, enter)
        if any(h.transition == HOOK_LAUNCHING for h in group.hooks):
            # AWS runs the launch hooks when an instance enters the pool (Warmed:Pending:Wait).
            group = await service.hold(group.tenant_id, group.name, [launched], HOOK_LAUNCHING)
        await service.record(
            group,
            f"Launching a new EC2 instance into warm pool: {launched}",
            cause,
            ActivityStatus.SUCCESSFUL,
            started,
            subnet=subnet,
            zone=member.availability_zone,
        )
    return group, True
