"""One suite over every implementation of bucket event notifications' stores (decision 0132):
the in-memory twins, SQLite and PostgreSQL. Events are written by the metadata store in the
step (transaction) that commits the write they tell of, with the committed version's id, and
not at all when the write does not land; the queue claims each once per lease, retries after
a backoff, settles once; a tenant's queue is bounded; topics are per tenant. Increment 2:
tag and ACL changes (of an object or a version) and the lifecycle's conditional delete queue
theirs in their own step too. Increment 4: a message added outside any write (S3's test
event) is claimed and bounded as the others. Two gateways
claiming at once on the real PostgreSQL never take the same event.

Decision 0163's addendum: the SQL stores seal each message under its tenant's key (the real
key service over a key file); a row holds no event in clear, a row moved to another tenant
or destination does not open, a destroyed tenant key makes its events unreadable (claimed as
``shredded``), and a row queued in clear by an earlier release is sealed in place.

Decision 0336: the trace header of the write (of a message added: Publish's) is claimed with
its event (migration 0149's ``trace``), the Lambda lineage its delivery carries on."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from andromede.db import tables
from andromede.db.database import Database, open_database
from andromede.kms.service import KeyService
from andromede.notifications.errors import TopicLimitExceeded
from andromede.notifications.memory import MemoryEventQueue, MemoryTopicStore
from andromede.notifications.message_protection import policy_of
from andromede.notifications.model import Topic, check_attributes
from andromede.notifications.store import EventQueue, TopicStore
from andromede.notifications.store_sql import SqlEventQueue, SqlTopicStore
from andromede.storage.acl import AccessControlList
from andromede.storage.errors import ObjectChanged
from andromede.storage.model import (
    Bucket,
    ContentHeaders,
    ExpectedObject,
    ObjectRecord,
    Segment,
    VersioningStatus,
)
from andromede.storage.notification import (
    EventBatch,
    EventSource,
    NotificationConfiguration,
    TopicRule,
)
from andromede.storage.store import MetadataStore
from andromede.storage.store_memory import MemoryMetadataStore
from andromede.storage.store_sql import SqlMetadataStore
from andromede.wiring.queues import EventKeySealer
from support.keys import key_service_in
from support.store_backends import BACKENDS, SQL_BACKENDS, backend_database

_E = tables.notification_events
NOW = datetime(2026, 12, 5, 9, tzinfo=UTC)
LEASE = timedelta(seconds=60)
TOPIC = "arn:aws:sns:eu:t1:events"
CONFIG = NotificationConfiguration(
    (
        TopicRule(
            "all",
            TOPIC,
            (
                "s3:ObjectCreated:*",
                "s3:ObjectRemoved:*",
                "s3:ObjectTagging:*",
                "s3:ObjectAcl:Put",
                "s3:LifecycleExpiration:*",
            ),
        ),
    )
)


@dataclass
class Stores:
    metadata: MetadataStore
    queue: EventQueue
    topics: TopicStore
    keys: KeyService | None = None  # the SQL stores seal their events (decision 0163 addendum)
    database: Database | None = None


@pytest.fixture(params=BACKENDS)
async def database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Database | None]:
    async with backend_database(request, tmp_path) as db:
        yield db


@pytest.fixture
async def stores(database: Database | None, tmp_path: Path) -> Stores:
    if database is None:
        memory = MemoryMetadataStore()
        made = Stores(memory, MemoryEventQueue(memory.notification_outbox), MemoryTopicStore())
    else:
        keys = key_service_in(tmp_path / "keys")
        sealer = EventKeySealer(keys)
        made = Stores(
            SqlMetadataStore(database, event_sealer=sealer),
            SqlEventQueue(database, sealer),
            SqlTopicStore(database),
            keys,
            database,
        )
    await made.metadata.create_bucket(
        Bucket(name="b1", tenant_id="t1", owner_id="o-t1", region="eu", created_at=NOW)
    )
    return made


def record(key: str, size: int = 3) -> ObjectRecord:
    return ObjectRecord(
        bucket="b1",
        key=key,
        size=size,
        etag="0" * 32,
        last_modified=NOW,
        headers=ContentHeaders(),
        segments=(Segment(blob_id=f"blob-{key}", size=size, etag="0" * 32),),
        owner_id="o-t1",
    )


def batch(
    key: str, event: str = "ObjectCreated:Put", *, bound: int = 100, trace: str | None = None
) -> EventBatch:
    made = EventBatch.of(
        CONFIG,
        EventSource(event, "arn:aws:iam::t1:root", "192.0.2.7", "req-1", trace),
        tenant_id="t1",
        bucket="b1",
        owner_id="o-t1",
        region="eu",
        key=key,
        now=NOW,
        bound=bound,
        size=3,
        etag="0" * 32,
    )
    assert made is not None
    return made


def records(message: str) -> list[dict[str, object]]:
    parsed = json.loads(message)
    assert isinstance(parsed["Records"], list)
    return parsed["Records"]


async def test_a_put_queues_its_event_claimed_once_per_lease(stores: Stores) -> None:
    await stores.metadata.put_object(record("a b.txt"), notify=batch("a b.txt"))
    first = await stores.queue.claim(NOW, lease=LEASE, limit=10)
    assert [(e.tenant_id, e.topic_arn, e.attempts) for e in first] == [("t1", TOPIC, 1)]
    (event,) = records(first[0].message)
    assert event["eventName"] == "ObjectCreated:Put"
    assert event["s3"]["object"]["key"] == "a+b.txt"  # type: ignore[index]
    assert await stores.queue.claim(NOW + LEASE / 2, lease=LEASE, limit=10) == []
    # A claimer that died: claimed again once the lease ran out, a second attempt.
    again = await stores.queue.claim(NOW + LEASE, lease=LEASE, limit=10)
    assert [(e.event_id, e.attempts) for e in again] == [(first[0].event_id, 2)]
    await stores.queue.complete(again[0])
    assert await stores.queue.claim(NOW + 3 * LEASE, lease=LEASE, limit=10) == []
    assert await stores.queue.waiting("t1") == 0


async def test_a_write_without_events_queues_none(stores: Stores) -> None:
    await stores.metadata.put_object(record("quiet"))
    await stores.metadata.delete_object("b1", "quiet")
    assert await stores.queue.claim(NOW, lease=LEASE, limit=10) == []


async def test_a_write_that_does_not_land_queues_nothing(stores: Stores) -> None:
    await stores.metadata.put_object(record("k"))
    with pytest.raises(ObjectChanged):
        await stores.metadata.put_object(
            record("k"), expected=ExpectedObject(etag="f" * 32), notify=batch("k")
        )
    with pytest.raises(ObjectChanged):
        await stores.metadata.delete_object(
            "b1", "k", if_etag="f" * 32, notify=batch("k", "ObjectRemoved:Delete")
        )
    # Deleting a key that holds nothing removes nothing and tells of nothing.
    await stores.metadata.delete_object(
        "b1", "absent", notify=batch("absent", "ObjectRemoved:Delete")
    )
    assert await stores.queue.claim(NOW, lease=LEASE, limit=10) == []


async def test_versions_and_markers_carry_their_committed_ids(stores: Stores) -> None:
    await stores.metadata.set_bucket_versioning("b1", VersioningStatus.ENABLED)
    written = await stores.metadata.put_object_version(record("k"), notify=batch("k"))
    marker = await stores.metadata.put_delete_marker(
        "b1",
        "k",
        owner_id="o-t1",
        now=NOW,
        notify=batch("k", "ObjectRemoved:DeleteMarkerCreated"),
    )
    claimed = await stores.queue.claim(NOW, lease=LEASE, limit=10)
    shown = [
        (r["eventName"], r["s3"]["object"]["versionId"])  # type: ignore[index]
        for e in claimed
        for r in records(e.message)
    ]
    assert shown == [
        ("ObjectCreated:Put", written.version_id),
        ("ObjectRemoved:DeleteMarkerCreated", marker.version_id),
    ]
    assert written.version_id and marker.version_id


async def test_retry_waits_for_its_backoff_and_drop_settles(stores: Stores) -> None:
    await stores.metadata.put_object(record("k"), notify=batch("k"))
    (event,) = await stores.queue.claim(NOW, lease=LEASE, limit=10)
    await stores.queue.retry(event, NOW + timedelta(seconds=30), "the endpoint answered 503")
    assert await stores.queue.claim(NOW + timedelta(seconds=29), lease=LEASE, limit=10) == []
    (again,) = await stores.queue.claim(NOW + timedelta(seconds=30), lease=LEASE, limit=10)
    assert again.attempts == 2
    await stores.queue.drop(again)
    assert await stores.queue.waiting("t1") == 0


async def test_a_tenants_queue_is_bounded_and_the_writes_still_land(stores: Stores) -> None:
    for n in range(4):
        await stores.metadata.put_object(record(f"k{n}"), notify=batch(f"k{n}", bound=2))
    assert await stores.queue.waiting("t1") == 2
    assert await stores.metadata.get_object("b1", "k3") is not None


async def test_a_message_added_outside_a_write_is_claimed_and_bounded(stores: Stores) -> None:
    """S3's test event of a configuration (increment 4): queued alone, due at once, claimed
    and settled as a write's event, counted against the tenant's bound with them."""
    await stores.metadata.put_object(record("k"), notify=batch("k"))
    assert await stores.queue.add("t1", TOPIC, '{"Event":"s3:TestEvent"}', NOW, bound=2)
    assert not await stores.queue.add("t1", TOPIC, '{"Event":"s3:TestEvent"}', NOW, bound=2)
    assert await stores.queue.add("t2", TOPIC, '{"Event":"other"}', NOW, bound=2)
    assert await stores.queue.waiting("t1") == 2
    claimed = await stores.queue.claim(NOW, lease=LEASE, limit=10)
    added = [e for e in claimed if e.message == '{"Event":"s3:TestEvent"}']
    assert len(claimed) == 3 and len(added) == 1
    assert (added[0].tenant_id, added[0].topic_arn, added[0].attempts) == ("t1", TOPIC, 1)
    await stores.queue.complete(added[0])
    assert await stores.queue.waiting("t1") == 1


async def test_the_callers_trace_is_kept_with_its_events(stores: Stores) -> None:
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Lineage=0a1b2c3d:4"
    await stores.metadata.put_object(record("traced"), notify=batch("traced", trace=trace))
    await stores.metadata.put_object(record("plain"), notify=batch("plain"))
    assert await stores.queue.add("t1", TOPIC, '{"m":1}', NOW, bound=10, trace=trace + "0")
    claimed = await stores.queue.claim(NOW, lease=LEASE, limit=10)

    def told(message: str) -> str:
        if "Records" not in message:
            return "added"
        (found,) = records(message)
        return str(found["s3"]["object"]["key"])  # type: ignore[index]

    assert sorted((told(e.message), e.trace) for e in claimed) == [
        ("added", trace + "0"), ("plain", None), ("traced", trace)
    ]  # fmt: skip
    # Kept through a retry, as the event is.
    await stores.queue.retry(claimed[0], NOW, "the endpoint answered 503")
    (again,) = await stores.queue.claim(NOW + LEASE, lease=LEASE, limit=1)
    assert again.trace == claimed[0].trace


async def test_the_configuration_comes_with_the_bucket(stores: Stores) -> None:
    assert (await stores.metadata.get_bucket("b1")).notification is None  # type: ignore[union-attr]
    await stores.metadata.put_bucket_document("b1", "notification", CONFIG.to_text())
    found = await stores.metadata.get_bucket("b1")
    assert found is not None and found.notification == CONFIG
    bucket, _ = await stores.metadata.get_bucket_and_object("b1", "k")
    assert bucket is not None and bucket.notification == CONFIG
    await stores.metadata.put_bucket_document("b1", "notification", None)
    assert (await stores.metadata.get_bucket("b1")).notification is None  # type: ignore[union-attr]


def topic(tenant: str, name: str, endpoint: str = "https://hooks.example/a") -> Topic:
    return Topic(tenant, name, "eu", {"push-endpoint": endpoint}, NOW)


async def test_topics_are_per_tenant_and_replaced_by_name(stores: Stores) -> None:
    await stores.topics.put_topic(topic("t1", "b"), limit=10)
    await stores.topics.put_topic(topic("t1", "a"), limit=10)
    await stores.topics.put_topic(topic("t2", "a"), limit=10)
    assert [t.name for t in await stores.topics.list_topics("t1")] == ["a", "b"]
    replaced = await stores.topics.put_topic(
        topic("t1", "a", "https://hooks.example/new"), limit=10
    )
    assert replaced.push_endpoint == "https://hooks.example/new"
    found = await stores.topics.get_topic("t1", "a")
    assert found is not None and found.push_endpoint == "https://hooks.example/new"
    other = await stores.topics.get_topic("t2", "a")
    assert other is not None and other.push_endpoint == "https://hooks.example/a"
    assert await stores.topics.delete_topic("t1", "a")
    assert not await stores.topics.delete_topic("t1", "a")
    assert await stores.topics.get_topic("t2", "a") is not None


async def test_a_topics_data_protection_policy_is_kept_whole(stores: Stores) -> None:
    """Decision 0215: the policy rides in the topic's attributes, back byte for byte (it is
    answered as given), replaced and removed with them."""
    document = json.dumps(
        {
            "Name": "pii",
            "Version": "2021-06-01",
            "Statement": [
                {
                    "DataDirection": "Inbound",
                    "Principal": ["*"],
                    "DataIdentifier": ["arn:aws:dataprotection::aws:data-identifier/EmailAddress"],
                    "Operation": {"Deidentify": {"MaskConfig": {"MaskWithCharacter": "é"}}},
                }
            ],
        },
        indent=1,
        ensure_ascii=False,
    )
    held = dataclasses.replace(
        topic("t1", "pii"), attributes=check_attributes({"DataProtectionPolicy": document})
    )
    await stores.topics.put_topic(held, limit=10)
    found = await stores.topics.get_topic("t1", "pii")
    assert found is not None and found.attributes["DataProtectionPolicy"] == document
    policy = policy_of(found.attributes)
    assert policy is not None and policy.of("Inbound", "Deidentify")[0].mask_with == "é"
    await stores.topics.put_topic(dataclasses.replace(held, attributes={}), limit=10)
    found = await stores.topics.get_topic("t1", "pii")
    assert found is not None and "DataProtectionPolicy" not in found.attributes
    assert await stores.topics.get_topic("t2", "pii") is None


async def test_a_tenant_holds_at_most_its_limit_of_topics(stores: Stores) -> None:
    await stores.topics.put_topic(topic("t1", "a"), limit=1)
    await stores.topics.put_topic(topic("t1", "a"), limit=1)  # a replacement is no new one
    await stores.topics.put_topic(topic("t2", "a"), limit=1)
    with pytest.raises(TopicLimitExceeded):
        await stores.topics.put_topic(topic("t1", "b"), limit=1)


async def test_two_claimers_never_take_one_event(postgres_url: str) -> None:
    one, other = open_database(postgres_url), open_database(postgres_url)
    try:
        metadata = SqlMetadataStore(one)
        await metadata.create_bucket(
            Bucket(name="b1", tenant_id="t1", owner_id="o-t1", region="eu", created_at=NOW)
        )
        for n in range(60):
            await metadata.put_object(record(f"k{n:03}"), notify=batch(f"k{n:03}"))
        queues = [SqlEventQueue(one), SqlEventQueue(other)]

        async def drain(queue: SqlEventQueue) -> list[int]:
            taken: list[int] = []
            while claimed := await queue.claim(NOW, lease=LEASE, limit=5):
                taken.extend(e.event_id for e in claimed)
                await asyncio.sleep(0)
            return taken

        first, second = await asyncio.gather(*(drain(q) for q in queues))
    finally:
        await one.close()
        await other.close()
    assert len(first) + len(second) == 60
    assert set(first).isdisjoint(second)


async def test_a_version_deleted_for_good_tells_of_its_id(stores: Stores) -> None:
    await stores.metadata.set_bucket_versioning("b1", VersioningStatus.ENABLED)
    written = await stores.metadata.put_object_version(record("k"))
    assert written.version_id is not None
    gone = batch("k", "ObjectRemoved:Delete")
    assert await stores.metadata.delete_object_version("b1", "k", "no-such-id", notify=gone) is None
    removed = await stores.metadata.delete_object_version(
        "b1", "k", written.version_id, notify=gone
    )
    assert removed is not None
    (event,) = await stores.queue.claim(NOW, lease=LEASE, limit=10)
    (shown,) = records(event.message)
    assert shown["eventName"] == "ObjectRemoved:Delete"
    assert shown["s3"]["object"]["versionId"] == written.version_id  # type: ignore[index]


def shown(claimed: list[Any]) -> list[tuple[object, object]]:
    return [
        (r["eventName"], r["s3"]["object"].get("versionId"))  # type: ignore[attr-defined,index]
        for e in claimed
        for r in records(e.message)
    ]


async def test_tag_and_acl_changes_queue_with_the_change_that_lands(stores: Stores) -> None:
    """Increment 2: PutObjectTagging's header change and PutObjectAcl's ACL change carry
    their events into their own step; a change that does not land tells of nothing."""
    await stores.metadata.put_object(record("k"))
    stored = await stores.metadata.get_object("b1", "k")
    assert stored is not None
    tagged = dataclasses.replace(stored, headers=stored.headers.with_tags((("a", "1"),)))
    stale = dataclasses.replace(stored, segments=(Segment(blob_id="gone", size=3, etag="0"),))
    assert not await stores.metadata.replace_object_headers(
        stale, tagged, notify=batch("k", "ObjectTagging:Put")
    )
    assert await stores.metadata.replace_object_headers(
        stored, tagged, notify=batch("k", "ObjectTagging:Put")
    )
    acl = AccessControlList.private("o-t1")
    assert (
        await stores.metadata.set_object_acl(
            "b1", "absent", acl, notify=batch("absent", "ObjectAcl:Put")
        )
        is None
    )
    assert await stores.metadata.set_object_acl("b1", "k", acl, notify=batch("k", "ObjectAcl:Put"))
    claimed = await stores.queue.claim(NOW, lease=LEASE, limit=10)
    assert shown(claimed) == [("ObjectTagging:Put", None), ("ObjectAcl:Put", None)]


async def test_a_versions_tag_and_acl_changes_carry_its_id(stores: Stores) -> None:
    await stores.metadata.set_bucket_versioning("b1", VersioningStatus.ENABLED)
    first = await stores.metadata.put_object_version(record("k"))
    second = dataclasses.replace(record("k"), segments=(Segment("blob-k-2", 3, "0" * 32),))
    await stores.metadata.put_object_version(second)
    assert first.version_id is not None
    old = await stores.metadata.get_object_version("b1", "k", first.version_id)
    assert isinstance(old, ObjectRecord)
    tagged = dataclasses.replace(old, headers=old.headers.with_tags((("a", "1"),)))
    assert await stores.metadata.replace_version_headers(
        old, tagged, notify=batch("k", "ObjectTagging:Delete")
    )
    acl = AccessControlList.private("o-t1")
    changed = await stores.metadata.set_version_acl(
        "b1", "k", first.version_id, acl, notify=batch("k", "ObjectAcl:Put")
    )
    assert isinstance(changed, ObjectRecord)
    marker = await stores.metadata.put_delete_marker("b1", "k", owner_id="o-t1", now=NOW)
    assert marker.version_id is not None
    # A delete marker has no ACL: nothing changes, nothing is told.
    await stores.metadata.set_version_acl(
        "b1", "k", marker.version_id, acl, notify=batch("k", "ObjectAcl:Put")
    )
    claimed = await stores.queue.claim(NOW, lease=LEASE, limit=10)
    assert shown(claimed) == [
        ("ObjectTagging:Delete", first.version_id),
        ("ObjectAcl:Put", first.version_id),
    ]


async def test_an_expiry_queues_only_when_its_condition_holds(stores: Stores) -> None:
    """The lifecycle's delete of the object its listing showed (ETag and modification time):
    an object written again since is neither deleted nor announced."""
    await stores.metadata.put_object(record("k"))
    expiry = batch("k", "LifecycleExpiration:Delete")
    with pytest.raises(ObjectChanged):
        await stores.metadata.delete_object(
            "b1", "k", if_etag="0" * 32, if_last_modified=NOW - LEASE, notify=expiry
        )
    assert await stores.queue.claim(NOW, lease=LEASE, limit=10) == []
    removed = await stores.metadata.delete_object(
        "b1", "k", if_etag="0" * 32, if_last_modified=NOW, notify=expiry
    )
    assert removed is not None
    claimed = await stores.queue.claim(NOW, lease=LEASE, limit=10)
    assert shown(claimed) == [("LifecycleExpiration:Delete", None)]


async def _rows(stores: Stores) -> list[tuple[int, str, str, int]]:
    """The queue's rows as stored: (id, tenant, message, format version), by id."""
    assert stores.database is not None
    query = sa.select(_E.c.id, _E.c.tenant_id, _E.c.message, _E.c.format_version).order_by(_E.c.id)
    return await stores.database.read(
        lambda conn: [
            (int(r.id), str(r.tenant_id), str(r.message), int(r.format_version))
            for r in conn.execute(query)
        ]
    )


async def _execute(stores: Stores, statement: sa.Update) -> None:
    assert stores.database is not None
    await stores.database.write(lambda conn: conn.execute(statement))


# What is kept at rest: the SQL stores only (the memory queue keeps nothing at rest). Run on
# them alone rather than skipped on memory: CI turns every skip into a failure.
at_rest = pytest.mark.parametrize("database", SQL_BACKENDS, indirect=True)


@pytest.fixture
def sql_stores(stores: Stores) -> Stores:
    assert stores.database is not None
    return stores


@at_rest
async def test_no_event_is_kept_in_clear(sql_stores: Stores) -> None:
    stores = sql_stores
    await stores.metadata.set_bucket_versioning("b1", VersioningStatus.ENABLED)
    written = await stores.metadata.put_object_version(
        record("secret-key"), notify=batch("secret-key")
    )
    assert await stores.queue.add("t1", TOPIC, '{"Message":"secret-publish"}', NOW, bound=10)
    held = await _rows(stores)
    assert len(held) == 2
    for _, _, message, version in held:
        assert version == 2
        assert "secret-" not in message and "Records" not in message
    claimed = await stores.queue.claim(NOW, lease=LEASE, limit=10)
    assert '{"Message":"secret-publish"}' in [e.message for e in claimed]
    (event,) = [e for e in claimed if "Records" in e.message]
    (shown,) = records(event.message)
    assert shown["s3"]["object"]["key"] == "secret-key"  # type: ignore[index]
    assert shown["s3"]["object"]["versionId"] == written.version_id  # type: ignore[index]
    assert all(e.unopened is None and not e.shredded for e in claimed)


@at_rest
async def test_a_row_moved_to_another_tenant_or_topic_does_not_open(sql_stores: Stores) -> None:
    stores = sql_stores
    assert stores.database is not None
    assert await stores.queue.add("t1", TOPIC, "one", NOW, bound=10)
    assert await stores.queue.add("t2", TOPIC, "two", NOW, bound=10)
    assert await stores.queue.add("t1", TOPIC, "three", NOW, bound=10)
    (first, second, third) = [r[0] for r in await _rows(stores)]
    await _execute(stores, _E.update().where(_E.c.id == first).values(tenant_id="t2"))
    await _execute(stores, _E.update().where(_E.c.id == third).values(topic_arn=TOPIC + "x"))
    claimed = {e.event_id: e for e in await stores.queue.claim(NOW, lease=LEASE, limit=10)}
    assert claimed[first].shredded and claimed[first].message == ""
    assert claimed[third].shredded
    assert claimed[second].message == "two" and not claimed[second].shredded


@at_rest
async def test_a_destroyed_tenant_key_shreds_its_pending_events(sql_stores: Stores) -> None:
    stores = sql_stores
    assert stores.keys is not None
    await stores.metadata.put_object(record("k"), notify=batch("k"))
    assert await stores.queue.add("t2", TOPIC, "other tenant", NOW, bound=10)
    stores.keys.destroy_tenant_key("t1")
    claimed = sorted(
        await stores.queue.claim(NOW, lease=LEASE, limit=10), key=lambda e: e.tenant_id
    )
    assert [(e.tenant_id, e.shredded) for e in claimed] == [("t1", True), ("t2", False)]
    assert claimed[0].unopened and claimed[0].message == ""
    assert claimed[1].message == "other tenant"


@at_rest
async def test_rows_queued_in_clear_are_sealed_in_place(sql_stores: Stores) -> None:
    stores = sql_stores
    assert stores.database is not None and isinstance(stores.queue, SqlEventQueue)
    legacy = SqlEventQueue(stores.database)  # an earlier release: no sealer
    for message in ("clear one", "clear two", "clear three"):
        assert await legacy.add("t1", TOPIC, message, NOW, bound=10)
    assert [r[3] for r in await _rows(stores)] == [1, 1, 1]
    # The first claimed is opened as it is and sealed in place...
    (claimed,) = await stores.queue.claim(NOW, lease=LEASE, limit=1)
    assert claimed.message == "clear one" and claimed.unopened is None
    assert [r[3] for r in await _rows(stores)] == [2, 1, 1]
    # ...the others by the start-up step, idempotent.
    assert await stores.queue.seal_legacy(batch=1) == 2
    assert await stores.queue.seal_legacy() == 0
    held = await _rows(stores)
    assert [r[3] for r in held] == [2, 2, 2] and all("clear" not in r[2] for r in held)
    later = await stores.queue.claim(NOW + LEASE, lease=LEASE, limit=10)
    assert sorted(e.message for e in later) == ["clear one", "clear three", "clear two"]
