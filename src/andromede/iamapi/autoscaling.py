"""Amazon EC2 Auto Scaling's group calls (decision 0156) on the shared endpoint (service
``autoscaling`` in the credential scope, API version 2011-01-01): Query protocol, the IAM and
STS machinery (``iamapi.app.QueryApp``): SigV4, the ``autoscaling:<Action>`` policy check on the
group's ARN, the audit record of each mutating call, the error envelope with its request id.

Served: CreateAutoScalingGroup, DescribeAutoScalingGroups, UpdateAutoScalingGroup,
DeleteAutoScalingGroup, SetDesiredCapacity, DescribeAutoScalingInstances,
TerminateInstanceInAutoScalingGroup, DescribeScalingActivities; scheduled actions, lifecycle
hooks, instance refreshes and tags (decision 0159) in ``autoscaling_schedules``,
``autoscaling_hooks``, ``autoscaling_refresh`` and ``autoscaling_tags``; scaling policies
(decision 0177) in ``autoscaling_policies``; instance protection, standby, attach/detach,
suspended processes and metrics collection (decision 0182) in ``autoscaling_controls``;
notification configurations (decision 0188) in ``autoscaling_notifications``; warm pools
(decision 0194) in ``autoscaling_warm_pool``; target groups (decision 0191) in
``autoscaling_target_groups``, traffic sources (decision 0201) in ``autoscaling_traffic``.
Mixed instances policies (decision 0209) in ``autoscaling_mixed``.
A parameter of a feature not here (launch configurations, Classic Load Balancers…) is
refused with ``ValidationError`` rather than ignored.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Final

from andromede.autoscaling.mixed import weight_of
from andromede.autoscaling.model import Group, GroupTag, Member, group_arn
from andromede.autoscaling.policies import PolicyAlarms
from andromede.autoscaling.records import HOOK_LAUNCHING
from andromede.autoscaling.service import AutoScalingService, GroupSpec, GroupUpdate
from andromede.autoscaling.traffic import IN_SERVICE
from andromede.autoscaling.warm_pool import warm_state
from andromede.http.xml import XmlWriter
from andromede.iamapi import (
    autoscaling_controls,
    autoscaling_hooks,
    autoscaling_linked_role,
    autoscaling_notifications,
    autoscaling_policies,
    autoscaling_predictive,
    autoscaling_refresh,
    autoscaling_schedules,
    autoscaling_tags,
    autoscaling_target_groups,
    autoscaling_traffic,
    autoscaling_warm_pool,
)
from andromede.iamapi.autoscaling_mixed import MIXED_PARAM, read_mixed, write_mixed
from andromede.iamapi.autoscaling_wire import (
    guarded,
    refuse_unhandled,
    template_names,
    write_activity,
    write_member_template,
)
from andromede.iamapi.autoscaling_wire import page as paged
from andromede.iamapi.errors import QueryError
from andromede.iamapi.protocol import Action, Call, ServiceSpec, iso8601

__all__ = ["ACTIONS", "NAMESPACE", "autoscaling_spec"]

NAMESPACE: Final = "http://autoscaling.amazonaws.com/doc/2011-01-01/"
ACTIONS: Final = (
    "BatchDeleteScheduledAction",
    "BatchPutScheduledUpdateGroupAction",
    "AttachInstances",
    "AttachLoadBalancerTargetGroups",
    "AttachTrafficSources",
    "CancelInstanceRefresh",
    "CompleteLifecycleAction",
    "CreateAutoScalingGroup",
    "CreateOrUpdateTags",
    "DeleteAutoScalingGroup",
    "DeleteLifecycleHook",
    "DeleteNotificationConfiguration",
    "DeletePolicy",
    "DeleteScheduledAction",
    "DeleteTags",
    "DeleteWarmPool",
    "DescribeAdjustmentTypes",
    "DescribeAutoScalingGroups",
    "DescribeAutoScalingInstances",
    "DescribeAutoScalingNotificationTypes",
    "DescribeInstanceRefreshes",
    "DescribeLifecycleHookTypes",
    "DescribeLifecycleHooks",
    "DescribeLoadBalancerTargetGroups",
    "DescribeMetricCollectionTypes",
    "DescribeNotificationConfigurations",
    "DescribePolicies",
    "DescribeScalingActivities",
    "DescribeScalingProcessTypes",
    "DescribeScheduledActions",
    "DescribeTags",
    "DescribeTrafficSources",
    "DescribeWarmPool",
    "DetachInstances",
    "DetachLoadBalancerTargetGroups",
    "DetachTrafficSources",
    "DisableMetricsCollection",
    "EnableMetricsCollection",
    "EnterStandby",
    "ExecutePolicy",
    "ExitStandby",
    "GetPredictiveScalingForecast",
    "PutLifecycleHook",
    "PutNotificationConfiguration",
    "PutScalingPolicy",
    "PutScheduledUpdateGroupAction",
    "PutWarmPool",
    "RecordLifecycleActionHeartbeat",
    "ResumeProcesses",
    "SetDesiredCapacity",
    "SetInstanceProtection",
    "StartInstanceRefresh",
    "SuspendProcesses",
    "TerminateInstanceInAutoScalingGroup",
    "UpdateAutoScalingGroup",
)
# The calls of decision 0159 checked on the group's ARN (the others on "*", as AWS's
# authorisation reference has them, or on the group by name).
_NAMED_GROUP: Final = (
    "PutScheduledUpdateGroupAction",
    "DeleteScheduledAction",
    "BatchPutScheduledUpdateGroupAction",
    "BatchDeleteScheduledAction",
    "PutLifecycleHook",
    "DeleteLifecycleHook",
    "CompleteLifecycleAction",
    "RecordLifecycleActionHeartbeat",
    "StartInstanceRefresh",
    "CancelInstanceRefresh",
    "PutScalingPolicy",
    *autoscaling_controls.NAMED_GROUP,
    *autoscaling_notifications.NAMED_GROUP,
    *autoscaling_warm_pool.NAMED_GROUP,
    *autoscaling_target_groups.NAMED_GROUP,
    *autoscaling_traffic.NAMED_GROUP,
)
Handler = tuple[Callable[[Call], Awaitable[None]], bool, bool]
_MAX_SIZE = 1_000_000  # the wire's bound; the setting bounds MaxSize below it
_GROUP_PARAMS: Final = (
    "AutoScalingGroupName",
    "LaunchTemplate.LaunchTemplateId",
    "LaunchTemplate.LaunchTemplateName",
    "LaunchTemplate.Version",
    "MinSize",
    "MaxSize",
    "DesiredCapacity",
    "DefaultCooldown",
    "HealthCheckType",
    "HealthCheckGracePeriod",
    "VPCZoneIdentifier",
    "NewInstancesProtectedFromScaleIn",
    "DefaultInstanceWarmup",
)


def _tags(call: Call) -> tuple[GroupTag, ...]:
    tags = []
    index = 1
    while (key := call.get(f"Tags.member.{index}.Key")) is not None:
        kind = call.get(f"Tags.member.{index}.ResourceType") or "auto-scaling-group"
        if kind != "auto-scaling-group":
            raise QueryError("ValidationError", f"Tag ResourceType {kind[:64]!r} is invalid")
        propagate = (call.get(f"Tags.member.{index}.PropagateAtLaunch") or "false").lower()
        if not 1 <= len(key) <= 128:
            raise QueryError("ValidationError", "Tag key must be 1 to 128 characters")
        value = call.get(f"Tags.member.{index}.Value") or ""
        if len(value) > 256:
            raise QueryError("ValidationError", "Tag value must be at most 256 characters")
        tags.append(GroupTag(key, value, propagate == "true"))
        index += 1
    if len({t.key for t in tags}) != len(tags):
        raise QueryError("ValidationError", "Duplicate tag key")
    return tuple(tags)


def _subnets(raw: str | None) -> tuple[str, ...] | None:
    if raw is None:
        return None
    return tuple(dict.fromkeys(s.strip() for s in raw.split(",") if s.strip()))


def _size(call: Call, name: str) -> int | None:
    if call.get(name) is None:
        return None
    return call.integer(name, minimum=0, maximum=_MAX_SIZE, default=0)


def _warmup(call: Call) -> int | None:
    """DefaultInstanceWarmup (decision 0194): absent None, -1 removes it (as AWS's)."""
    if call.get("DefaultInstanceWarmup") is None:
        return None
    return call.integer("DefaultInstanceWarmup", minimum=-1, maximum=86400, default=-1)


def _lifecycle(group: Group, member: Member) -> tuple[str, str]:
    """AWS's LifecycleState and HealthStatus of an instance in its state, lifecycle actions
    included (decision 0159), and the warm pool's (decision 0194)."""
    if member.instance_id in group.warmed:
        return warm_state(group, member)
    waiting = group.waiting_on(member.instance_id)
    if member.instance_id in group.standby and not waiting:  # decision 0182
        healthy = member.state in ("pending", "running")
        return "Standby", "Healthy" if healthy else "Unhealthy"
    if waiting:
        launching = all(w.transition == HOOK_LAUNCHING for w in waiting)
        phase = "Pending" if launching else "Terminating"
        step = "Wait" if any(w.result is None for w in waiting) else "Proceed"
        return f"{phase}:{step}", "Healthy" if launching else "Unhealthy"
    if member.state == "pending":
        return "Pending", "Healthy"
    if member.state == "running":  # marked by the ELB health check (decision 0198)
        return "InService", "Unhealthy" if member.instance_id in group.unhealthy else "Healthy"
    if member.state == "shutting-down":
        return "Terminating", "Unhealthy"
    return "InService", "Unhealthy"


def _names_template(call: Call) -> bool:
    return any(n.startswith("LaunchTemplate.") for n in call.params)


def _write_template(xml: XmlWriter, group: Group) -> None:
    xml.open("LaunchTemplate")
    xml.element("LaunchTemplateId", group.template_id)
    xml.element("LaunchTemplateName", group.template_name)
    xml.element("Version", group.template_version)
    xml.close("LaunchTemplate")


def _write_member(
    xml: XmlWriter,
    group: Group,
    member: Member,
    names: Mapping[str, str],
    *,
    with_group: bool,
) -> None:
    state, health = _lifecycle(group, member)
    xml.element("InstanceId", member.instance_id)
    if with_group:
        xml.element("AutoScalingGroupName", group.name)
    xml.element("InstanceType", member.instance_type)
    if group.mixed is not None and any(o.weight for o in group.mixed.overrides):
        xml.element("WeightedCapacity", str(weight_of(group.mixed, member.instance_type)))
    xml.element("AvailabilityZone", member.availability_zone)
    xml.element("LifecycleState", state)
    xml.element("HealthStatus", health.upper() if with_group else health)
    write_member_template(xml, group, member, names)
    protected = member.instance_id in group.protected
    xml.element("ProtectedFromScaleIn", "true" if protected else "false")


def _write_group(
    xml: XmlWriter,
    region: str,
    group: Group,
    members: list[Member],
    names: Mapping[str, str],
) -> None:
    xml.element("AutoScalingGroupName", group.name)
    xml.element(
        "AutoScalingGroupARN", group_arn(region, group.tenant_id, group.group_id, group.name)
    )
    if group.mixed is None:
        _write_template(xml, group)
    write_mixed(xml, group)  # decision 0209
    xml.element("MinSize", group.min_size)
    xml.element("MaxSize", group.max_size)
    xml.element("DesiredCapacity", group.desired_capacity)
    xml.element("DefaultCooldown", group.default_cooldown)
    xml.open("AvailabilityZones")
    for zone in sorted({m.availability_zone for m in members}):
        xml.element("member", zone)
    xml.close("AvailabilityZones")
    xml.open("LoadBalancerNames")
    xml.close("LoadBalancerNames")
    xml.open("TargetGroupARNs")
    for arn in group.target_groups:
        xml.element("member", arn)
    xml.close("TargetGroupARNs")
    autoscaling_traffic.write_sources(xml, group)  # decision 0201
    xml.element("HealthCheckType", group.health_check_type)
    xml.element("HealthCheckGracePeriod", group.health_check_grace_period)
    xml.open("Instances")
    own = [m for m in members if m.instance_id not in group.warmed]
    for member in own:
        xml.open("member")
        _write_member(xml, group, member, names, with_group=False)
        xml.close("member")
    xml.close("Instances")
    xml.element("CreatedTime", iso8601(group.created_at))
    xml.open("SuspendedProcesses")
    for process, reason in group.suspended:
        xml.open("member")
        xml.element("ProcessName", process)
        xml.element("SuspensionReason", reason)
        xml.close("member")
    xml.close("SuspendedProcesses")
    xml.element("VPCZoneIdentifier", ",".join(group.subnets))
    xml.open("EnabledMetrics")
    for metric in group.enabled_metrics:
        xml.open("member")
        xml.element("Metric", metric)
        xml.element("Granularity", "1Minute")
        xml.close("member")
    xml.close("EnabledMetrics")
    if group.deleting:
        xml.element("Status", "Delete in progress")
    xml.open("Tags")
    for tag in group.tags:
        xml.open("member")
        xml.element("ResourceId", group.name)
        xml.element("ResourceType", "auto-scaling-group")
        xml.element("Key", tag.key)
        xml.element("Value", tag.value)
        xml.element("PropagateAtLaunch", "true" if tag.propagate_at_launch else "false")
        xml.close("member")
    xml.close("Tags")
    xml.open("TerminationPolicies")
    xml.element("member", "Default")
    xml.close("TerminationPolicies")
    xml.element(
        "NewInstancesProtectedFromScaleIn", "true" if group.new_instances_protected else "false"
    )
    xml.element("CapacityRebalance", "true" if group.capacity_rebalance else "false")
    xml.element(
        "ServiceLinkedRoleARN",
        group.service_linked_role or autoscaling_linked_role.default_role_arn(group.tenant_id),
    )
    # Decision 0194: the warm pool, its instances (those the fleet still lists), the warm-up.
    if group.warm_pool is not None:
        xml.open("WarmPoolConfiguration")
        autoscaling_warm_pool.write_configuration(xml, group.warm_pool)
        xml.close("WarmPoolConfiguration")
        xml.element("WarmPoolSize", len(members) - len(own))
    if group.default_instance_warmup is not None:
        xml.element("DefaultInstanceWarmup", group.default_instance_warmup)


def _filters(call: Call) -> list[tuple[str, list[str]]]:
    found = []
    index = 1
    while (name := call.get(f"Filters.member.{index}.Name")) is not None:
        values = call.members(f"Filters.member.{index}.Values")
        if name not in ("tag-key", "tag-value") and not name.startswith("tag:"):
            raise QueryError("ValidationError", f"Filter name {name[:64]!r} is not supported")
        found.append((name, values))
        index += 1
    return found


def _matches(group: Group, filters: list[tuple[str, list[str]]]) -> bool:
    for name, values in filters:
        if name == "tag-key":
            seen = [t.key for t in group.tags]
        elif name == "tag-value":
            seen = [t.value for t in group.tags]
        else:
            seen = [t.value for t in group.tags if t.key == name[4:]]
        if not set(seen) & set(values):
            return False
    return True


def autoscaling_spec(
    service: AutoScalingService, region: str, alarms: PolicyAlarms | None = None
) -> ServiceSpec:
    """The Auto Scaling Query service over ``service``; group ARNs name ``region``; target
    tracking policies put their alarms through ``alarms``."""

    async def create_group(call: Call) -> None:
        listed = [
            n
            for n in call.params
            if autoscaling_target_groups.TARGET_GROUP_PARAM.match(n)
            or autoscaling_traffic.TRAFFIC_PARAM.match(n)
            or MIXED_PARAM.match(n)
        ]
        refuse_unhandled(call, (*_GROUP_PARAMS, *listed, "ServiceLinkedRoleARN"))
        mixed = read_mixed(call, launch_template_given=_names_template(call))
        arns = autoscaling_target_groups.target_group_arns(call, region, required=False) or []
        arns = list(dict.fromkeys((*arns, *autoscaling_traffic.traffic_sources(call, region))))
        call.required("MinSize")
        call.required("MaxSize")
        spec = GroupSpec(
            name=call.required("AutoScalingGroupName"),
            template_id=mixed.template_id if mixed else call.get("LaunchTemplate.LaunchTemplateId"),
            template_name=(
                mixed.template_name if mixed else call.get("LaunchTemplate.LaunchTemplateName")
            ),
            template_version=(
                mixed.template_version if mixed else call.get("LaunchTemplate.Version")
            ),
            mixed=mixed.policy if mixed else None,
            capacity_rebalance=call.boolean("CapacityRebalance", default=False),
            min_size=call.integer("MinSize", minimum=0, maximum=_MAX_SIZE, default=-1),
            max_size=call.integer("MaxSize", minimum=0, maximum=_MAX_SIZE, default=-1),
            desired_capacity=_size(call, "DesiredCapacity"),
            subnets=_subnets(call.get("VPCZoneIdentifier")) or (),
            tags=_tags(call),
            default_cooldown=call.integer("DefaultCooldown", minimum=0, maximum=86400, default=300),
            health_check_type=call.get("HealthCheckType") or "EC2",
            health_check_grace_period=call.integer(
                "HealthCheckGracePeriod", minimum=0, maximum=86400, default=0
            ),
            new_instances_protected=call.boolean("NewInstancesProtectedFromScaleIn", default=False),
            default_instance_warmup=_warmup(call),
            service_linked_role=await autoscaling_linked_role.group_role(call),  # decision 0208
        )
        make_default = spec.service_linked_role is None and (
            await autoscaling_linked_role.may_make_default(call)  # before the group: refused
        )
        await guarded(service.create_group(call.tenant_id, spec))
        if make_default:
            await autoscaling_linked_role.made_on_first_use(call)
        if arns:  # decision 0191; InService at once, as AWS's reference says (decision 0201)
            await autoscaling_target_groups.set_target_groups(
                service, call.tenant_id, spec.name, lambda _: tuple(arns), joined=IN_SERVICE
            )

    async def update_group(call: Call) -> None:
        refuse_unhandled(call, (*_GROUP_PARAMS, *(n for n in call.params if MIXED_PARAM.match(n))))
        mixed = read_mixed(call, launch_template_given=_names_template(call))
        update = GroupUpdate(
            template_id=mixed.template_id if mixed else call.get("LaunchTemplate.LaunchTemplateId"),
            template_name=(
                mixed.template_name if mixed else call.get("LaunchTemplate.LaunchTemplateName")
            ),
            template_version=(
                mixed.template_version if mixed else call.get("LaunchTemplate.Version")
            ),
            mixed=mixed.policy if mixed else None,
            drop_mixed=_names_template(call),
            capacity_rebalance=(
                call.boolean("CapacityRebalance", default=False)
                if call.get("CapacityRebalance") is not None
                else None
            ),
            min_size=_size(call, "MinSize"),
            max_size=_size(call, "MaxSize"),
            desired_capacity=_size(call, "DesiredCapacity"),
            subnets=_subnets(call.get("VPCZoneIdentifier")),
            default_cooldown=(
                call.integer("DefaultCooldown", minimum=0, maximum=86400, default=0)
                if call.get("DefaultCooldown") is not None
                else None
            ),
            health_check_type=call.get("HealthCheckType"),
            health_check_grace_period=(
                call.integer("HealthCheckGracePeriod", minimum=0, maximum=86400, default=0)
                if call.get("HealthCheckGracePeriod") is not None
                else None
            ),
            new_instances_protected=(
                call.boolean("NewInstancesProtectedFromScaleIn", default=False)
                if call.get("NewInstancesProtectedFromScaleIn") is not None
                else None
            ),
            default_instance_warmup=_warmup(call),
        )
        name = call.required("AutoScalingGroupName")
        await guarded(service.update_group(call.tenant_id, name, update))

    async def describe_groups(call: Call) -> None:
        names = call.members("AutoScalingGroupNames")
        filters = _filters(call)
        found = await service.describe_groups(call.tenant_id, names)
        chosen = [(g, m) for g, m in found if _matches(g, filters)]
        page, token = paged(call, chosen, lambda item: item[0].name)
        xml = call.result
        xml.open("AutoScalingGroups")
        templates = await template_names(
            service, call.tenant_id, [(g, m) for g, members in page for m in members]
        )
        for group, members in page:
            xml.open("member")
            _write_group(xml, region, group, members, templates)
            xml.close("member")
        xml.close("AutoScalingGroups")
        if token is not None:
            xml.element("NextToken", token)

    async def delete_group(call: Call) -> None:
        name = call.required("AutoScalingGroupName")
        held = await service.store.get(call.tenant_id, name)
        await guarded(
            service.delete_group(
                call.tenant_id, name, force=call.boolean("ForceDelete", default=False)
            )
        )
        # Its policies go with it, and the alarms its target tracking policies own (0177).
        owned = [n for p in (held.policies if held else ()) for n in p.alarm_names]
        if owned and alarms is not None:
            await alarms.delete(call.tenant_id, owned)

    async def set_desired(call: Call) -> None:
        call.required("DesiredCapacity")
        await guarded(
            service.set_desired_capacity(
                call.tenant_id,
                call.required("AutoScalingGroupName"),
                call.integer("DesiredCapacity", minimum=0, maximum=_MAX_SIZE, default=0),
            )
        )

    async def describe_instances(call: Call) -> None:
        wanted = set(call.members("InstanceIds"))
        found = [
            (g, m)
            for g, m in await service.instances(call.tenant_id)
            if not wanted or m.instance_id in wanted
        ]
        found.sort(key=lambda item: item[1].instance_id)
        page, token = paged(call, found, lambda item: item[1].instance_id)
        names = await template_names(service, call.tenant_id, page)
        xml = call.result
        xml.open("AutoScalingInstances")
        for group, member in page:
            xml.open("member")
            _write_member(xml, group, member, names, with_group=True)
            xml.close("member")
        xml.close("AutoScalingInstances")
        if token is not None:
            xml.element("NextToken", token)

    async def terminate_instance(call: Call) -> None:
        call.required("ShouldDecrementDesiredCapacity")
        _, activity = await guarded(
            service.terminate_instance(
                call.tenant_id,
                call.required("InstanceId"),
                decrement=call.boolean("ShouldDecrementDesiredCapacity", default=False),
            )
        )
        call.result.open("Activity")
        write_activity(call.result, activity)
        call.result.close("Activity")

    async def describe_activities(call: Call) -> None:
        ids = set(call.members("ActivityIds"))
        found = await guarded(
            service.activities(call.tenant_id, call.get("AutoScalingGroupName") or None)
        )
        chosen = [a for a in found if not ids or a.activity_id in ids]
        # Newest first, as AWS lists them; the token is a position in that order.
        keyed = [(f"{index:012d}", a) for index, a in enumerate(chosen)]
        page, token = paged(call, keyed, lambda item: item[0])
        xml = call.result
        xml.open("Activities")
        for _, activity in page:
            xml.open("member")
            write_activity(xml, activity)
            xml.close("member")
        xml.close("Activities")
        if token is not None:
            xml.element("NextToken", token)

    async def named_group(call: Call) -> str:
        name = call.required("AutoScalingGroupName")
        group = await service.store.get(call.tenant_id, name)
        return group_arn(region, call.tenant_id, group.group_id if group else "*", name)

    async def instance_group(call: Call) -> str:
        # SetInstanceHealth names an instance, AWS authorises it on the instance's group.
        wanted = call.get("InstanceId")
        for group, member in await service.instances(call.tenant_id) if wanted else []:
            if member.instance_id == wanted:
                return group_arn(region, call.tenant_id, group.group_id, group.name)
        return group_arn(region, call.tenant_id, "*", "*")

    handlers: dict[str, Handler] = {
        "CreateAutoScalingGroup": (create_group, True, False),
        "DeleteAutoScalingGroup": (delete_group, True, False),
        "DescribeAutoScalingGroups": (describe_groups, False, True),
        "DescribeAutoScalingInstances": (describe_instances, False, True),
        "DescribeScalingActivities": (describe_activities, False, True),
        "SetDesiredCapacity": (set_desired, True, False),
        "TerminateInstanceInAutoScalingGroup": (terminate_instance, True, True),
        "UpdateAutoScalingGroup": (update_group, True, False),
    }
    # Decision 0159's calls, each module's.
    for more in (
        autoscaling_schedules,
        autoscaling_hooks,
        autoscaling_refresh,
        autoscaling_tags,
        autoscaling_controls,
        autoscaling_notifications,
        autoscaling_warm_pool,
    ):
        handlers.update(more.handlers(service, region))
    handlers.update(autoscaling_target_groups.handlers(service, region))
    handlers.update(autoscaling_traffic.handlers(service, region))  # decision 0201
    handlers.update(autoscaling_policies.handlers(service, region, alarms))
    handlers.update(autoscaling_predictive.handlers(service))  # decision 0197
    resources = {
        "CreateAutoScalingGroup": named_group,
        "DeleteAutoScalingGroup": named_group,
        "SetDesiredCapacity": named_group,
        "UpdateAutoScalingGroup": named_group,
        **{name: named_group for name in _NAMED_GROUP},
        "SetInstanceHealth": instance_group,  # decision 0198, session 49
    }
    return ServiceSpec(
        name="autoscaling",
        namespace=NAMESPACE,
        version="2011-01-01",
        actions={
            name: Action(
                handler=handler,
                mutating=mutating,
                has_result=has_result,
                resource=resources.get(name),
            )
            for name, (handler, mutating, has_result) in handlers.items()
        },
    )
