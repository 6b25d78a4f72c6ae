"""PostObject against a real ``andromede serve`` (decision 0079): a form signed by boto3's
``generate_presigned_post``, sent by httpx as a browser sends it (``multipart/form-data``, no
signature of its own), with a file large enough to stream through several reads."""

from __future__ import annotations

import hashlib
import os
from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.e2e

MIB = 1024 * 1024


def test_a_presigned_post_from_boto3_uploads_a_file(s3: S3Client, bucket: str) -> None:
    post = s3.generate_presigned_post(
        bucket,
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
    got = s3.get_object(Bucket=bucket, Key="incoming/archive.bin")
    assert hashlib.sha256(got["Body"].read()).digest() == hashlib.sha256(data).digest()
    assert got["ContentType"] == "application/octet-stream"
    assert got["ETag"] == reply.headers["etag"]


def test_a_form_outside_its_policy_stores_nothing(s3: S3Client, bucket: str) -> None:
    post = s3.generate_presigned_post(
        bucket, "small.txt", Conditions=[["content-length-range", 0, 100]], ExpiresIn=600
    )
    reply = httpx.post(
        post["url"], data=post["fields"], files={"file": ("small.txt", b"x" * 101)}, timeout=60
    )
    assert reply.status_code == 400 and "<Code>EntityTooLarge</Code>" in reply.text
    anonymous = httpx.post(
        post["url"], data={"key": "anon.txt"}, files={"file": ("anon.txt", b"a")}, timeout=60
    )
    assert anonymous.status_code == 403 and "<Code>AccessDenied</Code>" in anonymous.text
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
