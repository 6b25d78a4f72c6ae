"""Decision 0355: the global endpoints' store — the in-memory twin and the SQL store (SQLite,
migration 0152) through the same checks: a name per account and Region, the limit per
Region, the EndpointId found across Regions, pages by name and prefix, compare-and-set
changes, deletion, a closed account forgotten."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.db.database import open_database
from andromede.events.endpoint_model import (
    Endpoint,
    EndpointSettings,
    EndpointState,
    ReplicationState,
)
from andromede.events.endpoint_store import EndpointStore, MemoryEndpointStore
from andromede.events.endpoint_store_sql import SqlEndpointStore
from andromede.events.errors import LimitExceeded, ResourceAlreadyExists, ResourceNotFound
from support.schema import migrated_sqlite

A, B = "111111111111", "222222222222"


def endpoint(tenant: str, region: str, name: str, endpoint_id: str) -> Endpoint:
    settings = EndpointSettings(
        health_check="arn:aws:route53:::healthcheck/abc-1",
        secondary="eu-fr-1" if region != "eu-fr-1" else "eu-de-1",
        replication=ReplicationState.DISABLED,
        bus_arns=(
            f"arn:aws:events:{region}:{tenant}:event-bus/orders",
            f"arn:aws:events:eu-fr-1:{tenant}:event-bus/orders",
        ),
        role_arn=None,
        description="d",
    )
    return Endpoint(
        tenant, region, name, endpoint_id, settings, 1_700_000_000.123, 1_700_000_000.123
    )


@pytest.fixture(params=["memory", "sql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EndpointStore]:
    if request.param == "memory":
        yield MemoryEndpointStore()
        return
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    try:
        yield SqlEndpointStore(db)
    finally:
        await db.close()


async def test_endpoints_are_kept_per_account_and_region(store: EndpointStore) -> None:
    made = endpoint(A, "eu-de-1", "b-one", "aaaaaaaaaa.xyz")
    await store.create(made, limit=2)
    assert await store.get(A, "eu-de-1", "b-one") == made
    await store.create(endpoint(A, "eu-de-1", "a-two", "bbbbbbbbbb.xyz"), limit=2)
    with pytest.raises(ResourceAlreadyExists):
        await store.create(endpoint(A, "eu-de-1", "b-one", "cccccccccc.xyz"), limit=5)
    with pytest.raises(LimitExceeded):
        await store.create(endpoint(A, "eu-de-1", "c-three", "dddddddddd.xyz"), limit=2)
    # The limit and the names are a Region's; the EndpointId is found from any.
    await store.create(endpoint(A, "eu-es-1", "b-one", "eeeeeeeeee.xyz"), limit=2)
    await store.create(endpoint(B, "eu-de-1", "b-one", "ffffffffff.xyz"), limit=2)
    found = await store.by_id(A, "eeeeeeeeee.xyz")
    assert found is not None and found.region == "eu-es-1"
    assert await store.by_id(B, "aaaaaaaaaa.xyz") is None

    page = await store.list_page(A, "eu-de-1", "", "", 1)
    assert [e.name for e in page] == ["a-two"]
    page = await store.list_page(A, "eu-de-1", "", "a-two", 5)
    assert [e.name for e in page] == ["b-one"]
    assert [e.name for e in await store.list_page(A, "eu-de-1", "b", "", 5)] == ["b-one"]

    changed = await store.change(
        A, "eu-de-1", "b-one", lambda e: e.replaced(state=EndpointState.UPDATING, modified=2.5)
    )
    assert await store.get(A, "eu-de-1", "b-one") == changed
    assert changed.state is EndpointState.UPDATING and changed.created == made.created
    with pytest.raises(ResourceNotFound):
        await store.change(A, "eu-de-1", "nope", lambda e: e)
    assert await store.delete(A, "eu-de-1", "b-one") == changed
    with pytest.raises(ResourceNotFound):
        await store.delete(A, "eu-de-1", "b-one")
    assert await store.forget_tenant(A) == 2
    assert await store.by_id(A, "eeeeeeeeee.xyz") is None
    assert await store.by_id(B, "ffffffffff.xyz") is not None
