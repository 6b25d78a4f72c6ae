"""An unversioned bucket's versions against a real ``andromede serve`` (decision 0078), as the
tools that empty buckets ask for them: boto3's paginator and ``bucket.object_versions.delete()``,
and the aws CLI's ``s3api list-object-versions`` and ``get-bucket-versioning``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest

from e2e.clients import aws_cli
from support.server import REGION, ServerProcess

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.e2e


def test_boto3_lists_pages_and_empties_a_bucket_by_versions(
    server: ServerProcess, s3: S3Client, bucket: str
) -> None:
    name = bucket
    keys = [f"k{n:03d}" for n in range(25)]
    for key in keys:
        s3.put_object(Bucket=name, Key=key, Body=key.encode())
    assert "Status" not in s3.get_bucket_versioning(Bucket=name)
    pages = s3.get_paginator("list_object_versions").paginate(
        Bucket=name, PaginationConfig={"PageSize": 10}
    )
    listed = [version for page in pages for version in page.get("Versions", [])]
    assert [v["Key"] for v in listed] == keys
    assert {(v["VersionId"], v["IsLatest"]) for v in listed} == {("null", True)}

    access_key, secret_key = server.credentials()
    resource = boto3.session.Session(
        aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=REGION
    ).resource("s3", endpoint_url=server.endpoint)
    bucket = resource.Bucket(name)
    bucket.object_versions.delete()  # DeleteObjects naming each key's "null" version
    assert s3.list_objects_v2(Bucket=name)["KeyCount"] == 0


def test_aws_cli_reads_versioning_and_versions(
    server: ServerProcess, s3: S3Client, bucket: str, tmp_path: Path
) -> None:
    name = bucket
    s3.put_object(Bucket=name, Key="only", Body=b"one")
    aws = aws_cli(server, tmp_path)
    versioning = aws("s3api", "get-bucket-versioning", "--bucket", name)
    assert versioning.stdout.strip() == ""  # nothing to say: never versioned
    listed = json.loads(aws("s3api", "list-object-versions", "--bucket", name).stdout)
    assert [(v["Key"], v["VersionId"]) for v in listed["Versions"]] == [("only", "null")]
    aws("s3api", "delete-object", "--bucket", name, "--key", "only", "--version-id", "null")
    assert s3.list_objects_v2(Bucket=name)["KeyCount"] == 0
