"""The controls an account has over a group's instances and processes (decision 0182):
instance protection from scale-in (SetInstanceProtection), Standby (EnterStandby,
ExitStandby), AttachInstances and DetachInstances, Suspend/ResumeProcesses and
Enable/DisableMetricsCollection. Each change is one conditional write of the group's
document (``AutoScalingService.mutate``); what the reconciler makes of them is
``reconciler``'s, the metrics written ``platform_metrics``'.

Lifecycle hooks (decision 0188, as AWS): an instance leaving Standby or attached goes
through the group's ``EC2_INSTANCE_LAUNCHING`` hooks (Pending:Wait, Pending:Proceed, then
InService; abandoned: terminated, as a launch); entering Standby (EnteringStandby) and
detaching (Detaching) go through none, AWS's lifecycle having no wait state for them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Final

from andromede.autoscaling.errors import ScalingValidationError
from andromede.autoscaling.fleet import LaunchFailed
from andromede.autoscaling.model import Activity, ActivityStatus, Group, Member
from andromede.autoscaling.records import HOOK_LAUNCHING
from andromede.autoscaling.service import AutoScalingService, iso

__all__ = [
    "METRICS",
    "PROCESSES",
    "attach",
    "detach",
    "enter_standby",
    "exit_standby",
    "set_metrics",
    "set_processes",
    "set_protection",
]

# AWS's scaling processes; AddToLoadBalancer and AZRebalance are accepted and shown, with
# nothing of theirs to stop here (no load balancers, no zone rebalancing: decision 0156).
PROCESSES: Final = (
    "Launch",
    "Terminate",
    "AddToLoadBalancer",
    "AlarmNotification",
    "AZRebalance",
    "HealthCheck",
    "InstanceRefresh",
    "ReplaceUnhealthy",
    "ScheduledActions",
)
METRICS: Final = (
    "GroupMinSize",
    "GroupMaxSize",
    "GroupDesiredCapacity",
    "GroupInServiceInstances",
    "GroupPendingInstances",
    "GroupStandbyInstances",
    "GroupTerminatingInstances",
    "GroupTotalInstances",
)
# AWS's bound on the InstanceIds of AttachInstances, DetachInstances and EnterStandby.
_MAX_IDS: Final = 20
_SUSPENDED_BY_USER: Final = "User suspended at {when}"


def _ids(instance_ids: Sequence[str], action: str) -> list[str]:
    ids = list(dict.fromkeys(instance_ids))
    if len(ids) > _MAX_IDS:
        raise ScalingValidationError(
            f"List exceeds the maximum number of instances to {action}. Please retry your "
            "request with fewer instances."
        )
    return ids


async def _members(
    service: AutoScalingService, group: Group, instance_ids: Sequence[str]
) -> list[Member]:
    """The group's instances named; ValidationError naming the first that is not one (a warm
    pool's instance is not, decision 0194: it is out of the group's capacity)."""
    members = {
        m.instance_id: m
        for m in await service.fleet.members(group.tenant_id, group.name)
        if m.instance_id not in group.warmed
    }
    for instance_id in instance_ids:
        if instance_id not in members:
            raise ScalingValidationError(
                f"The instance {instance_id} is not part of Auto Scaling group {group.name}."
            )
    return [members[i] for i in instance_ids]


async def set_protection(
    service: AutoScalingService,
    tenant_id: str,
    group_name: str,
    instance_ids: Sequence[str],
    protected: bool,
) -> None:
    """SetInstanceProtection: the instances kept (or no longer kept) from scale-in."""
    if not instance_ids:
        raise ScalingValidationError("InstanceIds must name at least one instance")
    ids = _ids(instance_ids, "protect")
    await _members(service, await service.group(tenant_id, group_name), ids)

    def change(group: Group) -> Group | None:
        kept = [i for i in group.protected if i not in ids]
        wanted = tuple(sorted(kept + ids)) if protected else tuple(kept)
        return None if wanted == group.protected else replace(group, protected=wanted)

    await service.mutate(tenant_id, group_name, change)


def _in_service(group: Group, member: Member) -> bool:
    return (
        member.state == "running"
        and member.instance_id not in group.standby
        and not group.waiting_on(member.instance_id)
    )


async def enter_standby(
    service: AutoScalingService,
    tenant_id: str,
    group_name: str,
    instance_ids: Sequence[str],
    *,
    decrement: bool,
) -> list[Activity]:
    """EnterStandby: InService instances moved to Standby, out of the capacity (with
    ``decrement`` the desired capacity goes down by as many, else the reconciler launches
    their replacements)."""
    ids = _ids(instance_ids, "move to standby")
    group = await service.group(tenant_id, group_name)
    members = await _members(service, group, ids)
    for member in members:
        if not _in_service(group, member):
            raise ScalingValidationError(f"The instance {member.instance_id} is not in InService.")
    before: list[int] = []

    def change(current: Group) -> Group:
        before[:] = [current.desired_capacity]
        desired = current.desired_capacity - (len(ids) if decrement else 0)
        if desired < current.min_size:
            raise ScalingValidationError(
                f"AutoScalingGroup {group_name} has min-size={current.min_size}, max-size="
                f"{current.max_size}, and desired-size={current.desired_capacity}. To place "
                f"{len(ids)} instance(s) into standby with decrement, please update the "
                "AutoScalingGroup sizes appropriately."
            )
        standby = tuple(sorted({*current.standby, *ids}))
        return replace(current, standby=standby, desired_capacity=desired)

    group = await service.mutate(tenant_id, group_name, change)
    done = []
    for member in members:
        started = service.clock()
        if decrement:
            cause = (
                f"At {iso(started)} instance {member.instance_id} was moved to standby in "
                f"response to a user request, shrinking the capacity from {before[0]} to "
                f"{group.desired_capacity}."
            )
        else:
            cause = (
                f"At {iso(started)} instance {member.instance_id} was moved to standby in "
                "response to a user request."
            )
        done.append(
            await service.record(
                group,
                f"Moving EC2 instance to Standby: {member.instance_id}",
                cause,
                ActivityStatus.SUCCESSFUL,
                started,
                subnet=member.subnet_id,
                zone=member.availability_zone,
            )
        )
    return done


async def exit_standby(
    service: AutoScalingService, tenant_id: str, group_name: str, instance_ids: Sequence[str]
) -> list[Activity]:
    """ExitStandby: Standby instances back in service, the desired capacity up by as many
    (refused above the maximum, as AWS does)."""
    ids = _ids(instance_ids, "move out of standby")
    group = await service.group(tenant_id, group_name)
    members = await _members(service, group, ids)
    for instance_id in ids:
        if instance_id not in group.standby:
            raise ScalingValidationError(f"The instance {instance_id} is not in Standby.")
    before: list[int] = []

    def change(current: Group) -> Group:
        before[:] = [current.desired_capacity]
        desired = current.desired_capacity + len(ids)
        if desired > current.max_size:
            raise ScalingValidationError(
                f"AutoScalingGroup {group_name} has min-size={current.min_size}, max-size="
                f"{current.max_size}, and desired-size={current.desired_capacity}. To place "
                f"{len(ids)} instance(s) into service, please update the AutoScalingGroup "
                "sizes appropriately."
            )
        standby = tuple(i for i in current.standby if i not in ids)
        return replace(current, standby=standby, desired_capacity=desired)

    group = await service.mutate(tenant_id, group_name, change)
    done = []
    for member in members:
        started = service.clock()
        done.append(
            await service.record(
                group,
                f"Moving EC2 instance out of Standby: {member.instance_id}",
                f"At {iso(started)} instance {member.instance_id} was moved out of standby in "
                f"response to a user request, increasing the capacity from {before[0]} to "
                f"{group.desired_capacity}.",
                ActivityStatus.SUCCESSFUL,
                started,
                subnet=member.subnet_id,
                zone=member.availability_zone,
            )
        )
    await _launching(service, group, ids)
    return done


async def _launching(service: AutoScalingService, group: Group, ids: Sequence[str]) -> None:
    """The instances held on the group's launch hooks (each action notified to its hook's
    target), as AWS holds one leaving Standby or attached in Pending:Wait."""
    if any(h.transition == HOOK_LAUNCHING for h in group.hooks):
        await service.hold(group.tenant_id, group.name, ids, HOOK_LAUNCHING)


async def attach(
    service: AutoScalingService, tenant_id: str, group_name: str, instance_ids: Sequence[str]
) -> None:
    """AttachInstances: running instances of the account, of no group and in the group's
    subnets, made the group's (its propagated tags set), the desired capacity up by as many
    (refused above the maximum, in AWS's words)."""
    ids = _ids(instance_ids, "attach")
    if not ids:
        raise ScalingValidationError("InstanceIds must name at least one instance")
    group = await service.group(tenant_id, group_name)
    found = {a.member.instance_id: a for a in await service.fleet.lookup(tenant_id, ids)}
    for instance_id in ids:
        adoptable = found.get(instance_id)
        if adoptable is None:
            raise ScalingValidationError(f"Invalid Instance ID(s): {instance_id}")
        if adoptable.group_name is not None:
            raise ScalingValidationError(
                f"The instance {instance_id} is already part of the Auto Scaling group "
                f"{adoptable.group_name}."
            )
        if adoptable.member.state != "running":
            raise ScalingValidationError(
                f"Instance {instance_id} is not in correct state: only running instances "
                "can be attached."
            )
        if group.subnets and adoptable.member.subnet_id not in group.subnets:
            raise ScalingValidationError(
                f"The subnet of instance {instance_id} is not one of the group's "
                f"VPCZoneIdentifier subnets ({','.join(group.subnets)})."
            )
    before: list[int] = []

    def change(current: Group) -> Group:
        before[:] = [current.desired_capacity]
        desired = current.desired_capacity + len(ids)
        if desired > current.max_size:
            raise ScalingValidationError(
                f"AutoScalingGroup {group_name} has min-size={current.min_size}, max-size="
                f"{current.max_size}, and desired-size={current.desired_capacity}. To attach "
                f"{len(ids)} instance(s), please update the AutoScalingGroup sizes "
                "appropriately."
            )
        protected = current.protected
        if current.new_instances_protected:
            protected = tuple(sorted({*protected, *ids}))
        attaching = tuple(sorted({*current.attaching, *ids}))
        return replace(current, desired_capacity=desired, protected=protected, attaching=attaching)

    # The capacity and the instances counted in one write, then compute's tag, then the
    # mark dropped: the reconciler never sees the capacity without its instances.
    group = await service.mutate(tenant_id, group_name, change)
    tags = [(t.key, t.value) for t in group.tags if t.propagate_at_launch]
    for index, instance_id in enumerate(ids):
        started = service.clock()
        member = found[instance_id].member
        status, message = ActivityStatus.SUCCESSFUL, ""
        try:
            await service.fleet.join(tenant_id, instance_id, group_name, tags)
        except LaunchFailed as exc:
            status, message = ActivityStatus.FAILED, str(exc)
        await service.record(
            group,
            f"Attaching an existing EC2 instance: {instance_id}",
            f"At {iso(started)} an existing EC2 instance {instance_id} was attached in response "
            f"to a user request, increasing the capacity from {before[0] + index} to "
            f"{before[0] + index + 1}.",
            status,
            started,
            message,
            subnet=member.subnet_id,
            zone=member.availability_zone,
        )
        if status == ActivityStatus.SUCCESSFUL:
            await _launching(service, group, [instance_id])
    await _unmark(service, tenant_id, group_name, ids)


async def _unmark(
    service: AutoScalingService, tenant_id: str, group_name: str, ids: Sequence[str]
) -> None:
    def change(group: Group) -> Group | None:
        attaching = tuple(i for i in group.attaching if i not in ids)
        detaching = tuple(i for i in group.detaching if i not in ids)
        if (attaching, detaching) == (group.attaching, group.detaching):
            return None
        return replace(group, attaching=attaching, detaching=detaching)

    await service.mutate(tenant_id, group_name, change)


async def detach(
    service: AutoScalingService,
    tenant_id: str,
    group_name: str,
    instance_ids: Sequence[str],
    *,
    decrement: bool,
) -> list[Activity]:
    """DetachInstances: the instances left running, no longer the group's (their
    ``aws:autoscaling:groupName`` gone); with ``decrement`` the desired capacity goes down
    by as many (refused below the minimum), else the reconciler replaces them."""
    ids = _ids(instance_ids, "detach")
    if not ids:
        raise ScalingValidationError("InstanceIds must name at least one instance")
    group = await service.group(tenant_id, group_name)
    members = await _members(service, group, ids)
    before: list[int] = []

    def change(current: Group) -> Group:
        before[:] = [current.desired_capacity]
        desired = current.desired_capacity - (len(ids) if decrement else 0)
        if desired < current.min_size:
            raise ScalingValidationError(
                f"AutoScalingGroup {group_name} has min-size={current.min_size}, max-size="
                f"{current.max_size}, and desired-size={current.desired_capacity}. To detach "
                f"{len(ids)} instance(s) with decrement, please update the AutoScalingGroup "
                "sizes appropriately."
            )
        return replace(
            current,
            desired_capacity=desired,
            protected=tuple(i for i in current.protected if i not in ids),
            standby=tuple(i for i in current.standby if i not in ids),
            detaching=tuple(sorted({*current.detaching, *ids})),
        )

    group = await service.mutate(tenant_id, group_name, change)
    done = []
    for index, member in enumerate(members):
        started = service.clock()
        status, message = ActivityStatus.SUCCESSFUL, ""
        try:
            await service.fleet.join(tenant_id, member.instance_id, None)
        except LaunchFailed as exc:
            status, message = ActivityStatus.FAILED, str(exc)
        if decrement:
            cause = (
                f"At {iso(started)} instance {member.instance_id} was detached in response to "
                f"a user request, shrinking the capacity from {before[0] - index} to "
                f"{before[0] - index - 1}."
            )
        else:
            cause = (
                f"At {iso(started)} instance {member.instance_id} was detached in response to "
                "a user request."
            )
        done.append(
            await service.record(
                group,
                f"Detaching EC2 instance: {member.instance_id}",
                cause,
                status,
                started,
                message,
                subnet=member.subnet_id,
                zone=member.availability_zone,
            )
        )
    await _unmark(service, tenant_id, group_name, ids)
    return done


async def set_processes(
    service: AutoScalingService,
    tenant_id: str,
    group_name: str,
    processes: Sequence[str],
    *,
    suspend: bool,
) -> None:
    """SuspendProcesses / ResumeProcesses: those named (none named: every one)."""
    for name in processes:
        if name not in PROCESSES:
            raise ScalingValidationError(f"Process {name[:64]} is not a valid scaling process")
    chosen = list(dict.fromkeys(processes)) or list(PROCESSES)
    reason = _SUSPENDED_BY_USER.format(when=iso(service.clock()))

    def change(group: Group) -> Group | None:
        held = {name: why for name, why in group.suspended}
        for name in chosen:
            if suspend:
                held.setdefault(name, reason)
            else:
                held.pop(name, None)
        wanted = tuple((n, held[n]) for n in PROCESSES if n in held)
        return None if wanted == group.suspended else replace(group, suspended=wanted)

    await service.mutate(tenant_id, group_name, change)


async def set_metrics(
    service: AutoScalingService,
    tenant_id: str,
    group_name: str,
    metrics: Sequence[str],
    *,
    enable: bool,
) -> None:
    """Enable/DisableMetricsCollection: those named (none named: every one)."""
    for name in metrics:
        if name not in METRICS:
            raise ScalingValidationError(f"Metric {name[:64]} is not a valid group metric")
    chosen = set(metrics) or set(METRICS)

    def change(group: Group) -> Group | None:
        held = set(group.enabled_metrics)
        held = held | chosen if enable else held - chosen
        wanted = tuple(m for m in METRICS if m in held)
        return None if wanted == group.enabled_metrics else replace(group, enabled_metrics=wanted)

    await service.mutate(tenant_id, group_name, change)
