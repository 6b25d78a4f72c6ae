"""Encryption in the object path: what the blobs hold, ranges, tampering, legacy rows, shredding.

Runs on both storage stacks (memory twins; SQLite + local disk) with the real key service over a
local key file: there is no unencrypted path to test against.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import ValidationError

from andromede.app import storage_limits
from andromede.kms.chunks import FORMAT_FRESH_KEY, FORMAT_SALTED, HEADER_SIZE
from andromede.kms.errors import KeyNotFound, ProviderError
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.model import WrappedDataKey
from andromede.kms.service import KeyService, NewDataKey
from andromede.object_keys import KmsObjectCipher, PlaintextBenchCipher, RingCheck
from andromede.settings import Settings
from andromede.storage import encryption as encryption_module
from andromede.storage import sealed_blobs
from andromede.storage.acl import AccessControlList
from andromede.storage.blob_memory import MemoryBlobStore
from andromede.storage.encryption import CustomerKey, ObjectEncryption, open_headers
from andromede.storage.errors import (
    CustomerKeyMismatch,
    CustomerKeyNotApplicable,
    CustomerKeyRequired,
    EncryptionKeyUnavailable,
    InvalidPart,
    KeyServiceUnavailable,
    ObjectCorrupted,
)
from andromede.storage.model import (
    Checksum,
    ChecksumAlgorithm,
    ContentHeaders,
    EncryptionMode,
    ObjectRecord,
    Part,
    SealedHeaders,
    Segment,
)
from andromede.storage.notification import EventBatch
from andromede.storage.object_lock import LockMode, ObjectLock
from andromede.storage.replication import ReplicationTarget
from andromede.storage.service import BodyIntegrity, CompletedPart, ObjectService, StorageLimits
from support.keys import key_service_in

from .conftest import Stack, customer_key

LIMITS = StorageLimits(
    max_object_size=1 << 24,
    max_part_size=1 << 24,
    min_part_size=1000,
    max_parts=100,
    max_key_length=100,
    max_user_metadata_size=256,
    read_chunk_size=10_000,
    deletion_grace=0.0,
)
CHUNK = 64 * 1024


@dataclasses.dataclass
class World:
    svc: ObjectService
    keys: KeyService
    stack: Stack


@pytest.fixture
async def world(stack: Stack, tmp_path: Path) -> World:
    keys = key_service_in(tmp_path / "keys")
    svc = ObjectService(stack.store, stack.blobs, LIMITS, KmsObjectCipher(keys, inline=True))
    await svc.create_bucket("bkt", tenant_id="t1", owner_id="o1", region="eu")
    return World(svc, keys, stack)


async def body(data: bytes, piece: int = 9_999) -> AsyncIterator[bytes]:
    for i in range(0, len(data), piece):
        yield data[i : i + piece]


async def put(
    svc: ObjectService,
    key: str,
    data: bytes,
    customer: CustomerKey | None = None,
    metadata: dict[str, str] | None = None,
) -> ObjectRecord:
    return await svc.put_object(
        "bkt",
        key,
        body(data),
        size=len(data),
        headers=ContentHeaders(user_metadata=metadata or {}),
        owner_id="o1",
        integrity=BodyIntegrity(),
        encryption=ObjectEncryption("t1", customer),
    )


async def read(
    svc: ObjectService, record: ObjectRecord, start: int, end: int, **kw: CustomerKey
) -> bytes:
    return b"".join([c async for c in svc.read_object(record, start, end, **kw)])


async def _whole(stack: Stack, blob_id: str) -> bytes:
    low, high = 0, 1 << 26
    while low < high:  # the largest readable length is the blob's size
        mid = (low + high + 1) // 2
        try:
            async for _ in stack.blobs.read(blob_id, 0, mid, 1 << 26):
                pass
            low = mid
        except Exception:
            high = mid - 1
    return b"".join([c async for c in stack.blobs.read(blob_id, 0, low, 1 << 26)])


async def test_blobs_hold_ciphertext_and_records_the_plaintext_view(world: World) -> None:
    data = os.urandom(3 * CHUNK + 123)
    record = await put(world.svc, "k", data, metadata={"m": "v"})
    assert record.size == len(data) and record.encryption is EncryptionMode.SSE_S3
    stored = await _whole(world.stack, record.segments[0].blob_id)
    assert len(stored) == world.keys.stored_size(len(data))
    assert data[:64] not in stored and data[CHUNK : CHUNK + 64] not in stored
    head = await world.svc.head_object("bkt", "k")
    assert head.headers.user_metadata == {"m": "v"}
    stored_row = await world.stack.store.get_object("bkt", "k")
    assert stored_row is not None and stored_row.headers.user_metadata == {}  # sealed
    assert await read(world.svc, head, 0, len(data) - 1) == data


async def _stored(world: World, record: ObjectRecord) -> bytes:
    segment = record.segments[0]
    return (
        segment.inline if segment.inline is not None else await _whole(world.stack, segment.blob_id)
    )


@pytest.mark.parametrize("size", [0, 100, CHUNK, 3 * CHUNK + 5])
@pytest.mark.parametrize("sse_c", [False, True])
async def test_every_blob_is_sealed_under_its_own_fresh_key(
    world: World, size: int, sse_c: bool
) -> None:
    # Format 2: the chunks under the blob's data key itself, its header's salt field zero.
    customer = customer_key() if sse_c else None
    data = os.urandom(size)
    record = await put(world.svc, "k", data, customer)
    stored_row = await world.stack.store.get_object("bkt", "k")
    assert stored_row is not None
    stored = await _stored(world, stored_row)
    assert stored[0] == FORMAT_FRESH_KEY and stored[5:HEADER_SIZE] == bytes(32)
    if size:
        kw = {"customer_key": customer} if customer else {}
        assert await read(world.svc, record, 0, size - 1, **kw) == data


async def test_a_blob_keys_seal_one_blob_only(world: World) -> None:
    # A second blob under the same keys would reuse (key, nonce) pairs: refused, not written.
    keys = await world.svc._sealed.new_keys(ObjectEncryption("t1"), "bkt", "k")
    await world.svc._sealed.write(body(b"one"), 3, None, BodyIntegrity(), keys, inline_max=100)
    with pytest.raises(RuntimeError, match="another blob"):
        await world.svc._sealed.write(body(b"two"), 3, None, BodyIntegrity(), keys)


async def test_sealed_headers_nonces_never_take_a_chunk_nonce(world: World) -> None:
    # Under SSE-S3 the headers share the blob's key; chunk nonces end in three zero bytes.
    for index in range(20):
        await put(world.svc, f"k{index}", b"x", metadata={"m": str(index)})
        row = await world.stack.store.get_object("bkt", f"k{index}")
        assert row is not None and row.sealed_headers is not None
        assert row.sealed_headers.ciphertext[11] != 0


def test_sealed_nonces_are_drawn_in_batches_and_never_repeat() -> None:
    drawn = [encryption_module._sealed_nonce() for _ in range(3 * 256 + 7)]  # three refills
    assert len(set(drawn)) == len(drawn)
    assert all(len(nonce) == 12 and nonce[11] == 1 for nonce in drawn)
    waiting = list(encryption_module._nonces)  # what the parent would still hand out
    encryption_module._nonces = iter(waiting)
    encryption_module._drop_nonces()  # what a forked child runs first
    assert encryption_module._sealed_nonce() not in waiting


@pytest.mark.parametrize("size", [10, 2 * CHUNK + 1])
async def test_salted_blobs_of_earlier_releases_still_read(
    world: World, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    # Written as the releases before format 2 wrote every blob (a salted chunk key per blob):
    # the data key's bytes ride with its AES-GCM object to where the blob is sealed.
    keys = world.keys
    fresh = KeyService.new_data_key

    class KeyWithBytes:
        def __init__(self, key: bytes) -> None:
            self.key = key
            self.encrypt = AESGCM(key).encrypt

    def new_data_key(service: KeyService, tenant_id: str, bound: bytes = b"") -> NewDataKey:
        made = fresh(service, tenant_id, bound)
        return made._replace(cipher=KeyWithBytes(bytes(made.plaintext)))  # type: ignore[arg-type]

    monkeypatch.setattr(KeyService, "new_data_key", new_data_key)
    monkeypatch.setattr(
        KmsObjectCipher, "sealer", lambda self, key, blob: keys.object_encryptor(key.key, blob)
    )
    monkeypatch.setattr(
        KmsObjectCipher,
        "seal_whole",
        lambda self, key, blob, plain: keys.seal_whole_blob(key.key, blob, plain),
    )
    data = os.urandom(size)
    await put(world.svc, "old", data)
    monkeypatch.undo()
    stored_row = await world.stack.store.get_object("bkt", "old")
    assert stored_row is not None and (await _stored(world, stored_row))[0] == FORMAT_SALTED
    keys._cache.clear()  # read back as a fresh process would
    keys._chunk_keys.clear()
    record = await world.svc.head_object("bkt", "old")
    assert await read(world.svc, record, 0, size - 1) == data
    assert await read(world.svc, record, 3, 7) == data[3:8]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (0, 0),
        (CHUNK - 1, CHUNK),
        (CHUNK, 2 * CHUNK - 1),
        (5, 3 * CHUNK + 122),
        (3 * CHUNK, 3 * CHUNK + 122),
    ],
)
async def test_ranges_decrypt_only_what_they_touch(world: World, start: int, end: int) -> None:
    data = os.urandom(3 * CHUNK + 123)
    record = await put(world.svc, "k", data)
    assert await read(world.svc, record, start, end) == data[start : end + 1]


async def test_multipart_ranges_span_parts(world: World) -> None:
    svc = world.svc
    upload = await svc.create_multipart_upload(
        "bkt", "mp", headers=ContentHeaders(user_metadata={"x": "y"}), owner_id="o1",
        checksum_algorithm=None, checksum_type=None,
    )  # fmt: skip
    parts = [os.urandom(CHUNK + 1000), os.urandom(2 * CHUNK + 7)]
    done = []
    for number, data in enumerate(parts, start=1):
        part = await svc.upload_part(
            "bkt", "mp", upload.upload_id, number, body(data), size=len(data),
            integrity=BodyIntegrity(),
        )  # fmt: skip
        assert part.key is not None
        done.append(CompletedPart(number, part.etag))
    record = await svc.complete_multipart_upload("bkt", "mp", upload.upload_id, done)
    whole = b"".join(parts)
    head = await svc.head_object("bkt", "mp")
    assert head.headers.user_metadata == {"x": "y"}
    assert await read(svc, head, 0, len(whole) - 1) == whole
    boundary = len(parts[0])
    assert (
        await read(svc, record, boundary - 10, boundary + 10)
        == whole[boundary - 10 : boundary + 11]
    )


async def test_sse_c_keys_are_checked(world: World) -> None:
    customer, other = customer_key(), customer_key()
    data = os.urandom(1000)
    record = await put(world.svc, "c", data, customer)
    assert record.encryption is EncryptionMode.SSE_C
    with pytest.raises(CustomerKeyRequired):
        await world.svc.check_customer_key(record, None)
    with pytest.raises(CustomerKeyMismatch):
        await world.svc.check_customer_key(record, other)
    await world.svc.check_customer_key(record, customer)
    assert await read(world.svc, record, 0, 999, customer_key=customer) == data
    with pytest.raises(CustomerKeyMismatch):
        await read(world.svc, record, 0, 999, customer_key=other)
    plain = await put(world.svc, "p", data)
    with pytest.raises(CustomerKeyNotApplicable):
        await world.svc.check_customer_key(plain, customer)


@pytest.mark.parametrize("offset", [0, 20, 100, CHUNK + 60, 2 * CHUNK + 50])
async def test_a_tampered_blob_is_an_error_never_bytes(world: World, offset: int) -> None:
    data = os.urandom(2 * CHUNK)
    record = await put(world.svc, "t", data)
    blob_id = record.segments[0].blob_id
    raw = bytearray(await _whole(world.stack, blob_id))
    raw[offset] ^= 1  # header (version, salt), first chunk, second chunk, last tag
    await world.stack.blobs.delete(blob_id)
    writer = await world.stack.blobs.create(blob_id)
    await writer.write(bytes(raw))
    await writer.commit()
    received = b""
    with pytest.raises(ObjectCorrupted):
        async for piece in world.svc.read_object(record, 0, len(data) - 1):
            received += piece
    assert received == data[: len(received)]  # what came before the damage, nothing else


async def _rewrite(stack: Stack, blob_id: str, raw: bytes) -> None:
    await stack.blobs.delete(blob_id)
    writer = await stack.blobs.create(blob_id)
    await writer.write(raw)
    await writer.commit()


@pytest.mark.parametrize("offset", [0, 3, 20, 40, 500, -1])
async def test_a_tampered_small_blob_is_an_error_never_bytes(world: World, offset: int) -> None:
    # A small object's body is opened in one call (header, chunk key, its one chunk).
    data = os.urandom(1000)
    record = await put(world.svc, "t", data)
    blob_id = record.segments[0].blob_id
    raw = bytearray(await _whole(world.stack, blob_id))
    raw[offset] ^= 1  # version, chunk size, salt, ciphertext, tag
    await _rewrite(world.stack, blob_id, bytes(raw))
    received = b""
    with pytest.raises(ObjectCorrupted):
        async for piece in world.svc.read_object(record, 0, len(data) - 1):
            received += piece
    assert received == b""


@pytest.mark.parametrize("inline", [True, False])
@pytest.mark.parametrize("size", [1000, 2 * CHUNK])
async def test_a_damaged_header_under_a_destroyed_key_is_said_to_be_the_key(
    world: World, inline: bool, size: int
) -> None:
    # The key's loss is what the caller must learn (AccessDenied), not damage it cannot fix;
    # whether the cipher calls its provider inline or from a thread, small object or large.
    svc = ObjectService(
        world.stack.store, world.stack.blobs, LIMITS, KmsObjectCipher(world.keys, inline=inline)
    )
    data = os.urandom(size)
    record = await put(svc, "t", data)
    blob_id = record.segments[0].blob_id
    raw = bytearray(await _whole(world.stack, blob_id))
    raw[1] ^= 1  # the chunk size the header names
    await _rewrite(world.stack, blob_id, bytes(raw))
    with pytest.raises(ObjectCorrupted):
        await read(svc, record, 0, 9)
    world.keys.destroy_tenant_key("t1")
    with pytest.raises(EncryptionKeyUnavailable):
        await read(svc, record, 0, 9)


async def test_a_small_object_or_a_range_in_a_first_chunk_is_opened_in_one_call(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    small, large = os.urandom(4096), os.urandom(2 * CHUNK + 5)
    small_record = await put(world.svc, "small", small)
    large_record = await put(world.svc, "large", large)

    async def unexpected(*args: object, **kwargs: object) -> None:
        raise AssertionError("a streaming opener for a range in the first chunk")

    monkeypatch.setattr(KmsObjectCipher, "blob_opener", unexpected)
    assert await read_all(world.svc, small_record) == small
    assert await read(world.svc, small_record, 10, 99) == small[10:100]
    assert await read(world.svc, large_record, 7, CHUNK - 1) == large[7:CHUNK]
    with pytest.raises(AssertionError, match="streaming opener"):
        await read(world.svc, large_record, 0, CHUNK)


async def test_a_destroyed_tenant_key_makes_objects_unreadable(world: World) -> None:
    await put(world.svc, "gone", b"secret" * 1000)
    world.keys.destroy_tenant_key("t1")
    with pytest.raises(EncryptionKeyUnavailable):
        await world.svc.head_object("bkt", "gone")
    with pytest.raises(EncryptionKeyUnavailable):
        await put(world.svc, "new", b"x")


async def test_withdrawn_material_makes_objects_unreadable_until_imported_again(
    world: World, tmp_path: Path
) -> None:
    # A ring of imported material (a KMS key of Origin EXTERNAL): deleting the material is
    # AccessDenied, not damage, and importing it again makes the objects readable again.
    material, data = os.urandom(32), os.urandom(1000)
    world.keys.import_tenant_key("t1", material)
    record = await put(world.svc, "ext", data)
    assert await read_all(world.svc, await world.svc.head_object("bkt", "ext")) == data
    world.keys.withdraw_tenant_key("t1")
    with pytest.raises(EncryptionKeyUnavailable, match="deleted"):
        await world.svc.head_object("bkt", "ext")
    with pytest.raises(EncryptionKeyUnavailable, match="deleted"):
        await read_all(world.svc, record)
    with pytest.raises(EncryptionKeyUnavailable, match="deleted"):
        await put(world.svc, "new", b"x")
    world.keys.import_tenant_key("t1", material)
    assert await read_all(world.svc, await world.svc.head_object("bkt", "ext")) == data
    key_service_in(tmp_path / "keys").withdraw_tenant_key("t1")  # another worker process
    with pytest.raises(EncryptionKeyUnavailable, match="deleted"):
        await world.svc.head_object("bkt", "ext")


async def test_a_kms_keys_ring_is_never_made_by_an_object_write(tmp_path: Path) -> None:
    # SSE-KMS writes name the KMS key's ring with a context. Its ring is made by CreateKey or
    # an import only: a write racing DeleteImportedKeyMaterial must fail, not plant a random
    # KEK that the same material could then never replace.
    keys = key_service_in(tmp_path / "keys")
    cipher = KmsObjectCipher(keys, inline=True)
    ring = str(uuid.uuid4())
    with pytest.raises(EncryptionKeyUnavailable):
        await cipher.new_data_key(ring, {"aws:s3:arn": "arn:aws:s3:::bkt/k"})
    with pytest.raises(KeyNotFound):
        keys.tenant_key_ring(ring)
    await cipher.new_data_key("t9")  # a tenant's own ring is made on first use
    assert keys.tenant_key_ring("t9").current == 1


async def test_headers_opened_before_a_destruction_are_not_served_after_it(world: World) -> None:
    # Opened headers are remembered for hot objects; the key check must still come first.
    await put(world.svc, "hot", b"x", metadata={"colour": "blue"})
    for _ in range(2):
        record = await world.svc.head_object("bkt", "hot")
        assert record.headers.user_metadata == {"colour": "blue"}
    world.keys.destroy_tenant_key("t1")
    with pytest.raises(EncryptionKeyUnavailable):
        await world.svc.head_object("bkt", "hot")


async def test_remembered_headers_are_refused_after_another_process_destroys_the_key(
    world: World, tmp_path: Path
) -> None:
    # A remembered header is shown after a check of the key ring alone, not a data-key use:
    # that check must see a destruction made by another worker process (the key file).
    await put(world.svc, "hot", b"", metadata={"colour": "blue"})
    for _ in range(2):
        assert (await world.svc.head_object("bkt", "hot")).headers.user_metadata
    other_worker = key_service_in(tmp_path / "keys")
    other_worker.destroy_tenant_key("t1")
    with pytest.raises(EncryptionKeyUnavailable):
        await world.svc.head_object("bkt", "hot")


async def read_all(svc: ObjectService, record: ObjectRecord) -> bytes:
    return await read(svc, record, 0, record.size - 1)


async def test_a_get_after_another_process_destroys_the_key_is_refused(
    world: World, tmp_path: Path
) -> None:
    # Headers, data key and chunk key all cached by the GETs a moment before: the next GET,
    # and the body of a record opened before the destruction, must still be refused.
    await put(world.svc, "hot", b"secret" * 100, metadata={"colour": "blue"})
    for _ in range(2):
        opened = await world.svc.head_object("bkt", "hot")
        assert await read_all(world.svc, opened) == b"secret" * 100
    other_worker = key_service_in(tmp_path / "keys")
    other_worker.destroy_tenant_key("t1")
    with pytest.raises(EncryptionKeyUnavailable):
        await world.svc.head_object("bkt", "hot")
    with pytest.raises(EncryptionKeyUnavailable):
        await read_all(world.svc, opened)


class CheckCounting(LocalKeyFileProvider):
    checks = 0

    def check_usable(self, tenant_id: str) -> None:
        self.checks += 1
        super().check_usable(tenant_id)


async def test_the_headers_key_check_stands_for_one_body_read_of_the_same_record(
    stack: Stack, tmp_path: Path
) -> None:
    provider = CheckCounting(tmp_path / "keys")
    svc = ObjectService(
        stack.store, stack.blobs, LIMITS, KmsObjectCipher(KeyService(provider), inline=True)
    )
    await svc.create_bucket("bkt", tenant_id="t1", owner_id="o1", region="eu")
    await put(svc, "hot", b"x" * 100)
    await svc.head_object("bkt", "hot")  # remembers the headers
    provider.checks = 0
    record = await svc.head_object("bkt", "hot")
    assert provider.checks == 1
    assert await read_all(svc, record) == b"x" * 100
    assert provider.checks == 1  # the GET asked once
    assert await read_all(svc, record) == b"x" * 100
    assert provider.checks == 2  # a second read of the record asks again: spent


async def test_a_destruction_in_this_process_reaches_a_record_opened_before_it(
    world: World,
) -> None:
    await put(world.svc, "hot", b"x" * 100)
    await world.svc.head_object("bkt", "hot")
    record = await world.svc.head_object("bkt", "hot")  # its check not spent yet
    world.keys.destroy_tenant_key("t1")  # drops the cached keys at once
    with pytest.raises(EncryptionKeyUnavailable):
        await read_all(world.svc, record)


async def test_headers_this_process_sealed_are_not_opened_again(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first HEAD or GET after a PUT finds the headers the PUT sealed, as opening them
    # would give them (not the caller's mapping, which it may change afterwards).
    opened: list[str] = []

    def counting(aead: AESGCM, sealed: SealedHeaders, bucket: str, key: str) -> ContentHeaders:
        opened.append(key)
        return open_headers(aead, sealed, bucket, key)

    monkeypatch.setattr(sealed_blobs, "open_headers", counting)
    metadata = {"colour": "blue"}
    await put(world.svc, "fresh", b"x" * 100, metadata=metadata)
    metadata["colour"] = "red"
    record = await world.svc.head_object("bkt", "fresh")
    assert record.headers.user_metadata == {"colour": "blue"}
    assert await read_all(world.svc, record) == b"x" * 100
    assert opened == []
    # Another process's memo is empty: it opens them from the row, and finds the same.
    other = ObjectService(
        world.stack.store, world.stack.blobs, LIMITS, KmsObjectCipher(world.keys, inline=True)
    )
    assert (await other.head_object("bkt", "fresh")).headers == record.headers
    assert opened == ["fresh"]


async def test_headers_filed_as_sealed_are_those_opening_gives_every_field_set(
    world: World,
) -> None:
    # Every field of ContentHeaders set (a field added later included): the copy filed when
    # sealing must equal what another process opens from the row.
    special: dict[str, object] = {"user_metadata": {"k": "v"}, "tags": (("team", "blue"),)}
    values: dict[str, object] = {
        f.name: special.get(f.name, f"value of {f.name}")
        for f in dataclasses.fields(ContentHeaders)
    }
    headers = ContentHeaders(**values)  # type: ignore[arg-type]
    await world.svc.put_object(
        "bkt", "full", body(b"x"), size=1, headers=headers, owner_id="o1",
        integrity=BodyIntegrity(), encryption=ObjectEncryption("t1"),
    )  # fmt: skip
    filed = (await world.svc.head_object("bkt", "full")).headers
    other = ObjectService(
        world.stack.store, world.stack.blobs, LIMITS, KmsObjectCipher(world.keys, inline=True)
    )
    assert filed == (await other.head_object("bkt", "full")).headers == headers


async def test_an_object_never_read_is_refused_after_another_process_destroys_the_key(
    world: World, tmp_path: Path
) -> None:
    # Its headers and keys are remembered from its PUT alone: the first GET must be refused.
    await put(world.svc, "fresh", b"secret" * 100, metadata={"colour": "blue"})
    other_worker = key_service_in(tmp_path / "keys")
    other_worker.destroy_tenant_key("t1")
    with pytest.raises(EncryptionKeyUnavailable):
        await world.svc.head_object("bkt", "fresh")


async def test_remembered_headers_make_room_by_dropping_the_oldest(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits = dataclasses.replace(LIMITS, opened_headers_memo_size=2)
    svc = ObjectService(
        world.stack.store, world.stack.blobs, limits, KmsObjectCipher(world.keys, inline=True)
    )
    opened: list[str] = []

    def counting(aead: AESGCM, sealed: SealedHeaders, bucket: str, key: str) -> ContentHeaders:
        opened.append(key)
        return open_headers(aead, sealed, bucket, key)

    monkeypatch.setattr(sealed_blobs, "open_headers", counting)
    for key in ("a", "b", "c"):
        await put(svc, key, b"x")
    for key in ("b", "c", "a"):
        await svc.head_object("bkt", key)
    assert opened == ["a"]  # the two most recent were kept, not all dropped at once


def test_the_opened_headers_memo_size_is_a_bounded_setting(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, opened_headers_cache_size=3)
    assert storage_limits(settings).opened_headers_memo_size == 3
    assert Settings(data_dir=tmp_path).opened_headers_cache_size == 10_000
    for refused in (0, 1_000_001):
        with pytest.raises(ValidationError):
            Settings(data_dir=tmp_path, opened_headers_cache_size=refused)
    with pytest.raises(ValueError, match="at least one"):
        sealed_blobs.SealedBlobs(MemoryBlobStore(), PlaintextBenchCipher(), 1024, memo_size=0)


async def test_a_key_made_here_is_not_parsed_again_to_find_its_tenant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cipher = KmsObjectCipher(key_service_in(tmp_path / "keys"), inline=True)
    _, wrapped, _ = await cipher.new_data_key("t1")

    def unexpected(encoded: bytes) -> WrappedDataKey:
        raise AssertionError("parsed again")

    monkeypatch.setattr(WrappedDataKey, "decode", unexpected)
    assert (await cipher.check_key_usable(wrapped)).spend("t1")


def test_a_ring_check_stands_for_one_use_of_its_own_ring() -> None:
    check = RingCheck("t1")
    assert not check.spend("t2")  # an SSE-KMS body's ring is not its headers' tenant's
    assert check.spend("t1")
    assert not check.spend("t1")


async def test_remembered_headers_follow_an_overwrite(world: World) -> None:
    await put(world.svc, "hot", b"x", metadata={"colour": "blue"})
    assert (await world.svc.head_object("bkt", "hot")).headers.user_metadata == {"colour": "blue"}
    await put(world.svc, "hot", b"y", metadata={"colour": "red"})
    assert (await world.svc.head_object("bkt", "hot")).headers.user_metadata == {"colour": "red"}


async def test_legacy_plaintext_objects_are_reencrypted_once(world: World) -> None:
    store, blobs = world.stack.store, world.stack.blobs
    data = os.urandom(CHUNK + 5)
    blob_id = uuid.uuid4().hex
    writer = await blobs.create(blob_id)
    await writer.write(data)
    await writer.commit()
    legacy = ObjectRecord(
        bucket="bkt", key="old", size=len(data), etag="e", last_modified=datetime.now(UTC),
        headers=ContentHeaders(user_metadata={"kept": "yes"}),
        segments=(Segment(blob_id=blob_id, size=len(data)),), owner_id="o1", format_version=1,
    )  # fmt: skip
    await store.put_object(legacy)
    with pytest.raises(ObjectCorrupted):  # no plaintext path once encryption is on
        await read(world.svc, legacy, 0, 10)
    assert await world.svc.reencrypt_legacy_objects() == 1
    assert await world.svc.reencrypt_legacy_objects() == 0
    record = await world.svc.head_object("bkt", "old")
    assert record.headers.user_metadata == {"kept": "yes"} and record.etag == "e"
    assert record.segments[0].blob_id != blob_id and record.segments[0].key is not None
    assert await read(world.svc, record, 0, len(data) - 1) == data
    stored = await _whole(world.stack, record.segments[0].blob_id)
    assert data[:64] not in stored
    # A row changed meanwhile is not swapped.
    assert not await store.replace_object_segments(legacy, record)


async def test_parts_from_before_encryption_cannot_be_completed(world: World) -> None:
    svc, store = world.svc, world.stack.store
    upload = await svc.create_multipart_upload(
        "bkt", "mp", headers=ContentHeaders(), owner_id="o1", checksum_algorithm=None,
        checksum_type=None,
    )  # fmt: skip
    blob_id = uuid.uuid4().hex
    writer = await world.stack.blobs.create(blob_id)
    await writer.write(b"old")
    await writer.commit()
    await store.put_part(Part(upload.upload_id, 1, blob_id, 3, "a" * 32, datetime.now(UTC)))
    with pytest.raises(InvalidPart):
        await svc.complete_multipart_upload(
            "bkt", "mp", upload.upload_id, [CompletedPart(1, "a" * 32)]
        )


async def test_the_bench_switch_writes_plaintext_rows_that_encryption_converts(
    world: World,
) -> None:
    plain = ObjectService(world.stack.store, world.stack.blobs, LIMITS, PlaintextBenchCipher())
    data = os.urandom(CHUNK + 9)
    record = await put(plain, "bench", data, metadata={"m": "1"})
    assert record.encryption is EncryptionMode.NONE
    stored = await _whole(world.stack, record.segments[0].blob_id)
    assert stored == data  # what the switch is for: measuring the cost of encryption
    with pytest.raises(ObjectCorrupted):  # encryption on: never served in clear
        await read(world.svc, record, 0, 10)
    assert await world.svc.reencrypt_legacy_objects() == 1
    converted = await world.svc.head_object("bkt", "bench")
    assert converted.encryption is EncryptionMode.SSE_S3
    assert converted.headers.user_metadata == {"m": "1"}
    assert await read(world.svc, converted, 0, len(data) - 1) == data


class _BrokenTokenProvider(LocalKeyFileProvider):
    """A provider whose token went away: every seal and open fails."""

    def seal(self, *args: object, **kwargs: object) -> bytes:
        raise ProviderError("the token is gone")

    def seal_many(self, *args: object, **kwargs: object) -> list[bytes]:
        raise ProviderError("the token is gone")

    def open(self, *args: object, **kwargs: object) -> bytearray:
        raise ProviderError("the token is gone")


async def test_a_failing_key_provider_is_unavailable_not_denied(
    stack: Stack, tmp_path: Path
) -> None:
    keys = KeyService(_BrokenTokenProvider(tmp_path / "broken"))
    svc = ObjectService(stack.store, stack.blobs, LIMITS, KmsObjectCipher(keys, inline=False))
    await svc.create_bucket("bkt", tenant_id="t1", owner_id="o1", region="eu")
    with pytest.raises(KeyServiceUnavailable):
        await put(svc, "k", b"data")


async def test_legacy_rows_that_cannot_be_converted_do_not_stop_the_others(world: World) -> None:
    store = world.stack.store
    await world.svc.create_bucket("gone", tenant_id="t2", owner_id="o2", region="eu")
    for bucket, key in (("gone", "a"), ("bkt", "b")):
        blob_id = uuid.uuid4().hex
        writer = await world.stack.blobs.create(blob_id)
        await writer.write(b"legacy")
        await writer.commit()
        await store.put_object(
            ObjectRecord(
                bucket=bucket, key=key, size=6, etag="e", last_modified=datetime.now(UTC),
                headers=ContentHeaders(), segments=(Segment(blob_id=blob_id, size=6),),
                owner_id="o", format_version=1,
            )
        )  # fmt: skip
    world.keys.ensure_tenant_key("t2")
    world.keys.destroy_tenant_key("t2")  # shredded before its objects were converted
    assert await world.svc.reencrypt_legacy_objects() == 1
    record = await world.svc.head_object("bkt", "b")
    assert await read(world.svc, record, 0, 5) == b"legacy"


def _sample_record(**fields: Any) -> ObjectRecord:
    """A sealed record with every field it needs set; ``fields`` set others or override."""
    required: dict[str, Any] = {
        "bucket": "b",
        "key": "k",
        "size": 3,
        "etag": "e",
        "last_modified": datetime(2026, 1, 2, tzinfo=UTC),
        "headers": ContentHeaders(),
        "segments": (Segment("blob", 3),),
        "owner_id": "o",
        "sealed_headers": SealedHeaders(b"w", b"c"),
    }
    return ObjectRecord(**{**required, **fields})


def test_an_opened_record_keeps_every_other_field() -> None:
    # ``ObjectRecord.opened`` is written out for speed: a field it forgot would be lost on reads.
    record = _sample_record(
        checksum=Checksum(ChecksumAlgorithm.CRC32, "AAAAAA=="),
        format_version=7,
        acl=AccessControlList.private("o"),
        kms_context={"old": "x"},
        version_id="a-version",
        lock=ObjectLock(LockMode.COMPLIANCE, datetime(2030, 1, 1, tzinfo=UTC), legal_hold=True),
    )
    headers = ContentHeaders(content_type="text/plain")
    expected = dataclasses.replace(record, headers=headers, kms_context={"a": "b"})
    check = object()
    opened = record.opened(headers, {"a": "b"}, check)
    assert opened == expected
    assert opened.key_check is check
    # Built from its slots, not by __init__: still the same frozen record.
    assert type(opened) is ObjectRecord and repr(opened) == repr(expected)
    with pytest.raises(dataclasses.FrozenInstanceError):
        opened.size = 4  # type: ignore[misc]
    assert record.opened(headers, None).key_check is None and record.headers == ContentHeaders()
    assert {f.name for f in dataclasses.fields(ObjectRecord)} == {
        "bucket", "key", "size", "etag", "last_modified", "headers", "segments", "owner_id",
        "checksum", "format_version", "acl", "sealed_headers", "kms_context", "key_check",
        "version_id", "lock", "replication_status",
    }  # fmt: skip


def test_the_stored_form_of_a_record_is_what_replace_would_give() -> None:
    # stored_form rebuilds an ObjectRecord from its slots on every PUT (ObjectRecord.rebuilt).
    check = object()
    sealed = _sample_record(
        headers=ContentHeaders(content_type="text/plain", user_metadata={"m": "v"}),
        kms_context={"a": "b"},
        key_check=check,
    )
    stored = sealed_blobs.stored_form(sealed)
    assert stored == dataclasses.replace(sealed, headers=ContentHeaders(), kms_context=None)
    assert stored.headers == ContentHeaders() and stored.kms_context is None
    assert stored.key_check is check and sealed.headers.user_metadata == {"m": "v"}
    plain = dataclasses.replace(sealed, sealed_headers=None)  # the benchmark switch's record
    stored_plain = sealed_blobs.stored_form(plain)
    assert stored_plain == dataclasses.replace(plain, format_version=1)
    assert stored_plain.headers is plain.headers and stored_plain.key_check is check


async def test_headers_sealed_by_a_put_are_remembered_for_the_reads_after_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import andromede.storage.sealed_blobs as sealed_blobs

    opened: list[str] = []
    real_open = sealed_blobs.open_headers

    def counting_open(*args: Any, **kwargs: Any) -> ContentHeaders:
        opened.append("headers")
        return real_open(*args, **kwargs)

    monkeypatch.setattr(sealed_blobs, "open_headers", counting_open)
    await put(world.svc, "w", b"written", metadata={"m": "v"})
    head = await world.svc.head_object("bkt", "w")
    assert head.headers.user_metadata == {"m": "v"} and opened == []  # not opened: remembered
    assert await read(world.svc, head, 0, 6) == b"written"
    world.keys.destroy_tenant_key("t1")  # remembered headers follow the key's fate
    with pytest.raises(EncryptionKeyUnavailable):
        await world.svc.head_object("bkt", "w")


async def test_tags_are_resealed_with_the_headers_and_another_process_opens_them(
    world: World,
) -> None:
    # SSE-C's key is not needed: the headers are sealed under the tenant's data key, as S3
    # tags an SSE-C object without its key.
    customer = customer_key()
    await put(world.svc, "tagged", b"payload", customer, metadata={"colour": "blue"})
    before = await world.svc.head_object("bkt", "tagged")
    changed = await world.svc.set_object_tags("bkt", "tagged", (("team", "blue"),))
    assert changed.headers.tags == (("team", "blue"),)
    other = ObjectService(
        world.stack.store, world.stack.blobs, LIMITS, KmsObjectCipher(world.keys, inline=True)
    )
    opened = await other.head_object("bkt", "tagged")
    assert opened.headers == before.headers.with_tags((("team", "blue"),))
    assert (opened.etag, opened.last_modified, opened.segments) == (
        before.etag,
        before.last_modified,
        before.segments,
    )
    assert opened.sealed_headers is not None and before.sealed_headers is not None
    assert opened.sealed_headers.wrapped == before.sealed_headers.wrapped  # the same data key
    assert opened.sealed_headers.ciphertext != before.sealed_headers.ciphertext
    assert await read(other, opened, 0, 6, customer_key=customer) == b"payload"
    await world.svc.set_object_tags("bkt", "tagged", ())
    assert (await other.head_object("bkt", "tagged")).headers == before.headers


async def test_tags_set_while_the_object_is_replaced_go_to_the_new_object(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await put(world.svc, "raced", b"old")
    store = world.stack.store
    original = store.replace_object_headers
    calls = 0

    async def write_comes_first(
        expected: ObjectRecord,
        record: ObjectRecord,
        *,
        replication: ReplicationTarget | None,
        notify: EventBatch | None,
    ) -> bool:
        nonlocal calls
        calls += 1
        if calls == 1:
            await put(world.svc, "raced", b"new")
        return await original(expected, record, replication=replication, notify=notify)

    monkeypatch.setattr(store, "replace_object_headers", write_comes_first)
    await world.svc.set_object_tags("bkt", "raced", (("a", "1"),))
    assert calls == 2
    current = await world.svc.head_object("bkt", "raced")
    assert current.headers.tags == (("a", "1"),)
    assert await read(world.svc, current, 0, 2) == b"new"
