"""Conditional deletes and the request headers this server does not act on, against a real
``andromede serve`` through boto3 and raw signed requests (decision 0058).

A delete with ``If-Match`` (an ETag, or ``*``) happens only when the condition holds, as on AWS
since September 2025, one key or many. A header asking for something not done here (a
checksum algorithm not offered, an append, a directory bucket's conditions, an account-regional
namespace) is refused, so that nothing a client believes was checked or kept goes unchecked.
(S3's SHA512, MD5 and xxHash checksums, refused here at first, are now verified: decision 0064.) A
copy names the source bucket's expected owner, and a multipart upload its expected size.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.exceptions import ClientError

from support.rawclient import RawClient, boto3_client_for, raw_client_for
from support.server import REGION, ServerProcess

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def client(server: ServerProcess) -> S3Client:
    return boto3_client_for(server)


@pytest.fixture(scope="module")
def raw(server: ServerProcess) -> RawClient:
    return raw_client_for(server)


@pytest.fixture
def bkt(client: S3Client) -> Iterator[str]:
    name = f"cond-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=name)
    yield name
    for upload in client.list_multipart_uploads(Bucket=name).get("Uploads", []):
        client.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=name, Key=item["Key"])
    client.delete_bucket(Bucket=name)


def code(caught: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def exists(client: S3Client, bucket: str, key: str) -> bool:
    try:
        client.head_object(Bucket=bucket, Key=key)
    except ClientError:
        return False
    return True


def test_delete_object_if_match(client: S3Client, bkt: str) -> None:
    etag = client.put_object(Bucket=bkt, Key="ledger", Body=b"v1")["ETag"]
    client.put_object(Bucket=bkt, Key="ledger", Body=b"v2")  # changed since etag was read
    with pytest.raises(ClientError) as caught:
        client.delete_object(Bucket=bkt, Key="ledger", IfMatch=etag)
    assert code(caught) == (412, "PreconditionFailed")
    assert exists(client, bkt, "ledger")  # the newer object survives the stale delete
    current = client.head_object(Bucket=bkt, Key="ledger")["ETag"]
    client.delete_object(Bucket=bkt, Key="ledger", IfMatch=current)
    assert not exists(client, bkt, "ledger")
    with pytest.raises(ClientError) as caught:
        client.delete_object(Bucket=bkt, Key="ledger", IfMatch=current)
    assert code(caught) == (404, "NoSuchKey")
    # "*": delete only what exists.
    with pytest.raises(ClientError) as caught:
        client.delete_object(Bucket=bkt, Key="never", IfMatch="*")
    assert code(caught) == (404, "NoSuchKey")
    client.put_object(Bucket=bkt, Key="any", Body=b"x")
    client.delete_object(Bucket=bkt, Key="any", IfMatch="*")
    assert not exists(client, bkt, "any")
    client.delete_object(Bucket=bkt, Key="never")  # unconditional: 204 whatever the key


def test_delete_objects_with_etags(client: S3Client, bkt: str) -> None:
    kept = client.put_object(Bucket=bkt, Key="kept", Body=b"k")["ETag"]
    gone = client.put_object(Bucket=bkt, Key="gone", Body=b"g")["ETag"]
    client.put_object(Bucket=bkt, Key="kept", Body=b"changed")
    result = client.delete_objects(
        Bucket=bkt,
        Delete={
            "Objects": [
                {"Key": "gone", "ETag": gone},
                {"Key": "kept", "ETag": kept},
                {"Key": "missing", "ETag": kept},
                {"Key": "plain"},
            ]
        },
    )
    assert sorted(d["Key"] for d in result["Deleted"]) == ["gone", "plain"]
    errors = {e["Key"]: e["Code"] for e in result["Errors"]}
    assert errors == {"kept": "PreconditionFailed", "missing": "NoSuchKey"}
    assert exists(client, bkt, "kept") and not exists(client, bkt, "gone")


def test_headers_asking_for_what_is_not_done_here_are_refused(
    client: S3Client, raw: RawClient, bkt: str
) -> None:
    body = b"checked bytes"
    blake = base64.b64encode(hashlib.blake2b(body).digest()).decode()
    reply = raw.request(  # an algorithm S3 does not have
        "PUT", f"/{bkt}/blake2b", headers={"x-amz-checksum-blake2b": blake}, body=body
    )
    assert (reply.status, reply.error().code) == (400, "InvalidRequest")
    reply = raw.request(
        "PUT", f"/{bkt}/append", headers={"x-amz-write-offset-bytes": "0"}, body=body
    )
    assert (reply.status, reply.error().code) == (501, "NotImplemented")
    assert not exists(client, bkt, "blake2b") and not exists(client, bkt, "append")
    client.put_object(Bucket=bkt, Key="sized", Body=body)
    for header, value in (
        ("x-amz-if-match-size", str(len(body))),
        ("x-amz-if-match-last-modified-time", "Wed, 01 May 2024 12:00:00 GMT"),
        ("if-none-match", "*"),
    ):
        reply = raw.request("DELETE", f"/{bkt}/sized", headers={header: value})
        assert (reply.status, reply.error().code) == (501, "NotImplemented"), header
    assert exists(client, bkt, "sized")
    upload = client.create_multipart_upload(Bucket=bkt, Key="big")["UploadId"]
    reply = raw.request(
        "DELETE",
        f"/{bkt}/big",
        f"uploadId={upload}",
        headers={"x-amz-if-match-initiated-time": "Wed, 01 May 2024 12:00:00 GMT"},
    )
    assert (reply.status, reply.error().code) == (501, "NotImplemented")
    assert [u["UploadId"] for u in client.list_multipart_uploads(Bucket=bkt)["Uploads"]] == [upload]
    name = f"cond-{uuid.uuid4().hex[:16]}"
    reply = raw.request("PUT", f"/{name}", headers={"x-amz-bucket-namespace": "account-regional"})
    assert (reply.status, reply.error().code) == (501, "NotImplemented")


def test_copy_checks_the_source_buckets_expected_owner(
    server: ServerProcess, client: S3Client, bkt: str
) -> None:
    key_id, secret = server.credentials()
    account = boto3.client(
        "sts",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
    ).get_caller_identity()["Account"]
    client.put_object(Bucket=bkt, Key="source", Body=b"s")
    source = {"Bucket": bkt, "Key": "source"}
    with pytest.raises(ClientError) as caught:
        client.copy_object(
            Bucket=bkt, Key="copy", CopySource=source, ExpectedSourceBucketOwner="000000000000"
        )
    assert code(caught) == (403, "AccessDenied")
    client.copy_object(Bucket=bkt, Key="copy", CopySource=source, ExpectedSourceBucketOwner=account)
    assert exists(client, bkt, "copy")


def test_complete_multipart_upload_checks_the_expected_size(client: S3Client, bkt: str) -> None:
    upload = client.create_multipart_upload(Bucket=bkt, Key="mp")["UploadId"]
    etag = client.upload_part(Bucket=bkt, Key="mp", UploadId=upload, PartNumber=1, Body=b"abc")[
        "ETag"
    ]
    parts = {"Parts": [{"PartNumber": 1, "ETag": etag}]}
    with pytest.raises(ClientError) as caught:
        client.complete_multipart_upload(
            Bucket=bkt, Key="mp", UploadId=upload, MultipartUpload=parts, MpuObjectSize=4
        )
    assert code(caught) == (400, "InvalidRequest")
    assert not exists(client, bkt, "mp")  # nothing was completed
    client.complete_multipart_upload(
        Bucket=bkt, Key="mp", UploadId=upload, MultipartUpload=parts, MpuObjectSize=3
    )
    assert client.get_object(Bucket=bkt, Key="mp")["Body"].read() == b"abc"


def test_the_newer_checksum_algorithms_are_verified(raw: RawClient, bkt: str) -> None:
    """SHA512, MD5 and the xxHashes (decision 0064) as raw headers: a right value is stored and
    returned, a wrong one refused with nothing stored."""
    body = b"bytes checked end to end"
    for header, digest in (
        ("x-amz-checksum-md5", hashlib.md5(body, usedforsecurity=False).digest()),
        ("x-amz-checksum-sha512", hashlib.sha512(body).digest()),
    ):
        value = base64.b64encode(digest).decode()
        key = header.rsplit("-", 1)[1]
        assert raw.request("PUT", f"/{bkt}/{key}", headers={header: value}, body=body).status == 200
        head = raw.request("HEAD", f"/{bkt}/{key}", headers={"x-amz-checksum-mode": "ENABLED"})
        assert head.header(header) == value
        wrong = base64.b64encode(bytes(len(digest))).decode()
        refused = raw.request("PUT", f"/{bkt}/{key}-bad", headers={header: wrong}, body=body)
        assert refused.status == 400
        assert raw.request("HEAD", f"/{bkt}/{key}-bad").status == 404
