"""S3 Inventory against a real ``andromede serve`` (decision 0154): boto3 puts a configuration
and the destination's bucket policy for S3's delivery principal, a server whose reporter passes
every half second writes the report, and boto3 reads the manifest, its checksum and the gzip
CSV rows back; a Parquet report of the same bucket (decision 0170) is read back by pyarrow."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError

from e2e.helpers import REGION, boto3_client
from support.server import ServerProcess, running_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def eager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server whose inventory reporter passes every half second."""
    data_dir = tmp_path_factory.mktemp("inventory") / "data"
    with running_server(data_dir, extra_env={"ANDROMEDE_INVENTORY_INTERVAL": "0.5"}) as server:
        yield server


def _policy(destination: str, source: str, account: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "InventoryAndAnalyticsExamplePolicy",
                    "Effect": "Allow",
                    "Principal": {"Service": "s3.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": [f"arn:aws:s3:::{destination}/*"],
                    "Condition": {
                        "ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{source}"},
                        "StringEquals": {
                            "aws:SourceAccount": account,
                            "s3:x-amz-acl": "bucket-owner-full-control",
                        },
                    },
                }
            ],
        }
    )


def _account(server: ServerProcess) -> str:
    access_key, secret_key = server.credentials()
    sts = boto3.session.Session(
        aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=REGION
    ).client("sts", endpoint_url=server.endpoint)
    return str(sts.get_caller_identity()["Account"])


def _manifest_keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return [item["Key"] for item in listed if item["Key"].endswith("/manifest.json")]


def test_boto3_reads_back_the_report_of_a_configuration_it_put(eager: ServerProcess) -> None:
    s3 = boto3_client(eager)
    source, destination = "ledger", "ledger-inventory"
    for name in (source, destination):
        s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=source, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=source, Key="2026/jan.csv", Body=b"one")
    s3.put_object(Bucket=source, Key="2026/jan.csv", Body=b"two!")
    s3.put_object(Bucket=source, Key="2026/feb csv", Body=b"three", ChecksumAlgorithm="SHA256")
    s3.put_object(Bucket=source, Key="tmp/skip", Body=b"x")
    account = _account(eager)
    s3.put_bucket_policy(Bucket=destination, Policy=_policy(destination, source, account))
    configuration = {
        "Id": "weekly-audit",
        "IsEnabled": True,
        "Destination": {
            "S3BucketDestination": {
                "AccountId": account,
                "Bucket": f"arn:aws:s3:::{destination}",
                "Format": "CSV",
                "Prefix": "inventory",
                "Encryption": {"SSES3": {}},
            }
        },
        "Filter": {"Prefix": "2026/"},
        "IncludedObjectVersions": "All",
        "OptionalFields": ["Size", "EncryptionStatus", "ReplicationStatus", "ChecksumAlgorithm"],
        "Schedule": {"Frequency": "Weekly"},
    }
    s3.put_bucket_inventory_configuration(
        Bucket=source, Id="weekly-audit", InventoryConfiguration=configuration
    )
    got = s3.get_bucket_inventory_configuration(Bucket=source, Id="weekly-audit")
    assert got["InventoryConfiguration"]["OptionalFields"] == [
        "Size",
        "ReplicationStatus",
        "EncryptionStatus",
        "ChecksumAlgorithm",
    ]
    listed = s3.list_bucket_inventory_configurations(Bucket=source)
    assert [c["Id"] for c in listed["InventoryConfigurationList"]] == ["weekly-audit"]
    s3.put_bucket_inventory_configuration(
        Bucket=source,
        Id="parquet",
        InventoryConfiguration={
            **configuration,
            "Id": "parquet",
            "Destination": {
                "S3BucketDestination": {
                    "Bucket": f"arn:aws:s3:::{destination}",
                    "Format": "Parquet",
                    "Prefix": "lake",
                }
            },
            "IncludedObjectVersions": "Current",
            "OptionalFields": ["Size", "LastModifiedDate", "IsMultipartUploaded"],
        },
    )

    prefix = f"inventory/{source}/weekly-audit/"
    deadline = time.monotonic() + 60
    manifests: list[str] = []
    while time.monotonic() < deadline and not manifests:
        time.sleep(0.3)
        manifests = _manifest_keys(s3, destination, prefix)
    assert len(manifests) == 1, "no report within a minute"
    manifest_bytes = s3.get_object(Bucket=destination, Key=manifests[0])["Body"].read()
    checksum_key = manifests[0].replace("manifest.json", "manifest.checksum")
    checksum = s3.get_object(Bucket=destination, Key=checksum_key)["Body"].read().decode()
    assert checksum == hashlib.md5(manifest_bytes, usedforsecurity=False).hexdigest()
    manifest = json.loads(manifest_bytes)
    assert manifest["sourceBucket"] == source
    assert manifest["destinationBucket"] == f"arn:aws:s3:::{destination}"
    assert manifest["fileSchema"] == (
        "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, ReplicationStatus,"
        " EncryptionStatus, ChecksumAlgorithm"
    )
    rows: list[list[str]] = []
    for entry in manifest["files"]:
        head = s3.head_object(Bucket=destination, Key=entry["key"])
        assert head["ContentLength"] == entry["size"]
        assert head["ServerSideEncryption"] == "AES256"
        data = s3.get_object(Bucket=destination, Key=entry["key"])["Body"].read()
        assert hashlib.md5(data, usedforsecurity=False).hexdigest() == entry["MD5checksum"]
        rows.extend(csv.reader(io.StringIO(gzip.decompress(data).decode())))
    versions = s3.list_object_versions(Bucket=source, Prefix="2026/")["Versions"]
    assert sorted((r[1], r[2], r[3], r[5]) for r in rows) == sorted(
        (
            v["Key"].replace(" ", "+"),
            v["VersionId"],
            "true" if v["IsLatest"] else "false",
            str(v["Size"]),
        )
        for v in versions
    )
    assert {r[7] for r in rows} == {"SSE-S3"} and {r[6] for r in rows} == {""}
    assert {r[1]: r[8] for r in rows}["2026/feb+csv"] == "SHA256"
    hive = s3.list_objects_v2(Bucket=destination, Prefix=f"{prefix}hive/")["Contents"]
    symlink = s3.get_object(Bucket=destination, Key=hive[0]["Key"])["Body"].read().decode()
    assert symlink.splitlines() == [f"s3://{destination}/{f['key']}" for f in manifest["files"]]
    # One report a week: the passes since have made no other.
    time.sleep(1.5)
    assert _manifest_keys(s3, destination, prefix) == manifests
    _read_parquet_report(s3, source, destination)
    s3.delete_bucket_inventory_configuration(Bucket=source, Id="weekly-audit")
    with pytest.raises(ClientError) as gone:
        s3.get_bucket_inventory_configuration(Bucket=source, Id="weekly-audit")
    assert gone.value.response["Error"]["Code"] == "NoSuchConfiguration"


def _read_parquet_report(s3: Any, source: str, destination: str) -> None:
    """The Parquet report of the current objects, as Athena or Spark would find it."""
    deadline = time.monotonic() + 30
    manifests: list[str] = []
    while time.monotonic() < deadline and not manifests:
        manifests = _manifest_keys(s3, destination, f"lake/{source}/parquet/")
        time.sleep(0.2)
    assert len(manifests) == 1, "no Parquet report"
    manifest = json.loads(s3.get_object(Bucket=destination, Key=manifests[0])["Body"].read())
    assert manifest["fileFormat"] == "Parquet"
    assert manifest["fileSchema"] == (
        "message s3.inventory {  required binary bucket (STRING);  required binary key (STRING);"
        "  optional int64 size;  optional int64 last_modified_date (TIMESTAMP(MILLIS,true));"
        "  optional boolean is_multipart_uploaded;}"
    )
    rows: list[dict[str, Any]] = []
    for entry in manifest["files"]:
        assert entry["key"].endswith(".parquet")
        data = s3.get_object(Bucket=destination, Key=entry["key"])["Body"].read()
        assert hashlib.md5(data, usedforsecurity=False).hexdigest() == entry["MD5checksum"]
        rows.extend(pq.read_table(io.BytesIO(data)).to_pylist())
    listed = s3.list_objects_v2(Bucket=source, Prefix="2026/")["Contents"]
    assert sorted((r["key"], r["size"], r["last_modified_date"]) for r in rows) == sorted(
        (o["Key"], o["Size"], o["LastModified"]) for o in listed
    )
    assert {r["bucket"] for r in rows} == {source}
    assert {r["is_multipart_uploaded"] for r in rows} == {False}
