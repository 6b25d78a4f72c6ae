"""Decision 0300's asynchronous invocation configuration store over every implementation
(memory, SQLite, PostgreSQL): kept per function and qualifier and read back whole (the
unset members unset), replaced by a second put, listed by qualifier, deleted one qualifier
or the whole function's, and a closed tenant's forgotten — never another account's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.functions.invoke_configs import (
    EventInvokeConfig,
    InvokeConfigStore,
    MemoryInvokeConfigStore,
)
from andromede.functions.invoke_configs_sql import SqlInvokeConfigStore
from support.store_backends import BACKENDS, backend_database

ONE = "000000000001"
TWO = "000000000002"


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[InvokeConfigStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryInvokeConfigStore() if db is None else SqlInvokeConfigStore(db)


def config(qualifier: str = "$LATEST", tenant_id: str = ONE, name: str = "fn") -> EventInvokeConfig:
    return EventInvokeConfig(
        tenant_id=tenant_id,
        name=name,
        qualifier=qualifier,
        maximum_retry_attempts=0,
        maximum_event_age=120,
        on_success=f"arn:aws:sqs:eu-fr-1:{tenant_id}:ok",
        on_failure=f"arn:aws:events:eu-fr-1:{tenant_id}:event-bus/default",
        last_modified=1234,
    )


async def test_kept_read_back_and_replaced(store: InvokeConfigStore) -> None:
    await store.put(config())
    assert await store.get(ONE, "fn", "$LATEST") == config()
    assert await store.get(TWO, "fn", "$LATEST") is None
    assert await store.get(ONE, "fn", "live") is None
    bare = EventInvokeConfig(ONE, "fn", "$LATEST", last_modified=99)
    await store.put(bare)
    again = await store.get(ONE, "fn", "$LATEST")
    assert again == bare and again.maximum_retry_attempts is None and again.retries == 2
    assert again.max_age_ms == 21_600_000


async def test_listed_and_deleted_by_qualifier_or_function(store: InvokeConfigStore) -> None:
    for qualifier in ("live", "$LATEST", "3"):
        await store.put(config(qualifier))
    await store.put(config(name="other"))
    await store.put(config(tenant_id=TWO))
    assert [c.qualifier for c in await store.configs(ONE, "fn")] == ["$LATEST", "3", "live"]
    assert await store.delete(ONE, "fn", "3") == 1
    assert [c.qualifier for c in await store.configs(ONE, "fn")] == ["$LATEST", "live"]
    assert await store.delete(ONE, "fn", None) == 2
    assert await store.configs(ONE, "fn") == []
    assert await store.get(ONE, "other", "$LATEST") is not None
    assert await store.get(TWO, "fn", "$LATEST") is not None


async def test_a_closed_tenants_forgotten(store: InvokeConfigStore) -> None:
    await store.put(config())
    await store.put(config(name="b"))
    await store.put(config(tenant_id=TWO))
    assert await store.forget_tenant(ONE) == 2
    assert await store.configs(ONE, "fn") == [] and await store.configs(ONE, "b") == []
    assert await store.get(TWO, "fn", "$LATEST") == config(tenant_id=TWO)
