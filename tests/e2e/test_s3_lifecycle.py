"""Lifecycle against a real ``andromede serve`` (decision 0082): boto3 and the aws CLI put and
read rules, and a server whose passes run every half second expires what a rule selects and
aborts old uploads, each recorded in the audit log; objects are told when a rule expires them
(``x-amz-expiration``, decision 0086)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from botocore.exceptions import ClientError

from andromede.http.dates import http_date
from andromede.storage.lifecycle import due_at
from e2e.clients import aws_cli
from e2e.helpers import boto3_client
from support.audit_events import recorded_events
from support.server import ServerProcess, running_server

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def eager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server whose lifecycle passes run every half second."""
    data_dir = tmp_path_factory.mktemp("lifecycle") / "data"
    with running_server(data_dir, extra_env={"ANDROMEDE_LIFECYCLE_INTERVAL": "0.5"}) as server:
        yield server


def test_rules_round_trip_with_boto3(s3: S3Client, bucket: str) -> None:
    with pytest.raises(ClientError) as missing:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert missing.value.response["Error"]["Code"] == "NoSuchLifecycleConfiguration"
    rules = [
        {
            "ID": "tmp",
            "Filter": {"Prefix": "tmp/"},
            "Status": "Enabled",
            "Expiration": {"Days": 7},
        },
        {
            "ID": "uploads",
            "Filter": {"Prefix": ""},
            "Status": "Enabled",
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 3},
        },
        {
            "ID": "tagged",
            "Filter": {
                "And": {
                    "Prefix": "logs/",
                    "Tags": [{"Key": "retention", "Value": "short"}],
                    "ObjectSizeGreaterThan": 1024,
                }
            },
            "Status": "Disabled",
            "Expiration": {"Days": 1},
        },
    ]
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={"Rules": rules},  # type: ignore[typeddict-item]
    )
    read = s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert read["Rules"] == rules
    assert read["TransitionDefaultMinimumObjectSize"] == "all_storage_classes_128K"
    with pytest.raises(ClientError) as refused:
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket,
            LifecycleConfiguration={
                "Rules": [
                    {
                        "Filter": {},
                        "Status": "Enabled",
                        "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}],
                    }
                ]
            },
        )
    assert refused.value.response["Error"]["Code"] == "NotImplemented"
    s3.delete_bucket_lifecycle(Bucket=bucket)
    with pytest.raises(ClientError):
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)


def test_aws_cli_puts_and_reads_rules(
    server: ServerProcess, s3: S3Client, bucket: str, tmp_path: Path
) -> None:
    aws = aws_cli(server, tmp_path)
    document = {
        "Rules": [{"ID": "scratch", "Filter": {"Prefix": "scratch/"}, "Status": "Enabled",
                   "Expiration": {"Days": 1}}]
    }  # fmt: skip
    aws(
        "s3api",
        "put-bucket-lifecycle-configuration",
        "--bucket",
        bucket,
        "--lifecycle-configuration",
        json.dumps(document),
    )
    shown = json.loads(
        aws("s3api", "get-bucket-lifecycle-configuration", "--bucket", bucket).stdout
    )
    assert shown["Rules"] == document["Rules"]


def test_a_server_expires_what_its_rules_select_and_audits_it(eager: ServerProcess) -> None:
    s3 = boto3_client(eager)
    s3.create_bucket(Bucket="expiring")
    for key in ("tmp/a", "tmp/b", "keep/a"):
        s3.put_object(Bucket="expiring", Key=key, Body=b"x")
    upload = s3.create_multipart_upload(Bucket="expiring", Key="tmp/upload")
    s3.put_bucket_lifecycle_configuration(
        Bucket="expiring",
        LifecycleConfiguration={
            "Rules": [
                {
                    # A date already past: everything the rule selects is due.
                    "ID": "past",
                    "Filter": {"Prefix": "tmp/"},
                    "Status": "Enabled",
                    "Expiration": {"Date": "2020-01-01T00:00:00Z"},  # type: ignore[typeddict-item]
                }
            ]
        },
    )
    deadline = time.monotonic() + 30
    keys: list[str] = []
    while time.monotonic() < deadline:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="expiring").get("Contents", [])]
        if keys == ["keep/a"]:
            break
        time.sleep(0.2)
    assert keys == ["keep/a"]
    # Days are whole days: an upload started a moment ago is not aborted by any rule.
    uploads = s3.list_multipart_uploads(Bucket="expiring").get("Uploads", [])
    assert [u["UploadId"] for u in uploads] == [upload["UploadId"]]
    rows: list[tuple[str, str, str, str]] = []
    while time.monotonic() < deadline:
        rows = [
            (e.principal, e.action, e.resource, e.outcome.value)
            for e in recorded_events(eager.data_dir / "metadata.sqlite3")
            if e.principal == "s3.lifecycle"
        ]
        if len(rows) == 2:
            break
        time.sleep(0.2)
    assert sorted(rows) == [
        ("s3.lifecycle", "s3:DeleteObject", f"arn:aws:s3:::expiring/tmp/{name}", "success")
        for name in ("a", "b")
    ]


def test_objects_are_told_when_a_rule_expires_them(eager: ServerProcess) -> None:
    """boto3's ``Expiration`` on the five answers that carry it (decision 0086)."""
    s3 = boto3_client(eager)
    s3.create_bucket(Bucket="told")
    # A date years ahead of the wall clock, never a fixed one: once a fixed date passed, this
    # eager server would expire the objects the test then reads (a rule's date is a midnight UTC).
    date = datetime(datetime.now(UTC).year + 5, 1, 1, tzinfo=UTC)
    s3.put_bucket_lifecycle_configuration(
        Bucket="told",
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "dated",
                    "Filter": {"Prefix": "dated/"},
                    "Status": "Enabled",
                    "Expiration": {"Date": date},
                },
                {
                    "ID": "a month",
                    "Filter": {"Prefix": "month/"},
                    "Status": "Enabled",
                    "Expiration": {"Days": 30},
                },
            ]
        },
    )
    # The worker that took the PUT knows at once; the others re-read the rules every
    # lifecycle_interval (half a second here).
    time.sleep(1.5)
    dated = f'expiry-date="{date:%a, %d %b %Y} 00:00:00 GMT", rule-id="dated"'  # C locale
    assert s3.put_object(Bucket="told", Key="dated/a", Body=b"x")["Expiration"] == dated
    assert s3.head_object(Bucket="told", Key="dated/a")["Expiration"] == dated
    got = s3.get_object(Bucket="told", Key="dated/a")
    assert got["Body"].read() == b"x"
    assert got["Expiration"] == dated
    copied = s3.copy_object(Bucket="told", Key="dated/b", CopySource="told/dated/a")
    assert copied["Expiration"] == dated
    upload = s3.create_multipart_upload(Bucket="told", Key="dated/c")
    part = s3.upload_part(
        Bucket="told", Key="dated/c", UploadId=upload["UploadId"], PartNumber=1, Body=b"y"
    )
    completed = s3.complete_multipart_upload(
        Bucket="told",
        Key="dated/c",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert completed["Expiration"] == dated
    # Days count from the last modification, up to the next midnight UTC; the ID URL-encoded.
    s3.put_object(Bucket="told", Key="month/a", Body=b"x")
    head = s3.head_object(Bucket="told", Key="month/a")
    modified = head["LastModified"]  # to the second: the object's own time is within it
    assert head["Expiration"] in {
        f'expiry-date="{http_date(due_at(moment, 30))}", rule-id="a%20month"'
        for moment in (modified, modified + timedelta(seconds=1))
    }
    assert "Expiration" not in s3.put_object(Bucket="told", Key="other/a", Body=b"x")
    assert "Expiration" not in s3.head_object(Bucket="told", Key="other/a")
    s3.delete_bucket_lifecycle(Bucket="told")
    time.sleep(1.5)
    assert "Expiration" not in s3.head_object(Bucket="told", Key="dated/a")
