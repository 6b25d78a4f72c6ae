"""Decision 0204: archives under a customer's KMS key, through the EventBridge app in process
built as ``serve`` builds it (``wiring.events`` on SQLite, ``under_customer_keys`` over the
real key service and customer-managed keys): KmsKeyIdentifier by id, alias or ARN, shown by
DescribeArchive; the key's policy must let ``events.amazonaws.com`` in for the bus (AWS's
requirement) or CreateArchive and UpdateArchive refuse it; the archived events sealed under
a data key of the key (no clear text in the table), opened again by a replay; a disabled key
stops the archiving and fails the replay with its reason; a new key seals what comes after
while the older events keep theirs; every use metered (``kms.requests``) and audited
(``invoked_by`` ``events.amazonaws.com``)."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import botocore.session
import pytest
import sqlalchemy as sa
from botocore.credentials import Credentials
from botocore.serialize import create_serializer

from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.billing.model import parse_month
from andromede.billing.service import BillingService
from andromede.billing.store import MemoryBillingStore
from andromede.db import tables
from andromede.db.database import Database, open_database
from andromede.eventsapi.app import CONTENT_TYPE
from andromede.iam.model import Principal, PrincipalKind
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.kms.customer_keys import Caller, CustomerKeyService
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.keys_store import MemoryCustomerKeyStore
from andromede.kms.service import KeyService
from andromede.kmsapi.authorise import KmsAuthoriser
from andromede.secrets.memory import MemorySecretStore
from andromede.secrets.service import SecretService
from andromede.settings import Settings
from andromede.wiring.events import EventsParts, EventTargets
from andromede.wiring.secrets import KmsSecretSealer
from support.json_client import JsonReply, signed_json_post
from support.schema import migrated_sqlite

REGION = "eu-fr-1"
MODEL = botocore.session.get_session().get_service_model("events")
SERIALIZER = create_serializer("json")


@dataclass
class Harness:
    parts: EventsParts
    db: Database
    identity: IdentityService
    credentials: Credentials
    tenant_id: str
    audit_store: MemoryAuditStore
    audit: AuditService
    keys: CustomerKeyService
    billing: BillingService

    async def call(self, action: str, params: dict[str, Any]) -> JsonReply:
        request = SERIALIZER.serialize_to_request(params, MODEL.operation_model(action))
        return await signed_json_post(
            self.parts.api(self.identity, self.audit, None, None),
            f"AWSEvents.{action}",
            request["body"],
            content_type=CONTENT_TYPE,
            credentials=self.credentials,
            service="events",
            region=REGION,
        )

    async def ok(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        reply = await self.call(action, params)
        assert reply.status == 200, reply.body
        answer = reply.json()
        assert set(answer) <= set(MODEL.operation_model(action).output_shape.members), answer
        return answer

    async def fails(self, action: str, params: dict[str, Any], error_type: str) -> str:
        reply = await self.call(action, params)
        assert 400 <= reply.status < 500, reply.body
        fields = reply.error_fields()
        assert fields["__type"] == error_type, reply.body
        return str(fields.get("message", ""))

    @property
    def bus(self) -> str:
        return f"arn:aws:events:{REGION}:{self.tenant_id}:event-bus/default"

    def root(self) -> Caller:
        arn = f"arn:aws:iam::{self.tenant_id}:root"
        return Caller(
            self.tenant_id, arn, Principal(self.tenant_id, None, None, PrincipalKind.ROOT, arn)
        )

    async def key(self, *, events_allowed: bool = True, bus: str | None = None) -> str:
        """A customer key (its id); its policy lets ``events.amazonaws.com`` use it for
        ``bus`` (this harness's default bus) when ``events_allowed``."""
        statements: list[dict[str, Any]] = [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{self.tenant_id}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ]
        if events_allowed:
            statements.append(
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": ["kms:DescribeKey", "kms:GenerateDataKey", "kms:Decrypt"],
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {
                            "kms:EncryptionContext:aws:events:event-bus:arn": bus or self.bus
                        }
                    },
                }
            )
        policy = json.dumps({"Version": "2012-10-17", "Statement": statements})
        return (await self.keys.create_key(self.root(), policy=policy)).key_id

    async def put(self, *details: dict[str, Any]) -> None:
        entries = [
            {"Source": "shop", "DetailType": "order", "Detail": json.dumps(d)} for d in details
        ]
        assert (await self.ok("PutEvents", {"Entries": entries}))["FailedEntryCount"] == 0

    async def queued(self) -> list[dict[str, Any]]:
        queue = self.parts.deliveries.queue
        taken = await queue.claim(datetime.now(UTC), lease=timedelta(seconds=5), limit=100)
        for delivery in taken:
            await queue.complete(delivery)
        return [json.loads(d.message)["event"] for d in taken]

    async def replay(self, name: str, archive: str = "orders") -> dict[str, Any]:
        now = datetime.now(UTC)
        await self.ok(
            "StartReplay",
            {
                "ReplayName": name,
                "EventSourceArn": f"arn:aws:events:{REGION}:{self.tenant_id}:archive/{archive}",
                "EventStartTime": now - timedelta(hours=1),
                "EventEndTime": now + timedelta(minutes=1),
                "Destination": {"Arn": self.bus},
            },
        )
        await self.parts.replays("gw").drain()
        return await self.ok("DescribeReplay", {"ReplayName": name})

    async def stored(self) -> list[str]:
        query = sa.select(tables.events_archive_events.c.message)
        return [str(m) for m in await self.db.read(lambda c: c.execute(query).scalars().all())]

    async def kms_requests(self) -> int:
        await self.billing.flush()
        month = parse_month(datetime.now(UTC).strftime("%Y-%m"))
        report = await self.billing.usage_report(self.tenant_id, month)
        return sum(line.quantity for line in report.lines if line.meter == "kms.requests")


@pytest.fixture
async def events(tmp_path: Path) -> AsyncIterator[Harness]:
    settings = Settings(data_dir=tmp_path, region=REGION, events_replay_batch=2)
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
    targets: Any = EventTargets(None, None, None)  # type: ignore[arg-type]
    parts = EventsParts(settings, db, targets, identity=identity)
    secrets = SecretService(MemorySecretStore(), KmsSecretSealer(customer_keys, REGION))
    parts.under_customer_keys(secrets, keys, customer_keys, audit, billing)
    try:
        yield Harness(
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
    finally:
        await billing.close()
        await audit.close()
        await db.close()
        keys.close()


async def _rule(events: Harness) -> None:
    await events.ok("PutRule", {"Name": "r", "EventPattern": '{"source": ["shop"]}'})
    queue = f"arn:aws:sqs:{REGION}:{events.tenant_id}:q"
    await events.ok("PutTargets", {"Rule": "r", "Targets": [{"Id": "q", "Arn": queue}]})


async def test_archived_events_sealed_under_the_customer_key(events: Harness) -> None:
    await _rule(events)
    key = await events.key()
    made = {"ArchiveName": "orders", "EventSourceArn": events.bus, "KmsKeyIdentifier": key}
    await events.ok("CreateArchive", made)
    described = await events.ok("DescribeArchive", {"ArchiveName": "orders"})
    assert described["KmsKeyIdentifier"] == key
    await events.put({"card": "4111-secret"}, {"card": "5500-secret"})
    assert [e["detail"]["card"] for e in await events.queued()] == ["4111-secret", "5500-secret"]
    stored = await events.stored()
    assert len(stored) == 2 and all("secret" not in m for m in stored)
    assert (await events.ok("DescribeArchive", {"ArchiveName": "orders"}))["EventCount"] == 2
    # One data key for the batch; the checks at CreateArchive use the key too.
    before = await events.kms_requests()
    done = await events.replay("again")
    assert done["State"] == "COMPLETED", done
    replayed = await events.queued()
    assert [(e["detail"]["card"], e["replay-name"]) for e in replayed] == [
        ("4111-secret", "again"),
        ("5500-secret", "again"),
    ]
    assert await events.kms_requests() == before + 1  # one Decrypt: one data key, one batch
    await events.audit.flush()
    records = [e for _, e in await events.audit_store.list_events(None, after_id=0, limit=500)]
    uses = [r for r in records if r.action in ("kms:GenerateDataKey", "kms:Decrypt")]
    assert {r.principal for r in uses} == {"events.amazonaws.com"}
    assert [r.action for r in uses][-2:] == ["kms:GenerateDataKey", "kms:Decrypt"]
    assert all(r.resource.endswith(f":key/{key}") for r in uses)


async def test_the_key_policy_must_let_eventbridge_in(events: Harness) -> None:
    closed = await events.key(events_allowed=False)
    params = {"ArchiveName": "a", "EventSourceArn": events.bus, "KmsKeyIdentifier": closed}
    message = await events.fails("CreateArchive", params, "ValidationException")
    assert "events.amazonaws.com" in message
    await events.fails("DescribeArchive", {"ArchiveName": "a"}, "ResourceNotFoundException")
    # A key for another bus only: refused for this one.
    other_bus = f"arn:aws:events:{REGION}:{events.tenant_id}:event-bus/other"
    elsewhere = await events.key(bus=other_bus)
    params["KmsKeyIdentifier"] = elsewhere
    await events.fails("CreateArchive", params, "ValidationException")
    params["KmsKeyIdentifier"] = "alias/none"
    assert "alias/none" in await events.fails("CreateArchive", params, "ValidationException")
    # By alias: accepted; UpdateArchive refuses a closed key and keeps the one it had.
    good = await events.key()
    await events.keys.create_alias(events.root(), "alias/archives", good)
    params["KmsKeyIdentifier"] = "alias/archives"
    await events.ok("CreateArchive", params)
    await events.fails(
        "UpdateArchive", {"ArchiveName": "a", "KmsKeyIdentifier": closed}, "ValidationException"
    )
    assert (await events.ok("DescribeArchive", {"ArchiveName": "a"}))["KmsKeyIdentifier"] == (
        "alias/archives"
    )


async def test_a_disabled_key_stops_archiving_and_fails_the_replay(events: Harness) -> None:
    await _rule(events)
    key = await events.key()
    made = {"ArchiveName": "orders", "EventSourceArn": events.bus, "KmsKeyIdentifier": key}
    await events.ok("CreateArchive", made)
    await events.put({"n": 1})
    await events.keys.disable_key(events.root(), key)
    await events.put({"n": 2})  # delivered, not archived
    assert [e["detail"]["n"] for e in await events.queued()] == [1, 2]
    assert (await events.ok("DescribeArchive", {"ArchiveName": "orders"}))["EventCount"] == 1
    failed = await events.replay("dark")
    assert failed["State"] == "FAILED" and key in failed["StateReason"], failed
    assert await events.queued() == []
    await events.keys.enable_key(events.root(), key)
    assert (await events.replay("lit"))["State"] == "COMPLETED"
    assert [e["detail"]["n"] for e in await events.queued()] == [1]


async def test_a_new_key_seals_what_comes_after(events: Harness) -> None:
    await _rule(events)
    first = await events.key()
    made = {"ArchiveName": "orders", "EventSourceArn": events.bus, "KmsKeyIdentifier": first}
    await events.ok("CreateArchive", made)
    await events.put({"n": 1})
    second = await events.key()
    second_arn = f"arn:aws:kms:{REGION}:{events.tenant_id}:key/{second}"
    await events.ok("UpdateArchive", {"ArchiveName": "orders", "KmsKeyIdentifier": second_arn})
    await events.put({"n": 2})
    await events.queued()
    done = await events.replay("both")
    assert done["State"] == "COMPLETED"
    assert [e["detail"]["n"] for e in await events.queued()] == [1, 2]
    # The first key disabled: the older event no longer opens, and the replay says so.
    await events.keys.disable_key(events.root(), first)
    failed = await events.replay("half")
    assert failed["State"] == "FAILED" and first in failed["StateReason"]
