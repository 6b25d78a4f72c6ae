"""Decision 0302's layer store over every implementation (memory, SQLite, PostgreSQL): a
version kept with its sealed content as written; numbers taken once, by a live version or
its tombstone; deletion keeping the content; the policy replaced by compare-and-set on its
revision; the account's live bytes; a closed tenant's layers forgotten. And a function
version's ``Layers`` kept by the function store."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.functions.errors import FunctionChanged
from andromede.functions.layer_model import FunctionLayer, LayerVersion
from andromede.functions.layer_store import LayerStore, MemoryLayerStore
from andromede.functions.layer_store_sql import SqlLayerStore
from andromede.functions.memory import MemoryFunctionStore
from andromede.functions.model import LATEST, FunctionRecord, FunctionVersion
from andromede.functions.store import FunctionStore
from andromede.functions.store_sql import SqlFunctionStore
from support.store_backends import BACKENDS, backend_database

TENANT = "000000000001"
OTHER = "000000000002"


@pytest.fixture(params=BACKENDS)
async def stores(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[LayerStore, FunctionStore]]:
    async with backend_database(request, tmp_path) as db:
        if db is None:
            yield MemoryLayerStore(), MemoryFunctionStore()
        else:
            yield SqlLayerStore(db), SqlFunctionStore(db)


def version(name: str, number: int, tenant_id: str = TENANT, **fields: object) -> LayerVersion:
    made = LayerVersion(
        tenant_id=tenant_id,
        name=name,
        version=number,
        code_sha256="c2hh",
        code_size=100 * number,
        unzipped_size=300,
        created=1_800_000_000_000,
        description="helpers",
        runtimes=("python3.11", "python3.12"),
        architectures=("x86_64",),
        license_info="MIT",
    )
    return dataclasses.replace(made, **fields)  # type: ignore[arg-type]


async def test_kept_as_written_numbers_taken_once(
    stores: tuple[LayerStore, FunctionStore],
) -> None:
    store, _ = stores
    assert await store.last_number(TENANT, "libs") == 0
    await store.add(version("libs", 1), b"\x01sealed-1")
    await store.add(version("libs", 2), b"\x01sealed-2")
    await store.add(version("other", 1), b"\x01sealed-o")
    await store.add(version("libs", 1, OTHER), b"\x01sealed-x")
    with pytest.raises(FunctionChanged):
        await store.add(version("libs", 2), b"again")
    assert await store.get(TENANT, "libs", 1) == version("libs", 1)
    assert await store.content(TENANT, "libs", 2) == b"\x01sealed-2"
    assert await store.content(TENANT, "libs", 9) is None
    assert await store.last_number(TENANT, "libs") == 2
    assert [(v.name, v.version) for v in await store.versions(TENANT)] == [
        ("libs", 1),
        ("libs", 2),
        ("other", 1),
    ]
    assert [v.version for v in await store.versions(TENANT, "libs")] == [1, 2]
    assert await store.live_bytes(TENANT) == 100 + 200 + 100


async def test_a_deleted_version_is_a_tombstone_keeping_its_content(
    stores: tuple[LayerStore, FunctionStore],
) -> None:
    store, _ = stores
    await store.add(version("libs", 1), b"\x01sealed-1")
    await store.add(version("libs", 2), b"\x01sealed-2")
    assert await store.mark_deleted(TENANT, "libs", 2)
    assert not await store.mark_deleted(TENANT, "libs", 2)
    assert not await store.mark_deleted(TENANT, "libs", 7)
    gone = await store.get(TENANT, "libs", 2)
    assert gone is not None and gone.deleted
    assert await store.content(TENANT, "libs", 2) == b"\x01sealed-2"
    assert [v.version for v in await store.versions(TENANT, "libs")] == [1]
    assert await store.last_number(TENANT, "libs") == 2
    assert await store.live_bytes(TENANT) == 100
    with pytest.raises(FunctionChanged):
        await store.add(version("libs", 2), b"reused")


async def test_the_policy_is_replaced_by_its_revision(
    stores: tuple[LayerStore, FunctionStore],
) -> None:
    store, _ = stores
    await store.add(version("libs", 1), b"s")
    await store.replace_policy(TENANT, "libs", 1, '{"Statement":[]}', "r1", "")
    with pytest.raises(FunctionChanged):
        await store.replace_policy(TENANT, "libs", 1, "{}", "r2", "stale")
    found = await store.get(TENANT, "libs", 1)
    assert found is not None and (found.policy, found.policy_revision) == ('{"Statement":[]}', "r1")
    await store.replace_policy(TENANT, "libs", 1, None, "r3", "r1")
    found = await store.get(TENANT, "libs", 1)
    assert found is not None and (found.policy, found.policy_revision) == (None, "r3")
    await store.mark_deleted(TENANT, "libs", 1)
    with pytest.raises(FunctionChanged):
        await store.replace_policy(TENANT, "libs", 1, "{}", "r4", "r3")


async def test_a_closed_tenants_layers_are_forgotten(
    stores: tuple[LayerStore, FunctionStore],
) -> None:
    store, _ = stores
    await store.add(version("libs", 1), b"s")
    await store.add(version("libs", 2), b"s")
    await store.add(version("libs", 1, OTHER), b"o")
    assert await store.forget_tenant(TENANT) == 2
    assert await store.get(TENANT, "libs", 1) is None
    assert await store.content(TENANT, "libs", 1) is None
    assert await store.last_number(TENANT, "libs") == 0
    assert await store.get(OTHER, "libs", 1) is not None


async def test_a_function_versions_layers_are_kept(
    stores: tuple[LayerStore, FunctionStore],
) -> None:
    _, functions = stores
    layers = (
        FunctionLayer(f"arn:aws:lambda:eu-fr-1:{OTHER}:layer:libs:3", 120, 400),
        FunctionLayer(f"arn:aws:lambda:eu-fr-1:{TENANT}:layer:mine:1", 80, 90),
    )
    latest = FunctionVersion(
        tenant_id=TENANT,
        name="fn",
        version=LATEST,
        runtime="python3.11",
        role=f"arn:aws:iam::{TENANT}:role/fn",
        handler="app.handler",
        code_sha256="c2hh",
        code_size=120,
        revision_id="r1",
        last_modified=1_800_000_000_000,
        layers=layers,
    )
    await functions.create(
        FunctionRecord(tenant_id=TENANT, name="fn", created=1_800_000_000_000), latest
    )
    assert (await functions.version(TENANT, "fn", LATEST)) == latest
    await functions.add_version(latest.replaced(version="1", revision_id="r2"))
    cleared = latest.replaced(layers=(), revision_id="r3")
    await functions.replace_latest(cleared, "r1")
    assert (await functions.version(TENANT, "fn", LATEST)) == cleared
    pinned = await functions.version(TENANT, "fn", "1")
    assert pinned is not None and pinned.layers == layers


async def test_a_versions_signature_is_kept(stores: tuple[LayerStore, FunctionStore]) -> None:
    """Decision 0394: a layer version's content signature."""
    store, _ = stores
    signed = version("signed", 1, signing_profile_version_arn="pv", signing_job_arn="job")
    await store.add(signed, b"\x01sealed")
    assert await store.get(TENANT, "signed", 1) == signed
