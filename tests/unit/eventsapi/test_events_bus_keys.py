"""Decision 0213: an event bus under a customer's KMS key, with its dead-letter queue, through
the EventBridge app as ``serve`` builds it (``wiring.events`` on SQLite, ``under_customer_keys``
over the real key service; decision 0204's harness, with a sink recording what reaches the
queues): CreateEventBus, UpdateEventBus and DescribeEventBus's ``KmsKeyIdentifier`` and
``DeadLetterConfig``; the key checked usable by ``events.amazonaws.com`` for the bus and the
caller allowed ``kms:DescribeKey`` on it; the queued deliveries sealed under a data key of the
key (no clear text of the event's detail, input or target settings in what the queue holds);
a disabled key failing PutEvents' entries with ``AccessDeniedException``, and the deliveries
queued before it dead-lettered with the reason — the bus's queue first, the target's when the
bus has none."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import Credentials

from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.billing.service import BillingService
from andromede.billing.store import MemoryBillingStore
from andromede.db.database import open_database
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.kms.customer_keys import CustomerKeyService
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.keys_store import MemoryCustomerKeyStore
from andromede.kms.service import KeyService
from andromede.kmsapi.authorise import KmsAuthoriser
from andromede.secrets.memory import MemorySecretStore
from andromede.secrets.service import SecretService
from andromede.settings import Settings
from andromede.wiring.events import EventsParts
from andromede.wiring.secrets import KmsSecretSealer
from support.schema import migrated_sqlite
from unit.eventsapi.test_events_archive_keys import REGION, Harness


@dataclass
class Sent:
    arn: str
    message: str
    source_arn: str
    attributes: dict[str, str] | None


@dataclass
class RecordingSink:
    """The queues as EventBridge's targets: what each received."""

    sent: list[Sent] = field(default_factory=list)

    async def send(
        self,
        tenant_id: str,
        arn: str,
        message: str,
        *,
        rule_arn: str,
        group_id: str | None,
        dedup_id: str,
        attributes: dict[str, str] | None = None,
        role_arn: str | None = None,
        trace: str | None = None,
    ) -> None:
        self.sent.append(Sent(arn, message, rule_arn, attributes))


@dataclass
class Bus:
    events: Harness
    sink: RecordingSink

    def arn(self, name: str) -> str:
        return f"arn:aws:events:{REGION}:{self.events.tenant_id}:event-bus/{name}"

    def queue(self, name: str) -> str:
        return f"arn:aws:sqs:{REGION}:{self.events.tenant_id}:{name}"

    async def rule(self, bus: str, *, target_dlq: str | None = None) -> None:
        await self.events.ok(
            "PutRule", {"Name": "r", "EventBusName": bus, "EventPattern": '{"source":["shop"]}'}
        )
        target: dict[str, Any] = {
            "Id": "q",
            "Arn": self.queue("orders"),
            "InputTransformer": {
                "InputPathsMap": {"card": "$.detail.card"},
                "InputTemplate": '{"paid-with": "<card>"}',
            },
        }
        if target_dlq is not None:
            target["DeadLetterConfig"] = {"Arn": target_dlq}
        await self.events.ok("PutTargets", {"Rule": "r", "EventBusName": bus, "Targets": [target]})

    async def put(self, bus: str, card: str) -> dict[str, Any]:
        entry = {
            "Source": "shop",
            "DetailType": "order",
            "Detail": json.dumps({"card": card}),
            "EventBusName": bus,
        }
        return await self.events.ok("PutEvents", {"Entries": [entry]})

    async def held(self) -> list[str]:
        """The queued deliveries' messages as the queue holds them (after the platform's own
        seal is opened), left queued."""
        queue = self.events.parts.deliveries.queue
        now = datetime.now(UTC)
        taken = await queue.claim(now, lease=timedelta(seconds=5), limit=100)
        for delivery in taken:
            await queue.retry(delivery, now, "peeked")
        return [d.message for d in taken]


@pytest.fixture
async def buses(tmp_path: Path) -> AsyncIterator[Bus]:
    settings = Settings(data_dir=tmp_path, region=REGION)
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    boot = await identity.bootstrap()
    assert boot is not None
    keys = KeyService(LocalKeyFileProvider(tmp_path / "keys"))
    customer_keys = CustomerKeyService(
        MemoryCustomerKeyStore(), keys, KmsAuthoriser(identity.policies_for, REGION), region=REGION
    )
    audit_store = MemoryAuditStore()
    audit = AuditService(audit_store)
    billing = BillingService(MemoryBillingStore(), region=REGION, instance_types=[])
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    sink = RecordingSink()
    parts = EventsParts(settings, db, sink, identity=identity)  # type: ignore[arg-type]
    secrets = SecretService(MemorySecretStore(), KmsSecretSealer(customer_keys, REGION))
    parts.under_customer_keys(secrets, keys, customer_keys, audit, billing)
    harness = Harness(
        parts,
        db,
        identity,
        Credentials(boot.access_key_id, boot.secret_access_key),
        boot.tenant.id,
        audit_store,
        audit,
        customer_keys,
        billing,
    )
    try:
        yield Bus(harness, sink)
    finally:
        await billing.close()
        await audit.close()
        await db.close()
        keys.close()


async def test_a_bus_s_deliveries_sealed_under_its_key(buses: Bus) -> None:
    events = buses.events
    key = await events.key(bus=buses.arn("orders"))
    dlq = buses.queue("bus-dlq")
    made = await events.ok(
        "CreateEventBus",
        {"Name": "orders", "KmsKeyIdentifier": key, "DeadLetterConfig": {"Arn": dlq}},
    )
    assert made["KmsKeyIdentifier"] == key and made["DeadLetterConfig"] == {"Arn": dlq}
    described = await events.ok("DescribeEventBus", {"Name": "orders"})
    assert (described["KmsKeyIdentifier"], described["DeadLetterConfig"]) == (key, {"Arn": dlq})
    await buses.rule("orders")
    assert (await buses.put("orders", "4111-secret"))["FailedEntryCount"] == 0
    [held] = await buses.held()
    assert "4111" not in held and "paid-with" not in held and "InputTransformer" not in held
    document = json.loads(held)
    assert document["metadata"]["source"] == "shop" and "detail" not in document["metadata"]
    assert document["bus_dead_letter"] == dlq
    await events.parts.deliveries.drain()
    [sent] = buses.sink.sent
    assert (sent.arn, json.loads(sent.message)) == (
        buses.queue("orders"),
        {"paid-with": "4111-secret"},
    )
    await events.audit.flush()
    records = [e for _, e in await events.audit_store.list_events(None, after_id=0, limit=500)]
    uses = [r for r in records if r.action in ("kms:GenerateDataKey", "kms:Decrypt")]
    assert {r.principal for r in uses} == {"events.amazonaws.com"}
    assert [r.action for r in uses][-2:] == ["kms:GenerateDataKey", "kms:Decrypt"]
    assert all(r.resource.endswith(f":key/{key}") for r in uses)
    # A bus without a key keeps its deliveries as before; DescribeEventBus shows no key.
    await events.ok("CreateEventBus", {"Name": "plain"})
    assert "KmsKeyIdentifier" not in await events.ok("DescribeEventBus", {"Name": "plain"})


async def test_what_create_and_update_event_bus_refuse(buses: Bus) -> None:
    events = buses.events
    closed = await events.key(events_allowed=False)
    params: dict[str, Any] = {"Name": "b", "KmsKeyIdentifier": closed}
    assert "events.amazonaws.com" in await events.fails(
        "CreateEventBus", params, "ValidationException"
    )
    await events.fails("DescribeEventBus", {"Name": "b"}, "ResourceNotFoundException")
    elsewhere = await events.key(bus=buses.arn("other"))  # a key for another bus only
    params["KmsKeyIdentifier"] = elsewhere
    await events.fails("CreateEventBus", params, "ValidationException")
    params["KmsKeyIdentifier"] = "alias/none"
    assert "alias/none" in await events.fails("CreateEventBus", params, "ValidationException")
    for wrong in (
        f"arn:aws:sns:{REGION}:{events.tenant_id}:topic",
        f"arn:aws:sqs:{REGION}:999999999999:q",
        f"arn:aws:sqs:other-1:{events.tenant_id}:q",
    ):
        bad = {"Name": "b", "DeadLetterConfig": {"Arn": wrong}}
        assert "DeadLetterConfig" in await events.fails(
            "CreateEventBus", bad, "ValidationException"
        )
    # By alias: accepted; the caller needs kms:DescribeKey on the key.
    good = await events.key(bus=buses.arn("b"))
    await events.keys.create_alias(events.root(), "alias/bus", good)
    await events.identity.create_user(events.tenant_id, "eve")
    created = await events.identity.create_access_key(events.tenant_id, "eve")
    user = Credentials(created.key.access_key_id, created.secret_access_key)
    allow = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "events:*", "Resource": "*"}],
    }
    await events.identity.put_user_policy(events.tenant_id, "eve", "p", json.dumps(allow))
    eve = replace(events, credentials=user)
    params["KmsKeyIdentifier"] = "alias/bus"
    assert "kms:DescribeKey" in await eve.fails("CreateEventBus", params, "AccessDeniedException")
    await events.ok("CreateEventBus", params)
    assert (await events.ok("DescribeEventBus", {"Name": "b"}))["KmsKeyIdentifier"] == "alias/bus"
    # UpdateEventBus: a refused key keeps the held one; none given is EventBridge's own key.
    update = {"Name": "b", "KmsKeyIdentifier": closed}
    await events.fails("UpdateEventBus", update, "ValidationException")
    assert (await events.ok("DescribeEventBus", {"Name": "b"}))["KmsKeyIdentifier"] == "alias/bus"
    dlq = {"Arn": buses.queue("dlq")}
    answer = await events.ok("UpdateEventBus", {"Name": "b", "DeadLetterConfig": dlq})
    assert "KmsKeyIdentifier" not in answer and answer["DeadLetterConfig"] == dlq
    described = await events.ok("DescribeEventBus", {"Name": "b"})
    assert "KmsKeyIdentifier" not in described and described["DeadLetterConfig"] == dlq


async def test_a_disabled_key_fails_puts_and_dead_letters_what_waits(buses: Bus) -> None:
    events = buses.events
    key = await events.key(bus=buses.arn("orders"))
    dlq = buses.queue("bus-dlq")
    await events.ok(
        "CreateEventBus",
        {"Name": "orders", "KmsKeyIdentifier": key, "DeadLetterConfig": {"Arn": dlq}},
    )
    await buses.rule("orders", target_dlq=buses.queue("target-dlq"))
    first = await buses.put("orders", "4111-secret")
    await events.keys.disable_key(events.root(), key)
    refused = await buses.put("orders", "5500-secret")
    [entry] = refused["Entries"]
    assert refused["FailedEntryCount"] == 1 and entry["ErrorCode"] == "AccessDeniedException"
    assert key in entry["ErrorMessage"] and "EventId" not in entry
    await events.parts.deliveries.drain()
    [sent] = buses.sink.sent  # the waiting delivery, to the bus's queue, not the target
    assert sent.arn == dlq and sent.source_arn == buses.arn("orders")
    assert sent.attributes is not None and sent.attributes["ERROR_CODE"] == "AccessDeniedException"
    assert key in sent.attributes["ERROR_MESSAGE"]
    assert sent.attributes["RULE_ARN"].endswith(":rule/orders/r")
    body = json.loads(sent.message)
    assert body["id"] == first["Entries"][0]["EventId"] and "detail" not in body
    assert await events.parts.deliveries.queue.waiting() == 0
    # Re-enabled: PutEvents goes through and is delivered.
    await events.keys.enable_key(events.root(), key)
    assert (await buses.put("orders", "3700-secret"))["FailedEntryCount"] == 0
    await events.parts.deliveries.drain()
    assert json.loads(buses.sink.sent[-1].message) == {"paid-with": "3700-secret"}
    # Without a bus queue, the target's dead-letter queue takes it.
    await events.ok("UpdateEventBus", {"Name": "orders", "KmsKeyIdentifier": key})
    await buses.put("orders", "6011-secret")
    await events.keys.disable_key(events.root(), key)
    await events.parts.deliveries.drain()
    assert buses.sink.sent[-1].arn == buses.queue("target-dlq")
    assert buses.sink.sent[-1].source_arn.endswith(":rule/orders/r")


async def test_a_refusing_key_keeps_nothing_and_fails_replays(buses: Bus) -> None:
    """With no rule matching, the key still seals the bus's events: a disabled key fails the
    entry, the bus's archive (without a key of its own) keeps nothing of it, and a replay onto
    the bus goes FAILED naming the key."""
    events = buses.events
    key = await events.key(bus=buses.arn("quiet"))
    await events.ok("CreateEventBus", {"Name": "quiet", "KmsKeyIdentifier": key})
    archive = {"ArchiveName": "kept", "EventSourceArn": buses.arn("quiet")}
    archive_arn = (await events.ok("CreateArchive", archive))["ArchiveArn"]
    assert (await buses.put("quiet", "4111-secret"))["FailedEntryCount"] == 0
    await events.keys.disable_key(events.root(), key)
    refused = await buses.put("quiet", "5500-secret")
    assert refused["Entries"][0]["ErrorCode"] == "AccessDeniedException"
    assert (await events.ok("DescribeArchive", {"ArchiveName": "kept"}))["EventCount"] == 1
    now = datetime.now(UTC)
    await events.ok(
        "StartReplay",
        {
            "ReplayName": "dark",
            "EventSourceArn": archive_arn,
            "EventStartTime": now - timedelta(hours=1),
            "EventEndTime": now + timedelta(minutes=1),
            "Destination": {"Arn": buses.arn("quiet")},
        },
    )
    await events.parts.replays("gw").drain()
    replay = await events.ok("DescribeReplay", {"ReplayName": "dark"})
    assert replay["State"] == "FAILED" and key in replay["StateReason"], replay
    assert buses.sink.sent == [] and await events.parts.deliveries.queue.waiting() == 0


async def test_a_forwarded_event_onto_a_bus_whose_key_refuses(buses: Bus) -> None:
    """Decision 0273: a rule's bus target whose bus is under a key takes the forwarded event
    sealed as its own; once the key is disabled the delivery fails ``NO_PERMISSIONS`` at once,
    its reason (the key's state) told to the bus's own account only, never to another's."""
    events = buses.events
    key = await events.key(bus=buses.arn("orders"))
    await events.ok("CreateEventBus", {"Name": "orders", "KmsKeyIdentifier": key})
    await buses.rule("orders")
    pattern = '{"source":["shop"]}'
    await events.ok("PutRule", {"Name": "fwd", "EventPattern": pattern})
    forward = {"Id": "b", "Arn": buses.arn("orders"),
               "DeadLetterConfig": {"Arn": buses.queue("dlq")}}  # fmt: skip
    await events.ok("PutTargets", {"Rule": "fwd", "Targets": [forward]})
    await buses.put("default", "4111-secret")
    await events.parts.deliveries.drain()
    [sent] = buses.sink.sent
    assert json.loads(sent.message) == {"paid-with": "4111-secret"}

    # Another account, let in by the bus's policy, forwards as its role.
    other = await events.identity.create_tenant("sender")
    them = replace(
        events,
        credentials=Credentials(other.access_key_id, other.secret_access_key),
        tenant_id=other.tenant.id,
    )
    trusted = {"Service": "events.amazonaws.com"}
    assume = {"Effect": "Allow", "Principal": trusted, "Action": "sts:AssumeRole"}
    trust = {"Version": "2012-10-17", "Statement": [assume]}
    role = await events.identity.create_role(them.tenant_id, "send", json.dumps(trust))
    allow = {"Effect": "Allow", "Action": "events:PutEvents", "Resource": "*"}
    await events.identity.put_role_policy(
        them.tenant_id, "send", "p", json.dumps({"Version": "2012-10-17", "Statement": [allow]})
    )
    grant = {"EventBusName": "orders", "Action": "events:PutEvents",
             "Principal": them.tenant_id, "StatementId": "sender"}  # fmt: skip
    assert (await events.call("PutPermission", grant)).status == 200
    await them.ok("PutRule", {"Name": "fwd", "EventPattern": pattern})
    their_dlq = f"arn:aws:sqs:{REGION}:{them.tenant_id}:dlq"
    theirs = {**forward, "RoleArn": role.arn, "DeadLetterConfig": {"Arn": their_dlq}}
    await them.ok("PutTargets", {"Rule": "fwd", "Targets": [theirs]})

    await events.keys.disable_key(events.root(), key)
    buses.sink.sent.clear()
    await buses.put("default", "5500-secret")
    await replace(buses, events=them).put("default", "6011-secret")
    await events.parts.deliveries.drain()
    letters = {s.arn: s.attributes or {} for s in buses.sink.sent}
    assert set(letters) == {buses.queue("dlq"), their_dlq}
    own, foreign = letters[buses.queue("dlq")], letters[their_dlq]
    assert own["ERROR_CODE"] == foreign["ERROR_CODE"] == "NO_PERMISSIONS"
    assert key in own["ERROR_MESSAGE"]
    assert key not in foreign["ERROR_MESSAGE"] and "disabled" not in foreign["ERROR_MESSAGE"]
