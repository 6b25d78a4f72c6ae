"""The instance-profile actions through botocore's serializer and parser, in process: the
``InstanceProfile`` shape with its roles, paging, AWS's error codes, and the ``iam:PassRole``
that putting a role in a profile needs on top of ``iam:AddRoleToInstanceProfile``."""

from __future__ import annotations

import json

import pytest
from botocore.credentials import Credentials

from support.queryapp import ApiError, Client, World

EC2_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


async def fails(client: Client, action: str, **params: str) -> tuple[int, str]:
    with pytest.raises(ApiError) as caught:
        await client.call("iam", action, **params)
    return caught.value.status, caught.value.code


async def test_profile_shape_paging_and_errors(root: Client, world: World) -> None:
    created = (
        await root.call("iam", "CreateInstanceProfile", InstanceProfileName="web", Path="/a/")
    )["InstanceProfile"]
    assert created["Arn"] == f"arn:aws:iam::{world.tenant_id}:instance-profile/a/web"
    assert created["Path"] == "/a/" and created["Roles"] == []
    assert created["InstanceProfileId"].startswith("AIPA")
    role = (await root.call("iam", "CreateRole", RoleName="r", AssumeRolePolicyDocument=EC2_TRUST))[
        "Role"
    ]
    await root.call("iam", "AddRoleToInstanceProfile", InstanceProfileName="web", RoleName="r")
    got = (await root.call("iam", "GetInstanceProfile", InstanceProfileName="WEB"))[
        "InstanceProfile"
    ]
    assert [r["RoleId"] for r in got["Roles"]] == [role["RoleId"]]
    assert got["Roles"][0]["Arn"] == role["Arn"]
    for name in ("x", "y"):
        await root.call("iam", "CreateInstanceProfile", InstanceProfileName=name)
    first = await root.call("iam", "ListInstanceProfiles", MaxItems=2)
    assert [p["InstanceProfileName"] for p in first["InstanceProfiles"]] == ["web", "x"]
    assert first["IsTruncated"] is True
    rest = await root.call("iam", "ListInstanceProfiles", Marker=first["Marker"])
    assert [p["InstanceProfileName"] for p in rest["InstanceProfiles"]] == ["y"]
    for_role = await root.call("iam", "ListInstanceProfilesForRole", RoleName="r")
    assert [p["InstanceProfileName"] for p in for_role["InstanceProfiles"]] == ["web"]

    assert await fails(root, "CreateInstanceProfile", InstanceProfileName="Web") == (
        409,
        "EntityAlreadyExists",
    )
    assert await fails(root, "CreateInstanceProfile", InstanceProfileName="a b") == (
        400,
        "InvalidInput",
    )
    assert await fails(
        root, "AddRoleToInstanceProfile", InstanceProfileName="web", RoleName="r"
    ) == (409, "LimitExceeded")
    assert await fails(
        root, "AddRoleToInstanceProfile", InstanceProfileName="web", RoleName="none"
    ) == (404, "NoSuchEntity")
    assert await fails(root, "GetInstanceProfile", InstanceProfileName="none") == (
        404,
        "NoSuchEntity",
    )
    assert await fails(root, "DeleteInstanceProfile", InstanceProfileName="web") == (
        409,
        "DeleteConflict",
    )
    assert await fails(root, "DeleteRole", RoleName="r") == (409, "DeleteConflict")
    await root.call("iam", "RemoveRoleFromInstanceProfile", InstanceProfileName="web", RoleName="r")
    assert await fails(
        root, "RemoveRoleFromInstanceProfile", InstanceProfileName="web", RoleName="r"
    ) == (404, "NoSuchEntity")
    await root.call("iam", "DeleteInstanceProfile", InstanceProfileName="web")
    await root.call("iam", "DeleteRole", RoleName="r")


async def test_adding_a_role_needs_pass_role_on_it(root: Client, world: World) -> None:
    await root.call("iam", "CreateRole", RoleName="admin", AssumeRolePolicyDocument=EC2_TRUST)
    await root.call("iam", "CreateRole", RoleName="app", AssumeRolePolicyDocument=EC2_TRUST)
    await root.call("iam", "CreateInstanceProfile", InstanceProfileName="web")
    await root.call("iam", "CreateUser", UserName="dev")
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iam:AddRoleToInstanceProfile", "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": f"arn:aws:iam::{world.tenant_id}:role/app",
            },
        ],
    }
    await root.call(
        "iam", "PutUserPolicy", UserName="dev", PolicyName="p", PolicyDocument=json.dumps(document)
    )
    key = (await root.call("iam", "CreateAccessKey", UserName="dev"))["AccessKey"]
    dev = world.client(Credentials(key["AccessKeyId"], key["SecretAccessKey"]))
    assert await fails(
        dev, "AddRoleToInstanceProfile", InstanceProfileName="web", RoleName="admin"
    ) == (403, "AccessDenied")
    await dev.call("iam", "AddRoleToInstanceProfile", InstanceProfileName="web", RoleName="app")
