"""Bucket access configuration through boto3: Object Ownership and Block Public Access,
with AWS's defaults for new buckets."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from botocore.exceptions import ClientError

from e2e.helpers import REGION

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def error_code(caught: pytest.ExceptionInfo[ClientError]) -> str:
    return str(caught.value.response["Error"]["Code"])


def test_new_buckets_enforce_bucket_ownership(s3: S3Client, bucket: str) -> None:
    controls = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]
    assert controls["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_ownership_controls_round_trip_and_delete(s3: S3Client, bucket: str) -> None:
    s3.put_bucket_ownership_controls(
        Bucket=bucket,
        OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]},
    )
    rules = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerPreferred"}]
    s3.delete_bucket_ownership_controls(Bucket=bucket)
    with pytest.raises(ClientError) as caught:
        s3.get_bucket_ownership_controls(Bucket=bucket)
    assert error_code(caught) == "OwnershipControlsNotFoundError"


def test_unknown_ownership_value_is_malformed(s3: S3Client, bucket: str) -> None:
    with pytest.raises(ClientError) as caught:
        s3.put_bucket_ownership_controls(
            Bucket=bucket,
            OwnershipControls={"Rules": [{"ObjectOwnership": "Everyone"}]},  # type: ignore[typeddict-item]
        )
    assert error_code(caught) == "MalformedXML"


def test_create_bucket_takes_the_object_ownership_header(s3: S3Client, bucket: str) -> None:
    name = bucket + "-ow"
    s3.create_bucket(
        Bucket=name,
        CreateBucketConfiguration={"LocationConstraint": REGION},  # type: ignore[typeddict-item]
        ObjectOwnership="ObjectWriter",
    )
    try:
        rules = s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"]
        assert rules == [{"ObjectOwnership": "ObjectWriter"}]
    finally:
        s3.delete_bucket(Bucket=name)


def test_new_buckets_block_all_public_access(s3: S3Client, bucket: str) -> None:
    config = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert config == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }


def test_public_access_block_round_trip_and_delete(s3: S3Client, bucket: str) -> None:
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={"BlockPublicAcls": True, "BlockPublicPolicy": False},
    )
    config = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert config == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": False,
        "BlockPublicPolicy": False,
        "RestrictPublicBuckets": False,
    }
    s3.delete_public_access_block(Bucket=bucket)
    with pytest.raises(ClientError) as caught:
        s3.get_public_access_block(Bucket=bucket)
    assert error_code(caught) == "NoSuchPublicAccessBlockConfiguration"


def test_access_configuration_of_a_missing_bucket_is_no_such_bucket(s3: S3Client) -> None:
    with pytest.raises(ClientError) as caught:
        s3.get_public_access_block(Bucket="no-such-bucket-for-access-tests")
    assert error_code(caught) == "NoSuchBucket"
