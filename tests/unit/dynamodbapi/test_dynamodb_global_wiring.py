"""Decision 0265's wiring in ``serve``'s DynamoDB factory, over SQLite: two declared regions
give the app a service per region and a replicator in the upkeep, which carries a write of
the home region into the replica at ``dynamodb_replication_interval``; one region wires none."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.db.database import open_database
from andromede.dynamodb.global_tables import ReplicaUpdate
from andromede.dynamodb.model import BillingMode, KeyElement
from andromede.dynamodb.regional_store import RegionalStore
from andromede.dynamodbapi.app import DynamoApp
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.settings import Settings
from andromede.wiring.dynamodb import dynamodb_api
from support.keys import key_service_in
from support.schema import migrated_sqlite

ACCOUNT = "111111111111"


async def test_serve_wires_a_replicator_per_gateway(tmp_path: Path) -> None:
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    settings = Settings(
        data_dir=tmp_path / "data",
        region="eu-fr-1",
        regions=[{"name": "eu-fr-1"}, {"name": "eu-de-1"}],
        dynamodb_replication_interval=0.05,
    )
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    audit = AuditService(MemoryAuditStore())
    apis: dict[str, Any] = {}
    try:
        task, forget = dynamodb_api(
            apis, settings, db, key_service_in(tmp_path / "keys"), identity, audit, None, None
        )
        app = apis["dynamodb"]
        assert isinstance(app, DynamoApp) and app.global_tables is not None
        assert sorted(app.regions) == ["eu-de-1", "eu-fr-1"]
        assert isinstance(app.service.store, RegionalStore)
        paris = app.service
        table = await paris.create_table(
            ACCOUNT, "tab", KeyElement("pk", "S"), None, [KeyElement("pk", "S")],
            BillingMode.PAY_PER_REQUEST, 0, 0, [], False,
        )  # fmt: skip
        table = await app.global_tables.apply(table, [ReplicaUpdate("Create", "eu-de-1")])
        assert table.replicas == (("eu-de-1", "CREATING"),)  # copied by the upkeep (0291)
        await paris.put_item(table, {"pk": {"S": "a"}}, None)
        berlin = app.global_tables.service("eu-de-1")
        replica = await berlin.table(ACCOUNT, "tab")
        for _ in range(100):  # the upkeep's next passes
            if await berlin.get_item(replica, {"pk": {"S": "a"}}, True) is not None:
                break
            await asyncio.sleep(0.05)
        assert await berlin.get_item(replica, {"pk": {"S": "a"}}, True) == {"pk": {"S": "a"}}
        assert await paris.table_names(ACCOUNT, None, 10) == ["tab"]
        assert await berlin.table_names(ACCOUNT, None, 10) == ["tab"]
        await forget(ACCOUNT)
        assert await app.global_tables.store.members(ACCOUNT, "tab") == {}
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        await db.close()


async def test_one_region_wires_no_replicator(tmp_path: Path) -> None:
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    settings = Settings(data_dir=tmp_path / "data", region="eu-fr-1")
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    apis: dict[str, Any] = {}
    try:
        task, _ = dynamodb_api(
            apis, settings, db, key_service_in(tmp_path / "keys"), identity,
            AuditService(MemoryAuditStore()), None, None,
        )  # fmt: skip
        app = apis["dynamodb"]
        assert isinstance(app, DynamoApp)
        assert app.global_tables is None and app.regions == {}
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        await db.close()
