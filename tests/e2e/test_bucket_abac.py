"""ABAC for general purpose buckets through boto3 against a real ``andromede serve``
(decision 0418): a bucket tagged by CreateBucket, PutBucketAbac / GetBucketAbac, two IAM
users whose policies allow the data calls only on buckets tagged for their team, the bucket
retagged through S3 Control's TagResource (PutBucketTagging refused while ABAC is Enabled).
Two workers serve the requests: whichever takes the next one sees the tags as they are now."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from e2e.iam_helpers import Tenant, client_for, new_tenant
from e2e.test_s3control import s3control_client
from support.server import ServerProcess, running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {"ANDROMEDE_WORKERS": "2"}
    with running_server(tmp_path_factory.mktemp("abac") / "data", extra_env=env) as running:
        yield running


def _code(caught: pytest.ExceptionInfo[ClientError]) -> str:
    return str(caught.value.response["Error"]["Code"])


def _team_user(server: ServerProcess, tenant: Tenant, iam: Any, team: str) -> Any:
    """An S3 client of a new user allowed to read and write objects of buckets tagged
    ``team=<team>``, and nothing else."""
    name = f"{team}-member"
    iam.create_user(UserName=name)
    statement = {
        "Effect": "Allow",
        "Action": ["s3:GetObject", "s3:PutObject"],
        "Resource": "arn:aws:s3:::*/*",
        "Condition": {"StringEquals": {"aws:ResourceTag/team": team}},
    }
    iam.put_user_policy(
        UserName=name,
        PolicyName="by-bucket-tag",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return client_for(server, "s3", key["AccessKeyId"], key["SecretAccessKey"])


def test_a_bucket_tag_decides_who_reads_and_writes_once_abac_is_enabled(
    server: ServerProcess,
) -> None:
    tenant = new_tenant(server, "abac")
    s3 = client_for(server, "s3", tenant.access_key_id, tenant.secret_access_key)
    iam = client_for(server, "iam", tenant.access_key_id, tenant.secret_access_key)
    control = s3control_client(server, tenant.access_key_id, tenant.secret_access_key)
    bucket = f"abac-{uuid.uuid4().hex[:12]}"
    # Tagged at creation (CreateBucketConfiguration.Tags), as Terraform's provider does.
    s3.create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"Tags": [{"Key": "team", "Value": "blue"}]}
    )
    s3.put_object(Bucket=bucket, Key="plan.txt", Body=b"blue plans")
    blue = _team_user(server, tenant, iam, "blue")
    red = _team_user(server, tenant, iam, "red")
    bucket_arn = f"arn:aws:s3:::{bucket}"
    listed = control.list_tags_for_resource(AccountId=tenant.account, ResourceArn=bucket_arn)
    assert listed["Tags"] == [{"Key": "team", "Value": "blue"}]
    assert s3.get_bucket_abac(Bucket=bucket)["AbacStatus"]["Status"] == "Disabled"
    # Disabled: the tag is a label, no policy sees it.
    with pytest.raises(ClientError) as caught:
        blue.get_object(Bucket=bucket, Key="plan.txt")
    assert _code(caught) == "AccessDenied"

    s3.put_bucket_abac(Bucket=bucket, AbacStatus={"Status": "Enabled"})
    assert s3.get_bucket_abac(Bucket=bucket)["AbacStatus"]["Status"] == "Enabled"
    for _ in range(4):  # whichever worker answers
        assert blue.get_object(Bucket=bucket, Key="plan.txt")["Body"].read() == b"blue plans"
        with pytest.raises(ClientError) as caught:
            red.get_object(Bucket=bucket, Key="plan.txt")
        assert _code(caught) == "AccessDenied"
    blue.put_object(Bucket=bucket, Key="notes.txt", Body=b"written by blue")
    with pytest.raises(ClientError) as caught:
        red.put_object(Bucket=bucket, Key="notes.txt", Body=b"overwritten")
    assert _code(caught) == "AccessDenied"

    # The old whole-set calls are refused; S3 Control's retag moves the bucket to red at once.
    with pytest.raises(ClientError) as caught:
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "team", "Value": "red"}]})
    assert _code(caught) == "InvalidRequest"
    with pytest.raises(ClientError) as caught:
        s3.delete_bucket_tagging(Bucket=bucket)
    assert _code(caught) == "InvalidRequest"
    control.tag_resource(
        AccountId=tenant.account, ResourceArn=bucket_arn, Tags=[{"Key": "team", "Value": "red"}]
    )
    for _ in range(4):
        assert red.get_object(Bucket=bucket, Key="notes.txt")["Body"].read() == b"written by blue"
        with pytest.raises(ClientError) as caught:
            blue.get_object(Bucket=bucket, Key="notes.txt")
        assert _code(caught) == "AccessDenied"
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "team", "Value": "red"}]

    s3.put_bucket_abac(Bucket=bucket, AbacStatus={"Status": "Disabled"})
    with pytest.raises(ClientError) as caught:
        red.get_object(Bucket=bucket, Key="notes.txt")
    assert _code(caught) == "AccessDenied"
    s3.delete_bucket_tagging(Bucket=bucket)
