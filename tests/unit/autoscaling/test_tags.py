"""A group's tag calls (decision 0159) through botocore's ``autoscaling`` model in process:
CreateOrUpdateTags and DeleteTags change the group's tags (the next launches take the
propagated ones), DescribeTags filters and pages them; refusals; isolation between accounts."""

from __future__ import annotations

from typing import Any

from support.autoscalingapp import World, refused


async def group(world: World, name: str) -> None:
    template = await world.template(world.tenant_id, name=f"lt-{name}")
    await world.root.call(
        "CreateAutoScalingGroup",
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateId": template},
        MinSize=0,
        MaxSize=2,
        Tags=[{"Key": "team", "Value": "blue", "PropagateAtLaunch": True}],
    )


def tag(group: str, key: str, value: str = "", propagate: bool = False) -> dict[str, Any]:
    return {
        "ResourceId": group,
        "ResourceType": "auto-scaling-group",
        "Key": key,
        "Value": value,
        "PropagateAtLaunch": propagate,
    }


async def test_tags_are_changed_described_and_propagated(world: World) -> None:
    await group(world, "web")
    await group(world, "db")
    await world.root.call(
        "CreateOrUpdateTags",
        Tags=[tag("web", "team", "red", True), tag("web", "cost", "42"), tag("db", "tier", "3")],
    )
    listed = (await world.root.call("DescribeTags"))["Tags"]
    assert [(t["ResourceId"], t["Key"], t["Value"], t["PropagateAtLaunch"]) for t in listed] == [
        ("db", "team", "blue", True),
        ("db", "tier", "3", False),
        ("web", "cost", "42", False),
        ("web", "team", "red", True),
    ]
    filtered = await world.root.call(
        "DescribeTags",
        Filters=[
            {"Name": "auto-scaling-group", "Values": ["web"]},
            {"Name": "propagate-at-launch", "Values": ["true"]},
        ],
    )
    assert [t["Key"] for t in filtered["Tags"]] == ["team"]
    first = await world.root.call("DescribeTags", MaxRecords=3)
    rest = await world.root.call("DescribeTags", MaxRecords=3, NextToken=first["NextToken"])
    assert [t["Key"] for t in first["Tags"] + rest["Tags"]] == [t["Key"] for t in listed]
    await world.root.call("DeleteTags", Tags=[tag("web", "cost")])
    await world.root.call("SetDesiredCapacity", AutoScalingGroupName="web", DesiredCapacity=1)
    await world.converge()
    [instance] = [
        i for i in await world.compute.describe_instances(world.tenant_id, [])
        if i.autoscaling_group == "web"
    ]  # fmt: skip
    assert dict(instance.tags) == {"team": "red"}
    [shown] = (await world.root.call("DescribeAutoScalingGroups", AutoScalingGroupNames=["web"]))[
        "AutoScalingGroups"
    ]
    assert [(t["Key"], t["Value"]) for t in shown["Tags"]] == [("team", "red")]


async def test_refusals_and_isolation(world: World) -> None:
    await group(world, "web")
    await refused(world.root, "CreateOrUpdateTags", "ValidationError",
                  Tags=[tag("web", "aws:owner", "me")])  # fmt: skip
    await refused(world.root, "CreateOrUpdateTags", "ValidationError", Tags=[tag("nope", "a")])
    await refused(world.root, "DescribeTags", "ValidationError",
                  Filters=[{"Name": "colour", "Values": ["x"]}])  # fmt: skip
    _, other = await world.tenant("other")
    assert (await other.call("DescribeTags"))["Tags"] == []
    await refused(other, "CreateOrUpdateTags", "ValidationError", Tags=[tag("web", "a")])
    await refused(other, "DeleteTags", "ValidationError", Tags=[tag("web", "team")])
    listed = (await world.root.call("DescribeTags"))["Tags"]
    assert [(t["Key"], t["Value"]) for t in listed] == [("team", "blue")]
