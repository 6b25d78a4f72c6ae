"""CloudWatch Logs in process (decision 0186): the service over the in-memory store with the
real sealer (a key file and the customer-managed keys of :mod:`support.kmskit`), a clock the
tests set, and the JSON 1.1 app signed as botocore signs it for ``logs``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.credentials import Credentials

from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.billing.service import BillingService
from andromede.billing.store import MemoryBillingStore
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.logs.export_tasks import ExportService
from andromede.logs.insights import InsightsService
from andromede.logs.live_tail import LiveTailLimits, LiveTails
from andromede.logs.memory import MemoryLogStore
from andromede.logs.queries import MemoryQueryStore
from andromede.logs.service import LogsLimits, LogsService
from andromede.logs.store import LogStore
from andromede.logsapi.app import CONTENT_TYPE, LogsApp
from andromede.settings import Settings
from andromede.wiring.logs import LogKeySealer
from support.json_client import JsonReply, Signers, signed_json_post
from support.kmskit import REGION, Kit, kit_over

__all__ = ["NOW", "Clock", "Harness", "LogsWorld", "logs_world"]

NOW = 1_800_000_000_000  # milliseconds: 2027-01-15


@dataclass
class Clock:
    now: int = NOW

    def __call__(self) -> int:
        return self.now


@dataclass
class LogsWorld:
    kit: Kit
    store: LogStore
    service: LogsService
    clock: Clock


def logs_world(
    directory: Path, limits: LogsLimits | None = None, store: LogStore | None = None
) -> Iterator[LogsWorld]:
    """The service on a key file under ``directory`` (a fixture yields from it), over
    ``store`` (default: a new memory store)."""
    for kit in kit_over(directory):
        store = MemoryLogStore() if store is None else store
        clock = Clock()
        service = LogsService(store, LogKeySealer(kit.keys, kit.service), REGION, limits, clock)
        yield LogsWorld(kit, store, service, clock)


@dataclass
class Harness(Signers):
    app: LogsApp
    identity: IdentityService
    world: LogsWorld
    audit_store: MemoryAuditStore
    audit: AuditService
    billing: BillingService
    credentials: Credentials | None
    tenant_id: str
    insights: InsightsService | None = None

    async def call(self, operation: str, params: dict[str, Any] | bytes) -> JsonReply:
        return await signed_json_post(
            self.app,
            f"Logs_20140328.{operation}",
            params,
            content_type=CONTENT_TYPE,
            credentials=self.credentials,
            service="logs",
            region=REGION,
        )

    async def ok(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        reply = await self.call(operation, params)
        assert reply.status == 200, reply.body
        return reply.json()


async def harness_over(
    world: LogsWorld, tmp_path: Path, exports: ExportService | None = None
) -> Harness:
    settings = Settings(data_dir=tmp_path, region=REGION, logs_max_body_size=256 * 1024)
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    boot = await identity.bootstrap()
    assert boot is not None
    audit_store = MemoryAuditStore()
    audit = AuditService(audit_store)
    billing = BillingService(MemoryBillingStore(), region=REGION, instance_types=[])
    # Logs Insights over an in-memory query store, its read bytes metered as the wiring does.
    insights = InsightsService(
        world.service,
        MemoryQueryStore(),
        scanned=lambda tenant, size: billing.count(tenant, REGION, "logs.scanned", size),
        clock=world.clock,
    )
    app = LogsApp(
        world.service,
        identity,
        audit,
        settings,
        billing=billing,
        insights=insights,
        exports=exports,
        # Live tail sessions short enough for a call to read the whole stream.
        live_tails=LiveTails(world.service, LiveTailLimits(max_session=0.3, interval=0.02)),
    )
    return Harness(
        app,
        identity,
        world,
        audit_store,
        audit,
        billing,
        Credentials(boot.access_key_id, boot.secret_access_key),
        boot.tenant.id,
        insights,
    )
