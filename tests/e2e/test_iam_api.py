"""The IAM API end to end: boto3's ``iam`` client and the aws CLI against a real ``andromede
serve``, on the same endpoint as S3. Each test works in a tenant of its own."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from botocore import xform_name
from botocore.exceptions import ClientError

from e2e.helpers import client_binary, create_bucket, run_cli, unique_bucket
from e2e.iam_helpers import Tenant, client_for, new_tenant, totp_code
from support.iam_recipes import RECIPES, fill, snapshot_reads, victim_account
from support.server import REGION, ServerProcess

pytestmark = pytest.mark.e2e


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def error(caught: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


@pytest.fixture
def tenant(server: ServerProcess) -> Tenant:
    return new_tenant(server)


@pytest.fixture
def iam(server: ServerProcess, tenant: Tenant) -> Any:
    return client_for(server, "iam", tenant.access_key_id, tenant.secret_access_key)


def test_users_groups_and_pagination(iam: Any, tenant: Tenant) -> None:
    for index in range(5):
        iam.create_user(UserName=f"user{index}", Path="/team/")
    pages = list(iam.get_paginator("list_users").paginate(PaginationConfig={"PageSize": 2}))
    assert [len(page["Users"]) for page in pages] == [2, 2, 1]
    names = [user["UserName"] for page in pages for user in page["Users"]]
    assert names == [f"user{index}" for index in range(5)]
    assert pages[0]["Users"][0]["Arn"] == f"arn:aws:iam::{tenant.account}:user/team/user0"
    me = iam.get_user()["User"]
    assert me["Arn"] == f"arn:aws:iam::{tenant.account}:root"
    with pytest.raises(ClientError) as caught:
        iam.create_user(UserName="USER1")
    assert error(caught) == (409, "EntityAlreadyExists")
    with pytest.raises(ClientError) as caught:
        iam.get_user(UserName="nobody")
    assert error(caught) == (404, "NoSuchEntity")
    iam.create_group(GroupName="devs")
    iam.add_user_to_group(GroupName="devs", UserName="user0")
    assert [u["UserName"] for u in iam.get_group(GroupName="devs")["Users"]] == ["user0"]
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName="user0")["Groups"]] == [
        "devs"
    ]
    with pytest.raises(ClientError) as caught:
        iam.delete_group(GroupName="devs")
    assert error(caught) == (409, "DeleteConflict")
    iam.remove_user_from_group(GroupName="devs", UserName="user0")
    iam.delete_group(GroupName="devs")
    iam.update_user(UserName="user4", NewUserName="user5")
    iam.delete_user(UserName="user5")
    assert len(iam.list_users()["Users"]) == 4


def test_roles_and_managed_policies(iam: Any, tenant: Tenant) -> None:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": tenant.account}, "Action": "sts:AssumeRole"}
        ],
    }
    role = iam.create_role(RoleName="app", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    assert role["AssumeRolePolicyDocument"] == trust  # URL-encoded on the wire, like AWS
    v1 = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }
    v2 = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    }
    arn = iam.create_policy(PolicyName="read", PolicyDocument=json.dumps(v1))["Policy"]["Arn"]
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(v2), SetAsDefault=True)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v2"
    assert iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]["Document"] == v1
    assert [v["VersionId"] for v in iam.list_policy_versions(PolicyArn=arn)["Versions"]] == [
        "v2",
        "v1",
    ]
    iam.attach_role_policy(RoleName="app", PolicyArn=arn)
    iam.put_role_policy(RoleName="app", PolicyName="inline", PolicyDocument=json.dumps(v1))
    assert iam.get_role_policy(RoleName="app", PolicyName="inline")["PolicyDocument"] == v1
    attached = iam.list_attached_role_policies(RoleName="app")["AttachedPolicies"]
    assert attached == [{"PolicyName": "read", "PolicyArn": arn}]
    assert [r["RoleName"] for r in iam.list_entities_for_policy(PolicyArn=arn)["PolicyRoles"]] == [
        "app"
    ]
    with pytest.raises(ClientError) as caught:
        iam.delete_policy(PolicyArn=arn)
    assert error(caught) == (409, "DeleteConflict")
    iam.detach_role_policy(RoleName="app", PolicyArn=arn)
    iam.delete_role_policy(RoleName="app", PolicyName="inline")
    iam.delete_role(RoleName="app")
    iam.delete_policy_version(PolicyArn=arn, VersionId="v1")
    iam.delete_policy(PolicyArn=arn)
    assert iam.list_policies(Scope="Local")["Policies"] == []


@pytest.mark.parametrize(
    "document",
    [
        '{"Version": "2012-10-17", "Statement": [',
        policy({"Effect": "Allow", "Action": "s3:LevitateObject", "Resource": "*"}),
        policy(
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "*",
                "Condition": {"StringSortOf": {"aws:username": "x"}},
            }
        ),
    ],
    ids=["bad-json", "unknown-action", "unknown-operator"],
)
def test_malformed_policies(iam: Any, document: str) -> None:
    iam.create_user(UserName="u")
    with pytest.raises(ClientError) as caught:
        iam.put_user_policy(UserName="u", PolicyName="p", PolicyDocument=document)
    assert error(caught) == (400, "MalformedPolicyDocument")


def test_limits(iam: Any) -> None:
    statements = [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::bucket-{i:04d}/*"}
        for i in range(60)
    ]
    iam.create_user(UserName="u")
    with pytest.raises(ClientError) as caught:
        iam.put_user_policy(UserName="u", PolicyName="big", PolicyDocument=policy(*statements))
    assert error(caught) == (409, "LimitExceeded")
    iam.create_access_key(UserName="u")
    iam.create_access_key(UserName="u")
    with pytest.raises(ClientError) as caught:
        iam.create_access_key(UserName="u")
    assert error(caught) == (409, "LimitExceeded")


def test_access_keys_and_login_profile(iam: Any, server: ServerProcess) -> None:
    iam.create_user(UserName="kim")
    key = iam.create_access_key(UserName="kim")["AccessKey"]
    listed = iam.list_access_keys(UserName="kim")["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [key["AccessKeyId"]]
    iam.update_access_key(UserName="kim", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    assert iam.list_access_keys(UserName="kim")["AccessKeyMetadata"][0]["Status"] == "Inactive"
    assert iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["UserName"] == "kim"
    iam.delete_access_key(UserName="kim", AccessKeyId=key["AccessKeyId"])
    iam.create_login_profile(UserName="kim", Password="Sovereign-Cloud-2026")
    assert iam.get_login_profile(UserName="kim")["LoginProfile"]["UserName"] == "kim"
    iam.delete_login_profile(UserName="kim")
    iam.delete_user(UserName="kim")


def test_virtual_mfa_device_lifecycle(iam: Any) -> None:
    iam.create_user(UserName="mia")
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName="mia-phone")["VirtualMFADevice"]
    seed, serial = device["Base32StringSeed"], device["SerialNumber"]
    with pytest.raises(ClientError) as caught:
        iam.enable_mfa_device(
            UserName="mia",
            SerialNumber=serial,
            AuthenticationCode1="123456",
            AuthenticationCode2="654321",
        )
    assert error(caught) == (403, "InvalidAuthenticationCode")
    now = time.time()
    iam.enable_mfa_device(
        UserName="mia",
        SerialNumber=serial,
        AuthenticationCode1=totp_code(seed, now, -1),
        AuthenticationCode2=totp_code(seed, now),
    )
    assert [d["SerialNumber"] for d in iam.list_mfa_devices(UserName="mia")["MFADevices"]] == [
        serial
    ]
    assigned = iam.list_virtual_mfa_devices(AssignmentStatus="Assigned")["VirtualMFADevices"]
    assert assigned[0]["User"]["UserName"] == "mia"
    summary = iam.get_account_summary()["SummaryMap"]
    assert summary["Users"] == 1 and summary["MFADevicesInUse"] == 1
    iam.deactivate_mfa_device(UserName="mia", SerialNumber=serial)
    iam.delete_virtual_mfa_device(SerialNumber=serial)
    assert iam.list_virtual_mfa_devices()["VirtualMFADevices"] == []


def test_a_user_allowed_one_bucket_read_can_do_nothing_else(
    server: ServerProcess, iam: Any, tenant: Tenant
) -> None:
    s3 = client_for(server, "s3", tenant.access_key_id, tenant.secret_access_key)
    readable, other = unique_bucket("iam"), unique_bucket("iam")
    for name in (readable, other):
        create_bucket(s3, name)
        s3.put_object(Bucket=name, Key="doc.txt", Body=b"content of " + name.encode())
    iam.create_user(UserName="reader")
    iam.put_user_policy(
        UserName="reader",
        PolicyName="one-bucket",
        PolicyDocument=policy(
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{readable}/*"}
        ),
    )
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    reader_s3 = client_for(server, "s3", key["AccessKeyId"], key["SecretAccessKey"])
    reader_iam = client_for(server, "iam", key["AccessKeyId"], key["SecretAccessKey"])
    body = reader_s3.get_object(Bucket=readable, Key="doc.txt")["Body"].read()
    assert body == b"content of " + readable.encode()
    attempts = [
        lambda: reader_s3.get_object(Bucket=other, Key="doc.txt"),
        lambda: reader_s3.put_object(Bucket=readable, Key="new.txt", Body=b"x"),
        lambda: reader_s3.delete_object(Bucket=readable, Key="doc.txt"),
        lambda: reader_s3.list_objects_v2(Bucket=readable),
        lambda: reader_s3.list_buckets(),
        lambda: reader_iam.list_users(),
        lambda: reader_iam.get_user(),
        lambda: reader_iam.create_access_key(),
    ]
    for attempt in attempts:
        with pytest.raises(ClientError) as caught:
            attempt()
        assert error(caught) == (403, "AccessDenied")
    assert s3.get_object(Bucket=readable, Key="doc.txt")["Body"].read() == body
    for name in (readable, other):
        s3.delete_object(Bucket=name, Key="doc.txt")
        s3.delete_bucket(Bucket=name)


def victim(iam: Any, tenant: Tenant) -> dict[str, str]:
    async def call(action: str, **params: Any) -> dict[str, Any]:
        return dict(getattr(iam, xform_name(action))(**params))

    return asyncio.run(victim_account(call, tenant.account))


def snapshot(iam: Any, account: str) -> list[Any]:
    state = []
    for action, params in snapshot_reads(account):
        answer = dict(getattr(iam, xform_name(action))(**params))
        answer.pop("ResponseMetadata", None)
        state.append(answer)
    return state


def test_every_iam_action_is_refused_to_a_user_without_policy_and_to_other_tenants(
    server: ServerProcess, iam: Any, tenant: Tenant
) -> None:
    ids = victim(iam, tenant)
    before = snapshot(iam, tenant.account)
    iam.create_user(UserName="powerless")
    key = iam.create_access_key(UserName="powerless")["AccessKey"]
    powerless = client_for(server, "iam", key["AccessKeyId"], key["SecretAccessKey"])
    intruder_tenant = new_tenant(server, "intruder")
    intruder = client_for(
        server, "iam", intruder_tenant.access_key_id, intruder_tenant.secret_access_key
    )
    for action, recipe in sorted(RECIPES.items()):
        params = fill(recipe, tenant.account, ids["key"])
        with pytest.raises(ClientError) as caught:
            getattr(powerless, xform_name(action))(**params)
        assert error(caught) == (403, "AccessDenied"), action
        try:
            answer = getattr(intruder, xform_name(action))(**params)
        except ClientError as refused:
            assert 400 <= refused.response["ResponseMetadata"]["HTTPStatusCode"] < 500
        else:
            text = json.dumps(answer, default=str)
            for value in params.values():
                text = text.replace(str(value), "")
            for secret in ids.values():
                assert secret not in text, action
    iam.delete_access_key(UserName="powerless", AccessKeyId=key["AccessKeyId"])
    iam.delete_user(UserName="powerless")
    assert snapshot(iam, tenant.account) == before


@pytest.fixture
def aws_cli(server: ServerProcess, tenant: Tenant, tmp_path: Path) -> Any:
    binary = client_binary("aws", in_venv=True)
    home = tmp_path / "home"
    home.mkdir()
    credentials = tmp_path / "credentials"
    credentials.write_text(
        f"[andromede]\naws_access_key_id = {tenant.access_key_id}\n"
        f"aws_secret_access_key = {tenant.secret_access_key}\n"
    )
    config = tmp_path / "aws-config"
    config.write_text(f"[profile andromede]\nregion = {REGION}\noutput = json\n")
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.update(
        HOME=str(home),
        AWS_SHARED_CREDENTIALS_FILE=str(credentials),
        AWS_CONFIG_FILE=str(config),
        AWS_PROFILE="andromede",
        AWS_PAGER="",
    )

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_cli(
            "aws", [str(binary), "--endpoint-url", server.endpoint, *args], env, check=check
        )

    return run


def test_aws_cli_iam_and_sts(aws_cli: Any, tenant: Tenant, tmp_path: Path) -> None:
    def cli(*args: str) -> Any:
        output = aws_cli(*args).stdout
        return json.loads(output) if output.strip() else {}

    assert cli("sts", "get-caller-identity")["Account"] == tenant.account
    created = cli("iam", "create-user", "--user-name", "cli-user")["User"]
    assert created["Arn"] == f"arn:aws:iam::{tenant.account}:user/cli-user"
    assert [u["UserName"] for u in cli("iam", "list-users")["Users"]] == ["cli-user"]
    document = policy({"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"})
    aws_cli(
        "iam",
        "put-user-policy",
        "--user-name",
        "cli-user",
        "--policy-name",
        "p",
        "--policy-document",
        document,
    )
    got = cli("iam", "get-user-policy", "--user-name", "cli-user", "--policy-name", "p")
    assert got["PolicyDocument"] == json.loads(document)
    key = cli("iam", "create-access-key", "--user-name", "cli-user")["AccessKey"]
    assert key["AccessKeyId"].startswith("AKIA")
    session = cli("sts", "get-session-token", "--duration-seconds", "900")["Credentials"]
    assert session["AccessKeyId"].startswith("ASIA")
    failed = aws_cli("iam", "get-user", "--user-name", "nobody", check=False)
    assert failed.returncode != 0 and "NoSuchEntity" in failed.stderr
    aws_cli(
        "iam", "delete-access-key", "--user-name", "cli-user", "--access-key-id", key["AccessKeyId"]
    )
    aws_cli("iam", "delete-user-policy", "--user-name", "cli-user", "--policy-name", "p")
    aws_cli("iam", "delete-user", "--user-name", "cli-user")
    # The CLI writes the chosen bootstrap blob to a file: the QR code as a PNG, or the seed.
    for method, magic in [("QRCodePNG", b"\x89PNG\r\n\x1a\n"), ("Base32StringSeed", b"")]:
        outfile = tmp_path / f"{method}.out"
        device = cli(
            "iam", "create-virtual-mfa-device", "--virtual-mfa-device-name", f"cli-{method}",
            "--bootstrap-method", method, "--outfile", str(outfile),
        )["VirtualMFADevice"]  # fmt: skip
        written = outfile.read_bytes()
        assert written.startswith(magic) and len(written) >= 32, method
        aws_cli("iam", "delete-virtual-mfa-device", "--serial-number", device["SerialNumber"])


def test_an_unsigned_iam_request_is_refused_and_reveals_nothing(
    server: ServerProcess, iam: Any, tenant: Tenant
) -> None:
    """Without a credential scope there is no service to pick. An unsigned form POST on the
    service root is STS's since web identity federation (decision 0087: the one unsigned STS
    action is sent that way), and STS refuses every other action unsigned."""
    iam.create_user(UserName="hidden")
    request = urllib.request.Request(
        server.endpoint + "/",
        data=b"Action=ListUsers&Version=2010-05-08",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as refused:
        status, body = refused.code, refused.read()
    assert status == 403 and b"<Code>MissingAuthenticationToken</Code>" in body
    assert b"hidden" not in body and tenant.account.encode() not in body


def test_governance_calls_with_boto3_and_the_aws_cli(
    iam: Any, tenant: Tenant, aws_cli: Any
) -> None:
    """Decision 0193: the credential report as boto3 gets it, parsed with ``csv``; the policy
    simulator with a deny and a condition; ``aws iam simulate-principal-policy`` once."""
    iam.create_user(UserName="auditee", Path="/ops/")
    iam.create_login_profile(UserName="auditee", Password="Correct-Horse-42")
    iam.create_access_key(UserName="auditee")
    iam.put_user_policy(
        UserName="auditee",
        PolicyName="reads",
        PolicyDocument=policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}),
    )
    with pytest.raises(ClientError) as caught:
        iam.get_credential_report()
    assert error(caught) == (410, "ReportNotPresent")
    while iam.generate_credential_report()["State"] != "COMPLETE":  # as AWS's clients poll
        time.sleep(0.1)
    report = iam.get_credential_report()
    assert report["ReportFormat"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(report["Content"].decode("utf-8"))))
    assert [row["user"] for row in rows] == ["<root_account>", "auditee"]
    assert rows[0]["arn"] == f"arn:aws:iam::{tenant.account}:root"
    auditee = rows[1]
    assert auditee["arn"] == f"arn:aws:iam::{tenant.account}:user/ops/auditee"
    assert (auditee["password_enabled"], auditee["mfa_active"]) == ("true", "false")
    assert (auditee["access_key_1_active"], auditee["access_key_1_last_used_date"]) == (
        "true",
        "N/A",
    )

    document = policy(
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {
            "Effect": "Deny",
            "Action": "s3:DeleteBucket",
            "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:RequestedRegion": REGION}},
        },
    )
    simulated = iam.simulate_custom_policy(
        PolicyInputList=[document],
        ActionNames=["s3:GetObject", "s3:DeleteBucket"],
        ContextEntries=[
            {
                "ContextKeyName": "aws:RequestedRegion",
                "ContextKeyValues": ["elsewhere"],
                "ContextKeyType": "string",
            }
        ],
    )["EvaluationResults"]
    assert [(r["EvalActionName"], r["EvalDecision"]) for r in simulated] == [
        ("s3:GetObject", "allowed"),
        ("s3:DeleteBucket", "explicitDeny"),
    ]
    assert simulated[1]["MatchedStatements"][0]["SourcePolicyId"] == "PolicyInputList.1"
    details = iam.get_account_authorization_details(Filter=["User"])["UserDetailList"]
    assert details[0]["UserPolicyList"][0]["PolicyDocument"]["Statement"][0]["Action"] == (
        "s3:GetObject"
    )

    answer = json.loads(
        aws_cli(
            "iam",
            "simulate-principal-policy",
            "--policy-source-arn",
            f"arn:aws:iam::{tenant.account}:user/ops/auditee",
            "--action-names",
            "s3:GetObject",
            "s3:PutObject",
        ).stdout
    )
    assert [(r["EvalActionName"], r["EvalDecision"]) for r in answer["EvaluationResults"]] == [
        ("s3:GetObject", "allowed"),
        ("s3:PutObject", "implicitDeny"),
    ]
    assert answer["EvaluationResults"][0]["MatchedStatements"][0]["SourcePolicyType"] == "user"
