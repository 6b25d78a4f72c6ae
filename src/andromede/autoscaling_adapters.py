"""Auto Scaling's fleet over the compute service (decision 0156), its lifecycle
notifications over the notification topics (decision 0159) and its ELB health checks over the
load balancing service's target health (decision 0198; and the attachment states,
decision 0201): the adapters between bounded
contexts, which do not import each other.

A group's launch is RunInstances from its launch template's version, as the group's account:
the template's parameters (kept in RunInstances' own form, decision 0092) are read into a
:class:`RunRequest` here. The parameters this first increment translates are the image, the
type, the key pair, the user data, the security groups (by id), the subnet and public address
of the first interface, the placement zone, the instance and volume tags and the CPU options
(decision 0214, checked against the type launched: a mixed instances policy's override type
that does not admit them fails that launch as EC2 Fleet reports it, and the group tries its
next type); a template asking for more (block device mappings, an instance profile, metadata
options…) is refused with a failed scaling activity rather than launched without it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Final

from andromede.autoscaling.fleet import Adoptable, LaunchFailed, TemplateChoice
from andromede.autoscaling.mixed import TypeMarket
from andromede.autoscaling.model import GROUP_TAG, Member
from andromede.compute.cpu_options import CpuOptionsRequest, check_cpu_options
from andromede.compute.launch_request import RunRequest
from andromede.compute.launch_templates import TemplateRef
from andromede.compute.model import Instance, InstanceState, SpotOptions
from andromede.compute.service import ComputeService
from andromede.ec2api.errors import to_ec2_error
from andromede.errors import AndromedeError
from andromede.loadbalancing.errors import LoadBalancingError
from andromede.loadbalancing.model import HealthState
from andromede.loadbalancing.service import LoadBalancingService
from andromede.notifications.service import TopicService

__all__ = ["ComputeFleet", "TargetGroupHealth", "TopicNotifier"]

# Template parameters a group's launch reads (patterns over RunInstances' parameter names),
# and those it may ignore with no effect a client could miss.
_READ: Final = re.compile(
    r"^(ImageId|InstanceType|KeyName|UserData|SecurityGroupId\.\d+|SubnetId"
    r"|Placement\.AvailabilityZone|TagSpecification\.\d+\.(ResourceType|Tag\.\d+\.(Key|Value))"
    r"|NetworkInterface\.1\.(SubnetId|SecurityGroupId\.\d+|AssociatePublicIpAddress"
    r"|DeviceIndex)|Monitoring\.Enabled|CpuOptions\.(CoreCount|ThreadsPerCore|AmdSevSnp))$"
)
_HARMLESS: Final = re.compile(r"^(EbsOptimized|CreditSpecification\..*)$")


def _member(instance: Instance) -> Member:
    return Member(
        instance_id=instance.instance_id,
        state=str(instance.state),
        # EC2's LaunchTime, its latest start: an instance taken from a warm pool warms up
        # from then (decision 0194), as it does on AWS.
        launch_time=instance.last_launch_time,
        availability_zone=instance.availability_zone,
        subnet_id=instance.subnet_id,
        template_id=instance.launch_template_id,
        template_version=instance.launch_template_version,
        instance_type=instance.instance_type,
        protected=instance.disable_api_termination,
        lifecycle=instance.lifecycle,
        interrupted=instance.spot_interruption is not None,
    )


def _numbered(params: dict[str, str], prefix: str) -> list[str]:
    found = []
    index = 1
    while (value := params.get(f"{prefix}.{index}")) is not None:
        found.append(value)
        index += 1
    return found


def _tag_specifications(params: dict[str, str], kind: str) -> list[tuple[str, str]]:
    tags = []
    spec = 1
    while (resource := params.get(f"TagSpecification.{spec}.ResourceType")) is not None:
        if resource == kind:
            index = 1
            while (key := params.get(f"TagSpecification.{spec}.Tag.{index}.Key")) is not None:
                tags.append((key, params.get(f"TagSpecification.{spec}.Tag.{index}.Value", "")))
                index += 1
        spec += 1
    return tags


def _count(params: dict[str, str], name: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError as exc:  # the template took its form (decision 0214): not reached
        raise LaunchFailed(f"Invalid value '{value[:32]}' for {name}") from exc


def cpu_request(params: dict[str, str]) -> CpuOptionsRequest | None:
    """The template's ``CpuOptions`` as RunInstances takes them (None: none)."""
    if not any(name.startswith("CpuOptions.") for name in params):
        return None
    return CpuOptionsRequest(
        core_count=_count(params, "CpuOptions.CoreCount"),
        threads_per_core=_count(params, "CpuOptions.ThreadsPerCore"),
        amd_sev_snp=params.get("CpuOptions.AmdSevSnp"),
    )


def fleet_failure(exc: AndromedeError, spot: bool) -> str:
    """A mixed group's refused launch as Auto Scaling reports an EC2 Fleet launch's error:
    "Could not launch On-Demand Instances. <code> - <message>. Launching EC2 instance
    failed." (the code EC2's RunInstances answers for the same refusal)."""
    wire = to_ec2_error(exc)
    code = wire.code if wire is not None else "InternalError"
    message = (wire.message if wire is not None else str(exc)).rstrip(".")
    market = "Spot" if spot else "On-Demand"
    return (
        f"Could not launch {market} Instances. {code} - {message}. Launching EC2 instance failed."
    )


def run_request(
    params: dict[str, str],
    template_id: str,
    version: int,
    subnet_id: str | None,
    tags: Sequence[tuple[str, str]],
) -> RunRequest:
    """The RunInstances request one launch of a group's template version makes."""
    unread = sorted(n for n in params if not _READ.match(n) and not _HARMLESS.match(n))
    if unread:
        raise LaunchFailed(
            f"The launch template's {', '.join(unread[:5])} are not supported in an Auto "
            "Scaling group here yet (decision 0156)"
        )
    image = params.get("ImageId")
    if not image:
        raise LaunchFailed("The launch template names no ImageId")
    group = dict(tags).get(GROUP_TAG)
    own = [(k, v) for k, v in tags if k != GROUP_TAG]
    merged = dict(_tag_specifications(params, "instance"))
    merged.update(own)  # the group's propagated tags win over the template's, as on AWS
    groups = _numbered(params, "SecurityGroupId") or _numbered(
        params, "NetworkInterface.1.SecurityGroupId"
    )
    public = params.get("NetworkInterface.1.AssociatePublicIpAddress")
    return RunRequest(
        image_id=image,
        instance_type=params.get("InstanceType") or "m5.large",
        key_name=params.get("KeyName") or None,
        user_data_base64=params.get("UserData") or None,
        security_group_ids=tuple(dict.fromkeys(groups)),
        instance_tags=tuple(merged.items()),
        volume_tags=tuple(_tag_specifications(params, "volume")),
        availability_zone=None if subnet_id else params.get("Placement.AvailabilityZone") or None,
        subnet_id=subnet_id
        or params.get("NetworkInterface.1.SubnetId")
        or params.get("SubnetId")
        or None,
        launch_template_id=template_id,
        launch_template_version=version,
        associate_public_ip=None if public is None else public.lower() == "true",
        autoscaling_group=group,
        # Detailed monitoring, its metrics every minute (decision 0178).
        monitoring=(params.get("Monitoring.Enabled") or "").lower() == "true",
        # Checked against the type launched, by compute as for RunInstances (decision 0214).
        cpu_options=cpu_request(params),
    )


class ComputeFleet:
    """The :class:`~andromede.autoscaling.fleet.Fleet` over ``compute``."""

    def __init__(self, compute: ComputeService) -> None:
        self._compute = compute

    async def template(
        self, tenant_id: str, template_id: str | None, name: str | None, version: str
    ) -> TemplateChoice:
        ref = TemplateRef(template_id=template_id) if template_id else TemplateRef(name=name)
        try:
            template, chosen = await self._compute.launch_template_version(tenant_id, ref, version)
        except AndromedeError as exc:
            raise LaunchFailed(
                f"The specified launch template, with template ID {template_id or name}, "
                f"version {version}, does not exist ({exc})"
            ) from exc
        return TemplateChoice(template.template_id, template.name, chosen.number)

    async def launch(
        self,
        tenant_id: str,
        template_id: str,
        version: str,
        subnet_id: str | None,
        tags: Sequence[tuple[str, str]],
        *,
        instance_type: str | None = None,
        spot: bool = False,
        spot_max_price: Decimal | None = None,
    ) -> Member:
        try:
            template, chosen = await self._compute.launch_template_version(
                tenant_id, TemplateRef(template_id=template_id), version
            )
            request = run_request(
                dict(chosen.parameters), template.template_id, chosen.number, subnet_id, tags
            )
            # Decision 0209: a mixed instances policy's type, and Spot through compute's
            # own Spot path (RunInstances' InstanceMarketOptions, decision 0202).
            if instance_type is not None:
                request = replace(request, instance_type=instance_type)
            if spot:
                request = replace(request, spot=SpotOptions(max_price=spot_max_price))
        except AndromedeError as exc:
            raise LaunchFailed(str(exc)) from exc
        mixed = instance_type is not None or spot
        if mixed and request.cpu_options is not None:
            # The template's CPU options against the override's type first: a type that
            # does not admit them fails this launch, and only this type (decision 0214).
            try:
                kind = self._compute.instance_type(request.instance_type)
                check_cpu_options(kind.name, kind.vcpus, request.cpu_options)
            except AndromedeError as exc:
                raise LaunchFailed(
                    fleet_failure(exc, spot), refused_type=request.instance_type
                ) from exc
        try:
            launched = await self._compute.run_instances(tenant_id, request)
        except AndromedeError as exc:
            raise LaunchFailed(fleet_failure(exc, spot) if mixed else str(exc)) from exc
        return _member(launched[0])

    async def market(self) -> dict[str, TypeMarket]:
        spot_prices = await self._compute.spot_prices()
        room = await self._compute.room_by_type()
        return {
            name: TypeMarket(await self._compute.on_demand_price(name), price, room.get(name, 0))
            for name, price in spot_prices.items()
        }

    async def members(self, tenant_id: str, group_name: str) -> list[Member]:
        return [
            _member(i)
            for i in await self._compute.describe_instances(tenant_id, [])
            if i.autoscaling_group == group_name and i.state is not InstanceState.TERMINATED
        ]

    async def terminate(self, tenant_id: str, instance_ids: Sequence[str]) -> None:
        try:
            await self._compute.terminate_instances(tenant_id, instance_ids)
        except AndromedeError as exc:
            raise LaunchFailed(str(exc)) from exc

    async def stop(self, tenant_id: str, instance_ids: Sequence[str]) -> None:
        try:
            await self._compute.stop_instances(tenant_id, instance_ids)
        except AndromedeError as exc:
            raise LaunchFailed(str(exc)) from exc

    async def start(self, tenant_id: str, instance_ids: Sequence[str]) -> None:
        try:
            await self._compute.start_instances(tenant_id, instance_ids)
        except AndromedeError as exc:
            raise LaunchFailed(str(exc)) from exc

    async def lookup(self, tenant_id: str, instance_ids: Sequence[str]) -> list[Adoptable]:
        wanted = set(instance_ids)
        return [
            Adoptable(_member(i), i.autoscaling_group)
            for i in await self._compute.describe_instances(tenant_id, [])
            if i.instance_id in wanted and i.state is not InstanceState.TERMINATED
        ]

    async def join(
        self,
        tenant_id: str,
        instance_id: str,
        group_name: str | None,
        tags: Sequence[tuple[str, str]] = (),
    ) -> None:
        try:
            await self._compute.set_autoscaling_group(
                tenant_id, instance_id, group_name, tuple(tags)
            )
        except AndromedeError as exc:
            raise LaunchFailed(str(exc)) from exc


class TopicNotifier:
    """The :class:`~andromede.autoscaling.notify.Notifier` over the account's notification
    topics (decision 0132): a lifecycle message is queued for the topic and pushed to its
    endpoint as any event."""

    def __init__(self, topics: TopicService) -> None:
        self._topics = topics

    async def owns(self, tenant_id: str, arn: str) -> bool:
        return await self._topics.owns_topic(tenant_id, arn)

    async def send(self, tenant_id: str, arn: str, message: str) -> bool:
        return await self._topics.publish(tenant_id, arn, message)


class TargetGroupHealth:
    """The :class:`~andromede.autoscaling.health.TargetHealth` over the load balancing
    service: each target group's health as DescribeTargetHealth shows it, so a target
    ``initial``, ``draining`` or ``unused`` (no load balancer, a stopped instance) is no
    verdict; only ``unhealthy`` is."""

    def __init__(self, balancers: LoadBalancingService) -> None:
        self._balancers = balancers

    async def unhealthy(
        self, tenant_id: str, target_group_arns: Sequence[str], instance_ids: Sequence[str]
    ) -> set[str]:
        wanted = set(instance_ids)
        found: set[str] = set()
        for arn in target_group_arns:
            try:
                targets = await self._balancers.target_health(tenant_id, arn)
            except LoadBalancingError:
                continue  # the target group went (or never was the account's): no verdict
            found.update(
                t.target_id
                for t in targets
                if t.state is HealthState.UNHEALTHY and t.target_id in wanted
            )
        return found

    async def targets(self, tenant_id: str, target_group_arn: str) -> dict[str, str] | None:
        try:
            shown = await self._balancers.target_health(tenant_id, target_group_arn)
        except LoadBalancingError:
            return None  # gone (or never the account's): decision 0201's Removing ends
        found: dict[str, str] = {}
        for target in shown:  # an instance on two ports: the one not draining tells
            if found.get(target.target_id) in (None, HealthState.DRAINING.value):
                found[target.target_id] = target.state.value
        return found
