"""S3 access points through real clients against a real server (decision 0157): boto3's
``s3control`` creates one, puts its policy, reads it back; an IAM user with no policy of its
own, named only by the access point's policy (the bucket's delegating to the account's access
points), reads and writes through the alias with boto3's ``s3`` and not directly; the aws
CLI creates, describes and lists access points and copies an object through an alias. An
access point restricted to one of the account's VPCs (decision 0157's addendum) is made with
boto3 and refuses the owner's root from the test process (no VPC endpoint).

S3 Control's account-prefixed hosts go through the server itself as the clients' HTTP proxy,
as in test_s3control.py (decision 0152)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from e2e.clients import aws_cli
from e2e.helpers import REGION, delegate_to_access_points
from e2e.iam_helpers import Tenant, client_for, new_tenant
from e2e.test_s3control import s3control_client
from support.server import ServerProcess


def _code(caught: pytest.ExceptionInfo[ClientError]) -> str:
    return str(caught.value.response["Error"]["Code"])


def test_an_iam_user_allowed_only_through_the_access_point(server: ServerProcess) -> None:
    tenant = new_tenant(server, "ap")
    control = s3control_client(server, tenant.access_key_id, tenant.secret_access_key)
    s3 = client_for(server, "s3", tenant.access_key_id, tenant.secret_access_key)
    iam = client_for(server, "iam", tenant.access_key_id, tenant.secret_access_key)
    bucket = f"ap-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="reports/q1.csv", Body=b"a,b\n")
    created = control.create_access_point(AccountId=tenant.account, Name="analytics", Bucket=bucket)
    arn = f"arn:aws:s3:{REGION}:{tenant.account}:accesspoint/analytics"
    assert created["AccessPointArn"] == arn
    alias = created["Alias"]
    assert alias.startswith("analytics-") and alias.endswith("-s3alias")
    got = control.get_access_point(AccountId=tenant.account, Name="analytics")
    assert (got["Bucket"], got["NetworkOrigin"], got["Alias"]) == (bucket, "Internet", alias)
    assert got["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
    assert got["BucketAccountId"] == tenant.account
    listed = control.list_access_points(AccountId=tenant.account, Bucket=bucket)
    assert [p["Name"] for p in listed["AccessPointList"]] == ["analytics"]
    with pytest.raises(ClientError) as caught:
        control.create_access_point(AccountId=tenant.account, Name="analytics", Bucket=bucket)
    assert _code(caught) == "AccessPointAlreadyOwnedByYou"
    with pytest.raises(ClientError) as caught:
        control.get_access_point_policy(AccountId=tenant.account, Name="analytics")
    assert _code(caught) == "NoSuchAccessPointPolicy"
    _check_vpc_only(server, control, s3, tenant, bucket)

    iam.create_user(UserName="analyst")
    key = iam.create_access_key(UserName="analyst")["AccessKey"]
    analyst = client_for(server, "s3", key["AccessKeyId"], key["SecretAccessKey"])
    user_arn = f"arn:aws:iam::{tenant.account}:user/analyst"
    delegate_to_access_points(s3, bucket, tenant.account)
    point_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": user_arn},
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": f"{arn}/object/reports/*",
            },
            {
                "Effect": "Allow",
                "Principal": {"AWS": user_arn},
                "Action": "s3:ListBucket",
                "Resource": arn,
            },
        ],
    }
    control.put_access_point_policy(
        AccountId=tenant.account, Name="analytics", Policy=json.dumps(point_policy)
    )
    stored = control.get_access_point_policy(AccountId=tenant.account, Name="analytics")
    assert json.loads(stored["Policy"]) == point_policy
    status = control.get_access_point_policy_status(AccountId=tenant.account, Name="analytics")
    assert status["PolicyStatus"]["IsPublic"] is False

    assert analyst.get_object(Bucket=alias, Key="reports/q1.csv")["Body"].read() == b"a,b\n"
    analyst.put_object(Bucket=alias, Key="reports/q2.csv", Body=b"c,d\n")
    assert s3.get_object(Bucket=bucket, Key="reports/q2.csv")["Body"].read() == b"c,d\n"
    keys = [o["Key"] for o in analyst.list_objects_v2(Bucket=alias)["Contents"]]
    assert keys == ["reports/q1.csv", "reports/q2.csv"]
    for attempt in (
        lambda: analyst.get_object(Bucket=bucket, Key="reports/q1.csv"),  # not directly
        lambda: analyst.put_object(Bucket=alias, Key="other/x", Body=b"x"),  # not elsewhere
        lambda: analyst.delete_object(Bucket=alias, Key="reports/q1.csv"),  # nor deletes
    ):
        with pytest.raises(ClientError) as caught:
            attempt()
        assert _code(caught) == "AccessDenied"
    # Another account's root, named by neither policy: refused through the alias.
    other = new_tenant(server, "ap")
    stranger = client_for(server, "s3", other.access_key_id, other.secret_access_key)
    with pytest.raises(ClientError) as caught:
        stranger.get_object(Bucket=alias, Key="reports/q1.csv")
    assert _code(caught) == "AccessDenied"
    # Bucket configuration is not served through an access point.
    with pytest.raises(ClientError) as caught:
        s3.get_bucket_policy(Bucket=alias)
    assert _code(caught) == "InvalidRequest"

    control.delete_access_point_policy(AccountId=tenant.account, Name="analytics")
    with pytest.raises(ClientError) as caught:
        analyst.get_object(Bucket=alias, Key="reports/q1.csv")
    assert _code(caught) == "AccessDenied"
    control.delete_access_point(AccountId=tenant.account, Name="analytics")
    with pytest.raises(ClientError) as caught:
        control.get_access_point(AccountId=tenant.account, Name="analytics")
    assert _code(caught) == "NoSuchAccessPoint"
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=alias, Key="reports/q1.csv")
    assert _code(caught) == "NoSuchBucket"


def _check_vpc_only(
    server: ServerProcess, control: Any, s3: Any, tenant: Tenant, bucket: str
) -> None:
    account = tenant.account
    ec2 = client_for(server, "ec2", tenant.access_key_id, tenant.secret_access_key)
    vpc_id = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    for vpc, code in [("vpc-1", "InvalidRequest"), ("vpc-0123456789abcdef0", "InvalidRequest")]:
        with pytest.raises(ClientError) as caught:
            control.create_access_point(
                AccountId=account, Name="vpc-only", Bucket=bucket, VpcConfiguration={"VpcId": vpc}
            )
        assert _code(caught) == code
    alias = control.create_access_point(
        AccountId=account, Name="vpc-only", Bucket=bucket, VpcConfiguration={"VpcId": vpc_id}
    )["Alias"]
    got = control.get_access_point(AccountId=account, Name="vpc-only")
    assert (got["NetworkOrigin"], got["VpcConfiguration"]) == ("VPC", {"VpcId": vpc_id})
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=alias, Key="reports/q1.csv")
    assert _code(caught) == "AccessDenied"
    control.delete_access_point(AccountId=account, Name="vpc-only")
    ec2.delete_vpc(VpcId=vpc_id)


def _keys(client: Any) -> tuple[str, str]:
    credentials = client._request_signer._credentials
    return credentials.access_key, credentials.secret_key


def test_aws_cli_access_points(server: ServerProcess, tmp_path: Path) -> None:
    tenant = new_tenant(server, "ap")
    credentials = tmp_path / "credentials"
    credentials.write_text(
        f"[andromede]\naws_access_key_id = {tenant.access_key_id}\n"
        f"aws_secret_access_key = {tenant.secret_access_key}\n"
    )
    aws = aws_cli(server, tmp_path, credentials_file=credentials, account_hosts=True)
    bucket = f"ap-{uuid.uuid4().hex[:12]}"
    aws("s3api", "create-bucket", "--bucket", bucket)
    account = ("--account-id", tenant.account)
    created = json.loads(
        aws(
            "s3control", "create-access-point", *account, "--name", "cli-ap", "--bucket", bucket
        ).stdout
    )
    alias = created["Alias"]
    described = json.loads(
        aws("s3control", "get-access-point", *account, "--name", "cli-ap").stdout
    )
    assert described["Bucket"] == bucket
    listed = json.loads(aws("s3control", "list-access-points", *account).stdout)
    assert [p["Alias"] for p in listed["AccessPointList"]] == [alias]
    source = tmp_path / "hello.txt"
    source.write_bytes(b"hello through an access point")
    aws("s3", "cp", str(source), f"s3://{alias}/hello.txt")
    back = tmp_path / "back.txt"
    aws("s3api", "get-object", "--bucket", bucket, "--key", "hello.txt", str(back))
    assert back.read_bytes() == b"hello through an access point"
    aws("s3control", "delete-access-point", *account, "--name", "cli-ap")
    missing = aws("s3control", "get-access-point", *account, "--name", "cli-ap", check=False)
    assert missing.returncode != 0
    assert "NoSuchAccessPoint" in missing.stderr
