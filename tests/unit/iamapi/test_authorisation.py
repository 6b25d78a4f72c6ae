"""Every IAM call goes through the policy engine: identity policies of the user, its groups and
attached managed policies; policy variables; global condition keys; explicit deny; the resource
ARN each action is checked against (with the entity's real path)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.credentials import Credentials

from andromede.iamapi.iam import IAM
from support.queryapp import ApiError, Client, World


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str | list[str], resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


async def user_with(
    root: Client, world: World, name: str, document: str | None, path: str = "/"
) -> Client:
    await root.call("iam", "CreateUser", UserName=name, Path=path)
    if document is not None:
        await root.call(
            "iam", "PutUserPolicy", UserName=name, PolicyName="p", PolicyDocument=document
        )
    key = (await root.call("iam", "CreateAccessKey", UserName=name))["AccessKey"]
    return world.client(Credentials(key["AccessKeyId"], key["SecretAccessKey"]))


async def denied(client: Client, action: str, **params: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        await client.call("iam", action, **params)
    assert (caught.value.status, caught.value.code) == (403, "AccessDenied")
    return caught.value


def test_every_iam_action_is_authorised_as_itself() -> None:
    # The permission checked is derived from the table's key: "iam:" + the action's name.
    assert IAM.name == "iam"
    assert all(action.authorised for action in IAM.actions.values())


async def test_username_variable_lets_users_manage_their_own_keys(
    root: Client, world: World
) -> None:
    own = policy(
        allow(
            ["iam:GetUser", "iam:CreateAccessKey", "iam:ListAccessKeys"],
            "arn:aws:iam::*:user/${aws:username}",
        )
    )
    alice = await user_with(root, world, "alice", own)
    await root.call("iam", "CreateUser", UserName="bob")
    me = (await alice.call("iam", "GetUser"))["User"]
    assert me["UserName"] == "alice"
    assert (await alice.call("iam", "GetUser", UserName="alice"))["User"] == me
    keys = (await alice.call("iam", "ListAccessKeys"))["AccessKeyMetadata"]
    assert len(keys) == 1
    error = await denied(alice, "GetUser", UserName="bob")
    assert "user/bob" in error.message and "iam:GetUser" in error.message
    await denied(alice, "CreateAccessKey", UserName="bob")
    await denied(alice, "ListUsers")


async def test_resources_carry_the_real_path(root: Client, world: World) -> None:
    ops_admin = await user_with(
        root, world, "opsadmin", policy(allow("iam:*", "arn:aws:iam::*:user/ops/*"))
    )
    await root.call("iam", "CreateUser", UserName="in-ops", Path="/ops/")
    await root.call("iam", "CreateUser", UserName="elsewhere")
    await ops_admin.call("iam", "GetUser", UserName="in-ops")
    await ops_admin.call("iam", "CreateAccessKey", UserName="in-ops")
    await denied(ops_admin, "GetUser", UserName="elsewhere")
    await ops_admin.call("iam", "CreateUser", UserName="new-op", Path="/ops/")
    await denied(ops_admin, "CreateUser", UserName="new-elsewhere")


async def test_group_and_managed_policies_count(root: Client, world: World) -> None:
    carol = await user_with(root, world, "carol", None)
    await denied(carol, "ListRoles")
    await root.call("iam", "CreateGroup", GroupName="readers")
    await root.call(
        "iam",
        "PutGroupPolicy",
        GroupName="readers",
        PolicyName="g",
        PolicyDocument=policy(allow("iam:ListRoles")),
    )
    await root.call("iam", "AddUserToGroup", GroupName="readers", UserName="carol")
    await carol.call("iam", "ListRoles")
    arn = (
        await root.call(
            "iam",
            "CreatePolicy",
            PolicyName="groups",
            PolicyDocument=policy(allow("iam:ListGroups")),
        )
    )["Policy"]["Arn"]
    await denied(carol, "ListGroups")
    await root.call("iam", "AttachUserPolicy", UserName="carol", PolicyArn=arn)
    await carol.call("iam", "ListGroups")


async def test_explicit_deny_wins(root: Client, world: World) -> None:
    dave = await user_with(
        root,
        world,
        "dave",
        policy(allow("iam:*"), {"Effect": "Deny", "Action": "iam:DeleteUser", "Resource": "*"}),
    )
    await dave.call("iam", "CreateUser", UserName="temp")
    await denied(dave, "DeleteUser", UserName="temp")
    await root.call("iam", "DeleteUser", UserName="temp")  # the root is not bound by policies


async def test_source_ip_and_secure_transport_conditions(root: Client, world: World) -> None:
    # The in-process client connects from 192.0.2.10 over plain HTTP.
    erin = await user_with(
        root,
        world,
        "erin",
        policy(
            allow("iam:ListUsers", Condition={"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}),
            allow("iam:ListGroups", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
            allow("iam:ListRoles", Condition={"Bool": {"aws:SecureTransport": "true"}}),
            allow(
                "iam:ListPolicies",
                Condition={"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}},
            ),
        ),
    )
    await erin.call("iam", "ListUsers")
    await denied(erin, "ListGroups")
    await denied(erin, "ListRoles")
    await erin.call("iam", "ListPolicies")


async def test_policy_arn_condition_limits_what_may_be_attached(root: Client, world: World) -> None:
    doc = policy(allow("s3:GetObject"))
    good = (await root.call("iam", "CreatePolicy", PolicyName="good", PolicyDocument=doc))[
        "Policy"
    ]["Arn"]
    bad = (await root.call("iam", "CreatePolicy", PolicyName="bad", PolicyDocument=doc))["Policy"][
        "Arn"
    ]
    await root.call("iam", "CreateUser", UserName="target")
    fay = await user_with(
        root,
        world,
        "fay",
        policy(allow("iam:AttachUserPolicy", Condition={"ArnEquals": {"iam:PolicyARN": good}})),
    )
    await fay.call("iam", "AttachUserPolicy", UserName="target", PolicyArn=good)
    await denied(fay, "AttachUserPolicy", UserName="target", PolicyArn=bad)


async def test_a_denied_call_is_audited_as_a_failure(root: Client, world: World) -> None:
    gil = await user_with(root, world, "gil", None)
    await denied(gil, "CreateUser", UserName="nope")
    await world.audit.flush()
    events = [e for _, e in await world.audit_store.list_events(None, after_id=0, limit=100)]
    created = [e for e in events if e.action == "iam:CreateUser"]
    assert [(e.principal, e.resource, e.outcome.value) for e in created] == [
        (
            f"arn:aws:iam::{world.tenant_id}:root",
            f"arn:aws:iam::{world.tenant_id}:user/gil",
            "success",
        ),
        (
            f"arn:aws:iam::{world.tenant_id}:user/gil",
            f"arn:aws:iam::{world.tenant_id}:user/nope",
            "failure",
        ),
    ]
