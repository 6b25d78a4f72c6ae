"""The IAM actions through botocore's serializer and parser, in process: each answer parses into
the shape boto3 users get, and the domain's errors come out with AWS's codes and statuses."""

from __future__ import annotations

import base64
import io
import json

import pytest
import qrcode
from qrcode.image.pure import PyPNGImage

from andromede.iam import totp
from support.clock import Clock
from support.queryapp import ApiError, Client, World

ALLOW_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
TRUST_ACCOUNT = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
}


async def test_user_lifecycle(root: Client, world: World) -> None:
    created = (await root.call("iam", "CreateUser", UserName="alice", Path="/ops/"))["User"]
    assert created["UserName"] == "alice" and created["Path"] == "/ops/"
    assert created["Arn"] == f"arn:aws:iam::{world.tenant_id}:user/ops/alice"
    assert created["UserId"].startswith("AIDA")
    assert created["CreateDate"].year >= 2026
    got = (await root.call("iam", "GetUser", UserName="alice"))["User"]
    assert got == created
    await root.call("iam", "UpdateUser", UserName="alice", NewUserName="alicia")
    listed = await root.call("iam", "ListUsers")
    assert [u["UserName"] for u in listed["Users"]] == ["alicia"]
    assert listed["IsTruncated"] is False
    await root.call("iam", "DeleteUser", UserName="alicia")
    with pytest.raises(ApiError) as caught:
        await root.call("iam", "GetUser", UserName="alicia")
    assert (caught.value.status, caught.value.code) == (404, "NoSuchEntity")


async def test_get_user_without_a_name_is_the_caller(root: Client, world: World) -> None:
    me = (await root.call("iam", "GetUser"))["User"]
    assert me["Arn"] == f"arn:aws:iam::{world.tenant_id}:root"
    assert me["UserId"] == world.tenant_id


async def test_the_root_user_is_not_reachable_by_name(root: Client) -> None:
    with pytest.raises(ApiError) as caught:
        await root.call("iam", "CreateAccessKey", UserName="root")
    assert caught.value.code == "NoSuchEntity"


async def test_list_users_pages_with_marker(root: Client) -> None:
    for index in range(5):
        await root.call("iam", "CreateUser", UserName=f"user{index}")
    first = await root.call("iam", "ListUsers", MaxItems=2)
    assert [u["UserName"] for u in first["Users"]] == ["user0", "user1"]
    assert first["IsTruncated"] is True
    second = await root.call("iam", "ListUsers", MaxItems=2, Marker=first["Marker"])
    assert [u["UserName"] for u in second["Users"]] == ["user2", "user3"]
    last = await root.call("iam", "ListUsers", MaxItems=2, Marker=second["Marker"])
    assert [u["UserName"] for u in last["Users"]] == ["user4"]
    assert last["IsTruncated"] is False and "Marker" not in last


async def test_errors_have_aws_codes(root: Client) -> None:
    await root.call("iam", "CreateUser", UserName="bob")
    with pytest.raises(ApiError) as caught:
        await root.call("iam", "CreateUser", UserName="BOB")
    assert (caught.value.status, caught.value.code) == (409, "EntityAlreadyExists")
    assert caught.value.message == "User with name BOB already exists."
    await root.call("iam", "CreateAccessKey", UserName="bob")
    with pytest.raises(ApiError) as caught:
        await root.call("iam", "DeleteUser", UserName="bob")
    assert (caught.value.status, caught.value.code) == (409, "DeleteConflict")
    await root.call("iam", "CreateAccessKey", UserName="bob")
    with pytest.raises(ApiError) as caught:
        await root.call("iam", "CreateAccessKey", UserName="bob")
    assert (caught.value.status, caught.value.code) == (409, "LimitExceeded")
    with pytest.raises(ApiError) as caught:
        await root.call("iam", "CreateUser", UserName="bad name")
    assert (caught.value.status, caught.value.code) == (400, "InvalidInput")


@pytest.mark.parametrize(
    "document",
    [
        "{not json",
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:Fly", "Resource": "*"}],
            }
        ),
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "s3:GetObject",
                        "Resource": "*",
                        "Condition": {"StringLooksLike": {"aws:username": "x"}},
                    }
                ],
            }
        ),
    ],
)
async def test_malformed_policies_are_refused(root: Client, document: str) -> None:
    with pytest.raises(ApiError) as caught:
        await root.call("iam", "CreatePolicy", PolicyName="p", PolicyDocument=document)
    assert (caught.value.status, caught.value.code) == (400, "MalformedPolicyDocument")


async def test_an_oversize_policy_is_limit_exceeded(root: Client) -> None:
    statements = [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::bucket-{i:05d}/*"}
        for i in range(200)
    ]
    document = json.dumps({"Version": "2012-10-17", "Statement": statements})
    with pytest.raises(ApiError) as caught:
        await root.call("iam", "CreatePolicy", PolicyName="big", PolicyDocument=document)
    assert caught.value.code == "LimitExceeded"


async def test_groups_and_membership(root: Client) -> None:
    await root.call("iam", "CreateUser", UserName="carol")
    group = (await root.call("iam", "CreateGroup", GroupName="devs"))["Group"]
    assert group["GroupName"] == "devs" and group["GroupId"].startswith("AGPA")
    await root.call("iam", "AddUserToGroup", GroupName="devs", UserName="carol")
    got = await root.call("iam", "GetGroup", GroupName="devs")
    assert [u["UserName"] for u in got["Users"]] == ["carol"]
    assert [g["GroupName"] for g in (await root.call("iam", "ListGroups"))["Groups"]] == ["devs"]
    for_user = await root.call("iam", "ListGroupsForUser", UserName="carol")
    assert [g["GroupName"] for g in for_user["Groups"]] == ["devs"]
    with pytest.raises(ApiError) as caught:
        await root.call("iam", "DeleteGroup", GroupName="devs")
    assert caught.value.code == "DeleteConflict"
    await root.call("iam", "RemoveUserFromGroup", GroupName="devs", UserName="carol")
    await root.call("iam", "DeleteGroup", GroupName="devs")


async def test_roles_and_their_policies(root: Client, world: World) -> None:
    role = (
        await root.call(
            "iam",
            "CreateRole",
            RoleName="reader",
            AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT),
            Description="reads",
        )
    )["Role"]
    assert role["AssumeRolePolicyDocument"] == TRUST_ACCOUNT  # URL-encoded, decoded by botocore
    assert role["MaxSessionDuration"] == 3600
    await root.call("iam", "UpdateRole", RoleName="reader", MaxSessionDuration=7200)
    assert (await root.call("iam", "GetRole", RoleName="reader"))["Role"][
        "MaxSessionDuration"
    ] == 7200
    await root.call(
        "iam",
        "PutRolePolicy",
        RoleName="reader",
        PolicyName="all",
        PolicyDocument=json.dumps(ALLOW_ALL),
    )
    inline = await root.call("iam", "GetRolePolicy", RoleName="reader", PolicyName="all")
    assert inline["PolicyDocument"] == ALLOW_ALL and inline["RoleName"] == "reader"
    assert (await root.call("iam", "ListRolePolicies", RoleName="reader"))["PolicyNames"] == ["all"]
    policy = (
        await root.call(
            "iam", "CreatePolicy", PolicyName="managed", PolicyDocument=json.dumps(ALLOW_ALL)
        )
    )["Policy"]
    await root.call("iam", "AttachRolePolicy", RoleName="reader", PolicyArn=policy["Arn"])
    attached = await root.call("iam", "ListAttachedRolePolicies", RoleName="reader")
    assert attached["AttachedPolicies"] == [{"PolicyName": "managed", "PolicyArn": policy["Arn"]}]
    entities = await root.call("iam", "ListEntitiesForPolicy", PolicyArn=policy["Arn"])
    assert [r["RoleName"] for r in entities["PolicyRoles"]] == ["reader"]
    assert entities["PolicyUsers"] == [] and entities["PolicyGroups"] == []
    with pytest.raises(ApiError) as caught:
        await root.call("iam", "DeleteRole", RoleName="reader")
    assert caught.value.code == "DeleteConflict"
    new_trust = {
        **TRUST_ACCOUNT,
        "Statement": [{**TRUST_ACCOUNT["Statement"][0], "Principal": {"AWS": world.tenant_id}}],
    }
    await root.call(
        "iam", "UpdateAssumeRolePolicy", RoleName="reader", PolicyDocument=json.dumps(new_trust)
    )
    trust = (await root.call("iam", "ListRoles"))["Roles"][0]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"AWS": world.tenant_id}
    await root.call("iam", "DetachRolePolicy", RoleName="reader", PolicyArn=policy["Arn"])
    await root.call("iam", "DeleteRolePolicy", RoleName="reader", PolicyName="all")
    await root.call("iam", "DeleteRole", RoleName="reader")


async def test_managed_policy_versions(root: Client) -> None:
    v1 = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }
    v2 = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}],
    }
    policy = (
        await root.call(
            "iam",
            "CreatePolicy",
            PolicyName="p",
            Path="/team/",
            Description="d",
            PolicyDocument=json.dumps(v1),
        )
    )["Policy"]
    assert policy["DefaultVersionId"] == "v1" and policy["IsAttachable"] is True
    arn = policy["Arn"]
    assert arn.endswith(":policy/team/p")
    version = (
        await root.call(
            "iam",
            "CreatePolicyVersion",
            PolicyArn=arn,
            PolicyDocument=json.dumps(v2),
            SetAsDefault=True,
        )
    )["PolicyVersion"]
    assert version["VersionId"] == "v2" and version["IsDefaultVersion"] is True
    got = (await root.call("iam", "GetPolicyVersion", PolicyArn=arn, VersionId="v1"))[
        "PolicyVersion"
    ]
    assert got["Document"] == v1 and got["IsDefaultVersion"] is False
    versions = (await root.call("iam", "ListPolicyVersions", PolicyArn=arn))["Versions"]
    assert [v["VersionId"] for v in versions] == ["v2", "v1"]
    await root.call("iam", "SetDefaultPolicyVersion", PolicyArn=arn, VersionId="v1")
    assert (await root.call("iam", "GetPolicy", PolicyArn=arn))["Policy"][
        "DefaultVersionId"
    ] == "v1"
    with pytest.raises(ApiError) as caught:
        await root.call("iam", "DeletePolicyVersion", PolicyArn=arn, VersionId="v1")
    assert caught.value.code == "DeleteConflict"
    await root.call("iam", "DeletePolicyVersion", PolicyArn=arn, VersionId="v2")
    assert [
        p["PolicyName"] for p in (await root.call("iam", "ListPolicies", Scope="Local"))["Policies"]
    ] == ["p"]
    # AWS's are the service-linked roles' (decision 0208), none attached in this account.
    aws = (await root.call("iam", "ListPolicies", Scope="AWS", OnlyAttached=True))["Policies"]
    assert aws == []
    assert (await root.call("iam", "ListPolicies", OnlyAttached=True))["Policies"] == []
    await root.call("iam", "DeletePolicy", PolicyArn=arn)


async def test_user_and_group_policies(root: Client) -> None:
    await root.call("iam", "CreateUser", UserName="dave")
    await root.call("iam", "CreateGroup", GroupName="g")
    doc = json.dumps(ALLOW_ALL)
    await root.call("iam", "PutUserPolicy", UserName="dave", PolicyName="u", PolicyDocument=doc)
    await root.call("iam", "PutGroupPolicy", GroupName="g", PolicyName="g1", PolicyDocument=doc)
    assert (await root.call("iam", "GetUserPolicy", UserName="dave", PolicyName="u"))[
        "PolicyDocument"
    ] == ALLOW_ALL
    assert (await root.call("iam", "GetGroupPolicy", GroupName="g", PolicyName="g1"))[
        "GroupName"
    ] == "g"
    assert (await root.call("iam", "ListUserPolicies", UserName="dave"))["PolicyNames"] == ["u"]
    assert (await root.call("iam", "ListGroupPolicies", GroupName="g"))["PolicyNames"] == ["g1"]
    arn = (await root.call("iam", "CreatePolicy", PolicyName="m", PolicyDocument=doc))["Policy"][
        "Arn"
    ]
    await root.call("iam", "AttachUserPolicy", UserName="dave", PolicyArn=arn)
    await root.call("iam", "AttachGroupPolicy", GroupName="g", PolicyArn=arn)
    assert (
        len(
            (await root.call("iam", "ListAttachedUserPolicies", UserName="dave"))[
                "AttachedPolicies"
            ]
        )
        == 1
    )
    assert (
        len(
            (await root.call("iam", "ListAttachedGroupPolicies", GroupName="g"))["AttachedPolicies"]
        )
        == 1
    )
    assert (await root.call("iam", "ListPolicies", OnlyAttached=True))["Policies"][0][
        "AttachmentCount"
    ] == 2
    await root.call("iam", "DetachUserPolicy", UserName="dave", PolicyArn=arn)
    await root.call("iam", "DetachGroupPolicy", GroupName="g", PolicyArn=arn)
    await root.call("iam", "DeleteUserPolicy", UserName="dave", PolicyName="u")
    await root.call("iam", "DeleteGroupPolicy", GroupName="g", PolicyName="g1")
    with pytest.raises(ApiError) as caught:
        await root.call("iam", "GetUserPolicy", UserName="dave", PolicyName="u")
    assert caught.value.code == "NoSuchEntity"


async def test_access_keys(root: Client, world: World) -> None:
    await root.call("iam", "CreateUser", UserName="erin")
    key = (await root.call("iam", "CreateAccessKey", UserName="erin"))["AccessKey"]
    assert key["AccessKeyId"].startswith("AKIA") and len(key["SecretAccessKey"]) == 40
    assert key["Status"] == "Active" and key["UserName"] == "erin"
    listed = (await root.call("iam", "ListAccessKeys", UserName="erin"))["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [key["AccessKeyId"]]
    assert "SecretAccessKey" not in listed[0]
    await root.call(
        "iam", "UpdateAccessKey", UserName="erin", AccessKeyId=key["AccessKeyId"], Status="Inactive"
    )
    assert (await root.call("iam", "ListAccessKeys", UserName="erin"))["AccessKeyMetadata"][0][
        "Status"
    ] == "Inactive"
    used = await root.call("iam", "GetAccessKeyLastUsed", AccessKeyId=key["AccessKeyId"])
    assert used["UserName"] == "erin" and used["AccessKeyLastUsed"]["ServiceName"] == "N/A"
    await root.call("iam", "DeleteAccessKey", UserName="erin", AccessKeyId=key["AccessKeyId"])
    # The root's own keys, without UserName.
    own = (await root.call("iam", "ListAccessKeys"))["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in own] == [world.root.access_key if world.root else ""]
    used = await root.call("iam", "GetAccessKeyLastUsed", AccessKeyId=own[0]["AccessKeyId"])
    assert used["AccessKeyLastUsed"]["ServiceName"] == "iam"


async def test_login_profiles(root: Client) -> None:
    await root.call("iam", "CreateUser", UserName="fay")
    profile = (
        await root.call("iam", "CreateLoginProfile", UserName="fay", Password="Correct-Horse-42")
    )["LoginProfile"]
    assert profile["UserName"] == "fay" and profile["PasswordResetRequired"] is False
    assert (await root.call("iam", "GetLoginProfile", UserName="fay"))["LoginProfile"][
        "UserName"
    ] == "fay"
    with pytest.raises(ApiError) as caught:
        await root.call("iam", "UpdateLoginProfile", UserName="fay", Password="short")
    assert caught.value.code == "PasswordPolicyViolation"
    await root.call("iam", "UpdateLoginProfile", UserName="fay", Password="Battery-Staple-43")
    await root.call("iam", "DeleteLoginProfile", UserName="fay")
    with pytest.raises(ApiError) as caught:
        await root.call("iam", "GetLoginProfile", UserName="fay")
    assert caught.value.code == "NoSuchEntity"


async def test_virtual_mfa_lifecycle(root: Client, clock: Clock) -> None:
    await root.call("iam", "CreateUser", UserName="gil")
    device = (await root.call("iam", "CreateVirtualMFADevice", VirtualMFADeviceName="gil-phone"))[
        "VirtualMFADevice"
    ]
    seed = totp.seed_from_base32(device["Base32StringSeed"].decode())  # base64 on the wire
    # The PNG a QR code reader takes: the authenticator URI of this very seed, drawn.
    account = (await root.call("sts", "GetCallerIdentity"))["Account"]
    uri = totp.otpauth_uri(seed, f"gil-phone@{account}", "Andromede")
    drawn = io.BytesIO()
    qrcode.make(uri, image_factory=PyPNGImage).save(drawn)
    assert device["QRCodePNG"] == drawn.getvalue()
    assert device["QRCodePNG"].startswith(b"\x89PNG\r\n\x1a\n")
    serial = device["SerialNumber"]
    step = totp.time_step(clock.now)
    with pytest.raises(ApiError) as caught:
        await root.call(
            "iam",
            "EnableMFADevice",
            UserName="gil",
            SerialNumber=serial,
            AuthenticationCode1="000000",
            AuthenticationCode2="111111",
        )
    assert (caught.value.status, caught.value.code) == (403, "InvalidAuthenticationCode")
    await root.call(
        "iam",
        "EnableMFADevice",
        UserName="gil",
        SerialNumber=serial,
        AuthenticationCode1=totp.totp(seed, step - 1),
        AuthenticationCode2=totp.totp(seed, step),
    )
    devices = (await root.call("iam", "ListMFADevices", UserName="gil"))["MFADevices"]
    assert [(d["UserName"], d["SerialNumber"]) for d in devices] == [("gil", serial)]
    virtual = (await root.call("iam", "ListVirtualMFADevices", AssignmentStatus="Assigned"))[
        "VirtualMFADevices"
    ]
    assert virtual[0]["User"]["UserName"] == "gil" and "EnableDate" in virtual[0]
    assert (await root.call("iam", "ListVirtualMFADevices", AssignmentStatus="Unassigned"))[
        "VirtualMFADevices"
    ] == []
    with pytest.raises(ApiError) as caught:
        await root.call("iam", "DeleteVirtualMFADevice", SerialNumber=serial)
    assert caught.value.code == "DeleteConflict"
    summary = (await root.call("iam", "GetAccountSummary"))["SummaryMap"]
    assert summary["Users"] == 1 and summary["MFADevicesInUse"] == 1
    assert summary["AccessKeysPerUserQuota"] == 2
    await root.call("iam", "DeactivateMFADevice", UserName="gil", SerialNumber=serial)
    await root.call("iam", "DeleteVirtualMFADevice", SerialNumber=serial)
    assert base64  # the seed arrives base64-encoded; botocore decoded it above


async def test_unknown_version_and_missing_parameter(root: Client) -> None:
    with pytest.raises(ApiError) as caught:
        await root.call("iam", "GetRole")
    assert caught.value.code == "ValidationError"


async def test_lists_answered_whole_by_the_service_are_paged_too(root: Client) -> None:
    document = json.dumps(ALLOW_ALL)
    arn = (await root.call("iam", "CreatePolicy", PolicyName="p", PolicyDocument=document))[
        "Policy"
    ]["Arn"]
    for _ in range(3):
        await root.call("iam", "CreatePolicyVersion", PolicyArn=arn, PolicyDocument=document)
    seen: list[str] = []
    marker = None
    while True:
        params: dict[str, object] = {"PolicyArn": arn, "MaxItems": 3}
        if marker is not None:
            params["Marker"] = marker
        page = await root.call("iam", "ListPolicyVersions", **params)
        seen += [v["VersionId"] for v in page["Versions"]]
        if not page["IsTruncated"]:
            break
        marker = page["Marker"]
    assert seen == ["v4", "v3", "v2", "v1"]
    await root.call("iam", "CreateUser", UserName="u")
    for name in ("b", "a", "c"):
        await root.call(
            "iam", "PutUserPolicy", UserName="u", PolicyName=name, PolicyDocument=document
        )
    first = await root.call("iam", "ListUserPolicies", UserName="u", MaxItems=2)
    assert (first["PolicyNames"], first["IsTruncated"]) == (["a", "b"], True)
    rest = await root.call("iam", "ListUserPolicies", UserName="u", Marker=first["Marker"])
    assert (rest["PolicyNames"], rest["IsTruncated"]) == (["c"], False)
    with pytest.raises(ApiError) as caught:
        await root.call("iam", "ListUserPolicies", UserName="u", MaxItems=0)
    assert caught.value.code == "ValidationError"
