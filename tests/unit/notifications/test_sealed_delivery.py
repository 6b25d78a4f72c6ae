"""The delivery worker over sealed events (decision 0163's addendum), on a real SQLite queue
and the real key service: an event sealed at rest reaches its endpoint opened; one whose
tenant key was destroyed (a closed tenant) is dropped at once with ``shredded`` called (the
audit event), never tried again; one the key provider could not open this time is tried again
with the usual backoff, and delivered once it opens. The drop is an audit event as ``serve``
wires it; ``prepare``'s start-up step seals the rows an earlier release queued in clear."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.db.database import Database, open_database
from andromede.notifications.delivery import Deliverer, DeliveryPolicy
from andromede.notifications.memory import MemoryTopicStore
from andromede.notifications.service import TopicService
from andromede.notifications.store import QueuedEvent
from andromede.notifications.store_sql import SqlEventQueue
from andromede.object_keys import key_service
from andromede.settings import Settings
from andromede.wiring.deployment import seal_legacy_notification_events
from andromede.wiring.pubsub import shredded_event_recorder
from andromede.wiring.queues import EventKeySealer
from support.keys import key_service_in
from support.schema import migrated_sqlite
from unit.notifications.test_delivery import LOOPBACK, MESSAGE, NOW, Clock, Receiver


class FlakySealer(EventKeySealer):
    """The real sealer, whose provider is out of reach while ``down``."""

    down = False

    async def open(self, tenant_id: str, sealed: bytes, context: bytes) -> bytes:
        if self.down:
            raise ConnectionError("key provider unreachable")
        return await super().open(tenant_id, sealed, context)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    made = Receiver()
    await made.start()
    yield made
    await made.stop()


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    yield db
    await db.close()


async def world(
    database: Database, tmp_path: Path, endpoint: str
) -> tuple[Deliverer, SqlEventQueue, FlakySealer, list[QueuedEvent], Clock, str]:
    keys = key_service_in(tmp_path / "keys")
    sealer = FlakySealer(keys)
    queue = SqlEventQueue(database, sealer)
    topics = TopicService(MemoryTopicStore(), region="eu", max_topics=10)
    topic = await topics.create_topic("t1", "events", {"push-endpoint": endpoint})
    shredded: list[QueuedEvent] = []
    clock = Clock()
    policy = DeliveryPolicy(max_attempts=3, timeout=2.0, allowed=LOOPBACK, batch=10)
    deliverer = Deliverer(queue, topics, policy, clock=clock, shredded=shredded.append)
    assert await queue.add("t1", topic.arn, MESSAGE, NOW, bound=10)
    return deliverer, queue, sealer, shredded, clock, topic.arn


async def test_a_sealed_event_is_delivered_opened(
    receiver: Receiver, database: Database, tmp_path: Path
) -> None:
    deliverer, queue, _, shredded, _, _ = await world(
        database, tmp_path, f"http://127.0.0.1:{receiver.port}/hook"
    )
    assert await deliverer.deliver_once() == 1
    ((_, _, body),) = receiver.requests
    assert json.loads(body) == json.loads(MESSAGE)
    assert await queue.waiting("t1") == 0 and shredded == []


async def test_a_closed_tenants_events_are_dropped_with_an_audit_event(
    receiver: Receiver, database: Database, tmp_path: Path
) -> None:
    deliverer, queue, _, shredded, _, arn = await world(
        database, tmp_path, f"http://127.0.0.1:{receiver.port}/hook"
    )
    key_service_in(tmp_path / "keys").destroy_tenant_key("t1")
    assert await deliverer.deliver_once() == 1
    assert receiver.requests == []
    assert [(e.tenant_id, e.topic_arn, e.shredded) for e in shredded] == [("t1", arn, True)]
    assert await queue.waiting("t1") == 0 and deliverer.dropped == 1


async def test_the_drop_is_an_event_of_the_tenants_audit_log(
    receiver: Receiver, database: Database, tmp_path: Path
) -> None:
    """What ``serve`` wires as ``shredded``: an audit event of the tenant's log."""
    deliverer, _, _, shredded, _, arn = await world(
        database, tmp_path, f"http://127.0.0.1:{receiver.port}/hook"
    )
    key_service_in(tmp_path / "keys").destroy_tenant_key("t1")
    await deliverer.deliver_once()
    store = MemoryAuditStore()
    audit = AuditService(store)
    shredded_event_recorder(audit)(shredded[0])
    await audit.flush()
    ((_, event),) = await store.list_events("t1", after_id=0, limit=10)
    assert event.action == "andromede:DropUnreadableNotificationEvent"
    assert (event.resource, event.outcome) == (arn, Outcome.FAILURE)
    assert event.details["reason"] == "KeyDestroyed"
    await audit.close()


async def test_a_key_provider_out_of_reach_is_tried_again(
    receiver: Receiver, database: Database, tmp_path: Path
) -> None:
    deliverer, queue, sealer, shredded, clock, _ = await world(
        database, tmp_path, f"http://127.0.0.1:{receiver.port}/hook"
    )
    sealer.down = True
    assert await deliverer.deliver_once() == 1
    assert receiver.requests == [] and await queue.waiting("t1") == 1
    clock.now = NOW + timedelta(seconds=1)
    assert await deliverer.deliver_once() == 0  # backing off (2 s after the first attempt)
    sealer.down = False
    clock.now = NOW + timedelta(seconds=2)
    assert await deliverer.deliver_once() == 1
    assert len(receiver.requests) == 1 and shredded == []
    assert await queue.waiting("t1") == 0


async def test_the_start_up_step_seals_rows_queued_in_clear(
    receiver: Receiver, database: Database, tmp_path: Path
) -> None:
    """``prepare``'s step (migration 0076 cannot reach the keys): every clear row sealed in
    place under the key provider the settings name, then delivered opened."""
    data_dir = tmp_path / "data"
    settings = Settings(data_dir=data_dir)  # type: ignore[call-arg]
    legacy = SqlEventQueue(database)  # a release before the addendum
    topics = TopicService(MemoryTopicStore(), region="eu", max_topics=10)
    endpoint = f"http://127.0.0.1:{receiver.port}/hook"
    topic = await topics.create_topic("t1", "events", {"push-endpoint": endpoint})
    assert await legacy.add("t1", topic.arn, MESSAGE, NOW, bound=10)
    assert await seal_legacy_notification_events(settings, database) == 1
    assert await seal_legacy_notification_events(settings, database) == 0
    keys = key_service(settings)
    queue = SqlEventQueue(database, EventKeySealer(keys))
    policy = DeliveryPolicy(timeout=2.0, allowed=LOOPBACK)
    deliverer = Deliverer(queue, topics, policy, clock=Clock())
    assert await deliverer.deliver_once() == 1
    ((_, _, body),) = receiver.requests
    assert json.loads(body) == json.loads(MESSAGE)
    keys.close()
