"""Decision 0314's provisioned concurrency store over every implementation (memory, SQLite,
PostgreSQL): kept per function and qualifier and read back whole, replaced by a second put,
listed by function, by account and for every account, a gateway's status written only over
the configuration it warmed (not over a newer Put), deleted one qualifier or the whole
function's, and a closed tenant's forgotten — never another account's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.functions.provisioned import (
    MemoryProvisionedStore,
    ProvisionedConfig,
    ProvisionedStatus,
    ProvisionedStore,
)
from andromede.functions.provisioned_sql import SqlProvisionedStore
from support.store_backends import BACKENDS, backend_database

ONE = "000000000001"
TWO = "000000000002"


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ProvisionedStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryProvisionedStore() if db is None else SqlProvisionedStore(db)


def config(
    qualifier: str = "live", tenant_id: str = ONE, name: str = "fn", modified: int = 1000
) -> ProvisionedConfig:
    return ProvisionedConfig(tenant_id, name, qualifier, requested=3, last_modified=modified)


async def test_kept_read_back_and_replaced(store: ProvisionedStore) -> None:
    await store.put(config())
    assert await store.get(ONE, "fn", "live") == config()
    assert (await store.get(ONE, "fn", "live")).status is ProvisionedStatus.IN_PROGRESS  # type: ignore[union-attr]
    assert await store.get(TWO, "fn", "live") is None
    assert await store.get(ONE, "fn", "1") is None
    again = config(modified=2000).replaced(requested=7)
    await store.put(again)
    assert await store.get(ONE, "fn", "live") == again


async def test_a_status_is_written_over_the_config_it_was_for_only(
    store: ProvisionedStore,
) -> None:
    first = config()
    await store.put(first)
    assert await store.mark(first, ProvisionedStatus.READY, "", 3)
    ready = await store.get(ONE, "fn", "live")
    assert ready is not None and (ready.status, ready.allocated) == (ProvisionedStatus.READY, 3)
    newer = config(modified=5000).replaced(requested=5)
    await store.put(newer)
    assert not await store.mark(first, ProvisionedStatus.FAILED, "late", 0)
    kept = await store.get(ONE, "fn", "live")
    assert kept == newer
    assert await store.mark(newer, ProvisionedStatus.FAILED, "FUNCTION_ERROR_INIT_FAILURE", 0)
    failed = await store.get(ONE, "fn", "live")
    assert failed is not None and failed.status_reason == "FUNCTION_ERROR_INIT_FAILURE"
    assert not await store.mark(config(tenant_id=TWO), ProvisionedStatus.READY, "", 1)


async def test_listed_and_deleted_by_qualifier_or_function(store: ProvisionedStore) -> None:
    for qualifier in ("live", "1", "3"):
        await store.put(config(qualifier))
    await store.put(config(name="other"))
    await store.put(config(tenant_id=TWO))
    assert [c.qualifier for c in await store.configs(ONE, "fn")] == ["1", "3", "live"]
    assert [(c.name, c.qualifier) for c in await store.configs(ONE)] == [
        ("fn", "1"), ("fn", "3"), ("fn", "live"), ("other", "live")]  # fmt: skip
    assert len(await store.every()) == 5
    assert await store.delete(ONE, "fn", "3") == 1
    assert await store.delete(ONE, "fn", "3") == 0
    assert [c.qualifier for c in await store.configs(ONE, "fn")] == ["1", "live"]
    assert await store.delete(ONE, "fn", None) == 2
    assert await store.configs(ONE, "fn") == []
    assert [c.name for c in await store.configs(ONE)] == ["other"]
    assert await store.forget_tenant(ONE) == 1
    assert [c.tenant_id for c in await store.every()] == [TWO]
