"""S3 Storage Lens against a real ``andromede serve`` (decision 0415): boto3's ``s3control``
puts, reads, lists, tags and deletes configurations; a server whose export passes every
second writes an enabled configuration's metrics into the destination its bucket policy
opens to ``storage-lens.s3.amazonaws.com``, and boto3 reads the manifest and the CSV back,
checked against what the buckets really hold. A destination whose policy does not open it
gets nothing."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from e2e.helpers import REGION, boto3_client
from e2e.test_s3_inventory import _account
from e2e.test_s3control import s3control_client
from support.server import ServerProcess, running_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def eager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server whose Storage Lens export period is two seconds."""
    data_dir = tmp_path_factory.mktemp("storagelens") / "data"
    env = {"ANDROMEDE_STORAGE_LENS_EXPORT_INTERVAL": "2"}
    with running_server(data_dir, extra_env=env) as server:
        yield server


def _policy(destination: str, account: str, config_id: str) -> str:
    """AWS's example policy for a Storage Lens export destination."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "S3StorageLensExamplePolicy",
                    "Effect": "Allow",
                    "Principal": {"Service": "storage-lens.s3.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": [f"arn:aws:s3:::{destination}/lens/StorageLens/{account}/*"],
                    "Condition": {
                        "StringEquals": {
                            "s3:x-amz-acl": "bucket-owner-full-control",
                            "aws:SourceAccount": account,
                            "aws:SourceArn": (
                                f"arn:aws:s3:{REGION}:{account}:storage-lens/{config_id}"
                            ),
                        }
                    },
                }
            ],
        }
    )


def _configuration(config_id: str, account: str, destination: str) -> dict[str, Any]:
    return {
        "Id": config_id,
        "AccountLevel": {"BucketLevel": {}},
        "Exclude": {"Buckets": [f"arn:aws:s3:::{destination}"]},
        "DataExport": {
            "S3BucketDestination": {
                "Format": "CSV",
                "OutputSchemaVersion": "V_1",
                "AccountId": account,
                "Arn": f"arn:aws:s3:::{destination}",
                "Prefix": "lens",
                "Encryption": {"SSES3": {}},
            }
        },
        "IsEnabled": True,
    }


def _manifests(s3: Any, bucket: str, prefix: str) -> list[str]:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return [item["Key"] for item in listed if item["Key"].endswith("/manifest.json")]


def test_boto3_configures_storage_lens_and_reads_its_export_back(eager: ServerProcess) -> None:
    s3 = boto3_client(eager)
    account = _account(eager)
    access_key, secret_key = eager.credentials()
    control = s3control_client(eager, access_key, secret_key)
    for name in ("lens-data", "lens-logs", "lens-reports", "lens-closed"):
        s3.create_bucket(Bucket=name)
    s3.put_object(Bucket="lens-data", Key="a", Body=b"x" * 1000)
    s3.put_object(Bucket="lens-data", Key="b/c", Body=b"y" * 24)
    s3.put_object(Bucket="lens-logs", Key="log", Body=b"z" * 7)
    s3.put_bucket_policy(
        Bucket="lens-reports", Policy=_policy("lens-reports", account, "dashboard")
    )

    config = _configuration("dashboard", account, "lens-reports")
    control.put_storage_lens_configuration(
        ConfigId="dashboard",
        AccountId=account,
        StorageLensConfiguration=config,
        Tags=[{"Key": "team", "Value": "storage"}],
    )
    got = control.get_storage_lens_configuration(ConfigId="dashboard", AccountId=account)
    arn = f"arn:aws:s3:{REGION}:{account}:storage-lens/dashboard"
    assert got["StorageLensConfiguration"] == {**config, "StorageLensArn": arn}
    tags = control.get_storage_lens_configuration_tagging(ConfigId="dashboard", AccountId=account)
    assert tags["Tags"] == [{"Key": "team", "Value": "storage"}]
    # A second configuration whose destination's policy does not open it to Storage Lens.
    closed = _configuration("closed", account, "lens-closed")
    control.put_storage_lens_configuration(
        ConfigId="closed", AccountId=account, StorageLensConfiguration=closed
    )
    listed = control.list_storage_lens_configurations(AccountId=account)
    assert [(c["Id"], c["StorageLensArn"], c["HomeRegion"], c["IsEnabled"])
        for c in listed["StorageLensConfigurationList"]] == [
        ("closed", f"arn:aws:s3:{REGION}:{account}:storage-lens/closed", REGION, True),
        ("dashboard", arn, REGION, True),
    ]  # fmt: skip

    prefix = f"lens/StorageLens/{account}/dashboard/V_1/"
    deadline = time.monotonic() + 60
    while not (found := _manifests(s3, "lens-reports", prefix)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert found, "no Storage Lens export arrived"
    manifest = json.loads(s3.get_object(Bucket="lens-reports", Key=found[0])["Body"].read())
    assert manifest["sourceAccountId"] == account
    assert manifest["configId"] == "dashboard"
    assert manifest["destinationBucket"] == "arn:aws:s3:::lens-reports"
    assert manifest["reportFormat"] == "CSV"
    assert manifest["reportSchema"] == (
        "version_number,configuration_id,report_date,aws_account_number,aws_region,"
        "storage_class,record_type,record_value,bucket_name,metric_name,metric_value"
    )
    assert found[0] == f"{prefix}manifests/dt={manifest['reportDate']}/manifest.json"
    (data_file,) = manifest["reportFiles"]
    assert data_file["key"].startswith(f"{prefix}reports/dt={manifest['reportDate']}/")
    body = s3.get_object(Bucket="lens-reports", Key=data_file["key"])["Body"].read()
    assert len(body) == data_file["size"]
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    figures = {(r["record_type"], r["bucket_name"], r["metric_name"]): r for r in rows}
    for bucket, size, count in (("lens-data", 1024, 2), ("lens-logs", 7, 1),
            ("lens-closed", 0, 0)):  # fmt: skip
        assert figures[("BUCKET", bucket, "StorageBytes")]["metric_value"] == str(size)
        assert figures[("BUCKET", bucket, "ObjectCount")]["metric_value"] == str(count)
    assert ("BUCKET", "lens-reports", "StorageBytes") not in figures  # excluded
    assert figures[("ACCOUNT", "", "StorageBytes")]["metric_value"] == "1031"
    assert figures[("ACCOUNT", "", "ObjectCount")]["metric_value"] == "3"
    row = figures[("BUCKET", "lens-data", "StorageBytes")]
    assert (row["version_number"], row["configuration_id"], row["aws_account_number"],
        row["aws_region"], row["storage_class"], row["record_value"]) == (
        "V_1", "dashboard", account, REGION, "STANDARD", "lens-data")  # fmt: skip
    assert _manifests(s3, "lens-closed", "") == []

    control.delete_storage_lens_configuration_tagging(ConfigId="dashboard", AccountId=account)
    tags = control.get_storage_lens_configuration_tagging(ConfigId="dashboard", AccountId=account)
    assert tags["Tags"] == []
    for config_id in ("dashboard", "closed"):
        control.delete_storage_lens_configuration(ConfigId=config_id, AccountId=account)
    with pytest.raises(ClientError) as caught:
        control.get_storage_lens_configuration(ConfigId="dashboard", AccountId=account)
    assert caught.value.response["Error"]["Code"] == "NoSuchConfiguration"
    assert (
        control.list_storage_lens_configurations(AccountId=account).get(
            "StorageLensConfigurationList", []
        )
        == []
    )
