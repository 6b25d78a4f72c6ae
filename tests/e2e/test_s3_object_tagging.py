"""Object tagging with boto3 and the aws CLI against a real ``andromede serve`` (decision 0068):
tags set on upload (single and multipart, as boto3's transfer manager and ``aws s3 cp`` send
them), read, replaced and removed; copies following their tagging directive; S3's limits and
errors; the tags of an SSE-C object handled without its key."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from e2e.clients import aws_cli
from support.rawclient import boto3_client_for
from support.server import ServerProcess

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.e2e
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def client(server: ServerProcess) -> S3Client:
    return boto3_client_for(server)


@pytest.fixture
def bkt(client: S3Client) -> Iterator[str]:
    name = f"otags-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=name)
    yield name
    for entry in client.list_objects_v2(Bucket=name).get("Contents", []):
        client.delete_object(Bucket=name, Key=entry["Key"])
    client.delete_bucket(Bucket=name)


def pairs(client: S3Client, bucket: str, key: str) -> list[tuple[str, str]]:
    return [
        (t["Key"], t["Value"]) for t in client.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
    ]


def tag_set(items: list[tuple[str, str]]) -> dict[str, list[dict[str, str]]]:
    return {"TagSet": [{"Key": k, "Value": v} for k, v in items]}


def code(caught: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def test_tags_are_set_read_replaced_and_removed(client: S3Client, bkt: str) -> None:
    client.put_object(
        Bucket=bkt, Key="doc", Body=b"text", Tagging="team=storage&projet=donn%C3%A9es"
    )
    assert pairs(client, bkt, "doc") == [("team", "storage"), ("projet", "données")]
    assert client.get_object(Bucket=bkt, Key="doc")["TagCount"] == 2
    assert (
        client.head_object(Bucket=bkt, Key="doc")["ResponseMetadata"]["HTTPHeaders"][
            "x-amz-tagging-count"
        ]
        == "2"
    )
    etag = client.head_object(Bucket=bkt, Key="doc")["ETag"]
    client.put_object_tagging(Bucket=bkt, Key="doc", Tagging=tag_set([("only", "this")]))  # type: ignore[arg-type]
    assert pairs(client, bkt, "doc") == [("only", "this")]
    assert client.head_object(Bucket=bkt, Key="doc")["ETag"] == etag
    client.delete_object_tagging(Bucket=bkt, Key="doc")
    assert pairs(client, bkt, "doc") == []
    assert "TagCount" not in client.get_object(Bucket=bkt, Key="doc")
    assert client.get_object(Bucket=bkt, Key="doc")["Body"].read() == b"text"


def test_the_transfer_manager_tags_single_and_multipart_uploads(
    client: S3Client, bkt: str, tmp_path: Path
) -> None:
    small, large = tmp_path / "small", tmp_path / "large"
    small.write_bytes(os.urandom(1000))
    large.write_bytes(os.urandom(12 * MIB))
    config = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
    extra = {"Tagging": "stage=raw&source=sensor"}
    for path in (small, large):
        client.upload_file(str(path), bkt, path.name, ExtraArgs=extra, Config=config)
        assert pairs(client, bkt, path.name) == [("stage", "raw"), ("source", "sensor")]
    assert client.head_object(Bucket=bkt, Key="large")["ETag"].endswith('-3"')


def test_copies_follow_their_tagging_directive(client: S3Client, bkt: str) -> None:
    client.put_object(Bucket=bkt, Key="src", Body=b"x", Tagging="team=blue")
    source = {"Bucket": bkt, "Key": "src"}
    client.copy_object(Bucket=bkt, Key="same", CopySource=source)  # type: ignore[arg-type]
    assert pairs(client, bkt, "same") == [("team", "blue")]
    client.copy_object(
        Bucket=bkt,
        Key="new",
        CopySource=source,
        TaggingDirective="REPLACE",
        Tagging="team=red",  # type: ignore[arg-type]
    )
    assert pairs(client, bkt, "new") == [("team", "red")]


def test_what_s3_refuses_is_refused_and_nothing_changes(client: S3Client, bkt: str) -> None:
    client.put_object(Bucket=bkt, Key="k", Body=b"x", Tagging="kept=yes")
    eleven = [(f"k{i}", "v") for i in range(11)]
    with pytest.raises(ClientError) as caught:
        client.put_object_tagging(Bucket=bkt, Key="k", Tagging=tag_set(eleven))  # type: ignore[arg-type]
    assert code(caught) == (400, "BadRequest")
    with pytest.raises(ClientError) as caught:
        client.put_object(Bucket=bkt, Key="k", Body=b"y", Tagging="aws:reserved=1")
    assert code(caught) == (400, "InvalidTag")
    with pytest.raises(ClientError) as caught:
        client.put_object(Bucket=bkt, Key="k", Body=b"y", Tagging="a=1&a=2")
    assert code(caught) == (400, "InvalidArgument")
    with pytest.raises(ClientError) as caught:
        client.get_object_tagging(Bucket=bkt, Key="missing")
    assert code(caught) == (404, "NoSuchKey")
    assert pairs(client, bkt, "k") == [("kept", "yes")]
    assert client.get_object(Bucket=bkt, Key="k")["Body"].read() == b"x"


def test_an_sse_c_object_is_tagged_without_its_key(client: S3Client, bkt: str) -> None:
    key = os.urandom(32)
    sse = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}
    client.put_object(Bucket=bkt, Key="c", Body=b"secret", Tagging="a=1", **sse)  # type: ignore[arg-type]
    client.put_object_tagging(Bucket=bkt, Key="c", Tagging=tag_set([("b", "2")]))  # type: ignore[arg-type]
    assert pairs(client, bkt, "c") == [("b", "2")]
    assert client.get_object(Bucket=bkt, Key="c", **sse)["Body"].read() == b"secret"  # type: ignore[arg-type]


def test_the_aws_cli_tags_and_reads_tags(server: ServerProcess, bkt: str, tmp_path: Path) -> None:
    aws = aws_cli(server, tmp_path)
    source = tmp_path / "file.txt"
    source.write_text("hello")
    aws(
        "s3api",
        "put-object",
        "--bucket",
        bkt,
        "--key",
        "f",
        "--body",
        str(source),
        "--tagging",
        "env=prod",
    )
    aws(
        "s3api",
        "put-object-tagging",
        "--bucket",
        bkt,
        "--key",
        "f",
        "--tagging",
        json.dumps(tag_set([("env", "prod"), ("owner", "ops")])),
    )
    got = json.loads(aws("s3api", "get-object-tagging", "--bucket", bkt, "--key", "f").stdout)
    assert got["TagSet"] == tag_set([("env", "prod"), ("owner", "ops")])["TagSet"]
    aws("s3api", "delete-object-tagging", "--bucket", bkt, "--key", "f")
    got = json.loads(aws("s3api", "get-object-tagging", "--bucket", bkt, "--key", "f").stdout)
    assert got["TagSet"] == []
