"""Decision 0265's regional views over every DynamoDB store (memory, SQLite, PostgreSQL): a
table of one name in two regions kept apart (its definition, items, listing, streams), the
home region's names as before, and a region's listing paged within its own tables."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.dynamodb.memory import MemoryDynamoStore
from andromede.dynamodb.model import BillingMode, KeyElement, StoredItem, Table
from andromede.dynamodb.regional_store import RegionalStore, stored_name
from andromede.dynamodb.store import DynamoStore
from andromede.dynamodb.store_sql import SqlDynamoStore
from andromede.dynamodb.streams import Stream, StreamViewType
from support.store_backends import BACKENDS, backend_database

PARIS, BERLIN = "eu-fr-1", "eu-de-1"


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[DynamoStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryDynamoStore() if db is None else SqlDynamoStore(db)


def table(name: str, region: str) -> Table:
    return Table(
        tenant_id="t1", name=name, region=region, created=1_800_000_000_000,
        hash_key=KeyElement("pk", "S"), sort_key=None, attributes=(KeyElement("pk", "S"),),
        billing_mode=BillingMode.PAY_PER_REQUEST, read_capacity=0, write_capacity=0,
        wrapped_key=os.urandom(16),
    )  # fmt: skip


async def test_regions_kept_apart(store: DynamoStore) -> None:
    paris, berlin = RegionalStore(store, PARIS, PARIS), RegionalStore(store, BERLIN, PARIS)
    assert stored_name(PARIS, PARIS, "orders") == "orders"
    for name in ("zebra", "orders", "alpha"):
        await paris.create_table(table(name, PARIS), 100)
    for name in ("orders", "beta"):
        await berlin.create_table(table(name, BERLIN), 100)
    assert await paris.table_names("t1", None, 10) == ["alpha", "orders", "zebra"]
    assert await berlin.table_names("t1", None, 10) == ["beta", "orders"]
    assert await berlin.table_names("t1", "beta", 10) == ["orders"]
    assert await berlin.table_names("t1", None, 1) == ["beta"]
    assert await store.get_table("t1", "orders") is not None  # the home's as before
    held = await berlin.get_table("t1", "orders")
    assert held is not None and held.name == "orders" and held.region == BERLIN
    assert held.arn == f"arn:aws:dynamodb:{BERLIN}:t1:table/orders"
    changed = dataclasses.replace(held, revision=2, replicas=((PARIS, "ACTIVE"),))
    assert await berlin.replace_table(changed)
    again = await berlin.get_table("t1", "orders")
    assert again is not None and again.replicas == ((PARIS, "ACTIVE"),)
    paris_orders = await paris.get_table("t1", "orders")
    assert paris_orders is not None and paris_orders.replicas == ()
    row = StoredItem(b"h" * 32, b"", b"sealed", 10)
    assert await berlin.put_item("t1", "orders", row, 0)
    assert await paris.get_item("t1", "orders", row.hash_token, b"") is None
    assert await berlin.get_item("t1", "orders", row.hash_token, b"") is not None
    assert await berlin.usage("t1", "orders") == (1, 10)
    stream = Stream(
        tenant_id="t1", table_name="orders", label="2027-01-15T08:00:00.000", region=BERLIN,
        created=1_800_000_000_000, view_type=StreamViewType.NEW_AND_OLD_IMAGES,
        hash_key=held.hash_key, sort_key=None, table_created=held.created,
        wrapped_key=held.wrapped_key, iterator_key=os.urandom(32),
        next_sequence=1_800_000_000_000_000_001, trimmed_to=1_800_000_000_000_000_001,
    )  # fmt: skip
    await berlin.create_stream(stream)
    assert [s.table_name for s in await berlin.list_streams("t1", None, None, 10)] == ["orders"]
    assert await paris.list_streams("t1", None, None, 10) == []
    got = await berlin.get_stream("t1", "orders", stream.label)
    assert got is not None and got.table_name == "orders"
    assert await berlin.delete_table("t1", "orders")
    assert await paris.get_table("t1", "orders") is not None
    assert await berlin.table_names("t1", None, 10) == ["beta"]
