"""Small objects kept in their metadata row (decision 0028): which objects, what the row holds,
reads and ranges, overwrites and the deletion queue, copies, regions, tampering, SSE-C, the
benchmark switch.

Runs on both storage stacks (memory twins; SQLite + local disk) with the real key service.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from andromede.kms.service import KeyService
from andromede.object_keys import KmsObjectCipher, PlaintextBenchCipher
from andromede.storage.encryption import CustomerKey, ObjectEncryption
from andromede.storage.errors import CustomerKeyMismatch, IncompleteBody, ObjectCorrupted
from andromede.storage.model import ContentHeaders, EncryptionMode, ObjectRecord
from andromede.storage.service import BodyIntegrity, CompletedPart, ObjectService, StorageLimits
from support.keys import key_service_in

from .conftest import Stack, customer_key

INLINE_MAX = 2000
LIMITS = StorageLimits(
    max_object_size=1 << 24,
    max_part_size=1 << 24,
    min_part_size=100,
    max_parts=100,
    max_key_length=100,
    max_user_metadata_size=256,
    read_chunk_size=10_000,
    deletion_grace=0.0,
    inline_object_max_bytes=INLINE_MAX,
    inline_object_regions=frozenset({"eu"}),
)
T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@dataclasses.dataclass
class World:
    svc: ObjectService
    keys: KeyService
    stack: Stack


@pytest.fixture
async def world(stack: Stack, tmp_path: Path) -> World:
    keys = key_service_in(tmp_path / "keys")
    svc = ObjectService(
        stack.store, stack.blobs, LIMITS, KmsObjectCipher(keys, inline=True), clock=lambda: T0
    )
    await svc.create_bucket("bkt", tenant_id="t1", owner_id="o1", region="eu")
    await svc.create_bucket("far", tenant_id="t1", owner_id="o1", region="us")
    return World(svc, keys, stack)


async def body(data: bytes, piece: int = 700) -> AsyncIterator[bytes]:
    for i in range(0, len(data), piece):
        yield data[i : i + piece]


async def put(
    svc: ObjectService,
    key: str,
    data: bytes,
    *,
    bucket: str = "bkt",
    customer: CustomerKey | None = None,
    size: int | None = None,
) -> ObjectRecord:
    return await svc.put_object(
        bucket,
        key,
        body(data),
        size=len(data) if size is None else size,
        headers=ContentHeaders(user_metadata={"m": "v"}),
        owner_id="o1",
        integrity=BodyIntegrity(),
        encryption=ObjectEncryption("t1", customer),
    )


async def read(svc: ObjectService, bucket: str, key: str, start: int = 0, end: int = -1) -> bytes:
    record = await svc.head_object(bucket, key)
    last = record.size - 1 if end < 0 else end
    return b"".join([c async for c in svc.read_object(record, start, last)])


async def stored(world: World, bucket: str, key: str) -> ObjectRecord:
    """The row as the store keeps it."""
    found = await world.stack.store.get_object(bucket, key)
    assert found is not None
    return found


async def due_deletions(world: World) -> list[str]:
    return await world.stack.store.take_due_blob_deletions(T0 + timedelta(seconds=1), 100)


@pytest.mark.parametrize("size", [0, 1, 1000, INLINE_MAX])
async def test_objects_up_to_the_limit_live_in_their_row_encrypted(world: World, size: int) -> None:
    data = os.urandom(size)
    record = await put(world.svc, "k", data)
    assert world.stack.blobs.blob_ids() == set()
    segment = (await stored(world, "bkt", "k")).segments[0]
    assert segment.inline is not None and record.encryption is EncryptionMode.SSE_S3
    assert len(segment.inline) == world.keys.stored_size(size)  # the format a blob has
    assert size < 16 or data[:16] not in segment.inline
    assert await read(world.svc, "bkt", "k") == data
    head = await world.svc.head_object("bkt", "k")
    assert head.headers.user_metadata == {"m": "v"} and head.etag == record.etag


async def test_an_object_past_the_limit_goes_to_a_blob(world: World) -> None:
    data = os.urandom(INLINE_MAX + 1)
    record = await put(world.svc, "k", data)
    assert world.stack.blobs.blob_ids() == {record.segments[0].blob_id}
    assert (await stored(world, "bkt", "k")).segments[0].inline is None
    assert await read(world.svc, "bkt", "k") == data


async def test_regions_not_named_keep_every_object_in_blobs(world: World) -> None:
    record = await put(world.svc, "k", b"small", bucket="far")
    assert world.stack.blobs.blob_ids() == {record.segments[0].blob_id}
    assert await read(world.svc, "far", "k") == b"small"


@pytest.mark.parametrize(("start", "end"), [(0, 0), (5, 5), (17, 1500), (1999, 1999), (0, 1999)])
async def test_ranges_of_an_inline_object(world: World, start: int, end: int) -> None:
    data = os.urandom(INLINE_MAX)
    await put(world.svc, "k", data)
    assert await read(world.svc, "bkt", "k", start, end) == data[start : end + 1]


async def test_overwrites_queue_only_real_blobs(world: World) -> None:
    big = await put(world.svc, "k", os.urandom(INLINE_MAX + 5))
    await put(world.svc, "k", b"small now")  # replaces a blob: that blob is queued
    assert await due_deletions(world) == [big.segments[0].blob_id]
    bigger = await put(world.svc, "k", os.urandom(INLINE_MAX * 2))  # replaces inline bytes
    assert await due_deletions(world) == []
    await put(world.svc, "k", b"small again")
    await put(world.svc, "k", b"and again")  # inline over inline
    await world.svc.delete_object("bkt", "k")  # the bytes go with the row
    assert await due_deletions(world) == [bigger.segments[0].blob_id]


async def test_a_body_of_the_wrong_length_leaves_no_row(world: World) -> None:
    with pytest.raises(IncompleteBody):
        await put(world.svc, "short", b"abc", size=10)
    with pytest.raises(IncompleteBody):
        await put(world.svc, "long", b"abcdef", size=3)
    assert await world.stack.store.get_object("bkt", "short") is None
    assert await world.stack.store.get_object("bkt", "long") is None
    assert world.stack.blobs.blob_ids() == set()


async def test_copies_are_inline_where_their_target_allows_it(world: World) -> None:
    data = os.urandom(1500)
    await put(world.svc, "src", data)
    source = await world.svc.head_object("bkt", "src")
    for bucket, key in (("bkt", "copy"), ("far", "copy")):
        await world.svc.copy_object(
            source, bucket, key, headers=None, owner_id="o1", checksum_algorithm=None,
            encryption=ObjectEncryption("t1"),
        )  # fmt: skip
        assert await read(world.svc, bucket, key) == data
    inline = (await stored(world, "bkt", "copy")).segments[0]
    assert inline.inline is not None
    assert inline.blob_id != source.segments[0].blob_id  # its own data key and AAD
    assert world.stack.blobs.blob_ids() == {
        (await stored(world, "far", "copy")).segments[0].blob_id
    }


@pytest.mark.parametrize("offset", [0, 20, 60, -1])
async def test_tampered_inline_bytes_are_an_error_never_bytes(world: World, offset: int) -> None:
    data = os.urandom(1800)
    await put(world.svc, "t", data)
    row = await stored(world, "bkt", "t")
    segment = row.segments[0]
    assert segment.inline is not None
    damaged = bytearray(segment.inline)
    damaged[offset] ^= 1  # version byte, header, first chunk, last tag
    await _replace_bytes(world, row, bytes(damaged))
    with pytest.raises(ObjectCorrupted):
        await read(world.svc, "bkt", "t")


async def test_truncated_or_swapped_inline_bytes_are_refused(world: World) -> None:
    await put(world.svc, "a", os.urandom(1000))
    await put(world.svc, "b", os.urandom(1000))
    row_a, row_b = await stored(world, "bkt", "a"), await stored(world, "bkt", "b")
    assert row_a.segments[0].inline is not None and row_b.segments[0].inline is not None
    await _replace_bytes(world, row_a, row_a.segments[0].inline[:-1])
    with pytest.raises(ObjectCorrupted):
        await read(world.svc, "bkt", "a")
    # b's bytes under a's row: bound to b's id (AAD) and sealed under b's data key
    await _replace_bytes(world, row_b, (await stored(world, "bkt", "a")).segments[0].inline)
    with pytest.raises(ObjectCorrupted):
        await read(world.svc, "bkt", "b", 0, 10)


async def test_sse_c_inline_objects_need_their_key(world: World) -> None:
    mine, other = customer_key(), customer_key()
    record = await put(world.svc, "c", b"customer bytes", customer=mine)
    assert record.encryption is EncryptionMode.SSE_C and world.stack.blobs.blob_ids() == set()
    head = await world.svc.head_object("bkt", "c")
    with pytest.raises(CustomerKeyMismatch):
        b"".join([c async for c in world.svc.read_object(head, 0, 5, customer_key=other)])
    got = b"".join([c async for c in world.svc.read_object(head, 0, 13, customer_key=mine)])
    assert got == b"customer bytes"


async def test_parts_are_never_inline(world: World) -> None:
    svc = world.svc
    upload = await svc.create_multipart_upload(
        "bkt", "mp", headers=ContentHeaders(), owner_id="o1", checksum_algorithm=None,
        checksum_type=None,
    )  # fmt: skip
    parts = [os.urandom(150), os.urandom(10)]
    done = []
    for number, data in enumerate(parts, start=1):
        part = await svc.upload_part(
            "bkt", "mp", upload.upload_id, number, body(data), size=len(data),
            integrity=BodyIntegrity(),
        )  # fmt: skip
        done.append(CompletedPart(number, part.etag))
    await svc.complete_multipart_upload("bkt", "mp", upload.upload_id, done)
    assert len(world.stack.blobs.blob_ids()) == 2
    assert await read(svc, "bkt", "mp") == b"".join(parts)


async def test_the_bench_switch_keeps_plaintext_inline_until_encryption_converts_it(
    world: World,
) -> None:
    plain = ObjectService(world.stack.store, world.stack.blobs, LIMITS, PlaintextBenchCipher())
    data = os.urandom(1200)
    await put(plain, "bench", data)
    assert (await stored(world, "bkt", "bench")).segments[0].inline == data
    assert await read(plain, "bkt", "bench") == data
    with pytest.raises(ObjectCorrupted):  # encryption on: never served in clear
        await read(world.svc, "bkt", "bench")
    assert await world.svc.reencrypt_legacy_objects() == 1
    converted = (await stored(world, "bkt", "bench")).segments[0]
    assert converted.inline is not None and data[:16] not in converted.inline
    assert world.stack.blobs.blob_ids() == set()
    assert await read(world.svc, "bkt", "bench") == data


async def _replace_bytes(world: World, row: ObjectRecord, data: bytes) -> None:
    segment = dataclasses.replace(row.segments[0], inline=data)
    changed = dataclasses.replace(row, segments=(segment,))
    assert await world.stack.store.replace_object_segments(row, changed)
