"""Mixed instances policies on the wire (decision 0209): CreateAutoScalingGroup's and
UpdateAutoScalingGroup's ``MixedInstancesPolicy`` and ``CapacityRebalance`` read, and the
policy DescribeAutoScalingGroups shows. The policy's launch template is the group's own
(kept in the group's template fields); an override's own launch template and attribute-based
instance type selection (``InstanceRequirements``) are refused as not here yet."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from andromede.autoscaling.mixed import MixedPolicy, Override
from andromede.autoscaling.model import Group
from andromede.http.xml import XmlWriter
from andromede.iamapi.errors import QueryError
from andromede.iamapi.protocol import Call

__all__ = ["MIXED_PARAM", "MixedRequest", "read_mixed", "write_mixed"]

_POLICY: Final = "MixedInstancesPolicy."
_SPEC: Final = _POLICY + "LaunchTemplate.LaunchTemplateSpecification."
_OVERRIDE: Final = _POLICY + "LaunchTemplate.Overrides.member."
_DIST: Final = _POLICY + "InstancesDistribution."
# The parameters read here (the others under MixedInstancesPolicy are refused by name).
MIXED_PARAM: Final = re.compile(
    r"^(CapacityRebalance|MixedInstancesPolicy\.(LaunchTemplate\.(LaunchTemplateSpecification"
    r"\.(LaunchTemplateId|LaunchTemplateName|Version)|Overrides\.member\.\d+\.(InstanceType"
    r"|WeightedCapacity))|InstancesDistribution\.(OnDemandAllocationStrategy"
    r"|OnDemandBaseCapacity|OnDemandPercentageAboveBaseCapacity|SpotAllocationStrategy"
    r"|SpotInstancePools|SpotMaxPrice)))$"
)
_WEIGHT: Final = re.compile(r"^[0-9]{1,3}$")


@dataclass(frozen=True, slots=True)
class MixedRequest:
    """What a call asked: the policy and its launch template (id, name, version)."""

    policy: MixedPolicy
    template_id: str | None
    template_name: str | None
    template_version: str | None


def read_mixed(call: Call, *, launch_template_given: bool) -> MixedRequest | None:
    """The call's MixedInstancesPolicy (None when it has none); AWS's ValidationError when it
    comes with a LaunchTemplate or names no launch template."""
    if not any(n.startswith(_POLICY) for n in call.params):
        return None
    if launch_template_given:
        raise QueryError(
            "ValidationError",
            "Valid requests must contain either LaunchTemplate, LaunchConfigurationName, "
            "InstanceId or MixedInstancesPolicy parameter.",
        )
    template_id = call.get(_SPEC + "LaunchTemplateId")
    template_name = call.get(_SPEC + "LaunchTemplateName")
    if bool(template_id) == bool(template_name):  # neither or both: AWS's one sentence
        raise QueryError(
            "ValidationError",
            "Valid requests must contain either launchTemplateId or LaunchTemplateName",
        )
    overrides = []
    index = 1
    while (instance_type := call.get(f"{_OVERRIDE}{index}.InstanceType")) is not None:
        raw = call.get(f"{_OVERRIDE}{index}.WeightedCapacity")
        if raw is not None and not _WEIGHT.match(raw):
            raise QueryError(
                "ValidationError", "WeightedCapacity must be an integer between 1 and 999."
            )
        overrides.append(Override(instance_type, None if raw is None else int(raw)))
        index += 1
    if any(n.startswith(_OVERRIDE) for n in call.params) and len(overrides) != sum(
        n.endswith(".InstanceType") for n in call.params if n.startswith(_OVERRIDE)
    ):
        raise QueryError("ValidationError", "Each override must name an InstanceType.")
    policy = MixedPolicy(
        overrides=tuple(overrides),
        on_demand_strategy=call.get(_DIST + "OnDemandAllocationStrategy") or "prioritized",
        on_demand_base=call.integer(
            _DIST + "OnDemandBaseCapacity", minimum=0, maximum=1_000_000, default=0
        ),
        on_demand_percentage=call.integer(
            _DIST + "OnDemandPercentageAboveBaseCapacity", minimum=0, maximum=100, default=100
        ),
        spot_strategy=call.get(_DIST + "SpotAllocationStrategy") or "lowest-price",
        spot_pools=call.integer(_DIST + "SpotInstancePools", minimum=1, maximum=20, default=2),
        spot_max_price=call.get(_DIST + "SpotMaxPrice") or None,
    )
    return MixedRequest(policy, template_id, template_name, call.get(_SPEC + "Version") or None)


def write_mixed(xml: XmlWriter, group: Group) -> None:
    """DescribeAutoScalingGroups' MixedInstancesPolicy of a group that has one."""
    policy = group.mixed
    if policy is None:
        return
    xml.open("MixedInstancesPolicy")
    xml.open("LaunchTemplate")
    xml.open("LaunchTemplateSpecification")
    xml.element("LaunchTemplateId", group.template_id)
    xml.element("LaunchTemplateName", group.template_name)
    xml.element("Version", group.template_version)
    xml.close("LaunchTemplateSpecification")
    xml.open("Overrides")
    for override in policy.overrides:
        xml.open("member")
        xml.element("InstanceType", override.instance_type)
        if override.weight is not None:
            xml.element("WeightedCapacity", str(override.weight))
        xml.close("member")
    xml.close("Overrides")
    xml.close("LaunchTemplate")
    xml.open("InstancesDistribution")
    xml.element("OnDemandAllocationStrategy", policy.on_demand_strategy)
    xml.element("OnDemandBaseCapacity", policy.on_demand_base)
    xml.element("OnDemandPercentageAboveBaseCapacity", policy.on_demand_percentage)
    xml.element("SpotAllocationStrategy", policy.spot_strategy)
    if policy.spot_strategy == "lowest-price":
        xml.element("SpotInstancePools", policy.spot_pools)
    if policy.spot_max_price:
        xml.element("SpotMaxPrice", policy.spot_max_price)
    xml.close("InstancesDistribution")
    xml.close("MixedInstancesPolicy")
