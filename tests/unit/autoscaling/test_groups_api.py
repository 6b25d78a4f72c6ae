"""EC2 Auto Scaling's group calls (decision 0156), in process, serialised and parsed with
botocore's own ``autoscaling`` model: a group's life, the refusals in AWS's codes with a
request id, DescribeAutoScalingGroups' names, tag filters and pages, the quotas, the IAM
catalogue, the audit of each change, and isolation between accounts."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.credentials import Credentials

from andromede.iam.policy.actions import known_action
from andromede.iamapi.autoscaling import ACTIONS
from support.autoscalingapp import World, autoscaling_client, autoscaling_world, refused


async def create(world: World, name: str = "web", **params: Any) -> str:
    return await world.create_group(name, template_name=f"lt-{name}", **params)


def test_every_action_is_in_the_iam_catalogue() -> None:
    for action in ACTIONS:
        assert known_action("autoscaling", action), action


async def test_a_groups_life(world: World) -> None:
    template = await create(
        world,
        "web",
        MinSize=1,
        MaxSize=3,
        DesiredCapacity=2,
        DefaultCooldown=120,
        HealthCheckType="EC2",
        Tags=[
            {"Key": "team", "Value": "blue", "PropagateAtLaunch": True},
            {"Key": "cost", "Value": "42", "PropagateAtLaunch": False},
        ],
    )
    groups = (await world.root.call("DescribeAutoScalingGroups"))["AutoScalingGroups"]
    assert len(groups) == 1
    group = groups[0]
    assert group["AutoScalingGroupName"] == "web"
    assert group["AutoScalingGroupARN"].startswith(
        f"arn:aws:autoscaling:eu-fr-1:{world.tenant_id}:autoScalingGroup:"
    )
    assert group["AutoScalingGroupARN"].endswith(":autoScalingGroupName/web")
    assert group["LaunchTemplate"] == {
        "LaunchTemplateId": template,
        "LaunchTemplateName": "lt-web",
        "Version": "$Latest",
    }
    assert (group["MinSize"], group["MaxSize"], group["DesiredCapacity"]) == (1, 3, 2)
    assert group["DefaultCooldown"] == 120 and group["HealthCheckType"] == "EC2"
    assert {(t["Key"], t["Value"], t["PropagateAtLaunch"]) for t in group["Tags"]} == {
        ("team", "blue", True),
        ("cost", "42", False),
    }
    assert group["Instances"] == []
    await world.root.call(
        "UpdateAutoScalingGroup", AutoScalingGroupName="web", MinSize=0, MaxSize=5
    )
    await world.root.call("SetDesiredCapacity", AutoScalingGroupName="web", DesiredCapacity=4)
    group = (await world.root.call("DescribeAutoScalingGroups"))["AutoScalingGroups"][0]
    assert (group["MinSize"], group["MaxSize"], group["DesiredCapacity"]) == (0, 5, 4)
    # Lowering the maximum below the desired capacity brings the capacity down with it.
    await world.root.call("UpdateAutoScalingGroup", AutoScalingGroupName="web", MaxSize=2)
    group = (await world.root.call("DescribeAutoScalingGroups"))["AutoScalingGroups"][0]
    assert group["DesiredCapacity"] == 2
    await world.root.call("DeleteAutoScalingGroup", AutoScalingGroupName="web")
    assert (await world.root.call("DescribeAutoScalingGroups"))["AutoScalingGroups"] == []
    await world.audit.flush()
    events = [e.action for _, e in await world.audit_store.list_events(None, after_id=0, limit=99)]
    assert "autoscaling:CreateAutoScalingGroup" in events
    assert "autoscaling:DeleteAutoScalingGroup" in events


@pytest.mark.parametrize(
    ("params", "code", "fragment"),
    [
        ({"MinSize": 3, "MaxSize": 1}, "ValidationError", "min bound"),
        ({"MinSize": 1, "MaxSize": 3, "DesiredCapacity": 5}, "ValidationError", "between"),
        ({"MinSize": 0, "MaxSize": 1, "HealthCheckType": "EBS"}, "ValidationError", "EC2"),
        ({"MinSize": 0, "MaxSize": 1, "LoadBalancerNames": ["lb"]}, "ValidationError", "Load"),
        ({"MinSize": 0, "MaxSize": 500}, "LimitExceeded", "at most"),
    ],
)
async def test_groups_out_of_bounds_are_refused(
    world: World, params: dict[str, Any], code: str, fragment: str
) -> None:
    template = await world.template(world.tenant_id)
    error = await refused(
        world.root,
        "CreateAutoScalingGroup",
        code,
        AutoScalingGroupName="bad",
        LaunchTemplate={"LaunchTemplateId": template},
        **params,
    )
    assert fragment in error.message
    assert (await world.root.call("DescribeAutoScalingGroups"))["AutoScalingGroups"] == []


async def test_unknown_template_name_and_twice_the_same_name(world: World) -> None:
    await refused(
        world.root,
        "CreateAutoScalingGroup",
        "ValidationError",
        AutoScalingGroupName="x",
        LaunchTemplate={"LaunchTemplateId": "lt-0123456789abcdef0"},
        MinSize=0,
        MaxSize=1,
    )
    await refused(
        world.root, "CreateAutoScalingGroup", "ValidationError",
        AutoScalingGroupName="x", MinSize=0, MaxSize=1,
    )  # fmt: skip
    await create(world, "web")
    await refused(
        world.root,
        "CreateAutoScalingGroup",
        "AlreadyExists",
        AutoScalingGroupName="web",
        LaunchTemplate={"LaunchTemplateName": "lt-web"},
        MinSize=0,
        MaxSize=1,
    )
    await refused(
        world.root, "SetDesiredCapacity", "ValidationError",
        AutoScalingGroupName="web", DesiredCapacity=9,
    )  # fmt: skip
    await refused(
        world.root, "SetDesiredCapacity", "ValidationError",
        AutoScalingGroupName="nope", DesiredCapacity=0,
    )  # fmt: skip


async def test_names_tag_filters_and_pages(world: World) -> None:
    for index in range(5):
        await create(
            world,
            f"g{index}",
            Tags=[{"Key": "tier", "Value": "web" if index % 2 else "db"}],
        )
    named = await world.root.call(
        "DescribeAutoScalingGroups", AutoScalingGroupNames=["g1", "g3", "zz"]
    )
    assert [g["AutoScalingGroupName"] for g in named["AutoScalingGroups"]] == ["g1", "g3"]
    web = await world.root.call(
        "DescribeAutoScalingGroups", Filters=[{"Name": "tag:tier", "Values": ["web"]}]
    )
    assert [g["AutoScalingGroupName"] for g in web["AutoScalingGroups"]] == ["g1", "g3"]
    keyed = await world.root.call(
        "DescribeAutoScalingGroups", Filters=[{"Name": "tag-value", "Values": ["db"]}]
    )
    assert [g["AutoScalingGroupName"] for g in keyed["AutoScalingGroups"]] == ["g0", "g2", "g4"]
    seen: list[str] = []
    token: str | None = None
    while True:
        extra = {"NextToken": token} if token else {}
        page = await world.root.call("DescribeAutoScalingGroups", MaxRecords=2, **extra)
        seen += [g["AutoScalingGroupName"] for g in page["AutoScalingGroups"]]
        token = page.get("NextToken")
        if token is None:
            break
    assert seen == ["g0", "g1", "g2", "g3", "g4"]
    await refused(world.root, "DescribeAutoScalingGroups", "ValidationError", NextToken="%%%")


async def test_the_groups_quota_is_a_setting(tmp_path: Any) -> None:
    async with autoscaling_world(tmp_path, max_autoscaling_groups_per_tenant=2) as world:
        await create(world, "a")
        await create(world, "b")
        template = await world.template(world.tenant_id, name="lt-c")
        await refused(
            world.root,
            "CreateAutoScalingGroup",
            "LimitExceeded",
            AutoScalingGroupName="c",
            LaunchTemplate={"LaunchTemplateId": template},
            MinSize=0,
            MaxSize=1,
        )


async def test_another_account_neither_sees_nor_changes_a_group(world: World) -> None:
    await create(world, "web", MinSize=1, MaxSize=2)
    await world.converge()
    other_id, other = await world.tenant("other")
    assert (await other.call("DescribeAutoScalingGroups"))["AutoScalingGroups"] == []
    assert (await other.call("DescribeAutoScalingInstances"))["AutoScalingInstances"] == []
    await refused(
        other, "SetDesiredCapacity", "ValidationError",
        AutoScalingGroupName="web", DesiredCapacity=0,
    )  # fmt: skip
    await refused(other, "DeleteAutoScalingGroup", "ValidationError", AutoScalingGroupName="web")
    instance = (await world.root.call("DescribeAutoScalingInstances"))["AutoScalingInstances"][0]
    await refused(
        other, "TerminateInstanceInAutoScalingGroup", "ValidationError",
        InstanceId=instance["InstanceId"], ShouldDecrementDesiredCapacity=False,
    )  # fmt: skip
    await refused(other, "DescribeScalingActivities", "ValidationError", AutoScalingGroupName="web")
    # The other account may have a group of the same name: names are per account.
    template = await world.template(other_id, name="theirs")
    await other.call(
        "CreateAutoScalingGroup",
        AutoScalingGroupName="web",
        LaunchTemplate={"LaunchTemplateId": template},
        MinSize=0,
        MaxSize=1,
    )
    group = (await world.root.call("DescribeAutoScalingGroups"))["AutoScalingGroups"][0]
    assert group["DesiredCapacity"] == 1 and len(group["Instances"]) == 1


async def test_a_policy_allowing_only_reads_refuses_changes(world: World) -> None:
    await create(world, "web")
    await world.identity.create_user(world.tenant_id, "reader")
    await world.identity.put_user_policy(
        world.tenant_id,
        "reader",
        "read",
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
        '"Action":"autoscaling:Describe*","Resource":"*"}]}',
    )
    key = await world.identity.create_access_key(world.tenant_id, "reader")
    reader = autoscaling_client(
        world.app, Credentials(key.key.access_key_id, key.secret_access_key)
    )
    assert len((await reader.call("DescribeAutoScalingGroups"))["AutoScalingGroups"]) == 1
    await refused(
        reader, "SetDesiredCapacity", "AccessDenied", AutoScalingGroupName="web", DesiredCapacity=1
    )
