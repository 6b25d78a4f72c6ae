"""S3 versioning through boto3 against a real ``andromede serve`` (decision 0097): the versions
kept, read and listed, delete markers made and removed, the null version of a suspended
bucket, and a versioned bucket emptied as boto3 and Terraform empty one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from e2e.helpers import create_bucket, unique_bucket
from support.server import REGION, ServerProcess

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.e2e


def _versioning(s3: S3Client, bucket: str, status: Literal["Enabled", "Suspended"]) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})


def test_versions_are_kept_listed_read_and_deleted(s3: S3Client, server: ServerProcess) -> None:
    bucket = unique_bucket()
    create_bucket(s3, bucket)
    try:
        assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
        _versioning(s3, bucket, "Enabled")
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        first = s3.put_object(Bucket=bucket, Key="doc", Body=b"first")["VersionId"]
        second = s3.put_object(Bucket=bucket, Key="doc", Body=b"second")["VersionId"]
        assert first != second
        assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"second"
        old = s3.get_object(Bucket=bucket, Key="doc", VersionId=first)
        assert old["Body"].read() == b"first" and old["VersionId"] == first
        listed = s3.list_object_versions(Bucket=bucket)
        assert [(v["VersionId"], v["IsLatest"]) for v in listed["Versions"]] == [
            (second, True),
            (first, False),
        ]
        marker = s3.delete_object(Bucket=bucket, Key="doc")
        assert marker["DeleteMarker"] is True
        with pytest.raises(ClientError) as missing:
            s3.get_object(Bucket=bucket, Key="doc")
        assert missing.value.response["Error"]["Code"] == "NoSuchKey"
        assert (
            missing.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"]
            == "true"
        )
        assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
        markers = s3.list_object_versions(Bucket=bucket)["DeleteMarkers"]
        assert [m["VersionId"] for m in markers] == [marker["VersionId"]]
        # Removing the marker brings the object back.
        s3.delete_object(Bucket=bucket, Key="doc", VersionId=marker["VersionId"])
        assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"second"
        # Suspended: a PUT writes the null version, and the next one replaces it.
        _versioning(s3, bucket, "Suspended")
        s3.put_object(Bucket=bucket, Key="doc", Body=b"null one")
        s3.put_object(Bucket=bucket, Key="doc", Body=b"null two")
        ids = [v["VersionId"] for v in s3.list_object_versions(Bucket=bucket)["Versions"]]
        assert ids == ["null", second, first]
        assert s3.get_object(Bucket=bucket, Key="doc", VersionId="null")["Body"].read() == (
            b"null two"
        )
        with pytest.raises(ClientError) as not_empty:
            s3.delete_bucket(Bucket=bucket)
        assert not_empty.value.response["Error"]["Code"] == "BucketNotEmpty"
    finally:
        _empty_versioned(server, bucket)


def _empty_versioned(server: ServerProcess, bucket: str) -> None:
    """boto3's own way: every version and marker by DeleteObjects with VersionId."""
    access_key, secret_key = server.credentials()
    session = boto3.session.Session(
        aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=REGION
    )
    resource = session.resource(
        "s3", endpoint_url=server.endpoint, config=Config(s3={"addressing_style": "path"})
    )
    resource.Bucket(bucket).object_versions.delete()
    resource.Bucket(bucket).delete()


def test_a_versioned_bucket_is_emptied_by_boto3_and_deleted(
    s3: S3Client, server: ServerProcess
) -> None:
    bucket = unique_bucket()
    create_bucket(s3, bucket)
    _versioning(s3, bucket, "Enabled")
    for n in range(5):
        s3.put_object(Bucket=bucket, Key=f"k{n % 2}", Body=b"x" * n)
    s3.delete_object(Bucket=bucket, Key="k0")
    assert len(s3.list_object_versions(Bucket=bucket)["Versions"]) == 5
    _empty_versioned(server, bucket)
    names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert bucket not in names
