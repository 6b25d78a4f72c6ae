"""Decision 0346's reusable delegation set store over every implementation (memory, SQLite,
PostgreSQL): a set kept with its name servers as chosen; one caller reference an account
(``DelegationSetAlreadyCreated``), another account's its own; listed by id; deleted; a closed
tenant's sets forgotten."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.route53.delegation_set_store_sql import SqlDelegationSetStore
from andromede.route53.delegation_sets import (
    DelegationSet,
    DelegationSetStore,
    MemoryDelegationSetStore,
)
from andromede.route53.errors import DelegationSetAlreadyCreated
from support.store_backends import BACKENDS, backend_database


@pytest.fixture(params=BACKENDS)
async def store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[DelegationSetStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryDelegationSetStore() if db is None else SqlDelegationSetStore(db)


def made(set_id: str, tenant_id: str = "000000000001", reference: str = "") -> DelegationSet:
    servers = ("ns3.example.net", "ns4.example.net", "ns5.example.net", "ns6.example.net")
    return DelegationSet(set_id, tenant_id, reference or f"ref-{set_id}", servers, 1_800_000)


async def test_sets_kept_unique_by_reference_listed_deleted_and_forgotten(
    store: DelegationSetStore,
) -> None:
    await store.create(made("NB"))
    await store.create(made("NA"))
    assert await store.get("000000000001", "NB") == made("NB")
    assert await store.get("000000000002", "NB") is None
    with pytest.raises(DelegationSetAlreadyCreated):
        await store.create(made("NC", reference="ref-NA"))
    await store.create(made("NC", tenant_id="000000000002", reference="ref-NA"))
    assert [s.set_id for s in await store.sets("000000000001")] == ["NA", "NB"]
    assert await store.delete("000000000002", "NA") is False
    assert await store.delete("000000000001", "NA") is True
    assert await store.get("000000000001", "NA") is None
    assert await store.forget_tenant("000000000001") == 1
    assert await store.sets("000000000001") == []
    assert [s.set_id for s in await store.sets("000000000002")] == ["NC"]
