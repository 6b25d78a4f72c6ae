"""Server-side encryption on the wire, in process: SSE-S3 headers, SSE-C, bucket defaults."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from support.s3app import Client, in_process_client


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with in_process_client(tmp_path, allow_insecure_sse=True) as made:
        assert (await made.request("PUT", "/vault")).status == 200
        yield made


def md5(data: bytes) -> bytes:
    return hashlib.md5(data, usedforsecurity=False).digest()


def sse_c(key: bytes, prefix: str = "x-amz-server-side-encryption-customer-") -> dict[str, str]:
    return {
        prefix + "algorithm": "AES256",
        prefix + "key": base64.b64encode(key).decode(),
        prefix + "key-MD5": base64.b64encode(
            hashlib.md5(key, usedforsecurity=False).digest()
        ).decode(),
    }


def copy_sse_c(key: bytes) -> dict[str, str]:
    return sse_c(key, "x-amz-copy-source-server-side-encryption-customer-")


async def test_every_object_reports_sse_s3(client: Client) -> None:
    put = await client.request("PUT", "/vault/a", b"hello", {"x-amz-meta-colour": "blue"})
    assert put.headers["x-amz-server-side-encryption"] == "AES256"
    explicit = await client.request(
        "PUT", "/vault/b", b"hello", {"x-amz-server-side-encryption": "AES256"}
    )
    assert explicit.status == 200
    assert (
        explicit.headers["etag"]
        == '"' + hashlib.md5(b"hello", usedforsecurity=False).hexdigest() + '"'
    )
    for method in ("GET", "HEAD"):
        reply = await client.request(method, "/vault/a")
        assert reply.headers["x-amz-server-side-encryption"] == "AES256"
        assert reply.headers["x-amz-meta-colour"] == "blue"
        assert reply.headers["content-length"] == "5"


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({"x-amz-server-side-encryption": "aws:kms"}, 501, "NotImplemented"),
        ({"x-amz-server-side-encryption": "DES"}, 400, "InvalidArgument"),
        ({"x-amz-server-side-encryption-customer-algorithm": "AES256"}, 400, "InvalidArgument"),
        ({**sse_c(os.urandom(32)), "x-amz-server-side-encryption-customer-key-MD5": "AAAA"},
         400, "InvalidArgument"),
        ({**sse_c(os.urandom(16))}, 400, "InvalidArgument"),
        ({**sse_c(os.urandom(32)), "x-amz-server-side-encryption": "AES256"},
         400, "InvalidArgument"),
    ],
)  # fmt: skip
async def test_bad_encryption_requests(
    client: Client, headers: dict[str, str], status: int, code: str
) -> None:
    reply = await client.request("PUT", "/vault/k", b"x", headers)
    assert (reply.status, reply.error_code()) == (status, code)
    assert (await client.request("HEAD", "/vault/k")).status == 404


async def test_sse_c_needs_tls_unless_allowed(tmp_path: Path) -> None:
    async with in_process_client(tmp_path) as plain:
        await plain.request("PUT", "/vault")
        reply = await plain.request("PUT", "/vault/k", b"x", sse_c(os.urandom(32)))
        assert (reply.status, reply.error_code()) == (400, "InvalidRequest")


async def test_sse_c_round_trip_and_key_checks(client: Client) -> None:
    key, other = os.urandom(32), os.urandom(32)
    data = os.urandom(200_000)
    put = await client.request("PUT", "/vault/c", data, sse_c(key))
    assert put.status == 200
    assert (
        put.headers["x-amz-server-side-encryption-customer-key-md5"]
        == sse_c(key)["x-amz-server-side-encryption-customer-key-MD5"]
    )
    assert "x-amz-server-side-encryption" not in put.headers
    for method in ("GET", "HEAD"):
        missing = await client.request(method, "/vault/c")
        assert missing.status == 400
        wrong = await client.request(method, "/vault/c", headers=sse_c(other))
        assert wrong.status == 403
    # The error codes (HEAD has no body to carry them).
    assert (await client.request("GET", "/vault/c")).error_code() == "InvalidRequest"
    wrong = await client.request("GET", "/vault/c", headers=sse_c(other))
    assert wrong.error_code() == "AccessDenied"
    got = await client.request("GET", "/vault/c", headers=sse_c(key))
    assert got.body == data
    assert got.headers["x-amz-server-side-encryption-customer-algorithm"] == "AES256"
    ranged = await client.request(
        "GET", "/vault/c", headers={**sse_c(key), "Range": "bytes=70000-140000"}
    )
    assert ranged.body == data[70000:140001]
    # A customer key for an object that has none.
    await client.request("PUT", "/vault/plain", b"p")
    reply = await client.request("GET", "/vault/plain", headers=sse_c(key))
    assert (reply.status, reply.error_code()) == (400, "InvalidRequest")


async def test_copies_between_modes(client: Client) -> None:
    key, new_key = os.urandom(32), os.urandom(32)
    data = os.urandom(150_000)
    await client.request("PUT", "/vault/src", data, sse_c(key))
    # SSE-C source without its key: refused; with it: copied to SSE-S3.
    refused = await client.request("PUT", "/vault/s3", headers={"x-amz-copy-source": "vault/src"})
    assert refused.status == 400
    copied = await client.request(
        "PUT", "/vault/s3", headers={"x-amz-copy-source": "vault/src", **copy_sse_c(key)}
    )
    assert copied.status == 200, copied.body
    assert copied.headers["x-amz-server-side-encryption"] == "AES256"
    assert (await client.request("GET", "/vault/s3")).body == data
    # SSE-S3 to SSE-C, and SSE-C to SSE-C under another key (the same object, re-keyed).
    back = await client.request(
        "PUT", "/vault/c2", headers={"x-amz-copy-source": "vault/s3", **sse_c(new_key)}
    )
    assert back.status == 200
    assert (await client.request("GET", "/vault/c2", headers=sse_c(new_key))).body == data
    rekeyed = await client.request(
        "PUT",
        "/vault/src",
        headers={"x-amz-copy-source": "vault/src", **copy_sse_c(key), **sse_c(new_key)},
    )
    assert rekeyed.status == 200
    assert (await client.request("GET", "/vault/src", headers=sse_c(key))).status == 403
    assert (await client.request("GET", "/vault/src", headers=sse_c(new_key))).body == data


async def test_multipart_sse_c_and_part_copies(client: Client) -> None:
    key = os.urandom(32)
    part1, part2 = os.urandom(5 * 1024 * 1024), os.urandom(100_000)
    created = await client.request("POST", "/vault/mp?uploads", headers=sse_c(key))
    assert created.status == 200
    upload_id = created.body.split(b"<UploadId>")[1].split(b"</UploadId>")[0].decode()
    base = f"/vault/mp?uploadId={upload_id}"
    without = await client.request("PUT", base + "&partNumber=1", part1)
    assert (without.status, without.error_code()) == (400, "InvalidRequest")
    wrong = await client.request("PUT", base + "&partNumber=1", part1, sse_c(os.urandom(32)))
    assert wrong.status == 403
    one = await client.request("PUT", base + "&partNumber=1", part1, sse_c(key))
    assert one.status == 200
    await client.request("PUT", "/vault/plain-src", part2)
    two = await client.request(
        "PUT",
        base + "&partNumber=2",
        headers={"x-amz-copy-source": "vault/plain-src", **sse_c(key)},
    )
    assert two.status == 200, two.body
    etag2 = two.body.split(b"<ETag>")[1].split(b"</ETag>")[0].decode()
    complete = (
        "<CompleteMultipartUpload>"
        f"<Part><PartNumber>1</PartNumber><ETag>{one.headers['etag']}</ETag></Part>"
        f"<Part><PartNumber>2</PartNumber><ETag>{etag2}</ETag></Part>"
        "</CompleteMultipartUpload>"
    ).encode()
    done = await client.request("POST", base, complete)
    assert done.status == 200, done.body
    whole = part1 + part2
    got = await client.request("GET", "/vault/mp", headers=sse_c(key))
    assert got.body == whole
    # A range across the part boundary decrypts the end of one part and the start of the next.
    start, end = len(part1) - 70_000, len(part1) + 70_000
    ranged = await client.request(
        "GET", "/vault/mp", headers={**sse_c(key), "Range": f"bytes={start}-{end}"}
    )
    assert ranged.body == whole[start : end + 1]
    assert (await client.request("GET", "/vault/mp")).status == 400


async def test_bucket_default_encryption(client: Client) -> None:
    default = await client.request("GET", "/vault?encryption")
    assert default.status == 200
    assert b"<SSEAlgorithm>AES256</SSEAlgorithm>" in default.body
    document = (
        b"<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>"
        b"<SSEAlgorithm>%s</SSEAlgorithm></ApplyServerSideEncryptionByDefault>"
        b"<BucketKeyEnabled>true</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>"
    )

    def with_md5(body: bytes) -> dict[str, str]:
        digest = hashlib.md5(body, usedforsecurity=False).digest()
        return {"Content-MD5": base64.b64encode(digest).decode()}

    body = document % b"AES256"
    assert (await client.request("PUT", "/vault?encryption", body, with_md5(body))).status == 200
    got = await client.request("GET", "/vault?encryption")
    assert b"<BucketKeyEnabled>true</BucketKeyEnabled>" in got.body
    kms = document % b"aws:kms"
    refused = await client.request("PUT", "/vault?encryption", kms, with_md5(kms))
    assert (refused.status, refused.error_code()) == (501, "NotImplemented")
    bad = b"<ServerSideEncryptionConfiguration/>"
    malformed = await client.request("PUT", "/vault?encryption", bad, with_md5(bad))
    assert malformed.error_code() == "MalformedXML"
    assert (await client.request("DELETE", "/vault?encryption")).status == 204
    after = await client.request("GET", "/vault?encryption")
    assert b"<BucketKeyEnabled>false</BucketKeyEnabled>" in after.body
