"""Bucket tagging with boto3 and raw signed requests against a real ``andromede serve``
(decision 0066): the tag set is put, read back in order, replaced and removed; what S3 refuses
gets ``InvalidTag`` or ``MalformedXML``; a bucket without tags answers ``NoSuchTagSet``."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from botocore.exceptions import ClientError

from support.rawclient import RawClient, boto3_client_for, raw_client_for
from support.server import ServerProcess

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def client(server: ServerProcess) -> S3Client:
    return boto3_client_for(server)


@pytest.fixture
def bkt(client: S3Client) -> Iterator[str]:
    name = f"tags-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=name)
    yield name
    client.delete_bucket(Bucket=name)


def code(caught: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def tag_set(pairs: list[tuple[str, str]]) -> dict[str, list[dict[str, str]]]:
    return {"TagSet": [{"Key": k, "Value": v} for k, v in pairs]}


def test_a_tag_set_is_put_read_replaced_and_removed(client: S3Client, bkt: str) -> None:
    with pytest.raises(ClientError) as caught:
        client.get_bucket_tagging(Bucket=bkt)
    assert code(caught) == (404, "NoSuchTagSet")
    tags = [("team", "storage"), ("cost-centre", "4711"), ("projet", "données été"), ("empty", "")]
    client.put_bucket_tagging(Bucket=bkt, Tagging=tag_set(tags))  # type: ignore[arg-type]
    got = client.get_bucket_tagging(Bucket=bkt)["TagSet"]
    assert [(t["Key"], t["Value"]) for t in got] == tags
    client.put_bucket_tagging(Bucket=bkt, Tagging=tag_set([("only", "this")]))  # type: ignore[arg-type]
    assert client.get_bucket_tagging(Bucket=bkt)["TagSet"] == [{"Key": "only", "Value": "this"}]
    client.delete_bucket_tagging(Bucket=bkt)
    with pytest.raises(ClientError) as caught:
        client.get_bucket_tagging(Bucket=bkt)
    assert code(caught) == (404, "NoSuchTagSet")
    with pytest.raises(ClientError) as caught:
        client.get_bucket_tagging(Bucket=f"missing-{uuid.uuid4().hex[:12]}")
    assert code(caught) == (404, "NoSuchBucket")


@pytest.mark.parametrize(
    "pairs",
    [
        [("aws:created-by", "me")],  # reserved prefix
        [("dup", "1"), ("dup", "2")],
        [("k" * 129, "v")],
        [("k", "v" * 257)],
        [("semi;colon", "v")],
        [(f"k{i}", "v") for i in range(51)],
    ],
)
def test_what_s3_refuses_is_refused_and_nothing_changes(
    client: S3Client, bkt: str, pairs: list[tuple[str, str]]
) -> None:
    client.put_bucket_tagging(Bucket=bkt, Tagging=tag_set([("kept", "yes")]))  # type: ignore[arg-type]
    with pytest.raises(ClientError) as caught:
        client.put_bucket_tagging(Bucket=bkt, Tagging=tag_set(pairs))  # type: ignore[arg-type]
    assert code(caught) == (400, "InvalidTag")
    assert client.get_bucket_tagging(Bucket=bkt)["TagSet"] == [{"Key": "kept", "Value": "yes"}]
    client.delete_bucket_tagging(Bucket=bkt)


def test_malformed_documents(server: ServerProcess, bkt: str) -> None:
    raw: RawClient = raw_client_for(server)
    for body in (b"<Tagging/>", b"<Tagging><TagSet><Tag><Key>k</Key></Tag></TagSet></Tagging>"):
        md5 = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
        reply = raw.request("PUT", f"/{bkt}", "tagging=", {"Content-MD5": md5}, body)
        assert (reply.status, reply.error().code) == (400, "MalformedXML")
    # An empty key (which botocore would not send): InvalidTag.
    body = b"<Tagging><TagSet><Tag><Key></Key><Value>v</Value></Tag></TagSet></Tagging>"
    md5 = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
    reply = raw.request("PUT", f"/{bkt}", "tagging=", {"Content-MD5": md5}, body)
    assert (reply.status, reply.error().code) == (400, "InvalidTag")
