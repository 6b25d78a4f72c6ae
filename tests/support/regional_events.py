"""EventBridge in process for a deployment of several Regions, built as ``serve`` builds it
(``wiring.events``: the SQL stores on SQLite, the durable deliveries, the identity service
judging the targets' roles), and its JSON API called with botocore's SigV4 in a given Region.
The cross-Region tests (decision 0349), the global endpoints' (decision 0355) and the
Region metrics' (decision 0360) share it; each adds what it watches (queues, metrics, health
checks, CloudWatch) to ``RegionalEvents``."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from botocore.credentials import Credentials

from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.billing.service import BillingService
from andromede.db.database import Database, open_database
from andromede.event_stream_targets import EVENTS_PRINCIPAL
from andromede.eventsapi.app import CONTENT_TYPE, EventsApp
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.settings import Settings
from andromede.wiring.events import EventsParts
from support.json_client import signed_json_post
from support.schema import migrated_sqlite

__all__ = ["ENTRY", "PATTERN", "TRUST", "RegionalEvents", "region_bound_keys", "regional_events"]

# A role EventBridge may assume: the one a rule's target names to reach another Region's bus.
TRUST = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": EVENTS_PRINCIPAL},
                   "Action": "sts:AssumeRole"}],
})  # fmt: skip
ENTRY = {"Source": "my.app", "DetailType": "order", "Detail": '{"n": 1}'}
PATTERN = json.dumps({"source": ["my.app"]})  # matches ENTRY


@dataclass
class RegionalEvents:
    """EventBridge's API and its parts, the bootstrap account's ``credentials`` signing."""

    app: EventsApp
    parts: EventsParts
    identity: IdentityService
    credentials: Credentials
    account: str
    db: Database
    audit: AuditService

    async def call(
        self, region: str, action: str, payload: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        reply = await signed_json_post(
            self.app,
            f"AWSEvents.{action}",
            payload,
            content_type=CONTENT_TYPE,
            credentials=self.credentials,
            service="events",
            region=region,
        )
        return reply.status, reply.json()

    async def ok(self, region: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        status, answer = await self.call(region, action, payload)
        assert status == 200, answer
        return answer

    async def refused(self, region: str, action: str, payload: dict[str, Any]) -> tuple[str, str]:
        status, answer = await self.call(region, action, payload)
        assert status == 400, answer
        return str(answer["__type"]), str(answer.get("message", ""))

    def arn(self, region: str, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{region}:{self.account}:{resource}"

    def bus(self, region: str, name: str) -> str:
        return self.arn(region, "events", f"event-bus/{name}")

    async def role(self, name: str, *actions: str) -> str:
        """A role EventBridge may assume, allowed ``actions`` (none: nothing)."""
        role = await self.identity.create_role(self.account, name, TRUST)
        if actions:
            allow = {"Effect": "Allow", "Action": list(actions), "Resource": "*"}
            policy = json.dumps({"Version": "2012-10-17", "Statement": [allow]})
            await self.identity.put_role_policy(self.account, name, "put", policy)
        return role.arn


@asynccontextmanager
async def regional_events(
    settings: Settings,
    sink: Any,
    *,
    metrics: Any,
    billing: BillingService | None = None,
    health: Any = None,
) -> AsyncIterator[RegionalEvents]:
    """EventBridge for ``settings`` (its Regions; its metadata database in its data folder)
    delivering queue and topic targets into ``sink``, publishing into ``metrics``, metering
    into ``billing`` where given, its global endpoints reading Route 53's statuses from
    ``health`` where given."""
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    boot = await identity.bootstrap()
    assert boot is not None
    audit = AuditService(MemoryAuditStore())
    db = open_database(migrated_sqlite(settings.data_dir / "meta.db"))
    try:
        parts = EventsParts(settings, db, sink, identity=identity, metrics=metrics)
        if health is not None:
            parts.endpoints.health = health
        app = parts.api(identity, audit, None, billing)
        credentials = Credentials(boot.access_key_id, boot.secret_access_key)
        yield RegionalEvents(app, parts, identity, credentials, boot.tenant.id, db, audit)
    finally:
        await audit.close()
        await db.close()


async def region_bound_keys(
    identity: IdentityService, account: str, action: str, region: str
) -> Credentials:
    """The keys of a new user ``dev`` of ``account`` allowed ``action`` in ``region`` only
    (by ``aws:RequestedRegion``): what the call's Region means to a policy."""
    await identity.create_user(account, "dev")
    created = await identity.create_access_key(account, "dev")
    allow = {
        "Effect": "Allow",
        "Action": action,
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:RequestedRegion": region}},
    }
    policy = json.dumps({"Version": "2012-10-17", "Statement": [allow]})
    await identity.put_user_policy(account, "dev", "home-only", policy)
    return Credentials(created.key.access_key_id, created.secret_access_key)
