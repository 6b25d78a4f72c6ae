"""One suite over every AccessRequestStore: the in-memory twin, SQLite and PostgreSQL — requests
round-trip, list per tenant and per operator in the order opened, change state only by
compare-and-set on the stored state (a lapse racing an approval: one wins), and the sweeper
finds the pending requests opened before a time, and only those (decisions 0107, 0114)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from andromede.audit.access import AccessMode, AccessRequest, AccessState
from andromede.audit.access_store import AccessRequestStore, MemoryAccessRequestStore
from andromede.audit.access_store_sql import SqlAccessRequestStore
from andromede.db.database import Database, open_database
from andromede.iam.model import AccessKey, AccessKeyStatus, Operator, Tenant, TenantStatus, User
from andromede.iam.store_sql import SqlIdentityStore
from support.schema import migrated_sqlite

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[AccessRequestStore]:
    if request.param == "memory":
        yield MemoryAccessRequestStore()
        return
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = migrated_sqlite(tmp_path / "meta.db")
    db = open_database(url)
    await _tenants_and_operator(db)
    yield SqlAccessRequestStore(db)
    await db.close()


async def _tenants_and_operator(db: Database) -> None:
    """The rows the requests' foreign keys name."""
    identity = SqlIdentityStore(db)
    for n in (1, 2):
        tenant = Tenant(f"10000000000{n}", f"t{n}", TenantStatus.ACTIVE, T0)
        root = User(id=f"AIDA{n}", tenant_id=tenant.id, name="root", is_root=True, created_at=T0)
        key = AccessKey(f"AKIA{n:016d}", root.id, AccessKeyStatus.ACTIVE, T0)
        await identity.create_tenant_with_root(tenant, root, key, "v1:sealed")
    operator_key = AccessKey("AKIAOPERATOR00000001", "OP1", AccessKeyStatus.ACTIVE, T0)
    await identity.create_operator(Operator("OP1", "ops", T0), operator_key, "v1:op")


def request(n: int, tenant: int, opened: datetime) -> AccessRequest:
    return AccessRequest(
        id=f"oar-{n:020x}",
        tenant_id=f"10000000000{tenant}",
        operator_id="OP1",
        operator_name="ops",
        buckets=("photos",) if n % 2 else None,
        mode=AccessMode.READ_ONLY,
        reason=f"ticket {n}",
        duration_seconds=3600,
        status=AccessState.PENDING,
        created_at=opened,
        include_kms=n % 2 == 0,
    )


async def test_requests_round_trip_and_list_in_the_order_opened(store: AccessRequestStore) -> None:
    first, second, other = request(1, 1, T0), request(2, 1, T0 + timedelta(1)), request(3, 2, T0)
    for r in (second, other, first):
        await store.create(r)
    assert await store.get(first.id) == first
    assert await store.get("oar-" + "0" * 20) is None
    assert await store.list(tenant_id=first.tenant_id) == [first, second]
    assert await store.list(operator_id="OP1") == [first, other, second]
    assert await store.list(operator_id="OP2") == []


async def test_a_change_is_compare_and_set_on_the_stored_state(store: AccessRequestStore) -> None:
    pending = request(1, 1, T0)
    await store.create(pending)
    lapsed = replace(pending, status=AccessState.EXPIRED, decided_at=T0 + timedelta(days=7))
    approved = replace(pending, status=AccessState.APPROVED, decided_at=T0, decided_by="root")
    assert await store.replace(lapsed, AccessState.PENDING)
    assert not await store.replace(approved, AccessState.PENDING)  # lost to the lapse
    assert await store.get(pending.id) == lapsed


async def test_pending_requests_opened_before_a_time(store: AccessRequestStore) -> None:
    old = request(1, 1, T0)
    old_other_tenant = request(2, 2, T0 + timedelta(seconds=1))
    decided = request(3, 1, T0)
    recent = request(4, 1, T0 + timedelta(days=2))
    for r in (old, old_other_tenant, decided, recent):
        await store.create(r)
    await store.replace(replace(decided, status=AccessState.REFUSED), AccessState.PENDING)
    cutoff = T0 + timedelta(days=1)
    assert await store.pending_before(cutoff) == [old, old_other_tenant]
    assert await store.pending_before(T0) == []  # strictly before
