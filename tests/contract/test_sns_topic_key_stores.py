"""One suite over every implementation of SNS's stores (memory, SQLite, PostgreSQL) for topics
under a KMS key (decision 0212): ``KmsMasterKeyId`` kept with the topic; a publish's queued
delivery and a FIFO topic's archived message held in the KMS form (the message nowhere in
clear, on SQL inside the tenant-key sealing of every row), opened for the worker and the
replays, and failing with SNS's ``KMSDisabled`` while the key is disabled; a message queued
before the key was set still opens. The stores do not know the key: this suite says their
round trips keep the sealed text as it was given."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from andromede.db import tables
from andromede.db.database import Database
from andromede.iam.model import Principal, PrincipalKind
from andromede.kms.customer_keys import Caller, CustomerKeyService
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.keys_store import MemoryCustomerKeyStore
from andromede.kms.service import KeyService
from andromede.kmsapi.authorise import KmsAuthoriser
from andromede.notifications.errors import TopicKeyDisabled
from andromede.notifications.memory import MemoryEventQueue, MemoryTopicStore
from andromede.notifications.memory_archive import MemoryArchiveStore
from andromede.notifications.memory_subscriptions import MemorySubscriptionStore
from andromede.notifications.pubsub import PubSubLimits, PubSubService
from andromede.notifications.service import TopicService
from andromede.notifications.store import ArchiveStore, EventQueue, SubscriptionStore, TopicStore
from andromede.notifications.store_sql import SqlEventQueue, SqlTopicStore
from andromede.notifications.store_sql_archive import SqlArchiveStore
from andromede.notifications.store_sql_subscriptions import SqlSubscriptionStore
from andromede.wiring.queues import EventKeySealer
from andromede.wiring.topic_keys import TopicKmsSealer
from support.kmskit import IdentityPolicies
from support.store_backends import BACKENDS, backend_database

REGION = "eu-test-1"
ACCOUNT = "111122223333"
NOW = datetime(2026, 12, 6, 9, tzinfo=UTC)
SECRET = "the-launch-codes"


class _Queues:
    """Every queue exists and is the caller's (the subscription's confirmation is not this
    suite's subject)."""

    async def may_subscribe(self, tenant_id: str, queue_arn: str, *, fifo: bool = False) -> bool:
        return True

    async def send(self, *args: object, **kwargs: object) -> bool:
        return True


class _Signing:
    async def key(self) -> object:
        raise AssertionError("raw deliveries are not signed")


@pytest.fixture(params=BACKENDS)
async def database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Database | None]:
    async with backend_database(request, tmp_path) as db:
        yield db


@pytest.fixture
async def world(
    database: Database | None, tmp_path: Path
) -> AsyncIterator[tuple[PubSubService, EventQueue, CustomerKeyService, Caller]]:
    keys = KeyService(LocalKeyFileProvider(tmp_path / "keys"))
    topic_store: TopicStore
    subscriptions: SubscriptionStore
    queue: EventQueue
    archive: ArchiveStore
    if database is None:
        topic_store, subscriptions = MemoryTopicStore(), MemorySubscriptionStore()
        queue, archive = MemoryEventQueue([]), MemoryArchiveStore()
    else:
        sealer = EventKeySealer(keys)
        topic_store, subscriptions = SqlTopicStore(database), SqlSubscriptionStore(database)
        queue, archive = SqlEventQueue(database, sealer), SqlArchiveStore(database, sealer)
    topics = TopicService(topic_store, region=REGION, max_topics=10, queue=queue, clock=lambda: NOW)
    customer_keys = CustomerKeyService(
        MemoryCustomerKeyStore(),
        keys,
        KmsAuthoriser(IdentityPolicies(), REGION),
        region=REGION,  # type: ignore[arg-type]
    )
    pubsub = PubSubService(
        topics,
        subscriptions,
        queue,
        _Signing(),  # type: ignore[arg-type]
        _Queues(),
        PubSubLimits(base_url="https://sns.test"),
        clock=lambda: NOW,
        archive=archive,
        sealer=TopicKmsSealer(customer_keys, keys, None),
    )
    root = Principal(ACCOUNT, None, None, PrincipalKind.ROOT, f"arn:aws:iam::{ACCOUNT}:root")
    try:
        yield pubsub, queue, customer_keys, Caller(ACCOUNT, root.arn, root)
    finally:
        keys.close()


async def _subscribed(pubsub: PubSubService, name: str, attributes: Mapping[str, str]) -> str:
    topic = await pubsub._topics.create_topic(ACCOUNT, name, attributes)
    queue = f"arn:aws:sqs:{REGION}:{ACCOUNT}:inbox" + (".fifo" if topic.fifo else "")
    await pubsub.subscribe(ACCOUNT, topic.arn, "sqs", queue, {"RawMessageDelivery": "true"})
    return topic.arn


async def _rows(database: Database) -> list[str]:
    query = sa.select(tables.notification_events.c.message).union_all(
        sa.select(tables.topic_archive.c.message)
    )
    return await database.read(lambda conn: [str(r[0]) for r in conn.execute(query).all()])


async def test_deliveries_and_archives_under_the_topic_key(
    world: tuple[PubSubService, EventQueue, CustomerKeyService, Caller],
    database: Database | None,
) -> None:
    pubsub, queue, customer_keys, root = world
    key = await customer_keys.create_key(root)
    standard = await _subscribed(pubsub, "plain", {})
    await pubsub.publish(ACCOUNT, standard, "from before the key", None, {}, None)
    await pubsub._topics.set_attribute(ACCOUNT, standard, "KmsMasterKeyId", key.arn)
    assert (await pubsub._topics.get_topic(ACCOUNT, standard)).attributes[
        "KmsMasterKeyId"
    ] == key.arn
    await pubsub.publish(ACCOUNT, standard, SECRET, None, {}, None)
    fifo = await _subscribed(
        pubsub,
        "orders.fifo",
        {
            "FifoTopic": "true",
            "KmsMasterKeyId": key.key_id,
            "ArchivePolicy": json.dumps({"MessageRetentionPeriod": "1"}),
        },
    )
    await pubsub.publish(ACCOUNT, fifo, SECRET, None, {}, None, group_id="g", dedup_id="d")
    claimed = await queue.claim(NOW, lease=timedelta(seconds=30), limit=10)
    assert len(claimed) == 3
    assert sum(e.message.startswith('{"kms":') for e in claimed) == 2
    assert all(SECRET not in e.message for e in claimed)
    bodies = []
    for event in claimed:
        delivery = await pubsub.delivery(event.topic_arn, event.message)
        assert delivery is not None
        bodies.append(delivery.body)
    assert sorted(bodies) == sorted(["from before the key", SECRET, SECRET])
    topic = await pubsub._topics.get_topic(ACCOUNT, fifo)
    assert pubsub._archive is not None
    (archived,) = await pubsub._archive.archived(
        fifo, after=0, start=NOW - timedelta(days=1), end=None, now=NOW, limit=10
    )
    assert archived.record.startswith('{"kms":') and SECRET not in archived.record
    assert (await pubsub.archived(topic, archived.record)).message == SECRET
    if database is not None:
        assert all(SECRET not in row and key.arn not in row for row in await _rows(database))
    await customer_keys.disable_key(root, key.key_id)
    kms_event = next(e for e in claimed if e.message.startswith('{"kms":'))
    with pytest.raises(TopicKeyDisabled):
        await pubsub.delivery(kms_event.topic_arn, kms_event.message)
    with pytest.raises(TopicKeyDisabled):
        await pubsub.archived(topic, archived.record)
