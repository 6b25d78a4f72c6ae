"""S3 Object Lock through boto3 against a real ``andromede serve`` (decision 0102): a bucket
made with Object Lock, a COMPLIANCE version the root user cannot delete, a GOVERNANCE one it
can with the bypass, and a legal hold that blocks until lifted.

The COMPLIANCE version stays in its bucket until its date, a day away, as Object Lock
promises: the bucket is left behind in the session server's data folder, which goes with it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, cast

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
