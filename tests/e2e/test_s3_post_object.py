"""PostObject against a real ``andromede serve`` (decision 0079): a form signed by boto3's
``generate_presigned_post``, sent by httpx as a browser sends it (``multipart/form-data``, no
signature of its own), with a file large enough to stream through several reads."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx
import pytest

from support.rawclient import boto3_client_for
from support.server import REGION, ServerProcess

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.e2e

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def client(server: ServerProcess) -> S3Client:
    return boto3_client_for(server)


@pytest.fixture
def bkt(client: S3Client) -> Iterator[str]:
    name = f"post-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})  # type: ignore[typeddict-item]
    yield name
    for entry in client.list_objects_v2(Bucket=name).get("Contents", []):
        client.delete_object(Bucket=name, Key=entry["Key"])
    client.delete_bucket(Bucket=name)


def test_a_presigned_post_from_boto3_uploads_a_file(client: S3Client, bkt: str) -> None:
    post = client.generate_presigned_post(
        bkt,
        "incoming/${filename}",
        Fields={"Content-Type": "application/octet-stream", "success_action_status": "201"},
        Conditions=[
            ["starts-with", "$Content-Type", "application/"],
            {"success_action_status": "201"},
            ["content-length-range", 1, 64 * MIB],
        ],
        ExpiresIn=600,
    )
    data = os.urandom(12 * MIB + 7)
    reply = httpx.post(
        post["url"],
        data=post["fields"],
        files={"file": ("archive.bin", data, "application/octet-stream")},
        timeout=120,
    )
    assert reply.status_code == 201, reply.text
    assert "<Key>incoming/archive.bin</Key>" in reply.text
    got = client.get_object(Bucket=bkt, Key="incoming/archive.bin")
    assert hashlib.sha256(got["Body"].read()).digest() == hashlib.sha256(data).digest()
    assert got["ContentType"] == "application/octet-stream"
    assert got["ETag"] == reply.headers["etag"]


def test_a_form_outside_its_policy_stores_nothing(client: S3Client, bkt: str) -> None:
    post = client.generate_presigned_post(
        bkt, "small.txt", Conditions=[["content-length-range", 0, 100]], ExpiresIn=600
    )
    reply = httpx.post(
        post["url"], data=post["fields"], files={"file": ("small.txt", b"x" * 101)}, timeout=60
    )
    assert reply.status_code == 400 and "<Code>EntityTooLarge</Code>" in reply.text
    anonymous = httpx.post(
        post["url"], data={"key": "anon.txt"}, files={"file": ("anon.txt", b"a")}, timeout=60
    )
    assert anonymous.status_code == 403 and "<Code>AccessDenied</Code>" in anonymous.text
    assert client.list_objects_v2(Bucket=bkt)["KeyCount"] == 0
