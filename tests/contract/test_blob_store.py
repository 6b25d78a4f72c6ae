"""One suite over every BlobStore: the in-memory twin, local disk and Ceph RADOS.

The RADOS store runs with 4 KiB stripes here, so the cases' small blobs span several stripes.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import pytest

from andromede.storage.blob_local import WRITE_BLOCK_SIZE, LocalBlobStore
from andromede.storage.blob_memory import MemoryBlobStore
from andromede.storage.blobs import BlobStore
from andromede.storage.errors import BlobError


class InspectableBlobStore(BlobStore, Protocol):
    def blob_ids(self) -> set[str]: ...

    def temporary_count(self) -> int: ...


@pytest.fixture(params=["memory", "local", "rados"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> InspectableBlobStore:
    if request.param == "memory":
        return MemoryBlobStore()
    if request.param == "rados":
        store: InspectableBlobStore = request.getfixturevalue("rados_blob_store")
        return store
    return LocalBlobStore(tmp_path / "data", fsync=True)


async def collect(stream: AsyncIterator[bytes]) -> list[bytes]:
    return [chunk async for chunk in stream]


async def put(blobs: BlobStore, blob_id: str, *chunks: bytes) -> None:
    writer = await blobs.create(blob_id)
    for chunk in chunks:
        await writer.write(chunk)
    await writer.commit()


DATA = bytes(range(256)) * 40  # 10 KiB


async def test_write_commit_read(blobs: InspectableBlobStore) -> None:
    await put(blobs, "0123abcd", DATA[:100], DATA[100:])
    assert blobs.blob_ids() == {"0123abcd"}
    assert b"".join(await collect(blobs.read("0123abcd", 0, len(DATA), 4096))) == DATA


async def test_read_ranges_and_chunking(blobs: InspectableBlobStore) -> None:
    await put(blobs, "0123abcd", DATA)
    chunks = await collect(blobs.read("0123abcd", 10, 5000, 1024))
    assert [len(c) for c in chunks] == [1024] * 4 + [904]
    assert b"".join(chunks) == DATA[10:5010]
    assert await collect(blobs.read("0123abcd", 0, 0, 1024)) == []
    assert b"".join(await collect(blobs.read("0123abcd", len(DATA) - 1, 1, 7))) == DATA[-1:]


async def test_large_blob_crosses_write_blocks(blobs: InspectableBlobStore) -> None:
    big = os.urandom(WRITE_BLOCK_SIZE * 2 + 12345)
    step = 64 * 1024
    await put(blobs, "bigblob0", *(big[i : i + step] for i in range(0, len(big), step)))
    got = b"".join(await collect(blobs.read("bigblob0", 0, len(big), 256 * 1024)))
    assert got == big


async def test_empty_blob(blobs: InspectableBlobStore) -> None:
    await put(blobs, "empty000")
    assert blobs.blob_ids() == {"empty000"}
    assert await collect(blobs.read("empty000", 0, 0, 1024)) == []


async def test_read_beyond_the_end_fails(blobs: InspectableBlobStore) -> None:
    await put(blobs, "0123abcd", b"hello")
    with pytest.raises(BlobError):
        await collect(blobs.read("0123abcd", 2, 4, 1024))


async def test_read_missing_blob_fails(blobs: InspectableBlobStore) -> None:
    with pytest.raises(BlobError):
        await collect(blobs.read("deadbeef", 0, 1, 1024))


async def test_abort_leaves_nothing(blobs: InspectableBlobStore) -> None:
    writer = await blobs.create("0123abcd")
    await writer.write(os.urandom(WRITE_BLOCK_SIZE + 1))  # past one block: a file exists
    await writer.abort()
    await writer.abort()  # idempotent, never raises
    assert blobs.blob_ids() == set()
    assert blobs.temporary_count() == 0
    with pytest.raises(BlobError):
        await collect(blobs.read("0123abcd", 0, 1, 1024))


async def test_uncommitted_blob_is_invisible(blobs: InspectableBlobStore) -> None:
    writer = await blobs.create("0123abcd")
    await writer.write(b"abc")
    with pytest.raises(BlobError):
        await collect(blobs.read("0123abcd", 0, 3, 1024))
    await writer.commit()
    assert b"".join(await collect(blobs.read("0123abcd", 0, 3, 1024))) == b"abc"


async def test_delete(blobs: InspectableBlobStore) -> None:
    await put(blobs, "0123abcd", b"abc")
    await blobs.delete("0123abcd")
    await blobs.delete("0123abcd")  # a missing blob is fine
    assert blobs.blob_ids() == set()


async def test_a_started_read_survives_deletion(blobs: InspectableBlobStore) -> None:
    await put(blobs, "0123abcd", DATA)
    stream = blobs.read("0123abcd", 0, len(DATA), 1024)
    first = await anext(stream)
    await blobs.delete("0123abcd")
    rest = await collect(stream)
    assert first + b"".join(rest) == DATA


async def test_list_blobs_by_age(blobs: InspectableBlobStore) -> None:
    await put(blobs, "aaaa0001", b"1")
    await put(blobs, "bbbb0002", b"2")
    now = datetime.now(UTC)
    future = now + timedelta(seconds=5)
    past = now - timedelta(seconds=60)
    assert sorted([b async for b in blobs.list_blobs(future)]) == ["aaaa0001", "bbbb0002"]
    assert [b async for b in blobs.list_blobs(past)] == []


async def test_stale_temporaries(blobs: InspectableBlobStore) -> None:
    writer = await blobs.create("0123abcd")  # a writer that "crashed" mid-way
    await writer.write(os.urandom(WRITE_BLOCK_SIZE + 1))
    assert blobs.temporary_count() == 1
    now = datetime.now(UTC)
    assert await blobs.remove_stale_temporaries(now - timedelta(seconds=60)) == 0
    assert await blobs.remove_stale_temporaries(now + timedelta(seconds=5)) == 1
    assert blobs.temporary_count() == 0
    with pytest.raises(BlobError):
        await writer.commit()
    await writer.abort()
    assert blobs.blob_ids() == set()


async def test_write_after_commit_fails(blobs: InspectableBlobStore) -> None:
    writer = await blobs.create("0123abcd")
    await writer.commit()
    with pytest.raises(BlobError):
        await writer.write(b"x")
    with pytest.raises(BlobError):
        await writer.commit()
