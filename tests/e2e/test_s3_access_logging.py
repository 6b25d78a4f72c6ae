"""Server access logging against a real ``andromede serve`` (decision 0084): boto3 and the aws
CLI turn it on, and a server delivering every half second writes the requests' records, in
S3's format, into the target bucket."""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from e2e.clients import aws_cli
from e2e.helpers import boto3_client, unique_bucket
from support.server import ServerProcess, running_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def eager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server that delivers access records every half second."""
    data_dir = tmp_path_factory.mktemp("access-logs") / "data"
    env = {"ANDROMEDE_SERVER_ACCESS_LOG_INTERVAL": "0.5"}
    with running_server(data_dir, extra_env=env) as server:
        yield server


def test_boto3_requests_land_in_the_target_bucket(eager: ServerProcess) -> None:
    s3 = boto3_client(eager)
    for name in ("orders", "orders-logs"):
        s3.create_bucket(Bucket=name)
    s3.put_bucket_logging(
        Bucket="orders",
        BucketLoggingStatus={
            "LoggingEnabled": {"TargetBucket": "orders-logs", "TargetPrefix": "s3/"}
        },
    )
    shown = s3.get_bucket_logging(Bucket="orders")["LoggingEnabled"]
    assert (shown["TargetBucket"], shown["TargetPrefix"]) == ("orders-logs", "s3/")
    s3.put_object(Bucket="orders", Key="2026/12/invoice 1.pdf", Body=b"%PDF")
    s3.get_object(Bucket="orders", Key="2026/12/invoice 1.pdf")["Body"].read()
    deadline = time.monotonic() + 30
    records: list[list[str]] = []
    while time.monotonic() < deadline:
        listed = s3.list_objects_v2(Bucket="orders-logs", Prefix="s3/").get("Contents", [])
        records = []
        for item in listed:
            body = s3.get_object(Bucket="orders-logs", Key=item["Key"])["Body"].read().decode()
            records.extend(
                shlex.split(line.replace("[", '"').replace("]", '"')) for line in body.splitlines()
            )
        if sum(record[6] == "REST.GET.OBJECT" for record in records) >= 1:
            break
        time.sleep(0.3)
    objects = [r for r in records if r[6] in ("REST.PUT.OBJECT", "REST.GET.OBJECT")]
    assert [(r[1], r[6], r[7], r[9]) for r in objects] == [
        ("orders", "REST.PUT.OBJECT", "2026/12/invoice%201.pdf", "200"),
        ("orders", "REST.GET.OBJECT", "2026/12/invoice%201.pdf", "200"),
    ]
    assert objects[1][11] == "4" and objects[1][19] == "SigV4"
    assert "Boto3" in objects[1][16] or "botocore" in objects[1][16]
    # The log objects are the owner's own, encrypted at rest as every object.
    head = s3.head_object(Bucket="orders-logs", Key=listed[0]["Key"])
    assert head["ServerSideEncryption"] == "AES256"


def test_aws_cli_turns_logging_on_and_off(server: ServerProcess, tmp_path: Path) -> None:
    s3 = boto3_client(server)
    source, target = unique_bucket("source"), unique_bucket("target")
    for name in (source, target):
        s3.create_bucket(Bucket=name)
    aws = aws_cli(server, tmp_path)
    status = {"LoggingEnabled": {"TargetBucket": target, "TargetPrefix": "logs/"}}
    aws(
        "s3api", "put-bucket-logging", "--bucket", source,
        "--bucket-logging-status", json.dumps(status),
    )  # fmt: skip
    shown = json.loads(aws("s3api", "get-bucket-logging", "--bucket", source).stdout)
    assert shown["LoggingEnabled"]["TargetBucket"] == target
    aws("s3api", "put-bucket-logging", "--bucket", source, "--bucket-logging-status", "{}")
    assert aws("s3api", "get-bucket-logging", "--bucket", source).stdout.strip() == ""
    s3.delete_bucket(Bucket=source)
    # The requests made while logging was on (the get-bucket-logging above) are delivered to
    # the target by a pass every half second, which may come after this line: empty it until
    # the deliveries have stopped, as a user deleting a log bucket would.
    deadline = time.monotonic() + 30
    while True:
        for item in s3.list_objects_v2(Bucket=target).get("Contents", []):
            s3.delete_object(Bucket=target, Key=item["Key"])
        try:
            s3.delete_bucket(Bucket=target)
            break
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "BucketNotEmpty" or time.monotonic() > deadline:
                raise
        time.sleep(0.3)
