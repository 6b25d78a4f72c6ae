"""The tenant-isolation matrix for IAM and STS: every implemented action, attempted on a victim
tenant's users, groups, roles, policies, keys and devices by another tenant's root user and by
an IAM user of the victim's own account that has no policy.

Another tenant's root only ever acts on its own account: whatever it names, it gets an error or
its own account's data, never the victim's, and the victim's account is unchanged. The user
without policy gets AccessDenied on every action and changes nothing. The recipe table must
cover every action of both services (a test checks), so a new action cannot ship without its
isolation case.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from botocore.credentials import Credentials

from andromede.iamapi.iam import IAM
from andromede.iamapi.sts import STS
from support.queryapp import ApiError, Client, World

ALLOW_S3 = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
)
TRUST_SELF = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "ACCOUNT"}, "Action": "sts:AssumeRole"}
        ],
    }
)
ACCOUNT = "{account}"  # the victim's account id, filled in per test
POLICY_ARN = "arn:aws:iam::{account}:policy/victim-policy"
SERIAL = "arn:aws:iam::{account}:mfa/victim-mfa"
KEY = "{key}"  # the victim user's access key id

# action -> the parameters naming the victim's things
RECIPES: dict[str, dict[str, Any]] = {
    "CreateUser": {"UserName": "victim-user"},
    "GetUser": {"UserName": "victim-user"},
    "ListUsers": {},
    "UpdateUser": {"UserName": "victim-user", "NewUserName": "renamed"},
    "DeleteUser": {"UserName": "victim-user"},
    "CreateGroup": {"GroupName": "victim-group"},
    "GetGroup": {"GroupName": "victim-group"},
    "ListGroups": {},
    "DeleteGroup": {"GroupName": "victim-group"},
    "AddUserToGroup": {"GroupName": "victim-group", "UserName": "victim-user"},
    "RemoveUserFromGroup": {"GroupName": "victim-group", "UserName": "victim-user"},
    "ListGroupsForUser": {"UserName": "victim-user"},
    "CreateRole": {"RoleName": "victim-role", "AssumeRolePolicyDocument": TRUST_SELF},
    "GetRole": {"RoleName": "victim-role"},
    "ListRoles": {},
    "UpdateRole": {"RoleName": "victim-role", "Description": "pwned"},
    "UpdateAssumeRolePolicy": {"RoleName": "victim-role", "PolicyDocument": TRUST_SELF},
    "DeleteRole": {"RoleName": "victim-role"},
    "PutRolePolicy": {"RoleName": "victim-role", "PolicyName": "x", "PolicyDocument": ALLOW_S3},
    "GetRolePolicy": {"RoleName": "victim-role", "PolicyName": "inline"},
    "ListRolePolicies": {"RoleName": "victim-role"},
    "DeleteRolePolicy": {"RoleName": "victim-role", "PolicyName": "inline"},
    "AttachRolePolicy": {"RoleName": "victim-role", "PolicyArn": POLICY_ARN},
    "DetachRolePolicy": {"RoleName": "victim-role", "PolicyArn": POLICY_ARN},
    "ListAttachedRolePolicies": {"RoleName": "victim-role"},
    "PutUserPolicy": {"UserName": "victim-user", "PolicyName": "x", "PolicyDocument": ALLOW_S3},
    "GetUserPolicy": {"UserName": "victim-user", "PolicyName": "inline"},
    "ListUserPolicies": {"UserName": "victim-user"},
    "DeleteUserPolicy": {"UserName": "victim-user", "PolicyName": "inline"},
    "AttachUserPolicy": {"UserName": "victim-user", "PolicyArn": POLICY_ARN},
    "DetachUserPolicy": {"UserName": "victim-user", "PolicyArn": POLICY_ARN},
    "ListAttachedUserPolicies": {"UserName": "victim-user"},
    "PutGroupPolicy": {"GroupName": "victim-group", "PolicyName": "x", "PolicyDocument": ALLOW_S3},
    "GetGroupPolicy": {"GroupName": "victim-group", "PolicyName": "inline"},
    "ListGroupPolicies": {"GroupName": "victim-group"},
    "DeleteGroupPolicy": {"GroupName": "victim-group", "PolicyName": "inline"},
    "AttachGroupPolicy": {"GroupName": "victim-group", "PolicyArn": POLICY_ARN},
    "DetachGroupPolicy": {"GroupName": "victim-group", "PolicyArn": POLICY_ARN},
    "ListAttachedGroupPolicies": {"GroupName": "victim-group"},
    "CreateAccessKey": {"UserName": "victim-user"},
    "ListAccessKeys": {"UserName": "victim-user"},
    "UpdateAccessKey": {"UserName": "victim-user", "AccessKeyId": KEY, "Status": "Inactive"},
    "DeleteAccessKey": {"UserName": "victim-user", "AccessKeyId": KEY},
    "GetAccessKeyLastUsed": {"AccessKeyId": KEY},
    "CreateLoginProfile": {"UserName": "victim-user", "Password": "Another-Password-99"},
    "GetLoginProfile": {"UserName": "victim-user"},
    "UpdateLoginProfile": {"UserName": "victim-user", "Password": "Another-Password-99"},
    "DeleteLoginProfile": {"UserName": "victim-user"},
    "CreateVirtualMFADevice": {"VirtualMFADeviceName": "victim-mfa"},
    "EnableMFADevice": {
        "UserName": "victim-user",
        "SerialNumber": SERIAL,
        "AuthenticationCode1": "123456",
        "AuthenticationCode2": "234567",
    },
    "ListMFADevices": {"UserName": "victim-user"},
    "ListVirtualMFADevices": {},
    "DeactivateMFADevice": {"UserName": "victim-user", "SerialNumber": SERIAL},
    "DeleteVirtualMFADevice": {"SerialNumber": SERIAL},
    "GetAccountSummary": {},
    "CreatePolicy": {"PolicyName": "victim-policy", "PolicyDocument": ALLOW_S3},
    "GetPolicy": {"PolicyArn": POLICY_ARN},
    "ListPolicies": {},
    "DeletePolicy": {"PolicyArn": POLICY_ARN},
    "CreatePolicyVersion": {"PolicyArn": POLICY_ARN, "PolicyDocument": ALLOW_S3},
    "GetPolicyVersion": {"PolicyArn": POLICY_ARN, "VersionId": "v1"},
    "ListPolicyVersions": {"PolicyArn": POLICY_ARN},
    "DeletePolicyVersion": {"PolicyArn": POLICY_ARN, "VersionId": "v1"},
    "SetDefaultPolicyVersion": {"PolicyArn": POLICY_ARN, "VersionId": "v1"},
    "ListEntitiesForPolicy": {"PolicyArn": POLICY_ARN},
}
STS_RECIPES: dict[str, dict[str, Any]] = {
    "AssumeRole": {
        "RoleArn": "arn:aws:iam::{account}:role/victim-role",
        "RoleSessionName": "intruder",
    },
    "GetSessionToken": {},
    "GetCallerIdentity": {},
}
# STS actions any authenticated caller may make about itself (AWS: no permission needed).
SELF_SERVICE = {"GetSessionToken", "GetCallerIdentity"}


def test_every_action_has_an_isolation_case() -> None:
    assert set(RECIPES) == set(IAM.actions)
    assert set(STS_RECIPES) == set(STS.actions)


def fill(params: dict[str, Any], account: str, key: str) -> dict[str, Any]:
    return {
        name: value.replace("{account}", account)
        .replace("{key}", key)
        .replace('"ACCOUNT"', f'"{account}"')
        if isinstance(value, str)
        else value
        for name, value in params.items()
    }


async def victim_world(world: World, root: Client) -> dict[str, str]:
    """The victim's account with one of everything; returns the ids an intruder must not see."""
    account = world.tenant_id
    user = (await root.call("iam", "CreateUser", UserName="victim-user"))["User"]
    key = (await root.call("iam", "CreateAccessKey", UserName="victim-user"))["AccessKey"]
    group = (await root.call("iam", "CreateGroup", GroupName="victim-group"))["Group"]
    await root.call("iam", "AddUserToGroup", GroupName="victim-group", UserName="victim-user")
    role = (
        await root.call(
            "iam",
            "CreateRole",
            RoleName="victim-role",
            AssumeRolePolicyDocument=TRUST_SELF.replace("ACCOUNT", account),
        )
    )["Role"]
    policy = (
        await root.call("iam", "CreatePolicy", PolicyName="victim-policy", PolicyDocument=ALLOW_S3)
    )["Policy"]
    await root.call("iam", "AttachUserPolicy", UserName="victim-user", PolicyArn=policy["Arn"])
    for kind, name in (("User", "victim-user"), ("Group", "victim-group"), ("Role", "victim-role")):
        await root.call(
            "iam",
            f"Put{kind}Policy",
            **{f"{kind}Name": name},
            PolicyName="inline",
            PolicyDocument=ALLOW_S3,
        )
    await root.call("iam", "CreateVirtualMFADevice", VirtualMFADeviceName="victim-mfa")
    await root.call(
        "iam", "CreateLoginProfile", UserName="victim-user", Password="Victim-Password-42"
    )
    return {
        "account": account,
        "key": key["AccessKeyId"],
        "user_id": user["UserId"],
        "group_id": group["GroupId"],
        "role_id": role["RoleId"],
        "policy_id": policy["PolicyId"],
    }


async def snapshot(root: Client, account: str) -> list[Any]:
    """Everything an intruder could change in the victim's account, read by its root."""
    arn = f"arn:aws:iam::{account}:policy/victim-policy"
    reads: list[tuple[str, dict[str, Any]]] = [
        ("ListUsers", {}),
        ("GetUser", {"UserName": "victim-user"}),
        ("ListAccessKeys", {"UserName": "victim-user"}),
        ("ListGroups", {}),
        ("GetGroup", {"GroupName": "victim-group"}),
        ("ListRoles", {}),
        ("ListPolicies", {}),
        ("ListPolicyVersions", {"PolicyArn": arn}),
        ("ListEntitiesForPolicy", {"PolicyArn": arn}),
        ("ListUserPolicies", {"UserName": "victim-user"}),
        ("ListGroupPolicies", {"GroupName": "victim-group"}),
        ("ListRolePolicies", {"RoleName": "victim-role"}),
        ("GetUserPolicy", {"UserName": "victim-user", "PolicyName": "inline"}),
        ("ListVirtualMFADevices", {}),
        ("GetLoginProfile", {"UserName": "victim-user"}),
        ("GetAccountSummary", {}),
    ]
    state = []
    for action, params in reads:
        answer = await root.call("iam", action, **params)
        answer.pop("ResponseMetadata", None)
        state.append(answer)
    return state


@pytest.fixture
async def intruder(world: World) -> Client:
    _, credentials = await world.new_tenant("intruder")
    return world.client(credentials)


@pytest.fixture
async def powerless(world: World, root: Client) -> Client:
    """An IAM user of the victim's account with an access key and no policy at all."""
    await root.call("iam", "CreateUser", UserName="powerless")
    key = (await root.call("iam", "CreateAccessKey", UserName="powerless"))["AccessKey"]
    return world.client(Credentials(key["AccessKeyId"], key["SecretAccessKey"]))


@pytest.mark.parametrize("action", sorted(RECIPES))
async def test_another_tenants_root_only_reaches_its_own_account(
    world: World, root: Client, intruder: Client, action: str
) -> None:
    ids = await victim_world(world, root)
    before = await snapshot(root, ids["account"])
    params = fill(RECIPES[action], ids["account"], ids["key"])
    try:
        await intruder.call("iam", action, **params)
    except ApiError as error:
        assert 400 <= error.status < 500, error
    body = intruder.last_body.decode()
    for value in params.values():  # what the intruder sent may come back (an ARN, a document)
        body = body.replace(str(value), "").replace(quote(str(value), safe=""), "")
    for secret in ids.values():
        assert secret not in body, (action, body)
    assert await snapshot(root, ids["account"]) == before


@pytest.mark.parametrize("action", sorted(RECIPES))
async def test_a_user_without_policy_is_denied_every_iam_action(
    world: World, root: Client, powerless: Client, action: str
) -> None:
    ids = await victim_world(world, root)
    before = await snapshot(root, ids["account"])
    with pytest.raises(ApiError) as caught:
        await powerless.call("iam", action, **fill(RECIPES[action], ids["account"], ids["key"]))
    assert (caught.value.status, caught.value.code) == (403, "AccessDenied")
    assert await snapshot(root, ids["account"]) == before


@pytest.mark.parametrize("caller", ["intruder", "powerless"])
async def test_assume_role_of_the_victim_is_denied(
    world: World, root: Client, intruder: Client, powerless: Client, caller: str
) -> None:
    ids = await victim_world(world, root)
    client = intruder if caller == "intruder" else powerless
    params = fill(STS_RECIPES["AssumeRole"], ids["account"], ids["key"])
    with pytest.raises(ApiError) as caught:
        await client.call("sts", "AssumeRole", **params)
    assert caught.value.code == "AccessDenied"


@pytest.mark.parametrize("action", sorted(SELF_SERVICE))
async def test_self_service_sts_actions_answer_for_the_caller_only(
    world: World, root: Client, intruder: Client, action: str
) -> None:
    ids = await victim_world(world, root)
    await intruder.call("sts", action)
    assert ids["account"] not in intruder.last_body.decode()
