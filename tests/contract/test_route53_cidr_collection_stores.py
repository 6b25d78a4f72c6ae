"""Decision 0353's CIDR collection store over every implementation (memory, SQLite,
PostgreSQL): a collection kept with its locations and blocks; one name an account
(``CidrCollectionAlreadyExistsException``), another account's its own; replaced only from the
version stored (of two changes racing from one version, one is kept); listed by id; deleted; a
closed tenant's collections forgotten."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.route53.cidr_collections import (
    CidrCollection,
    CidrCollectionStore,
    MemoryCidrCollectionStore,
)
from andromede.route53.cidr_store_sql import SqlCidrCollectionStore
from andromede.route53.errors import CidrCollectionAlreadyExistsException
from support.store_backends import BACKENDS, backend_database

TENANT = "000000000001"


@pytest.fixture(params=BACKENDS)
async def store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[CidrCollectionStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryCidrCollectionStore() if db is None else SqlCidrCollectionStore(db)


def made(collection_id: str, name: str, tenant_id: str = TENANT) -> CidrCollection:
    return CidrCollection(collection_id, tenant_id, name, f"ref-{name}", 1, (), 1_800_000)


async def test_collections_kept_versioned_listed_deleted_and_forgotten(
    store: CidrCollectionStore,
) -> None:
    await store.create(made("b-id", "isps"))
    await store.create(made("a-id", "offices"))
    with pytest.raises(CidrCollectionAlreadyExistsException):
        await store.create(made("c-id", "isps"))
    await store.create(made("d-id", "isps", tenant_id="000000000002"))
    assert [c.collection_id for c in await store.collections(TENANT)] == ["a-id", "b-id"]
    first = await store.get(TENANT, "b-id")
    assert first == made("b-id", "isps")
    changed = dataclasses.replace(
        made("b-id", "isps"),
        version=2,
        locations=(("paris", ("198.51.100.0/24", "2001:db8::/32")), ("rome", ("192.0.2.0/24",))),
    )
    assert await store.replace(changed, 1)
    assert await store.get(TENANT, "b-id") == changed
    lost = dataclasses.replace(changed, version=2, locations=())
    assert not await store.replace(lost, 1)  # the version 1 is gone: a concurrent change won
    assert await store.get(TENANT, "b-id") == changed
    assert await store.get("000000000002", "b-id") is None
    assert await store.delete(TENANT, "a-id")
    assert not await store.delete(TENANT, "a-id")
    assert not await store.delete(TENANT, "d-id")  # another account's
    assert await store.forget_tenant(TENANT) == 1
    assert await store.collections(TENANT) == []
    assert [c.collection_id for c in await store.collections("000000000002")] == ["d-id"]
