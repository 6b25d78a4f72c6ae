"""S3 versioning through boto3 against a real ``andromede serve`` (decision 0097): the versions
kept, read and listed, delete markers made and removed, the null version of a suspended
bucket, and a versioned bucket emptied as boto3 and Terraform empty one. And one version
addressed (decision 0099): tags and ACL of a noncurrent version, its attributes, CopyObject and
UploadPartCopy from it, and an old version restored by copying it onto its key."""

from __future__ import annotations

from collections.abc import Iterator
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


@pytest.fixture
def versioned(s3: S3Client, server: ServerProcess) -> Iterator[str]:
    """A fresh bucket with versioning Enabled, emptied of every version after the test."""
    name = unique_bucket()
    create_bucket(s3, name)
    _versioning(s3, name, "Enabled")
    yield name
    _empty_versioned(server, name)


def test_tagging_and_acl_of_a_noncurrent_version(s3: S3Client, versioned: str) -> None:
    """Decision 0099 through boto3: the tags and ACL of an old version are its own."""
    old = s3.put_object(Bucket=versioned, Key="doc", Body=b"one", Tagging="gen=1")["VersionId"]
    new = s3.put_object(Bucket=versioned, Key="doc", Body=b"two", Tagging="gen=2")["VersionId"]
    put = s3.put_object_tagging(
        Bucket=versioned,
        Key="doc",
        VersionId=old,
        Tagging={"TagSet": [{"Key": "gen", "Value": "first"}, {"Key": "kept", "Value": "yes"}]},
    )
    assert put["VersionId"] == old
    got = s3.get_object_tagging(Bucket=versioned, Key="doc", VersionId=old)
    assert got["VersionId"] == old
    assert {(t["Key"], t["Value"]) for t in got["TagSet"]} == {("gen", "first"), ("kept", "yes")}
    current = s3.get_object_tagging(Bucket=versioned, Key="doc")
    assert (current["VersionId"], current["TagSet"]) == (new, [{"Key": "gen", "Value": "2"}])
    s3.delete_object_tagging(Bucket=versioned, Key="doc", VersionId=old)
    assert s3.get_object_tagging(Bucket=versioned, Key="doc", VersionId=old)["TagSet"] == []
    assert s3.get_object_tagging(Bucket=versioned, Key="doc")["TagSet"] != []

    # The old version made public-read by its own ACL; the current one stays private. (A
    # new bucket enforces owner-only ACLs and blocks public ones, as on AWS.)
    s3.put_bucket_ownership_controls(
        Bucket=versioned,
        OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]},
    )
    s3.put_public_access_block(
        Bucket=versioned,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": False,
            "IgnorePublicAcls": False,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": False,
        },
    )
    s3.put_object_acl(Bucket=versioned, Key="doc", VersionId=old, ACL="public-read")
    old_grants = s3.get_object_acl(Bucket=versioned, Key="doc", VersionId=old)["Grants"]
    new_grants = s3.get_object_acl(Bucket=versioned, Key="doc", VersionId=new)["Grants"]
    everyone = "http://acs.amazonaws.com/groups/global/AllUsers"
    assert any(g["Grantee"].get("URI") == everyone for g in old_grants)
    assert not any(g["Grantee"].get("URI") == everyone for g in new_grants)
    assert s3.get_object_acl(Bucket=versioned, Key="doc")["Grants"] == new_grants
    # A delete marker has neither: 405 MethodNotAllowed, as AWS answers.
    marker = s3.delete_object(Bucket=versioned, Key="doc")["VersionId"]
    with pytest.raises(ClientError) as refused:
        s3.get_object_tagging(Bucket=versioned, Key="doc", VersionId=marker)
    assert refused.value.response["Error"]["Code"] == "MethodNotAllowed"


def test_attributes_of_a_version(s3: S3Client, versioned: str) -> None:
    old = s3.put_object(Bucket=versioned, Key="doc", Body=b"first body")
    s3.put_object(Bucket=versioned, Key="doc", Body=b"second, longer body")
    attributes = s3.get_object_attributes(
        Bucket=versioned,
        Key="doc",
        VersionId=old["VersionId"],
        ObjectAttributes=["ETag", "ObjectSize", "StorageClass"],
    )
    assert attributes["VersionId"] == old["VersionId"]
    assert attributes["ObjectSize"] == len(b"first body")
    assert attributes["ETag"] == old["ETag"].strip('"')
    current = s3.get_object_attributes(Bucket=versioned, Key="doc", ObjectAttributes=["ObjectSize"])
    assert current["ObjectSize"] == len(b"second, longer body")
    # A version removed for good is no more.
    s3.delete_object(Bucket=versioned, Key="doc", VersionId=old["VersionId"])
    with pytest.raises(ClientError) as unknown:
        s3.get_object_attributes(
            Bucket=versioned, Key="doc", VersionId=old["VersionId"], ObjectAttributes=["ETag"]
        )
    assert unknown.value.response["Error"]["Code"] == "NoSuchVersion"


def test_copy_from_a_version_and_restore_it_onto_its_key(
    s3: S3Client, versioned: str, bucket: str
) -> None:
    old = s3.put_object(Bucket=versioned, Key="doc", Body=b"good", Metadata={"rev": "1"})
    broken = s3.put_object(Bucket=versioned, Key="doc", Body=b"broken")["VersionId"]
    source = {"Bucket": versioned, "Key": "doc", "VersionId": old["VersionId"]}
    # Into another (unversioned) bucket.
    copied = s3.copy_object(Bucket=bucket, Key="copy", CopySource=source)
    assert copied["CopySourceVersionId"] == old["VersionId"]
    got = s3.get_object(Bucket=bucket, Key="copy")
    assert (got["Body"].read(), got["Metadata"]) == (b"good", {"rev": "1"})
    # Restore: the old version copied onto its own key becomes the newest version, and the
    # history keeps all three.
    restored = s3.copy_object(Bucket=versioned, Key="doc", CopySource=source)
    assert restored["CopySourceVersionId"] == old["VersionId"]
    assert restored["VersionId"] not in (old["VersionId"], None)
    current = s3.get_object(Bucket=versioned, Key="doc")
    assert (current["Body"].read(), current["VersionId"]) == (b"good", restored["VersionId"])
    versions = s3.list_object_versions(Bucket=versioned, Prefix="doc")["Versions"]
    assert [v["VersionId"] for v in versions] == [restored["VersionId"], broken, old["VersionId"]]
    # A delete marker is no copy source.
    marker = s3.delete_object(Bucket=versioned, Key="doc")["VersionId"]
    with pytest.raises(ClientError) as refused:
        s3.copy_object(
            Bucket=bucket,
            Key="nope",
            CopySource={"Bucket": versioned, "Key": "doc", "VersionId": marker},
        )
    assert refused.value.response["Error"]["Code"] == "InvalidRequest"


def test_upload_part_copy_from_a_version(s3: S3Client, versioned: str) -> None:
    part = b"a" * (5 * 1024 * 1024)
    old = s3.put_object(Bucket=versioned, Key="big", Body=part)["VersionId"]
    s3.put_object(Bucket=versioned, Key="big", Body=b"small now")
    upload = s3.create_multipart_upload(Bucket=versioned, Key="joined")["UploadId"]
    source = {"Bucket": versioned, "Key": "big", "VersionId": old}
    first = s3.upload_part_copy(
        Bucket=versioned, Key="joined", UploadId=upload, PartNumber=1, CopySource=source
    )
    assert first["CopySourceVersionId"] == old
    second = s3.upload_part_copy(
        Bucket=versioned,
        Key="joined",
        UploadId=upload,
        PartNumber=2,
        CopySource=source,
        CopySourceRange="bytes=0-9",
    )
    done = s3.complete_multipart_upload(
        Bucket=versioned,
        Key="joined",
        UploadId=upload,
        MultipartUpload={
            "Parts": [
                {"PartNumber": 1, "ETag": first["CopyPartResult"]["ETag"]},
                {"PartNumber": 2, "ETag": second["CopyPartResult"]["ETag"]},
            ]
        },
    )
    assert done["VersionId"] != "null"
    body = s3.get_object(Bucket=versioned, Key="joined")["Body"].read()
    assert body == part + b"a" * 10
