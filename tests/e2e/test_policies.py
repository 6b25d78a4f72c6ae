"""Bucket policies and ACLs end to end with boto3 against a real server, in the style of Ceph's
s3-tests (test_bucket_policy*, test_object_acl*): an anonymous (unsigned) boto3 client, a second
tenant created with ``andromede admin tenant create``, and the owner. Each case follows AWS's
documented behaviour, named in its docstring."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from e2e.helpers import REGION, create_bucket, empty_and_delete_bucket
from support.server import ServerProcess

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

NO_BLOCK = {
    "BlockPublicAcls": False,
    "IgnorePublicAcls": False,
    "BlockPublicPolicy": False,
    "RestrictPublicBuckets": False,
}


def code(caught: pytest.ExceptionInfo[ClientError]) -> str:
    return str(caught.value.response["Error"]["Code"])


@pytest.fixture
def anonymous(server: ServerProcess) -> S3Client:
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        region_name=REGION,
        config=Config(signature_version=UNSIGNED, s3={"addressing_style": "path"}),
    )


@pytest.fixture(scope="module")
def partner_keys(server: ServerProcess) -> tuple[str, str, str]:
    """A second tenant, made the way an operator makes one; (account id, key id, secret)."""
    return server.create_tenant(f"partner{uuid.uuid4().hex[:8]}")


@pytest.fixture
def partner(server: ServerProcess, partner_keys: tuple[str, str, str]) -> S3Client:
    _, key_id, secret = partner_keys
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


@pytest.fixture
def open_bucket(s3: S3Client, bucket: str) -> Iterator[str]:
    """A bucket whose Block Public Access is off, holding one object."""
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=NO_BLOCK)
    s3.put_object(Bucket=bucket, Key="asdf", Body=b"asdf")
    yield bucket


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_bucket_policy_lets_anonymous_list(
    s3: S3Client, anonymous: S3Client, open_bucket: str
) -> None:
    """s3-tests test_bucket_policy: Allow * s3:ListBucket on the bucket ARN."""
    with pytest.raises(ClientError) as caught:
        anonymous.list_objects(Bucket=open_bucket)
    assert code(caught) == "AccessDenied"
    s3.put_bucket_policy(
        Bucket=open_bucket,
        Policy=policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "s3:ListBucket",
                "Resource": [f"arn:aws:s3:::{open_bucket}", f"arn:aws:s3:::{open_bucket}/*"],
            }
        ),
    )
    assert [o["Key"] for o in anonymous.list_objects(Bucket=open_bucket)["Contents"]] == ["asdf"]
    assert [o["Key"] for o in anonymous.list_objects_v2(Bucket=open_bucket)["Contents"]] == ["asdf"]
    with pytest.raises(ClientError) as caught:
        anonymous.get_object(Bucket=open_bucket, Key="asdf")
    assert code(caught) == "AccessDenied"


def test_bucket_policy_deny_overrides_a_public_acl(
    s3: S3Client, anonymous: S3Client, open_bucket: str
) -> None:
    """s3-tests test_bucket_policy_acl: an explicit Deny wins over an ACL's grant."""
    s3.put_bucket_ownership_controls(
        Bucket=open_bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]}
    )
    s3.put_bucket_acl(Bucket=open_bucket, ACL="public-read")
    assert anonymous.list_objects(Bucket=open_bucket)["Contents"][0]["Key"] == "asdf"
    s3.put_bucket_policy(
        Bucket=open_bucket,
        Policy=policy(
            {
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Action": "s3:ListBucket",
                "Resource": [f"arn:aws:s3:::{open_bucket}"],
            }
        ),
    )
    with pytest.raises(ClientError) as caught:
        anonymous.list_objects(Bucket=open_bucket)
    assert code(caught) == "AccessDenied"
    # The Deny names everyone, the owner included; its root can still remove the policy.
    with pytest.raises(ClientError) as caught:
        s3.list_objects(Bucket=open_bucket)
    assert code(caught) == "AccessDenied"
    s3.delete_bucket_policy(Bucket=open_bucket)
    assert s3.list_objects(Bucket=open_bucket)["Contents"][0]["Key"] == "asdf"


def test_public_read_object_acl_serves_anonymous_get(
    s3: S3Client, anonymous: S3Client, open_bucket: str
) -> None:
    """s3-tests test_object_acl_canned_publicread, under ObjectWriter ownership."""
    s3.put_bucket_ownership_controls(
        Bucket=open_bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]}
    )
    s3.put_object(Bucket=open_bucket, Key="public", Body=b"hello", ACL="public-read")
    assert anonymous.get_object(Bucket=open_bucket, Key="public")["Body"].read() == b"hello"
    with pytest.raises(ClientError) as caught:
        anonymous.get_object(Bucket=open_bucket, Key="asdf")  # private
    assert code(caught) == "AccessDenied"
    with pytest.raises(ClientError) as caught:
        anonymous.put_object(Bucket=open_bucket, Key="public", Body=b"overwrite")
    assert code(caught) == "AccessDenied"
    assert s3.get_object(Bucket=open_bucket, Key="public")["Body"].read() == b"hello"


def test_prefix_condition_limits_anonymous_listing(
    s3: S3Client, anonymous: S3Client, open_bucket: str
) -> None:
    """s3-tests test_bucket_policy_set_condition_operator_end_with_IfExists-like: a
    StringEquals condition on s3:prefix (AWS "Bucket policy examples": prefix-limited listing)."""
    s3.put_bucket_policy(
        Bucket=open_bucket,
        Policy=policy(
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:ListBucket",
                "Resource": f"arn:aws:s3:::{open_bucket}",
                "Condition": {"StringEquals": {"s3:prefix": "public/"}},
            }
        ),
    )
    assert anonymous.list_objects_v2(Bucket=open_bucket, Prefix="public/")["KeyCount"] == 0
    with pytest.raises(ClientError) as caught:
        anonymous.list_objects_v2(Bucket=open_bucket, Prefix="private/")
    assert code(caught) == "AccessDenied"


def test_other_tenant_needs_the_owners_grant(
    s3: S3Client, partner: S3Client, bucket: str, partner_keys: tuple[str, str, str]
) -> None:
    """s3-tests test_bucket_policy_different_tenant / AWS "cross-account": the bucket policy
    names the partner account; its root then reads and writes what is granted, nothing else."""
    account = partner_keys[0]
    s3.put_object(Bucket=bucket, Key="shared/a", Body=b"a")
    with pytest.raises(ClientError) as caught:
        partner.get_object(Bucket=bucket, Key="shared/a")
    assert code(caught) == "AccessDenied"
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": f"arn:aws:s3:::{bucket}/shared/*",
            },
            {
                "Effect": "Deny",
                "Principal": {"AWS": account},
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{bucket}/shared/*",
                "Condition": {"StringNotEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}},
            },
        ),
    )
    assert partner.get_object(Bucket=bucket, Key="shared/a")["Body"].read() == b"a"
    with pytest.raises(ClientError) as caught:
        partner.put_object(Bucket=bucket, Key="shared/b", Body=b"b")
    assert code(caught) == "AccessDenied"
    partner.put_object(Bucket=bucket, Key="shared/b", Body=b"b", ACL="bucket-owner-full-control")
    assert s3.get_object(Bucket=bucket, Key="shared/b")["Body"].read() == b"b"
    with pytest.raises(ClientError) as caught:
        partner.get_object(Bucket=bucket, Key="outside")
    assert code(caught) == "AccessDenied"  # not NoSuchKey: existence does not leak
    with pytest.raises(ClientError) as caught:
        partner.list_objects_v2(Bucket=bucket)
    assert code(caught) == "AccessDenied"
    assert bucket not in [b["Name"] for b in partner.list_buckets()["Buckets"]]


def test_partner_sees_only_its_own_buckets(s3: S3Client, partner: S3Client, bucket: str) -> None:
    own = f"partner-own-{uuid.uuid4().hex[:12]}"
    create_bucket(partner, own)
    try:
        assert [b["Name"] for b in partner.list_buckets()["Buckets"]] == [own]
        with pytest.raises(ClientError) as caught:
            s3.list_objects_v2(Bucket=own)
        assert code(caught) == "AccessDenied"
    finally:
        empty_and_delete_bucket(partner, own)


def test_policy_status_follows_the_policy(s3: S3Client, open_bucket: str) -> None:
    """GetBucketPolicyStatus: public when the policy grants * without a restricting condition."""
    s3.put_bucket_policy(
        Bucket=open_bucket,
        Policy=policy(
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{open_bucket}/*",
                "Condition": {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}},
            }
        ),
    )
    assert s3.get_bucket_policy_status(Bucket=open_bucket)["PolicyStatus"]["IsPublic"] is False
