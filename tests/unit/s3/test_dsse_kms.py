"""DSSE-KMS (``aws:kms:dsse``) in process: two layers, each under a data key of its own from the
KMS key (decision 0075), over the real key services; the layers are opened one by one from the
stored bytes to show that both are there."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import defusedxml.ElementTree as ElementTree
import pytest

from andromede.kms.chunks import CHUNK_SIZE, ciphertext_size, decrypt_blob
from andromede.kms.errors import IntegrityError
from andromede.storage.errors import BlobError, ObjectCorrupted
from andromede.storage.model import (
    ContentHeaders,
    EncryptionMode,
    MultipartUpload,
    ObjectRecord,
    SealedContext,
    SealedHeaders,
    SegmentKey,
)
from andromede.storage.sealed_blobs import inner_layer_id, stored_form
from andromede.storage.store_sql_rows import (
    _segment_key_from_json,
    _segment_key_json,
    _stored_headers_json,
    _upload_keys_from_json,
)
from support.s3app import Client
from support.sse_kms_kit import Kit, make_kit

_SSE = "x-amz-server-side-encryption"
_KEY_ID = "x-amz-server-side-encryption-aws-kms-key-id"
_BUCKET_KEY = "x-amz-server-side-encryption-bucket-key-enabled"
_DSSE = "aws:kms:dsse"


@pytest.fixture
async def kit(tmp_path: Path) -> AsyncIterator[Kit]:
    async with make_kit(tmp_path, allow_insecure_sse=True) as made:
        yield made


def _stored(kit: Kit, record: ObjectRecord) -> bytes:
    segment = record.segments[0]
    if segment.inline is not None:
        return segment.inline
    return kit.blobs._blobs[segment.blob_id].data


async def _layer_keys(kit: Kit, record: ObjectRecord) -> tuple[bytearray, bytearray]:
    """The outer and inner data keys of a DSSE-KMS object's first segment, unwrapped."""
    key = record.segments[0].key
    assert key is not None and key.inner_wrapped is not None and record.kms_context
    outer = await kit.cipher.open_data_key(key.wrapped, record.kms_context)
    inner = await kit.cipher.open_data_key(key.inner_wrapped, record.kms_context)
    return outer, inner


# Sizes around the layers' chunk boundaries: the inner layer's bytes are 53 longer per chunk.
_SIZES = [0, 1, 4096, CHUNK_SIZE - 53, CHUNK_SIZE - 37, CHUNK_SIZE, CHUNK_SIZE + 1, 200_000]


@pytest.mark.parametrize("size", _SIZES)
async def test_objects_are_stored_in_two_layers_each_opened_by_its_own_key(
    kit: Kit, size: int
) -> None:
    key = await kit.keys.create_key(kit.caller)
    data = os.urandom(size)
    put = await kit.client.request(
        "PUT", "/vault/o", data, {_SSE: _DSSE, _KEY_ID: key.key_id, "x-amz-meta-m": "v"}
    )
    assert put.status == 200, put.body
    assert (put.headers[_SSE], put.headers[_KEY_ID]) == (_DSSE, key.arn)
    for method in ("GET", "HEAD"):
        reply = await kit.client.request(method, "/vault/o")
        assert reply.status == 200
        assert (reply.headers[_SSE], reply.headers[_KEY_ID]) == (_DSSE, key.arn)
        assert reply.headers["x-amz-meta-m"] == "v"
        assert _BUCKET_KEY not in reply.headers
    assert (await kit.client.request("GET", "/vault/o")).body == data

    record = await kit.objects.head_object("vault", "o")
    assert record.encryption is EncryptionMode.SSE_KMS_DSSE
    segment = record.segments[0]
    stored = _stored(kit, record)
    assert len(stored) == ciphertext_size(ciphertext_size(size))
    outer_key, inner_key = await _layer_keys(kit, record)
    assert outer_key != inner_key
    # The outer layer, opened with the outer key alone, is the inner layer: still sealed.
    inner_layer = bytes(decrypt_blob(outer_key, segment.blob_id, stored))
    assert len(inner_layer) == ciphertext_size(size)
    if size >= 16:
        assert data[:16] not in inner_layer
    assert bytes(decrypt_blob(inner_key, inner_layer_id(segment.blob_id), inner_layer)) == data
    # Neither key opens the other's layer, nor the inner layer under the outer layer's id.
    with pytest.raises(IntegrityError):
        decrypt_blob(inner_key, segment.blob_id, stored)
    with pytest.raises(IntegrityError):
        decrypt_blob(outer_key, inner_layer_id(segment.blob_id), inner_layer)
    with pytest.raises(IntegrityError):
        decrypt_blob(inner_key, segment.blob_id, inner_layer)


@pytest.mark.parametrize(
    ("start", "stop"),
    [
        (0, 1),
        (5, 70_000),  # from the first chunk into the second
        (CHUNK_SIZE - 10, CHUNK_SIZE + 10),  # across the inner layer's first boundary
        (70_000, 70_010),  # past the first chunk: the inner header is read on its own
        (131_000, 200_000),  # to the end
        (199_999, 200_000),
        (2 * CHUNK_SIZE, 2 * CHUNK_SIZE + 1),
    ],
)
async def test_range_reads_cross_both_layers(kit: Kit, start: int, stop: int) -> None:
    data = os.urandom(200_000)
    assert (await kit.client.request("PUT", "/vault/r", data, {_SSE: _DSSE})).status == 200
    got = await kit.client.request(
        "GET", "/vault/r", headers={"Range": f"bytes={start}-{stop - 1}"}
    )
    assert got.status == 206
    assert got.body == data[start:stop]


async def _read_all(kit: Kit, key: str) -> bytes:
    record = await kit.objects.head_object("vault", key)
    return b"".join([piece async for piece in kit.objects.read_object(record, 0, record.size - 1)])


async def test_a_flipped_byte_or_a_cut_anywhere_is_an_error_never_wrong_bytes(kit: Kit) -> None:
    data = os.urandom(150_000)
    assert (await kit.client.request("PUT", "/vault/t", data, {_SSE: _DSSE})).status == 200
    record = await kit.objects.head_object("vault", "t")
    blob_id = record.segments[0].blob_id
    original = kit.blobs._blobs[blob_id]
    stored_size = len(original.data)
    for at in (0, 40, 100, CHUNK_SIZE, CHUNK_SIZE + 60, stored_size - 1):
        damaged = bytearray(original.data)
        damaged[at] ^= 0x01
        kit.blobs._blobs[blob_id] = dataclasses.replace(original, data=bytes(damaged))
        with pytest.raises(ObjectCorrupted):
            await _read_all(kit, "t")
    for cut in (stored_size - 1, stored_size - 16, CHUNK_SIZE):
        kit.blobs._blobs[blob_id] = dataclasses.replace(original, data=original.data[:cut])
        # The store's own refusal of a read past the blob's end, or the layers' check.
        with pytest.raises((ObjectCorrupted, BlobError)):
            await _read_all(kit, "t")
    kit.blobs._blobs[blob_id] = original
    assert await _read_all(kit, "t") == data


async def test_the_layers_keys_swapped_or_one_for_both_do_not_open(kit: Kit) -> None:
    data = os.urandom(70_000)
    assert (await kit.client.request("PUT", "/vault/s", data, {_SSE: _DSSE})).status == 200
    record = await kit.objects.head_object("vault", "s")
    key = record.segments[0].key
    assert key is not None and key.inner_wrapped is not None
    for changed in (
        dataclasses.replace(key, wrapped=key.inner_wrapped, inner_wrapped=key.wrapped),
        dataclasses.replace(key, inner_wrapped=key.wrapped),
        dataclasses.replace(key, wrapped=key.inner_wrapped),
    ):
        segment = dataclasses.replace(record.segments[0], key=changed)
        await kit.objects._store.put_object(
            stored_form(dataclasses.replace(record, segments=(segment,)))
        )
        with pytest.raises(ObjectCorrupted):
            await _read_all(kit, "s")
        reply = await kit.client.request("GET", "/vault/s", headers={"Range": "bytes=0-99"})
        assert (reply.status, reply.error_code()) == (500, "InternalError")
        assert data[:32] not in reply.body


async def test_a_disabled_key_stops_reads_and_writes(kit: Kit) -> None:
    key = await kit.keys.create_key(kit.caller)
    headers = {_SSE: _DSSE, _KEY_ID: key.arn}
    assert (await kit.client.request("PUT", "/vault/d", b"x" * 100, headers)).status == 200
    await kit.keys.disable_key(kit.caller, key.key_id)
    reply = await kit.client.request("GET", "/vault/d")
    assert (reply.status, reply.error_code()) == (400, "KMS.DisabledException")
    write = await kit.client.request("PUT", "/vault/e", b"x", headers)
    assert (write.status, write.error_code()) == (400, "KMS.DisabledException")
    await kit.keys.enable_key(kit.caller, key.key_id)
    assert (await kit.client.request("GET", "/vault/d")).body == b"x" * 100


async def test_a_bucket_key_asked_for_is_not_used_nor_reported(kit: Kit) -> None:
    # AWS takes the header with DSSE-KMS and uses no bucket key; it must not say it does.
    reply = await kit.client.request("PUT", "/vault/b", b"b", {_SSE: _DSSE, _BUCKET_KEY: "true"})
    assert reply.status == 200 and _BUCKET_KEY not in reply.headers
    record = await kit.objects.head_object("vault", "b")
    key = record.segments[0].key
    assert key is not None and key.bucket_key is None and key.inner_wrapped is not None
    bad = await kit.client.request("PUT", "/vault/b", b"b", {_SSE: _DSSE, _BUCKET_KEY: "maybe"})
    assert (bad.status, bad.error_code()) == (400, "InvalidArgument")


async def test_a_default_bucket_key_is_set_aside_for_a_dsse_kms_request(kit: Kit) -> None:
    """A bucket whose default is SSE-KMS under an S3 Bucket Key, and a request asking for
    DSSE-KMS without the bucket-key header: two layers and no bucket key, as AWS does. It was
    a 500 (found by Terraform, whose provider retried it until its apply timed out)."""
    key = await kit.keys.create_key(kit.caller)
    assert await _put_default(kit.client, "aws:kms", key.arn, True) == 200
    reply = await kit.client.request("PUT", "/vault/both", b"two layers", {_SSE: _DSSE})
    assert reply.status == 200, reply.body
    assert (reply.headers[_SSE], reply.headers[_KEY_ID]) == (_DSSE, key.arn)
    assert _BUCKET_KEY not in reply.headers
    record = await kit.objects.head_object("vault", "both")
    segment_key = record.segments[0].key
    assert segment_key is not None and segment_key.bucket_key is None
    assert record.encryption is EncryptionMode.SSE_KMS_DSSE
    got = await kit.client.request("GET", "/vault/both")
    assert (got.status, got.body) == (200, b"two layers")
    # The default still puts one-layer objects under its bucket key.
    one = await kit.client.request("PUT", "/vault/one", b"1")
    assert (one.headers[_SSE], one.headers[_BUCKET_KEY]) == ("aws:kms", "true")


async def _put_default(
    client: Client, algorithm: str, key_ref: str | None, bucket_key: bool
) -> int:
    named = f"<KMSMasterKeyID>{key_ref}</KMSMasterKeyID>" if key_ref else ""
    config = (
        "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>"
        f"<SSEAlgorithm>{algorithm}</SSEAlgorithm>{named}"
        "</ApplyServerSideEncryptionByDefault>"
        f"<BucketKeyEnabled>{str(bucket_key).lower()}</BucketKeyEnabled>"
        "</Rule></ServerSideEncryptionConfiguration>"
    ).encode()
    md5 = base64.b64encode(hashlib.md5(config, usedforsecurity=False).digest()).decode()
    reply = await client.request("PUT", "/vault?encryption", config, {"Content-MD5": md5})
    return reply.status


async def test_the_bucket_default_writes_two_layers(kit: Kit) -> None:
    key = await kit.keys.create_key(kit.caller)
    assert await _put_default(kit.client, _DSSE, key.arn, True) == 200
    got = await kit.client.request("GET", "/vault?encryption")
    assert f"<SSEAlgorithm>{_DSSE}</SSEAlgorithm>".encode() in got.body
    assert f"<KMSMasterKeyID>{key.arn}</KMSMasterKeyID>".encode() in got.body
    assert b"<BucketKeyEnabled>true</BucketKeyEnabled>" in got.body  # as put (Terraform)
    put = await kit.client.request("PUT", "/vault/default", b"d" * 10)
    assert (put.headers[_SSE], put.headers[_KEY_ID]) == (_DSSE, key.arn)
    assert _BUCKET_KEY not in put.headers
    record = await kit.objects.head_object("vault", "default")
    assert record.encryption is EncryptionMode.SSE_KMS_DSSE
    # A request may still ask for one layer, or for SSE-S3.
    one = await kit.client.request("PUT", "/vault/one", b"1", {_SSE: "aws:kms"})
    assert (one.headers[_SSE], one.headers[_KEY_ID]) == ("aws:kms", key.arn)
    aes = await kit.client.request("PUT", "/vault/aes", b"a", {_SSE: "AES256"})
    assert aes.headers[_SSE] == "AES256"
    # No key named: the account's AWS-managed S3 key, as for aws:kms.
    assert await _put_default(kit.client, _DSSE, None, False) == 200
    managed = await kit.client.request("PUT", "/vault/managed", b"m")
    assert managed.headers[_SSE] == _DSSE and managed.headers[_KEY_ID] != key.arn
    assert await _put_default(kit.client, _DSSE, "alias/missing", False) == 400


async def test_copies_between_modes(kit: Kit) -> None:
    data = os.urandom(90_000)
    assert (await kit.client.request("PUT", "/vault/plain", data)).status == 200
    to_dual = await kit.client.request(
        "PUT", "/vault/dual", b"", {"x-amz-copy-source": "/vault/plain", _SSE: _DSSE}
    )
    assert to_dual.status == 200 and to_dual.headers[_SSE] == _DSSE
    assert (await kit.client.request("GET", "/vault/dual")).body == data
    back = await kit.client.request(
        "PUT", "/vault/back", b"", {"x-amz-copy-source": "/vault/dual", _SSE: "AES256"}
    )
    assert back.status == 200 and back.headers[_SSE] == "AES256"
    assert (await kit.client.request("GET", "/vault/back")).body == data
    one = await kit.client.request(
        "PUT", "/vault/one", b"", {"x-amz-copy-source": "/vault/dual", _SSE: "aws:kms"}
    )
    assert one.headers[_SSE] == "aws:kms"
    record = await kit.objects.head_object("vault", "one")
    key = record.segments[0].key
    assert key is not None and key.inner_wrapped is None
    assert (await kit.client.request("GET", "/vault/one")).body == data


def _upload_id(body: bytes) -> str:
    root = ElementTree.fromstring(body)
    found = [child.text for child in root if child.tag.endswith("UploadId")]
    assert found and found[0]
    return found[0]


async def test_multipart_parts_are_sealed_in_two_layers(kit: Kit) -> None:
    key = await kit.keys.create_key(kit.caller)
    assert (await kit.client.request("PUT", "/vault/source", os.urandom(80_000))).status == 200
    source = (await kit.client.request("GET", "/vault/source")).body
    created = await kit.client.request(
        "POST", "/vault/mp?uploads", b"", {_SSE: _DSSE, _KEY_ID: key.arn, _BUCKET_KEY: "true"}
    )
    assert created.status == 200 and created.headers[_SSE] == _DSSE
    assert _BUCKET_KEY not in created.headers
    upload_id = _upload_id(created.body)
    first = os.urandom(5 * 1024 * 1024)
    part = await kit.client.request("PUT", f"/vault/mp?partNumber=1&uploadId={upload_id}", first)
    assert (part.headers[_SSE], part.headers[_KEY_ID]) == (_DSSE, key.arn)
    copied = await kit.client.request(
        "PUT",
        f"/vault/mp?partNumber=2&uploadId={upload_id}",
        b"",
        {"x-amz-copy-source": "/vault/source", "x-amz-copy-source-range": "bytes=10-70009"},
    )
    assert copied.status == 200, copied.body
    etags = [part.headers["etag"]]
    etags.append(ElementTree.fromstring(copied.body).findtext("{*}ETag") or "")
    completion = "".join(
        f"<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>"
        for n, etag in enumerate(etags, 1)
    )
    done = await kit.client.request(
        "POST",
        f"/vault/mp?uploadId={upload_id}",
        f"<CompleteMultipartUpload>{completion}</CompleteMultipartUpload>".encode(),
    )
    assert done.status == 200, done.body
    head = await kit.client.request("HEAD", "/vault/mp")
    assert (head.headers[_SSE], head.headers[_KEY_ID]) == (_DSSE, key.arn)
    whole = first + source[10:70_010]
    assert (await kit.client.request("GET", "/vault/mp")).body == whole
    ranged = await kit.client.request(
        "GET", "/vault/mp", headers={"Range": "bytes=5242000-5243000"}
    )
    assert ranged.body == whole[5_242_000:5_243_001]
    record = await kit.objects.head_object("vault", "mp")
    assert all(s.key is not None and s.key.inner_wrapped for s in record.segments)


async def test_dsse_kms_needs_tls_off_loopback(tmp_path: Path) -> None:
    async with make_kit(tmp_path, allow_insecure_sse=False) as kit:
        reply = await kit.client.request("PUT", "/vault/t", b"x", {_SSE: _DSSE})
        assert (reply.status, reply.error_code()) == (400, "InvalidRequest")


def test_stored_forms_round_trip() -> None:
    context = SealedContext(b"t", b"c")
    dual = SegmentKey(b"w", None, "arn:aws:kms:r:1:key/k", context, None, b"inner")
    assert _segment_key_from_json(_segment_key_json(dual)) == dual
    assert dual.mode is EncryptionMode.SSE_KMS_DSSE and dual.mode.value == _DSSE
    # An SSE-KMS row written before DSSE-KMS: six elements, read as one layer.
    one = _segment_key_json(SegmentKey(b"w", None, "arn:aws:kms:r:1:key/k", context))
    assert one is not None and len(one) == 6
    assert _segment_key_from_json(one) == SegmentKey(b"w", None, "arn:aws:kms:r:1:key/k", context)
    upload = MultipartUpload(
        "b",
        "k",
        "u",
        datetime.now(UTC),
        "o",
        ContentHeaders(),
        sealed_headers=SealedHeaders(b"w", b"c"),
        kms_key_arn="arn:aws:kms:r:1:key/k",
        dual_layer=True,
    )
    stored = _upload_keys_from_json(
        _stored_headers_json(ContentHeaders(), upload.sealed_headers, upload)
    )
    assert stored["dual_layer"] is True
