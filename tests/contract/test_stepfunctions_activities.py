"""Decision 0271's activity store over every implementation (memory, SQLite, PostgreSQL):
one name an account and Region (the one there answered), the account's bound, pages by
name, deletion, a closed tenant's forgotten."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.stepfunctions.activities import Activity
from andromede.stepfunctions.activity_store import ActivityStore, MemoryActivityStore
from andromede.stepfunctions.activity_store_sql import SqlActivityStore
from andromede.stepfunctions.errors import ActivityLimitExceeded
from support.store_backends import BACKENDS, backend_database

T0 = 1_800_000_000_000


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ActivityStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryActivityStore() if db is None else SqlActivityStore(db)


async def test_activities_kept(store: ActivityStore) -> None:
    made = Activity("000000000001", "eu-fr-1", "b", T0, (("t", "1"),))
    assert await store.create(made, 2) is None
    assert await store.create(Activity("000000000001", "eu-fr-1", "b", T0 + 1), 2) == made
    assert await store.create(Activity("000000000001", "eu-fr-1", "a", T0), 2) is None
    with pytest.raises(ActivityLimitExceeded):
        await store.create(Activity("000000000001", "eu-fr-1", "c", T0), 2)
    assert await store.create(Activity("000000000001", "eu-fr-2", "c", T0), 2) is None
    assert await store.get("000000000001", "eu-fr-1", "b") == made
    assert [a.name for a in await store.activities("000000000001", "eu-fr-1", None, 1)] == ["a"]
    assert [a.name for a in await store.activities("000000000001", "eu-fr-1", "a", 5)] == ["b"]
    assert await store.set_tags("000000000001", "eu-fr-1", "b", (("x", "y"),))
    changed = await store.get("000000000001", "eu-fr-1", "b")
    assert changed is not None and changed.tags == (("x", "y"),)
    assert not await store.set_tags("000000000001", "eu-fr-1", "zzz", ())
    assert await store.delete("000000000001", "eu-fr-1", "a")
    assert not await store.delete("000000000001", "eu-fr-1", "a")
    assert await store.forget_tenant("000000000001") == 2
    assert await store.get("000000000001", "eu-fr-1", "b") is None
