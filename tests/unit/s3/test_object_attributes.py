"""GetObjectAttributes in process (decision 0076): the attributes asked for, the checksum
without its part count, the parts of a composite object paged like ListParts, the permissions
and encryption keys a read needs, and bad requests."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import defusedxml.ElementTree as ElementTree
import pytest

from support.s3app import Client, Reply, in_process_client

B = "/attrs"
ATTRIBUTES = "x-amz-object-attributes"
ALL = "ETag,Checksum,ObjectParts,StorageClass,ObjectSize"
MIB = 1024 * 1024


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with in_process_client(tmp_path) as made:
        assert (await made.request("PUT", B)).status == 200
        yield made


def _fields(reply: Reply) -> dict[str, object]:
    """The answer as a dict: leaf elements by name, ``Checksum`` and ``ObjectParts`` nested,
    ``Part`` a list."""
    assert reply.status == 200, reply.body
    root = ElementTree.fromstring(reply.body)
    assert root.tag.endswith("GetObjectAttributesOutput")

    def read(element: ElementTree.Element) -> dict[str, object]:
        out: dict[str, object] = {}
        for child in element:
            name = child.tag.split("}")[-1]
            if len(child):
                value = read(child)
                if name == "Part":
                    parts = out.setdefault("Part", [])
                    assert isinstance(parts, list)
                    parts.append(value)
                    continue
                out[name] = value
            else:
                out[name] = child.text
        return out

    return read(root)


async def attributes(
    client: Client, key: str, wanted: str = ALL, headers: dict[str, str] | None = None
) -> Reply:
    return await client.request(
        "GET", f"{B}/{key}?attributes", headers={ATTRIBUTES: wanted, **(headers or {})}
    )


def _sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


async def test_a_single_put_answers_what_was_asked(client: Client) -> None:
    data = os.urandom(1000)
    put = await client.request("PUT", f"{B}/one", data, {"x-amz-checksum-sha256": _sha256(data)})
    assert put.status == 200
    reply = await attributes(client, "one")
    assert reply.headers["last-modified"]
    assert "etag" not in {name.lower() for name in reply.headers}
    assert _fields(reply) == {
        "ETag": hashlib.md5(data, usedforsecurity=False).hexdigest(),  # unquoted
        "Checksum": {"ChecksumSHA256": _sha256(data), "ChecksumType": "FULL_OBJECT"},
        "StorageClass": "STANDARD",
        "ObjectSize": "1000",
    }
    # Only what is asked for; without a checksum sent, the CRC64NVME S3 computes for every
    # object.
    assert _fields(await attributes(client, "one", "ObjectSize")) == {"ObjectSize": "1000"}
    await client.request("PUT", f"{B}/plain", b"abc")
    plain = _fields(await attributes(client, "plain", "Checksum, ETag"))
    assert plain["ETag"] == hashlib.md5(b"abc", usedforsecurity=False).hexdigest()
    assert plain["Checksum"] == {
        "ChecksumCRC64NVME": (
            await client.request("HEAD", f"{B}/plain", headers={"x-amz-checksum-mode": "ENABLED"})
        ).headers["x-amz-checksum-crc64nvme"],
        "ChecksumType": "FULL_OBJECT",
    }


async def _multipart(
    client: Client, key: str, parts: list[bytes], *, full_object: bool = False
) -> None:
    """A SHA-256 composite upload, or a CRC32 full-object one."""
    name, digest = ("CRC32", _crc32) if full_object else ("SHA256", _sha256)
    headers = {"x-amz-checksum-algorithm": name}
    if full_object:
        headers["x-amz-checksum-type"] = "FULL_OBJECT"
    created = await client.request("POST", f"{B}/{key}?uploads", headers=headers)
    assert created.status == 200, created.body
    upload_id = ElementTree.fromstring(created.body).findtext("{*}UploadId")
    listed = ""
    for number, body in enumerate(parts, start=1):
        reply = await client.request(
            "PUT",
            f"{B}/{key}?partNumber={number}&uploadId={upload_id}",
            body,
            {f"x-amz-checksum-{name.lower()}": digest(body)},
        )
        assert reply.status == 200, reply.body
        listed += (
            f"<Part><PartNumber>{number}</PartNumber><ETag>{reply.headers['etag']}</ETag>"
            f"<Checksum{name}>{digest(body)}</Checksum{name}></Part>"
        )
    done = await client.request(
        "POST",
        f"{B}/{key}?uploadId={upload_id}",
        f"<CompleteMultipartUpload>{listed}</CompleteMultipartUpload>".encode(),
    )
    assert done.status == 200, done.body


async def test_a_composite_object_lists_its_parts_and_pages_them(client: Client) -> None:
    parts = [os.urandom(5 * MIB), os.urandom(5 * MIB), b"tail"]
    await _multipart(client, "mp", parts)
    head = await client.request("HEAD", f"{B}/mp", headers={"x-amz-checksum-mode": "ENABLED"})
    composite = head.headers["x-amz-checksum-sha256"]
    assert composite.endswith("-3")
    fields = _fields(await attributes(client, "mp"))
    # The same value as HEAD's, without the part count (as AWS answers it).
    assert fields["Checksum"] == {
        "ChecksumSHA256": composite.removesuffix("-3"),
        "ChecksumType": "COMPOSITE",
    }
    assert fields["ObjectSize"] == str(10 * MIB + 4)
    assert fields["ObjectParts"] == {
        "PartsCount": "3",
        "PartNumberMarker": "0",
        "NextPartNumberMarker": "3",
        "MaxParts": "1000",
        "IsTruncated": "false",
        "Part": [
            {"ChecksumSHA256": _sha256(body), "PartNumber": str(n), "Size": str(len(body))}
            for n, body in enumerate(parts, start=1)
        ],
    }
    paged = _fields(
        await attributes(
            client, "mp", "ObjectParts", {"x-amz-max-parts": "1", "x-amz-part-number-marker": "1"}
        )
    )
    assert paged["ObjectParts"] == {
        "PartsCount": "3",
        "PartNumberMarker": "1",
        "NextPartNumberMarker": "2",
        "MaxParts": "1",
        "IsTruncated": "true",
        "Part": [{"ChecksumSHA256": _sha256(parts[1]), "PartNumber": "2", "Size": str(5 * MIB)}],
    }


async def test_a_full_object_checksum_counts_parts_without_listing_them(client: Client) -> None:
    await _multipart(client, "full", [os.urandom(5 * MIB), b"end"], full_object=True)
    fields = _fields(await attributes(client, "full", "ObjectParts,Checksum"))
    assert fields["ObjectParts"] == {"PartsCount": "2"}
    checksum = fields["Checksum"]
    assert isinstance(checksum, dict) and checksum["ChecksumType"] == "FULL_OBJECT"


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "InvalidArgument"),
        ({ATTRIBUTES: ""}, "InvalidArgument"),
        ({ATTRIBUTES: "ETag,Owner"}, "InvalidArgument"),
        ({ATTRIBUTES: "ETag", "x-amz-max-parts": "-1"}, "InvalidArgument"),
        ({ATTRIBUTES: "ETag", "x-amz-part-number-marker": "x"}, "InvalidArgument"),
        ({ATTRIBUTES: "ETag", "x-amz-max-parts": "99999999999"}, "InvalidArgument"),
    ],
)
async def test_bad_requests(client: Client, headers: dict[str, str], code: str) -> None:
    await client.request("PUT", f"{B}/k", b"k")
    reply = await client.request("GET", f"{B}/k?attributes", headers=headers)
    assert (reply.status, reply.error_code()) == (400, code)


async def test_missing_objects_conditions_and_versions(client: Client) -> None:
    assert (await attributes(client, "nothing")).error_code() == "NoSuchKey"
    put = await client.request("PUT", f"{B}/c", b"c")
    etag = put.headers["etag"]
    failed = await attributes(client, "c", headers={"If-Match": '"0000"'})
    assert (failed.status, failed.error_code()) == (412, "PreconditionFailed")
    not_modified = await attributes(client, "c", headers={"If-None-Match": etag})
    assert not_modified.status == 304 and not_modified.body == b""
    assert (await attributes(client, "c", headers={"If-Match": etag})).status == 200
    other_version = await client.request(
        "GET", f"{B}/c?attributes&versionId=abc", headers={ATTRIBUTES: "ETag"}
    )
    assert (other_version.status, other_version.error_code()) == (400, "InvalidArgument")


async def test_sse_c_objects_need_their_key(tmp_path: Path) -> None:
    async with in_process_client(tmp_path, allow_insecure_sse=True) as client:
        assert (await client.request("PUT", B)).status == 200
        await _sse_c_needs_its_key(client)


async def _sse_c_needs_its_key(client: Client) -> None:
    key = os.urandom(32)
    ssec = {
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-server-side-encryption-customer-key": base64.b64encode(key).decode(),
        "x-amz-server-side-encryption-customer-key-md5": base64.b64encode(
            hashlib.md5(key, usedforsecurity=False).digest()
        ).decode(),
    }
    assert (await client.request("PUT", f"{B}/secret", b"s", ssec)).status == 200
    without = await attributes(client, "secret", "ObjectSize")
    assert (without.status, without.error_code()) == (400, "InvalidRequest")
    other_key = dict(ssec)
    other = os.urandom(32)
    other_key["x-amz-server-side-encryption-customer-key"] = base64.b64encode(other).decode()
    other_key["x-amz-server-side-encryption-customer-key-md5"] = base64.b64encode(
        hashlib.md5(other, usedforsecurity=False).digest()
    ).decode()
    assert (await attributes(client, "secret", "ObjectSize", other_key)).status == 403
    with_key = await attributes(client, "secret", "ObjectSize", ssec)
    assert _fields(with_key) == {"ObjectSize": "1"}


async def test_it_takes_get_object_and_get_object_attributes(client: Client) -> None:
    await client.request("PUT", f"{B}/guarded", b"g")
    user = await client.iam_user("reader")
    assert (await attributes(user, "guarded", "ETag")).status == 403
    assert client.identity is not None

    async def allow(*actions: str) -> None:
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": list(actions), "Resource": "arn:aws:s3:::attrs/*"}
            ],
        }
        assert client.identity is not None
        await client.identity.put_user_policy(client.tenant_id, "reader", "p", json.dumps(policy))

    await allow("s3:GetObjectAttributes")
    assert (await attributes(user, "guarded", "ETag")).status == 403
    await allow("s3:GetObject")
    assert (await attributes(user, "guarded", "ETag")).status == 403
    await allow("s3:GetObject", "s3:GetObjectAttributes")
    assert _fields(await attributes(user, "guarded", "ObjectSize")) == {"ObjectSize": "1"}
