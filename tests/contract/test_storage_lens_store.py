"""The Storage Lens configuration store (decision 0415) on memory, SQLite and PostgreSQL:
put creates or replaces within the account's quota, tags kept or replaced, listings by id
and account, the enabled ones across accounts, and the export's claim of a period."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from andromede.storage.storage_lens import (
    MemoryStorageLensStore,
    SqlStorageLensStore,
    StorageLensQuotaExceeded,
    StorageLensRecord,
    StorageLensStore,
)
from support.store_backends import BACKENDS, backend_database

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)
A, B = "111111111111", "222222222222"


def record(tenant: str, config_id: str, *, enabled: bool = True) -> StorageLensRecord:
    return StorageLensRecord(
        tenant, config_id, enabled, f"<StorageLensConfiguration><Id>{config_id}</Id>"
        "</StorageLensConfiguration>", (("team", "data"),), NOW
    )  # fmt: skip


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StorageLensStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryStorageLensStore() if db is None else SqlStorageLensStore(db)


async def test_put_replaces_within_the_quota(store: StorageLensStore) -> None:
    await store.put(record(A, "dash"), quota=2, keep_tags=False)
    await store.put(record(A, "more"), quota=2, keep_tags=False)
    with pytest.raises(StorageLensQuotaExceeded):
        await store.put(record(A, "third"), quota=2, keep_tags=False)
    await store.put(record(B, "third"), quota=2, keep_tags=False)  # another account's count
    changed = replace(record(A, "dash", enabled=False), tags=())
    await store.put(changed, quota=2, keep_tags=True)  # a replacement is not a new one
    found = await store.get(A, "dash")
    assert found is not None
    assert (found.is_enabled, found.tags) == (False, (("team", "data"),))
    await store.put(changed, quota=2, keep_tags=False)
    found = await store.get(A, "dash")
    assert found is not None and found.tags == ()
    assert found.document == changed.document and found.updated_at == NOW
    assert found.arn("eu-west-3") == f"arn:aws:s3:eu-west-3:{A}:storage-lens/dash"


async def test_listed_by_account_and_id(store: StorageLensStore) -> None:
    for tenant, config_id in ((A, "b"), (A, "a"), (A, "c"), (B, "a")):
        await store.put(record(tenant, config_id, enabled=config_id != "b"), quota=5,
            keep_tags=False)  # fmt: skip
    assert [r.config_id for r in await store.list(A, after=None, limit=2)] == ["a", "b"]
    assert [r.config_id for r in await store.list(A, after="b", limit=2)] == ["c"]
    assert [(r.tenant_id, r.config_id) for r in await store.enabled()] == [
        (A, "a"), (A, "c"), (B, "a")
    ]  # fmt: skip
    assert await store.get(B, "b") is None
    assert await store.set_tags(A, "a", (("k", "v"),))
    assert not await store.set_tags(B, "b", ())
    found = await store.get(A, "a")
    assert found is not None and found.tags == (("k", "v"),)
    assert await store.delete(A, "a")
    assert not await store.delete(A, "a")
    assert await store.get(A, "a") is None


async def test_an_exports_period_is_claimed_once(store: StorageLensStore) -> None:
    await store.put(record(A, "dash"), quota=5, keep_tags=False)
    later = NOW + timedelta(hours=1)
    assert await store.claim_export(A, "dash", "2026-12-07", now=NOW, until=later)
    # Held: another gateway waits until the claim runs out, then takes it over.
    assert not await store.claim_export(A, "dash", "2026-12-07", now=NOW, until=later)
    again = later + timedelta(hours=1)
    assert await store.claim_export(A, "dash", "2026-12-07", now=later, until=again)
    await store.exported(A, "dash", "2026-12-07")
    far = later + timedelta(days=1)
    assert not await store.claim_export(A, "dash", "2026-12-07", now=far, until=far)
    assert await store.claim_export(A, "dash", "2026-12-08", now=NOW, until=later)
    assert not await store.claim_export(A, "nobody", "2026-12-08", now=NOW, until=later)
    # Replacing the configuration keeps what was exported.
    await store.exported(A, "dash", "2026-12-08")
    await store.put(record(A, "dash"), quota=5, keep_tags=True)
    assert not await store.claim_export(A, "dash", "2026-12-08", now=far, until=far)
