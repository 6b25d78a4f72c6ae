"""Decision 0295's wiring: ``serve`` with the queues serves the event source mappings over
the database and starts their poller beside the Event invocations' worker, with the
settings' pace and lease; a closed tenant's mappings are forgotten."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.db.database import open_database
from andromede.functions.mappings import EventSourceMapping
from andromede.functions.mappings_sql import SqlMappingStore
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.service import KeyService
from andromede.queues.memory import MemoryQueueStore
from andromede.queues.service import QueueService
from andromede.settings import Settings
from andromede.wiring.functions import lambda_api, mapping_poll_policy
from andromede.wiring.queues import KeySealer
from support.schema import migrated_sqlite


def test_the_pollers_pace_and_lease_are_the_settings(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, lambda_mapping_poll_interval=0.25, lambda_mapping_lease_seconds=30
    )
    assert mapping_poll_policy(settings) == (0.25, 30_000)
    assert mapping_poll_policy(Settings(data_dir=tmp_path)) == (1.0, 60_000)
    with pytest.raises(ValidationError):
        Settings(data_dir=tmp_path, lambda_mapping_lease_seconds=4)
    with pytest.raises(ValidationError):
        Settings(data_dir=tmp_path, lambda_mapping_poll_interval=0)


async def test_serve_polls_the_mappings(tmp_path: Path) -> None:
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    settings = Settings(data_dir=tmp_path / "data", region="eu-fr-1")
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    boot = await identity.bootstrap()
    assert boot is not None
    keys = KeyService(LocalKeyFileProvider(tmp_path / "keys"))
    audit = AuditService(MemoryAuditStore())
    queues = QueueService(MemoryQueueStore(), KeySealer(keys), region="eu-fr-1")
    apis: dict[str, Any] = {}
    background: list[asyncio.Task[None]] = []
    forget = lambda_api(apis, settings, db, keys, identity, audit, None, None, None, None,
        background, queues=queues)  # fmt: skip
    names = [t.get_name() for t in background]
    assert names == ["lambda-api-relay", "object-lambda", "lambda-events", "lambda-sandboxes",
        "lambda-mappings", "lambda-provisioned"]  # fmt: skip
    try:
        tenant = boot.tenant.id
        store = SqlMappingStore(db)
        await store.add(
            EventSourceMapping(
                uuid="u1", tenant_id=tenant, function_name="gone", qualifier=None,
                function_arn=f"arn:aws:lambda:eu-fr-1:{tenant}:function:gone",
                source_arn=f"arn:aws:sqs:eu-fr-1:{tenant}:q", source_kind="sqs",
                state="Creating", last_modified=0,
            )
        )  # fmt: skip
        for _ in range(100):  # the poller settles it, then finds its function gone
            found = await store.get(tenant, "u1")
            if found is not None and found.last_result.startswith("PROBLEM"):
                break
            await asyncio.sleep(0.05)
        assert found is not None and found.state == "Enabled" and found.lease_owner
        await forget(tenant)
        assert await store.mappings(tenant) == []
    finally:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await audit.close()
        keys.close()
        await db.close()
