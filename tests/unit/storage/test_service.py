"""ObjectService over the memory twins and over SQLite + local disk (same tests)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import zlib
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from andromede.storage.errors import (
    BadDigest,
    BucketNotEmpty,
    ChecksumMismatch,
    EntityTooLarge,
    EntityTooSmall,
    IncompleteBody,
    InvalidBucketName,
    InvalidChecksumRequest,
    InvalidPart,
    InvalidPartNumber,
    InvalidPartOrder,
    InvalidRange,
    KeyTooLong,
    MetadataTooLarge,
    NoSuchBucket,
    NoSuchKey,
    NoSuchUpload,
    ObjectChanged,
)
from andromede.storage.model import (
    Checksum,
    ChecksumAlgorithm,
    ChecksumType,
    ContentHeaders,
    ExpectedObject,
)
from andromede.storage.service import BodyIntegrity, CompletedPart, ObjectService, StorageLimits
from support.keys import cipher_in

from .conftest import Stack

LIMITS = StorageLimits(
    max_object_size=1 << 24,
    max_part_size=1 << 24,
    min_part_size=1000,
    max_parts=100,
    max_key_length=100,
    max_user_metadata_size=64,
    read_chunk_size=777,
    deletion_grace=30.0,
)
T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def service(stack: Stack, clock: Clock, tmp_path: Path) -> ObjectService:
    svc = ObjectService(stack.store, stack.blobs, LIMITS, cipher_in(tmp_path / "keys"), clock=clock)
    await svc.create_bucket("bucket", tenant_id="t1", owner_id="o1", region="eu")
    return svc


async def body(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def chunked(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    return body(*(data[i : i + size] for i in range(0, len(data), size)))


async def put(
    service: ObjectService,
    key: str,
    data: bytes,
    *,
    integrity: BodyIntegrity | None = None,
    headers: ContentHeaders | None = None,
) -> None:
    await service.put_object(
        "bucket",
        key,
        chunked(data),
        size=len(data),
        headers=headers or ContentHeaders(),
        owner_id="o1",
        integrity=integrity or BodyIntegrity(),
    )


async def read(service: ObjectService, key: str, start: int = 0, end: int | None = None) -> bytes:
    record = await service.head_object("bucket", key)
    last = record.size - 1 if end is None else end
    return b"".join([c async for c in service.read_object(record, start, last)])


async def nothing_left(stack: Stack, keep: Iterable[str] = ()) -> bool:
    return stack.blobs.blob_ids() == set(keep) and stack.blobs.temporary_count() == 0


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


# -- buckets ----------------------------------------------------------------------------------


async def test_buckets(service: ObjectService) -> None:
    with pytest.raises(InvalidBucketName):
        await service.create_bucket("Bad_Name", tenant_id="t1", owner_id="o1", region="eu")
    assert [b.name for b in await service.list_buckets("t1")] == ["bucket"]
    await put(service, "k", b"x")
    with pytest.raises(BucketNotEmpty):
        await service.delete_bucket("bucket")
    await service.delete_object("bucket", "k")
    await service.delete_bucket("bucket")
    with pytest.raises(NoSuchBucket):
        await service.get_bucket("bucket")
    with pytest.raises(NoSuchBucket):
        await service.list_objects("bucket")
    with pytest.raises(NoSuchBucket):
        await service.delete_object("bucket", "k")
    with pytest.raises(NoSuchBucket):
        await service.head_object("bucket", "k")


# -- put / get / delete -----------------------------------------------------------------------


async def test_put_get_range_overwrite_delete(
    service: ObjectService, stack: Stack, clock: Clock
) -> None:
    data = os.urandom(5000)
    headers = ContentHeaders(content_type="text/plain", user_metadata={"color": "blue"})
    await put(service, "dir/k", data, headers=headers)
    record = await service.head_object("bucket", "dir/k")
    assert record.etag == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert record.size == 5000 and record.headers == headers and record.parts_count is None
    assert record.last_modified == T0
    assert await read(service, "dir/k") == data
    assert await read(service, "dir/k", 100, 2999) == data[100:3000]
    assert await read(service, "dir/k", 4999, 4999) == data[-1:]
    with pytest.raises(InvalidRange):
        service.read_object(record, 10, 5000)
    with pytest.raises(NoSuchKey):
        await service.head_object("bucket", "nope")

    old_blob = record.segments[0].blob_id
    await put(service, "dir/k", b"new")
    assert await read(service, "dir/k") == b"new"
    # The replaced blob stays until the grace has passed (a GET in flight may read it).
    assert old_blob in stack.blobs.blob_ids()
    assert await stack.store.take_due_blob_deletions(T0 + timedelta(seconds=29), 10) == []
    assert await stack.store.take_due_blob_deletions(T0 + timedelta(seconds=30), 10) == [old_blob]

    removed = await service.delete_object("bucket", "dir/k")
    assert removed is not None and removed.size == 3
    assert await service.delete_object("bucket", "dir/k") is None
    with pytest.raises(NoSuchKey):
        await service.head_object("bucket", "dir/k")
    due = await stack.store.take_due_blob_deletions(T0 + timedelta(seconds=30), 10)
    assert due == [removed.segments[0].blob_id]


async def test_empty_object(service: ObjectService) -> None:
    await put(service, "empty", b"")
    record = await service.head_object("bucket", "empty")
    assert record.size == 0 and record.etag == hashlib.md5(b"", usedforsecurity=False).hexdigest()
    assert [c async for c in service.read_object(record, 0, -1)] == []


async def test_bad_content_md5_leaves_nothing(service: ObjectService, stack: Stack) -> None:
    data = os.urandom(3 * 1024 * 1024)  # several write blocks: a temporary file existed
    with pytest.raises(BadDigest):
        await put(service, "k", data, integrity=BodyIntegrity(content_md5=b"\0" * 16))
    assert await nothing_left(stack)
    with pytest.raises(NoSuchKey):
        await service.head_object("bucket", "k")


async def test_good_content_md5_and_checksum(service: ObjectService) -> None:
    data = b"hello world"
    integrity = BodyIntegrity(
        content_md5=hashlib.md5(data, usedforsecurity=False).digest(),
        checksum_algorithm=ChecksumAlgorithm.SHA256,
        checksum_value=b64(hashlib.sha256(data).digest()),
    )
    await put(service, "k", data, integrity=integrity)
    record = await service.head_object("bucket", "k")
    assert record.checksum == Checksum(
        ChecksumAlgorithm.SHA256, b64(hashlib.sha256(data).digest()), ChecksumType.FULL_OBJECT
    )


async def test_trailing_checksum_is_read_after_the_body(
    service: ObjectService, stack: Stack
) -> None:
    data = b"some data"
    crc = b64(zlib.crc32(data).to_bytes(4, "big"))
    integrity = BodyIntegrity(checksum_algorithm=ChecksumAlgorithm.CRC32)

    async def with_trailer(value: str) -> AsyncIterator[bytes]:
        yield data
        integrity.checksum_value = value  # as an aws-chunked decoder fills it at the end

    await service.put_object(
        "bucket",
        "ok",
        with_trailer(crc),
        size=len(data),
        headers=ContentHeaders(),
        owner_id="o1",
        integrity=integrity,
    )
    assert (await service.head_object("bucket", "ok")).checksum is not None
    before = stack.blobs.blob_ids()
    with pytest.raises(ChecksumMismatch):
        await service.put_object(
            "bucket",
            "bad",
            with_trailer(b64(b"\0\0\0\0")),
            size=len(data),
            headers=ContentHeaders(),
            owner_id="o1",
            integrity=integrity,
        )
    assert await nothing_left(stack, before)


async def test_body_shorter_or_longer_than_announced(service: ObjectService, stack: Stack) -> None:
    for chunks in ([b"abc"], [b"abcdef", b"g"]):
        with pytest.raises(IncompleteBody):
            await service.put_object(
                "bucket",
                "k",
                body(*chunks),
                size=5,
                headers=ContentHeaders(),
                owner_id="o1",
                integrity=BodyIntegrity(),
            )
    assert await nothing_left(stack)
    with pytest.raises(NoSuchKey):
        await service.head_object("bucket", "k")


async def test_limits_checked_before_reading(service: ObjectService) -> None:
    async def never() -> AsyncIterator[bytes]:
        raise AssertionError("the body must not be read")
        yield b""  # pragma: no cover

    async def attempt(key: str, size: int, headers: ContentHeaders) -> None:
        await service.put_object(
            "bucket",
            key,
            never(),
            size=size,
            headers=headers,
            owner_id="o1",
            integrity=BodyIntegrity(),
        )

    with pytest.raises(EntityTooLarge):
        await attempt("k", LIMITS.max_object_size + 1, ContentHeaders())
    with pytest.raises(KeyTooLong):
        await attempt("é" * 51, 1, ContentHeaders())  # 102 UTF-8 bytes
    with pytest.raises(MetadataTooLarge):
        await attempt("k", 1, ContentHeaders(user_metadata={"n": "v" * 64}))
    await put(service, "é" * 50, b"x", headers=ContentHeaders(user_metadata={"n": "v" * 63}))


async def test_cancellation_mid_put_leaves_nothing(service: ObjectService, stack: Stack) -> None:
    started = asyncio.Event()

    async def stalled() -> AsyncIterator[bytes]:
        yield os.urandom(2 * 1024 * 1024)  # past a write block: a temporary file exists
        started.set()
        await asyncio.Event().wait()  # the client stops sending
        yield b""  # pragma: no cover

    task = asyncio.create_task(
        service.put_object(
            "bucket",
            "k",
            stalled(),
            size=4 * 1024 * 1024,
            headers=ContentHeaders(),
            owner_id="o1",
            integrity=BodyIntegrity(),
        )
    )
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await nothing_left(stack)
    with pytest.raises(NoSuchKey):
        await service.head_object("bucket", "k")


async def test_put_into_missing_bucket_leaves_nothing(service: ObjectService, stack: Stack) -> None:
    with pytest.raises(NoSuchBucket):
        await service.put_object(
            "nope",
            "k",
            body(b"abc"),
            size=3,
            headers=ContentHeaders(),
            owner_id="o1",
            integrity=BodyIntegrity(),
        )
    assert await nothing_left(stack)


async def test_a_conditional_write_that_lost_leaves_nothing(
    service: ObjectService, stack: Stack
) -> None:
    """The condition was checked before the body was read; another write landed meanwhile. The
    losing write's blob is deleted at once, and the winner's object is untouched."""
    await put(service, "k", os.urandom(20_000))
    winner = await service.head_object("bucket", "k")
    for expected in (ExpectedObject(None), ExpectedObject("0" * 32)):
        with pytest.raises(ObjectChanged):
            await service.put_object(
                "bucket",
                "k",
                chunked(os.urandom(20_000)),
                size=20_000,
                headers=ContentHeaders(),
                owner_id="o1",
                integrity=BodyIntegrity(),
                expected=expected,
            )
    assert await service.head_object("bucket", "k") == winner
    assert await nothing_left(stack, keep={s.blob_id for s in winner.segments})


async def test_a_bucket_read_by_the_caller_is_not_read_again(
    service: ObjectService, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = await service.get_bucket("bucket")
    reads: list[str] = []
    real = stack.store.get_bucket

    async def counting(name: str) -> object:
        reads.append(name)
        return await real(name)

    monkeypatch.setattr(stack.store, "get_bucket", counting)
    await service.put_object(
        bucket,
        "k",
        body(b"abc"),
        size=3,
        headers=ContentHeaders(),
        owner_id="o1",
        integrity=BodyIntegrity(),
    )
    assert reads == []
    assert await read(service, "k") == b"abc"


async def test_a_bucket_deleted_after_the_caller_read_it_gets_nothing(
    service: ObjectService, stack: Stack
) -> None:
    bucket = await service.get_bucket("bucket")
    await service.delete_bucket("bucket")
    with pytest.raises(NoSuchBucket):
        await service.put_object(
            bucket,
            "k",
            body(b"abc"),
            size=3,
            headers=ContentHeaders(),
            owner_id="o1",
            integrity=BodyIntegrity(),
        )
    assert await nothing_left(stack)


# -- copy ---------------------------------------------------------------------------------------


async def test_copy_with_replace_and_copy_directives(service: ObjectService) -> None:
    data = os.urandom(3000)
    original = ContentHeaders(content_type="a/b", user_metadata={"k": "v"})
    await put(
        service,
        "src",
        data,
        headers=original,
        integrity=BodyIntegrity(checksum_algorithm=ChecksumAlgorithm.CRC32C),
    )
    source = await service.head_object("bucket", "src")

    replaced = ContentHeaders(content_type="c/d", user_metadata={"new": "1"})
    copy = await service.copy_object(
        source, "bucket", "dst", headers=replaced, owner_id="o2", checksum_algorithm=None
    )
    assert copy.headers == replaced and copy.owner_id == "o2"
    assert copy.etag == source.etag and copy.checksum == source.checksum
    assert copy.segments[0].blob_id != source.segments[0].blob_id
    assert await read(service, "dst") == data

    kept = await service.copy_object(
        source,
        "bucket",
        "dst2",
        headers=None,
        owner_id="o1",
        checksum_algorithm=ChecksumAlgorithm.SHA1,
    )
    assert kept.headers == original
    assert kept.checksum is not None and kept.checksum.algorithm is ChecksumAlgorithm.SHA1
    assert kept.checksum.value == b64(hashlib.sha1(data, usedforsecurity=False).digest())
    with pytest.raises(MetadataTooLarge):
        await service.copy_object(
            source,
            "bucket",
            "dst3",
            headers=ContentHeaders(user_metadata={"x": "y" * 100}),
            owner_id="o1",
            checksum_algorithm=None,
        )


# -- listing ------------------------------------------------------------------------------------

KEYS = [
    "a",
    "a/1",
    "a/2",
    "a/b/c",
    "ab",
    "b/x/1",
    "b/y",
    "c",
    "é/1",
    "\U0001f600",
    "a/\U0010ffffz",
]


def reference_listing(
    keys: list[str], prefix: str, delimiter: str | None
) -> list[tuple[str, bool]]:
    """(entry, is_prefix) in order, by a naive computation."""
    entries: list[tuple[str, bool]] = []
    for key in sorted(keys, key=lambda k: k.encode()):
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix) :]
        if delimiter and delimiter in rest:
            common = prefix + rest[: rest.index(delimiter) + len(delimiter)]
            if (common, True) not in entries:
                entries.append((common, True))
        else:
            entries.append((key, False))
    return entries


@pytest.mark.parametrize(
    ("prefix", "delimiter"), [("", "/"), ("", None), ("a/", "/"), ("b/", "/"), ("", "b")]
)
@pytest.mark.parametrize("page_size", [1, 2, 3, 1000])
async def test_list_with_delimiter_and_markers(
    service: ObjectService, prefix: str, delimiter: str | None, page_size: int
) -> None:
    for key in KEYS:
        await put(service, key, b"x")
    seen: list[tuple[str, bool]] = []
    marker: str | None = None
    for _ in range(50):
        listing = await service.list_objects(
            "bucket", prefix=prefix, delimiter=delimiter, after=marker, max_keys=page_size
        )
        page = [(r.key, False) for r in listing.objects] + [
            (p, True) for p in listing.common_prefixes
        ]
        assert len(page) <= page_size
        seen.extend(sorted(page, key=lambda e: e[0].encode()))
        if not listing.truncated:
            assert listing.next_marker is None
            break
        assert listing.next_marker == max((e for e, _ in page), key=str.encode)
        marker = listing.next_marker
    assert seen == reference_listing(KEYS, prefix, delimiter)


async def test_list_max_keys_zero(service: ObjectService) -> None:
    await put(service, "k", b"x")
    listing = await service.list_objects("bucket", max_keys=0)
    assert listing.objects == () and not listing.truncated


# -- multipart ----------------------------------------------------------------------------------


async def upload_parts(
    service: ObjectService, key: str, upload_id: str, parts: list[bytes]
) -> list[CompletedPart]:
    done: list[CompletedPart] = []
    for number, data in enumerate(parts, start=1):
        part = await service.upload_part(
            "bucket",
            key,
            upload_id,
            number,
            chunked(data, 300),
            size=len(data),
            integrity=BodyIntegrity(),
        )
        done.append(
            CompletedPart(
                number,
                part.etag,
                {part.checksum.algorithm: part.checksum.value} if part.checksum else {},
            )
        )
    return done


async def test_multipart_etag_and_composite_checksum(service: ObjectService, stack: Stack) -> None:
    upload = await service.create_multipart_upload(
        "bucket",
        "mp",
        headers=ContentHeaders(content_type="x/y"),
        owner_id="o1",
        checksum_algorithm=ChecksumAlgorithm.SHA256,
        checksum_type=None,
    )
    assert upload.checksum_type is ChecksumType.COMPOSITE  # AWS's default for SHA256
    parts = [os.urandom(1500), os.urandom(1200), os.urandom(10)]
    completed = await upload_parts(service, "mp", upload.upload_id, parts)
    record = await service.complete_multipart_upload("bucket", "mp", upload.upload_id, completed)

    md5s = b"".join(hashlib.md5(p, usedforsecurity=False).digest() for p in parts)
    assert record.etag == f"{hashlib.md5(md5s, usedforsecurity=False).hexdigest()}-3"
    sha_of_shas = hashlib.sha256(b"".join(hashlib.sha256(p).digest() for p in parts)).digest()
    assert record.checksum == Checksum(
        ChecksumAlgorithm.SHA256, f"{b64(sha_of_shas)}-3", ChecksumType.COMPOSITE
    )
    assert record.parts_count == 3 and record.headers.content_type == "x/y"
    whole = b"".join(parts)
    assert await read(service, "mp") == whole
    assert await read(service, "mp", 1400, 2705) == whole[1400:2706]  # spans three parts
    assert await read(service, "mp", 1500, 1500) == whole[1500:1501]
    assert await service.head_object("bucket", "mp") == record
    with pytest.raises(NoSuchUpload):
        await service.complete_multipart_upload("bucket", "mp", upload.upload_id, completed)


async def test_multipart_full_object_crc(service: ObjectService) -> None:
    upload = await service.create_multipart_upload(
        "bucket",
        "mp",
        headers=ContentHeaders(),
        owner_id="o1",
        checksum_algorithm=ChecksumAlgorithm.CRC32,
        checksum_type=ChecksumType.FULL_OBJECT,
    )
    parts = [os.urandom(1000), os.urandom(1001), os.urandom(7)]
    completed = await upload_parts(service, "mp", upload.upload_id, parts)
    whole_crc = b64(zlib.crc32(b"".join(parts)).to_bytes(4, "big"))
    with pytest.raises(ChecksumMismatch):
        await service.complete_multipart_upload(
            "bucket",
            "mp",
            upload.upload_id,
            completed,
            expected_checksum=Checksum(ChecksumAlgorithm.CRC32, b64(b"\1\2\3\4")),
        )
    record = await service.complete_multipart_upload(
        "bucket",
        "mp",
        upload.upload_id,
        completed,
        expected_checksum=Checksum(ChecksumAlgorithm.CRC32, whole_crc),
    )
    assert record.checksum == Checksum(ChecksumAlgorithm.CRC32, whole_crc, ChecksumType.FULL_OBJECT)


async def test_complete_errors(service: ObjectService, stack: Stack, clock: Clock) -> None:
    upload = await service.create_multipart_upload(
        "bucket",
        "mp",
        headers=ContentHeaders(),
        owner_id="o1",
        checksum_algorithm=ChecksumAlgorithm.CRC32C,
        checksum_type=None,
    )
    uid = upload.upload_id
    parts = [os.urandom(1000), os.urandom(999), os.urandom(5)]
    good = await upload_parts(service, "mp", uid, parts)

    async def complete(parts: list[CompletedPart]) -> None:
        await service.complete_multipart_upload("bucket", "mp", uid, parts)

    with pytest.raises(InvalidPartOrder):
        await complete([good[1], good[0]])
    with pytest.raises(InvalidPartOrder):
        await complete([good[0], good[0]])
    with pytest.raises(InvalidPart):
        await complete([good[0], CompletedPart(9, good[1].etag)])
    with pytest.raises(InvalidPart):
        await complete([good[0], CompletedPart(2, "0" * 32)])
    with pytest.raises(InvalidPart):
        await complete([CompletedPart(1, good[0].etag, {ChecksumAlgorithm.CRC32C: "AAAAAA=="})])
    with pytest.raises(InvalidPart):
        await complete([])
    with pytest.raises(EntityTooSmall):
        await complete([good[1], good[2]])  # part 2 (999 bytes) is not the last
    with pytest.raises(NoSuchUpload):
        await service.complete_multipart_upload("bucket", "other-key", uid, good)
    with pytest.raises(InvalidPartNumber):
        await service.upload_part(
            "bucket", "mp", uid, 101, body(b"x"), size=1, integrity=BodyIntegrity()
        )
    with pytest.raises(NoSuchUpload):
        await service.upload_part(
            "bucket", "mp", "nope", 1, body(b"x"), size=1, integrity=BodyIntegrity()
        )

    # Parts 1 and 3 only: part 2's blob is queued for deletion.
    record = await service.complete_multipart_upload("bucket", "mp", uid, [good[0], good[2]])
    assert await read(service, "mp") == parts[0] + parts[2]
    due = await stack.store.take_due_blob_deletions(clock.now + timedelta(seconds=30), 10)
    used = {s.blob_id for s in record.segments}
    assert len(due) == 1 and due[0] not in used


async def test_upload_part_replaces_and_abort(
    service: ObjectService, stack: Stack, clock: Clock
) -> None:
    upload = await service.create_multipart_upload(
        "bucket",
        "mp",
        headers=ContentHeaders(),
        owner_id="o1",
        checksum_algorithm=None,
        checksum_type=None,
    )
    uid = upload.upload_id
    first = await service.upload_part(
        "bucket", "mp", uid, 1, body(b"one"), size=3, integrity=BodyIntegrity()
    )
    second = await service.upload_part(
        "bucket", "mp", uid, 1, body(b"uno"), size=3, integrity=BodyIntegrity()
    )
    later = clock.now + timedelta(seconds=30)
    assert await stack.store.take_due_blob_deletions(later, 10) == [first.blob_id]
    _, listed, truncated = await service.list_parts("bucket", "mp", uid, after_part=0, max_parts=5)
    assert list(listed) == [second] and not truncated
    with pytest.raises(BadDigest):
        await service.upload_part(
            "bucket", "mp", uid, 2, body(b"x"), size=1, integrity=BodyIntegrity(b"\0" * 16)
        )
    await service.abort_multipart_upload("bucket", "mp", uid)
    assert await stack.store.take_due_blob_deletions(later, 10) == [second.blob_id]
    with pytest.raises(NoSuchUpload):
        await service.abort_multipart_upload("bucket", "mp", uid)
    with pytest.raises(NoSuchUpload):
        await service.list_parts("bucket", "mp", uid, after_part=0, max_parts=5)


async def test_checksum_type_rules(service: ObjectService) -> None:
    with pytest.raises(InvalidChecksumRequest, match="FULL_OBJECT"):
        await service.create_multipart_upload(
            "bucket",
            "k",
            headers=ContentHeaders(),
            owner_id="o1",
            checksum_algorithm=ChecksumAlgorithm.SHA1,
            checksum_type=ChecksumType.FULL_OBJECT,
        )
    upload = await service.create_multipart_upload(
        "bucket",
        "k",
        headers=ContentHeaders(),
        owner_id="o1",
        checksum_algorithm=ChecksumAlgorithm.CRC64NVME,
        checksum_type=None,
    )
    assert upload.checksum_type is ChecksumType.FULL_OBJECT


async def test_upload_part_copy(service: ObjectService) -> None:
    data = os.urandom(4000)
    await put(service, "src", data)
    source = await service.head_object("bucket", "src")
    upload = await service.create_multipart_upload(
        "bucket",
        "dst",
        headers=ContentHeaders(),
        owner_id="o1",
        checksum_algorithm=ChecksumAlgorithm.CRC32,
        checksum_type=None,
    )
    p1 = await service.upload_part_copy("bucket", "dst", upload.upload_id, 1, source, 0, 1999)
    p2 = await service.upload_part_copy("bucket", "dst", upload.upload_id, 2, source, 2000, 3999)
    assert p1.etag == hashlib.md5(data[:2000], usedforsecurity=False).hexdigest()
    assert p2.checksum is not None
    assert p2.checksum.value == b64(zlib.crc32(data[2000:]).to_bytes(4, "big"))
    with pytest.raises(InvalidRange):
        await service.upload_part_copy("bucket", "dst", upload.upload_id, 3, source, 0, 4000)
    await service.complete_multipart_upload(
        "bucket",
        "dst",
        upload.upload_id,
        [CompletedPart(1, p1.etag), CompletedPart(2, p2.etag)],
    )
    assert await read(service, "dst") == data


async def test_list_multipart_uploads(service: ObjectService, clock: Clock) -> None:
    ids: dict[str, str] = {}
    for i, key in enumerate(["a/1", "a/2", "b", "b", "c/d/e"]):
        clock.now = T0 + timedelta(seconds=i)
        upload = await service.create_multipart_upload(
            "bucket",
            key,
            headers=ContentHeaders(),
            owner_id="o1",
            checksum_algorithm=None,
            checksum_type=None,
        )
        ids[f"{key}#{i}"] = upload.upload_id

    listing = await service.list_multipart_uploads("bucket", delimiter="/")
    assert listing.common_prefixes == ("a/", "c/")
    assert [u.upload_id for u in listing.uploads] == [ids["b#2"], ids["b#3"]]
    assert not listing.truncated

    seen: list[str] = []
    key_marker: str | None = None
    id_marker: str | None = None
    while True:
        page = await service.list_multipart_uploads(
            "bucket",
            delimiter="/",
            key_marker=key_marker,
            upload_id_marker=id_marker,
            max_uploads=1,
        )
        seen += [u.upload_id for u in page.uploads] + list(page.common_prefixes)
        if not page.truncated:
            break
        key_marker, id_marker = page.next_key_marker, page.next_upload_id_marker
    assert seen == ["a/", ids["b#2"], ids["b#3"], "c/"]

    flat = await service.list_multipart_uploads("bucket", prefix="a/")
    assert [u.key for u in flat.uploads] == ["a/1", "a/2"]
