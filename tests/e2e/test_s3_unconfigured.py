"""The configurations no bucket here has, read and written by boto3 and the aws CLI against a
real ``andromede serve`` as against a bucket on S3 that never had them (decision 0083)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from botocore.exceptions import ClientError

from e2e.clients import aws_cli
from support.server import ServerProcess

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.e2e


def test_boto3_reads_and_writes_the_state_every_bucket_is_in(s3: S3Client, bucket: str) -> None:
    notification = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert not any(key.endswith("Configurations") for key in notification)
    assert "Status" not in s3.get_bucket_accelerate_configuration(Bucket=bucket)
    assert s3.get_bucket_request_payment(Bucket=bucket)["Payer"] == "BucketOwner"
    for read, code in (
        (s3.get_bucket_replication, "ReplicationConfigurationNotFoundError"),
        (s3.get_object_lock_configuration, "ObjectLockConfigurationNotFoundError"),
    ):
        with pytest.raises(ClientError) as missing:
            read(Bucket=bucket)
        assert missing.value.response["Error"]["Code"] == code
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    s3.put_bucket_request_payment(
        Bucket=bucket, RequestPaymentConfiguration={"Payer": "BucketOwner"}
    )
    s3.delete_bucket_replication(Bucket=bucket)
    with pytest.raises(ClientError) as unversioned:
        s3.put_object_lock_configuration(
            Bucket=bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"}
        )
    assert unversioned.value.response["Error"]["Code"] == "InvalidBucketState"
    s3.put_object(Bucket=bucket, Key="report", Body=b"figures")
    for lock_call in (
        lambda: s3.get_object_retention(Bucket=bucket, Key="report"),
        lambda: s3.put_object_legal_hold(Bucket=bucket, Key="report", LegalHold={"Status": "ON"}),
        lambda: s3.put_object(
            Bucket=bucket, Key="locked", Body=b"x", ObjectLockLegalHoldStatus="ON"
        ),
    ):
        with pytest.raises(ClientError) as no_lock:
            lock_call()
        error = no_lock.value.response["Error"]
        assert (error["Code"], error["Message"]) == (
            "InvalidRequest",
            "Bucket is missing Object Lock Configuration",
        )


def test_aws_cli_reads_them(server: ServerProcess, bucket: str, tmp_path: Path) -> None:
    aws = aws_cli(server, tmp_path)
    payment = json.loads(aws("s3api", "get-bucket-request-payment", "--bucket", bucket).stdout)
    assert payment == {"Payer": "BucketOwner"}
    missing = aws("s3api", "get-bucket-replication", "--bucket", bucket, check=False)
    assert missing.returncode != 0 and "ReplicationConfigurationNotFoundError" in missing.stderr
