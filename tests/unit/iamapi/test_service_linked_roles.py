"""IAM service-linked roles in process, through botocore's serializer and parser (decision
0208): the role's name, path, trust and AWS-managed policy, the refusals in IAM's words, the
protected role (UnmodifiableEntity), deletion — a task, NOT_STARTED, IN_PROGRESS, then SUCCEEDED
or FAILED (session 51) — and its status while resources use the role,
ListPolicies' AWS scope, and ``iam:AWSServiceName`` in the policy engine's hands."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from botocore.credentials import Credentials

from andromede.iam.linked_services import SERVICES
from andromede.iam.model import PrincipalKind
from andromede.iam.service import PolicyKind, validate_policy_document
from support.queryapp import ApiError, Client, World

ASG = "autoscaling.amazonaws.com"
ASG_ROLE = "AWSServiceRoleForAutoScaling"
ASG_POLICY = "arn:aws:iam::aws:policy/aws-service-role/AutoScalingServiceRolePolicy"
ALLOW_ALL = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)


async def expect(code: str, client: Client, action: str, **params: object) -> ApiError:
    with pytest.raises(ApiError) as caught:
        await client.call("iam", action, **params)
    assert caught.value.code == code, caught.value
    return caught.value


def test_every_platform_policy_is_a_valid_document() -> None:
    for service in SERVICES.values():
        validate_policy_document(service.document, PolicyKind.IDENTITY)
        validate_policy_document(service.trust_policy(), PolicyKind.TRUST)
        assert service.policy_arn.startswith("arn:aws:iam::aws:policy/aws-service-role/")


async def test_a_service_linked_role_is_made_with_its_trust_and_aws_managed_policy(
    world: World, root: Client
) -> None:
    role = (await root.call("iam", "CreateServiceLinkedRole", AWSServiceName=ASG))["Role"]
    assert role["RoleName"] == ASG_ROLE
    assert role["Path"] == f"/aws-service-role/{ASG}/"
    assert role["Arn"] == f"arn:aws:iam::{world.tenant_id}:role/aws-service-role/{ASG}/{ASG_ROLE}"
    trust = role["AssumeRolePolicyDocument"]
    assert trust["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": ASG}, "Action": "sts:AssumeRole"}
    ]
    assert "Auto Scaling" in role["Description"]
    got = (await root.call("iam", "GetRole", RoleName=ASG_ROLE))["Role"]
    assert got["RoleId"] == role["RoleId"]

    attached = (await root.call("iam", "ListAttachedRolePolicies", RoleName=ASG_ROLE))[
        "AttachedPolicies"
    ]
    assert attached == [{"PolicyName": "AutoScalingServiceRolePolicy", "PolicyArn": ASG_POLICY}]
    policy = (await root.call("iam", "GetPolicy", PolicyArn=ASG_POLICY))["Policy"]
    assert policy["Path"] == "/aws-service-role/" and policy["AttachmentCount"] == 1
    assert policy["IsAttachable"] is False
    version = (await root.call("iam", "GetPolicyVersion", PolicyArn=ASG_POLICY, VersionId="v1"))[
        "PolicyVersion"
    ]
    assert "ec2:RunInstances" in json.dumps(version["Document"])
    assert version["IsDefaultVersion"] is True
    await expect("NoSuchEntity", root, "GetPolicyVersion", PolicyArn=ASG_POLICY, VersionId="v2")
    entities = await root.call("iam", "ListEntitiesForPolicy", PolicyArn=ASG_POLICY)
    assert [r["RoleName"] for r in entities["PolicyRoles"]] == [ASG_ROLE]

    details = await root.call("iam", "GetAccountAuthorizationDetails", Filter=["Role"])
    [detail] = details["RoleDetailList"]
    assert detail["AttachedManagedPolicies"] == attached
    # The role's sessions act with the policy (what the service does in the account).
    held = await world.identity._entity_policies(PrincipalKind.ROLE_SESSION, role["RoleId"])
    assert held.documents == (SERVICES[ASG].document,)

    # A second one is refused in IAM's words; a suffix makes another (Auto Scaling takes one).
    error = await expect("InvalidInput", root, "CreateServiceLinkedRole", AWSServiceName=ASG)
    assert error.message == (
        f"Service role name {ASG_ROLE} has been taken in this account, "
        "please try a different suffix."
    )
    custom = await root.call(
        "iam", "CreateServiceLinkedRole", AWSServiceName=ASG, CustomSuffix="blue",
        Description="the blue fleet's",
    )  # fmt: skip
    assert custom["Role"]["RoleName"] == f"{ASG_ROLE}_blue"
    assert custom["Role"]["Description"] == "the blue fleet's"
    policy = (await root.call("iam", "GetPolicy", PolicyArn=ASG_POLICY))["Policy"]
    assert policy["AttachmentCount"] == 2


async def test_iam_refuses_what_no_service_here_takes(root: Client) -> None:
    error = await expect(
        "InvalidInput", root, "CreateServiceLinkedRole",
        AWSServiceName="elasticloadbalancing.amazonaws.com", CustomSuffix="x",
    )  # fmt: skip
    assert error.message == "Custom suffix is not allowed for elasticloadbalancing.amazonaws.com"
    error = await expect(
        "InvalidInput", root, "CreateServiceLinkedRole", AWSServiceName="nope.amazonaws.com"
    )
    assert "autoscaling.amazonaws.com" in error.message
    await expect(
        "InvalidInput", root, "CreateServiceLinkedRole", AWSServiceName=ASG, CustomSuffix="a b"
    )
    # Only CreateServiceLinkedRole makes a role under the reserved path.
    await expect(
        "InvalidInput", root, "CreateRole", RoleName="fake", Path=f"/aws-service-role/{ASG}/",
        AssumeRolePolicyDocument=SERVICES[ASG].trust_policy(),
    )  # fmt: skip
    listed = (await root.call("iam", "ListRoles"))["Roles"]
    assert listed == []


async def test_the_role_is_only_modifiable_by_its_service(root: Client) -> None:
    await root.call("iam", "CreateServiceLinkedRole", AWSServiceName=ASG)
    arn = (await root.call("iam", "CreatePolicy", PolicyName="p", PolicyDocument=ALLOW_ALL))[
        "Policy"
    ]["Arn"]
    refused: list[tuple[str, dict[str, Any]]] = [
        ("UpdateAssumeRolePolicy", {"PolicyDocument": SERVICES[ASG].trust_policy()}),
        ("PutRolePolicy", {"PolicyName": "more", "PolicyDocument": ALLOW_ALL}),
        ("AttachRolePolicy", {"PolicyArn": arn}),
        ("DetachRolePolicy", {"PolicyArn": ASG_POLICY}),
        ("DeleteRolePolicy", {"PolicyName": "more"}),
        ("PutRolePermissionsBoundary", {"PermissionsBoundary": arn}),
        ("DeleteRole", {}),
    ]
    for action, params in refused:
        error = await expect("UnmodifiableEntity", root, action, RoleName=ASG_ROLE, **params)
        assert error.message == (
            f"Cannot perform the operation on the protected role '{ASG_ROLE}' - "
            "this role is only modifiable by AWS"
        ), action
    assert (await root.call("iam", "ListRolePolicies", RoleName=ASG_ROLE))["PolicyNames"] == []
    # Nothing but its service acts as it: no instance profile holds it.
    await root.call("iam", "CreateInstanceProfile", InstanceProfileName="web")
    await expect(
        "UnmodifiableEntity", root, "AddRoleToInstanceProfile", InstanceProfileName="web",
        RoleName=ASG_ROLE,
    )  # fmt: skip
    # Its description may change, as on AWS.
    await root.call("iam", "UpdateRole", RoleName=ASG_ROLE, Description="ours")
    # The AWS-managed policy is its role's alone.
    await root.call(
        "iam", "CreateRole", RoleName="plain", AssumeRolePolicyDocument=SERVICES[ASG].trust_policy()
    )
    error = await expect("NoSuchEntity", root, "AttachRolePolicy", RoleName="plain",
                         PolicyArn=ASG_POLICY)  # fmt: skip
    assert "is not attachable" in error.message


async def test_deletion_waits_for_the_resources_using_the_role(world: World, root: Client) -> None:
    await root.call("iam", "CreateServiceLinkedRole", AWSServiceName=ASG)
    group = (
        f"arn:aws:autoscaling:eu-fr-1:{world.tenant_id}:autoScalingGroup:1a2b:"
        "autoScalingGroupName/web"
    )
    in_use = [group]

    async def users(tenant_id: str, principal: str, arn: str) -> list[str]:
        assert (tenant_id, principal) == (world.tenant_id, ASG) and arn.endswith(ASG_ROLE)
        return list(in_use)

    world.identity.linked_role_users = users
    task = (await root.call("iam", "DeleteServiceLinkedRole", RoleName=ASG_ROLE))["DeletionTaskId"]
    assert task.startswith(f"task/aws-service-role/{ASG}/{ASG_ROLE}/")
    await world.identity.settle_linked_role_deletions()  # the task's job has run
    status = await root.call("iam", "GetServiceLinkedRoleDeletionStatus", DeletionTaskId=task)
    assert status["Status"] == "FAILED"
    assert status["Reason"]["RoleUsageList"] == [{"Region": "eu-fr-1", "Resources": [group]}]
    assert ASG_ROLE in status["Reason"]["Reason"]
    await root.call("iam", "GetRole", RoleName=ASG_ROLE)  # still there

    in_use.clear()
    again = (await root.call("iam", "DeleteServiceLinkedRole", RoleName=ASG_ROLE))["DeletionTaskId"]
    assert again != task
    await world.identity.settle_linked_role_deletions()
    status = await root.call("iam", "GetServiceLinkedRoleDeletionStatus", DeletionTaskId=again)
    assert status["Status"] == "SUCCEEDED" and "Reason" not in status
    await expect("NoSuchEntity", root, "GetRole", RoleName=ASG_ROLE)
    # The first task's role is gone: a role made anew under its name does not make it FAILED.
    await root.call("iam", "CreateServiceLinkedRole", AWSServiceName=ASG)
    status = await root.call("iam", "GetServiceLinkedRoleDeletionStatus", DeletionTaskId=task)
    assert status["Status"] == "SUCCEEDED"

    await root.call(
        "iam", "CreateRole", RoleName="plain", AssumeRolePolicyDocument=SERVICES[ASG].trust_policy()
    )
    await expect("InvalidInput", root, "DeleteServiceLinkedRole", RoleName="plain")
    await expect("NoSuchEntity", root, "DeleteServiceLinkedRole", RoleName="missing")
    await expect(
        "InvalidInput", root, "GetServiceLinkedRoleDeletionStatus", DeletionTaskId="task/x"
    )


async def test_a_deletion_task_is_not_started_then_in_progress_then_succeeded(
    world: World, root: Client
) -> None:
    """AWS's sequence (session 51): the task's job runs after the call has answered; while it
    asks which resources use the role, the status is IN_PROGRESS and the role still there."""
    await root.call("iam", "CreateServiceLinkedRole", AWSServiceName=ASG)
    asked, release = asyncio.Event(), asyncio.Event()

    async def users(tenant_id: str, principal: str, arn: str) -> list[str]:
        asked.set()
        await release.wait()
        return []

    world.identity.linked_role_users = users
    identity, tenant = world.identity, world.tenant_id
    task = await identity.delete_service_linked_role(tenant, ASG_ROLE)
    assert (await identity.service_linked_role_deletion_status(tenant, task)).status == (
        "NOT_STARTED"
    )
    await asked.wait()
    status = await root.call("iam", "GetServiceLinkedRoleDeletionStatus", DeletionTaskId=task)
    assert status["Status"] == "IN_PROGRESS" and "Reason" not in status
    await root.call("iam", "GetRole", RoleName=ASG_ROLE)  # not deleted yet
    release.set()
    await identity.settle_linked_role_deletions()
    status = await root.call("iam", "GetServiceLinkedRoleDeletionStatus", DeletionTaskId=task)
    assert status["Status"] == "SUCCEEDED"
    await expect("NoSuchEntity", root, "GetRole", RoleName=ASG_ROLE)


async def test_list_policies_lists_the_aws_managed_after_the_accounts(root: Client) -> None:
    await root.call("iam", "CreatePolicy", PolicyName="mine", PolicyDocument=ALLOW_ALL)
    aws = (await root.call("iam", "ListPolicies", Scope="AWS"))["Policies"]
    names = sorted(s.policy_name for s in SERVICES.values())
    assert [p["PolicyName"] for p in aws] == names
    assert all(p["Arn"].startswith("arn:aws:iam::aws:policy/") for p in aws)
    local = (await root.call("iam", "ListPolicies", Scope="Local"))["Policies"]
    assert [p["PolicyName"] for p in local] == ["mine"]
    # Scope=All, two at a time: the account's, then AWS's, every one once.
    seen: list[str] = []
    params: dict[str, Any] = {"MaxItems": 2}
    while True:
        page = await root.call("iam", "ListPolicies", **params)
        seen += [p["PolicyName"] for p in page["Policies"]]
        if not page["IsTruncated"]:
            break
        params["Marker"] = page["Marker"]
    assert seen == ["mine", *names]
    await root.call("iam", "CreateServiceLinkedRole", AWSServiceName=ASG)
    attached = (await root.call("iam", "ListPolicies", Scope="AWS", OnlyAttached=True))["Policies"]
    assert [p["PolicyName"] for p in attached] == ["AutoScalingServiceRolePolicy"]


async def test_the_engine_decides_on_the_service_named(world: World, root: Client) -> None:
    await world.identity.create_user(world.tenant_id, "ops")
    await world.identity.put_user_policy(
        world.tenant_id, "ops", "elb-only",
        json.dumps({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow", "Action": "iam:CreateServiceLinkedRole", "Resource": "*",
                "Condition": {"StringEquals": {
                    "iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"
                }},
            }],
        }),
    )  # fmt: skip
    key = await world.identity.create_access_key(world.tenant_id, "ops")
    ops = world.client(Credentials(key.key.access_key_id, key.secret_access_key))
    await expect("AccessDenied", ops, "CreateServiceLinkedRole", AWSServiceName=ASG)
    made = await ops.call(
        "iam", "CreateServiceLinkedRole", AWSServiceName="elasticloadbalancing.amazonaws.com"
    )
    assert made["Role"]["RoleName"] == "AWSServiceRoleForElasticLoadBalancing"
    await expect("AccessDenied", ops, "DeleteServiceLinkedRole", RoleName=ASG_ROLE)
