"""Decision 0185's dashboard store over every implementation (memory, SQLite, PostgreSQL): a
dashboard put, replaced and read back whole (its body byte for byte, its time to the
microsecond); counted and paged per account by name, after a name and under a
case-sensitive prefix; deleted all together or not at all."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from andromede.metrics.dashboards import Dashboard, DashboardStore, MemoryDashboardStore
from andromede.metrics.dashboards_sql import SqlDashboardStore
from support.store_backends import BACKENDS, backend_database

T0 = datetime(2026, 12, 5, 12, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[DashboardStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryDashboardStore() if db is None else SqlDashboardStore(db)


def dashboard(name: str, tenant: str = "t1", body: str = '{"widgets":[]}') -> Dashboard:
    return Dashboard(tenant, name, body, T0)


async def test_put_replace_get_count(store: DashboardStore) -> None:
    body = '{"widgets": [{"type": "text", "properties": {"markdown": "é ✓"}}]}'
    await store.put(dashboard("ops", body=body))
    assert await store.get("t1", "ops") == dashboard("ops", body=body)
    later = Dashboard("t1", "ops", "{}", datetime(2026, 12, 6, tzinfo=UTC))
    await store.put(later)
    assert await store.get("t1", "ops") == later
    assert await store.get("t2", "ops") is None
    await store.put(dashboard("ops", tenant="t2"))
    assert (await store.count("t1"), await store.count("t2"), await store.count("t3")) == (1, 1, 0)


async def test_pages_by_name_and_prefix(store: DashboardStore) -> None:
    for name in ("b-1", "a", "B-2", "b_3", "b-2"):
        await store.put(dashboard(name))
    await store.put(dashboard("b-0", tenant="t2"))
    names = [d.name for d in await store.page("t1", "", "", 10)]
    assert names == ["B-2", "a", "b-1", "b-2", "b_3"]  # byte order, as AWS lists
    assert [d.name for d in await store.page("t1", "b", "", 10)] == ["b-1", "b-2", "b_3"]
    assert [d.name for d in await store.page("t1", "b-", "b-1", 10)] == ["b-2"]
    assert [d.name for d in await store.page("t1", "", "a", 2)] == ["b-1", "b-2"]


async def test_delete_all_or_nothing(store: DashboardStore) -> None:
    for name in ("a", "b", "c"):
        await store.put(dashboard(name))
    await store.put(dashboard("d", tenant="t2"))
    assert await store.delete("t1", ["a", "d", "z"]) == ["d", "z"]
    assert await store.count("t1") == 3
    assert await store.delete("t1", ["a", "b", "a"]) == []
    assert [d.name for d in await store.page("t1", "", "", 10)] == ["c"]
    assert await store.count("t2") == 1
