"""An Auto Scaling group's service-linked role (decision 0208), in process: the account's
default role made with its first group, ``ServiceLinkedRoleARN`` taken only when it names an
Auto Scaling service-linked role of the account, DescribeAutoScalingGroups answering the role,
and a role's deletion FAILED while a group uses it."""

from __future__ import annotations

from andromede.iam.linked_services import SERVICES
from andromede.iamapi.autoscaling_linked_role import AUTOSCALING, role_users
from support.autoscalingapp import REGION, World, refused

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
        status = await identity.service_linked_role_deletion_status(tenant, task)
        assert status.status == "FAILED"
        assert [r.rsplit("/", 1)[-1] for r in status.resources] == [group]
        assert all(
            r.startswith(f"arn:aws:autoscaling:{REGION}:{tenant}:") for r in status.resources
        )
        assert (await identity.get_role(tenant, role.name)).id == role.id
