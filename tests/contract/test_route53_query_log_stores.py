"""Decision 0305's query logging configuration store over every implementation (memory,
SQLite, PostgreSQL): a configuration kept as written and found only by its account; one a
hosted zone (a second refused, whichever account); deleted by id, with its zone, and with a
closed tenant; every account's listed for the name servers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.route53.errors import QueryLoggingConfigAlreadyExists
from andromede.route53.query_log_store_sql import SqlQueryLogStore
from andromede.route53.query_logging import (
    MemoryQueryLogStore,
    QueryLoggingConfig,
    QueryLogStore,
)
from support.store_backends import BACKENDS, backend_database

A1, A2 = "000000000001", "000000000002"
GROUP = "arn:aws:logs:eu-west-1:000000000001:log-group:/aws/route53/example.com"


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[QueryLogStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryQueryLogStore() if db is None else SqlQueryLogStore(db)


def config(config_id: str, zone_id: str, tenant_id: str = A1) -> QueryLoggingConfig:
    return QueryLoggingConfig(config_id, tenant_id, zone_id, GROUP, 1_800_000_000_000)


async def test_kept_one_a_zone_and_found_by_its_account(store: QueryLogStore) -> None:
    first = config("c-1", "Z1")
    await store.create(first)
    assert await store.get(A1, "c-1") == first
    assert first.group_name == "/aws/route53/example.com"
    assert await store.get(A2, "c-1") is None
    with pytest.raises(QueryLoggingConfigAlreadyExists):
        await store.create(config("c-2", "Z1"))
    with pytest.raises(QueryLoggingConfigAlreadyExists):
        await store.create(config("c-3", "Z1", A2))
    await store.create(config("c-0", "Z2"))
    await store.create(config("c-9", "Z3", A2))
    assert [c.config_id for c in await store.configs(A1)] == ["c-0", "c-1"]
    assert sorted(c.config_id for c in await store.every()) == ["c-0", "c-1", "c-9"]


async def test_deleted_by_id_with_its_zone_and_with_the_tenant(store: QueryLogStore) -> None:
    for made in (config("c-1", "Z1"), config("c-2", "Z2"), config("c-3", "Z3", A2)):
        await store.create(made)
    assert not await store.delete(A2, "c-1")  # not the caller's
    assert await store.delete(A1, "c-1")
    assert not await store.delete(A1, "c-1")
    assert await store.get(A1, "c-1") is None
    await store.create(config("c-4", "Z1"))  # the zone may log again
    assert await store.delete_for_zone(A2, "Z2") == 0
    assert await store.delete_for_zone(A1, "Z2") == 1
    assert await store.forget_tenant(A1) == 1
    assert [c.config_id for c in await store.every()] == ["c-3"]
