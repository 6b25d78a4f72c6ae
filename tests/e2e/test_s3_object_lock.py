"""S3 Object Lock through boto3 against a real ``andromede serve`` (decision 0102): a bucket
made with Object Lock, a COMPLIANCE version the root user cannot delete, a GOVERNANCE one it
can with the bypass, and a legal hold that blocks until lifted. Decision 0104: lock settings
on a multipart upload and in a browser form, a bucket policy on the retention days, and a
version that never had a hold.

The COMPLIANCE version stays in its bucket until its date, a day away, as Object Lock
promises: the bucket is left behind in the session server's data folder, which goes with it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, cast

import httpx
import pytest
from botocore.exceptions import ClientError

from e2e.helpers import unique_bucket
from support.server import REGION, ServerProcess

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CreateBucketConfigurationTypeDef

pytestmark = pytest.mark.e2e


def _denied(error: pytest.ExceptionInfo[ClientError]) -> None:
    response = error.value.response
    assert response["Error"]["Code"] == "AccessDenied"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_locked_versions_stay_until_their_lock_allows(s3: S3Client, server: ServerProcess) -> None:
    bucket = unique_bucket()
    configuration = cast("CreateBucketConfigurationTypeDef", {"LocationConstraint": REGION})
    s3.create_bucket(
        Bucket=bucket, CreateBucketConfiguration=configuration, ObjectLockEnabledForBucket=True
    )
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    config = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    assert config["ObjectLockEnabled"] == "Enabled"
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)

    # COMPLIANCE: nobody deletes it, the root user with the bypass included.
    compliance = s3.put_object(
        Bucket=bucket,
        Key="ledger",
        Body=b"2026 accounts",
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=until,
    )["VersionId"]
    head = s3.head_object(Bucket=bucket, Key="ledger", VersionId=compliance)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] == until
    with pytest.raises(ClientError) as refused:
        s3.delete_object(
            Bucket=bucket, Key="ledger", VersionId=compliance, BypassGovernanceRetention=True
        )
    _denied(refused)
    with pytest.raises(ClientError) as shortened:
        s3.put_object_retention(
            Bucket=bucket,
            Key="ledger",
            VersionId=compliance,
            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until - timedelta(hours=1)},
            BypassGovernanceRetention=True,
        )
    _denied(shortened)
    retention = s3.get_object_retention(Bucket=bucket, Key="ledger", VersionId=compliance)
    assert retention["Retention"] == {"Mode": "COMPLIANCE", "RetainUntilDate": until}
    assert s3.get_object(Bucket=bucket, Key="ledger")["Body"].read() == b"2026 accounts"

    # GOVERNANCE: refused without the bypass, removed with it.
    governance = s3.put_object(
        Bucket=bucket,
        Key="draft",
        Body=b"draft",
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=until,
    )["VersionId"]
    with pytest.raises(ClientError) as governed:
        s3.delete_object(Bucket=bucket, Key="draft", VersionId=governance)
    _denied(governed)
    s3.delete_object(
        Bucket=bucket, Key="draft", VersionId=governance, BypassGovernanceRetention=True
    )
    assert "Versions" not in s3.list_object_versions(Bucket=bucket, Prefix="draft")

    # A legal hold: no date, no bypass; gone once lifted.
    held = s3.put_object(Bucket=bucket, Key="evidence", Body=b"e")["VersionId"]
    s3.put_object_legal_hold(
        Bucket=bucket, Key="evidence", VersionId=held, LegalHold={"Status": "ON"}
    )
    assert (
        s3.get_object_legal_hold(Bucket=bucket, Key="evidence", VersionId=held)["LegalHold"][
            "Status"
        ]
        == "ON"
    )
    with pytest.raises(ClientError) as on_hold:
        s3.delete_object(
            Bucket=bucket, Key="evidence", VersionId=held, BypassGovernanceRetention=True
        )
    _denied(on_hold)
    s3.put_object_legal_hold(
        Bucket=bucket, Key="evidence", VersionId=held, LegalHold={"Status": "OFF"}
    )
    s3.delete_object(Bucket=bucket, Key="evidence", VersionId=held)
    assert "Versions" not in s3.list_object_versions(Bucket=bucket, Prefix="evidence")

    # The bucket holds the COMPLIANCE version: it cannot go, nor stop versioning.
    with pytest.raises(ClientError) as not_empty:
        s3.delete_bucket(Bucket=bucket)
    assert not_empty.value.response["Error"]["Code"] == "BucketNotEmpty"
    with pytest.raises(ClientError) as suspended:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert suspended.value.response["Error"]["Code"] == "InvalidBucketState"


# -- decision 0104 ------------------------------------------------------------------------------


@pytest.fixture
def locked_bucket(s3: S3Client) -> Iterator[str]:
    """A bucket made with Object Lock whose versions carry GOVERNANCE retentions and holds
    only: emptied at the end with the bypass, holds lifted first."""
    name = unique_bucket()
    configuration = cast("CreateBucketConfigurationTypeDef", {"LocationConstraint": REGION})
    s3.create_bucket(
        Bucket=name, CreateBucketConfiguration=configuration, ObjectLockEnabledForBucket=True
    )
    yield name
    s3.delete_bucket_policy(Bucket=name)
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
        for version in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            key, vid = version["Key"], version["VersionId"]
            if "Size" in version:
                try:
                    hold = s3.get_object_legal_hold(Bucket=name, Key=key, VersionId=vid)
                except ClientError:
                    hold = None
                if hold is not None and hold["LegalHold"]["Status"] == "ON":
                    s3.put_object_legal_hold(
                        Bucket=name, Key=key, VersionId=vid, LegalHold={"Status": "OFF"}
                    )
            s3.delete_object(Bucket=name, Key=key, VersionId=vid, BypassGovernanceRetention=True)
    s3.delete_bucket(Bucket=name)


def test_multipart_uploads_and_forms_take_lock_settings(s3: S3Client, locked_bucket: str) -> None:
    bucket = locked_bucket
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    upload = s3.create_multipart_upload(
        Bucket=bucket,
        Key="backup.tar",
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=until,
        ObjectLockLegalHoldStatus="ON",
    )
    part = s3.upload_part(
        Bucket=bucket, Key="backup.tar", UploadId=upload["UploadId"], PartNumber=1, Body=b"tar"
    )
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="backup.tar",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    vid = done["VersionId"]
    head = s3.head_object(Bucket=bucket, Key="backup.tar", VersionId=vid)
    assert head["ObjectLockMode"] == "GOVERNANCE"
    assert head["ObjectLockRetainUntilDate"] == until
    assert head["ObjectLockLegalHoldStatus"] == "ON"
    with pytest.raises(ClientError) as held:
        s3.delete_object(
            Bucket=bucket, Key="backup.tar", VersionId=vid, BypassGovernanceRetention=True
        )
    _denied(held)

    # A browser form: the lock fields, named by the signed policy as every field is.
    fields = {
        "x-amz-object-lock-mode": "GOVERNANCE",
        "x-amz-object-lock-retain-until-date": until.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    post = s3.generate_presigned_post(
        bucket, "form.txt", Fields=fields, Conditions=[{k: v} for k, v in fields.items()]
    )
    reply = httpx.post(post["url"], data=post["fields"], files={"file": ("f", b"f")}, timeout=60)
    assert reply.status_code == 204, reply.text
    head = s3.head_object(Bucket=bucket, Key="form.txt")
    assert (head["ObjectLockMode"], head["ObjectLockRetainUntilDate"]) == ("GOVERNANCE", until)

    # A version that never had a hold has none to show, as on AWS.
    with pytest.raises(ClientError) as never:
        s3.get_object_legal_hold(Bucket=bucket, Key="form.txt")
    assert never.value.response["Error"]["Code"] == "NoSuchObjectLockConfiguration"
    assert never.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_a_bucket_policy_caps_the_retention_days(s3: S3Client, locked_bucket: str) -> None:
    """AWS's example policy: deny PutObjectRetention beyond 30 remaining days."""
    bucket = locked_bucket
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:PutObjectRetention",
                        "Resource": f"arn:aws:s3:::{bucket}/*",
                        "Condition": {
                            "NumericGreaterThan": {"s3:object-lock-remaining-retention-days": "30"}
                        },
                    }
                ],
            }
        ),
    )
    vid = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["VersionId"]
    now = datetime.now(UTC).replace(microsecond=0)
    with pytest.raises(ClientError) as too_long:
        s3.put_object_retention(
            Bucket=bucket,
            Key="k",
            VersionId=vid,
            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": now + timedelta(days=45)},
        )
    _denied(too_long)
    with pytest.raises(ClientError) as on_write:
        s3.put_object(
            Bucket=bucket,
            Key="k2",
            Body=b"x",
            ObjectLockMode="GOVERNANCE",
            ObjectLockRetainUntilDate=now + timedelta(days=45),
        )
    _denied(on_write)
    allowed = now + timedelta(days=10)
    s3.put_object_retention(
        Bucket=bucket,
        Key="k",
        VersionId=vid,
        Retention={"Mode": "GOVERNANCE", "RetainUntilDate": allowed},
    )
    retention = s3.get_object_retention(Bucket=bucket, Key="k", VersionId=vid)
    assert retention["Retention"] == {"Mode": "GOVERNANCE", "RetainUntilDate": allowed}
