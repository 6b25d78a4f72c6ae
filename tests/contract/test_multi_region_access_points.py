"""The Multi-Region Access Point store (decision 0385) on memory, SQLite and PostgreSQL:
created once per account and name within the quota, found by its alias from any account,
listed by name page by page, its policy and routes changed, deleted; the asynchronous
requests recorded and read back by their token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from andromede.storage.model import PublicAccessBlock
from andromede.storage.multi_region_access_points import (
    PASSIVE,
    AsyncOperation,
    MemoryMultiRegionAccessPointStore,
    MultiRegionAccessPoint,
    MultiRegionAccessPointExists,
    MultiRegionAccessPointQuotaExceeded,
    MultiRegionAccessPointStore,
    MultiRegionRoute,
    SqlMultiRegionAccessPointStore,
    new_alias,
)
from support.store_backends import BACKENDS, backend_database

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)
ROUTES = (
    MultiRegionRoute("fr-bucket", "111111111111", "eu-fr-1"),
    MultiRegionRoute("de-bucket", "222222222222", "eu-de-1"),
)


@pytest.fixture(params=BACKENDS)
async def store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[MultiRegionAccessPointStore]:
    async with backend_database(request, tmp_path) as db:
        yield (
            MemoryMultiRegionAccessPointStore()
            if db is None
            else SqlMultiRegionAccessPointStore(db)
        )


def point(name: str, tenant: str = "111111111111") -> MultiRegionAccessPoint:
    return MultiRegionAccessPoint(
        tenant_id=tenant,
        name=name,
        alias=new_alias(),
        routes=ROUTES,
        public_access_block=PublicAccessBlock(True, False, True, False),
        created_at=NOW,
    )


async def test_create_find_change_and_delete(store: MultiRegionAccessPointStore) -> None:
    created = point("docs")
    await store.create(created, quota=10)
    assert await store.get("111111111111", "docs") == created
    assert await store.by_alias(created.alias) == created
    assert await store.get("222222222222", "docs") is None
    with pytest.raises(MultiRegionAccessPointExists):
        await store.create(point("docs"), quota=10)
    await store.create(point("docs", tenant="222222222222"), quota=10)

    assert await store.set_policy("111111111111", "docs", '{"Statement": []}')
    dialled = (ROUTES[0].__class__("fr-bucket", "111111111111", "eu-fr-1", PASSIVE), ROUTES[1])
    assert await store.set_routes("111111111111", "docs", dialled)
    found = await store.get("111111111111", "docs")
    assert found is not None
    assert found.policy == '{"Statement": []}' and found.routes == dialled
    assert not found.routes[0].active and found.routes[1].active
    assert not await store.set_routes("111111111111", "nothing", dialled)

    assert await store.delete("111111111111", "docs")
    assert not await store.delete("111111111111", "docs")
    assert await store.by_alias(created.alias) is None


async def test_quota_and_pages(store: MultiRegionAccessPointStore) -> None:
    for name in ("a-one", "b-two", "c-three"):
        await store.create(point(name), quota=3)
    with pytest.raises(MultiRegionAccessPointQuotaExceeded):
        await store.create(point("d-four"), quota=3)
    first = await store.list("111111111111", after=None, limit=2)
    assert [p.name for p in first] == ["a-one", "b-two"]
    rest = await store.list("111111111111", after="b-two", limit=2)
    assert [p.name for p in rest] == ["c-three"]
    assert await store.list("222222222222", after=None, limit=2) == []


async def test_operations_are_kept_by_token(store: MultiRegionAccessPointStore) -> None:
    operation = AsyncOperation(
        tenant_id="111111111111",
        token="arn:aws:s3:eu-fr-1:111111111111:async-request/mrap/create/abc",
        operation="CreateMultiRegionAccessPoint",
        details='{"Name": "docs"}',
        regions=("eu-fr-1", "eu-de-1"),
        created_at=NOW,
    )
    await store.record(operation)
    assert await store.operation("111111111111", operation.token) == operation
    assert await store.operation("222222222222", operation.token) is None
