"""Regions in object storage: every blob of a bucket in its region's store, and only there."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from andromede.db.database import open_database
from andromede.storage.blob_local import LocalBlobStore
from andromede.storage.blob_memory import MemoryBlobStore
from andromede.storage.errors import RegionNotServed
from andromede.storage.model import ContentHeaders, ObjectRecord, Segment
from andromede.storage.regions import RegionalBlobs
from andromede.storage.service import BodyIntegrity, CompletedPart, ObjectService, StorageLimits
from andromede.storage.store import MetadataStore
from andromede.storage.store_memory import MemoryMetadataStore
from andromede.storage.store_sql import SqlMetadataStore
from andromede.storage.sweeper import Sweeper
from support.keys import cipher_in
from support.schema import migrated_sqlite

LIMITS = StorageLimits(
    max_object_size=1 << 24,
    max_part_size=1 << 24,
    min_part_size=1000,
    max_parts=100,
    max_key_length=100,
    max_user_metadata_size=64,
    read_chunk_size=777,
    deletion_grace=0.0,
)
PARIS, BERLIN = "eu-paris-1", "eu-berlin-1"


@dataclass
class World:
    store: MetadataStore
    paris: MemoryBlobStore | LocalBlobStore
    berlin: MemoryBlobStore | LocalBlobStore
    service: ObjectService

    def blobs_of(self, region: str) -> set[str]:
        return (self.paris if region == PARIS else self.berlin).blob_ids()


@pytest.fixture(params=["memory", "sqlite+local"])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    store: MetadataStore
    paris: MemoryBlobStore | LocalBlobStore
    berlin: MemoryBlobStore | LocalBlobStore
    db = None
    if request.param == "memory":
        store, paris, berlin = MemoryMetadataStore(), MemoryBlobStore(), MemoryBlobStore()
    else:
        url = migrated_sqlite(tmp_path / "meta.db")
        db = open_database(url)
        store = SqlMetadataStore(db)
        paris = LocalBlobStore(tmp_path / "objects", fsync=False)
        berlin = LocalBlobStore(tmp_path / f"objects-{BERLIN}", fsync=False)
    regional = RegionalBlobs({PARIS: paris, BERLIN: berlin}, PARIS)
    service = ObjectService(store, regional, LIMITS, cipher_in(tmp_path / "keys"))
    await service.create_bucket("in-paris", tenant_id="t1", owner_id="o1", region=PARIS)
    await service.create_bucket("in-berlin", tenant_id="t1", owner_id="o1", region=BERLIN)
    try:
        yield World(store, paris, berlin, service)
    finally:
        if db is not None:
            await db.close()


async def chunks(data: bytes) -> AsyncIterator[bytes]:
    for i in range(0, len(data), 1000):
        yield data[i : i + 1000]


async def put(service: ObjectService, bucket: str, key: str, data: bytes) -> None:
    await service.put_object(
        bucket,
        key,
        chunks(data),
        size=len(data),
        headers=ContentHeaders(),
        owner_id="o1",
        integrity=BodyIntegrity(),
    )


async def read(service: ObjectService, bucket: str, key: str) -> bytes:
    record = await service.head_object(bucket, key)
    return b"".join([c async for c in service.read_object(record, 0, record.size - 1)])


async def test_a_put_lands_in_its_buckets_region_only(world: World) -> None:
    await put(world.service, "in-berlin", "k", b"berlin bytes")
    record = await world.service.head_object("in-berlin", "k")
    assert [s.region for s in record.segments] == [BERLIN]
    assert world.blobs_of(BERLIN) == {record.segments[0].blob_id}
    assert world.blobs_of(PARIS) == set()
    assert await read(world.service, "in-berlin", "k") == b"berlin bytes"


async def test_multipart_parts_and_object_stay_in_region(world: World) -> None:
    svc = world.service
    upload = await svc.create_multipart_upload(
        "in-berlin",
        "big",
        headers=ContentHeaders(),
        owner_id="o1",
        checksum_algorithm=None,
        checksum_type=None,
    )
    data = [bytes([i]) * 1500 for i in range(3)]
    done = []
    for number, piece in enumerate(data, start=1):
        part = await svc.upload_part(
            "in-berlin",
            "big",
            upload.upload_id,
            number,
            chunks(piece),
            size=len(piece),
            integrity=BodyIntegrity(),
        )
        assert part.region == BERLIN
        done.append(CompletedPart(number, part.etag))
    record = await svc.complete_multipart_upload("in-berlin", "big", upload.upload_id, done)
    assert {s.region for s in record.segments} == {BERLIN}
    assert len(world.blobs_of(BERLIN)) == 3
    assert world.blobs_of(PARIS) == set()
    assert await read(svc, "in-berlin", "big") == b"".join(data)


async def test_a_copy_between_regions_rewrites_the_bytes_in_the_target_region(
    world: World,
) -> None:
    svc = world.service
    await put(svc, "in-paris", "src", b"x" * 5000)
    source = await svc.head_object("in-paris", "src")
    copy = await svc.copy_object(
        source, "in-berlin", "dst", headers=None, owner_id="o1", checksum_algorithm=None
    )
    assert copy.segments[0].region == BERLIN
    assert world.blobs_of(BERLIN) == {copy.segments[0].blob_id}
    assert world.blobs_of(PARIS) == {source.segments[0].blob_id}
    copied = await read(svc, "in-berlin", "dst")
    assert hashlib.md5(copied, usedforsecurity=False).hexdigest() == source.etag


async def test_deletes_are_swept_in_their_own_region_only(world: World) -> None:
    svc = world.service
    await put(svc, "in-paris", "k", b"paris")
    await put(svc, "in-berlin", "k", b"berlin")
    await svc.delete_object("in-paris", "k")
    await svc.delete_object("in-berlin", "k")
    later = datetime.now(UTC) + timedelta(seconds=5)
    # The Berlin sweeper takes only Berlin's queued deletions; Paris's wait for its own.
    berlin = Sweeper(world.store, world.berlin, orphan_grace=3600, interval=1, regions=[BERLIN])
    report = await berlin.run_once(later)
    assert report.queued_deleted == 1
    assert world.blobs_of(BERLIN) == set()
    assert len(world.blobs_of(PARIS)) == 1
    paris = Sweeper(world.store, world.paris, orphan_grace=3600, interval=1, regions=[PARIS, None])
    assert (await paris.run_once(later)).queued_deleted == 1
    assert world.blobs_of(PARIS) == set()


async def test_a_region_not_served_is_refused_before_any_byte(tmp_path: Path) -> None:
    store = MemoryMetadataStore()
    paris = MemoryBlobStore()
    service = ObjectService(
        store, RegionalBlobs({PARIS: paris}, PARIS), LIMITS, cipher_in(tmp_path / "keys")
    )
    await service.create_bucket("elsewhere", tenant_id="t1", owner_id="o1", region=BERLIN)
    with pytest.raises(RegionNotServed):
        await put(service, "elsewhere", "k", b"data")
    assert paris.blob_ids() == set()


def test_unlabelled_blobs_are_the_default_regions() -> None:
    paris, berlin = MemoryBlobStore(), MemoryBlobStore()
    regional = RegionalBlobs({PARIS: paris, BERLIN: berlin}, PARIS)
    assert regional.store(None) is paris
    assert regional.store(BERLIN) is berlin
    with pytest.raises(RegionNotServed):
        regional.store("eu-madrid-1")
    single = MemoryBlobStore()
    assert RegionalBlobs.single(single).store("anything") is single


async def test_reencryption_leaves_other_regions_legacy_blobs_to_their_gateways(
    tmp_path: Path,
) -> None:
    store = MemoryMetadataStore()
    berlin = MemoryBlobStore()
    # A Berlin-only gateway; the default region (where legacy blobs live) is Paris.
    service = ObjectService(
        store, RegionalBlobs({BERLIN: berlin}, PARIS), LIMITS, cipher_in(tmp_path / "keys")
    )
    await service.create_bucket("old", tenant_id="t1", owner_id="o1", region=PARIS)
    await store.put_object(
        ObjectRecord(
            bucket="old",
            key="k",
            size=4,
            etag="e",
            last_modified=datetime.now(UTC),
            headers=ContentHeaders(),
            segments=(Segment("legacy-blob", 4),),
            owner_id="o1",
            format_version=1,
        )
    )
    assert await service.reencrypt_legacy_objects() == 0
    record = await store.get_object("old", "k")
    assert record is not None and record.format_version == 1  # left for a Paris gateway
