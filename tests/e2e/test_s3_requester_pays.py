"""Requester Pays buckets (decision 0133) end to end against a real ``andromede serve``: the
owner turns it on with boto3; a second tenant, made as an operator makes one, reads, writes
and lists with boto3's ``RequestPayer`` and the aws CLI's ``--request-payer`` and is told it
was charged; without them, and anonymously, it is refused as on S3."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from e2e.clients import aws_cli
from e2e.helpers import REGION
from support.server import ServerProcess

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.e2e

BODY = b"station,temperature\nparis,12.5\n"


def _client(
    server: ServerProcess, key_id: str | None = None, secret: str | None = None
) -> S3Client:
    config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})
    if key_id is None:
        config = config.merge(Config(signature_version=UNSIGNED))
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=config,
    )


def _refused(call: Callable[[], object]) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return str(caught.value.response["Error"]["Code"])


def test_requester_pays_with_boto3_and_the_aws_cli(
    server: ServerProcess, s3: S3Client, bucket: str, tmp_path: Path
) -> None:
    account, key_id, secret = server.create_tenant(f"reader{uuid.uuid4().hex[:8]}")
    reader = _client(server, key_id, secret)
    s3.put_object(Bucket=bucket, Key="weather.csv", Body=BODY)
    grant = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
    }
    s3.put_bucket_policy(
        Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [grant]})
    )
    assert s3.get_bucket_request_payment(Bucket=bucket)["Payer"] == "BucketOwner"
    s3.put_bucket_request_payment(Bucket=bucket, RequestPaymentConfiguration={"Payer": "Requester"})
    assert s3.get_bucket_request_payment(Bucket=bucket)["Payer"] == "Requester"

    # The owner pays for its own requests, and needs no header.
    own = s3.get_object(Bucket=bucket, Key="weather.csv")
    assert own["Body"].read() == BODY and "RequestCharged" not in own

    # Another account: refused until it agrees to pay, then told it was charged.
    assert _refused(lambda: reader.get_object(Bucket=bucket, Key="weather.csv")) == "AccessDenied"
    assert _refused(lambda: reader.list_objects_v2(Bucket=bucket)) == "AccessDenied"
    got = reader.get_object(Bucket=bucket, Key="weather.csv", RequestPayer="requester")
    assert got["Body"].read() == BODY and got["RequestCharged"] == "requester"
    put = reader.put_object(
        Bucket=bucket, Key="contributed.csv", Body=b"lyon,9.0\n", RequestPayer="requester"
    )
    assert put["RequestCharged"] == "requester"
    listed = reader.list_objects_v2(Bucket=bucket, RequestPayer="requester")
    assert listed["RequestCharged"] == "requester"
    assert [o["Key"] for o in listed["Contents"]] == ["contributed.csv", "weather.csv"]
    # A presigned URL signs the header in: the one who fetches it sends it.
    url = reader.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "weather.csv", "RequestPayer": "requester"}
    )
    fetched = urllib.request.Request(url, headers={"x-amz-request-payer": "requester"})
    with urllib.request.urlopen(fetched, timeout=30) as answer:
        assert answer.read() == BODY
        assert answer.headers["x-amz-request-charged"] == "requester"

    # Anonymous callers are refused, whatever they send.
    anonymous = _client(server)
    assert _refused(lambda: anonymous.get_object(Bucket=bucket, Key="weather.csv")) == (
        "AccessDenied"
    )

    # The aws CLI as the other account: s3api and s3 cp take --request-payer.
    credentials = tmp_path / "reader-credentials"
    credentials.write_text(
        f"[andromede]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n"
    )
    aws = aws_cli(server, tmp_path / "cli", credentials_file=credentials)
    target = tmp_path / "weather-s3api.csv"
    answer = aws(
        "s3api",
        "get-object",
        "--bucket",
        bucket,
        "--key",
        "weather.csv",
        "--request-payer",
        "requester",
        str(target),
    )
    assert json.loads(answer.stdout)["RequestCharged"] == "requester"
    assert target.read_bytes() == BODY
    copied = tmp_path / "weather-cp.csv"
    aws("s3", "cp", f"s3://{bucket}/weather.csv", str(copied), "--request-payer", "requester")
    assert copied.read_bytes() == BODY
    refused = aws("s3", "cp", f"s3://{bucket}/weather.csv", str(tmp_path / "no.csv"), check=False)
    assert refused.returncode != 0 and "403" in refused.stderr
    uploaded = tmp_path / "upload.csv"
    uploaded.write_bytes(b"nantes,11.0\n")
    aws("s3", "cp", str(uploaded), f"s3://{bucket}/from-cli.csv", "--request-payer", "requester")
    assert s3.get_object(Bucket=bucket, Key="from-cli.csv")["Body"].read() == b"nantes,11.0\n"

    # Back to the owner paying: the other account needs no header any more.
    s3.put_bucket_request_payment(
        Bucket=bucket, RequestPaymentConfiguration={"Payer": "BucketOwner"}
    )
    again = reader.get_object(Bucket=bucket, Key="weather.csv")
    assert again["Body"].read() == BODY and "RequestCharged" not in again
