"""A group's launch template holding ``CpuOptions`` (decisions 0214 and 0209): the options
carried to the launch as RunInstances takes them, checked against the type launched — a mixed
instances policy's override type that does not admit them fails that launch with EC2 Fleet's
report, and the group launches its next type."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pytest

from andromede.compute.model import CpuOptions, InstanceState
from support.autoscalingapp import World


async def _card() -> Mapping[str, Decimal]:
    return {
        "t2.micro": Decimal("0.004"),
        "t3.nano": Decimal("0.005"),
        "t3.micro": Decimal("0.01"),
        "m5.xlarge": Decimal("0.192"),
    }


async def cpu_template(world: World, *options: tuple[str, str], itype: str = "t3.nano") -> str:
    template, _ = await world.compute.create_launch_template(
        world.tenant_id,
        name="cpu",
        parameters=(("ImageId", world.image.image_id), ("InstanceType", itype), *options),
        created_by="test",
    )
    return template.template_id


def mixed(template: str, *types: str, **distribution: Any) -> dict[str, Any]:
    return {
        "LaunchTemplate": {
            "LaunchTemplateSpecification": {"LaunchTemplateId": template, "Version": "$Latest"},
            "Overrides": [{"InstanceType": t} for t in types],
        },
        "InstancesDistribution": distribution,
    }


async def live(world: World) -> list[Any]:
    return [
        i
        for i in await world.compute.describe_instances(world.tenant_id, [])
        if i.autoscaling_group == "web" and i.state is not InstanceState.TERMINATED
    ]


async def activities(world: World) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await world.root.call("DescribeScalingActivities"))["Activities"]
    return found


@pytest.fixture(autouse=True)
def prices(world: World) -> None:
    world.compute.on_demand_prices = _card


async def test_the_template_s_cpu_options_reach_the_instance(world: World) -> None:
    template = await cpu_template(
        world, ("CpuOptions.CoreCount", "1"), ("CpuOptions.ThreadsPerCore", "1")
    )
    await world.root.call(
        "CreateAutoScalingGroup",
        AutoScalingGroupName="web",
        LaunchTemplate={"LaunchTemplateId": template},
        MinSize=1,
        MaxSize=2,
    )
    await world.converge()
    [instance] = await live(world)
    assert instance.cpu_options == CpuOptions(1, 1)
    assert (await activities(world))[0]["StatusCode"] == "Successful"


async def test_a_type_refusing_them_fails_a_plain_group_s_launch(world: World) -> None:
    template = await cpu_template(world, ("CpuOptions.ThreadsPerCore", "1"), itype="t2.micro")
    await world.root.call(
        "CreateAutoScalingGroup",
        AutoScalingGroupName="web",
        LaunchTemplate={"LaunchTemplateId": template},
        MinSize=1,
        MaxSize=1,
    )
    await world.converge()
    assert await live(world) == []
    [failed] = await activities(world)
    assert failed["StatusCode"] == "Failed"
    assert failed["StatusMessage"] == (
        "The t2.micro instance type does not support specifying CpuOptions."
    )


async def test_an_override_type_refusing_them_fails_its_launch_then_the_next_type(
    world: World,
) -> None:
    template = await cpu_template(
        world, ("CpuOptions.CoreCount", "1"), ("CpuOptions.ThreadsPerCore", "1")
    )
    await world.root.call(
        "CreateAutoScalingGroup",
        AutoScalingGroupName="web",
        MinSize=0,
        MaxSize=2,
        DesiredCapacity=1,
        MixedInstancesPolicy=mixed(template, "t2.micro", "t3.micro"),
    )
    await world.converge()
    [instance] = await live(world)
    assert (instance.instance_type, instance.cpu_options) == ("t3.micro", CpuOptions(1, 1))
    launched, failed = await activities(world)  # newest first
    assert launched["StatusCode"] == "Successful"
    assert failed["StatusCode"] == "Failed"
    assert failed["StatusMessage"] == (
        "Could not launch On-Demand Instances. UnsupportedOperation - The t2.micro instance "
        "type does not support specifying CpuOptions. Launching EC2 instance failed."
    )
    assert failed["Description"].startswith("Launching a new EC2 instance.  Status Reason: ")


async def test_counts_no_override_admits_fail_the_launch_once(world: World) -> None:
    # Two cores: an m5.xlarge has them, a t3.micro (one core of two threads) does not.
    template = await cpu_template(world, ("CpuOptions.CoreCount", "2"), itype="m5.xlarge")
    await world.root.call(
        "CreateAutoScalingGroup",
        AutoScalingGroupName="web",
        MinSize=0,
        MaxSize=2,
        DesiredCapacity=1,
        MixedInstancesPolicy=mixed(
            template, "t3.micro", OnDemandBaseCapacity=0, OnDemandPercentageAboveBaseCapacity=0
        ),
    )
    reconciler = world.reconciler()
    await reconciler.run_once()
    assert await live(world) == []
    [failed] = await activities(world)
    assert failed["StatusMessage"].startswith(
        "Could not launch Spot Instances. InvalidParameterValue - CoreCount 2 is not valid "
        "for the t3.micro instance type"
    )
    assert failed["StatusMessage"].endswith(". Launching EC2 instance failed.")
    # Backed off: no second failure (nor a capacity message) at once.
    await reconciler.run_once()
    assert len(await activities(world)) == 1


async def test_an_override_type_admitting_them_launches_with_them(world: World) -> None:
    template = await cpu_template(world, ("CpuOptions.CoreCount", "2"), itype="t3.nano")
    await world.root.call(
        "CreateAutoScalingGroup",
        AutoScalingGroupName="web",
        MinSize=0,
        MaxSize=2,
        DesiredCapacity=1,
        MixedInstancesPolicy=mixed(template, "m5.xlarge"),
    )
    await world.converge()
    [instance] = await live(world)
    assert (instance.instance_type, instance.cpu_options) == ("m5.xlarge", CpuOptions(2, 2))
