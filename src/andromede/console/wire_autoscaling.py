"""EC2 Auto Scaling's calls (decision 0156) the console's Auto Scaling pages make, in process
as the signed-in principal through the Query machinery (``wire.QueryWire``): Auto Scaling's
own authorisation (``autoscaling:<Action>``), checks and errors answer them. Each answer is
read into the small rows the pages show; nothing here decides what Auto Scaling allows.

Session 49: the groups (sizes, health check type and grace period, target groups), a
group's predictive scaling policies (decision 0197) and their forecast
(GetPredictiveScalingForecast), hour by hour; a group made from a launch template, its sizes
changed, deleted (``ForceDelete``), an instance's health set (SetInstanceHealth).

Session 51: a group's mixed instances policy (decision 0209) read — its overrides, On-Demand
base and percentage, allocation strategies, ``CapacityRebalance``, each instance's type and
weight — and sent, on CreateAutoScalingGroup or UpdateAutoScalingGroup, as typed, or dropped
for the group's plain launch template.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from xml.etree.ElementTree import Element

from andromede.console.wire import QueryWire
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = [
    "AutoScalingWire",
    "ForecastHour",
    "GroupRow",
    "MemberRow",
    "MixedForm",
    "MixedRow",
    "PredictivePolicyRow",
]

_MIXED = "MixedInstancesPolicy"
_DISTRIBUTION = f"{_MIXED}/InstancesDistribution"


@dataclass(frozen=True, slots=True)
class MemberRow:
    instance_id: str
    lifecycle: str  # InService, Pending, Terminating…
    health: str  # Healthy or Unhealthy
    zone: str
    instance_type: str = ""
    weight: str = ""  # its WeightedCapacity, under a weighted mixed instances policy


@dataclass(frozen=True, slots=True)
class MixedRow:
    """A group's mixed instances policy as DescribeAutoScalingGroups shows it (decision 0209)."""

    overrides: tuple[tuple[str, str], ...]  # (instance type, WeightedCapacity or "")
    on_demand_strategy: str
    on_demand_base: str
    on_demand_percentage: str
    spot_strategy: str
    spot_pools: str  # only with the lowest-price Spot strategy
    spot_max_price: str  # "": capped at the On-Demand price


@dataclass(frozen=True, slots=True)
class MixedForm:
    """A mixed instances policy as a form typed it: the fields left empty are not sent, so
    Auto Scaling's defaults and checks decide."""

    overrides: tuple[tuple[str, str], ...]  # (instance type, weight as typed, "" for none)
    on_demand_strategy: str = ""
    on_demand_base: str = ""
    on_demand_percentage: str = ""
    spot_strategy: str = ""
    spot_pools: str = ""
    spot_max_price: str = ""
    capacity_rebalance: bool = False

    def params(self, template: tuple[str, str]) -> dict[str, str]:
        """The call's ``MixedInstancesPolicy.*`` and ``CapacityRebalance`` parameters over the
        launch template ``(id, version)``."""
        spec = f"{_MIXED}.LaunchTemplate.LaunchTemplateSpecification"
        params = {f"{spec}.LaunchTemplateId": template[0]}
        if template[1]:
            params[f"{spec}.Version"] = template[1]
        for n, (instance_type, weight) in enumerate(self.overrides, 1):
            override = f"{_MIXED}.LaunchTemplate.Overrides.member.{n}"
            params[f"{override}.InstanceType"] = instance_type
            if weight:
                params[f"{override}.WeightedCapacity"] = weight
        distribution = f"{_MIXED}.InstancesDistribution"
        for name, value in (
            ("OnDemandAllocationStrategy", self.on_demand_strategy),
            ("OnDemandBaseCapacity", self.on_demand_base),
            ("OnDemandPercentageAboveBaseCapacity", self.on_demand_percentage),
            ("SpotAllocationStrategy", self.spot_strategy),
            ("SpotInstancePools", self.spot_pools),
            ("SpotMaxPrice", self.spot_max_price),
        ):
            if value:
                params[f"{distribution}.{name}"] = value
        params["CapacityRebalance"] = "true" if self.capacity_rebalance else "false"
        return params


@dataclass(frozen=True, slots=True)
class GroupRow:
    name: str
    min_size: str
    max_size: str
    desired: str
    health_check_type: str  # EC2, or ELB: the target groups' health counts too (0198)
    grace_period: str
    instances: int
    target_groups: tuple[str, ...]  # their ARNs
    created: str
    members: tuple[MemberRow, ...] = ()
    template_id: str = ""  # the group's launch template, its own or its policy's
    template_version: str = ""
    mixed: MixedRow | None = None
    capacity_rebalance: bool = False

    @property
    def target_group_names(self) -> tuple[str, ...]:
        """The names inside the ARNs (``…:targetgroup/NAME/ID``), for links to their pages."""
        names = []
        for arn in self.target_groups:
            parts = arn.rsplit(":", 1)[-1].split("/")
            names.append(parts[1] if len(parts) == 3 else arn)
        return tuple(names)


@dataclass(frozen=True, slots=True)
class PredictivePolicyRow:
    name: str
    mode: str  # ForecastOnly or ForecastAndScale
    target: str  # the metric specification's TargetValue
    metric: str  # its predefined metric pair, or "custom"
    enabled: bool


@dataclass(frozen=True, slots=True)
class ForecastHour:
    hour: str  # UTC, to the minute
    load: str
    capacity: str


def _text(element: Element, path: str) -> str:
    return element.findtext(path) or ""


def _mixed(item: Element) -> MixedRow | None:
    if item.find(_MIXED) is None:
        return None
    overrides = tuple(
        (_text(o, "InstanceType"), _text(o, "WeightedCapacity"))
        for o in item.iterfind(f"{_MIXED}/LaunchTemplate/Overrides/member")
    )
    return MixedRow(
        overrides=overrides,
        on_demand_strategy=_text(item, f"{_DISTRIBUTION}/OnDemandAllocationStrategy"),
        on_demand_base=_text(item, f"{_DISTRIBUTION}/OnDemandBaseCapacity"),
        on_demand_percentage=_text(item, f"{_DISTRIBUTION}/OnDemandPercentageAboveBaseCapacity"),
        spot_strategy=_text(item, f"{_DISTRIBUTION}/SpotAllocationStrategy"),
        spot_pools=_text(item, f"{_DISTRIBUTION}/SpotInstancePools"),
        spot_max_price=_text(item, f"{_DISTRIBUTION}/SpotMaxPrice"),
    )


def _group(item: Element) -> GroupRow:
    template = (
        f"{_MIXED}/LaunchTemplate/LaunchTemplateSpecification"
        if item.find(_MIXED) is not None
        else "LaunchTemplate"
    )
    return GroupRow(
        name=_text(item, "AutoScalingGroupName"),
        min_size=_text(item, "MinSize"),
        max_size=_text(item, "MaxSize"),
        desired=_text(item, "DesiredCapacity"),
        health_check_type=_text(item, "HealthCheckType"),
        grace_period=_text(item, "HealthCheckGracePeriod"),
        instances=len(item.findall("Instances/member")),
        target_groups=tuple(m.text or "" for m in item.iterfind("TargetGroupARNs/member")),
        created=_text(item, "CreatedTime").replace("T", " ")[:16],
        members=tuple(
            MemberRow(
                instance_id=_text(m, "InstanceId"),
                lifecycle=_text(m, "LifecycleState"),
                health=_text(m, "HealthStatus"),
                zone=_text(m, "AvailabilityZone"),
                instance_type=_text(m, "InstanceType"),
                weight=_text(m, "WeightedCapacity"),
            )
            for m in item.iterfind("Instances/member")
        ),
        template_id=_text(item, f"{template}/LaunchTemplateId"),
        template_version=_text(item, f"{template}/Version"),
        mixed=_mixed(item),
        capacity_rebalance=_text(item, "CapacityRebalance") == "true",
    )


def _policy(item: Element) -> PredictivePolicyRow:
    spec = "PredictiveScalingConfiguration/MetricSpecifications/member"
    metric = (
        _text(item, f"{spec}/PredefinedMetricPairSpecification/PredefinedMetricType")
        or _text(item, f"{spec}/PredefinedScalingMetricSpecification/PredefinedMetricType")
        or "custom"
    )
    return PredictivePolicyRow(
        name=_text(item, "PolicyName"),
        mode=_text(item, "PredictiveScalingConfiguration/Mode") or "ForecastOnly",
        target=_text(item, f"{spec}/TargetValue"),
        metric=metric,
        enabled=_text(item, "Enabled") != "false",
    )


def _number(text: str) -> str:
    """A forecast's value as a page shows it: to one decimal."""
    try:
        return f"{float(text):.1f}"
    except ValueError:
        return text


class AutoScalingWire(QueryWire):
    """The Auto Scaling calls the console makes, as ``principal``, for the request ``origin``."""

    version = "2011-01-01"

    async def groups(
        self, origin: Scope, who: Principal, names: Sequence[str] = ()
    ) -> list[GroupRow]:
        """The caller's groups (those named, when ``names``), every page followed."""
        rows: list[GroupRow] = []
        token = ""
        while True:
            params = {f"AutoScalingGroupNames.member.{n}": v for n, v in enumerate(names, 1)}
            if token:
                params["NextToken"] = token
            root = await self.call(origin, who, "DescribeAutoScalingGroups", params)
            rows.extend(_group(m) for m in root.iterfind(".//AutoScalingGroups/member"))
            token = _text(root, ".//NextToken")
            if not token:
                return rows

    async def predictive_policies(
        self, origin: Scope, who: Principal, group: str
    ) -> list[PredictivePolicyRow]:
        """The group's predictive scaling policies (DescribePolicies, its first 50)."""
        params = {
            "AutoScalingGroupName": group,
            "PolicyTypes.member.1": "PredictiveScaling",
            "MaxRecords": "50",
        }
        root = await self.call(origin, who, "DescribePolicies", params)
        return [_policy(m) for m in root.iterfind(".//ScalingPolicies/member")]

    async def forecast(
        self,
        origin: Scope,
        who: Principal,
        group: str,
        policy: str,
        window: tuple[datetime, datetime],
    ) -> list[ForecastHour]:
        """GetPredictiveScalingForecast over ``window``: each hour's load and capacity."""
        params = {
            "AutoScalingGroupName": group,
            "PolicyName": policy,
            "StartTime": window[0].isoformat(),
            "EndTime": window[1].isoformat(),
        }
        root = await self.call(origin, who, "GetPredictiveScalingForecast", params)
        load = root.find(".//LoadForecast/member")
        capacity = root.find(".//CapacityForecast")
        if load is None or capacity is None:
            return []
        hours = [m.text or "" for m in load.iterfind("Timestamps/member")]
        loads = [m.text or "" for m in load.iterfind("Values/member")]
        capacities = [m.text or "" for m in capacity.iterfind("Values/member")]
        return [
            ForecastHour(hour.replace("T", " ")[:16], _number(value), _number(count))
            for hour, value, count in zip(hours, loads, capacities, strict=False)
        ]

    async def create_group(
        self,
        origin: Scope,
        who: Principal,
        name: str,
        template: tuple[str, str],
        sizes: tuple[str, str, str],
        subnets: Sequence[str],
        mixed: MixedForm | None = None,
    ) -> None:
        """CreateAutoScalingGroup from the launch template ``(id, version)``, its
        ``(min, max, desired)`` as typed (an empty desired: Auto Scaling's default), in
        ``subnets`` (none: Auto Scaling's answer); with ``mixed``, the template is the mixed
        instances policy's."""
        minimum, maximum, desired = sizes
        params = {"AutoScalingGroupName": name, "MinSize": minimum, "MaxSize": maximum}
        if mixed is None:
            params["LaunchTemplate.LaunchTemplateId"] = template[0]
            params["LaunchTemplate.Version"] = template[1]
        else:
            params.update(mixed.params(template))
        if desired:
            params["DesiredCapacity"] = desired
        if subnets:
            params["VPCZoneIdentifier"] = ",".join(subnets)
        await self.call(origin, who, "CreateAutoScalingGroup", params)

    async def update_sizes(
        self, origin: Scope, who: Principal, name: str, sizes: tuple[str, str, str]
    ) -> None:
        """UpdateAutoScalingGroup's ``(min, max, desired)``, each sent only when typed."""
        params = {"AutoScalingGroupName": name}
        for key, value in zip(("MinSize", "MaxSize", "DesiredCapacity"), sizes, strict=True):
            if value:
                params[key] = value
        await self.call(origin, who, "UpdateAutoScalingGroup", params)

    async def set_mixed(
        self, origin: Scope, who: Principal, name: str, template: tuple[str, str], mixed: MixedForm
    ) -> None:
        """UpdateAutoScalingGroup's mixed instances policy, over the group's launch template
        ``(id, version)``: the policy given replaces the group's (or its plain template)."""
        params = {"AutoScalingGroupName": name, **mixed.params(template)}
        await self.call(origin, who, "UpdateAutoScalingGroup", params)

    async def use_template(
        self, origin: Scope, who: Principal, name: str, template: tuple[str, str]
    ) -> None:
        """UpdateAutoScalingGroup's plain ``LaunchTemplate`` ``(id, version)``: the group's
        mixed instances policy dropped, as Auto Scaling does for it."""
        params = {
            "AutoScalingGroupName": name,
            "LaunchTemplate.LaunchTemplateId": template[0],
            "LaunchTemplate.Version": template[1],
        }
        await self.call(origin, who, "UpdateAutoScalingGroup", params)

    async def delete_group(self, origin: Scope, who: Principal, name: str, *, force: bool) -> None:
        """DeleteAutoScalingGroup; ``force``: its instances terminated first (ForceDelete)."""
        params = {"AutoScalingGroupName": name}
        if force:
            params["ForceDelete"] = "true"
        await self.call(origin, who, "DeleteAutoScalingGroup", params)

    async def set_health(
        self, origin: Scope, who: Principal, instance_id: str, status: str
    ) -> None:
        """SetInstanceHealth (``Healthy`` or ``Unhealthy``), the group's grace period respected
        (Auto Scaling's default)."""
        params = {"InstanceId": instance_id, "HealthStatus": status}
        await self.call(origin, who, "SetInstanceHealth", params)
