"""Decision 0273: SQS queues of another account as a rule's targets, in process — the
EventBridge service over the memory store, its deliveries into a real queue service through
``wiring.events.EventTargets``, the targets' roles judged by the identity service — as AWS's
"Sending events to an AWS service in another account" describes: an execution role of the
rule's account (required at PutTargets), which both its own policies and the queue's policy
must allow; else ``FAILED_TO_ASSUME_ROLE`` or ``NO_PERMISSIONS``, at once, to the rule's
dead-letter queue. The account's own queues stay written by ``events.amazonaws.com``."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from andromede.event_stream_targets import EVENTS_PRINCIPAL, EventsRoles
from andromede.events.dispatcher import Deliveries
from andromede.events.errors import ValidationError
from andromede.events.memory import MemoryEventsStore
from andromede.events.service import EventsService
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.service import KeyService
from andromede.queues.memory import MemoryQueueStore
from andromede.queues.model import Queue
from andromede.queues.service import QueueService
from andromede.wiring.events import EventTargets
from andromede.wiring.queues import KeySealer

REGION = "eu-fr-1"
TRUST = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": EVENTS_PRINCIPAL},
                   "Action": "sts:AssumeRole"}],
})  # fmt: skip


@dataclass
class World:
    identity: IdentityService
    queues: QueueService
    service: EventsService
    deliveries: Deliveries
    sender: str
    receiver: str

    async def role(self, name: str, *actions: str) -> str:
        role = await self.identity.create_role(self.sender, name, TRUST)
        if actions:
            allow = {"Effect": "Allow", "Action": list(actions), "Resource": "*"}
            policy = json.dumps({"Version": "2012-10-17", "Statement": [allow]})
            await self.identity.put_role_policy(self.sender, name, "put", policy)
        return role.arn

    async def queue(self, tenant: str, name: str, principal: dict[str, Any] | None) -> Queue:
        queue = await self.queues.create_queue(tenant, name, {})
        if principal is None:
            return queue
        statement = {"Effect": "Allow", "Principal": principal, "Action": "sqs:SendMessage",
                     "Resource": queue.arn}  # fmt: skip
        policy = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
        return await self.queues.set_queue_attributes(queue, {"Policy": policy})

    async def bodies(self, queue: Queue) -> list[dict[str, Any]]:
        got = await self.queues.receive(queue, max_messages=10, visibility=3600, wait=0)
        return [json.loads(message.payload.body) for message in got]

    async def codes(self, queue: Queue) -> list[str]:
        got = await self.queues.receive(queue, max_messages=10, visibility=3600, wait=0)
        return sorted(str(m.payload.attributes["ERROR_CODE"].string_value) for m in got)

    async def put(self) -> str:
        entry = {"Source": "my.app", "DetailType": "order", "Detail": "{}"}
        (result,) = await self.service.put_events(self.sender, [entry])
        await self.deliveries.drain()
        assert result.event_id is not None
        return result.event_id


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    sender = (await identity.create_tenant("sender")).tenant.id
    receiver = (await identity.create_tenant("receiver")).tenant.id
    keys = KeyService(LocalKeyFileProvider(tmp_path / "keys"))
    queues = QueueService(MemoryQueueStore(), KeySealer(keys), region=REGION)
    targets = EventTargets(queues, None, None)  # type: ignore[arg-type]
    targets.roles = EventsRoles(identity, REGION)
    deliveries = Deliveries(targets, max_attempts=3, retry_base=0.001)
    service = EventsService(MemoryEventsStore(), deliveries, region=REGION)
    try:
        yield World(identity, queues, service, deliveries, sender, receiver)
    finally:
        keys.close()


async def test_another_accounts_queue_written_as_the_role(world: World) -> None:
    sender, receiver = world.sender, world.receiver
    role = await world.role("send", "sqs:SendMessage")
    theirs = await world.queue(receiver, "inbox", {"AWS": role})
    dlq = await world.queue(sender, "dlq", {"Service": EVENTS_PRINCIPAL})
    await world.service.put_rule(sender, "r", "default", event_pattern='{"source": ["my.app"]}')

    def target(**extra: Any) -> dict[str, Any]:
        return {"Id": "t", "Arn": theirs.arn, "DeadLetterConfig": {"Arn": dlq.arn}, **extra}

    with pytest.raises(ValidationError, match=f"RoleArn is required for target {theirs.arn}"):
        await world.service.put_targets(sender, "r", "default", [target()])
    firehose = f"arn:aws:firehose:{REGION}:{receiver}:deliverystream/s"
    with pytest.raises(ValidationError, match="the target must be of this account"):
        await world.service.put_targets(
            sender, "r", "default", [{"Id": "f", "Arn": firehose, "RoleArn": role}]
        )
    with pytest.raises(ValidationError, match="must be of this account"):  # a DLQ is own
        await world.service.put_targets(
            sender, "r", "default", [target(RoleArn=role, DeadLetterConfig={"Arn": theirs.arn})]
        )

    await world.service.put_targets(sender, "r", "default", [target(RoleArn=role)])
    event_id = await world.put()
    (event,) = await world.bodies(theirs)
    assert (event["id"], event["account"]) == (event_id, sender)
    assert await world.codes(dlq) == []

    # The queue's policy lets the role in, the role's own policies must too …
    bare = await world.role("bare")
    await world.service.put_targets(sender, "r", "default", [target(RoleArn=bare)])
    await world.put()
    assert await world.bodies(theirs) == []
    assert await world.codes(dlq) == ["NO_PERMISSIONS"]
    # … and the other way round: a role allowed, a queue whose policy names no one of ours.
    closed = await world.queue(receiver, "closed", {"Service": EVENTS_PRINCIPAL})
    await world.service.put_targets(sender, "r", "default", [target(RoleArn=role, Arn=closed.arn)])
    await world.put()
    assert await world.bodies(closed) == []
    assert await world.codes(dlq) == ["NO_PERMISSIONS"]
    # A queue another account does not hold answers as one that lets no one in: a rule
    # cannot probe what another account holds.
    missing = closed.arn.replace(":closed", ":missing")
    await world.service.put_targets(sender, "r", "default", [target(RoleArn=role, Arn=missing)])
    await world.put()
    assert await world.codes(dlq) == ["NO_PERMISSIONS"]
    # A role that is gone cannot be assumed.
    await world.identity.delete_role_policy(sender, "send", "put")
    await world.identity.delete_role(sender, "send")
    await world.service.put_targets(sender, "r", "default", [target(RoleArn=role)])
    await world.put()
    assert await world.codes(dlq) == ["FAILED_TO_ASSUME_ROLE"]


async def test_the_accounts_own_queue_is_still_written_by_eventbridge(world: World) -> None:
    """The account's own queue needs no role: ``events.amazonaws.com`` with the rule as
    ``aws:SourceArn``, as before."""
    sender = world.sender
    rule = await world.service.put_rule(sender, "r", "default", event_pattern="{}")
    mine = await world.queue(sender, "mine", {"Service": EVENTS_PRINCIPAL})
    await world.service.put_targets(sender, "r", "default", [{"Id": "q", "Arn": mine.arn}])
    event_id = await world.put()
    assert [event["id"] for event in await world.bodies(mine)] == [event_id]
    assert rule.arn.endswith(":rule/r")
