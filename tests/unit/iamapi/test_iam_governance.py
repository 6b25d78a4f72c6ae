"""The account-wide IAM calls auditors use (decision 0193), in process through botocore's
serializer and parser: the credential report (AWS's CSV, its states, its expiry) and
GetAccountAuthorizationDetails."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import Credentials

from andromede.iam import totp
from andromede.iam.credential_report import COLUMNS
from andromede.iam.service import IdentityLimits
from support.clock import Clock
from support.queryapp import ApiError, Client, World, query_world

ALLOW_ALL = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)


def rows(report: dict[str, Any]) -> list[dict[str, str]]:
    assert report["ReportFormat"] == "text/csv"
    text = report["Content"].decode("utf-8")  # botocore decoded the base64
    reader = csv.DictReader(io.StringIO(text))
    assert tuple(reader.fieldnames or ()) == COLUMNS
    return list(reader)


async def enable_mfa(root: Client, clock: Clock, user: str) -> None:
    device = (await root.call("iam", "CreateVirtualMFADevice", VirtualMFADeviceName=user))[
        "VirtualMFADevice"
    ]
    seed = totp.seed_from_base32(device["Base32StringSeed"].decode())
    step = totp.time_step(clock.now)
    await root.call(
        "iam",
        "EnableMFADevice",
        UserName=user,
        SerialNumber=device["SerialNumber"],
        AuthenticationCode1=totp.totp(seed, step - 1),
        AuthenticationCode2=totp.totp(seed, step),
    )


async def test_credential_report_states_and_expiry(root: Client, clock: Clock) -> None:
    with pytest.raises(ApiError) as caught:
        await root.call("iam", "GetCredentialReport")
    assert (caught.value.status, caught.value.code) == (410, "ReportNotPresent")
    assert (await root.call("iam", "GenerateCredentialReport"))["State"] == "STARTED"
    # Fresh: no new report, the one there is complete.
    assert (await root.call("iam", "GenerateCredentialReport"))["State"] == "COMPLETE"
    first = await root.call("iam", "GetCredentialReport")
    assert first["GeneratedTime"].timestamp() == clock.now
    await root.call("iam", "CreateUser", UserName="late")
    clock.now += 3600
    assert [r["user"] for r in rows(await root.call("iam", "GetCredentialReport"))] == [
        "<root_account>"
    ]  # the report is as it was when generated
    clock.now += 3 * 3600  # four hours: AWS's lifetime, the default
    with pytest.raises(ApiError) as caught:
        await root.call("iam", "GetCredentialReport")
    assert (caught.value.status, caught.value.code) == (410, "ReportExpired")
    assert (await root.call("iam", "GenerateCredentialReport"))["State"] == "STARTED"
    again = rows(await root.call("iam", "GetCredentialReport"))
    assert [r["user"] for r in again] == ["<root_account>", "late"]


async def test_credential_report_rows_are_aws_columns(
    root: Client, world: World, clock: Clock
) -> None:
    account = world.tenant_id
    await root.call("iam", "CreateUser", UserName="bare")
    await root.call("iam", "CreateUser", UserName="full", Path="/ops/")
    await root.call(
        "iam", "PutUserPolicy", UserName="full", PolicyName="p", PolicyDocument=ALLOW_ALL
    )
    await root.call("iam", "CreateLoginProfile", UserName="full", Password="Correct-Horse-42")
    await enable_mfa(root, clock, "full")
    first = (await root.call("iam", "CreateAccessKey", UserName="full"))["AccessKey"]
    clock.now += 60
    second = (await root.call("iam", "CreateAccessKey", UserName="full"))["AccessKey"]
    await root.call(
        "iam", "UpdateAccessKey", UserName="full", AccessKeyId=second["AccessKeyId"],
        Status="Inactive",
    )  # fmt: skip
    used = world.client(Credentials(first["AccessKeyId"], first["SecretAccessKey"]))
    clock.now += 60
    await used.call("iam", "GetUser")
    await root.call("iam", "GenerateCredentialReport")
    report = {r["user"]: r for r in rows(await root.call("iam", "GetCredentialReport"))}
    assert list(report) == ["<root_account>", "bare", "full"]

    root_row = report["<root_account>"]
    assert root_row["arn"] == f"arn:aws:iam::{account}:root"
    assert root_row["password_enabled"] == "not_supported"
    assert root_row["password_last_changed"] == "not_supported"
    assert root_row["password_next_rotation"] == "not_supported"
    assert root_row["mfa_active"] == "false"
    assert root_row["access_key_1_active"] == "true"  # the root's key signs these very calls
    assert root_row["access_key_1_last_used_service"] == "iam"
    assert root_row["access_key_2_active"] == "false"
    assert root_row["access_key_2_last_rotated"] == "N/A"

    bare = report["bare"]
    assert bare["arn"] == f"arn:aws:iam::{account}:user/bare"
    assert bare["user_creation_time"].endswith("+00:00")
    assert [bare[c] for c in COLUMNS[3:]] == [
        "false", "N/A", "N/A", "N/A", "false",
        "false", "N/A", "N/A", "N/A", "N/A",
        "false", "N/A", "N/A", "N/A", "N/A",
        "false", "N/A", "false", "N/A",
    ]  # fmt: skip

    full = report["full"]
    assert full["arn"] == f"arn:aws:iam::{account}:user/ops/full"
    assert full["password_enabled"] == "true"
    assert full["password_last_used"] == "no_information"
    assert full["password_last_changed"].endswith("+00:00")
    assert full["password_next_rotation"] == "N/A"
    assert full["mfa_active"] == "true"
    assert full["access_key_1_active"] == "true"
    assert full["access_key_1_last_used_service"] == "iam"
    assert full["access_key_1_last_used_region"] == "eu-fr-1"
    assert full["access_key_1_last_used_date"].endswith("+00:00")
    assert full["access_key_2_active"] == "false"
    assert full["access_key_2_last_rotated"] != "N/A"
    assert full["access_key_2_last_used_date"] == "N/A"
    assert full["cert_1_active"] == "false" and full["cert_2_last_rotated"] == "N/A"


async def test_credential_report_needs_its_permission(root: Client, world: World) -> None:
    await root.call("iam", "CreateUser", UserName="nosy")
    key = (await root.call("iam", "CreateAccessKey", UserName="nosy"))["AccessKey"]
    nosy = world.client(Credentials(key["AccessKeyId"], key["SecretAccessKey"]))
    with pytest.raises(ApiError) as caught:
        await nosy.call("iam", "GenerateCredentialReport")
    assert (caught.value.status, caught.value.code) == (403, "AccessDenied")
    with pytest.raises(ApiError) as caught:
        await nosy.call("iam", "GetCredentialReport")
    assert caught.value.code == "AccessDenied"


async def test_credential_report_lifetime_is_a_setting(clock: Clock, tmp_path: Path) -> None:
    limits = IdentityLimits(credential_report_lifetime=60.0)
    async with query_world(clock, tmp_path / "d", limits=limits) as world:
        root = world.client(world.root)
        await root.call("iam", "GenerateCredentialReport")
        clock.now += 61
        with pytest.raises(ApiError) as caught:
            await root.call("iam", "GetCredentialReport")
        assert caught.value.code == "ReportExpired"


TRUST_EC2 = json.dumps(
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
READ_ONLY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }
)


async def an_account(root: Client) -> str:
    """Users, a group, a role in an instance profile, a managed policy of two versions."""
    await root.call("iam", "CreateUser", UserName="alice", Path="/ops/")
    await root.call("iam", "CreateUser", UserName="bob")
    await root.call("iam", "CreateGroup", GroupName="admins")
    await root.call("iam", "AddUserToGroup", GroupName="admins", UserName="alice")
    await root.call(
        "iam", "PutGroupPolicy", GroupName="admins", PolicyName="all", PolicyDocument=ALLOW_ALL
    )
    await root.call(
        "iam", "PutUserPolicy", UserName="alice", PolicyName="mine", PolicyDocument=READ_ONLY
    )
    arn = (await root.call("iam", "CreatePolicy", PolicyName="reader", PolicyDocument=READ_ONLY))[
        "Policy"
    ]["Arn"]
    await root.call(
        "iam", "CreatePolicyVersion", PolicyArn=arn, PolicyDocument=ALLOW_ALL, SetAsDefault=True
    )
    await root.call("iam", "AttachUserPolicy", UserName="bob", PolicyArn=arn)
    await root.call("iam", "PutUserPermissionsBoundary", UserName="bob", PermissionsBoundary=arn)
    await root.call("iam", "CreateRole", RoleName="web", AssumeRolePolicyDocument=TRUST_EC2)
    await root.call("iam", "AttachRolePolicy", RoleName="web", PolicyArn=arn)
    await root.call("iam", "CreateInstanceProfile", InstanceProfileName="web-profile")
    await root.call(
        "iam", "AddRoleToInstanceProfile", InstanceProfileName="web-profile", RoleName="web"
    )
    return str(arn)


async def test_account_authorization_details(root: Client, world: World) -> None:
    arn = await an_account(root)
    details = await root.call("iam", "GetAccountAuthorizationDetails")
    assert details["IsTruncated"] is False
    users = {u["UserName"]: u for u in details["UserDetailList"]}
    assert list(users) == ["alice", "bob"]  # never the root user
    alice = users["alice"]
    assert alice["Arn"] == f"arn:aws:iam::{world.tenant_id}:user/ops/alice"
    assert alice["GroupList"] == ["admins"]
    # botocore decodes the URL-encoded documents into what was put.
    assert alice["UserPolicyList"] == [
        {"PolicyName": "mine", "PolicyDocument": json.loads(READ_ONLY)}
    ]
    assert alice["AttachedManagedPolicies"] == []
    bob = users["bob"]
    assert bob["AttachedManagedPolicies"] == [{"PolicyName": "reader", "PolicyArn": arn}]
    assert bob["PermissionsBoundary"]["PermissionsBoundaryArn"] == arn
    (group,) = details["GroupDetailList"]
    assert group["GroupName"] == "admins"
    assert group["GroupPolicyList"][0]["PolicyDocument"] == json.loads(ALLOW_ALL)
    (role,) = details["RoleDetailList"]
    assert role["AssumeRolePolicyDocument"] == json.loads(TRUST_EC2)
    assert [p["InstanceProfileName"] for p in role["InstanceProfileList"]] == ["web-profile"]
    assert role["InstanceProfileList"][0]["Roles"][0]["RoleName"] == "web"
    assert role["AttachedManagedPolicies"] == [{"PolicyName": "reader", "PolicyArn": arn}]
    (policy,) = details["Policies"]
    assert policy["Arn"] == arn and policy["DefaultVersionId"] == "v2"
    assert policy["AttachmentCount"] == 2 and policy["PermissionsBoundaryUsageCount"] == 1
    versions = {v["VersionId"]: v for v in policy["PolicyVersionList"]}
    assert versions["v2"]["IsDefaultVersion"] is True
    assert versions["v1"]["Document"] == json.loads(READ_ONLY)


async def test_account_authorization_details_filters_and_pages(root: Client) -> None:
    await an_account(root)
    roles_only = await root.call("iam", "GetAccountAuthorizationDetails", Filter=["Role"])
    assert [r["RoleName"] for r in roles_only["RoleDetailList"]] == ["web"]
    assert roles_only["UserDetailList"] == [] and roles_only["Policies"] == []
    aws_only = await root.call("iam", "GetAccountAuthorizationDetails", Filter=["AWSManagedPolicy"])
    assert aws_only["Policies"] == []  # AWS's own managed policies are not served here
    seen: list[str] = []
    params: dict[str, Any] = {"MaxItems": 2}
    while True:
        page = await root.call("iam", "GetAccountAuthorizationDetails", **params)
        names = [u["UserName"] for u in page["UserDetailList"]]
        names += [g["GroupName"] for g in page["GroupDetailList"]]
        names += [r["RoleName"] for r in page["RoleDetailList"]]
        names += [p["PolicyName"] for p in page["Policies"]]
        assert len(names) <= 2
        seen += names
        if not page["IsTruncated"]:
            break
        params["Marker"] = page["Marker"]
    assert seen == ["alice", "bob", "admins", "web", "reader"]
    with pytest.raises(ApiError) as caught:
        await root.call("iam", "GetAccountAuthorizationDetails", Filter=["Users"])
    assert (caught.value.status, caught.value.code) == (400, "ValidationError")


async def test_service_last_accessed_of_a_user_a_group_and_a_policy(
    root: Client, world: World, clock: Clock
) -> None:
    account = world.tenant_id
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["iam:*", "s3:Get*"], "Resource": "*"}],
        }
    )
    arn = (await root.call("iam", "CreatePolicy", PolicyName="ops", PolicyDocument=document))[
        "Policy"
    ]["Arn"]
    await root.call("iam", "CreateGroup", GroupName="ops")
    await root.call("iam", "AttachGroupPolicy", GroupName="ops", PolicyArn=arn)
    await root.call("iam", "CreateUser", UserName="worker")
    await root.call("iam", "AddUserToGroup", GroupName="ops", UserName="worker")
    key = (await root.call("iam", "CreateAccessKey", UserName="worker"))["AccessKey"]
    worker = world.client(Credentials(key["AccessKeyId"], key["SecretAccessKey"]))
    await worker.call("iam", "CreateUser", UserName="made-by-worker")  # audited: iam:CreateUser
    clock.now += 60  # the job is made after the use (the audit trail keeps real time)
    user_arn = f"arn:aws:iam::{account}:user/worker"
    for target in (user_arn, f"arn:aws:iam::{account}:group/ops", arn):
        job = (
            await root.call(
                "iam", "GenerateServiceLastAccessedDetails", Arn=target, Granularity="ACTION_LEVEL"
            )
        )["JobId"]
        assert len(job) == 36
        details = await root.call("iam", "GetServiceLastAccessedDetails", JobId=job)
        assert details["JobStatus"] == "COMPLETED" and details["JobType"] == "ACTION_LEVEL"
        services = {s["ServiceNamespace"]: s for s in details["ServicesLastAccessed"]}
        assert list(services) == ["iam", "s3"], target
        used = services["iam"]
        assert used["ServiceName"] == "AWS Identity and Access Management"
        assert used["LastAuthenticatedEntity"] == user_arn
        assert used["TotalAuthenticatedEntities"] == 1
        assert "iam:CreateUser" in [a["ActionName"] for a in used["TrackedActionsLastAccessed"]]
        unused = services["s3"]
        assert "LastAuthenticated" not in unused and unused["TotalAuthenticatedEntities"] == 0
    page = await root.call("iam", "GetServiceLastAccessedDetails", JobId=job, MaxItems=1)
    assert [s["ServiceNamespace"] for s in page["ServicesLastAccessed"]] == ["iam"]
    assert page["IsTruncated"] is True


async def test_service_last_accessed_errors(root: Client, world: World) -> None:
    cases: list[tuple[str, dict[str, Any], tuple[int, str]]] = [
        ("GenerateServiceLastAccessedDetails",
         {"Arn": f"arn:aws:iam::{world.tenant_id}:user/ghost"}, (404, "NoSuchEntity")),
        ("GenerateServiceLastAccessedDetails",
         {"Arn": "arn:aws:iam::123456789012:user/other"}, (400, "InvalidInput")),
        ("GetServiceLastAccessedDetails",
         {"JobId": "00000000-0000-0000-0000-000000000000"}, (404, "NoSuchEntity")),
    ]  # fmt: skip
    for action, params, expected in cases:
        with pytest.raises(ApiError) as caught:
            await root.call("iam", action, **params)
        assert (caught.value.status, caught.value.code) == expected, action
