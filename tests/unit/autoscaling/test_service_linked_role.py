"""An Auto Scaling group's service-linked role (decision 0208), in process: the account's
default role made with its first group, ``ServiceLinkedRoleARN`` taken only when it names an
Auto Scaling service-linked role of the account, DescribeAutoScalingGroups answering the role,
a role's deletion FAILED while a group uses it, and the default role made only for a caller
who may ``iam:CreateServiceLinkedRole`` it (session 51)."""

from __future__ import annotations

import json

import pytest
from botocore.credentials import Credentials

from andromede.iam.errors import NoSuchEntity
from andromede.iam.linked_services import SERVICES
from andromede.iamapi.autoscaling_linked_role import AUTOSCALING, role_users
from support.autoscalingapp import REGION, World, autoscaling_client, refused
from support.ec2app import Client

DEFAULT = "AWSServiceRoleForAutoScaling"


async def test_groups_act_as_the_role_they_name_or_the_default(world: World) -> None:
    identity, tenant = world.identity, world.tenant_id
    await world.create_group("web")
    default = await identity.get_role(tenant, DEFAULT)  # made with the first group
    assert default.path == f"/aws-service-role/{AUTOSCALING}/"
    blue = await identity.create_service_linked_role(tenant, AUTOSCALING, custom_suffix="blue")
    await world.create_group("blue", template_name="lt-blue", ServiceLinkedRoleARN=blue.arn)
    groups = (await world.root.call("DescribeAutoScalingGroups"))["AutoScalingGroups"]
    roles = {g["AutoScalingGroupName"]: g["ServiceLinkedRoleARN"] for g in groups}
    assert roles == {"web": default.arn, "blue": blue.arn}

    plain = await identity.create_role(tenant, "plain", SERVICES[AUTOSCALING].trust_policy())
    elb = await identity.create_service_linked_role(tenant, "elasticloadbalancing.amazonaws.com")
    missing = blue.arn + "x"
    for arn in (plain.arn, elb.arn, missing, "not-an-arn"):
        error = await refused(
            world.root, "CreateAutoScalingGroup", "ValidationError",
            AutoScalingGroupName="other", MinSize=0, MaxSize=1, ServiceLinkedRoleARN=arn,
            LaunchTemplate={"LaunchTemplateName": "lt-blue", "Version": "$Latest"},
        )  # fmt: skip
        assert "is not a service-linked role of autoscaling.amazonaws.com" in error.message
    names = [g["AutoScalingGroupName"] for g in groups]
    assert sorted(names) == ["blue", "web"]

    # While a group acts as it, the role's deletion fails, naming the group.
    identity.linked_role_users = role_users(world.service, REGION)
    for role, group in ((blue, "blue"), (default, "web")):
        task = await identity.delete_service_linked_role(tenant, role.name)
        await identity.settle_linked_role_deletions()
        status = await identity.service_linked_role_deletion_status(tenant, task)
        assert status.status == "FAILED"
        assert [r.rsplit("/", 1)[-1] for r in status.resources] == [group]
        assert all(
            r.startswith(f"arn:aws:autoscaling:{REGION}:{tenant}:") for r in status.resources
        )
        assert (await identity.get_role(tenant, role.name)).id == role.id


async def _user(world: World, name: str, *statements: dict[str, object]) -> Client:
    """An IAM user of the world's account holding ``statements``, as an Auto Scaling client."""
    await world.identity.create_user(world.tenant_id, name)
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    await world.identity.put_user_policy(world.tenant_id, name, "p", json.dumps(document))
    key = await world.identity.create_access_key(world.tenant_id, name)
    credentials = Credentials(key.key.access_key_id, key.secret_access_key)
    return autoscaling_client(world.app, credentials)


async def test_the_default_role_is_made_only_for_a_caller_who_may_make_it(world: World) -> None:
    identity, tenant = world.identity, world.tenant_id
    template = await world.template(tenant)
    group = {
        "MinSize": 0, "MaxSize": 1,
        "LaunchTemplate": {"LaunchTemplateId": template, "Version": "$Latest"},
    }  # fmt: skip
    scaling = {"Effect": "Allow", "Action": "autoscaling:*", "Resource": "*"}
    builder = await _user(world, "builder", scaling)
    # No default role yet and no iam:CreateServiceLinkedRole: AWS's AccessDenied naming the
    # action and the role it would make; no group made, no role either.
    error = await refused(
        builder, "CreateAutoScalingGroup", "AccessDenied", AutoScalingGroupName="web", **group
    )
    default_arn = f"arn:aws:iam::{tenant}:role/aws-service-role/{AUTOSCALING}/{DEFAULT}"
    assert error.message == (
        f"User: arn:aws:iam::{tenant}:user/builder is not authorized to perform: "
        f"iam:CreateServiceLinkedRole on resource: {default_arn}"
    )
    assert (await builder.call("DescribeAutoScalingGroups"))["AutoScalingGroups"] == []
    with pytest.raises(NoSuchEntity):
        await identity.get_role(tenant, DEFAULT)

    # Allowed for another service only (iam:AWSServiceName): still refused.
    elsewhere = {
        "Effect": "Allow", "Action": "iam:CreateServiceLinkedRole", "Resource": "*",
        "Condition": {"StringEquals": {"iam:AWSServiceName": "events.amazonaws.com"}},
    }  # fmt: skip
    other = await _user(world, "other", scaling, elsewhere)
    await refused(
        other, "CreateAutoScalingGroup", "AccessDenied", AutoScalingGroupName="web", **group
    )

    # Allowed for Auto Scaling: the group and the role are made.
    linked = {
        **elsewhere,
        "Condition": {"StringEquals": {"iam:AWSServiceName": AUTOSCALING}},
    }
    admin = await _user(world, "admin", scaling, linked)
    await admin.call("CreateAutoScalingGroup", AutoScalingGroupName="web", **group)
    assert (await identity.get_role(tenant, DEFAULT)).arn == default_arn

    # Once the role is there, creating a group no longer asks for the permission.
    await builder.call("CreateAutoScalingGroup", AutoScalingGroupName="api", **group)
    names = [
        g["AutoScalingGroupName"]
        for g in (await builder.call("DescribeAutoScalingGroups"))["AutoScalingGroups"]
    ]
    assert sorted(names) == ["api", "web"]
