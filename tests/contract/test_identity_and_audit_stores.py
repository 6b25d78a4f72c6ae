"""One suite over every IdentityStore and every AuditStore: in-memory twins and SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from andromede.audit.model import AuditEvent, Outcome
from andromede.audit.store import AuditStore, MemoryAuditStore, SqlAuditStore
from andromede.db.database import Database, open_database
from andromede.db.migrate import upgrade
from andromede.iam.errors import TenantAlreadyExists
from andromede.iam.model import AccessKey, AccessKeyStatus, Tenant, TenantStatus, User
from andromede.iam.store import IdentityStore
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.iam.store_sql import SqlIdentityStore

T0 = datetime(2026, 11, 29, 10, 0, 0, 250000, tzinfo=UTC)


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    upgrade(url)
    db = open_database(url)
    yield db
    await db.close()


@pytest.fixture(params=["memory", "sqlite"])
def identity(request: pytest.FixtureRequest, database: Database) -> IdentityStore:
    return MemoryIdentityStore() if request.param == "memory" else SqlIdentityStore(database)


@pytest.fixture(params=["memory", "sqlite"])
def audit(request: pytest.FixtureRequest, database: Database) -> AuditStore:
    return MemoryAuditStore() if request.param == "memory" else SqlAuditStore(database)


def tenant_with_root(n: int) -> tuple[Tenant, User, AccessKey]:
    tenant = Tenant(id=f"10000000000{n}", name=f"t{n}", status=TenantStatus.ACTIVE, created_at=T0)
    root = User(id=f"AIDA{n}", tenant_id=tenant.id, name="root", is_root=True, created_at=T0)
    key = AccessKey(
        access_key_id=f"AKIA{n:016d}", user_id=root.id, status=AccessKeyStatus.ACTIVE, created_at=T0
    )
    return tenant, root, key


async def test_tenant_root_and_key_round_trip(identity: IdentityStore) -> None:
    assert await identity.count_tenants() == 0
    tenant, root, key = tenant_with_root(1)
    await identity.create_tenant_with_root(tenant, root, key, "v1:sealed")
    assert await identity.count_tenants() == 1
    assert await identity.get_tenant(tenant.id) == tenant
    assert await identity.get_entity_by_id(User, root.id) == root
    assert await identity.get_access_key(key.access_key_id) == (key, "v1:sealed")
    assert await identity.get_tenant("999999999999") is None
    assert await identity.get_entity_by_id(User, "AIDAnobody") is None
    assert await identity.get_access_key("AKIAnobody") is None


async def test_a_tenant_name_is_unique(identity: IdentityStore) -> None:
    tenant, root, key = tenant_with_root(1)
    await identity.create_tenant_with_root(tenant, root, key, "v1:a")
    other, other_root, other_key = tenant_with_root(2)
    clash = Tenant(id=other.id, name=tenant.name, status=other.status, created_at=T0)
    with pytest.raises(TenantAlreadyExists):
        await identity.create_tenant_with_root(clash, other_root, other_key, "v1:b")
    assert await identity.count_tenants() == 1
    assert await identity.get_access_key(other_key.access_key_id) is None  # nothing half-created


def event(n: int, tenant: str | None) -> AuditEvent:
    return AuditEvent(
        occurred_at=T0,
        request_id=f"R{n}",
        tenant_id=tenant,
        principal=None if tenant is None else f"arn:aws:iam::{tenant}:root",
        action="s3:PutObject",
        resource=f"arn:aws:s3:::b/k{n}",
        outcome=Outcome.SUCCESS if n % 2 else Outcome.FAILURE,
        details={"status": str(200 + n)},
    )


async def test_audit_events_append_in_order_and_page_by_tenant(audit: AuditStore) -> None:
    await audit.append([event(1, "a"), event(2, "b"), event(3, "a")])
    await audit.append([event(4, None), event(5, "a")])
    everything = await audit.list_events(None, after_id=0, limit=10)
    assert [e for _, e in everything] == [
        event(n, t) for n, t in [(1, "a"), (2, "b"), (3, "a"), (4, None), (5, "a")]
    ]
    ids = [i for i, _ in everything]
    assert ids == sorted(ids) and len(set(ids)) == 5
    first_page = await audit.list_events("a", after_id=0, limit=2)
    assert [e.request_id for _, e in first_page] == ["R1", "R3"]
    second_page = await audit.list_events("a", after_id=first_page[-1][0], limit=2)
    assert [e.request_id for _, e in second_page] == ["R5"]
