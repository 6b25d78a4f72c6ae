"""The Auto Scaling calls an account makes on its groups (create, describe, update, delete,
set the desired capacity, terminate one of its instances) over a :class:`GroupStore` and a
:class:`Fleet`; the reconciler that converges the groups is ``reconciler``'s."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from andromede.autoscaling.errors import (
    AlreadyExists,
    GroupLimitExceeded,
    NoSuchGroup,
    ResourceContention,
    ResourceInUse,
    ScalingValidationError,
)
from andromede.autoscaling.fleet import Fleet, LaunchFailed, TemplateChoice
from andromede.autoscaling.forecast import LoadForecaster
from andromede.autoscaling.health import HEALTH_CHECK_TYPES, TargetHealth
from andromede.autoscaling.mixed import MixedPolicy, check_policy
from andromede.autoscaling.model import (
    Activity,
    ActivityStatus,
    Group,
    GroupTag,
    Member,
    group_arn,
)
from andromede.autoscaling.notify import (
    EVENT_TERMINATE,
    Notifier,
    action_message,
    activity_event,
    activity_message,
)
from andromede.autoscaling.records import HOOK_TERMINATING
from andromede.autoscaling.store import GroupStore
from andromede.autoscaling.traffic import advanced, listed
from andromede.autoscaling.waits import hold

__all__ = ["AutoScalingService", "GroupSpec", "GroupUpdate", "ScalingLimits", "iso"]

_log = logging.getLogger(__name__)

# A conditional write lost to another gateway's is retried on a fresh read this many times.
_ATTEMPTS = 8
_MAX_NAME = 255
_MAX_TAGS = 50


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class ScalingLimits:
    max_groups_per_tenant: int = 200
    max_instances_per_group: int = 100
    max_scheduled_actions: int = 125
    max_lifecycle_hooks: int = 50
    max_policies: int = 50
    max_notification_configurations: int = 10
    max_warm_pool_instances: int = 100


@dataclass(frozen=True, slots=True)
class GroupSpec:
    name: str
    template_id: str | None
    template_name: str | None
    template_version: str | None
    min_size: int
    max_size: int
    desired_capacity: int | None = None
    subnets: tuple[str, ...] = ()
    tags: tuple[GroupTag, ...] = ()
    default_cooldown: int = 300
    health_check_type: str = "EC2"
    health_check_grace_period: int = 0
    new_instances_protected: bool = False
    # Decision 0194: None or -1, not set.
    default_instance_warmup: int | None = None
    service_linked_role: str | None = None  # decision 0208: None, the default role
    # Decision 0209: the mixed instances policy (its template is the fields above).
    mixed: MixedPolicy | None = None
    capacity_rebalance: bool = False


@dataclass(frozen=True, slots=True)
class GroupUpdate:
    """UpdateAutoScalingGroup's parameters: None leaves a field as it is."""

    template_id: str | None = None
    template_name: str | None = None
    template_version: str | None = None
    min_size: int | None = None
    max_size: int | None = None
    desired_capacity: int | None = None
    subnets: tuple[str, ...] | None = None
    default_cooldown: int | None = None
    health_check_type: str | None = None
    health_check_grace_period: int | None = None
    new_instances_protected: bool | None = None
    # -1 removes it, as AWS's.
    default_instance_warmup: int | None = None
    mixed: MixedPolicy | None = None  # decision 0209
    capacity_rebalance: bool | None = None
    # A LaunchTemplate given instead: the group leaves its mixed instances policy, as on AWS.
    drop_mixed: bool = False


def _check_sizes(limits: ScalingLimits, low: int, high: int, desired: int) -> None:
    if low < 0 or high < 0 or desired < 0:
        raise ScalingValidationError("Sizes must be zero or more")
    if low > high:
        raise ScalingValidationError(
            f"Max bound, {high}, must be greater than or equal to min bound, {low}"
        )
    if not low <= desired <= high:
        raise ScalingValidationError(
            f"Desired capacity:{desired} must be between the specified min size:{low} and "
            f"max size:{high}"
        )
    if high > limits.max_instances_per_group:
        raise GroupLimitExceeded(
            f"A group here holds at most {limits.max_instances_per_group} instances "
            "(max_instances_per_autoscaling_group)"
        )


def _check_name(name: str) -> str:
    if not 1 <= len(name) <= _MAX_NAME or ":" in name:
        raise ScalingValidationError(
            f"AutoScalingGroupName must be 1 to {_MAX_NAME} characters without ':'"
        )
    return name


def _check_health(kind: str) -> str:
    if kind not in HEALTH_CHECK_TYPES:
        raise ScalingValidationError(
            f"HealthCheckType {kind!r} is not supported here: only EC2 and ELB (decision 0198)"
        )
    return kind


class AutoScalingService:
    def __init__(
        self,
        store: GroupStore,
        fleet: Fleet,
        limits: ScalingLimits,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        region: str = "us-east-1",
    ) -> None:
        self.store = store
        self.region = region  # the groups' ARNs in their notifications (decision 0188)
        self.fleet = fleet
        self.limits = limits
        self.clock = clock
        # Called with each activity once recorded (the wiring audits it).
        self.on_activity: Callable[[Activity], None] | None = None
        # Where lifecycle hooks with a target send their notifications (decision 0159); None:
        # a hook naming a target is refused.
        self.notifier: Notifier | None = None
        # Where predictive scaling policies read their load forecasts (decision 0197); None:
        # no forecast (GetPredictiveScalingForecast answers empty ones).
        self.forecaster: LoadForecaster | None = None
        # What the groups' target groups report of their instances (decision 0198: the ELB
        # health check); None: no load balancing here, an ELB group is checked as EC2.
        self.target_health: TargetHealth | None = None

    # -- the account's calls ---------------------------------------------------------------

    async def create_group(self, tenant_id: str, spec: GroupSpec) -> Group:
        _check_name(spec.name)
        _check_health(spec.health_check_type)
        desired = spec.min_size if spec.desired_capacity is None else spec.desired_capacity
        _check_sizes(self.limits, spec.min_size, spec.max_size, desired)
        if len(spec.tags) > _MAX_TAGS:
            raise ScalingValidationError(f"A group may have at most {_MAX_TAGS} tags")
        if any(t.key.lower().startswith("aws:") for t in spec.tags):
            raise ScalingValidationError("Tag keys starting with 'aws:' are reserved")
        if await self.store.get(tenant_id, spec.name) is not None:
            raise AlreadyExists(f"AutoScalingGroup by this name already exists - {spec.name}")
        if len(await self.store.groups(tenant_id)) >= self.limits.max_groups_per_tenant:
            raise GroupLimitExceeded(
                f"You have reached your limit of {self.limits.max_groups_per_tenant} groups"
            )
        version = spec.template_version or "$Default"
        choice = await self._template(tenant_id, spec.template_id, spec.template_name, version)
        if spec.mixed is not None:
            await self._check_mixed(spec.mixed)
        group = Group(
            tenant_id=tenant_id,
            name=spec.name,
            group_id=str(uuid.uuid4()),
            template_id=choice.template_id,
            template_name=choice.template_name,
            template_version=version,
            min_size=spec.min_size,
            max_size=spec.max_size,
            desired_capacity=desired,
            subnets=spec.subnets,
            created_at=self.clock(),
            tags=spec.tags,
            default_cooldown=spec.default_cooldown,
            health_check_type=spec.health_check_type,
            health_check_grace_period=spec.health_check_grace_period,
            new_instances_protected=spec.new_instances_protected,
            default_instance_warmup=(
                None if spec.default_instance_warmup in (None, -1) else spec.default_instance_warmup
            ),
            service_linked_role=spec.service_linked_role,
            mixed=spec.mixed,
            capacity_rebalance=spec.capacity_rebalance,
        )
        if not await self.store.insert(group):
            raise AlreadyExists(f"AutoScalingGroup by this name already exists - {spec.name}")
        return group

    async def _check_mixed(self, policy: MixedPolicy) -> None:
        """AWS's checks of a mixed instances policy, its types offered here included."""
        check_policy(policy)
        if policy.overrides:
            offered = await self.fleet.market()
            for override in policy.overrides:
                if override.instance_type not in offered:
                    raise ScalingValidationError(
                        f"The instance type '{override.instance_type[:64]}' is not supported "
                        "in this Region."
                    )

    async def group(self, tenant_id: str, name: str) -> Group:
        group = await self.store.get(tenant_id, name)
        if group is None or group.deleting:
            raise NoSuchGroup(f"AutoScalingGroup name not found - {name}")
        return group

    async def describe_groups(
        self, tenant_id: str, names: Sequence[str]
    ) -> list[tuple[Group, list[Member]]]:
        """The account's groups (those named, when names are given; unknown names are left
        out, as AWS does), each with its instances."""
        wanted = set(names)
        groups = [g for g in await self.store.groups(tenant_id) if not wanted or g.name in wanted]
        return [(g, await self.fleet.members(tenant_id, g.name)) for g in groups]

    async def update_group(self, tenant_id: str, name: str, update: GroupUpdate) -> Group:
        for _ in range(_ATTEMPTS):
            group = await self.group(tenant_id, name)
            low = group.min_size if update.min_size is None else update.min_size
            high = group.max_size if update.max_size is None else update.max_size
            desired = group.desired_capacity
            if update.desired_capacity is not None:
                desired = update.desired_capacity
            else:  # AWS moves the desired capacity into the new bounds
                desired = min(max(desired, low), high)
            _check_sizes(self.limits, low, high, desired)
            changed = replace(group, min_size=low, max_size=high, desired_capacity=desired)
            if update.template_id or update.template_name or update.template_version:
                version = update.template_version or group.template_version
                if update.template_id or update.template_name:
                    choice = await self._template(
                        tenant_id, update.template_id, update.template_name, version
                    )
                else:
                    choice = await self._template(tenant_id, group.template_id, None, version)
                changed = replace(
                    changed,
                    template_id=choice.template_id,
                    template_name=choice.template_name,
                    template_version=version,
                )
            if update.mixed is not None:  # decision 0209
                if group.warm_pool is not None:
                    raise ScalingValidationError(
                        "You can't add a mixed instances policy to an Auto Scaling group that "
                        "has a warm pool."
                    )
                await self._check_mixed(update.mixed)
                changed = replace(changed, mixed=update.mixed)
            if update.drop_mixed:
                changed = replace(changed, mixed=None)
            if update.capacity_rebalance is not None:
                changed = replace(changed, capacity_rebalance=update.capacity_rebalance)
            if update.subnets is not None:
                changed = replace(changed, subnets=update.subnets)
            if update.default_cooldown is not None:
                changed = replace(changed, default_cooldown=update.default_cooldown)
            if update.health_check_type is not None:
                changed = replace(
                    changed, health_check_type=_check_health(update.health_check_type)
                )
            if update.health_check_grace_period is not None:
                changed = replace(
                    changed, health_check_grace_period=update.health_check_grace_period
                )
            if update.new_instances_protected is not None:
                changed = replace(changed, new_instances_protected=update.new_instances_protected)
            if update.default_instance_warmup is not None:
                warmup = update.default_instance_warmup
                changed = replace(changed, default_instance_warmup=None if warmup == -1 else warmup)
            if await self.store.change(changed):
                return replace(changed, revision=changed.revision + 1)
        raise ResourceContention(f"AutoScalingGroup {name} is being changed; retry")

    async def mutate(
        self, tenant_id: str, name: str, change: Callable[[Group], Group | None]
    ) -> Group:
        """Write ``change(group)`` over the group, read again and retried when another
        writer came first; ``change`` returning None leaves it as it is."""
        for _ in range(_ATTEMPTS):
            group = await self.group(tenant_id, name)
            changed = change(group)
            if changed is None:
                return group
            if await self.store.change(changed):
                return replace(changed, revision=changed.revision + 1)
        raise ResourceContention(f"AutoScalingGroup {name} is being changed; retry")

    async def advance_attachments(self, group: Group, members: Sequence[Member]) -> Group:
        """The group's target group attachments' states advanced from what the target groups
        show now of ``members`` (decision 0201; the load balancers' upkeep calls it after
        registering them); written only when one changed."""
        port = self.target_health
        attachments = listed(group)
        if port is None or group.deleting or not attachments:
            return group  # nothing to advance: no read of the group again
        seen = {a: await port.targets(group.tenant_id, a) for a, _ in attachments}

        def change(current: Group) -> Group | None:
            states = advanced(current, members, seen)
            return None if states == current.attachment_states else (
                replace(current, attachment_states=states)
            )  # fmt: skip

        return await self.mutate(group.tenant_id, group.name, change)

    async def hold(
        self, tenant_id: str, name: str, instance_ids: Sequence[str], transition: str
    ) -> Group:
        """The instances held on the group's hooks for ``transition`` (decision 0159), each
        new lifecycle action notified to its hook's target."""
        now = self.clock()
        known: set[str] = set()

        def change(group: Group) -> Group:
            known.update(w.token for w in group.waiting)
            return hold(group, instance_ids, transition, now)

        group = await self.mutate(tenant_id, name, change)
        hooks = {h.name: h for h in group.hooks}
        for entry in group.waiting:
            hook = hooks.get(entry.hook)
            if entry.token in known or hook is None or not hook.notification_target_arn:
                continue
            sent = self.notifier is not None and await self.notifier.send(
                tenant_id, hook.notification_target_arn, action_message(group, hook, entry)
            )
            if not sent:
                _log.warning(
                    "lifecycle notification of %s for %s not queued (topic %s)",
                    hook.name,
                    entry.instance_id,
                    hook.notification_target_arn,
                )
        return group

    async def set_desired_capacity(self, tenant_id: str, name: str, desired: int) -> Group:
        return await self.update_group(tenant_id, name, GroupUpdate(desired_capacity=desired))

    async def delete_group(self, tenant_id: str, name: str, *, force: bool) -> None:
        """Without ``force``, refused while the group holds instances; with it, the group is
        marked for deletion and the reconciler terminates its instances, then deletes it."""
        for _ in range(_ATTEMPTS):
            group = await self.group(tenant_id, name)
            members = await self.fleet.members(tenant_id, name)
            if members and not force:
                raise ResourceInUse(
                    "You cannot delete an AutoScalingGroup while there are instances or "
                    "pending Spot instance request(s) still in the group."
                )
            if not members:
                if await self.store.delete(group):
                    return
                continue
            # The reconciler terminates them (each an activity and an audit event), then
            # deletes the group.
            marked = replace(group, deleting=True, desired_capacity=0, min_size=0)
            if await self.store.change(marked):
                return
        raise ResourceContention(f"AutoScalingGroup {name} is being changed; retry")

    async def instances(self, tenant_id: str) -> list[tuple[Group, Member]]:
        """Every instance of the account's groups (DescribeAutoScalingInstances)."""
        found = []
        for group in await self.store.groups(tenant_id):
            for member in await self.fleet.members(tenant_id, group.name):
                found.append((group, member))
        return found

    async def terminate_instance(
        self, tenant_id: str, instance_id: str, *, decrement: bool
    ) -> tuple[Group, Activity]:
        """Terminate one of a group's instances; with ``decrement`` the group's desired
        capacity goes one down (refused below its minimum), else the reconciler replaces it."""
        owned = [(g, m) for g, m in await self.instances(tenant_id) if m.instance_id == instance_id]
        if not owned:
            raise ScalingValidationError(f"Instance Id not found - {instance_id}")
        group, member = owned[0]
        if member.protected:  # refused before the capacity moves, not half done
            raise ScalingValidationError(
                f"Instance {instance_id} has termination protection (DisableApiTermination)"
            )
        # A warm pool's instance is not in the capacity (decision 0194): nothing to decrement;
        # the pool refills itself.
        if decrement and instance_id not in group.warmed:
            for _ in range(_ATTEMPTS):
                group = await self.group(tenant_id, group.name)
                if group.desired_capacity - 1 < group.min_size:
                    raise ScalingValidationError(
                        f"Currently, desiredSize equals minSize ({group.min_size}). Terminating "
                        "instance without replacement will violate group's min size constraint. "
                        "Either set shouldDecrementDesiredCapacity flag to false or lower "
                        "group's min size."
                    )
                lowered = replace(group, desired_capacity=group.desired_capacity - 1)
                if await self.store.change(lowered):
                    group = replace(lowered, revision=lowered.revision + 1)
                    break
            else:
                raise ResourceContention(f"AutoScalingGroup {group.name} is being changed")
            cause = (
                f"At {iso(self.clock())} instance {instance_id} was taken out of service in "
                "response to a user request, shrinking the capacity from "
                f"{group.desired_capacity + 1} to {group.desired_capacity}."
            )
        else:
            cause = (
                f"At {iso(self.clock())} instance {instance_id} was taken out of service in "
                "response to a user request."
            )
        if any(h.transition == HOOK_TERMINATING for h in group.hooks):
            # Its termination hooks hold it in Terminating:Wait first (decision 0159); the
            # reconciler terminates it once they are done, a second activity.
            started = self.clock()
            group = await self.hold(tenant_id, group.name, [instance_id], HOOK_TERMINATING)
            waiting = await self.record(
                group,
                f"Terminating EC2 instance: {instance_id}",
                cause,
                ActivityStatus.WAITING_TERMINATE,
                started,
                subnet=member.subnet_id,
                zone=member.availability_zone,
                progress=50,
            )
            return group, waiting
        activity = await self.terminate_members(group, [member], cause)
        return group, activity[0]

    async def activities(self, tenant_id: str, name: str | None) -> list[Activity]:
        if name is not None:
            await self.group(tenant_id, name)
        return await self.store.activities(tenant_id, name)

    # -- what the account's calls and the reconciler share ---------------------------------

    async def terminate_members(
        self, group: Group, members: Sequence[Member], cause: str
    ) -> list[Activity]:
        done = []
        for member in members:
            started = self.clock()
            try:
                await self.fleet.terminate(group.tenant_id, [member.instance_id])
                status, message = ActivityStatus.SUCCESSFUL, ""
            except LaunchFailed as exc:
                status, message = ActivityStatus.FAILED, str(exc)
            done.append(
                await self.record(
                    group,
                    f"Terminating EC2 instance: {member.instance_id}",
                    cause,
                    status,
                    started,
                    message,
                    subnet=member.subnet_id,
                    zone=member.availability_zone,
                    event=EVENT_TERMINATE,
                    instance_id=member.instance_id,
                )
            )
        return done

    async def record(
        self,
        group: Group,
        description: str,
        cause: str,
        status: str,
        started: datetime,
        message: str = "",
        *,
        subnet: str | None = None,
        zone: str | None = None,
        progress: int = 100,
        event: str | None = None,
        instance_id: str | None = None,
    ) -> Activity:
        """The activity written, audited, and (``event``: EVENT_LAUNCH or EVENT_TERMINATE)
        sent to the group's notification configurations of its type (decision 0188)."""
        # AWS's Details: the instance's subnet and zone, as compact JSON.
        where = {"Subnet ID": subnet, "Availability Zone": zone}
        details = json.dumps({k: v for k, v in where.items() if v}, separators=(",", ":"))
        activity = Activity(
            activity_id=str(uuid.uuid4()),
            tenant_id=group.tenant_id,
            group_name=group.name,
            description=description,
            cause=cause,
            status_code=status,
            start_time=started,
            end_time=self.clock(),
            status_message=message,
            details=details,
            progress=progress,
        )
        await self.store.add_activity(activity)
        if self.on_activity is not None:
            self.on_activity(activity)
        if event is not None and group.notifications:
            await self._announce(group, activity, activity_event(event, activity), instance_id)
        return activity

    async def _announce(
        self, group: Group, activity: Activity, event: str, instance_id: str | None
    ) -> None:
        """Sent by the gateway that wrote the activity, right after writing it: one activity
        is written once (a reconciler's lease, or the call's own gateway), so each topic gets
        one message per activity however many gateways run."""
        arn = group_arn(self.region, group.tenant_id, group.group_id, group.name)
        message = activity_message(group, arn, activity, event, instance_id)
        for config in group.notifications:
            if event not in config.types:
                continue
            sent = self.notifier is not None and await self.notifier.send(
                group.tenant_id, config.topic_arn, message
            )
            if not sent:
                _log.warning(
                    "%s notification of activity %s not queued (topic %s)",
                    event,
                    activity.activity_id,
                    config.topic_arn,
                )

    async def _template(
        self, tenant_id: str, template_id: str | None, name: str | None, version: str
    ) -> TemplateChoice:
        if not template_id and not name:
            raise ScalingValidationError(
                "Valid requests must contain either LaunchTemplate, LaunchConfigurationName, "
                "InstanceId or MixedInstancesPolicy parameter."
            )
        try:
            return await self.fleet.template(tenant_id, template_id, name, version)
        except LaunchFailed as exc:
            raise ScalingValidationError(str(exc)) from exc
