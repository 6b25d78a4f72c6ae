"""SNS in process for the unit tests of its API (decisions 0163, 0168): botocore's own SNS
model over the real services (in-memory stores, real queues with sealed messages, the real
delivery worker), and the helpers its tests share."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from andromede.billing.service import BillingService
from andromede.iam.secrets import SecretSealer
from andromede.iamapi.app import QueryApp
from andromede.iamapi.sns import sns_spec
from andromede.iamapi.sns_metering import sns_meter
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.service import KeyService
from andromede.notifications.delivery import Deliverer, DeliveryPolicy
from andromede.notifications.memory import MemoryEventQueue, MemoryTopicStore
from andromede.notifications.memory_archive import MemoryArchiveStore
from andromede.notifications.memory_subscriptions import MemorySubscriptionStore
from andromede.notifications.pubsub import PubSubLimits, PubSubService
from andromede.notifications.replay import ArchiveUpkeep
from andromede.notifications.service import TopicService
from andromede.notifications.smtp import SmtpMailer
from andromede.queues.memory import MemoryQueueStore
from andromede.queues.model import Queue
from andromede.queues.service import QueueLimits, QueueService
from andromede.settings import Settings
from andromede.wiring.billing import delivery_meter
from andromede.wiring.pubsub import StoredSigningKeys, TopicQueues, archive_upkeep
from andromede.wiring.queues import KeySealer
from support.clock import Clock
from support.queryapp import REGION, ApiError, Client, World, query_world

__all__ = ["Sns", "refused", "sns_world", "topic"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Sns:
    world: World
    root: Client
    pubsub: PubSubService
    topics: TopicService
    queues: QueueService
    deliverer: Deliverer
    events: MemoryEventQueue
    keys: StoredSigningKeys
    # FIFO topics' archives and their upkeep (decision 0175), on the notification clock.
    archive: MemoryArchiveStore
    upkeep: ArchiveUpkeep

    async def queue(self, tenant_id: str, name: str) -> Queue:
        made = await self.queues.create_queue(tenant_id, name, {})
        return made

    async def received(self, queue: Queue) -> list[str]:
        await self.deliverer.deliver_once()  # topic events fan out, then are sent
        await self.deliverer.deliver_once()
        got = await self.queues.receive(queue, max_messages=10, visibility=30, wait=0)
        return [m.payload.body for m in got]


@asynccontextmanager
async def sns_world(
    tmp_path: Path,
    *,
    now: Callable[[], datetime] = _utcnow,
    billing: BillingService | None = None,
    mailer: SmtpMailer | None = None,
) -> AsyncIterator[Sns]:
    """SNS over in-memory stores, real queues and the real worker; ``now``: the
    notification services' clock (signatures keep the real time); ``billing``: where the
    SNS app meters its requests and the worker its deliveries (decision 0169); ``mailer``:
    the SMTP relay of email subscriptions (decision 0180), none taken without it."""
    clock = Clock(now=float(int(time.time())))
    async with query_world(clock, tmp_path / "data") as world:
        keys_service = KeyService(LocalKeyFileProvider(tmp_path / "keys"))
        queues = QueueService(
            MemoryQueueStore(),
            KeySealer(keys_service),
            region=REGION,
            limits=QueueLimits(max_queues=20, max_message_size=262_144, poll_interval=0.05),
        )
        events = MemoryEventQueue([])
        topics = TopicService(
            MemoryTopicStore(), region=REGION, max_topics=10, queue=events, clock=now
        )
        store = MemorySubscriptionStore()
        archive = MemoryArchiveStore()
        keys = StoredSigningKeys(store, SecretSealer(os.urandom(32)), REGION)
        pubsub = PubSubService(
            topics,
            store,
            events,
            keys,
            TopicQueues(queues, REGION),
            PubSubLimits(
                base_url="https://sns.test:9000",
                max_subscriptions=150,
                max_message_size=4096,
                email=mailer is not None,
            ),
            clock=now,
            archive=archive,
        )
        settings = Settings(data_dir=tmp_path / "data", region=REGION)
        upkeep = archive_upkeep(settings, archive, topics, pubsub, clock=now)
        world.apps["sns"] = QueryApp(
            sns_spec(topics, REGION, pubsub),
            world.identity,
            world.audit,
            settings,
            meter=None if billing is None else sns_meter(billing, REGION),
        )
        deliverer = Deliverer(
            events,
            topics,
            DeliveryPolicy(),
            subscribers=pubsub,
            clock=now,
            on_delivered=None if billing is None else delivery_meter(billing, REGION),
            mailer=mailer,
        )
        try:
            yield Sns(
                world,
                world.client(world.root),
                pubsub,
                topics,
                queues,
                deliverer,
                events,
                keys,
                archive,
                upkeep,
            )
        finally:
            keys_service.close()


async def refused(client: Client, operation: str, code: str, **params: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        await client.call("sns", operation, **params)
    assert caught.value.code == code, caught.value
    return caught.value


async def topic(client: Client, name: str) -> str:
    return str((await client.call("sns", "CreateTopic", Name=name))["TopicArn"])
