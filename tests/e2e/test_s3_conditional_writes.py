"""Conditional writes against a real ``andromede serve``, through boto3 and raw signed requests
(decision 0061).

``If-None-Match: *`` (create only) and ``If-Match: <etag>`` (compare and swap) on PutObject,
CopyObject and CompleteMultipartUpload, as on AWS: 412 PreconditionFailed when the condition
fails at the request, 404 NoSuchKey for ``If-Match`` without an object, and 409
ConditionalRequestConflict when a write or delete lands between the check and the commit, the
other writer's object left whole. This is what lock files are built on (Terraform's S3 backend
with ``use_lockfile``, Delta Lake and Iceberg commits), so losing the race must never overwrite.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from botocore.exceptions import ClientError

from e2e.test_s3_conditional_deletes import bkt, client, code, raw
from support.rawclient import RawClient

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.e2e

__all__ = ["bkt", "client", "raw"]  # the fixtures this module shares with the deletes' tests


def body_of(client: S3Client, bucket: str, key: str) -> bytes:
    return client.get_object(Bucket=bucket, Key=key)["Body"].read()


def test_put_if_none_match_creates_once(client: S3Client, bkt: str) -> None:
    client.put_object(Bucket=bkt, Key="lock", Body=b"holder-1", IfNoneMatch="*")
    with pytest.raises(ClientError) as caught:
        client.put_object(Bucket=bkt, Key="lock", Body=b"holder-2", IfNoneMatch="*")
    assert code(caught) == (412, "PreconditionFailed")
    assert body_of(client, bkt, "lock") == b"holder-1"
    # Released (deleted), the lock can be taken again.
    client.delete_object(Bucket=bkt, Key="lock")
    client.put_object(Bucket=bkt, Key="lock", Body=b"holder-2", IfNoneMatch="*")
    assert body_of(client, bkt, "lock") == b"holder-2"


def test_put_if_match_is_compare_and_swap(client: S3Client, bkt: str) -> None:
    first = client.put_object(Bucket=bkt, Key="state", Body=b"v1")["ETag"]
    second = client.put_object(Bucket=bkt, Key="state", Body=b"v2", IfMatch=first)["ETag"]
    with pytest.raises(ClientError) as caught:  # a writer still holding v1's ETag
        client.put_object(Bucket=bkt, Key="state", Body=b"v2-lost", IfMatch=first)
    assert code(caught) == (412, "PreconditionFailed")
    assert body_of(client, bkt, "state") == b"v2"
    assert client.head_object(Bucket=bkt, Key="state")["ETag"] == second
    with pytest.raises(ClientError) as caught:
        client.put_object(Bucket=bkt, Key="absent", Body=b"x", IfMatch=first)
    assert code(caught) == (404, "NoSuchKey")
    with pytest.raises(ClientError) as caught:  # AWS does not implement these forms
        client.put_object(Bucket=bkt, Key="state", Body=b"x", IfMatch="*")
    assert code(caught) == (501, "NotImplemented")
    assert body_of(client, bkt, "state") == b"v2"


def test_copy_is_conditional_on_its_destination(client: S3Client, bkt: str) -> None:
    client.put_object(Bucket=bkt, Key="source", Body=b"source")
    taken = client.put_object(Bucket=bkt, Key="taken", Body=b"taken")["ETag"]
    source = {"Bucket": bkt, "Key": "source"}
    with pytest.raises(ClientError) as caught:
        client.copy_object(Bucket=bkt, Key="taken", CopySource=source, IfNoneMatch="*")
    assert code(caught) == (412, "PreconditionFailed")
    assert body_of(client, bkt, "taken") == b"taken"
    client.copy_object(Bucket=bkt, Key="fresh", CopySource=source, IfNoneMatch="*")
    client.copy_object(Bucket=bkt, Key="taken", CopySource=source, IfMatch=taken)
    assert body_of(client, bkt, "fresh") == body_of(client, bkt, "taken") == b"source"


def test_complete_multipart_upload_is_conditional(client: S3Client, bkt: str) -> None:
    upload = client.create_multipart_upload(Bucket=bkt, Key="mp")["UploadId"]
    etag = client.upload_part(Bucket=bkt, Key="mp", UploadId=upload, PartNumber=1, Body=b"mp")[
        "ETag"
    ]
    parts = {"Parts": [{"PartNumber": 1, "ETag": etag}]}
    existing = client.put_object(Bucket=bkt, Key="mp", Body=b"there first")["ETag"]
    with pytest.raises(ClientError) as caught:
        client.complete_multipart_upload(
            Bucket=bkt, Key="mp", UploadId=upload, MultipartUpload=parts, IfNoneMatch="*"
        )
    assert code(caught) == (412, "PreconditionFailed")
    assert body_of(client, bkt, "mp") == b"there first"
    # The upload is left as it was: completed again with the right condition, it lands.
    assert [
        p["PartNumber"] for p in client.list_parts(Bucket=bkt, Key="mp", UploadId=upload)["Parts"]
    ] == [1]
    client.complete_multipart_upload(
        Bucket=bkt, Key="mp", UploadId=upload, MultipartUpload=parts, IfMatch=existing
    )
    assert body_of(client, bkt, "mp") == b"mp"


def _raced_put(
    raw: RawClient,
    bkt: str,
    key: str,
    headers: dict[str, str],
    *,
    before: Callable[[], object],
    meanwhile: Callable[[], object],
) -> tuple[int, str | None]:
    """A PUT whose condition holds when its headers arrive (``before`` makes it so), then
    ``meanwhile`` run while its body is still on the way, then the body finished: the status
    and error code it got.

    The server checks the condition before it reads the body, but nothing tells the client
    when that happened, so the pause before ``meanwhile`` grows until the check has certainly
    run first (a 412 means it had not: ``meanwhile``'s write was seen at the check)."""
    data = os.urandom(256 * 1024)
    outcome: tuple[int, str | None] = (0, None)
    for pause in (0.3, 1.0, 3.0):
        before()
        stream = raw.open_signed("PUT", f"/{bkt}/{key}", headers=headers, content_length=len(data))
        stream.send(data[:1024])
        time.sleep(pause)
        meanwhile()
        stream.send(data[1024:])
        reply = stream.response()
        outcome = (reply.status, reply.error().code if reply.status >= 300 else None)
        if outcome[0] != 412:
            return outcome
    return outcome


def test_a_create_raced_by_another_writer_gets_409_and_loses_nothing(
    client: S3Client, raw: RawClient, bkt: str
) -> None:
    outcome = _raced_put(
        raw,
        bkt,
        "lock",
        {"If-None-Match": "*"},
        before=lambda: client.delete_object(Bucket=bkt, Key="lock"),
        meanwhile=lambda: client.put_object(Bucket=bkt, Key="lock", Body=b"the other writer"),
    )
    assert outcome == (409, "ConditionalRequestConflict")
    assert body_of(client, bkt, "lock") == b"the other writer"


def test_a_swap_raced_by_an_overwrite_or_a_delete_gets_409(
    client: S3Client, raw: RawClient, bkt: str
) -> None:
    etag = client.put_object(Bucket=bkt, Key="state", Body=b"v1")["ETag"]
    outcome = _raced_put(
        raw,
        bkt,
        "state",
        {"If-Match": etag},
        before=lambda: client.put_object(Bucket=bkt, Key="state", Body=b"v1"),
        meanwhile=lambda: client.put_object(Bucket=bkt, Key="state", Body=b"v2, the other's"),
    )
    assert outcome == (409, "ConditionalRequestConflict")
    assert body_of(client, bkt, "state") == b"v2, the other's"
    outcome = _raced_put(
        raw,
        bkt,
        "state",
        {"If-Match": etag},
        before=lambda: client.put_object(Bucket=bkt, Key="state", Body=b"v1"),
        meanwhile=lambda: client.delete_object(Bucket=bkt, Key="state"),
    )
    assert outcome == (409, "ConditionalRequestConflict")
    assert client.list_objects_v2(Bucket=bkt, Prefix="state")["KeyCount"] == 0
