"""One suite over every MetadataStore: the in-memory twin, SQLite and PostgreSQL (both migrated
with Alembic)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from andromede.storage import store_sql_bucket_rows, store_sql_versions
from andromede.storage.acl import AccessControlList
from andromede.storage.cors import CorsConfiguration, CorsRule
from andromede.storage.errors import (
    BucketAlreadyExists,
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    BucketVersioned,
    InvalidBucketState,
    NoSuchBucket,
    NoSuchUpload,
    ObjectChanged,
    ObjectLocked,
    ReplicaRefused,
)
from andromede.storage.model import (
    RECORD_FORMAT_VERSION,
    Bucket,
    BucketEncryption,
    Checksum,
    ChecksumAlgorithm,
    ChecksumType,
    ContentHeaders,
    EncryptionMode,
    ExpectedObject,
    MultipartUpload,
    ObjectOwnership,
    ObjectRecord,
    Part,
    PublicAccessBlock,
    SealedHeaders,
    Segment,
    SegmentKey,
    VersioningStatus,
)
from andromede.storage.object_lock import (
    DefaultRetention,
    LockChange,
    LockMode,
    ObjectLock,
    ObjectLockConfiguration,
)
from andromede.storage.replication import ReplicationTarget
from andromede.storage.replication_queue import ReplicationQueue
from andromede.storage.replication_queue_sql import SqlReplicationQueue
from andromede.storage.store import MetadataStore
from andromede.storage.store_memory import MemoryMetadataStore
from andromede.storage.store_sql import SqlMetadataStore, prefix_upper_bound
from andromede.storage.versioning import DeleteMarker, RemovalCondition, next_version_id
from support.store_backends import BACKENDS, backend_database

T0 = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MetadataStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryMetadataStore() if db is None else SqlMetadataStore(db)


def bucket(name: str = "b1", tenant: str = "t1") -> Bucket:
    return Bucket(name=name, tenant_id=tenant, owner_id=f"o-{tenant}", region="eu", created_at=T0)


def record(key: str, *, bucket: str = "b1", blob: str | None = None, size: int = 3) -> ObjectRecord:
    blob_id = blob or f"blob-{key}"
    return ObjectRecord(
        bucket=bucket,
        key=key,
        size=size,
        etag="0" * 32,
        last_modified=T0,
        headers=ContentHeaders(
            content_type="text/plain", cache_control="no-cache", user_metadata={"a": "é"}
        ),
        segments=(Segment(blob_id=blob_id, size=size, etag="0" * 32),),
        owner_id="o-t1",
        checksum=Checksum(ChecksumAlgorithm.CRC32, "AAAAAA=="),
    )


def upload(upload_id: str, key: str = "k", *, initiated: datetime = T0) -> MultipartUpload:
    return MultipartUpload(
        bucket="b1",
        key=key,
        upload_id=upload_id,
        initiated=initiated,
        owner_id="o-t1",
        headers=ContentHeaders(),
        checksum_algorithm=ChecksumAlgorithm.SHA256,
        checksum_type=ChecksumType.COMPOSITE,
    )


def part(upload_id: str, number: int, blob: str | None = None) -> Part:
    return Part(
        upload_id=upload_id,
        part_number=number,
        blob_id=blob or f"{upload_id}-p{number}",
        size=5,
        etag=f"{number:032x}",
        last_modified=T0,
        checksum=Checksum(ChecksumAlgorithm.SHA256, "x" * 44),
    )


# -- buckets ----------------------------------------------------------------------------------


async def test_bucket_crud(store: MetadataStore) -> None:
    await store.create_bucket(bucket("b2"))
    await store.create_bucket(bucket("b1"))
    await store.create_bucket(bucket("other", tenant="t2"))
    assert await store.get_bucket("b1") == bucket("b1")
    assert await store.get_bucket("nope") is None
    assert [b.name for b in await store.list_buckets("t1")] == ["b1", "b2"]
    assert await store.delete_bucket("b2") == []
    assert await store.get_bucket("b2") is None
    assert [b.name for b in await store.list_buckets("t1")] == ["b1"]


async def test_bucket_errors(store: MetadataStore) -> None:
    await store.create_bucket(bucket("b1"))
    with pytest.raises(BucketAlreadyOwnedByYou):
        await store.create_bucket(bucket("b1"))
    with pytest.raises(BucketAlreadyExists):
        await store.create_bucket(bucket("b1", tenant="t2"))
    with pytest.raises(NoSuchBucket):
        await store.delete_bucket("nope")
    await store.put_object(record("k"))
    with pytest.raises(BucketNotEmpty):
        await store.delete_bucket("b1")
    await store.delete_object("b1", "k")
    await store.delete_bucket("b1")


async def test_delete_bucket_aborts_its_uploads(store: MetadataStore) -> None:
    await store.create_bucket(bucket("b1"))
    await store.create_upload(upload("u1"))
    await store.put_part(part("u1", 1))
    await store.put_part(part("u1", 2))
    dropped = await store.delete_bucket("b1")
    assert [p.part_number for p in dropped] == [1, 2]
    with pytest.raises(NoSuchUpload):
        await store.put_part(part("u1", 3))


async def test_bucket_tags_are_kept_replaced_and_go_with_the_bucket(store: MetadataStore) -> None:
    with pytest.raises(NoSuchBucket):
        await store.get_bucket_tags("b1")
    with pytest.raises(NoSuchBucket):
        await store.put_bucket_tags("b1", (("team", "storage"),))
    await store.create_bucket(bucket())
    assert await store.get_bucket_tags("b1") is None
    tags = (("team", "storage"), ("coût", "élevé"), ("empty", ""))
    await store.put_bucket_tags("b1", tags)
    assert await store.get_bucket_tags("b1") == tags
    await store.put_bucket_tags("b1", (("only", "one"),))
    assert await store.get_bucket_tags("b1") == (("only", "one"),)
    await store.put_bucket_tags("b1", None)
    assert await store.get_bucket_tags("b1") is None
    await store.put_bucket_tags("b1", tags)
    await store.delete_bucket("b1")
    await store.create_bucket(bucket())  # made again: none of the old bucket's tags
    assert await store.get_bucket_tags("b1") is None


async def test_bucket_cors_rules_are_kept_replaced_and_go_with_the_bucket(
    store: MetadataStore,
) -> None:
    with pytest.raises(NoSuchBucket):
        await store.get_bucket_cors("b1")
    with pytest.raises(NoSuchBucket):
        await store.put_bucket_cors("b1", None)
    await store.create_bucket(bucket())
    assert await store.get_bucket_cors("b1") is None
    rules = CorsConfiguration(
        (
            CorsRule(("GET", "HEAD"), ("https://*.example.org",), ("*",), ("ETag",), 3000, "web"),
            CorsRule(("PUT",), ("https://upload.example.org", "http://localhost:*")),
        )
    )
    await store.put_bucket_cors("b1", rules)
    assert await store.get_bucket_cors("b1") == rules
    only = CorsConfiguration((CorsRule(("DELETE",), ("*",)),))
    await store.put_bucket_cors("b1", only)
    assert await store.get_bucket_cors("b1") == only
    await store.put_bucket_cors("b1", None)
    assert await store.get_bucket_cors("b1") is None
    await store.put_bucket_cors("b1", rules)
    await store.delete_bucket("b1")
    await store.create_bucket(bucket())  # made again: none of the old bucket's rules
    assert await store.get_bucket_cors("b1") is None


async def test_bucket_documents_are_kept_by_kind_replaced_and_go_with_the_bucket(
    store: MetadataStore,
) -> None:
    with pytest.raises(NoSuchBucket):
        await store.get_bucket_document("b1", "website")
    with pytest.raises(NoSuchBucket):
        await store.put_bucket_document("b1", "website", None)
    await store.create_bucket(bucket())
    assert await store.get_bucket_document("b1", "website") is None
    await store.put_bucket_document("b1", "website", '{"index":"index.html"}')
    await store.put_bucket_document("b1", "lifecycle", "[]")
    assert await store.get_bucket_document("b1", "website") == '{"index":"index.html"}'
    await store.put_bucket_document("b1", "website", '{"index":"home.html"}')
    assert await store.get_bucket_document("b1", "website") == '{"index":"home.html"}'
    assert await store.get_bucket_document("b1", "lifecycle") == "[]"
    await store.put_bucket_document("b1", "website", None)
    assert await store.get_bucket_document("b1", "website") is None
    assert await store.get_bucket_document("b1", "lifecycle") == "[]"
    await store.put_bucket_document("b1", "website", "{}")
    await store.delete_bucket("b1")
    await store.create_bucket(bucket())  # made again: none of the old bucket's documents
    assert await store.get_bucket_document("b1", "website") is None
    assert await store.get_bucket_document("b1", "lifecycle") is None


async def test_the_data_events_setting_comes_with_every_read_of_the_bucket(
    store: MetadataStore,
) -> None:
    with pytest.raises(NoSuchBucket):
        await store.set_bucket_data_reads_logged("b1", True)
    await store.create_bucket(bucket())
    assert not (await store.get_bucket("b1") or bucket()).data_reads_logged
    changed = await store.set_bucket_data_reads_logged("b1", True)
    assert changed.data_reads_logged
    await store.put_object(record("k"))
    for found in (
        await store.get_bucket("b1"),
        (await store.get_bucket_and_object("b1", "k"))[0],
        (await store.get_bucket_and_object("b1", "missing"))[0],
        *(await store.list_buckets("t1")),
        *(await store.all_buckets()),
    ):
        assert found == changed
    # Another configuration change keeps it; the website document is another kind.
    await store.put_bucket_document("b1", "website", "{}")
    updated = await store.update_bucket_access("b1", object_ownership=ObjectOwnership.OBJECT_WRITER)
    assert updated.data_reads_logged
    assert not (await store.set_bucket_data_reads_logged("b1", False)).data_reads_logged
    assert await store.get_bucket("b1") == dataclasses.replace(updated, data_reads_logged=False)
    await store.set_bucket_data_reads_logged("b1", True)
    await store.delete_object("b1", "k")
    await store.put_bucket_document("b1", "website", None)
    await store.delete_bucket("b1")
    await store.create_bucket(bucket())  # made again: off, as every new bucket
    assert not (await store.get_bucket("b1") or changed).data_reads_logged


async def test_requester_pays_comes_with_every_read_of_the_bucket(store: MetadataStore) -> None:
    with pytest.raises(NoSuchBucket):
        await store.set_bucket_requester_pays("b1", True)
    await store.create_bucket(bucket())
    assert not (await store.get_bucket("b1") or bucket()).requester_pays
    changed = await store.set_bucket_requester_pays("b1", True)
    assert changed.requester_pays
    await store.put_object(record("k"))
    for found in (
        await store.get_bucket("b1"),
        (await store.get_bucket_and_object("b1", "k"))[0],
        (await store.get_bucket_and_object("b1", "missing"))[0],
        *(await store.list_buckets("t1")),
        *(await store.all_buckets()),
    ):
        assert found == changed
    # Another configuration change keeps it, and it keeps the others.
    updated = await store.update_bucket_access("b1", object_ownership=ObjectOwnership.OBJECT_WRITER)
    assert updated.requester_pays
    back = await store.set_bucket_requester_pays("b1", False)
    assert back == dataclasses.replace(updated, requester_pays=False)
    assert await store.get_bucket("b1") == back
    await store.set_bucket_requester_pays("b1", True)
    await store.delete_object("b1", "k")
    await store.delete_bucket("b1")
    await store.create_bucket(bucket())  # made again: the owner pays, as for every new bucket
    assert not (await store.get_bucket("b1") or changed).requester_pays


# -- objects ----------------------------------------------------------------------------------


async def test_object_put_replace_get_delete(store: MetadataStore) -> None:
    await store.create_bucket(bucket())
    first = record("k", blob="blob1")
    assert await store.put_object(first) is None
    assert await store.get_object("b1", "k") == first
    second = record("k", blob="blob2", size=7)
    assert await store.put_object(second) == first
    assert await store.get_object("b1", "k") == second
    assert await store.delete_object("b1", "k") == second
    assert await store.get_object("b1", "k") is None
    assert await store.delete_object("b1", "k") is None


async def test_a_conditional_delete_takes_only_the_object_it_names(store: MetadataStore) -> None:
    await store.create_bucket(bucket())
    first = record("k", blob="blob1")
    await store.put_object(first)
    second = dataclasses.replace(record("k", blob="blob2", size=7), etag="1" * 32)
    await store.put_object(second)  # a write after the condition was checked on ``first``
    with pytest.raises(ObjectChanged):
        await store.delete_object("b1", "k", if_etag=first.etag)
    assert await store.get_object("b1", "k") == second  # untouched
    with pytest.raises(ObjectChanged):
        await store.delete_object("b1", "missing", if_etag=first.etag)
    assert await store.delete_object("b1", "k", if_etag=second.etag) == second
    assert await store.get_object("b1", "k") is None


async def test_an_expiry_deletes_only_the_very_object_its_listing_showed(
    store: MetadataStore,
) -> None:
    # Lifecycle's delete: the same ETag is not enough, the object written again since (the
    # same bytes) has another last modification and stays.
    await store.create_bucket(bucket())
    listed = record("k", blob="blob1")
    await store.put_object(listed)
    again = dataclasses.replace(record("k", blob="blob2"), last_modified=T0 + timedelta(seconds=1))
    await store.put_object(again)
    with pytest.raises(ObjectChanged):
        await store.delete_object(
            "b1", "k", if_etag=listed.etag, if_last_modified=listed.last_modified
        )
    assert await store.get_object("b1", "k") == again
    assert (
        await store.delete_object(
            "b1", "k", if_etag=again.etag, if_last_modified=T0 + timedelta(seconds=1)
        )
        == again
    )


async def test_buckets_are_found_by_the_documents_they_have(store: MetadataStore) -> None:
    for name in ("b3", "b1", "b2", "b4"):
        await store.create_bucket(bucket(name))
    for name in ("b3", "b1", "b4"):
        await store.put_bucket_document(name, "lifecycle", f"rules of {name}")
    await store.put_bucket_document("b2", "website", "{}")
    assert await store.list_bucket_documents("lifecycle", None, 2) == [
        ("b1", "rules of b1"),
        ("b3", "rules of b3"),
    ]
    assert await store.list_bucket_documents("lifecycle", "b3", 2) == [("b4", "rules of b4")]
    assert await store.list_bucket_documents("lifecycle", "b4", 2) == []
    assert await store.list_bucket_documents("website", None, 10) == [("b2", "{}")]


async def test_a_tenants_buckets_of_a_region_are_found_by_their_documents(
    store: MetadataStore,
) -> None:
    for name, tenant in (("b3", "t1"), ("b1", "t1"), ("b2", "t1"), ("c1", "t2")):
        await store.create_bucket(bucket(name, tenant))
    await store.create_bucket(dataclasses.replace(bucket("b0"), region="other"))
    for name in ("b3", "b1", "b0", "c1"):
        await store.put_bucket_document(name, "logging", f"target of {name}")
    await store.put_bucket_document("b2", "website", "{}")
    assert await store.list_tenant_bucket_documents("t1", "eu", "logging") == [
        ("b1", "target of b1"),
        ("b3", "target of b3"),
    ]
    assert await store.list_tenant_bucket_documents("t1", "other", "logging") == [
        ("b0", "target of b0")
    ]
    assert await store.list_tenant_bucket_documents("t2", "eu", "logging") == [
        ("c1", "target of c1")
    ]
    assert await store.list_tenant_bucket_documents("t1", "eu", "website") == [("b2", "{}")]
    assert await store.list_tenant_bucket_documents("t3", "eu", "logging") == []
    await store.put_bucket_document("b1", "logging", None)
    await store.delete_bucket("b3")
    assert await store.list_tenant_bucket_documents("t1", "eu", "logging") == []


async def test_a_conditional_write_commits_only_over_what_it_expects(
    store: MetadataStore,
) -> None:
    await store.create_bucket(bucket())
    first = record("k", blob="blob1")
    assert await store.put_object(first, expected=ExpectedObject(None)) is None
    # If-None-Match: * after another writer created the key: nothing is written.
    with pytest.raises(ObjectChanged):
        await store.put_object(record("k", blob="late"), expected=ExpectedObject(None))
    assert await store.get_object("b1", "k") == first
    assert await store.referenced_blob_ids(["late"]) == set()
    # If-Match on the ETag the condition was checked on, after a write changed it.
    second = dataclasses.replace(record("k", blob="blob2"), etag="2" * 32)
    assert await store.put_object(second, expected=ExpectedObject(first.etag)) == first
    with pytest.raises(ObjectChanged):
        await store.put_object(record("k", blob="stale"), expected=ExpectedObject(first.etag))
    assert await store.get_object("b1", "k") == second
    # If-Match after a delete came in between.
    with pytest.raises(ObjectChanged):
        await store.put_object(record("gone", blob="g"), expected=ExpectedObject(first.etag))
    assert await store.get_object("b1", "gone") is None


async def test_concurrent_creates_have_one_winner(store: MetadataStore) -> None:
    """Many ``If-None-Match: *`` writes of one key at once (on PostgreSQL, each on its own
    connection): exactly one commits, and every other finds its object and writes nothing."""
    await store.create_bucket(bucket())
    writers = [record("lock", blob=f"writer-{i}") for i in range(8)]
    results = await asyncio.gather(
        *(store.put_object(w, expected=ExpectedObject(None)) for w in writers),
        return_exceptions=True,
    )
    assert sum(isinstance(r, ObjectChanged) for r in results) == len(writers) - 1
    assert [r for r in results if not isinstance(r, ObjectChanged)] == [None]
    winner = writers[results.index(None)]
    assert await store.get_object("b1", "lock") == winner
    blobs = [w.segments[0].blob_id for w in writers]
    assert await store.referenced_blob_ids(blobs) == {winner.segments[0].blob_id}


async def test_a_conditional_complete_leaves_the_upload_when_it_fails(
    store: MetadataStore,
) -> None:
    await store.create_bucket(bucket())
    await store.create_upload(upload("u1"))
    await store.put_part(part("u1", 1))
    existing = record("k", blob="other")
    await store.put_object(existing)
    assembled = record("k", blob="u1-p1")
    with pytest.raises(ObjectChanged):
        await store.complete_upload("u1", assembled, expected=ExpectedObject(None))
    assert await store.get_object("b1", "k") == existing
    assert await store.get_upload("b1", "u1") == upload("u1")
    assert await store.get_parts("u1", [1]) == [part("u1", 1)]
    replaced, _ = await store.complete_upload(
        "u1", assembled, expected=ExpectedObject(existing.etag)
    )
    assert replaced == existing
    assert await store.get_object("b1", "k") == assembled


async def test_bucket_and_object_in_one_read(store: MetadataStore) -> None:
    assert await store.get_bucket_and_object("b1", "k") == (None, None)
    made = dataclasses.replace(bucket(), policy='{"Statement": []}', acl=None)
    await store.create_bucket(made)
    assert await store.get_bucket_and_object("b1", "k") == (await store.get_bucket("b1"), None)
    stored = dataclasses.replace(record("k"), acl=None)
    await store.put_object(stored)
    await store.put_object(record("k2", blob="other"))
    found, obj = await store.get_bucket_and_object("b1", "k")
    assert found == await store.get_bucket("b1") and found is not None
    assert found.policy == made.policy
    assert obj == stored == await store.get_object("b1", "k")
    assert await store.get_bucket_and_object("b1", "missing") == (found, None)


async def test_the_policy_read_with_every_request_follows_every_change(
    store: MetadataStore,
) -> None:
    """The bucket row names its policy by digest and the text lives in its own table
    (store_sql_bucket_rows._known_policy): whatever changed it, and whatever this process
    remembers, a read returns the stored text."""
    statements = [{"Sid": f"S{n}", "Effect": "Allow", "Action": "s3:GetObject"} for n in range(80)]
    text = json.dumps({"Version": "2012-10-17", "Statement": statements})  # > a 4 KiB page
    await store.create_bucket(dataclasses.replace(bucket(), policy=text))

    async def policies() -> tuple[str | None, str | None]:
        alone = await store.get_bucket("b1")
        with_object, _ = await store.get_bucket_and_object("b1", "k")
        listed = await store.list_buckets("t1")
        assert alone is not None and with_object is not None
        assert [b.policy for b in listed] == [alone.policy]
        return alone.policy, with_object.policy

    if isinstance(store, SqlMetadataStore):
        store_sql_bucket_rows._policy_texts.clear()  # another process wrote it: read from its table
    first = await policies()
    assert first == (text, text)
    again = await policies()
    assert again == (text, text)
    if isinstance(store, SqlMetadataStore):  # the text remembered, not read again
        assert again[0] is again[1] is first[1]
    changed = text.replace('"S1"', '"S!"')  # as long as before
    updated = await store.update_bucket_access("b1", policy=changed)
    assert updated.policy == changed
    if isinstance(store, SqlMetadataStore):
        store_sql_bucket_rows._policy_texts.clear()  # changed by another gateway
    assert await policies() == (changed, changed)
    await store.update_bucket_access("b1", policy=text)  # back to a text this process holds
    assert await policies() == (text, text)
    await store.update_bucket_access("b1", policy=None)
    assert await policies() == (None, None)
    await store.update_bucket_access("b1", policy=changed)
    await store.update_bucket_access("b1", object_ownership=ObjectOwnership.OBJECT_WRITER)
    assert await policies() == (changed, changed)  # other settings leave the policy alone
    await store.delete_bucket("b1")  # its policy goes with it
    await store.create_bucket(bucket())
    assert await policies() == (None, None)


async def test_overwrites_keep_the_blob_references_exact(store: MetadataStore) -> None:
    await store.create_bucket(bucket())
    for n in range(3):
        await store.put_object(record("k", blob=f"v{n}"))
    assert await store.referenced_blob_ids(["v0", "v1", "v2"]) == {"v2"}
    multi = dataclasses.replace(
        record("k"), segments=(Segment("m1", 1, 1, "1" * 32), Segment("m2", 2, 2, "2" * 32))
    )
    assert await store.put_object(multi) == record("k", blob="v2")
    assert await store.referenced_blob_ids(["v2", "m1", "m2"]) == {"m1", "m2"}
    await store.put_object(record("k", blob="v3"))
    assert await store.referenced_blob_ids(["m1", "m2", "v3"]) == {"v3"}


async def test_put_object_in_missing_bucket(store: MetadataStore) -> None:
    with pytest.raises(NoSuchBucket):
        await store.put_object(record("k", bucket="nope"))


async def test_record_round_trip_keeps_every_field(store: MetadataStore) -> None:
    await store.create_bucket(bucket())
    multi = ObjectRecord(
        bucket="b1",
        key="m",
        size=10,
        etag="ab" * 16 + "-2",
        last_modified=T0,
        headers=ContentHeaders(
            content_type="a/b",
            content_encoding="gzip",
            content_disposition="inline",
            content_language="fr",
            cache_control="max-age=1",
            expires="Thu, 01 Dec 1994 16:00:00 GMT",
            user_metadata={"x": "1", "y": "ü"},
        ),
        segments=(
            Segment("s1", 5, 1, "1" * 32, Checksum(ChecksumAlgorithm.CRC32C, "AAAAAA==")),
            Segment("s2", 5, 2, "2" * 32, None),
        ),
        owner_id="o",
        checksum=Checksum(ChecksumAlgorithm.CRC32C, "AAAAAA==-2", ChecksumType.COMPOSITE),
    )
    await store.put_object(multi)
    got = await store.get_object("b1", "m")
    assert got == multi
    assert got is not None and got.last_modified.tzinfo is not None


UNICODE_KEYS = ["a", "a/b", "ab", "é", "\U0001f600", "z", "~", "\uffff", "A", "a b"]


async def test_listing_is_in_utf8_byte_order(store: MetadataStore) -> None:
    await store.create_bucket(bucket())
    for key in UNICODE_KEYS:
        await store.put_object(record(key))
    page = await store.list_objects("b1", prefix="", after=None, limit=100)
    assert [r.key for r in page.items] == sorted(UNICODE_KEYS, key=lambda k: k.encode())
    assert not page.truncated


async def test_listing_prefix_after_limit(store: MetadataStore) -> None:
    await store.create_bucket(bucket())
    await store.create_bucket(bucket("b2"))
    keys = ["p/1", "p/2", "p/3", "p\U0010ffff", "p0", "q", "o", "é/1", "é/2", "éa"]
    for key in keys:
        await store.put_object(record(key))
    await store.put_object(record("p/9", bucket="b2", blob="other"))

    async def listed(prefix: str, after: str | None, limit: int) -> tuple[list[str], bool]:
        page = await store.list_objects("b1", prefix=prefix, after=after, limit=limit)
        return [r.key for r in page.items], page.truncated

    assert await listed("p/", None, 10) == (["p/1", "p/2", "p/3"], False)
    assert await listed("p/", None, 2) == (["p/1", "p/2"], True)
    assert await listed("p/", "p/2", 2) == (["p/3"], False)
    assert await listed("p/", "p/3", 2) == ([], False)
    assert await listed("p", "p/3", 5) == (["p0", "p\U0010ffff"], False)
    assert await listed("é", None, 5) == (["é/1", "é/2", "éa"], False)
    assert await listed("", "p0", 1) == (["p\U0010ffff"], True)
    assert await listed("zz", None, 5) == ([], False)
    assert await listed("p/", None, 3) == (["p/1", "p/2", "p/3"], False)


def test_prefix_upper_bound() -> None:
    assert prefix_upper_bound("") is None
    assert prefix_upper_bound("ab") == "ac"
    assert prefix_upper_bound("a\U0010ffff") == "b"
    assert prefix_upper_bound("\U0010ffff") is None
    assert prefix_upper_bound("a\ud7ff") == "a\ue000"


# -- multipart --------------------------------------------------------------------------------


async def test_multipart_lifecycle(store: MetadataStore) -> None:
    await store.create_bucket(bucket())
    await store.create_upload(upload("u1"))
    assert await store.get_upload("b1", "u1") == upload("u1")
    assert await store.get_upload("b2", "u1") is None
    assert await store.put_part(part("u1", 2)) is None
    assert await store.put_part(part("u1", 1)) is None
    assert await store.put_part(part("u1", 3)) is None
    replacement = part("u1", 2, blob="new2")
    assert await store.put_part(replacement) == part("u1", 2)

    page = await store.list_parts("u1", after_part=0, limit=2)
    assert [p.part_number for p in page.items] == [1, 2] and page.truncated
    page = await store.list_parts("u1", after_part=2, limit=2)
    assert [p.part_number for p in page.items] == [3] and not page.truncated
    got = await store.get_parts("u1", [3, 2, 7])
    assert got == [replacement, part("u1", 3)]

    final = ObjectRecord(
        bucket="b1",
        key="k",
        size=10,
        etag="e-2",
        last_modified=T0,
        headers=ContentHeaders(),
        segments=(Segment("u1-p1", 5, 1), Segment("new2", 5, 2)),
        owner_id="o-t1",
    )
    replaced, unused = await store.complete_upload("u1", final)
    assert replaced is None
    assert unused == [part("u1", 3)]
    assert await store.get_object("b1", "k") == final
    assert await store.get_upload("b1", "u1") is None
    assert await store.referenced_blob_ids(["u1-p1", "new2", "u1-p3"]) == {"u1-p1", "new2"}


async def test_create_upload_in_missing_bucket(store: MetadataStore) -> None:
    with pytest.raises(NoSuchBucket):
        await store.create_upload(upload("u1"))


async def test_complete_race_has_one_winner(store: MetadataStore) -> None:
    await store.create_bucket(bucket())
    await store.create_upload(upload("u1"))
    await store.put_part(part("u1", 1))
    rec = record("k", blob="u1-p1")
    results = await asyncio.gather(
        store.complete_upload("u1", rec),
        store.complete_upload("u1", rec),
        return_exceptions=True,
    )
    assert sum(isinstance(r, NoSuchUpload) for r in results) == 1
    assert sum(isinstance(r, tuple) for r in results) == 1


async def test_abort(store: MetadataStore) -> None:
    await store.create_bucket(bucket())
    await store.create_upload(upload("u1"))
    await store.put_part(part("u1", 1))
    assert await store.abort_upload("u1") == [part("u1", 1)]
    with pytest.raises(NoSuchUpload):
        await store.abort_upload("u1")
    with pytest.raises(NoSuchUpload):
        await store.put_part(part("u1", 2))
    with pytest.raises(NoSuchUpload):
        await store.complete_upload("u1", record("k"))
    assert await store.get_object("b1", "k") is None


async def test_list_uploads_order_and_markers(store: MetadataStore) -> None:
    await store.create_bucket(bucket())
    await store.create_upload(upload("u3", "b", initiated=T0))
    await store.create_upload(upload("u1", "b", initiated=T0 + timedelta(seconds=1)))
    await store.create_upload(upload("u2", "a"))
    await store.create_upload(upload("u4", "é"))
    await store.create_upload(upload("u5", "c/x"))

    async def listed(
        prefix: str, key: str | None, uid: str | None, limit: int
    ) -> tuple[list[str], bool]:
        page = await store.list_uploads(
            "b1", prefix=prefix, after_key=key, after_upload_id=uid, limit=limit
        )
        return [u.upload_id for u in page.items], page.truncated

    assert await listed("", None, None, 10) == (["u2", "u3", "u1", "u5", "u4"], False)
    assert await listed("", None, None, 2) == (["u2", "u3"], True)
    assert await listed("", "b", "u3", 10) == (["u1", "u5", "u4"], False)
    assert await listed("", "b", None, 10) == (["u5", "u4"], False)
    assert await listed("", "a", None, 1) == (["u3"], True)
    assert await listed("c/", None, None, 10) == (["u5"], False)


# -- housekeeping -----------------------------------------------------------------------------


async def test_blob_deletion_queue(store: MetadataStore) -> None:
    await store.queue_blob_deletion(["late"], T0 + timedelta(seconds=60))
    await store.queue_blob_deletion(["d1", "d2", "d3"], T0)
    await store.queue_blob_deletion([], T0)
    assert await store.referenced_blob_ids(["d1", "late", "x"]) == {"d1", "late"}
    assert await store.take_due_blob_deletions(T0, 2) == ["d1", "d2"]
    assert await store.take_due_blob_deletions(T0, 10) == ["d3"]
    assert await store.take_due_blob_deletions(T0, 10) == []
    assert await store.take_due_blob_deletions(T0 + timedelta(seconds=61), 10) == ["late"]
    assert await store.referenced_blob_ids(["d1", "late"]) == set()


async def test_referenced_blob_ids(store: MetadataStore) -> None:
    await store.create_bucket(bucket())
    await store.put_object(record("k1", blob="obj1"))
    await store.put_object(record("k2", blob="obj2"))
    await store.create_upload(upload("u1"))
    await store.put_part(part("u1", 1, blob="part1"))
    candidates = ["obj1", "obj2", "part1", "ghost"] + [f"g{i}" for i in range(1200)]
    assert await store.referenced_blob_ids(candidates) == {"obj1", "obj2", "part1"}
    await store.put_object(record("k1", blob="obj1b"))  # replaced: obj1 no longer referenced
    await store.delete_object("b1", "k2")
    assert await store.referenced_blob_ids(["obj1", "obj1b", "obj2"]) == {"obj1b"}


# -- bucket access configuration -------------------------------------------------------------


async def test_bucket_access_fields_start_as_created_and_update(store: MetadataStore) -> None:
    created = Bucket(
        name="b1",
        tenant_id="t1",
        owner_id="o-t1",
        region="eu",
        created_at=T0,
        object_ownership=ObjectOwnership.OBJECT_WRITER,
        public_access_block=PublicAccessBlock(),
    )
    await store.create_bucket(created)
    assert await store.get_bucket("b1") == created

    policy = '{"Version": "2012-10-17", "Statement": []}'
    block = PublicAccessBlock(False, True, False, True)
    updated = await store.update_bucket_access(
        "b1", policy=policy, public_access_block=block, object_ownership=None
    )
    assert updated.policy == policy
    assert updated.public_access_block == block
    assert updated.object_ownership is None
    assert updated.acls_enabled  # no controls behaves as ObjectWriter: ACLs count
    assert await store.get_bucket("b1") == updated

    cleared = await store.update_bucket_access("b1", policy=None, public_access_block=None)
    assert cleared.policy is None and cleared.public_access_block is None
    assert (await store.list_buckets("t1")) == [cleared]


async def test_bucket_access_update_of_a_missing_bucket_fails(store: MetadataStore) -> None:
    with pytest.raises(NoSuchBucket):
        await store.update_bucket_access("nope", policy="{}")


async def test_bucket_access_update_refuses_other_fields(store: MetadataStore) -> None:
    await store.create_bucket(bucket())
    with pytest.raises(ValueError, match="not bucket access fields"):
        await store.update_bucket_access("b1", tenant_id="t2")
    assert (await store.get_bucket("b1")) == bucket()


# -- encryption at rest (record format 2) -------------------------------------------------------


async def test_encrypted_records_round_trip(store: MetadataStore) -> None:
    await store.create_bucket(bucket())
    sealed = SealedHeaders(wrapped=b"\x01wrapped", ciphertext=b"\x00" * 12 + b"sealed")
    key = SegmentKey(b"\x02wrapped-data-key", customer_key_check=b"\x03" * 32)
    encrypted = dataclasses.replace(
        record("k"),
        headers=ContentHeaders(),
        sealed_headers=sealed,
        segments=(Segment(blob_id="blob-k", size=3, etag="0" * 32, key=key),),
    )
    await store.put_object(encrypted)
    got = await store.get_object("b1", "k")
    assert got is not None
    assert (got.sealed_headers, got.segments[0].key) == (sealed, key)
    assert got.encryption is EncryptionMode.SSE_C
    pending = dataclasses.replace(
        upload("u1"), headers=ContentHeaders(), sealed_headers=sealed, customer_key_check=b"c" * 32
    )
    await store.create_upload(pending)
    loaded = await store.get_upload("b1", "u1")
    assert loaded is not None
    assert (loaded.sealed_headers, loaded.customer_key_check) == (sealed, b"c" * 32)
    await store.put_part(dataclasses.replace(part("u1", 1), key=SegmentKey(b"part-key")))
    (stored_part,) = await store.get_parts("u1", [1])
    assert stored_part.key == SegmentKey(b"part-key")


async def test_bucket_default_encryption_is_stored(store: MetadataStore) -> None:
    await store.create_bucket(bucket())
    config = BucketEncryption("AES256", None, True)
    assert (await store.update_bucket_access("b1", encryption=config)).encryption == config
    got = await store.get_bucket("b1")
    assert got is not None and got.encryption == config
    await store.update_bucket_access("b1", encryption=None)
    got = await store.get_bucket("b1")
    assert got is not None and got.encryption is None


async def test_legacy_rows_are_listed_and_swapped_only_if_unchanged(store: MetadataStore) -> None:
    await store.create_bucket(bucket())
    await store.create_bucket(bucket("b2"))
    old = [
        dataclasses.replace(record(k, bucket=b), format_version=1)
        for b, k in (("b1", "x"), ("b1", "y"), ("b2", "a"))
    ]
    for legacy in old:
        await store.put_object(legacy)
    await store.put_object(record("new"))
    listed = await store.legacy_objects(None, 2, RECORD_FORMAT_VERSION)
    assert [(r.bucket, r.key) for r in listed] == [("b1", "x"), ("b1", "y")]
    rest = await store.legacy_objects(("b1", "y"), 2, RECORD_FORMAT_VERSION)
    assert [(r.bucket, r.key) for r in rest] == [("b2", "a")]
    converted = dataclasses.replace(
        old[0],
        format_version=RECORD_FORMAT_VERSION,
        segments=(Segment(blob_id="blob-x2", size=3, key=SegmentKey(b"k")),),
    )
    assert await store.replace_object_segments(old[0], converted)
    assert not await store.replace_object_segments(old[0], converted)  # no longer the same
    await store.put_object(record("y", blob="overwritten"))  # a client's write meanwhile
    converted_y = dataclasses.replace(converted, key="y")
    assert not await store.replace_object_segments(old[1], converted_y)
    still = await store.get_object("b1", "y")
    assert still is not None and still.segments[0].blob_id == "overwritten"
    assert [(r.bucket, r.key) for r in await store.legacy_objects(None, 10, 2)] == [("b2", "a")]


async def test_replacing_headers_changes_them_alone_and_loses_to_a_write(
    store: MetadataStore,
) -> None:
    # PutObjectTagging's step: the headers column, and only while the object is the one read.
    await store.create_bucket(bucket())
    acl = AccessControlList.private("o1")
    await store.put_object(dataclasses.replace(record("k"), acl=acl))
    read = await store.get_object("b1", "k")
    assert read is not None
    tagged = dataclasses.replace(
        read, headers=dataclasses.replace(read.headers, tags=(("team", "blue"),))
    )
    assert await store.replace_object_headers(read, tagged)
    stored = await store.get_object("b1", "k")
    assert stored is not None and stored.headers.tags == (("team", "blue"),)
    assert stored == tagged  # everything else as it was (the ACL included)
    await store.put_object(record("k", blob="overwritten"))  # a client's write meanwhile
    assert not await store.replace_object_headers(read, tagged)
    still = await store.get_object("b1", "k")
    assert still is not None and still.headers.tags == ()
    assert not await store.replace_object_headers(dataclasses.replace(read, key="none"), tagged)


# -- regions ----------------------------------------------------------------------------------


async def test_regions_of_segments_and_parts_round_trip(store: MetadataStore) -> None:
    await store.create_bucket(dataclasses.replace(bucket(), region="eu-berlin-1"))
    stored = dataclasses.replace(
        record("k"),
        segments=(Segment("blob-a", 3, region="eu-berlin-1"), Segment("legacy", 0)),
    )
    await store.put_object(stored)
    found = await store.get_object("b1", "k")
    assert found is not None
    assert [s.region for s in found.segments] == ["eu-berlin-1", None]
    await store.create_upload(upload("u1"))
    await store.put_part(dataclasses.replace(part("u1", 1), region="eu-berlin-1"))
    await store.put_part(part("u1", 2))
    assert [p.region for p in await store.get_parts("u1", [1, 2])] == ["eu-berlin-1", None]


async def test_deletion_queue_by_region(store: MetadataStore) -> None:
    await store.queue_blob_deletion(["old"], T0)
    await store.queue_blob_deletion(["p1", "p2"], T0, region="eu-paris-1")
    await store.queue_blob_deletion(["b1"], T0, region="eu-berlin-1")
    assert await store.take_due_blob_deletions(T0, 10, regions=["eu-berlin-1"]) == ["b1"]
    assert await store.take_due_blob_deletions(T0, 10, regions=[]) == []
    assert sorted(await store.take_due_blob_deletions(T0, 10, regions=["eu-paris-1", None])) == [
        "old",
        "p1",
        "p2",
    ]
    assert await store.take_due_blob_deletions(T0, 10) == []


async def test_every_bucket_and_its_usage(store: MetadataStore) -> None:
    await store.create_bucket(bucket("b1", "t2"))
    await store.create_bucket(bucket("b2", "t1"))
    await store.create_bucket(bucket("b3", "t1"))
    await store.put_object(record("k1", size=10))
    await store.put_object(record("k2", size=32))
    await store.put_object(record("k", bucket="b3", size=0))
    assert [(b.tenant_id, b.name) for b in await store.all_buckets()] == [
        ("t1", "b2"),
        ("t1", "b3"),
        ("t2", "b1"),
    ]
    usage = await store.usage_by_bucket()
    assert {name: (u.objects, u.bytes) for name, u in usage.items()} == {
        "b1": (2, 42),
        "b3": (1, 0),
    }


async def test_an_object_is_refused_by_a_bucket_of_another_region(store: MetadataStore) -> None:
    # The bucket was deleted and made again in eu-de-1 while the blob went to eu-fr-1's store.
    await store.create_bucket(dataclasses.replace(bucket(), region="eu-de-1"))
    moved = dataclasses.replace(record("k"), segments=(Segment("blob-a", 3, region="eu-fr-1"),))
    with pytest.raises(NoSuchBucket):
        await store.put_object(moved)
    assert await store.get_object("b1", "k") is None
    await store.put_object(
        dataclasses.replace(moved, segments=(Segment("blob-b", 3, region="eu-de-1"),))
    )
    assert await store.get_object("b1", "k") is not None


# -- inline objects (decision 0028) -----------------------------------------------------------


def inline_record(key: str, data: bytes, *, blob: str | None = None) -> ObjectRecord:
    plain = record(key, blob=blob, size=len(data))
    return dataclasses.replace(
        plain, segments=(dataclasses.replace(plain.segments[0], inline=data),)
    )


async def test_inline_bytes_round_trip_on_every_read(store: MetadataStore) -> None:
    await store.create_bucket(bucket())
    data = os.urandom(4096) + b"\x00" * 3  # arbitrary bytes, NULs included
    small = inline_record("k", data, blob="small")
    assert await store.put_object(small) is None
    for got in (
        await store.get_object("b1", "k"),
        (await store.get_bucket_and_object("b1", "k"))[1],
    ):
        assert got == small
        assert got is not None and got.segments[0].inline == data
        assert type(got.segments[0].inline) is bytes
    listed = await store.list_objects("b1", prefix="", after=None, limit=10)
    assert [s.key for s in listed.items] == ["k"] and listed.items[0].size == len(data)


async def test_inline_objects_have_no_blob_references(store: MetadataStore) -> None:
    await store.create_bucket(bucket())
    await store.put_object(record("k", blob="big"))
    # Replaced by an inline object: the blob is no longer referenced, and neither is the
    # inline object's id (there is no blob of that name to keep).
    replaced = await store.put_object(inline_record("k", b"tiny", blob="tiny"))
    assert replaced == record("k", blob="big")
    assert await store.referenced_blob_ids(["big", "tiny"]) == set()
    # And back: the inline bytes leave with their row, the new blob is referenced.
    replaced = await store.put_object(record("k", blob="big2"))
    assert replaced == inline_record("k", b"tiny", blob="tiny")
    got = await store.get_object("b1", "k")
    assert got is not None and got.segments[0].inline is None
    assert await store.referenced_blob_ids(["big2", "tiny"]) == {"big2"}
    assert await store.delete_object("b1", "k") == record("k", blob="big2")


async def test_inline_legacy_rows_swap_with_their_bytes(store: MetadataStore) -> None:
    await store.create_bucket(bucket())
    old = dataclasses.replace(inline_record("k", b"plain", blob="p"), format_version=1)
    await store.put_object(old)
    converted = dataclasses.replace(
        inline_record("k", b"sealed bytes", blob="s"), format_version=RECORD_FORMAT_VERSION
    )
    assert await store.replace_object_segments(old, converted)
    assert await store.get_object("b1", "k") == converted
    assert await store.referenced_blob_ids(["p", "s"]) == set()


# -- versioned buckets (decision 0097) ---------------------------------------------------------


async def test_enabled_keeps_every_version_and_its_blobs(store: MetadataStore) -> None:
    await store.create_bucket(bucket())
    await store.put_object(record("k", blob="null-blob"))  # before versioning: the null one
    await store.set_bucket_versioning("b1", VersioningStatus.ENABLED)
    assert (await store.get_bucket("b1")).versioning is VersioningStatus.ENABLED  # type: ignore[union-attr]
    first = await store.put_object_version(record("k", blob="blob-1"))
    later = dataclasses.replace(record("k", blob="blob-2"), last_modified=T0 + timedelta(1))
    second = await store.put_object_version(later)
    assert first.version_id and second.version_id and first.released == ()
    assert second.version_id < first.version_id  # newest first
    current = await store.get_object("b1", "k")
    assert current is not None and current.version_id == second.version_id
    ids = {"null-blob", "blob-1", "blob-2"}
    assert await store.referenced_blob_ids(ids) == ids  # none may be swept
    old = await store.get_object_version("b1", "k", first.version_id)
    assert old is not None and not isinstance(old, DeleteMarker)
    assert old.segments[0].blob_id == "blob-1"
    null = await store.get_object_version("b1", "k", "null")
    assert null is not None and not isinstance(null, DeleteMarker)
    assert null.segments[0].blob_id == "null-blob"

    marker = await store.put_delete_marker("b1", "k", owner_id="o-t1", now=T0 + timedelta(2))
    assert await store.get_object("b1", "k") is None
    assert (await store.list_objects("b1", prefix="", after=None, limit=10)).items == ()
    found = await store.get_current_delete_marker("b1", "k")
    assert found is not None and found.version_id == marker.version_id
    page = await store.list_object_versions(
        "b1", prefix="", after_key=None, after_version=None, limit=10
    )
    assert [(e.version_id, e.is_latest, e.delete_marker) for e in page.items] == [
        (marker.version_id, True, True),
        (second.version_id, False, False),
        (first.version_id, False, False),
        (None, False, False),
    ]
    after = await store.list_object_versions(
        "b1", prefix="", after_key="k", after_version=page.items[1].sort_id, limit=10
    )
    assert [e.version_id for e in after.items] == [first.version_id, None]
    with_null = await store.list_object_versions(
        "b1", prefix="", after_key="k", after_version="null", limit=10
    )
    assert with_null.items == ()
    try:
        await store.delete_bucket("b1")
        raise AssertionError("a bucket with versions is not empty")
    except BucketNotEmpty:
        pass

    # The marker removed: the newest version is current again, with its blob referenced.
    assert marker.version_id is not None
    removed = await store.delete_object_version("b1", "k", marker.version_id)
    assert isinstance(removed, DeleteMarker)
    current = await store.get_object("b1", "k")
    assert current is not None and current.version_id == second.version_id
    gone = await store.delete_object_version("b1", "k", second.version_id)
    assert gone is not None and not isinstance(gone, DeleteMarker)
    current = await store.get_object("b1", "k")
    assert current is not None and current.segments[0].blob_id == "blob-1"
    assert await store.referenced_blob_ids(ids) == {"null-blob", "blob-1"}


async def test_a_replica_keeps_its_sources_version_id(store: MetadataStore) -> None:
    """Replication's writes (decision 0112): the id given is kept; the same id again is
    ``present``; an older one goes among the noncurrent versions at its place, the current
    one staying (increment 4); a bucket not Enabled refuses and nothing changes."""
    await store.create_bucket(bucket())
    await store.set_bucket_versioning("b1", VersioningStatus.ENABLED)
    older, newer = next_version_id(T0), next_version_id(T0 + timedelta(1))
    replica = dataclasses.replace(record("k", blob="replica"), version_id=newer)
    written = await store.put_object_version(replica)
    assert written.version_id == newer
    current = await store.get_object("b1", "k")
    assert current is not None and current.version_id == newer
    with pytest.raises(ReplicaRefused) as again:
        await store.put_object_version(dataclasses.replace(replica, segments=()))
    assert again.value.present
    late = dataclasses.replace(record("k", blob="late"), version_id=older)
    placed = await store.put_object_version(late)
    assert (placed.version_id, placed.released) == (older, ())
    current = await store.get_object("b1", "k")
    assert current is not None and current.version_id == newer
    kept = await store.get_object_version("b1", "k", older)
    assert kept is not None and not isinstance(kept, DeleteMarker)
    assert kept.segments[0].blob_id == "late"
    with pytest.raises(ReplicaRefused) as late_again:
        await store.put_object_version(late)
    assert late_again.value.present
    newest = dataclasses.replace(
        record("k", blob="newest"), version_id=next_version_id(T0 + timedelta(2))
    )
    await store.set_bucket_versioning("b1", VersioningStatus.SUSPENDED)
    with pytest.raises(ReplicaRefused):
        await store.put_object_version(newest)
    current = await store.get_object("b1", "k")
    assert current is not None and current.version_id == newer
    assert await store.referenced_blob_ids({"replica", "late", "newest"}) == {"replica", "late"}
    # A replicated delete marker keeps its id too.
    await store.set_bucket_versioning("b1", VersioningStatus.ENABLED)
    marker_id = next_version_id(T0 + timedelta(3))
    marked = await store.put_delete_marker(
        "b1", "k", owner_id="o-t1", now=T0 + timedelta(3), version_id=marker_id
    )
    assert marked.version_id == marker_id
    found = await store.get_current_delete_marker("b1", "k")
    assert found is not None and found.version_id == marker_id
    with pytest.raises(ReplicaRefused) as twice:
        await store.put_delete_marker(
            "b1", "k", owner_id="o-t1", now=T0 + timedelta(3), version_id=marker_id
        )
    assert twice.value.present
    # An older marker too goes at its place; the newest stays what it was.
    old_marker = next_version_id(T0 - timedelta(1))
    await store.put_delete_marker("b1", "k", owner_id="o-t1", now=T0, version_id=old_marker)
    found = await store.get_current_delete_marker("b1", "k")
    assert found is not None and found.version_id == marker_id
    page = await store.list_object_versions(
        "b1", prefix="", after_key=None, after_version=None, limit=10
    )
    assert [(e.version_id, e.is_latest, e.delete_marker) for e in page.items] == [
        (marker_id, True, True),
        (newer, False, False),
        (older, False, False),
        (old_marker, False, True),
    ]
    # The version placed among the others is deleted like any: its blob is released.
    removed = await store.delete_object_version("b1", "k", older)
    assert removed is not None and not isinstance(removed, DeleteMarker)
    assert await store.referenced_blob_ids({"replica", "late"}) == {"replica"}


async def test_suspended_replaces_the_null_version(store: MetadataStore) -> None:
    await store.create_bucket(bucket())
    await store.set_bucket_versioning("b1", VersioningStatus.ENABLED)
    kept = await store.put_object_version(record("k", blob="kept"))
    await store.set_bucket_versioning("b1", VersioningStatus.SUSPENDED)
    null = await store.put_object_version(record("k", blob="null-1"))
    assert null.version_id is None and null.released == ()
    again = await store.put_object_version(record("k", blob="null-2"))
    assert [s.blob_id for s in again.released] == ["null-1"]
    marker = await store.put_delete_marker("b1", "k", owner_id="o-t1", now=T0)
    assert marker.version_id is None and [s.blob_id for s in marker.released] == ["null-2"]
    page = await store.list_object_versions(
        "b1", prefix="", after_key=None, after_version=None, limit=10
    )
    assert [(e.version_id, e.delete_marker) for e in page.items] == [
        (None, True),
        (kept.version_id, False),
    ]
    assert await store.referenced_blob_ids({"kept", "null-1", "null-2"}) == {"kept"}


async def test_an_unversioned_put_never_replaces_a_version(store: MetadataStore) -> None:
    """A PUT that read the bucket before versioning came on is refused, not taken."""
    await store.create_bucket(bucket())
    await store.set_bucket_versioning("b1", VersioningStatus.ENABLED)
    try:
        await store.put_object(record("k"))
        raise AssertionError("taken")
    except BucketVersioned:
        pass
    assert await store.get_object("b1", "k") is None


# -- one version addressed, and usage of versioned buckets (decision 0099) ---------------------


async def test_a_noncurrent_version_takes_its_own_headers_and_acl(store: MetadataStore) -> None:
    await store.create_bucket(bucket())
    await store.set_bucket_versioning("b1", VersioningStatus.ENABLED)
    first = await store.put_object_version(record("k", blob="blob-1"))
    later = dataclasses.replace(record("k", blob="blob-2"), last_modified=T0 + timedelta(1))
    second = await store.put_object_version(later)
    assert first.version_id is not None and second.version_id is not None
    old = await store.get_object_version("b1", "k", first.version_id)
    assert isinstance(old, ObjectRecord)
    tagged = dataclasses.replace(old, headers=old.headers.with_tags((("a", "1"),)))
    assert await store.replace_version_headers(old, tagged)
    again = await store.get_object_version("b1", "k", first.version_id)
    assert isinstance(again, ObjectRecord) and again.headers.tags == (("a", "1"),)
    current = await store.get_object("b1", "k")
    assert current is not None and current.headers.tags == ()
    # Only while the version still has the segments it was read with.
    stale = dataclasses.replace(old, segments=(Segment("other", 3),))
    assert not await store.replace_version_headers(stale, tagged)
    # The current version by its id goes to the current object.
    assert current.version_id == second.version_id
    assert await store.replace_version_headers(
        current,
        tagged_current := dataclasses.replace(
            current, headers=current.headers.with_tags((("b", "2"),))
        ),
    )
    assert (await store.get_object("b1", "k")).headers.tags == tagged_current.headers.tags  # type: ignore[union-attr]

    acl = AccessControlList.private("o-t1")
    changed = await store.set_version_acl("b1", "k", first.version_id, acl)
    assert isinstance(changed, ObjectRecord) and changed.acl == acl
    assert (await store.get_object("b1", "k")).acl is None  # type: ignore[union-attr]
    marker = await store.put_delete_marker("b1", "k", owner_id="o-t1", now=T0 + timedelta(2))
    assert marker.version_id is not None
    assert isinstance(await store.set_version_acl("b1", "k", marker.version_id, acl), DeleteMarker)
    assert not await store.replace_version_headers(
        dataclasses.replace(old, version_id=marker.version_id), tagged
    )
    assert await store.set_version_acl("b1", "k", "null", acl) is None


async def test_usage_counts_noncurrent_versions(store: MetadataStore) -> None:
    await store.create_bucket(bucket())
    await store.set_bucket_versioning("b1", VersioningStatus.ENABLED)
    await store.put_object_version(record("k", size=10))
    later = dataclasses.replace(record("k", blob="blob-2", size=5), last_modified=T0 + timedelta(1))
    await store.put_object_version(later)
    await store.put_object_version(record("gone", size=7))
    await store.put_delete_marker("b1", "gone", owner_id="o-t1", now=T0 + timedelta(2))
    usage = (await store.usage_by_bucket())["b1"]
    assert (usage.objects, usage.bytes) == (1, 5)
    assert (usage.noncurrent_versions, usage.noncurrent_bytes) == (2, 17)
    assert usage.stored_bytes == 22


# -- lifecycle's conditional removals (decision 0099) ------------------------------------------


async def test_a_conditional_removal_takes_only_what_is_still_noncurrent(
    store: MetadataStore,
) -> None:
    """Lifecycle removes a version it listed as noncurrent only if it still is: a client that
    removed the newer version meanwhile made it current again, and it must stay (with its
    blob referenced). A delete marker goes as an expired one only while it is alone."""
    await store.create_bucket(bucket())
    await store.set_bucket_versioning("b1", VersioningStatus.ENABLED)
    first = await store.put_object_version(record("k", blob="blob-1"))
    second = await store.put_object_version(record("k", blob="blob-2"))
    assert first.version_id is not None and second.version_id is not None
    noncurrent = RemovalCondition.NONCURRENT
    # The current object is never taken as noncurrent, nor as a marker.
    assert (
        await store.delete_object_version("b1", "k", second.version_id, only_if=noncurrent) is None
    )
    sole = RemovalCondition.SOLE_MARKER
    assert await store.delete_object_version("b1", "k", second.version_id, only_if=sole) is None
    # The race: listed noncurrent, then the newer version removed by a client.
    assert await store.delete_object_version("b1", "k", second.version_id) is not None
    assert (
        await store.delete_object_version("b1", "k", first.version_id, only_if=noncurrent) is None
    )
    current = await store.get_object("b1", "k")
    assert current is not None and current.version_id == first.version_id
    assert await store.referenced_blob_ids(["blob-1"]) == {"blob-1"}
    # Still noncurrent: removed, current object untouched.
    third = await store.put_object_version(record("k", blob="blob-3"))
    removed = await store.delete_object_version("b1", "k", first.version_id, only_if=noncurrent)
    assert removed is not None and not isinstance(removed, DeleteMarker)
    current = await store.get_object("b1", "k")
    assert current is not None and current.version_id == third.version_id

    # Markers: a current marker is not noncurrent, and not alone while it hides a version.
    marker = await store.put_delete_marker("b1", "k", owner_id="o-t1", now=T0)
    assert marker.version_id is not None
    assert (
        await store.delete_object_version("b1", "k", marker.version_id, only_if=noncurrent) is None
    )
    assert await store.delete_object_version("b1", "k", marker.version_id, only_if=sole) is None
    # A marker made noncurrent by a newer one goes as noncurrent.
    newer = await store.put_delete_marker("b1", "k", owner_id="o-t1", now=T0)
    assert newer.version_id is not None
    gone = await store.delete_object_version("b1", "k", marker.version_id, only_if=noncurrent)
    assert isinstance(gone, DeleteMarker)
    # Alone at last (its version removed by a client): an expired object delete marker.
    assert third.version_id is not None
    assert await store.delete_object_version("b1", "k", third.version_id) is not None
    assert (
        await store.delete_object_version("b1", "k", newer.version_id, only_if=noncurrent) is None
    )
    alone = await store.delete_object_version("b1", "k", newer.version_id, only_if=sole)
    assert isinstance(alone, DeleteMarker)
    page = await store.list_object_versions(
        "b1", prefix="", after_key=None, after_version=None, limit=10
    )
    assert page.items == ()


async def test_a_conditional_delete_marker_needs_the_object_checked(store: MetadataStore) -> None:
    """A conditional DELETE in a versioned bucket: the marker goes over the current object
    only if it still has the ETag the condition held for, in the same transaction."""
    await store.create_bucket(bucket())
    await store.set_bucket_versioning("b1", VersioningStatus.ENABLED)
    written = await store.put_object_version(record("k", blob="blob-1"))
    current = await store.get_object("b1", "k")
    assert current is not None
    with pytest.raises(ObjectChanged):
        await store.put_delete_marker("b1", "k", owner_id="o-t1", now=T0, if_etag="another")
    assert (await store.get_object("b1", "k")) == current
    marker = await store.put_delete_marker("b1", "k", owner_id="o-t1", now=T0, if_etag=current.etag)
    assert marker.version_id is not None and marker.version_id != written.version_id
    assert await store.get_object("b1", "k") is None
    with pytest.raises(ObjectChanged):  # a current marker is no object to hold a condition
        await store.put_delete_marker("b1", "k", owner_id="o-t1", now=T0, if_etag=current.etag)


# -- Object Lock (decision 0102) -----------------------------------------------------------------


async def test_a_bucket_made_with_object_lock_is_versioned_and_keeps_its_configuration(
    store: MetadataStore,
) -> None:
    config = ObjectLockConfiguration(DefaultRetention(LockMode.GOVERNANCE, days=3))
    await store.create_bucket(
        dataclasses.replace(
            bucket(), versioning=VersioningStatus.ENABLED, object_lock=ObjectLockConfiguration()
        )
    )
    made = await store.get_bucket("b1")
    assert made is not None and made.versioning is VersioningStatus.ENABLED
    assert made.object_lock == ObjectLockConfiguration()
    changed = await store.set_bucket_object_lock("b1", config)
    assert changed.object_lock == config
    fetched = await store.get_bucket("b1")
    assert fetched is not None and fetched.object_lock == config
    found, _ = await store.get_bucket_and_object("b1", "k")
    assert found is not None and found.object_lock == config


async def test_a_locked_version_is_not_removed_until_its_lock_allows(store: MetadataStore) -> None:
    """Retention and legal hold are read in the removal's own transaction: COMPLIANCE holds
    against a bypass, GOVERNANCE yields to one, a hold holds whatever the date, and a lock
    set after the write (PutObjectRetention) counts the same. Kept with the lock, on the
    current object and on a noncurrent version."""
    await store.create_bucket(bucket())
    await store.set_bucket_versioning("b1", VersioningStatus.ENABLED)
    until = T0 + timedelta(days=2)
    compliance = ObjectLock(LockMode.COMPLIANCE, until)
    first = await store.put_object_version(dataclasses.replace(record("k"), lock=compliance))
    second = await store.put_object_version(record("k", blob="blob-2"))
    assert first.version_id is not None and second.version_id is not None
    kept = await store.get_object_version("b1", "k", first.version_id)
    assert isinstance(kept, ObjectRecord) and kept.lock == compliance
    with pytest.raises(ObjectLocked):
        await store.delete_object_version(
            "b1", "k", first.version_id, now=T0, bypass_governance=True
        )
    assert await store.get_object_version("b1", "k", first.version_id) is not None
    # Once its date has passed, it goes.
    assert await store.delete_object_version("b1", "k", first.version_id, now=until) is not None

    # A GOVERNANCE retention set on the current object after its write.
    governance = LockChange.retention(LockMode.GOVERNANCE, until, bypass_governance=False)
    changed = await store.update_version_lock("b1", "k", second.version_id, governance, T0)
    assert isinstance(changed, ObjectRecord)
    assert changed.lock == ObjectLock(LockMode.GOVERNANCE, until)
    current = await store.get_object("b1", "k")
    assert current is not None and current.lock == changed.lock
    with pytest.raises(ObjectLocked):
        await store.delete_object_version("b1", "k", second.version_id, now=T0)
    # A legal hold on top: even a bypass does not remove it until the hold is lifted.
    await store.update_version_lock("b1", "k", second.version_id, LockChange.hold(True), T0)
    with pytest.raises(ObjectLocked):
        await store.delete_object_version(
            "b1", "k", second.version_id, now=T0, bypass_governance=True
        )
    lifted = await store.update_version_lock(
        "b1", "k", second.version_id, LockChange.hold(False), T0
    )
    # Lifted, the hold is OFF, not never set (decision 0104).
    assert isinstance(lifted, ObjectRecord) and lifted.lock == ObjectLock(
        LockMode.GOVERNANCE, until, legal_hold=False
    )
    removed = await store.delete_object_version(
        "b1", "k", second.version_id, now=T0, bypass_governance=True
    )
    assert removed is not None and await store.get_object("b1", "k") is None


async def test_a_compliance_retention_is_only_ever_extended(store: MetadataStore) -> None:
    await store.create_bucket(bucket())
    await store.set_bucket_versioning("b1", VersioningStatus.ENABLED)
    until = T0 + timedelta(days=2)
    written = await store.put_object_version(
        dataclasses.replace(record("k"), lock=ObjectLock(LockMode.COMPLIANCE, until))
    )
    assert written.version_id is not None
    vid = written.version_id
    for weaker in (
        LockChange.retention(
            LockMode.COMPLIANCE, until - timedelta(hours=1), bypass_governance=True
        ),
        LockChange.retention(LockMode.GOVERNANCE, until, bypass_governance=True),
        LockChange.retention(None, None, bypass_governance=True),
    ):
        with pytest.raises(ObjectLocked):
            await store.update_version_lock("b1", "k", vid, weaker, T0)
    later = until + timedelta(days=1)
    extended = await store.update_version_lock(
        "b1",
        "k",
        vid,
        LockChange.retention(LockMode.COMPLIANCE, later, bypass_governance=False),
        T0,
    )
    assert isinstance(extended, ObjectRecord)
    assert extended.lock == ObjectLock(LockMode.COMPLIANCE, later)
    # A version the key no longer has, and a marker, which has no lock.
    marker = await store.put_delete_marker("b1", "k", owner_id="o-t1", now=T0)
    assert marker.version_id is not None
    hold = LockChange.hold(True)
    assert isinstance(
        await store.update_version_lock("b1", "k", marker.version_id, hold, T0), DeleteMarker
    )
    assert await store.update_version_lock("b1", "k", "0" * 38, hold, T0) is None


async def test_an_upload_keeps_the_lock_its_creation_asked(store: MetadataStore) -> None:
    """Decision 0104: in the upload row's per-upload settings, sealed headers or clear."""
    await store.create_bucket(bucket())
    until = T0 + timedelta(days=2)
    asked = ObjectLock(LockMode.COMPLIANCE, until, legal_hold=False)
    clear = dataclasses.replace(upload("u1"), lock=asked)
    sealed = dataclasses.replace(
        upload("u2"),
        lock=ObjectLock(legal_hold=True),
        sealed_headers=SealedHeaders(b"w" * 40, b"c" * 60),
        kms_key_arn="arn:aws:kms:eu:t1:key/k",
    )
    for made in (clear, sealed, upload("u3")):
        await store.create_upload(made)
        assert await store.get_upload("b1", made.upload_id) == made
    page = await store.list_uploads("b1", prefix="", after_key=None, after_upload_id=None, limit=5)
    assert [u.lock for u in page.items] == [asked, ObjectLock(legal_hold=True), None]


async def test_object_lock_and_a_suspended_versioning_never_meet(store: MetadataStore) -> None:
    """Decision 0104: PutObjectLockConfiguration and PutBucketVersioning(Suspended) each read
    the bucket Enabled and unlocked, then write: the second write is refused by its own
    check, whichever it is, and the bucket is left as the first made it."""
    for name in ("lock-first", "suspend-first", "never-versioned"):
        await store.create_bucket(bucket(name))
    for name in ("lock-first", "suspend-first"):
        await store.set_bucket_versioning(name, VersioningStatus.ENABLED)
    config = ObjectLockConfiguration(DefaultRetention(LockMode.COMPLIANCE, days=1))

    locked = await store.set_bucket_object_lock("lock-first", config)
    assert locked.object_lock == config
    with pytest.raises(InvalidBucketState, match="versioning state cannot be changed"):
        await store.set_bucket_versioning("lock-first", VersioningStatus.SUSPENDED)
    await store.set_bucket_versioning("lock-first", VersioningStatus.ENABLED)  # no change
    kept = await store.get_bucket("lock-first")
    assert kept is not None and kept.versioning is VersioningStatus.ENABLED
    assert kept.object_lock == config

    await store.set_bucket_versioning("suspend-first", VersioningStatus.SUSPENDED)
    with pytest.raises(InvalidBucketState, match="must be 'Enabled'"):
        await store.set_bucket_object_lock("suspend-first", config)
    kept = await store.get_bucket("suspend-first")
    assert kept is not None and kept.object_lock is None
    assert kept.versioning is VersioningStatus.SUSPENDED

    with pytest.raises(InvalidBucketState):
        await store.set_bucket_object_lock("never-versioned", ObjectLockConfiguration())
    with pytest.raises(NoSuchBucket):
        await store.set_bucket_object_lock("missing", ObjectLockConfiguration())
    with pytest.raises(NoSuchBucket):
        await store.set_bucket_versioning("missing", VersioningStatus.SUSPENDED)


def replication_queue_of(store: MetadataStore) -> ReplicationQueue:
    """The queue a store writes its versions' replication tasks to (decision 0112)."""
    if isinstance(store, MemoryMetadataStore):
        return store.replication_queue
    assert isinstance(store, SqlMetadataStore)
    return SqlReplicationQueue(store._db)


async def test_a_version_and_its_replication_task_commit_together(store: MetadataStore) -> None:
    """Increment 2 of decision 0112: the write that commits a version (or delete marker)
    writes its replication task and its PENDING status; a Suspended bucket's null version
    gets none (a replica keeps its source's id)."""
    await store.create_bucket(bucket())
    await store.create_bucket(dataclasses.replace(bucket("b2"), region="de"))
    await store.set_bucket_versioning("b1", VersioningStatus.ENABLED)
    target = ReplicationTarget("b2", "rule-1", "eu")
    written = await store.put_object_version(record("k"), replication=target)
    assert written.version_id is not None
    marker_target = dataclasses.replace(target, delete_marker=True)
    marked = await store.put_delete_marker(
        "b1", "k", owner_id="o-t1", now=T0 + timedelta(1), replication=marker_target
    )
    assert marked.version_id is not None
    queue = replication_queue_of(store)
    claimed = await queue.claim(T0 + timedelta(2), lease=timedelta(minutes=5), limit=10)
    assert [(t.version_id, t.delete_marker) for t in claimed] == [
        (written.version_id, False),
        (marked.version_id, True),
    ]
    assert {(t.source_bucket, t.key, t.destination_bucket, t.rule_id) for t in claimed} == {
        ("b1", "k", "b2", "rule-1")
    }
    assert {(t.source_region, t.destination_region) for t in claimed} == {("eu", "de")}
    assert await queue.status("b1", "k", written.version_id) == "PENDING"
    assert await queue.status("b1", "k", marked.version_id) == "PENDING"
    # A destination gone meanwhile: queued in the source's region, whose gateways fail it.
    gone = ReplicationTarget("gone", "rule-1", "eu")
    await store.put_object_version(record("other"), replication=gone)
    (orphan,) = await queue.claim(T0 + timedelta(2), lease=timedelta(minutes=5), limit=10)
    assert (orphan.key, orphan.destination_region) == ("other", "eu")
    await store.set_bucket_versioning("b1", VersioningStatus.SUSPENDED)
    await store.put_object_version(record("k", blob="null"), replication=target)
    await store.put_delete_marker("b1", "k", owner_id="o-t1", now=T0, replication=marker_target)
    assert await queue.pending() == 3


# The SQL stores only: a transaction's rollback. The memory store writes both in one step, with
# no await between them, so there is nothing to fail in between (and a skip would fail CI).
@pytest.mark.parametrize("store", ["sqlite", "postgresql"], indirect=True)
async def test_a_failure_in_the_commit_leaves_neither_version_nor_task(
    store: MetadataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The task is part of the version's transaction: a failure after its row is written
    (and after the version's) rolls both back, so no version exists without its task, nor a
    task without its version."""
    assert isinstance(store, SqlMetadataStore)
    await store.create_bucket(bucket())
    await store.create_bucket(dataclasses.replace(bucket("b2"), region="de"))
    await store.set_bucket_versioning("b1", VersioningStatus.ENABLED)
    target = ReplicationTarget("b2", "rule-1", "eu")
    queue_in_transaction = store_sql_versions.queue_in_transaction

    def then_fail(*args: Any) -> None:
        queue_in_transaction(*args)
        raise RuntimeError("the database connection dropped before the commit")

    monkeypatch.setattr(store_sql_versions, "queue_in_transaction", then_fail)
    with pytest.raises(RuntimeError):
        await store.put_object_version(record("k"), replication=target)
    with pytest.raises(RuntimeError):
        await store.put_delete_marker(
            "b1",
            "m",
            owner_id="o-t1",
            now=T0,
            replication=dataclasses.replace(target, delete_marker=True),
        )
    assert await store.get_object("b1", "k") is None
    assert await store.get_current_delete_marker("b1", "m") is None
    queue = replication_queue_of(store)
    assert await queue.pending() == 0


async def test_a_metadata_change_and_its_replication_task_commit_together(
    store: MetadataStore,
) -> None:
    """Increment 6 of decision 0112: a change of a version's tags (current or not) or lock
    writes, in its own transaction, the task that brings it to the replica, and PENDING; a
    change that does not land (the version replaced meanwhile) writes none."""
    await store.create_bucket(bucket())
    await store.create_bucket(dataclasses.replace(bucket("b2"), region="de"))
    await store.set_bucket_versioning("b1", VersioningStatus.ENABLED)
    first = await store.put_object_version(record("k"))
    second = await store.put_object_version(record("k", blob="blob-2"))
    assert first.version_id is not None and second.version_id is not None
    queue = replication_queue_of(store)
    target = ReplicationTarget("b2", "rule-1", "eu")
    old = await store.get_object_version("b1", "k", first.version_id)
    current = await store.get_object("b1", "k")
    assert isinstance(old, ObjectRecord) and current is not None
    tagged = dataclasses.replace(old, headers=old.headers.with_tags((("a", "b"),)))
    assert await store.replace_version_headers(old, tagged, replication=target)
    retagged = dataclasses.replace(current, headers=current.headers.with_tags((("c", "d"),)))
    assert await store.replace_object_headers(current, retagged, replication=target)
    hold = LockChange.hold(True)
    locked = await store.update_version_lock(
        "b1", "k", first.version_id, hold, T0, replication=target
    )
    assert isinstance(locked, ObjectRecord)
    # Tagging writes queue at the clock's now, the lock change at the ``now`` it is given.
    later = max(T0, datetime.now(UTC)) + timedelta(1)
    claimed = await queue.claim(later, lease=timedelta(minutes=5), limit=10)
    assert [t.version_id for t in claimed] == [
        first.version_id,
        second.version_id,
        first.version_id,
    ]
    assert {(t.destination_bucket, t.destination_region) for t in claimed} == {("b2", "de")}
    assert await queue.status("b1", "k", second.version_id) == "PENDING"
    # Replaced meanwhile (other segments): neither the headers nor a task.
    stale = dataclasses.replace(old, segments=())
    assert not await store.replace_version_headers(stale, tagged, replication=target)
    assert await queue.pending() == 3


async def test_a_replicas_change_goes_back_and_settles_the_replica_alone(
    store: MetadataStore,
) -> None:
    """Decision 0127: a change of a version's ACL writes its task in its own transaction as
    tags and locks do; a change made on a replica (the target a replica modification) leaves
    it REPLICA-PENDING, not PENDING, and settling its task touches the replica alone: REPLICA
    when made, REPLICA-FAILED when not, the version it came from keeping its status. A
    source's copy completing meanwhile leaves the replica's pending change showing."""
    await store.create_bucket(bucket())
    await store.create_bucket(dataclasses.replace(bucket("b2"), region="de"))
    for name in ("b1", "b2"):
        await store.set_bucket_versioning(name, VersioningStatus.ENABLED)
    queue = replication_queue_of(store)
    lease, later = timedelta(minutes=5), max(T0, datetime.now(UTC)) + timedelta(1)
    # b2's version, copied into b1 (the replica there).
    original = await store.put_object_version(
        record("k", bucket="b2"), replication=ReplicationTarget("b1", "forth", "de")
    )
    vid = original.version_id
    assert vid is not None
    replica = record("k", blob="blob-replica")
    await store.put_object_version(dataclasses.replace(replica, version_id=vid))
    (copy,) = await queue.claim(later, lease=lease, limit=10)
    await queue.complete(copy)
    assert (await queue.status("b2", "k", vid), await queue.status("b1", "k", vid)) == (
        "COMPLETED",
        "REPLICA",
    )
    back = ReplicationTarget("b2", "back", "eu", replica_modification=True)
    acl = AccessControlList.private("o-t1")
    changed = await store.set_version_acl("b1", "k", vid, acl, replication=back)
    assert isinstance(changed, ObjectRecord) and changed.acl == acl
    assert await queue.status("b1", "k", vid) == "REPLICA-PENDING"
    # The source's own change, copied meanwhile, leaves the replica's change showing.
    tagged = await store.get_object_version("b2", "k", vid)
    assert isinstance(tagged, ObjectRecord)
    forth = ReplicationTarget("b1", "forth", "de")
    assert await store.replace_version_headers(tagged, tagged, replication=forth)
    sync_back, sync_forth = await queue.claim(later, lease=lease, limit=10)
    assert (sync_back.source_bucket, sync_back.destination_bucket) == ("b1", "b2")
    assert (sync_back.destination_region, sync_back.rule_id) == ("de", "back")
    await queue.complete(sync_forth)
    assert await queue.status("b1", "k", vid) == "REPLICA-PENDING"
    await queue.complete(sync_back)
    assert (await queue.status("b2", "k", vid), await queue.status("b1", "k", vid)) == (
        "COMPLETED",
        "REPLICA",
    )
    # Another change of the replica (its lock) that cannot be brought back: REPLICA-FAILED,
    # the version it came from untouched.
    locked = await store.update_version_lock(
        "b1", "k", vid, LockChange.hold(True), T0, replication=back
    )
    assert isinstance(locked, ObjectRecord)
    (failing,) = await queue.claim(later, lease=lease, limit=10)
    await queue.fail(failing, "the version the replica came from is gone")
    assert (await queue.status("b2", "k", vid), await queue.status("b1", "k", vid)) == (
        "COMPLETED",
        "REPLICA-FAILED",
    )
    # A change of a delete marker's "ACL" lands nowhere and queues nothing.
    marker = await store.put_delete_marker("b1", "k", owner_id="o-t1", now=T0 + timedelta(2))
    assert marker.version_id is not None
    await store.set_version_acl("b1", "k", marker.version_id, acl, replication=back)
    assert await queue.pending() == 0
