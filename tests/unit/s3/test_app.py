"""The S3 ASGI app in process, on the in-memory twins: error shape, request ids, auth, routing.

The e2e suites drive a real server with real clients; this one keeps the wire layer's contract in
the fast loop: every error is S3 XML with Code, Message, Resource and RequestId, the request id
header matches, and nothing answers 500.
"""

from __future__ import annotations

import base64
import logging
import os
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import defusedxml.ElementTree as ElementTree
import pytest
from botocore.credentials import Credentials

from andromede.http.sigv4 import SigningContext, derive_signing_key
from support.awschunked import encode_signed
from support.s3app import Client, in_process_client


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with in_process_client(tmp_path) as made:
        yield made


async def test_bucket_and_object_round_trip(client: Client) -> None:
    assert (await client.request("PUT", "/photos")).status == 200
    put = await client.request("PUT", "/photos/a%20b.txt", b"hello", {"x-amz-meta-who": "me"})
    assert put.status == 200 and put.headers["etag"] == '"5d41402abc4b2a76b9719d911017c592"'
    got = await client.request("GET", "/photos/a%20b.txt")
    assert (got.status, got.body, got.headers["x-amz-meta-who"]) == (200, b"hello", "me")
    ranged = await client.request("GET", "/photos/a%20b.txt", headers={"Range": "bytes=1-3"})
    assert (ranged.status, ranged.body, ranged.headers["content-range"]) == (
        206,
        b"ell",
        "bytes 1-3/5",
    )
    head = await client.request("HEAD", "/photos/a%20b.txt")
    assert (head.status, head.body, head.headers["content-length"]) == (200, b"", "5")


@pytest.mark.parametrize(
    ("method", "path", "code", "status"),
    [
        ("GET", "/missing-bucket/k", "NoSuchBucket", 404),
        ("GET", "/photos/missing", "NoSuchKey", 404),
        ("PUT", "/Bad_Name", "InvalidBucketName", 400),
        ("PUT", "/photos?versioning", "MalformedXML", 400),
        ("GET", "/photos/k?torrent", "NotImplemented", 501),
        ("PATCH", "/photos/k", "MethodNotAllowed", 405),
        ("GET", "/photos/%FF", "InvalidURI", 400),
        ("GET", "/photos?max-keys=abc", "InvalidArgument", 400),
        ("GET", "/photos?list-type=2&continuation-token=%21%21", "InvalidArgument", 400),
        ("DELETE", "/photos/k?uploadId=nope", "NoSuchUpload", 404),
    ],
)
async def test_errors_have_s3_shape(
    client: Client, method: str, path: str, code: str, status: int
) -> None:
    await client.request("PUT", "/photos")
    reply = await client.request(method, path)
    assert (reply.status, reply.error_code()) == (status, code)


async def test_anonymous_requests_are_denied(client: Client) -> None:
    await client.request("PUT", "/photos")
    reply = await client.request("GET", "/photos/k", sign=False)
    assert (reply.status, reply.error_code()) == (403, "AccessDenied")


async def test_wrong_region_names_the_right_one(client: Client) -> None:
    reply = await client.request("GET", "/", region="us-east-1")
    assert reply.status == 400
    assert reply.error_code() == "AuthorizationHeaderMalformed"
    assert b"eu-fr-1" in reply.body


async def test_unknown_key_and_bad_secret(client: Client) -> None:
    assert client.credentials is not None
    stranger = Client(
        client.app, Credentials("AKIAUNKNOWN000000000", "x" * 40), client.audit_store, client.audit
    )
    assert (await stranger.request("GET", "/")).error_code() == "InvalidAccessKeyId"
    forger = Client(
        client.app,
        Credentials(client.credentials.access_key, "y" * 40),
        client.audit_store,
        client.audit,
    )
    assert (await forger.request("GET", "/")).error_code() == "SignatureDoesNotMatch"


async def test_mutations_and_auth_failures_are_audited(client: Client) -> None:
    await client.request("PUT", "/photos")
    await client.request("PUT", "/photos/k", b"x")
    await client.request("GET", "/photos/k")  # reads are not audited by default
    stranger = Client(
        client.app, Credentials("AKIAUNKNOWN000000000", "x" * 40), client.audit_store, client.audit
    )
    await stranger.request("DELETE", "/photos/k")
    await client.audit.flush()
    events = [e for _, e in await client.audit_store.list_events(None, after_id=0, limit=10)]
    assert [(e.action, e.outcome.value) for e in events] == [
        ("s3:CreateBucket", "success"),
        ("s3:PutObject", "success"),
        ("s3:DeleteObject", "failure"),
    ]
    assert events[2].details == {"error": "InvalidAccessKeyId"}


async def test_part_checksum_algorithm_must_match_the_upload(client: Client) -> None:
    await client.request("PUT", "/photos")
    created = await client.request(
        "POST", "/photos/mp?uploads", headers={"x-amz-checksum-algorithm": "SHA256"}
    )
    upload_id = ElementTree.fromstring(created.body).findtext(
        "{http://s3.amazonaws.com/doc/2006-03-01/}UploadId"
    )
    reply = await client.request(
        "PUT",
        f"/photos/mp?partNumber=1&uploadId={upload_id}",
        b"data",
        {"x-amz-checksum-crc32": "rfPzYw=="},
    )
    assert (reply.status, reply.error_code()) == (400, "InvalidRequest")
    mismatch = await client.request(
        "POST",
        "/photos/mp2?uploads",
        headers={"x-amz-checksum-algorithm": "SHA1", "x-amz-checksum-type": "FULL_OBJECT"},
    )
    assert (mismatch.status, mismatch.error_code()) == (400, "InvalidRequest")


async def test_denied_mutations_are_audited(client: Client) -> None:
    await client.request("PUT", "/photos")
    denied = await client.request("PUT", "/photos/k", b"x", sign=False)  # anonymous
    assert denied.error_code() == "AccessDenied"
    missing = await client.request("DELETE", "/no-such-bucket/k")
    assert missing.error_code() == "NoSuchBucket"
    await client.audit.flush()
    events = [e for _, e in await client.audit_store.list_events(None, after_id=0, limit=10)]
    assert [(e.action, e.principal, e.outcome.value, e.details.get("status")) for e in events][
        1:
    ] == [
        ("s3:PutObject", "*", "failure", "403"),
        ("s3:DeleteObject", events[0].principal, "failure", "404"),
    ]


def streaming_put(
    client: Client, path: str, data: bytes, *, tamper: bool = False
) -> tuple[dict[str, str], bytes]:
    """Headers and body of a PutObject in STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER form, with
    a CRC32 trailer, each chunk signed from the seed signature."""
    mode = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    headers = client.raw_signer().sign(
        "PUT",
        path,
        headers={
            "Content-Encoding": "aws-chunked",
            "x-amz-decoded-content-length": str(len(data)),
            "x-amz-trailer": "x-amz-checksum-crc32",
        },
        payload_hash=mode,
    )
    amz_date = headers["X-Amz-Date"]
    scope = f"{amz_date[:8]}/eu-fr-1/s3/aws4_request"
    seed = headers["Authorization"].rsplit("Signature=", 1)[1]
    assert client.credentials is not None
    key = derive_signing_key(client.credentials.secret_key, amz_date[:8], "eu-fr-1", "s3")
    body = encode_signed(
        data, 64 * 1024, SigningContext(key, amz_date, scope, seed), {"x-amz-checksum-crc32": crc}
    )
    if tamper:
        body = body.replace(data[100:110], bytes(b ^ 1 for b in data[100:110]), 1)
    headers["Content-Length"] = str(len(body))
    return headers, body


async def test_signed_streaming_upload_with_trailing_checksum(client: Client) -> None:
    await client.request("PUT", "/photos")
    data = os.urandom(200_000)
    headers, body = streaming_put(client, "/photos/streamed", data)
    put = await client.request("PUT", "/photos/streamed", body, headers, sign=False)
    assert put.status == 200, put.body
    expected_crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    assert put.headers["x-amz-checksum-crc32"] == expected_crc
    got = await client.request(
        "GET", "/photos/streamed", headers={"x-amz-checksum-mode": "ENABLED"}
    )
    assert got.body == data and got.headers["x-amz-checksum-crc32"] == expected_crc
    assert "content-encoding" not in got.headers  # aws-chunked is framing, not stored


async def test_a_tampered_chunk_is_refused_and_nothing_stored(client: Client) -> None:
    await client.request("PUT", "/photos")
    headers, body = streaming_put(client, "/photos/tampered", os.urandom(200_000), tamper=True)
    reply = await client.request("PUT", "/photos/tampered", body, headers, sign=False)
    assert (reply.status, reply.error_code()) == (403, "SignatureDoesNotMatch")
    assert (await client.request("HEAD", "/photos/tampered")).status == 404


async def test_writes_asking_for_unimplemented_features_are_refused(client: Client) -> None:
    # Accepting them silently would claim encryption, retention or appends that do not exist.
    await client.request("PUT", "/photos")
    cases = [
        ({"x-amz-server-side-encryption": "aws:kms"}, 501, "NotImplemented"),
        # A KMS key without aws:kms is a bad request, as on AWS (tests/unit/s3/test_sse_kms.py).
        ({"x-amz-server-side-encryption-aws-kms-key-id": "k"}, 400, "InvalidArgument"),
        # No bucket has an Object Lock configuration: S3's answer in such a bucket.
        ({"x-amz-object-lock-mode": "GOVERNANCE"}, 400, "InvalidRequest"),
        ({"x-amz-write-offset-bytes": "0"}, 501, "NotImplemented"),
        ({"x-amz-acl": "public-read"}, 400, "AccessControlListNotSupported"),
        ({"x-amz-grant-read": "uri=http://acs.amazonaws.com/groups/global/AllUsers"}, 400,
         "AccessControlListNotSupported"),
        ({"x-amz-storage-class": "GLACIER"}, 400, "InvalidStorageClass"),
    ]  # fmt: skip
    for headers, status, code in cases:
        reply = await client.request("PUT", "/photos/k", b"x", headers)
        assert (reply.status, reply.error_code()) == (status, code), headers
        created = await client.request("POST", "/photos/mp?uploads", headers=headers)
        assert (created.status, created.error_code()) == (status, code), headers
    assert (await client.request("HEAD", "/photos/k")).status == 404
    accepted = {"x-amz-acl": "private", "x-amz-storage-class": "STANDARD"}
    assert (await client.request("PUT", "/photos/k", b"x", accepted)).status == 200


async def test_versions_expected_owner_and_sse_c_reads(client: Client) -> None:
    await client.request("PUT", "/photos")
    await client.request("PUT", "/photos/k", b"x")
    assert (await client.request("GET", "/photos/k?versionId=null")).status == 200
    other = await client.request("GET", "/photos/k?versionId=3HL4kqtJlcpXroDTDmJ")
    assert (other.status, other.error_code()) == (400, "InvalidArgument")
    right = {"x-amz-expected-bucket-owner": client.tenant_id}
    assert (await client.request("GET", "/photos/k", headers=right)).status == 200
    wrong = await client.request("GET", "/photos/k", headers={"x-amz-expected-bucket-owner": "1"})
    assert (wrong.status, wrong.error_code()) == (403, "AccessDenied")
    sse_c = await client.request(
        "GET", "/photos/k", headers={"x-amz-server-side-encryption-customer-algorithm": "AES256"}
    )
    assert (sse_c.status, sse_c.error_code()) == (400, "InvalidRequest")


async def test_xml_bodies_are_checked_against_their_digest(client: Client) -> None:
    await client.request("PUT", "/photos")
    await client.request("PUT", "/photos/k", b"x")
    body = b"<Delete><Object><Key>k</Key></Object></Delete>"
    missing = await client.request("POST", "/photos?delete", body)
    assert (missing.status, missing.error_code()) == (400, "InvalidRequest")
    wrong_md5 = base64.b64encode(b"\0" * 16).decode()
    wrong = await client.request("POST", "/photos?delete", body, {"Content-MD5": wrong_md5})
    assert (wrong.status, wrong.error_code()) == (400, "BadDigest")
    assert (await client.request("HEAD", "/photos/k")).status == 200  # nothing was deleted
    crc = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    ok = await client.request("POST", "/photos?delete", body, {"x-amz-checksum-crc32": crc})
    assert ok.status == 200
    assert (await client.request("HEAD", "/photos/k")).status == 404


async def test_every_request_writes_one_access_line(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="andromede.access"):
        assert (await client.request("PUT", "/logged")).status == 200
        missing = await client.request("GET", "/logged/nothing")
    lines = [r for r in caplog.records if r.name == "andromede.access"]
    assert len(lines) == 2
    rid = missing.headers["x-amz-request-id"]
    assert lines[1].getMessage().startswith(f"{rid} ")
    assert " GetObject GET /logged/nothing 404 " in lines[1].getMessage()
    assert lines[1].levelno == logging.INFO
