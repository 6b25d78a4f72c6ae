"""EC2 Auto Scaling's calls (decision 0156) the console's Auto Scaling pages make, in process
as the signed-in principal through the Query machinery (``wire.QueryWire``): Auto Scaling's
own authorisation (``autoscaling:<Action>``), checks and errors answer them. Each answer is
read into the small rows the pages show; nothing here decides what Auto Scaling allows.

Session 49: the groups (sizes, health check type and grace period, target groups), a
group's predictive scaling policies (decision 0197) and their forecast
(GetPredictiveScalingForecast), hour by hour; a group made from a launch template, its sizes
changed, deleted (``ForceDelete``), an instance's health set (SetInstanceHealth).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from xml.etree.ElementTree import Element

from andromede.console.wire import QueryWire
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = ["AutoScalingWire", "ForecastHour", "GroupRow", "MemberRow", "PredictivePolicyRow"]


@dataclass(frozen=True, slots=True)
class MemberRow:
    instance_id: str
    lifecycle: str  # InService, Pending, Terminating…
    health: str  # Healthy or Unhealthy
    zone: str


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


def _group(item: Element) -> GroupRow:
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
            )
            for m in item.iterfind("Instances/member")
        ),
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
    ) -> None:
        """CreateAutoScalingGroup from the launch template ``(id, version)``, its
        ``(min, max, desired)`` as typed (an empty desired: Auto Scaling's default), in
        ``subnets`` (none: Auto Scaling's answer)."""
        minimum, maximum, desired = sizes
        params = {
            "AutoScalingGroupName": name,
            "LaunchTemplate.LaunchTemplateId": template[0],
            "LaunchTemplate.Version": template[1],
            "MinSize": minimum,
            "MaxSize": maximum,
        }
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
