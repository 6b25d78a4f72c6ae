"""Groups with a mixed instances policy (decision 0209) through boto3's wire and the
reconciler over the compute service on the memory hypervisor: the On-Demand base and split,
Spot Instances launched through compute's Spot path and replaced once gone, weighted
capacity counted toward the desired capacity, what DescribeAutoScalingGroups and
DescribeAutoScalingInstances show, and AWS's refusals."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pytest

from andromede.compute.model import InstanceState
from support.autoscalingapp import World, refused


async def _card() -> Mapping[str, Decimal]:
    return {"t3.nano": Decimal("0.005"), "t3.micro": Decimal("0.01"), "t3.small": Decimal("0.016")}


def policy(template: str, *overrides: tuple[str, int | None], **distribution: Any) -> Any:
    return {
        "LaunchTemplate": {
            "LaunchTemplateSpecification": {"LaunchTemplateId": template, "Version": "$Latest"},
            "Overrides": [
                {"InstanceType": t, **({"WeightedCapacity": str(w)} if w else {})}
                for t, w in overrides
            ],
        },
        "InstancesDistribution": distribution,
    }


async def live(world: World) -> list[Any]:
    return [
        i
        for i in await world.compute.describe_instances(world.tenant_id, [])
        if i.autoscaling_group == "web" and i.state is not InstanceState.TERMINATED
    ]


@pytest.fixture
async def template(world: World) -> str:
    world.compute.on_demand_prices = _card
    return await world.template(world.tenant_id)


async def test_on_demand_base_then_spot_and_spot_replaced(world: World, template: str) -> None:
    await world.root.call(
        "CreateAutoScalingGroup",
        AutoScalingGroupName="web",
        MinSize=0,
        MaxSize=6,
        DesiredCapacity=3,
        CapacityRebalance=True,
        MixedInstancesPolicy=policy(
            template,
            ("t3.small", None),
            ("t3.micro", None),
            OnDemandBaseCapacity=1,
            OnDemandPercentageAboveBaseCapacity=50,
            SpotAllocationStrategy="capacity-optimized",
        ),
    )
    await world.converge()
    instances = await live(world)
    assert len(instances) == 3
    on_demand = [i for i in instances if i.lifecycle != "spot"]
    spot = [i for i in instances if i.lifecycle == "spot"]
    # 1 + ceil(2 * 50 %) On-Demand, of the first (prioritized) type; the rest Spot.
    assert len(on_demand) == 2 and {i.instance_type for i in on_demand} == {"t3.small"}
    assert len(spot) == 1 and spot[0].spot_request_id
    group = (await world.root.call("DescribeAutoScalingGroups"))["AutoScalingGroups"][0]
    assert "LaunchTemplate" not in group
    assert group["CapacityRebalance"] is True
    shown = group["MixedInstancesPolicy"]
    assert shown["LaunchTemplate"]["LaunchTemplateSpecification"]["LaunchTemplateId"] == template
    assert [o["InstanceType"] for o in shown["LaunchTemplate"]["Overrides"]] == [
        "t3.small",
        "t3.micro",
    ]
    assert shown["InstancesDistribution"] == {
        "OnDemandAllocationStrategy": "prioritized",
        "OnDemandBaseCapacity": 1,
        "OnDemandPercentageAboveBaseCapacity": 50,
        "SpotAllocationStrategy": "capacity-optimized",
    }
    # CapacityRebalance: a Spot Instance under its interruption notice is replaced at once.
    await world.compute.interrupt_spot(spot[0].instance_id, "capacity")
    await world.converge()
    noticed = await live(world)
    assert len(noticed) == 4
    assert spot[0].instance_id in {i.instance_id for i in noticed}
    await world.compute.terminate_instances(
        world.tenant_id,
        [
            i.instance_id
            for i in noticed
            if i.instance_id != spot[0].instance_id and i.lifecycle == "spot"
        ],
    )
    await world.compute.settle()
    # The Spot Instance gone (its capacity taken back): a Spot replacement, as on AWS.
    await world.compute.terminate_instances(world.tenant_id, [spot[0].instance_id])
    await world.compute.settle()
    await world.converge()
    again = await live(world)
    assert len(again) == 3
    replacement = [i for i in again if i.lifecycle == "spot"]
    assert len(replacement) == 1 and replacement[0].instance_id != spot[0].instance_id


async def test_weighted_capacity_counts_toward_the_desired(world: World, template: str) -> None:
    await world.root.call(
        "CreateAutoScalingGroup",
        AutoScalingGroupName="web",
        MinSize=0,
        MaxSize=8,
        DesiredCapacity=4,
        MixedInstancesPolicy=policy(template, ("t3.micro", 2), ("t3.small", 4)),
    )
    await world.converge()
    instances = await live(world)
    assert [i.instance_type for i in instances] == ["t3.micro", "t3.micro"]
    described = (await world.root.call("DescribeAutoScalingInstances"))["AutoScalingInstances"]
    assert {i["WeightedCapacity"] for i in described} == {"2"}
    # Scale in to 2 units: one instance of weight 2 goes.
    await world.root.call("SetDesiredCapacity", AutoScalingGroupName="web", DesiredCapacity=2)
    await world.converge()
    assert len(await live(world)) == 1
    # Now the cheapest unit first (t3.small: 0.016 for 4 units, below t3.micro's 0.01 for 2).
    await world.root.call(
        "UpdateAutoScalingGroup",
        AutoScalingGroupName="web",
        DesiredCapacity=6,
        MixedInstancesPolicy=policy(
            template,
            ("t3.micro", 2),
            ("t3.small", 4),
            OnDemandAllocationStrategy="lowest-price",
        ),
    )
    await world.converge()
    types = sorted(i.instance_type for i in await live(world))
    assert types == ["t3.micro", "t3.small"]  # 2 + 4 = 6 units


async def test_refusals(world: World, template: str) -> None:
    base = {"AutoScalingGroupName": "web", "MinSize": 0, "MaxSize": 2}
    both = await refused(
        world.root,
        "CreateAutoScalingGroup",
        "ValidationError",
        **base,
        LaunchTemplate={"LaunchTemplateId": template},
        MixedInstancesPolicy=policy(template, ("t3.micro", None)),
    )
    assert "either LaunchTemplate" in str(both)
    spec = policy(template, ("t3.micro", None))
    spec["LaunchTemplate"]["LaunchTemplateSpecification"]["LaunchTemplateName"] = "web"
    named_twice = await refused(
        world.root, "CreateAutoScalingGroup", "ValidationError", **base, MixedInstancesPolicy=spec
    )
    assert "either launchTemplateId or LaunchTemplateName" in str(named_twice)
    unknown = await refused(
        world.root,
        "CreateAutoScalingGroup",
        "ValidationError",
        **base,
        MixedInstancesPolicy=policy(template, ("z9.huge", None)),
    )
    assert "z9.huge" in str(unknown)
    await refused(
        world.root,
        "CreateAutoScalingGroup",
        "ValidationError",
        **base,
        MixedInstancesPolicy=policy(template, ("t3.micro", None), SpotAllocationStrategy="x"),
    )
    await world.root.call(
        "CreateAutoScalingGroup",
        **base,
        MixedInstancesPolicy=policy(template, ("t3.micro", None)),
    )
    pool = await refused(world.root, "PutWarmPool", "ValidationError", AutoScalingGroupName="web")
    assert "mixed instances policy" in str(pool)
    assert (await world.root.call("DescribeAutoScalingGroups"))["AutoScalingGroups"]
    # A LaunchTemplate given: the group leaves its policy, as on AWS.
    await world.root.call(
        "UpdateAutoScalingGroup",
        AutoScalingGroupName="web",
        LaunchTemplate={"LaunchTemplateId": template, "Version": "$Latest"},
    )
    group = (await world.root.call("DescribeAutoScalingGroups"))["AutoScalingGroups"][0]
    assert "MixedInstancesPolicy" not in group
    assert group["LaunchTemplate"]["LaunchTemplateId"] == template


async def test_scale_in_keeps_the_split(world: World, template: str) -> None:
    await world.root.call(
        "CreateAutoScalingGroup",
        AutoScalingGroupName="web",
        MinSize=0,
        MaxSize=6,
        DesiredCapacity=4,
        MixedInstancesPolicy=policy(
            template, ("t3.micro", None), OnDemandPercentageAboveBaseCapacity=50
        ),
    )
    await world.converge()
    assert sorted(i.lifecycle or "on-demand" for i in await live(world)) == [
        "on-demand",
        "on-demand",
        "spot",
        "spot",
    ]
    # 3 units: ceil(1.5) = 2 On-Demand stay, a Spot Instance goes.
    await world.root.call("SetDesiredCapacity", AutoScalingGroupName="web", DesiredCapacity=3)
    await world.converge()
    assert sorted(i.lifecycle or "on-demand" for i in await live(world)) == [
        "on-demand",
        "on-demand",
        "spot",
    ]
    # 2 units: 1 On-Demand, so an On-Demand instance goes.
    await world.root.call("SetDesiredCapacity", AutoScalingGroupName="web", DesiredCapacity=2)
    await world.converge()
    assert sorted(i.lifecycle or "on-demand" for i in await live(world)) == ["on-demand", "spot"]


async def test_the_policy_as_terraform_writes_and_reads_it(world: World, template: str) -> None:
    """Session 51: what the provider (5.100) sends for a ``mixed_instances_policy`` — an empty
    ``SpotMaxPrice`` when none is configured, its ``$Default`` version when none is given,
    ``CapacityRebalance`` — and what it reads back to plan nothing: the policy instead of a
    ``LaunchTemplate``, no ``SpotMaxPrice``, no ``SpotInstancePools`` beside a strategy
    other than lowest-price, each distribution field with its value or AWS's default."""
    written = policy(
        template, ("t3.nano", 1), ("t3.micro", 2),
        OnDemandBaseCapacity=1, OnDemandPercentageAboveBaseCapacity=25,
        SpotAllocationStrategy="capacity-optimized", SpotMaxPrice="",
    )  # fmt: skip
    written["LaunchTemplate"]["LaunchTemplateSpecification"]["Version"] = "$Default"
    await world.root.call(
        "CreateAutoScalingGroup", AutoScalingGroupName="web", MinSize=0, MaxSize=4,
        DesiredCapacity=0, CapacityRebalance=True, MixedInstancesPolicy=written,
    )  # fmt: skip
    [group] = (await world.root.call("DescribeAutoScalingGroups"))["AutoScalingGroups"]
    assert "LaunchTemplate" not in group and group["CapacityRebalance"] is True
    read = group["MixedInstancesPolicy"]
    assert read["LaunchTemplate"]["LaunchTemplateSpecification"] == {
        "LaunchTemplateId": template, "LaunchTemplateName": "web", "Version": "$Default",
    }  # fmt: skip
    assert read["LaunchTemplate"]["Overrides"] == [
        {"InstanceType": "t3.nano", "WeightedCapacity": "1"},
        {"InstanceType": "t3.micro", "WeightedCapacity": "2"},
    ]
    assert read["InstancesDistribution"] == {
        "OnDemandAllocationStrategy": "prioritized",
        "OnDemandBaseCapacity": 1,
        "OnDemandPercentageAboveBaseCapacity": 25,
        "SpotAllocationStrategy": "capacity-optimized",
    }
    # The same policy sent again by an update (the provider's, for any other change) keeps it.
    await world.root.call(
        "UpdateAutoScalingGroup", AutoScalingGroupName="web", MaxSize=5,
        MixedInstancesPolicy=written,
    )  # fmt: skip
    [group] = (await world.root.call("DescribeAutoScalingGroups"))["AutoScalingGroups"]
    assert group["MixedInstancesPolicy"] == read and group["MaxSize"] == 5
    assert group["CapacityRebalance"] is True
