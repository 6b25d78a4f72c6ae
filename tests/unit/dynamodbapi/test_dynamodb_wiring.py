"""Decision 0237's wiring: ``serve``'s factory (the app, the SQL store, the time-to-live
upkeep and its pruning of stream records (decision 0246), the closed tenant forgotten), the
settings' limits reach the service (tables per account, item size), the meter carries
eventually consistent halves until they make a unit, and the sealer's keys go with a
destroyed ring (crypto-shredding) and with a closed tenant."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from andromede.api_routing import api_service
from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.db.database import open_database
from andromede.dynamodb.backup_store_sql import SqlBackupStore
from andromede.dynamodb.model import BillingMode, KeyElement, Table
from andromede.dynamodb.store_sql import SqlDynamoStore
from andromede.dynamodb.stream_service import enable_stream
from andromede.dynamodb.streams import StreamViewType
from andromede.dynamodbapi.app import DynamoApp
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.settings import Settings
from andromede.wiring.dynamodb import (
    READ_UNITS,
    WRITE_UNITS,
    DynamoMeter,
    dynamodb_api,
    dynamodb_limits,
    throughput_limits,
)
from support.dynamodbapp import World, dynamodb_world
from support.keys import key_service_in
from support.schema import migrated_sqlite


def test_the_settings_limits_reach_the_service(tmp_path: Path) -> None:
    limits = dynamodb_limits(
        Settings(data_dir=tmp_path, dynamodb_max_tables=7, dynamodb_max_item_size=1000)
    )
    assert (limits.max_tables, limits.max_item_size) == (7, 1000)
    default = dynamodb_limits(Settings(data_dir=tmp_path))
    assert (default.max_tables, default.max_item_size) == (2500, 400 * 1024)


async def test_the_item_size_setting_bounds_items(tmp_path: Path) -> None:
    async for world in dynamodb_world(tmp_path, dynamodb_max_item_size=100):
        await world.table()
        await world.client(
            "PutItem", TableName="things", Item={"pk": {"S": "a"}, "v": {"S": "x" * 90}}
        )
        await world.fails(
            "PutItem",
            "ValidationException",
            TableName="things",
            Item={"pk": {"S": "a"}, "v": {"S": "x" * 100}},
        )


class _Counting:
    def __init__(self) -> None:
        self.counted: list[tuple[str, int]] = []

    def count(self, tenant_id: str, region: str, meter: str, quantity: int = 1) -> None:
        self.counted.append((meter, quantity))


def test_the_throughput_settings_reach_the_enforcement() -> None:
    limits = throughput_limits(
        Settings(
            dynamodb_burst_seconds=30,
            dynamodb_capacity_gateways=3,
            dynamodb_table_max_read_capacity=10,
            dynamodb_table_max_write_capacity=11,
            dynamodb_account_max_read_capacity=20,
            dynamodb_account_max_write_capacity=21,
            dynamodb_on_demand_max_read=30,
            dynamodb_on_demand_max_write=31,
            dynamodb_capacity_enforced=False,
        )
    )
    assert (limits.burst_seconds, limits.gateways, limits.enforced) == (30, 3, False)
    assert (limits.table_max_read, limits.table_max_write) == (10, 11)
    assert (limits.account_max_read, limits.account_max_write) == (20, 21)
    assert (limits.on_demand_max_read, limits.on_demand_max_write) == (30, 31)


def test_the_meter_carries_halves() -> None:
    billing = _Counting()
    meter = DynamoMeter(billing, "eu-fr-1")  # type: ignore[arg-type]
    table = Table(
        "t",
        "tab",
        "eu-fr-1",
        0,
        KeyElement("pk", "S"),
        None,
        (),
        BillingMode.PAY_PER_REQUEST,
        0,
        0,
        b"k",
    )
    meter.consumed(table, 0.5, 0)
    assert billing.counted == []
    meter.consumed(table, 0.5, 2)
    assert billing.counted == [(READ_UNITS, 1), (WRITE_UNITS, 2)]


async def test_a_destroyed_key_ring_makes_the_items_unreadable(world: World) -> None:
    await world.table()
    await world.client("PutItem", TableName="things", Item={"pk": {"S": "a"}})
    world.keys.destroy_tenant_key(world.tenant_id)
    reply = await world.raw("GetItem", {"TableName": "things", "Key": {"pk": {"S": "a"}}})
    assert reply.status == 400 and reply.json()["__type"].endswith("#AccessDeniedException")
    assert "KeyDestroyed" in reply.json()["message"]


def test_dynamodb_calls_are_routed_to_dynamodb_signed_or_not() -> None:
    signed = {
        "type": "http", "path": "/", "query_string": b"",
        "headers": [(b"authorization", b"AWS4-HMAC-SHA256 Credential=AK/20261206/eu-fr-1/dynamodb/"
                     b"aws4_request, SignedHeaders=host, Signature=00")],
    }  # fmt: skip
    assert api_service(signed) == "dynamodb"
    unsigned = {**signed, "headers": [(b"x-amz-target", b"DynamoDB_20120810.ListTables")]}
    assert api_service(unsigned) == "dynamodb"  # refused in DynamoDB's words, not S3's
    streams = {**signed, "headers": [(b"x-amz-target", b"DynamoDBStreams_20120810.GetRecords")]}
    assert api_service(streams) == "dynamodb"  # decision 0246: Streams' calls too


async def test_serve_wires_dynamodb_over_the_database(tmp_path: Path) -> None:
    """The factory ``serve`` calls: the app under ``dynamodb``, the SQL store, the time-to-live
    upkeep deleting expired items at its interval, and what closing a tenant forgets."""
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    settings = Settings(
        data_dir=tmp_path / "data",
        region="eu-fr-1",
        dynamodb_ttl_interval=0.05,
        dynamodb_stream_retention=0.2,
    )
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    audit = AuditService(MemoryAuditStore())
    keys = key_service_in(tmp_path / "keys")
    apis: dict[str, Any] = {}
    try:
        task, forget = dynamodb_api(apis, settings, db, keys, identity, audit, None, None)
        app = apis["dynamodb"]
        assert isinstance(app, DynamoApp) and isinstance(app.service.store, SqlDynamoStore)
        assert app.service.throttle is not None  # decision 0267, the settings' limits
        assert app.service.throttle.limits == throughput_limits(settings)
        dynamodb = app.service
        table = await dynamodb.create_table(
            "111111111111",
            "tab",
            KeyElement("pk", "S"),
            None,
            [KeyElement("pk", "S")],
            BillingMode.PAY_PER_REQUEST,
            0,
            0,
            [],
            False,
        )
        table = await dynamodb.enable_ttl(table, "exp")
        table = await enable_stream(dynamodb, table, StreamViewType.KEYS_ONLY)
        await dynamodb.put_item(table, {"pk": {"S": "old"}, "exp": {"N": "1"}}, None)
        await dynamodb.put_item(table, {"pk": {"S": "new"}}, None)
        for _ in range(100):  # the upkeep's next rounds
            if await dynamodb.usage(table) == (1, 5):
                break
            await asyncio.sleep(0.05)
        assert await dynamodb.usage(table) == (1, 5)  # "pk" and "new" left
        label = table.stream_label
        assert label is not None
        changes = await dynamodb.store.read_changes("111111111111", "tab", label, 0, 9, 1 << 20)
        for _ in range(100):  # the stream's records pruned past the retention (decision 0246)
            if not changes:
                break
            await asyncio.sleep(0.05)
            changes = await dynamodb.store.read_changes("111111111111", "tab", label, 0, 9, 1 << 20)
        assert changes == []
        backups = app.backups  # decision 0253: over the same database, forgotten with the tenant
        assert backups is not None and isinstance(backups.store, SqlBackupStore)
        made = await backups.create(table, "before-close")
        assert (made.item_count, made.size) == (1, 5)
        assert await forget("111111111111") == 1
        assert await dynamodb.table_names("111111111111", None, 10) == []
        assert await backups.store.get_backup("111111111111", made.backup_id) is None
        assert await dynamodb.store.list_streams("111111111111", None, None, 10) == []
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        await audit.close()
        await db.close()
