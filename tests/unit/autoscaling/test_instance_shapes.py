"""What DescribeAutoScalingGroups' ``Instances`` and DescribeAutoScalingInstances answer of
each instance, as Auto Scaling does: its type, its weight in a group whose policy weighs its
types (decision 0209), and the launch template and version it was launched from — not the
group's current one once the group moved to another template."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from andromede.compute.launch_request import RunRequest
from support.autoscalingapp import World


async def _card() -> Mapping[str, Decimal]:
    return {"t3.nano": Decimal("0.005"), "t3.micro": Decimal("0.01")}


async def shown(world: World) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    group = (await world.root.call("DescribeAutoScalingGroups"))["AutoScalingGroups"][0]
    instances = (await world.root.call("DescribeAutoScalingInstances"))["AutoScalingInstances"]
    return (
        sorted(group["Instances"], key=lambda i: i["InstanceId"]),
        sorted(instances, key=lambda i: i["InstanceId"]),
    )


async def test_each_instance_shows_the_template_it_was_launched_from(world: World) -> None:
    first = await world.template(world.tenant_id, name="first")
    second = await world.template(world.tenant_id, name="second", instance_type="t3.micro")
    await world.root.call(
        "CreateAutoScalingGroup",
        AutoScalingGroupName="web",
        LaunchTemplate={"LaunchTemplateId": first},
        MinSize=1,
        MaxSize=2,
    )
    await world.converge()
    await world.root.call(
        "UpdateAutoScalingGroup",
        AutoScalingGroupName="web",
        LaunchTemplate={"LaunchTemplateName": "second", "Version": "$Latest"},
        DesiredCapacity=2,
    )
    await world.converge()
    in_group, described = await shown(world)
    by_template = sorted(
        (
            i["LaunchTemplate"]["LaunchTemplateId"],
            i["LaunchTemplate"]["LaunchTemplateName"],
            i["LaunchTemplate"]["Version"],
            i["InstanceType"],
        )
        for i in described
    )
    assert by_template == sorted(
        [(first, "first", "1", "t3.nano"), (second, "second", "1", "t3.micro")]
    )
    assert [i["LaunchTemplate"] for i in in_group] == [i["LaunchTemplate"] for i in described]
    assert all("WeightedCapacity" not in i for i in in_group + described)  # no policy


async def test_a_weighted_policy_s_instances_show_their_weight(world: World) -> None:
    world.compute.on_demand_prices = _card
    template = await world.template(world.tenant_id)
    await world.root.call(
        "CreateAutoScalingGroup",
        AutoScalingGroupName="web",
        MinSize=0,
        MaxSize=4,
        DesiredCapacity=3,
        MixedInstancesPolicy={
            "LaunchTemplate": {
                "LaunchTemplateSpecification": {"LaunchTemplateId": template},
                "Overrides": [
                    {"InstanceType": "t3.micro", "WeightedCapacity": "2"},
                    {"InstanceType": "t3.nano", "WeightedCapacity": "1"},
                ],
            },
            "InstancesDistribution": {"OnDemandAllocationStrategy": "prioritized"},
        },
    )
    await world.converge()
    in_group, described = await shown(world)
    assert sorted((i["InstanceType"], i["WeightedCapacity"]) for i in in_group) == [
        ("t3.micro", "2"),
        ("t3.micro", "2"),
    ]
    assert [(i["InstanceType"], i["WeightedCapacity"]) for i in described] == [
        (i["InstanceType"], i["WeightedCapacity"]) for i in in_group
    ]
    assert {i["LaunchTemplate"]["LaunchTemplateId"] for i in described} == {template}
    assert {i["LaunchTemplate"]["LaunchTemplateName"] for i in described} == {"web"}


async def test_an_instance_attached_from_no_template_shows_none(world: World) -> None:
    template = await world.template(world.tenant_id)
    await world.root.call(
        "CreateAutoScalingGroup",
        AutoScalingGroupName="web",
        LaunchTemplate={"LaunchTemplateId": template},
        MinSize=0,
        MaxSize=2,
    )
    request = RunRequest(image_id=world.image.image_id, instance_type="t3.micro")
    [outside] = await world.compute.run_instances(world.tenant_id, request)
    await world.compute.settle()
    await world.root.call(
        "AttachInstances", AutoScalingGroupName="web", InstanceIds=[outside.instance_id]
    )
    in_group, described = await shown(world)
    assert [i["InstanceId"] for i in described] == [outside.instance_id]
    assert "LaunchTemplate" not in described[0] and "LaunchTemplate" not in in_group[0]
    assert described[0]["InstanceType"] == "t3.micro"


async def test_a_warm_pool_s_instances_show_the_template_they_were_launched_from(
    world: World,
) -> None:
    first = await world.template(world.tenant_id, name="first")
    await world.root.call(
        "CreateAutoScalingGroup",
        AutoScalingGroupName="web",
        LaunchTemplate={"LaunchTemplateId": first},
        MinSize=0,
        MaxSize=1,
    )
    await world.root.call("PutWarmPool", AutoScalingGroupName="web", MinSize=1)
    for _ in range(3):
        await world.converge()
    await world.template(world.tenant_id, name="second")
    await world.root.call(
        "UpdateAutoScalingGroup",
        AutoScalingGroupName="web",
        LaunchTemplate={"LaunchTemplateName": "second"},
    )
    [warm] = (await world.root.call("DescribeWarmPool", AutoScalingGroupName="web"))["Instances"]
    assert warm["LaunchTemplate"] == {
        "LaunchTemplateId": first,
        "LaunchTemplateName": "first",
        "Version": "1",
    }
