"""One suite over every CustomKeyStoreStore, and the CustomerKeyStore methods external key
stores added (decision 0090): the in-memory twins, SQLite and PostgreSQL, migrated with
Alembic."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from andromede.db.database import open_database
from andromede.kms.keys_model import (
    ORIGIN_EXTERNAL_KEY_STORE,
    CustomerKey,
    KeyState,
    default_key_policy,
)
from andromede.kms.keys_store import CustomerKeyStore, MemoryCustomerKeyStore
from andromede.kms.keys_store_sql import SqlCustomerKeyStore
from andromede.kms.xks_errors import (
    CustomKeyStoreLimitExceeded,
    CustomKeyStoreNameInUse,
    CustomKeyStoreNotFound,
    XksKeyAlreadyInUse,
    XksProxyUriInUse,
)
from andromede.kms.xks_model import (
    ConnectionErrorCode,
    ConnectionState,
    CustomKeyStore,
    new_store_id,
)
from andromede.kms.xks_store import CustomKeyStoreStore, MemoryCustomKeyStoreStore
from andromede.kms.xks_store_sql import SqlCustomKeyStoreStore
from support.schema import migrated_sqlite

T0 = datetime(2027, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
TENANT = "111111111111"
OTHER = "222222222222"


@dataclass
class Stores:
    stores: CustomKeyStoreStore
    keys: CustomerKeyStore


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def both(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stores]:
    if request.param == "memory":
        yield Stores(MemoryCustomKeyStoreStore(), MemoryCustomerKeyStore())
        return
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = migrated_sqlite(tmp_path / "meta.db")
    db = open_database(url)
    try:
        yield Stores(SqlCustomKeyStoreStore(db), SqlCustomerKeyStore(db))
    finally:
        await db.close()


def store(name: str, tenant: str = TENANT, path: str = "/kms/xks/v1") -> CustomKeyStore:
    return CustomKeyStore(
        store_id=new_store_id(),
        tenant_id=tenant,
        name=name,
        created_at=T0,
        endpoint="https://xks.example.com:8443",
        uri_path=path,
        access_key_id="A" * 20,
        sealed_secret="v1:c2VhbGVk",
    )


def xks_key(store_id: str, external: str) -> CustomerKey:
    return CustomerKey(
        key_id=str(uuid.uuid4()),
        tenant_id=TENANT,
        region="eu-fr-1",
        description="",
        state=KeyState.ENABLED,
        created_at=T0,
        policy=default_key_policy(TENANT),
        origin=ORIGIN_EXTERNAL_KEY_STORE,
        custom_key_store_id=store_id,
        xks_key_id=external,
    )


async def test_a_store_round_trips_within_its_account(both: Stores) -> None:
    made = store("paris")
    await both.stores.insert_store(made, limit=10)
    assert await both.stores.get_store(TENANT, made.store_id) == made
    assert await both.stores.get_store(OTHER, made.store_id) is None
    assert await both.stores.find_store(TENANT, "paris") == made
    assert await both.stores.find_store(OTHER, "paris") is None
    assert await both.stores.delete_store(OTHER, made.store_id) is False
    assert await both.stores.delete_store(TENANT, made.store_id) is True
    assert await both.stores.get_store(TENANT, made.store_id) is None


async def test_names_and_proxy_uris_are_unique_per_account(both: Stores) -> None:
    await both.stores.insert_store(store("paris"), limit=10)
    with pytest.raises(CustomKeyStoreNameInUse):
        await both.stores.insert_store(store("paris", path="/b/kms/xks/v1"), limit=10)
    with pytest.raises(XksProxyUriInUse):
        await both.stores.insert_store(store("lyon"), limit=10)
    # Another account may use the same name and proxy.
    await both.stores.insert_store(store("paris", OTHER), limit=10)


async def test_the_account_limit(both: Stores) -> None:
    for n in range(3):
        await both.stores.insert_store(store(f"s{n}", path=f"/p{n}/kms/xks/v1"), limit=3)
    with pytest.raises(CustomKeyStoreLimitExceeded):
        await both.stores.insert_store(store("s3", path="/p3/kms/xks/v1"), limit=3)
    await both.stores.insert_store(store("s0", OTHER), limit=3)


async def test_listing_pages_in_id_order(both: Stores) -> None:
    made = [store(f"s{n}", path=f"/p{n}/kms/xks/v1") for n in range(5)]
    for one in made:
        await both.stores.insert_store(one, limit=10)
    await both.stores.insert_store(store("x", OTHER), limit=10)
    ids = sorted(s.store_id for s in made)
    first = await both.stores.list_stores(TENANT, after=None, limit=3)
    rest = await both.stores.list_stores(TENANT, after=first[-1].store_id, limit=3)
    assert [s.store_id for s in first + rest] == ids


async def test_replace_is_compare_and_set(both: Stores) -> None:
    made = store("paris")
    await both.stores.insert_store(made, limit=10)
    failed = replace(
        made, state=ConnectionState.FAILED, error_code=ConnectionErrorCode.XKS_PROXY_TIMED_OUT
    )
    assert await both.stores.replace_store(failed) is True
    assert await both.stores.replace_store(failed) is False  # stale revision
    stored = await both.stores.get_store(TENANT, made.store_id)
    assert stored == replace(failed, revision=1)
    other = store("lyon", path="/b/kms/xks/v1")
    await both.stores.insert_store(other, limit=10)
    with pytest.raises(CustomKeyStoreNameInUse):
        await both.stores.replace_store(replace(other, name="paris"))
    with pytest.raises(XksProxyUriInUse):
        await both.stores.replace_store(replace(other, uri_path="/kms/xks/v1"))
    with pytest.raises(CustomKeyStoreNotFound):
        await both.stores.replace_store(replace(store("ghost"), revision=0))


async def test_one_kms_key_per_external_key_per_store(both: Stores) -> None:
    made = store("paris")
    await both.stores.insert_store(made, limit=10)
    first = xks_key(made.store_id, "ext-1")
    await both.keys.insert_key(first)
    assert await both.keys.get_key(first.key_id) == first
    with pytest.raises(XksKeyAlreadyInUse):
        await both.keys.insert_key(xks_key(made.store_id, "ext-1"))
    await both.keys.insert_key(xks_key(made.store_id, "ext-2"))
    await both.keys.insert_key(xks_key(new_store_id(), "ext-1"))  # another store
    assert await both.keys.keys_in_store(made.store_id) == 2
    await both.keys.delete_key(first.key_id)
    assert await both.keys.keys_in_store(made.store_id) == 1
    await both.keys.insert_key(xks_key(made.store_id, "ext-1"))  # free again
